//! Directory sync state: runs, each IdP's cursor, synced groups' upstream
//! ids, and fenced leases.

use crate::domain::Timestamp;
use crate::domain::sync_run::SyncRun;
use crate::store::db::{Arg, json};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for SyncRun {
    const TABLE: &'static str = "sync_runs";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "idp_id" => (&self.idp_id).into(),
        "mode" => (&self.mode).into(),
        "status" => (&self.status).into(),
        "started_at" => self.started_at.into(),
        "finished_at" => self.finished_at.into(),
        "counts" => json(&self.counts),
        "errors" => json(&self.errors),
        "created_at" => self.created_at.into(),
        "updated_at" => self.updated_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct CursorRow {
    cursor: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct IdRow {
    id: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct LinkRow {
    external_id: String,
    id: String,
}

impl Tx {
    /// The IdP's sync cursor (opaque JSON), if a run ever completed.
    pub async fn sync_cursor(&mut self, idp_id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let sql = "SELECT cursor FROM sync_state WHERE idp_id = $1";
        let row: Option<CursorRow> = self.fetch_optional(sql, vec![Arg::from(idp_id)]).await?;
        Ok(row.and_then(|r| r.cursor).and_then(|c| serde_json::from_str(&c).ok()))
    }

    /// Commits the IdP's cursor (with the page that consumed it).
    pub async fn set_sync_cursor(
        &mut self,
        idp_id: &str,
        cursor: &serde_json::Value,
        full: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO sync_state (idp_id, cursor, last_full_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (idp_id) DO UPDATE SET cursor = excluded.cursor, \
                   last_full_at = COALESCE(excluded.last_full_at, sync_state.last_full_at)";
        let last_full: Option<Timestamp> = full.then_some(now);
        self.execute(sql, vec![Arg::from(idp_id), Arg::from(cursor.to_string()), Arg::from(last_full)]).await?;
        Ok(())
    }

    /// The user ids and external ids of everyone linked to `idp_id`.
    pub async fn identities_at(&mut self, idp_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<LinkRow> = self
            .fetch_all(
                "SELECT external_id, user_id AS id FROM user_identities WHERE idp_id = $1",
                vec![Arg::from(idp_id)],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.external_id, r.id)).collect())
    }

    /// Every group synced from `idp_id`: (external id, group id).
    pub async fn linked_groups(&mut self, idp_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<LinkRow> = self
            .fetch_all("SELECT external_id, group_id AS id FROM group_links WHERE idp_id = $1", vec![Arg::from(idp_id)])
            .await?;
        Ok(rows.into_iter().map(|r| (r.external_id, r.id)).collect())
    }

    pub async fn link_group(
        &mut self,
        group_id: &str,
        tenant_id: &str,
        idp_id: &str,
        external_id: &str,
    ) -> Result<(), StoreError> {
        let args = vec![Arg::from(group_id), Arg::from(tenant_id), Arg::from(idp_id), Arg::from(external_id)];
        self.execute(
            "INSERT INTO group_links (group_id, tenant_id, idp_id, external_id) VALUES ($1, $2, $3, $4)",
            args,
        )
        .await?;
        Ok(())
    }
}

impl Tx {
    /// The id of the tenant's group named `name` (compared as the write path keys names).
    pub async fn group_by_name(&mut self, tenant_id: &str, name: &str) -> Result<Option<String>, StoreError> {
        let key = crate::domain::identifier::group_name_key(name);
        let row: Option<IdRow> = self
            .fetch_optional(
                "SELECT id FROM groups WHERE tenant_id = $1 AND name_lower = $2",
                vec![tenant_id.into(), key.into()],
            )
            .await?;
        Ok(row.map(|r| r.id))
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct NextRow {
    next_run_at: Option<Timestamp>,
}

impl Tx {
    /// IdPs with a sync schedule, with their next firing if one was set.
    pub async fn scheduled_idps(
        &mut self,
    ) -> Result<Vec<(crate::domain::idp::IdentityProvider, Option<Timestamp>)>, StoreError> {
        let idps: Vec<crate::domain::idp::IdentityProvider> = self
            .fetch_all("SELECT * FROM identity_providers WHERE sync_schedule IS NOT NULL ORDER BY id", vec![])
            .await?;
        let mut out = Vec::with_capacity(idps.len());
        for idp in idps {
            let row: Option<NextRow> = self
                .fetch_optional(
                    "SELECT next_run_at FROM sync_state WHERE idp_id = $1",
                    vec![Arg::from(idp.id.as_str())],
                )
                .await?;
            out.push((idp, row.and_then(|r| r.next_run_at)));
        }
        Ok(out)
    }

    /// Moves the IdP's next firing from `expected` to `next`; false when
    /// another replica moved it first.
    pub async fn advance_sync_schedule(
        &mut self,
        idp_id: &str,
        expected: Option<Timestamp>,
        next: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = match expected {
            None => {
                let sql = "INSERT INTO sync_state (idp_id, next_run_at) VALUES ($1, $2) \
                           ON CONFLICT (idp_id) DO UPDATE SET next_run_at = excluded.next_run_at \
                           WHERE sync_state.next_run_at IS NULL";
                self.execute(sql, vec![Arg::from(idp_id), Arg::from(next)]).await?
            }
            Some(old) => {
                let sql = "UPDATE sync_state SET next_run_at = $2 WHERE idp_id = $1 AND next_run_at = $3";
                self.execute(sql, vec![Arg::from(idp_id), Arg::from(next), Arg::from(old)]).await?
            }
        };
        Ok(n == 1)
    }
}

impl Tx {
    /// The tenant's LDAP IdP that owns `domain`.
    pub async fn directory_idp_for_domain(
        &mut self,
        tenant_id: &str,
        domain: &str,
    ) -> Result<Option<crate::domain::idp::IdentityProvider>, StoreError> {
        let mut args = vec![tenant_id.into(), domain.to_lowercase().into()];
        let scope = self.scope().predicate(crate::domain::idp::IdentityProvider::SCOPE, &mut args);
        let sql = format!(
            "SELECT * FROM identity_providers WHERE id = \
             (SELECT idp_id FROM idp_domains WHERE tenant_id = $1 AND domain = $2) AND type = 'ldap' AND {scope}"
        );
        self.fetch_optional(&sql, args).await
    }

    /// The LDAP IdP a user is linked to (synced from), if any.
    pub async fn directory_idp_of_user(
        &mut self,
        user_id: &str,
    ) -> Result<Option<crate::domain::idp::IdentityProvider>, StoreError> {
        let mut args = vec![user_id.into()];
        let scope = self.scope().predicate(crate::domain::idp::IdentityProvider::SCOPE, &mut args);
        let sql = format!(
            "SELECT * FROM identity_providers WHERE type = 'ldap' AND \
             id IN (SELECT idp_id FROM user_identities WHERE user_id = $1) AND {scope} ORDER BY id LIMIT 1"
        );
        self.fetch_optional(&sql, args).await
    }
}

impl Tx {
    /// Marks the IdP's runs still `running` as failed (their lease lapsed:
    /// the process running them died); called by the run that took over.
    pub async fn fail_interrupted_runs(&mut self, idp_id: &str, now: Timestamp) -> Result<u64, StoreError> {
        let sql = "UPDATE sync_runs SET status = 'failed', finished_at = $2, updated_at = $2 \
                   WHERE idp_id = $1 AND status = 'running'";
        self.execute(sql, vec![Arg::from(idp_id), Arg::from(now)]).await
    }
}

impl Tx {
    /// The users with these ids (of the transaction's scope), in one query.
    pub async fn users_by_ids(&mut self, ids: &[String]) -> Result<Vec<crate::domain::user::User>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        // Chunked: both databases bound the parameters of one statement.
        for chunk in ids.chunks(1000) {
            let mut args: Vec<Arg> = chunk.iter().map(|i| Arg::from(i.as_str())).collect();
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let scope = self.scope().predicate(crate::domain::user::User::SCOPE, &mut args);
            let sql = format!("SELECT * FROM users WHERE id IN ({}) AND {scope}", list.join(", "));
            out.extend(self.fetch_all::<crate::domain::user::User>(&sql, args).await?);
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct MemberRow {
    group_id: String,
    member_id: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkedGroup {
    pub external_id: String,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

impl Tx {
    /// Every group synced from `idp_id` with its name and description.
    pub async fn linked_groups_full(&mut self, idp_id: &str) -> Result<Vec<LinkedGroup>, StoreError> {
        let sql = "SELECT l.external_id, g.id, g.name, g.description FROM group_links l \
                   JOIN groups g ON g.id = l.group_id WHERE l.idp_id = $1";
        self.fetch_all(sql, vec![Arg::from(idp_id)]).await
    }

    /// The direct members of every group synced from `idp_id`, by group id.
    pub async fn linked_group_members(
        &mut self,
        idp_id: &str,
    ) -> Result<std::collections::HashMap<String, Vec<String>>, StoreError> {
        let sql = "SELECT group_id, member_id FROM group_members WHERE group_id IN \
                   (SELECT group_id FROM group_links WHERE idp_id = $1)";
        let rows: Vec<MemberRow> = self.fetch_all(sql, vec![Arg::from(idp_id)]).await?;
        let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
        for r in rows {
            out.entry(r.group_id).or_default().push(r.member_id);
        }
        Ok(out)
    }
}
