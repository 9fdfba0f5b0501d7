//! Query plans: the admin lists that must stay fast at 50,000 tenants and
//! 10 million users (`scaikey bench --tenants … --users …`) are answered
//! through the index meant for them, never a scan of the table. The
//! statements have the shape `Tx::list` builds for each authority and filter.

use crate::store::{Scope, Store};

use super::Case;

pub fn cases() -> Vec<Case> {
    vec![("admin_lists_at_scale_use_their_indexes", |s| Box::pin(admin_lists_at_scale_use_their_indexes(s)))]
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
