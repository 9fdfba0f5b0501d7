//! Access tokens presented to our own endpoints (userinfo, introspection):
//! signature by a published key with its own algorithm, `typ: at+jwt`, the
//! time window, the issuer, and not revoked.

use serde_json::Value;

use crate::app::Services;
use crate::store::Scope;

use super::Issuer;

/// RFC 6750 §3.1 errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No token at all: 401 with a bare challenge.
    Missing,
    InvalidToken(&'static str),
    InsufficientScope(&'static str),
    Server,
}

/// The claims of a valid, unrevoked access token issued by `issuer`.
pub async fn check(svc: &Services, issuer: &Issuer, token: &str) -> Result<Value, BearerError> {
    let claims = svc
        .keys
        .verify(token, "at+jwt", svc.clock.now())
        .map_err(|_| BearerError::InvalidToken("the access token is invalid or expired"))?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer.url.as_str()) {
        return Err(BearerError::InvalidToken("the access token was issued by another issuer"));
    }
    let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default();
    let revoked = async {
        let mut tx = svc.store.read(Scope::Platform).await?;
        let r = tx.is_jti_revoked(jti).await;
        tx.commit().await?;
        r
    }
    .await
    .map_err(|_| BearerError::Server)?;
    if revoked {
        return Err(BearerError::InvalidToken("the access token was revoked"));
    }
    Ok(claims)
}

/// The token of `Authorization: Bearer …`, or of a form `access_token`
/// (RFC 6750 §2.2), never both.
pub fn from_request(authorization: Option<&str>, form_token: Option<&str>) -> Result<String, BearerError> {
    let header = authorization.and_then(|h| {
        let (scheme, value) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| value.trim().to_owned())
    });
    match (header, form_token) {
        (Some(_), Some(_)) => Err(BearerError::InvalidToken("use one way of sending the token")),
        (Some(t), None) => Ok(t),
        (None, Some(t)) => Ok(t.to_owned()),
        (None, None) => Err(BearerError::Missing),
    }
}
