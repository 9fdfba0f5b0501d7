//! A data migration, run once after the SQL migrations: the uniqueness keys
//! of user names and group names written before PRECIS normalization
//! (`domain::identifier`) are recomputed. Two rows whose new keys collide —
//! `ｐｒｏｂｅ@acme.test` beside `probe@acme.test` — are never merged: the
//! later row keeps its old key, and the pair is reported (logged, and kept
//! in `data_migrations.report`) for an admin to resolve.

use serde_json::{Value, json};

use crate::domain::Timestamp;
use crate::domain::identifier::{group_name_key, username_key};
use crate::store::db::Count;
use crate::store::{Arg, Scope, Store, StoreError};

const NAME: &str = "0006_precis_keys";

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    tenant_id: String,
    name: String,
    key: String,
}

pub async fn run(store: &Store, now: Timestamp) -> Result<Value, StoreError> {
    let mut tx = store.write(Scope::Platform).await?;
    let done =
        tx.fetch_one::<Count>("SELECT COUNT(*) AS n FROM data_migrations WHERE name = $1", vec![NAME.into()]).await?;
    if done.n > 0 {
        tx.commit().await?;
        return Ok(Value::Null);
    }
    let mut collisions = Vec::new();
    for (table, name_col, key_col, key_fn) in [
        ("users", "user_name", "user_name_lower", username_key as fn(&str) -> String),
        ("groups", "name", "name_lower", group_name_key as fn(&str) -> String),
    ] {
        let sql = format!("SELECT id, tenant_id, {name_col} AS name, {key_col} AS key FROM {table} ORDER BY id");
        let rows: Vec<KeyRow> = tx.fetch_all(&sql, vec![]).await?;
        for r in rows {
            let key = key_fn(&r.name);
            if key == r.key {
                continue;
            }
            let taken = format!("SELECT id FROM {table} WHERE tenant_id = $1 AND {key_col} = $2");
            match tx
                .fetch_optional::<crate::store::db::IdRow>(&taken, vec![Arg::from(&r.tenant_id), Arg::from(&key)])
                .await?
            {
                Some(other) => {
                    tracing::warn!(table, id = %r.id, other = %other.id, tenant_id = %r.tenant_id,
                        "two names are the same after normalization; left apart for an admin to resolve");
                    collisions.push(json!({"table": table, "id": r.id, "same_as": other.id, "tenant_id": r.tenant_id}));
                }
                None => {
                    let update = format!("UPDATE {table} SET {key_col} = $2 WHERE id = $1");
                    tx.execute(&update, vec![Arg::from(&r.id), Arg::from(key)]).await?;
                }
            }
        }
    }
    let report = json!({"collisions": collisions});
    tx.execute(
        "INSERT INTO data_migrations (name, done_at, report) VALUES ($1, $2, $3)",
        vec![NAME.into(), now.into(), Arg::Json(Some(report.clone()))],
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}
