//! Sessions, login requests, authorization codes, refresh tokens, revoked
//! access tokens and lockout counters. Single-use and rotation checks are
//! conditional updates, so of two concurrent uses exactly one succeeds.

use crate::domain::Timestamp;
use crate::domain::oidc::{AuthorizationCode, LoginRequest, RefreshToken, Session};
use crate::store::db::{Arg, Count, json};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for Session {
    const TABLE: &'static str = "sessions";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "token_hash" => (&self.token_hash).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "user_id" => (&self.user_id).into(),
        "auth_time" => self.auth_time.into(),
        "amr" => json(&self.amr),
        "created_at" => self.created_at.into(),
        "expires_at" => self.expires_at.into(),
        "ended_at" => self.ended_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Entity for LoginRequest {
    const TABLE: &'static str = "login_requests";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "app_id" => (&self.app_id).into(),
        "purpose" => json(&self.purpose),
        "params" => json(&self.params),
        "step" => self.state.name().into(),
        "user_id" => Arg::from(self.state.user_id().map(str::to_owned)),
        "upstream_ref" => Arg::from(self.state.upstream_ref().map(str::to_owned)),
        "state" => json(&self.state),
        "version" => self.version.into(),
        "csrf_hash" => (&self.csrf_hash).into(),
        "created_at" => self.created_at.into(),
        "expires_at" => self.expires_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.partner_id.as_deref(), self.tenant_id.as_deref())
    }
}

