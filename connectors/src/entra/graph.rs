//! Microsoft Graph as the Entra connector uses it: an app-only token by
//! client credentials from `{login_base_url}/{tid}/oauth2/v2.0/token`
//! (scope `{graph_base_url}/.default`, cached until shortly before it
//! expires), and a user's groups when the id_token signals an overage
//! (`_claim_names.groups` or `hasgroups`): Entra then leaves the groups out
//! of the token, and a user in 5,000 groups must still sign in.

use std::collections::HashMap;

use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::Config;
use crate::ConnectorError;
use crate::http::{Http, access_token};

/// A token is renewed this many seconds before it expires.
const RENEW_BEFORE: i64 = 120;
/// Pages followed at most for one user's groups (999 a page).
const MAX_PAGES: usize = 100;

/// Graph access for one Entra upstream.
pub struct Graph {
    http: Http,
    login_base_url: String,
    graph_base_url: String,
    client_id: String,
    client_secret: String,
    /// App-only tokens by Entra tenant (`tid`): token and expiry.
    tokens: Mutex<HashMap<String, (String, i64)>>,
}

fn text<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c str> {
    claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Whether `s` is safe as one path segment of a Graph URL.
fn is_plain_segment(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Graph {
    /// Graph access with the upstream's credentials and hosts.
    pub fn new(http: Http, config: &Config) -> Self {
        Self {
            http,
            login_base_url: config.login_base_url.clone(),
            graph_base_url: config.graph_base_url.clone(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP client Graph calls go through.
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// An app-only Graph token for directory `tid`.
    pub async fn token(&self, tid: &str, now: i64) -> Result<String, ConnectorError> {
        if !is_plain_segment(tid) {
            return Err(ConnectorError::Rejected("the tenant id is malformed".into()));
        }
        if let Some((token, expires)) = self.tokens.lock().await.get(tid)
            && *expires - RENEW_BEFORE > now
        {
            return Ok(token.clone());
        }
        let url = format!("{}/{tid}/oauth2/v2.0/token", self.login_base_url);
        let scope = format!("{}/.default", self.graph_base_url);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
            ("scope", scope.as_str()),
        ];
        let (status, body) = self.http.json(self.http.client().post(&url).form(&form), "Graph token").await?;
        let (token, lifetime) = access_token(status, &body, "Graph token")?;
        self.tokens.lock().await.insert(tid.to_owned(), (token.clone(), now + lifetime));
        Ok(token)
    }

    /// The user's groups: from the token when it lists them, else (overage)
    /// every group the user is a transitive member of, page by page.
    pub async fn groups_of(&self, claims: &Map<String, Value>, now: i64) -> Result<Vec<String>, ConnectorError> {
        let overage = claims.get("_claim_names").and_then(|n| n.get("groups")).is_some()
            || claims.get("hasgroups") == Some(&Value::Bool(true));
        if !overage {
            return Ok(match claims.get("groups") {
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                _ => Vec::new(),
            });
        }
        let (Some(tid), Some(oid)) = (text(claims, "tid"), text(claims, "oid")) else {
            return Err(ConnectorError::Rejected("a groups overage without tid and oid".into()));
        };
        if !is_plain_segment(oid) {
            return Err(ConnectorError::Rejected("the object id is malformed".into()));
        }
        let token = self.token(tid, now).await?;
        let mut url = format!(
            "{}/v1.0/users/{oid}/transitiveMemberOf/microsoft.graph.group?$select=id&$top=999",
            self.graph_base_url
        );
        let mut groups = Vec::new();
        for _ in 0..MAX_PAGES {
            let request = self.http.client().get(&url).bearer_auth(&token);
            let (status, page) = self.http.json(request, "Graph groups").await?;
            if !status.is_success() {
                return Err(ConnectorError::Unreachable(format!("Graph groups: answered {status}")));
            }
            if let Some(items) = page.get("value").and_then(Value::as_array) {
                groups.extend(items.iter().filter_map(|g| g.get("id")).filter_map(Value::as_str).map(str::to_owned));
            }
            match page.get("@odata.nextLink").and_then(Value::as_str) {
                // The token goes to the configured Graph host only.
                Some(next) if next.starts_with(&format!("{}/", self.graph_base_url)) => url = next.to_owned(),
                Some(_) => return Err(ConnectorError::Rejected("Graph paged to another host".into())),
                None => return Ok(groups),
            }
        }
        Err(ConnectorError::Unreachable("Graph groups: too many pages".into()))
    }
}
