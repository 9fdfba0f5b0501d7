//! The `redirect()` capability: logins where the browser goes to the
//! upstream and comes back with a code (OIDC, Entra ID, Google).
//!
//! The server owns the flow's state: it draws the random `state`, `nonce`
//! and PKCE verifier ([`PendingLogin`]), keeps them with the login request,
//! checks the returned `state`, and hands the code back here. The connector
//! owns everything that talks to the upstream and decides whether the
//! upstream's answer is to be believed.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ConnectorError;

/// A boxed future, so capabilities can be `dyn` objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The per-login secrets, drawn by the server and kept with its login request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// Sent as `state`; the callback must return it.
    pub state: String,
    /// Sent as `nonce`; the id_token must carry it.
    pub nonce: String,
    /// The PKCE verifier; its S256 challenge goes to the upstream.
    pub pkce_verifier: String,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingLogin([redacted])")
    }
}

/// The callback of one login, as the server received it.
pub struct Callback<'a> {
    /// Our redirect URI, exactly as sent in the authorization request.
    pub redirect_uri: &'a str,
    /// The `code` parameter of the callback.
    pub code: &'a str,
    /// The `iss` parameter of the callback (RFC 9207), if any.
    pub iss: Option<&'a str>,
    /// What was drawn for this login.
    pub pending: &'a PendingLogin,
    /// The current time (seconds since the epoch), from the server's clock.
    pub now: i64,
}

/// Who the upstream says signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamIdentity {
    /// Stable id of the user at this upstream (`sub`; `tid/oid` for Entra).
    pub external_id: String,
    /// Every claim of the id_token, with userinfo's added.
    pub claims: Map<String, Value>,
    /// The email address, when the upstream gave one.
    pub email: Option<String>,
    /// Whether the upstream vouches for `email` (`email_verified`; Entra
    /// and Google Workspace addresses are the directory's own).
    pub email_verified: bool,
    /// The upstream's own `amr` values, if any.
    pub amr: Vec<String>,
    /// Group ids the upstream reports (Entra: overage resolved via Graph).
    pub groups: Vec<String>,
}

/// Logins by browser redirect and code exchange.
pub trait RedirectLogin: Send + Sync {
    /// The upstream authorization URL for this login.
    fn authorization_url<'a>(
        &'a self,
        redirect_uri: &'a str,
        pending: &'a PendingLogin,
        login_hint: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ConnectorError>>;

    /// Redeems the code and checks the upstream's answer.
    fn complete<'a>(&'a self, callback: Callback<'a>) -> BoxFuture<'a, Result<UpstreamIdentity, ConnectorError>>;
}
