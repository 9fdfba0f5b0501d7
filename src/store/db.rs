//! The one place that knows which database runs. Repositories write portable
//! SQL with `$n` placeholders (both PostgreSQL and sqlx's SQLite driver bind
//! `$n` by number) and pass values as `Arg`; `Tx` binds them for the backend
//! and decodes rows through `FromRow`, which sqlx derives for any row type.
//! The few real dialect differences (row locks, case-insensitive match) are
//! methods of `Dialect`, never `if sqlite` in a repository.

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, FromRow, Postgres, Sqlite, Transaction};

use super::{Scope, StoreError};
use crate::domain::Timestamp;

/// A bound value. Nullable variants take `Option`.
#[derive(Clone, Debug)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Json(Option<Value>),
    Time(Option<Timestamp>),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl From<Timestamp> for Arg {
    fn from(v: Timestamp) -> Self {
        Arg::Time(Some(v))
    }
}
impl From<Option<Timestamp>> for Arg {
    fn from(v: Option<Timestamp>) -> Self {
        Arg::Time(v)
    }
}

/// JSON value of any serializable domain value (lists, maps, settings).
pub fn json<T: serde::Serialize>(v: &T) -> Arg {
    Arg::Json(Some(serde_json::to_value(v).unwrap_or(Value::Null)))
}

/// A row type both backends can decode.
pub trait DbRow: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}
impl<T> DbRow for T where T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}

/// SQL that differs between the databases.
pub trait Dialect: Send + Sync {
    /// Appended to a SELECT to lock the rows it reads until commit.
    fn for_update(&self) -> &'static str;
    /// Expression that extracts a text member of a JSON column.
    fn json_text(&self, column: &str, key: &str) -> String;
    /// A FROM item over the elements of a JSON array column, aliased `e`.
    fn array_elements(&self, column: &str) -> String;
    /// Text of member `key` of the current element `e`.
    fn element_text(&self, key: &str) -> String;
    /// Whether member `key` of the current element `e` is JSON `true`.
    fn element_true(&self, key: &str) -> String;
    /// Whether an INSERT can take a number from a counter row in the same
    /// statement (a data-modifying CTE), saving a round trip.
    fn counter_in_insert(&self) -> bool;
}

pub struct PgDialect;
impl Dialect for PgDialect {
    fn for_update(&self) -> &'static str {
        " FOR UPDATE"
    }
    fn json_text(&self, column: &str, key: &str) -> String {
        format!("({column} ->> '{key}')")
    }
    fn array_elements(&self, column: &str) -> String {
        format!("jsonb_array_elements({column}) AS e(value)")
    }
    fn element_text(&self, key: &str) -> String {
        format!("(e.value ->> '{key}')")
    }
    fn element_true(&self, key: &str) -> String {
        format!("((e.value ->> '{key}') = 'true')")
    }
    fn counter_in_insert(&self) -> bool {
        true
    }
}

/// SQLite writers take the database lock at `BEGIN IMMEDIATE`, so reads in a
/// write transaction are already serialized and need no row lock.
pub struct SqliteDialect;
impl Dialect for SqliteDialect {
    fn for_update(&self) -> &'static str {
        ""
    }
    fn json_text(&self, column: &str, key: &str) -> String {
        format!("json_extract({column}, '$.{key}')")
    }
    fn array_elements(&self, column: &str) -> String {
        format!("json_each({column}) AS e")
    }
    fn element_text(&self, key: &str) -> String {
        format!("json_extract(e.value, '$.{key}')")
    }
    fn element_true(&self, key: &str) -> String {
        format!("(json_extract(e.value, '$.{key}') = 1)")
    }
    fn counter_in_insert(&self) -> bool {
        false
    }
}

pub(super) enum Conn {
    Pg(Transaction<'static, Postgres>),
    Lite(Transaction<'static, Sqlite>),
}

/// A transaction opened for a `Scope`. Every repository query binds the scope.
pub struct Tx {
    pub(super) conn: Conn,
    pub(super) scope: Scope,
    /// The process's cache generation, moved when this transaction commits
    /// a change to a table the caches hold (`crate::cache`).
    pub(super) generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub(super) touched_cached: bool,
}

/// Tables held in the in-memory caches: a write to them invalidates the caches.
const CACHED_TABLES: [&str; 2] = ["tenants", "applications"];

/// Whether `sql` inserts, updates or deletes rows of a cached table.
fn touches_cached(sql: &str) -> bool {
    let target = sql
        .strip_prefix("INSERT INTO ")
        .or_else(|| sql.strip_prefix("UPDATE "))
        .or_else(|| sql.strip_prefix("DELETE FROM "));
    target.is_some_and(|t| {
        CACHED_TABLES.iter().any(|table| t.strip_prefix(table).is_some_and(|r| r.starts_with([' ', '('])))
    })
}

macro_rules! bind_all {
    ($q:expr, $args:expr, $time:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Json(v) => q.bind(v.map(Json)),
                Arg::Time(v) => q.bind(v.map($time)),
            };
        }
        q
    }};
}

