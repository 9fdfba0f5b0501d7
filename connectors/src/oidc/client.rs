//! The OIDC relying party every OIDC-style upstream uses: discovery (cached),
//! authorization code with PKCE S256, `state` and `nonce`, the code
//! exchange with `client_secret_basic` or `client_secret_post`, the
//! id_token check (JWKS cached, refetched once when a token names an unknown
//! `kid`) and userinfo merged. The [`Flavor`] adds each upstream's rules.

use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use url::Url;

use super::config::TokenEndpointAuthMethod;
use super::flavor::Flavor;
use super::id_token::{self, Expected};
use crate::http::{Http, oauth_error};
use crate::login::{BoxFuture, Callback, PendingLogin, RedirectLogin, UpstreamIdentity};
use crate::{ConnectorError, entra};

/// How long a discovery document is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// A token naming an unknown key refetches the JWKS at most this often.
const JWKS_REFETCH_MIN: Duration = Duration::from_secs(10);

/// What the RP needs of a discovery document.
#[derive(Debug, Clone)]
struct Discovered {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
    /// RFC 9207: the upstream names itself in every authorization response.
    sends_iss: bool,
}

#[derive(Default)]
struct Cache {
    discovered: Option<(Discovered, Instant)>,
    jwks: Option<(JwkSet, Instant)>,
}

/// Client credentials at the upstream.
#[derive(Clone)]
pub struct Client {
    /// Our client id.
    pub id: String,
    /// Our client secret.
    pub secret: String,
    /// How we authenticate at the token endpoint.
    pub auth_method: TokenEndpointAuthMethod,
}

/// An opened OIDC upstream.
pub struct OidcLogin {
    http: Http,
    /// The issuer as configured (for Entra: the authority).
    issuer: String,
    discovery_url: String,
    client: Client,
    scopes: Vec<String>,
    flavor: Flavor,
    cache: Mutex<Cache>,
    graph: Option<entra::Graph>,
}

fn endpoint(doc: &Value, name: &str) -> Result<String, ConnectorError> {
    let raw = doc
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ConnectorError::Unreachable(format!("the discovery document has no {name}")))?;
    let url = Url::parse(raw).map_err(|_| ConnectorError::Unreachable(format!("the discovery {name} is not a URL")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(ConnectorError::Unreachable(format!("the discovery {name} is not an https URL")));
    }
    Ok(raw.to_owned())
}

impl OidcLogin {
    /// An upstream at `issuer` whose discovery document is at `discovery_url`.
    pub fn new(
        http: Http,
        issuer: String,
        discovery_url: String,
        client: Client,
        scopes: Vec<String>,
        flavor: Flavor,
    ) -> Self {
        let graph = match &flavor {
            Flavor::Entra(config) => Some(entra::Graph::new(http.clone(), config)),
            _ => None,
        };
        Self { http, issuer, discovery_url, client, scopes, flavor, cache: Mutex::new(Cache::default()), graph }
    }

