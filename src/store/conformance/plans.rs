//! Query plans: the admin lists that must stay fast at 50,000 tenants and
//! 10 million users (`scaikey bench --tenants … --users …`) are answered
//! through the index meant for them, never a scan of the table. The
//! statements have the shape `Tx::list` builds for each authority and filter.

use crate::store::{Scope, Store};

use super::{Case, fixtures};

pub fn cases() -> Vec<Case> {
    vec![
        ("admin_lists_at_scale_use_their_indexes", |s| Box::pin(admin_lists_at_scale_use_their_indexes(s))),
        ("bulk_writes_update_each_tenant_counter_once", |s| Box::pin(bulk_writes_update_each_tenant_counter_once(s))),
    ]
}

/// (statement, the index its plan must name)
const LISTS: [(&str, &str); 5] = [
    // A partner admin's lists: the scope predicate is the partner.
    ("SELECT * FROM users WHERE partner_id = 'prt_a' AND id > 'usr_a' ORDER BY id LIMIT 101", "users_partner_idx"),
    ("SELECT * FROM groups WHERE partner_id = 'prt_a' ORDER BY id LIMIT 101", "groups_partner_idx"),
    ("SELECT * FROM audit_events WHERE partner_id = 'prt_a' ORDER BY id LIMIT 101", "audit_events_partner_idx"),
    // A platform admin looking a user up by name or email across tenants.
    ("SELECT * FROM users WHERE 1=1 AND user_name_lower = 'ada@x.test' ORDER BY id LIMIT 101", "users_name_idx"),
    ("SELECT * FROM users WHERE 1=1 AND lower(email) = 'ada@x.test' ORDER BY id LIMIT 101", "users_email_idx"),
];

#[derive(sqlx::FromRow)]
struct SqlitePlan {
    detail: String,
}

#[derive(sqlx::FromRow)]
struct PgPlan {
    #[sqlx(rename = "QUERY PLAN")]
    line: String,
}

async fn admin_lists_at_scale_use_their_indexes(store: Store) {
    let mut tx = store.write(Scope::Platform).await.unwrap();
    let postgres = store.backend() == "postgres";
    if postgres {
        // The tables are empty here: without this PostgreSQL would rightly
        // read them whole; with it, a scan is chosen only if no index serves.
        tx.execute("SET LOCAL enable_seqscan = off", vec![]).await.unwrap();
    }
    for (sql, index) in LISTS {
        let plan: Vec<String> = if postgres {
            let rows: Vec<PgPlan> = tx.fetch_all(&format!("EXPLAIN {sql}"), vec![]).await.unwrap();
            rows.into_iter().map(|r| r.line).collect()
        } else {
            let rows: Vec<SqlitePlan> = tx.fetch_all(&format!("EXPLAIN QUERY PLAN {sql}"), vec![]).await.unwrap();
            rows.into_iter().map(|r| r.detail).collect()
        };
        assert!(plan.iter().any(|line| line.contains(index)), "{sql} should use {index}: {plan:#?}");
    }
    tx.rollback().await.unwrap();
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// A statement writing many users updates each tenant's counter row once,
/// and the counts stay exact. On PostgreSQL every update leaves a dead
/// version of the row until a vacuum: counting per row (migration 0004)
/// left one per user written, and seeding 10 million users bloated
/// `tenants` to 5.9 GB (migration 0018 counts per statement).
async fn bulk_writes_update_each_tenant_counter_once(store: Store) {
    let (_, a, b) = fixtures::two_tenants(&store).await;
    let users: Vec<_> =
        (0..40).map(|i| fixtures::user(if i % 2 == 0 { &a } else { &b }, &format!("bulk{i}"))).collect();
    let mut tx = store.write(Scope::Platform).await.unwrap();
    tx.insert_many(&users).await.unwrap();
    if store.backend() == "postgres" {
        let sql = "SELECT pg_stat_get_xact_tuples_updated('tenants'::regclass) AS n";
        let updated: Count = tx.fetch_one(sql, vec![]).await.unwrap();
        assert_eq!(updated.n, 2, "one counter update per tenant written, not one per user");
    }
    assert_eq!(tx.count_in_tenant("users", &a.id).await.unwrap(), 20);
    assert_eq!(tx.count_in_tenant("users", &b.id).await.unwrap(), 20);
    tx.execute("DELETE FROM users WHERE tenant_id = $1", vec![a.id.as_str().into()]).await.unwrap();
    assert_eq!(tx.count_in_tenant("users", &a.id).await.unwrap(), 0);
    assert_eq!(tx.count_in_tenant("users", &b.id).await.unwrap(), 20);
    tx.rollback().await.unwrap();
}
