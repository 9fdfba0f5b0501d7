#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The storage conformance suite: one list of named cases, each run against
//! a fresh SQLite file and a fresh PostgreSQL database (the local server; the
//! PostgreSQL run fails, never skips, when the server is down). Concurrency
//! cases — unique constraints under races, lease exclusivity — are a group
//! of their own, and so are the query plans of lists that must stay fast at scale.

mod cases;
mod concurrency;
pub(crate) mod fixtures;
mod plans;

use std::future::Future;
use std::pin::Pin;

use super::Store;

pub type Case = (&'static str, fn(Store) -> Pin<Box<dyn Future<Output = ()> + Send>>);

/// Every case, by name.
pub fn all_cases() -> Vec<Case> {
    let mut v = cases::cases();
    v.extend(concurrency::cases());
    v.extend(plans::cases());
    v
}

/// The PostgreSQL server the suite uses (`SCAIKEY_TEST_POSTGRES_URL`).
pub fn postgres_admin_url() -> String {
    std::env::var("SCAIKEY_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, migrated SQLite database in a temporary file.
pub async fn fresh_sqlite() -> Store {
    let dir = std::env::temp_dir().join(format!("scaikey-conf-{}", crate::ids::random_base36(10)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = Store::connect(&format!("sqlite://{}", dir.join("db.sqlite").display())).await.expect("sqlite opens");
    store.migrate().await.expect("sqlite migrates");
    store
}

/// A fresh, migrated PostgreSQL database on the local server.
pub async fn fresh_postgres() -> Store {
    let admin_url = postgres_admin_url();
    let name = format!("scaikey_t_{}", crate::ids::random_base36(12));
    let admin = sqlx::PgPool::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is required for the conformance suite: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create database");
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("database url has a path");
    let store = Store::connect(&format!("{base}/{name}")).await.expect("postgres opens");
    store.migrate().await.expect("postgres migrates");
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run_all(make: fn() -> Pin<Box<dyn Future<Output = Store> + Send>>, backend: &str) {
        let mut failed = Vec::new();
        for (name, case) in all_cases() {
            let store = make().await;
            let result = tokio::spawn(case(store)).await;
            if let Err(e) = result {
                eprintln!("conformance case {name} failed on {backend}: {e}");
                failed.push(name);
            }
        }
        assert!(failed.is_empty(), "failed on {backend}: {failed:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn conformance_sqlite() {
        run_all(|| Box::pin(fresh_sqlite()), "sqlite").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn conformance_postgres() {
        run_all(|| Box::pin(fresh_postgres()), "postgres").await;
    }

    #[test]
    fn both_dialects_have_the_same_migrations() {
        let list = |d: &str| {
            let mut v: Vec<String> = std::fs::read_dir(format!("{}/migrations/{d}", env!("CARGO_MANIFEST_DIR")))
                .expect("migrations folder")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(list("sqlite"), list("postgres"));
    }
}
