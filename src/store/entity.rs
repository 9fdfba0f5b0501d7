//! Generic persistence for the admin model's aggregates. An `Entity` names its
//! table, columns and tenancy columns once; insert, update, get, list (keyset
//! pagination by id) and delete are written here once, each binding the
//! transaction's `Scope`. Queries that are not plain CRUD live in `repos/`.

use serde::Serialize;

use super::db::{Arg, Count, DbRow, placeholders};
use super::{StoreError, Tx};

/// Which columns carry an entity's tenancy.
#[derive(Clone, Copy, Debug)]
pub struct ScopeCols {
    pub partner: Option<&'static str>,
    pub tenant: Option<&'static str>,
}

impl ScopeCols {
    /// Rows owned by a tenant (and denormalized with its partner).
    pub const TENANT_OWNED: ScopeCols = ScopeCols { partner: Some("partner_id"), tenant: Some("tenant_id") };
    /// Rows only the platform sees (signing keys).
    pub const PLATFORM_ONLY: ScopeCols = ScopeCols { partner: None, tenant: None };
}

/// Declares an entity's columns and the value each takes, side by side, as
/// `COLUMNS` and `values()`: one list, so the two can never drift apart.
/// `self` is passed in because a macro cannot name the method's receiver.
///
/// ```ignore
/// columns!(self {
///     "id" => (&self.id).into(),
///     "name" => (&self.name).into(),
/// });
/// ```
#[macro_export]
macro_rules! columns {
    ($this:tt { $($col:literal => $val:expr),+ $(,)? }) => {
        const COLUMNS: &'static [&'static str] = &[$($col),+];
        fn values(&$this) -> Vec<$crate::store::Arg> {
            vec![$($val),+]
        }
    };
}

pub trait Entity: DbRow + Serialize + Sync {
    const TABLE: &'static str;
    const SCOPE: ScopeCols;
    /// Every column, `id` first, in the order of `values()`.
    const COLUMNS: &'static [&'static str];
    fn id(&self) -> &str;
    fn values(&self) -> Vec<Arg>;
    /// (partner_id, tenant_id) that own this row, checked against the scope on write.
    fn owner(&self) -> (Option<&str>, Option<&str>);
}

/// `?limit=` and `?cursor=` of a list request.
#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// An equality filter on a column named by code, never by the request.
pub type Filter = (&'static str, Arg);

impl Tx {
    fn check_owner<E: Entity>(&self, e: &E) -> Result<(), StoreError> {
        let (partner, tenant) = e.owner();
        if self.scope.contains(partner, tenant) { Ok(()) } else { Err(StoreError::NotFound) }
    }

    pub async fn insert<E: Entity>(&mut self, e: &E) -> Result<(), StoreError> {
        self.check_owner(e)?;
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            E::TABLE,
            E::COLUMNS.join(", "),
            placeholders(1, E::COLUMNS.len())
        );
        self.execute(&sql, e.values()).await?;
        Ok(())
    }

    /// Inserts `rows` in as few statements as the databases' bound on the
    /// parameters of one statement allows (sync creates thousands at once).
    pub async fn insert_many<E: Entity>(&mut self, rows: &[E]) -> Result<(), StoreError> {
        // Far under SQLite's 32,766 and PostgreSQL's 65,535: sqlx binds
        // SQLite parameters at a cost that grows with their number, so a
        // statement of ~2,000 is several times cheaper per row than 30,000.
        const MAX_PARAMS: usize = 2_000;
        let width = E::COLUMNS.len();
        for chunk in rows.chunks((MAX_PARAMS / width).max(1)) {
            let mut args = Vec::with_capacity(chunk.len() * width);
            let mut tuples = Vec::with_capacity(chunk.len());
            for e in chunk {
                self.check_owner(e)?;
                tuples.push(format!("({})", placeholders(args.len() + 1, width)));
                args.extend(e.values());
            }
            let sql = format!("INSERT INTO {} ({}) VALUES {}", E::TABLE, E::COLUMNS.join(", "), tuples.join(", "));
            self.execute(&sql, args).await?;
        }
        Ok(())
    }

    /// Writes every column of an existing row inside the scope.
    pub async fn update<E: Entity>(&mut self, e: &E) -> Result<(), StoreError> {
        self.check_owner(e)?;
        let mut args = e.values();
        let sets = E::COLUMNS
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let scope = self.scope.clone().predicate(E::SCOPE, &mut args);
        let sql = format!("UPDATE {} SET {sets} WHERE id = $1 AND {scope}", E::TABLE);
        match self.execute(&sql, args).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    pub async fn get<E: Entity>(&mut self, id: &str) -> Result<E, StoreError> {
        self.get_inner(id, "").await
    }

    /// Reads a row and locks it until commit (read-modify-write).
    pub async fn get_for_update<E: Entity>(&mut self, id: &str) -> Result<E, StoreError> {
        let lock = self.dialect().for_update();
        self.get_inner(id, lock).await
    }

    async fn get_inner<E: Entity>(&mut self, id: &str, lock: &str) -> Result<E, StoreError> {
        let mut args = vec![Arg::from(id)];
        let scope = self.scope.clone().predicate(E::SCOPE, &mut args);
        let sql = format!("SELECT * FROM {} WHERE id = $1 AND {scope}{lock}", E::TABLE);
        self.fetch_one(&sql, args).await
    }

    pub async fn delete<E: Entity>(&mut self, id: &str) -> Result<(), StoreError> {
        let mut args = vec![Arg::from(id)];
        let scope = self.scope.clone().predicate(E::SCOPE, &mut args);
        let sql = format!("DELETE FROM {} WHERE id = $1 AND {scope}", E::TABLE);
        match self.execute(&sql, args).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    fn where_clause<E: Entity>(&self, filters: Vec<Filter>, args: &mut Vec<Arg>) -> String {
        let mut parts = vec![self.scope.predicate(E::SCOPE, args)];
        for (col, value) in filters {
            args.push(value);
            parts.push(format!("{col} = ${}", args.len()));
        }
        parts.join(" AND ")
    }

    /// One page in id order (ids sort by creation time). The cursor is the
    /// last id returned, so rows inserted meanwhile never shift the pages.
    pub async fn list<E: Entity>(&mut self, filters: Vec<Filter>, page: &PageRequest) -> Result<Page<E>, StoreError> {
        let mut args = Vec::new();
        let mut clause = self.where_clause::<E>(filters, &mut args);
        if let Some(after) = &page.after {
            args.push(Arg::from(after));
            clause.push_str(&format!(" AND id > ${}", args.len()));
        }
        let limit = page.limit.clamp(1, 1000);
        let sql = format!("SELECT * FROM {} WHERE {clause} ORDER BY id LIMIT {}", E::TABLE, limit + 1);
        let mut items: Vec<E> = self.fetch_all(&sql, args).await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|e| e.id().to_owned())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    pub async fn count<E: Entity>(&mut self, filters: Vec<Filter>) -> Result<i64, StoreError> {
        let mut args = Vec::new();
        let clause = self.where_clause::<E>(filters, &mut args);
        let sql = format!("SELECT COUNT(*) AS n FROM {} WHERE {clause}", E::TABLE);
        Ok(self.fetch_one::<Count>(&sql, args).await?.n)
    }
}