    /// The upstream's discovery document, fetched or cached.
    async fn discovered(&self) -> Result<Discovered, ConnectorError> {
        let mut cache = self.cache.lock().await;
        if let Some((d, at)) = &cache.discovered
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(d.clone());
        }
        let doc = self.http.get_json(&self.discovery_url, "discovery").await?;
        let issuer = doc
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| ConnectorError::Unreachable("the discovery document has no issuer".into()))?
            .to_owned();
        self.flavor.check_discovered_issuer(&self.issuer, &issuer)?;
        let d = Discovered {
            issuer,
            authorization_endpoint: endpoint(&doc, "authorization_endpoint")?,
            token_endpoint: endpoint(&doc, "token_endpoint")?,
            jwks_uri: endpoint(&doc, "jwks_uri")?,
            userinfo_endpoint: endpoint(&doc, "userinfo_endpoint").ok(),
            sends_iss: doc.get("authorization_response_iss_parameter_supported") == Some(&Value::Bool(true)),
        };
        cache.discovered = Some((d.clone(), Instant::now()));
        Ok(d)
    }

    /// The upstream's keys; `refresh` fetches them again unless they were
    /// fetched moments ago (a flood of unknown `kid`s cannot hammer the upstream).
    async fn keys(&self, jwks_uri: &str, refresh: bool) -> Result<JwkSet, ConnectorError> {
        let mut cache = self.cache.lock().await;
        if let Some((set, at)) = &cache.jwks
            && (!refresh || at.elapsed() < JWKS_REFETCH_MIN)
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(set.clone());
        }
        let doc = self.http.get_json(jwks_uri, "jwks").await?;
        let set: JwkSet = parse_jwks(doc)?;
        cache.jwks = Some((set.clone(), Instant::now()));
        Ok(set)
    }

    /// What the upstream's discovery document says, for the admin's test button.
    pub async fn describe(&self) -> Result<Map<String, Value>, ConnectorError> {
        let d = self.discovered().await?;
        let keys = self.keys(&d.jwks_uri, false).await?;
        let mut out = Map::new();
        out.insert("issuer".into(), d.issuer.into());
        out.insert("authorization_endpoint".into(), d.authorization_endpoint.into());
        out.insert("token_endpoint".into(), d.token_endpoint.into());
        out.insert("userinfo_endpoint".into(), d.userinfo_endpoint.map(Value::from).unwrap_or(Value::Null));
        out.insert("signing_keys".into(), Value::from(keys.keys.len()));
        Ok(out)
    }

    async fn authorize_url(
        &self,
        redirect_uri: &str,
        pending: &PendingLogin,
        login_hint: Option<&str>,
    ) -> Result<String, ConnectorError> {
        let d = self.discovered().await?;
        let mut url = Url::parse(&d.authorization_endpoint)
            .map_err(|_| ConnectorError::Unreachable("the authorization endpoint is not a URL".into()))?;
        let challenge = B64.encode(digest::digest(&digest::SHA256, pending.pkce_verifier.as_bytes()));
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client.id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &self.scopes.join(" "))
                .append_pair("state", &pending.state)
                .append_pair("nonce", &pending.nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = login_hint {
                q.append_pair("login_hint", hint);
            }
            for (k, v) in self.flavor.authorization_params() {
                q.append_pair(k, &v);
            }
        }
        Ok(url.into())
    }

    /// The code for tokens at the upstream's token endpoint.
    async fn redeem(&self, d: &Discovered, cb: &Callback<'_>) -> Result<Map<String, Value>, ConnectorError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", cb.code),
            ("redirect_uri", cb.redirect_uri),
            ("code_verifier", cb.pending.pkce_verifier.as_str()),
        ];
        let mut request = self.http.client().post(&d.token_endpoint);
        match self.client.auth_method {
            // RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
            TokenEndpointAuthMethod::ClientSecretBasic => {
                let user = form_urlencode(&self.client.id);
                let pass = form_urlencode(&self.client.secret);
                request = request.basic_auth(user, Some(pass));
            }
            TokenEndpointAuthMethod::ClientSecretPost => {
                form.push(("client_id", &self.client.id));
                form.push(("client_secret", &self.client.secret));
            }
        }
        let (status, body) = self.http.json(request.form(&form), "token endpoint").await?;
        if !status.is_success() {
            return Err(match oauth_error(&body) {
                Some(error) => ConnectorError::Refused { error },
                None => ConnectorError::Unreachable(format!("token endpoint: answered {status}")),
            });
        }
        match body {
            Value::Object(map) => Ok(map),
            _ => Err(ConnectorError::Unreachable("token endpoint: the answer is not a JSON object".into())),
        }
    }

    async fn complete_login(&self, cb: Callback<'_>) -> Result<UpstreamIdentity, ConnectorError> {
        let d = self.discovered().await?;
        // RFC 9207 mix-up defence: the response names the issuer we sent the
        // user to (Entra's multi-tenant issuers are templates: checked on the token).
        let expected_iss = !d.issuer.contains("{tenantid}");
        match cb.iss {
            Some(iss) if expected_iss && iss != d.issuer => {
                return Err(ConnectorError::Rejected(
                    "the authorization response comes from another issuer (iss)".into(),
                ));
            }
            None if d.sends_iss => {
                return Err(ConnectorError::Rejected("the authorization response lacks the issuer (iss)".into()));
            }
            _ => {}
        }
        let tokens = self.redeem(&d, &cb).await?;
        let id_token = tokens
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| ConnectorError::Rejected("the token response has no id_token".into()))?;
        let (kid, alg) = id_token::header(id_token)?;
        let mut keys = self.keys(&d.jwks_uri, false).await?;
        if id_token::find_key(&keys, kid.as_deref(), alg).is_none() {
            keys = self.keys(&d.jwks_uri, true).await?;
        }
        let key = id_token::find_key(&keys, kid.as_deref(), alg).ok_or_else(|| {
            ConnectorError::Rejected("the id_token is signed by a key the upstream does not publish".into())
        })?;
        let mut claims = id_token::verify_signature(id_token, key, alg)?;
        id_token::check_claims(
            &claims,
            &Expected { client_id: &self.client.id, nonce: &cb.pending.nonce, now: cb.now },
        )?;
        let external_id = self.flavor.check(&d.issuer, &claims)?;

        if let (Some(endpoint), Some(access_token)) =
            (&d.userinfo_endpoint, tokens.get("access_token").and_then(Value::as_str))
        {
            self.merge_userinfo(endpoint, access_token, &mut claims).await?;
        }
        let groups = match &self.graph {
            Some(graph) => graph.groups_of(&claims, cb.now).await?,
            None => string_list(claims.get("groups")),
        };
        Ok(identity(&self.flavor, external_id, claims, groups))
    }

    /// Adds userinfo's claims that the id_token lacks; a userinfo answer
    /// about another subject is an attack and fails the login.
    async fn merge_userinfo(
        &self,
        endpoint: &str,
        access_token: &str,
        claims: &mut Map<String, Value>,
    ) -> Result<(), ConnectorError> {
        let request = self.http.client().get(endpoint).bearer_auth(access_token);
        let (status, body) = self.http.json(request, "userinfo").await?;
        // Some upstreams refuse userinfo for the scopes asked: the id_token suffices.
        if !status.is_success() {
            return Ok(());
        }
        let Value::Object(info) = body else { return Ok(()) };
        if info.get("sub") != claims.get("sub") {
            return Err(ConnectorError::Rejected("userinfo describes another subject than the id_token".into()));
        }
        for (k, v) in info {
            claims.entry(k).or_insert(v);
        }
        Ok(())
    }
}

