//! `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4): the
//! device polls with its `device_code` until the user approved it on the
//! device page. `authorization_pending` while waiting, `slow_down` (and a
//! wait 5 s longer from then on) when polled faster than the interval,
//! `access_denied` when the user refused, `expired_token` after ten minutes;
//! an approved code is redeemed once, for the user, session and `amr` of the
//! approval.

use crate::authn::secret;
use crate::domain::application::{AppType, Application, GRANT_DEVICE_CODE};
use crate::domain::oidc::DeviceCode;
use crate::domain::user::{User, UserStatus};
use crate::oauth::OAuthError;
use crate::oauth::issue::{self, ForUser, Refresh};
use crate::store::StoreError;

use super::authorization_code::invalid_grant;
use super::{Grant, GrantFuture, GrantRequest};

pub struct DeviceCodeGrant;

fn error(code: &'static str, description: &str) -> OAuthError {
    OAuthError { error: code, description: description.into() }
}

impl Grant for DeviceCodeGrant {
    fn grant_type(&self) -> &'static str {
        GRANT_DEVICE_CODE
    }

    fn app_types(&self) -> &'static [AppType] {
        &[AppType::Native, AppType::Web, AppType::Spa]
    }

    fn default_scopes(&self, _app: &Application) -> Vec<String> {
        Vec::new()
    }

    fn uses_request_scope(&self) -> bool {
        false
    }

    fn issue<'a>(&'a self, req: GrantRequest<'a>) -> GrantFuture<'a> {
        Box::pin(async move {
            let code =
                req.param("device_code").ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
            let mut tx = req.svc.store.write(req.issuer.scope()).await?;
            let row: DeviceCode = match tx.device_by_code_hash(&secret::hash(code)).await {
                Ok(r)
                    if r.app_id == req.app.id && req.issuer.tenant.as_ref().map(|t| &t.id) == r.tenant_id.as_ref() =>
                {
                    r
                }
                Ok(_) | Err(StoreError::NotFound) => return Err(invalid_grant("the device code is invalid")),
                Err(e) => return Err(e.into()),
            };
            if row.expires_at <= req.now {
                return Err(error("expired_token", "the device code has expired"));
            }
            match row.status.as_str() {
                "pending" => {
                    let too_soon = row
                        .last_polled_at
                        .is_some_and(|t| req.now.unix_seconds() - t.unix_seconds() < row.poll_interval);
                    let interval = if too_soon { row.poll_interval + 5 } else { row.poll_interval };
                    tx.device_polled(&row.id, interval, req.now).await?;
                    tx.commit().await?;
                    return Err(if too_soon {
                        error("slow_down", "polled faster than the interval; wait 5 seconds longer")
                    } else {
                        error("authorization_pending", "the user has not approved the device yet")
                    });
                }
                "denied" => return Err(error("access_denied", "the user denied the device")),
                "approved" => {}
                _ => return Err(invalid_grant("the device code was already used")),
            }
            let (Some(user_id), Some(session_id), Some(auth_time)) = (&row.user_id, &row.session_id, row.auth_time)
            else {
                return Err(invalid_grant("the device code is invalid"));
            };
            let user: User = tx.get(user_id).await?;
            if user.status != UserStatus::Active {
                return Err(invalid_grant("the account is not active"));
            }
            if !tx.device_use(&row.id).await? {
                return Err(invalid_grant("the device code was already used"));
            }
            let scopes: Vec<String> = row.scope.split_whitespace().map(str::to_owned).collect();
            let issued = issue::for_user(
                &mut tx,
                req.svc,
                req.issuer,
                req.app,
                ForUser {
                    user: &user,
                    session_id,
                    auth_time,
                    amr: &row.amr,
                    nonce: None,
                    scopes,
                    audience: Vec::new(),
                    act: None,
                    id_token: true,
                    refresh: Refresh::Start { code_id: None },
                    lifetime_cap: None,
                },
                req.now,
            )
            .await?;
            tx.commit().await?;
            Ok(issued.response)
        })
    }
}
