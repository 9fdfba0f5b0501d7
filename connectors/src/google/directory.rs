//! Directory sync from Google Workspace through the Admin SDK Directory
//! API, as a service account acting for a Workspace admin (domain-wide
//! delegation).
//!
//! The token comes from the RFC 7523 JWT bearer grant: a JWT signed RS256
//! with the service account's `private_key` (`iss` its `client_email`, `sub`
//! the `admin_subject`, `scope` the read-only directory scopes, `aud` the
//! `token_uri`), cached until shortly before it expires. A run lists
//! `users` (`suspended` → suspended, `orgUnitPath` → OU), `groups` and each
//! group's `members` (type `GROUP` → a nested group), following
//! `nextPageToken`, one request at a time with `Retry-After` honoured. The
//! API has no delta query, so every run reads everything and ends with the
//! `Present` set: deletions are found by comparing it with what is known.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use super::{Config, ServiceAccountKey};
use crate::ConnectorError;
use crate::directory::{self, Directory, DirectoryGroup, DirectoryUser, Members, Now, Page, PageSender, SyncMode};
use crate::http::{Http, access_token};
use crate::login::{BoxFuture, UpstreamIdentity};

/// What the service account asks for: read-only users and groups (members included).
pub const SCOPES: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly \
                          https://www.googleapis.com/auth/admin.directory.group.readonly";

/// A token is renewed this many seconds before it expires.
const RENEW_BEFORE: i64 = 120;
/// Pages followed at most in one listing (a safety stop against a loop).
const MAX_PAGES: usize = 100_000;

/// Sync from one Workspace customer.
pub struct GoogleDirectory {
    http: Http,
    key: Option<ServiceAccountKey>,
    admin_subject: Option<String>,
    customer_id: String,
    base_url: String,
    token_uri: String,
    token: Arc<Mutex<Option<(String, i64)>>>,
}

impl GoogleDirectory {
    /// Sync with `config`'s service account.
    pub fn new(http: Http, config: &Config) -> Self {
        Self {
            http,
            key: config.service_account(),
            admin_subject: config.admin_subject.clone(),
            customer_id: config.customer_id.clone(),
            base_url: format!("{}/admin/directory/v1", config.directory_base_url),
            token_uri: config.token_uri.clone(),
            token: Arc::new(Mutex::new(None)),
        }
    }

    /// An access token by the JWT bearer grant (RFC 7523 §2.1).
    async fn access_token(&self, now: i64) -> Result<String, ConnectorError> {
        if let Some((token, expires)) = self.token.lock().await.as_ref()
            && *expires - RENEW_BEFORE > now
        {
            return Ok(token.clone());
        }
        let (Some(key), Some(subject)) = (&self.key, &self.admin_subject) else {
            return Err(ConnectorError::Config(
                "directory sync needs service_account_json and admin_subject in the config".into(),
            ));
        };
        let header = match &key.private_key_id {
            Some(kid) => json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
            None => json!({"alg": "RS256", "typ": "JWT"}),
        };
        let claims = json!({
            "iss": key.client_email, "sub": subject, "scope": SCOPES, "aud": self.token_uri,
            "iat": now, "exp": now + 3600,
        });
        let assertion = sign_rs256(&key.private_key, &header, &claims)?;
        let form = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion.as_str())];
        let (status, body) =
            self.http.json(self.http.client().post(&self.token_uri).form(&form), "Google token").await?;
        let (token, lifetime) = access_token(status, &body, "Google token")?;
        *self.token.lock().await = Some((token.clone(), now + lifetime));
        Ok(token)
    }

    /// One page of a listing at `url` (query included): the items under
    /// `field` and the token of the next page, if any.
    async fn page(
        &self,
        url: &str,
        field: &str,
        what: &str,
        page_token: Option<&str>,
        now: &Now,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let mut page_url = url::Url::parse(url).map_err(|_| ConnectorError::Config(format!("{what}: a bad URL")))?;
        if let Some(t) = page_token {
            page_url.query_pairs_mut().append_pair("pageToken", t);
        }
        let token = self.access_token(now()).await?;
        let (status, mut body) = self.http.get_paced(page_url.as_str(), &token, what).await?;
        if status != StatusCode::OK {
            let reason = body.pointer("/error/status").and_then(Value::as_str).unwrap_or("");
            let reason: String = reason.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
            return Err(ConnectorError::Unreachable(format!("{what}: answered {status} {reason}")));
        }
        let next = body.get("nextPageToken").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned);
        let items = match body.get_mut(field).map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        Ok((items, next))
    }

    /// Every item of a listing, page by page.
    async fn all(&self, url: &str, field: &str, what: &str, now: &Now) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let (items, more) = self.page(url, field, what, next.as_deref(), now).await?;
            out.extend(items);
            match more {
                Some(t) => next = Some(t),
                None => return Ok(out),
            }
        }
        Err(ConnectorError::Unreachable(format!("{what}: too many pages")))
    }

    async fn stream(&self, now: &Now, out: &PageSender) -> Result<(), ConnectorError> {
        let customer = &self.customer_id;
        // Users, sent page by page as they are listed.
        let users_url = format!("{}/users?customer={customer}&maxResults=500&projection=full", self.base_url);
        let mut present_users = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let (items, more) = self.page(&users_url, "users", "Google users", next.as_deref(), now).await?;
            let batch: Vec<DirectoryUser> = items.iter().filter_map(user).collect();
            present_users.extend(batch.iter().map(|u| u.identity.external_id.clone()));
            if !batch.is_empty() {
                directory::send(out, Page::Users(batch)).await?;
            }
            match more {
                Some(t) => next = Some(t),
                None => break,
            }
        }

        let groups_url = format!("{}/groups?customer={customer}&maxResults=200", self.base_url);
        let mut groups = Vec::new();
        for item in self.all(&groups_url, "groups", "Google groups", now).await? {
            let text = |k: &str| item.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
            let Some(id) = text("id").filter(|id| is_plain_segment(id)) else { continue };
            let url = format!("{}/groups/{id}/members?maxResults=200", self.base_url);
            let members = self
                .all(&url, "members", "Google group members", now)
                .await?
                .iter()
                .filter(|m| matches!(m.get("type").and_then(Value::as_str), Some("USER" | "GROUP")))
                .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect();
            let name = text("name").or_else(|| text("email")).unwrap_or_else(|| id.clone());
            groups.push(DirectoryGroup {
                external_id: id,
                name,
                description: text("description"),
                members: Members::All(members),
            });
        }
        let present_groups: Vec<String> = groups.iter().map(|g| g.external_id.clone()).collect();
        if !groups.is_empty() {
            directory::send(out, Page::Groups(groups)).await?;
        }
        directory::send(out, Page::Present { users: present_users, groups: present_groups }).await?;
        directory::send(out, Page::Done { cursor: json!({ "full": true }) }).await
    }
}