fn parse_jwks(doc: Value) -> Result<JwkSet, ConnectorError> {
    // Keys of kinds we cannot use are skipped, not fatal.
    let keys = doc.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
    let usable: Vec<Value> =
        keys.into_iter().filter(|k| serde_json::from_value::<jsonwebtoken::jwk::Jwk>(k.clone()).is_ok()).collect();
    if usable.is_empty() {
        return Err(ConnectorError::Unreachable("the upstream publishes no usable signing key".into()));
    }
    serde_json::from_value(serde_json::json!({ "keys": usable }))
        .map_err(|_| ConnectorError::Unreachable("the upstream's JWKS is malformed".into()))
}

fn form_urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

fn identity(flavor: &Flavor, external_id: String, claims: Map<String, Value>, groups: Vec<String>) -> UpstreamIdentity {
    let email = claims.get("email").and_then(Value::as_str).map(str::to_owned);
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => flavor.email_is_directory_owned(),
    };
    let amr = string_list(claims.get("amr"));
    UpstreamIdentity { external_id, claims, email, email_verified, amr, groups }
}

impl RedirectLogin for OidcLogin {
    fn authorization_url<'a>(
        &'a self,
        redirect_uri: &'a str,
        pending: &'a PendingLogin,
        login_hint: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        Box::pin(self.authorize_url(redirect_uri, pending, login_hint))
    }

    fn complete<'a>(&'a self, callback: Callback<'a>) -> BoxFuture<'a, Result<UpstreamIdentity, ConnectorError>> {
        Box::pin(self.complete_login(callback))
    }
}
