//! Storage: one `Store` over SQLite (embedded default) or PostgreSQL.
//! A transaction is always opened for a `Scope` (platform, partner, tenant)
//! and every repository query binds it, so another tenant's row is simply
//! `NotFound` — the admin API's 404 — whatever the caller forgot.

pub mod db;
pub mod entity;
pub mod repos;
mod types;

#[cfg(test)]
pub mod conformance;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use db::{Arg, Tx};
pub use entity::{Entity, Page, PageRequest, ScopeCols};

use db::Conn;

/// Whose rows a transaction may see and write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything: super admins, GLOBAL apps, the platform itself.
    Platform,
    /// The partner's own row and every row of its tenants.
    Partner(String),
    /// One tenant's rows.
    Tenant(String),
}

impl Scope {
    /// A SQL predicate restricting `cols` to this scope, binding at `args`.
    pub fn predicate(&self, cols: ScopeCols, args: &mut Vec<Arg>) -> String {
        let (col, value) = match self {
            Scope::Platform => return "1=1".to_owned(),
            Scope::Partner(p) => (cols.partner, p),
            Scope::Tenant(t) => (cols.tenant, t),
        };
        match col {
            Some(col) => {
                args.push(Arg::from(value));
                format!("{col} = ${}", args.len())
            }
            None => "1=0".to_owned(),
        }
    }