/// A compact JWS (RS256) of `claims`, signed with the PEM key Google issues
/// (PKCS#8 `PRIVATE KEY`; PKCS#1 `RSA PRIVATE KEY` taken too).
fn sign_rs256(pem: &str, header: &Value, claims: &Value) -> Result<String, ConnectorError> {
    let bad = || ConnectorError::Config("the service account's private_key is not a usable RSA key".into());
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = STANDARD.decode(body).map_err(|_| bad())?;
    let key = RsaKeyPair::from_pkcs8(&der).or_else(|_| RsaKeyPair::from_der(&der)).map_err(|_| bad())?;
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", part(header), part(claims));
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut signature).map_err(|_| bad())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// Whether `s` is safe as one path segment (Google ids are digits and letters).
fn is_plain_segment(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A Directory API user as a directory user; its `id` is the `sub` Google's
/// login gives the same user.
fn user(item: &Value) -> Option<DirectoryUser> {
    let id = item.get("id").and_then(Value::as_str).filter(|s| !s.is_empty())?.to_owned();
    let text = |p: &str| item.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let mut claims = Map::new();
    // The Directory API's own names too, for the IdP's attribute mapping
    // (`primaryEmail`, `orgUnitPath`, `givenName` from `name`, …).
    let name = item.get("name").and_then(Value::as_object).into_iter().flatten();
    for (k, v) in item.as_object().into_iter().flatten().chain(name) {
        if matches!(v, Value::String(_) | Value::Bool(_) | Value::Number(_)) {
            claims.insert(k.clone(), v.clone());
        }
    }
    let mut put = |claim: &str, v: Option<String>| {
        if let Some(v) = v {
            claims.insert(claim.to_owned(), Value::String(v));
        }
    };
    put("sub", Some(id.clone()));
    put("email", text("/primaryEmail"));
    put("preferred_username", text("/primaryEmail"));
    put("given_name", text("/name/givenName"));
    put("family_name", text("/name/familyName"));
    put("name", text("/name/fullName"));
    put("org_unit_path", text("/orgUnitPath"));
    let organizations = item.get("organizations").and_then(Value::as_array).cloned().unwrap_or_default();
    let org = organizations.iter().find(|o| o.get("primary") == Some(&Value::Bool(true))).or(organizations.first());
    let org_text = |k: &str| org.and_then(|o| o.get(k)).and_then(Value::as_str).map(str::to_owned);
    put("title", org_text("title"));
    put("department", org_text("department"));
    put("company", org_text("name"));
    let employee_id = item.get("externalIds").and_then(Value::as_array).and_then(|ids| {
        ids.iter()
            .find(|e| e.get("type").and_then(Value::as_str) == Some("organization"))?
            .get("value")?
            .as_str()
            .map(str::to_owned)
    });
    put("employee_id", employee_id);
    let email = claims.get("email").and_then(Value::as_str).map(str::to_owned);
    Some(DirectoryUser {
        dn: email.clone().unwrap_or_default(),
        disabled: item.get("suspended") == Some(&Value::Bool(true)) || item.get("archived") == Some(&Value::Bool(true)),
        ou_path: text("/orgUnitPath"),
        identity: UpstreamIdentity {
            external_id: id,
            claims,
            email,
            email_verified: true,
            amr: Vec::new(),
            groups: Vec::new(),
        },
    })
}

impl Directory for GoogleDirectory {
    fn run<'a>(&'a self, _mode: SyncMode, _cursor: Option<Value>, now: Now, out: PageSender) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.stream(&now, &out).await {
                let _ = out.send(Err(e)).await;
            }
        })
    }
}
