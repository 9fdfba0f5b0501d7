//! Bearer tokens presented to an issuer's own endpoints (userinfo,
//! introspection, revocation): RFC 6750 parsing and errors around the one
//! verifier.

use crate::app::Services;

use super::Issuer;
use super::verifier::{ExpectedIssuer, TokenError, VerifiedToken, verify_access_token};

/// RFC 6750 §3.1 errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No token at all: 401 with a bare challenge.
    Missing,
    InvalidToken(&'static str),
    InsufficientScope(&'static str),
    Server,
}

/// A valid access token issued by `issuer` (see `verifier` for every check).
pub async fn check(svc: &Services, issuer: &Issuer, token: &str) -> Result<VerifiedToken, BearerError> {
    verify_access_token(svc, token, ExpectedIssuer::Exactly(&issuer.url)).await.map_err(|e| match e {
        TokenError::Invalid(d) => BearerError::InvalidToken(d),
        TokenError::Server => BearerError::Server,
    })
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