impl Entity for AuthorizationCode {
    const TABLE: &'static str = "authorization_codes";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "code_hash" => (&self.code_hash).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "app_id" => (&self.app_id).into(),
        "user_id" => (&self.user_id).into(),
        "session_id" => (&self.session_id).into(),
        "params" => json(&self.params),
        "access_jti" => (&self.access_jti).into(),
        "created_at" => self.created_at.into(),
        "expires_at" => self.expires_at.into(),
        "used_at" => self.used_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Entity for RefreshToken {
    const TABLE: &'static str = "refresh_tokens";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "token_hash" => (&self.token_hash).into(),
        "family_id" => (&self.family_id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "app_id" => (&self.app_id).into(),
        "user_id" => (&self.user_id).into(),
        "session_id" => (&self.session_id).into(),
        "code_id" => (&self.code_id).into(),
        "access_jti" => (&self.access_jti).into(),
        "scope" => (&self.scope).into(),
        "auth_time" => self.auth_time.into(),
        "amr" => json(&self.amr),
        "created_at" => self.created_at.into(),
        "expires_at" => self.expires_at.into(),
        "rotated_at" => self.rotated_at.into(),
        "revoked_at" => self.revoked_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Tx {
    /// Stores a login request's new state if nobody changed it since
    /// `version` was read; false when another request got there first.
    pub async fn advance_login(&mut self, request: &LoginRequest, version: i64) -> Result<bool, StoreError> {
        let mut args = vec![
            Arg::from(&request.id),
            Arg::from(version),
            json(&request.state),
            Arg::from(request.state.name()),
            Arg::from(request.state.user_id().map(str::to_owned)),
            Arg::from(&request.csrf_hash),
            Arg::from(&request.tenant_id),
            Arg::from(&request.partner_id),
            json(&request.params),
            Arg::from(request.state.upstream_ref().map(str::to_owned)),
        ];
        let scope = self.scope().predicate(LoginRequest::SCOPE, &mut args);
        let sql = format!(
            "UPDATE login_requests SET version = version + 1, state = $3, step = $4, user_id = $5, csrf_hash = $6, \
             tenant_id = $7, partner_id = $8, params = $9, upstream_ref = $10 WHERE id = $1 AND version = $2 AND {scope}"
        );
        Ok(self.execute(&sql, args).await? == 1)
    }

    /// A live session by the hash of its cookie value.
    pub async fn live_session(&mut self, token_hash: &str, now: Timestamp) -> Result<Session, StoreError> {
        let mut args = vec![Arg::from(token_hash), Arg::from(now)];
        let scope = self.scope().predicate(Session::SCOPE, &mut args);
        let sql = format!(
            "SELECT * FROM sessions WHERE token_hash = $1 AND expires_at > $2 AND ended_at IS NULL AND {scope}"
        );
        self.fetch_one(&sql, args).await
    }

    pub async fn end_session(&mut self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut args = vec![Arg::from(id), Arg::from(now)];
        let scope = self.scope().predicate(Session::SCOPE, &mut args);
        self.execute(&format!("UPDATE sessions SET ended_at = $2 WHERE id = $1 AND {scope}"), args).await?;
        Ok(())
    }

    pub async fn code_by_hash(&mut self, code_hash: &str) -> Result<AuthorizationCode, StoreError> {
        let lock = self.dialect().for_update();
        let mut args = vec![Arg::from(code_hash)];
        let scope = self.scope().predicate(AuthorizationCode::SCOPE, &mut args);
        self.fetch_one(&format!("SELECT * FROM authorization_codes WHERE code_hash = $1 AND {scope}{lock}"), args).await
    }

    /// Marks a code used; false when another request used it first.
    pub async fn use_code(&mut self, id: &str, access_jti: &str, now: Timestamp) -> Result<bool, StoreError> {
        let mut args = vec![Arg::from(id), Arg::from(now), Arg::from(access_jti)];
        let scope = self.scope().predicate(AuthorizationCode::SCOPE, &mut args);
        let sql = format!(
            "UPDATE authorization_codes SET used_at = $2, access_jti = $3 WHERE id = $1 AND used_at IS NULL AND {scope}"
        );
        Ok(self.execute(&sql, args).await? == 1)
    }

    pub async fn refresh_by_hash(&mut self, token_hash: &str) -> Result<RefreshToken, StoreError> {
        let lock = self.dialect().for_update();
        let mut args = vec![Arg::from(token_hash)];
        let scope = self.scope().predicate(RefreshToken::SCOPE, &mut args);
        self.fetch_one(&format!("SELECT * FROM refresh_tokens WHERE token_hash = $1 AND {scope}{lock}"), args).await
    }

    /// Marks a refresh token rotated; false when it was rotated or revoked already.
    pub async fn rotate_refresh(&mut self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let mut args = vec![Arg::from(id), Arg::from(now)];
        let scope = self.scope().predicate(RefreshToken::SCOPE, &mut args);
        let sql = format!(
            "UPDATE refresh_tokens SET rotated_at = $2 WHERE id = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND {scope}"
        );
        Ok(self.execute(&sql, args).await? == 1)
    }

    /// Revokes every token of a family and the access tokens they issued.
    pub async fn revoke_family(&mut self, family_id: &str, now: Timestamp, until: Timestamp) -> Result<(), StoreError> {
        let mut args = vec![Arg::from(family_id), Arg::from(until)];
        let scope = self.scope().predicate(RefreshToken::SCOPE, &mut args);
        let sql = format!(
            "INSERT INTO revoked_tokens (jti, expires_at) SELECT access_jti, $2 FROM refresh_tokens \
             WHERE family_id = $1 AND access_jti IS NOT NULL AND {scope} ON CONFLICT (jti) DO NOTHING"
        );
        self.execute(&sql, args).await?;
        let mut args = vec![Arg::from(family_id), Arg::from(now)];
        let scope = self.scope().predicate(RefreshToken::SCOPE, &mut args);
        let sql = format!(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL AND {scope}"
        );
        self.execute(&sql, args).await?;
        Ok(())
    }

    /// Revokes the refresh tokens an SSO session issued, and their access
    /// tokens, at RP-initiated logout. `offline_access` tokens outlive the
    /// session by design (OIDC Core §11) and are kept.
    pub async fn revoke_session_refresh(
        &mut self,
        session_id: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        let online = "session_id = $1 AND revoked_at IS NULL AND (' ' || scope || ' ') NOT LIKE '% offline_access %'";
        let mut args = vec![Arg::from(session_id), Arg::from(until)];
        let scope = self.scope().predicate(RefreshToken::SCOPE, &mut args);
        let sql = format!(
            "INSERT INTO revoked_tokens (jti, expires_at) SELECT access_jti, $2 FROM refresh_tokens \
             WHERE {online} AND access_jti IS NOT NULL AND {scope} ON CONFLICT (jti) DO NOTHING"
        );
        self.execute(&sql, args).await?;
        let mut args = vec![Arg::from(session_id), Arg::from(now)];
        let scope = self.scope().predicate(RefreshToken::SCOPE, &mut args);
        self.execute(&format!("UPDATE refresh_tokens SET revoked_at = $2 WHERE {online} AND {scope}"), args).await?;
        Ok(())
    }

    /// Families started from one authorization code (revoked when it is replayed).
    pub async fn families_of_code(&mut self, code_id: &str) -> Result<Vec<String>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Fam {
            family_id: String,
        }
        let mut args = vec![Arg::from(code_id)];
        let scope = self.scope().predicate(RefreshToken::SCOPE, &mut args);
        let sql = format!("SELECT DISTINCT family_id FROM refresh_tokens WHERE code_id = $1 AND {scope}");
        Ok(self.fetch_all::<Fam>(&sql, args).await?.into_iter().map(|f| f.family_id).collect())
    }

    /// Records an access token as revoked until it would have expired anyway.
    pub async fn revoke_jti(&mut self, jti: &str, until: Timestamp) -> Result<(), StoreError> {
        let sql = "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";
        self.execute(sql, vec![jti.into(), until.into()]).await?;
        Ok(())
    }

    pub async fn is_jti_revoked(&mut self, jti: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM revoked_tokens WHERE jti = $1";
        Ok(self.fetch_one::<Count>(sql, vec![jti.into()]).await?.n > 0)
    }

    /// The lockout state of a user: (failed logins in a row, locked until).
    pub async fn lockout_state(&mut self, user_id: &str) -> Result<(i64, Option<Timestamp>), StoreError> {
        #[derive(sqlx::FromRow)]
        struct L {
            failed_logins: i64,
            locked_until: Option<Timestamp>,
        }
        let mut args = vec![Arg::from(user_id)];
        let scope = self.scope().predicate(ScopeCols::TENANT_OWNED, &mut args);
        let sql = format!("SELECT failed_logins, locked_until FROM users WHERE id = $1 AND {scope}");
        let l: L = self.fetch_one(&sql, args).await?;
        Ok((l.failed_logins, l.locked_until))
    }

    /// Clears the failure count after a successful sign-in.
    pub async fn clear_lockout(&mut self, user_id: &str) -> Result<(), StoreError> {
        let mut args = vec![Arg::from(user_id)];
        let scope = self.scope().predicate(ScopeCols::TENANT_OWNED, &mut args);
        let sql = format!("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND {scope}");
        self.execute(&sql, args).await?;
        Ok(())
    }

    /// Counts one failed sign-in in a single statement, so parallel failures
    /// cannot read the same count: the failure that reaches `threshold`
    /// locks the account until `now + duration`; failures while it is locked
    /// are not counted. Returns whether this failure locked it.
    pub async fn record_login_failure(
        &mut self,
        user_id: &str,
        policy: &crate::domain::settings::Lockout,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Locked {
            locked_until: Option<Timestamp>,
        }
        let until = now.plus_seconds(i64::from(policy.duration));
        let threshold = i64::from(policy.threshold);
        let mut args = vec![Arg::from(user_id), Arg::from(now), Arg::from(threshold), Arg::from(until)];
        let scope = self.scope().predicate(ScopeCols::TENANT_OWNED, &mut args);
        let reaches = "$3 > 0 AND failed_logins + 1 >= $3";
        let sql = format!(
            "UPDATE users SET \
               locked_until = CASE WHEN {reaches} THEN $4 ELSE NULL END, \
               failed_logins = CASE WHEN {reaches} THEN 0 ELSE failed_logins + 1 END \
             WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2) AND {scope} \
             RETURNING locked_until"
        );
        let row: Option<Locked> = self.fetch_optional(&sql, args).await?;
        Ok(row.is_some_and(|r| r.locked_until.is_some()))
    }

    /// Deletes expired login requests, codes, sessions, refresh tokens and revocations.
    pub async fn purge_expired(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let mut n = 0;
        for table in [
            "login_requests",
            "authorization_codes",
            "sessions",
            "refresh_tokens",
            "revoked_tokens",
            "ceremonies",
            "device_codes",
        ] {
            n += self.execute(&format!("DELETE FROM {table} WHERE expires_at < $1"), vec![now.into()]).await?;
        }
        Ok(n)
    }
}