fn pg_time(t: Timestamp) -> Timestamp {
    t
}
fn lite_time(t: Timestamp) -> i64 {
    t.unix_micros()
}

impl Tx {
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn dialect(&self) -> &'static dyn Dialect {
        match self.conn {
            Conn::Pg(_) => &PgDialect,
            Conn::Lite(_) => &SqliteDialect,
        }
    }

    pub async fn fetch_all<T: DbRow>(&mut self, sql: &str, args: Vec<Arg>) -> Result<Vec<T>, StoreError> {
        let sql = AssertSqlSafe(sql.to_owned());
        let rows = match &mut self.conn {
            Conn::Pg(tx) => bind_all!(sqlx::query_as::<Postgres, T>(sql), args, pg_time).fetch_all(&mut **tx).await,
            Conn::Lite(tx) => bind_all!(sqlx::query_as::<Sqlite, T>(sql), args, lite_time).fetch_all(&mut **tx).await,
        };
        rows.map_err(StoreError::from_sqlx)
    }

    pub async fn fetch_optional<T: DbRow>(&mut self, sql: &str, args: Vec<Arg>) -> Result<Option<T>, StoreError> {
        let sql = AssertSqlSafe(sql.to_owned());
        let row = match &mut self.conn {
            Conn::Pg(tx) => {
                bind_all!(sqlx::query_as::<Postgres, T>(sql), args, pg_time).fetch_optional(&mut **tx).await
            }
            Conn::Lite(tx) => {
                bind_all!(sqlx::query_as::<Sqlite, T>(sql), args, lite_time).fetch_optional(&mut **tx).await
            }
        };
        row.map_err(StoreError::from_sqlx)
    }

    pub async fn fetch_one<T: DbRow>(&mut self, sql: &str, args: Vec<Arg>) -> Result<T, StoreError> {
        self.fetch_optional(sql, args).await?.ok_or(StoreError::NotFound)
    }

    /// Runs a statement and returns the number of rows it touched.
    pub async fn execute(&mut self, sql: &str, args: Vec<Arg>) -> Result<u64, StoreError> {
        self.touched_cached |= touches_cached(sql);
        let sql = AssertSqlSafe(sql.to_owned());
        let done = match &mut self.conn {
            Conn::Pg(tx) => bind_all!(sqlx::query::<Postgres>(sql), args, pg_time)
                .execute(&mut **tx)
                .await
                .map(|r| r.rows_affected()),
            Conn::Lite(tx) => bind_all!(sqlx::query::<Sqlite>(sql), args, lite_time)
                .execute(&mut **tx)
                .await
                .map(|r| r.rows_affected()),
        };
        done.map_err(StoreError::from_sqlx)
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self.conn {
            Conn::Pg(tx) => tx.commit().await,
            Conn::Lite(tx) => tx.commit().await,
        }
        .map_err(StoreError::from_sqlx)?;
        // This replica sees its own change at once; others by the polled counter.
        if self.touched_cached {
            self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.conn {
            Conn::Pg(tx) => tx.rollback().await,
            Conn::Lite(tx) => tx.rollback().await,
        }
        .map_err(StoreError::from_sqlx)
    }
}

/// `$1, $2, …` for positions `start..start+n`.
pub fn placeholders(start: usize, n: usize) -> String {
    (start..start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `SELECT COUNT(*) AS n …`
#[derive(sqlx::FromRow)]
pub struct Count {
    pub n: i64,
}

/// `SELECT id …`
#[derive(sqlx::FromRow)]
pub struct IdRow {
    pub id: String,
}

#[cfg(test)]
mod cache_tests {
    #[test]
    fn writes_to_cached_tables_are_recognized() {
        assert!(super::touches_cached("UPDATE applications SET name = $2 WHERE id = $1"));
        assert!(super::touches_cached("INSERT INTO tenants (id) VALUES ($1)"));
        assert!(super::touches_cached("DELETE FROM applications WHERE id = $1"));
        assert!(!super::touches_cached("UPDATE tenants_x SET a = 1"));
        assert!(!super::touches_cached("SELECT * FROM applications"));
        assert!(!super::touches_cached("INSERT INTO users (id) VALUES ($1)"));
    }
}