    /// Whether a row owned by (`partner_id`, `tenant_id`) is inside this scope.
    pub fn contains(&self, partner_id: Option<&str>, tenant_id: Option<&str>) -> bool {
        match self {
            Scope::Platform => true,
            Scope::Partner(p) => partner_id == Some(p.as_str()),
            Scope::Tenant(t) => tenant_id == Some(t.as_str()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint, named `{table}_{columns}_key` on both databases.
    #[error("conflict on {0}")]
    Conflict(String),
    /// A foreign key pointed at nothing, or something still points here.
    #[error("reference violated")]
    Reference,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub(crate) fn from_sqlx(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let name = db.constraint().map(str::to_owned).unwrap_or_else(|| sqlite_constraint_name(db.message()));
                StoreError::Conflict(name)
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Reference,
            _ => StoreError::Database(e),
        }
    }

    pub fn is_conflict_on(&self, constraint: &str) -> bool {
        matches!(self, StoreError::Conflict(c) if c == constraint)
    }
}

/// SQLite reports no constraint name, only `UNIQUE constraint failed:
/// users.tenant_id, users.user_name_lower`. PostgreSQL's default name for that
/// constraint is `users_tenant_id_user_name_lower_key`; derive the same name so
/// callers match one string on both databases.
fn sqlite_constraint_name(message: &str) -> String {
    // Expression indexes are reported by name: `… failed: index 'name'`.
    if let Some(rest) = message.split("index '").nth(1) {
        return rest.trim_end_matches('\'').to_owned();
    }
    let cols = message.rsplit(": ").next().unwrap_or(message);
    let mut table = "";
    let mut names = Vec::new();
    for part in cols.split(", ") {
        let (t, c) = part.split_once('.').unwrap_or(("", part));
        table = t;
        names.push(c);
    }
    format!("{table}_{}_key", names.join("_"))
}

#[derive(Clone)]
enum Pools {
    Pg(PgPool),
    Lite(SqlitePool),
}

/// The database, shared by every request. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    /// Moved by commits that change cached tables, and by the poll of the
    /// database's `cache_version` (other replicas' changes): `crate::cache`.
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl Store {
    /// Connects to `postgres://…` or `sqlite://…` (file created if missing).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).map_err(StoreError::Database)?;
            let pool = PgPoolOptions::new()
                .max_connections(20)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .map_err(StoreError::Database)?;
            return Ok(Store { pools: Pools::Pg(pool), generation: Default::default() });
        }
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(15))
            // 1 MiB of page cache per connection (SQLite's default is 2 MiB):
            // the kernel caches the file too, and eight connections' private
            // caches were a fifth of the server's memory.
            .pragma("cache_size", "-1024");
        let pool =
            SqlitePoolOptions::new().max_connections(8).connect_with(opts).await.map_err(StoreError::Database)?;
        Ok(Store { pools: Pools::Lite(pool), generation: Default::default() })
    }

    /// The cache generation (see `crate::cache`).
    pub fn generation(&self) -> &std::sync::Arc<std::sync::atomic::AtomicU64> {
        &self.generation
    }

    /// The database's cache version: moved by triggers on every change to a
    /// cached table, by any replica.
    pub async fn cache_version(&self) -> Result<i64, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let n: db::Count = tx.fetch_one("SELECT n FROM cache_version WHERE id = 1", Vec::new()).await?;
        tx.commit().await?;
        Ok(n.n)
    }

    pub fn backend(&self) -> &'static str {
        match self.pools {
            Pools::Pg(_) => "postgres",
            Pools::Lite(_) => "sqlite",
        }
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Pg(p) => PG_MIGRATIONS.run(p).await?,
            Pools::Lite(p) => SQLITE_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// A transaction for reads (it may write, but SQLite takes the write lock lazily).
    pub async fn read(&self, scope: Scope) -> Result<Tx, StoreError> {
        // sqlx's pool-acquire futures are ~14 KB: boxed here, so that every
        // caller's future (a token request's, a discovery's) stays small
        // instead of carrying them and being copied through each layer.
        let conn = match &self.pools {
            Pools::Pg(p) => Conn::Pg(Box::pin(p.begin()).await.map_err(StoreError::from_sqlx)?),
            Pools::Lite(p) => Conn::Lite(Box::pin(p.begin()).await.map_err(StoreError::from_sqlx)?),
        };
        Ok(Tx { conn, scope, generation: self.generation.clone(), touched_cached: false })
    }

    /// A transaction that writes. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so two writers never deadlock upgrading read locks.
    pub async fn write(&self, scope: Scope) -> Result<Tx, StoreError> {
        let conn = match &self.pools {
            Pools::Pg(p) => Conn::Pg(Box::pin(p.begin()).await.map_err(StoreError::from_sqlx)?),
            Pools::Lite(p) => {
                Conn::Lite(Box::pin(p.begin_with("BEGIN IMMEDIATE")).await.map_err(StoreError::from_sqlx)?)
            }
        };
        Ok(Tx { conn, scope, generation: self.generation.clone(), touched_cached: false })
    }

    /// Refreshes the planner's statistics, as a bulk import should end with:
    /// until autovacuum catches up, fresh tables are planned as if empty.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Pg(p) => sqlx::query("ANALYZE").execute(p).await.map(|_| ()),
            Pools::Lite(p) => sqlx::query("ANALYZE").execute(p).await.map(|_| ()),
        }
        .map_err(StoreError::from_sqlx)
    }

    /// Whether the database answers (`/ready`).
    pub async fn ping(&self) -> bool {
        match &self.pools {
            Pools::Pg(p) => sqlx::query("SELECT 1").execute(p).await.is_ok(),
            Pools::Lite(p) => sqlx::query("SELECT 1").execute(p).await.is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_unique_messages_map_to_postgres_default_names() {
        assert_eq!(sqlite_constraint_name("UNIQUE constraint failed: tenants.slug"), "tenants_slug_key");
        assert_eq!(
            sqlite_constraint_name("UNIQUE constraint failed: users.tenant_id, users.user_name_lower"),
            "users_tenant_id_user_name_lower_key"
        );
    }

    #[test]
    fn scope_predicates_bind_their_value() {
        let cols = ScopeCols::TENANT_OWNED;
        let mut args = vec![Arg::from("x")];
        assert_eq!(Scope::Tenant("tnt_a".into()).predicate(cols, &mut args), "tenant_id = $2");
        assert_eq!(Scope::Platform.predicate(cols, &mut args), "1=1");
        assert_eq!(Scope::Tenant("t".into()).predicate(ScopeCols::PLATFORM_ONLY, &mut args), "1=0");
    }
}
