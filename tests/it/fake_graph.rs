//! A local Microsoft Graph for directory-sync tests (nobody can reach
//! Microsoft's from here), speaking Graph's documented wire format: the
//! client-credentials token endpoint `/{tenant}/oauth2/v2.0/token`, and
//! `/v1.0/users/delta` and `/v1.0/groups/delta` with `$select`,
//! `@odata.nextLink` (`$skiptoken`) paging, `@odata.deltaLink`
//! (`$deltatoken`), `@removed` (`changed`, `deleted`), `members@delta` (a
//! group's members split over several pages on the first round, only the
//! changes afterwards), `429` with `Retry-After` and `410 Gone` on demand.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

#[derive(Default)]
pub struct FakeGroup {
    pub name: String,
    pub description: Option<String>,
    /// (`user` or `group`, object id)
    pub members: BTreeSet<(String, String)>,
}

enum Change {
    User(String),
    Group(String),
    Member { group: String, kind: String, id: String },
}

#[derive(Default)]
pub struct Directory {
    pub tenant: String,
    pub users: BTreeMap<String, Value>,
    pub groups: BTreeMap<String, FakeGroup>,
    /// Why a user is gone (`deleted`, or `changed`: soft-deleted / out of scope).
    removed_users: BTreeMap<String, String>,
    removed_groups: BTreeSet<String>,
    log: Vec<(u64, Change)>,
    seq: u64,
    /// Items per page.
    pub page_size: usize,
    /// How many of the next Graph calls answer 429 (Retry-After: 1).
    pub throttle: u32,
    /// When each 429 was sent, and the time of every Graph call.
    pub throttled_at: Vec<Instant>,
    pub calls: Vec<(Instant, String)>,
    /// Delta tokens older than this answer 410 Gone.
    pub oldest_token: u64,
    tokens: HashSet<String>,
}

impl Directory {
    fn bump(&mut self, change: Change) {
        self.seq += 1;
        self.log.push((self.seq, change));
    }
    pub fn put_user(&mut self, oid: &str, user: Value) {
        let mut user = user;
        user["id"] = json!(oid);
        self.users.insert(oid.into(), user);
        self.removed_users.remove(oid);
        self.bump(Change::User(oid.into()));
    }
    pub fn patch_user(&mut self, oid: &str, patch: Value) {
        let user = self.users.get_mut(oid).unwrap();
        for (k, v) in patch.as_object().unwrap() {
            user[k] = v.clone();
        }
        self.bump(Change::User(oid.into()));
    }
    /// `reason` `deleted`, or `changed` (soft-deleted, restorable for 30 days).
    pub fn remove_user(&mut self, oid: &str, reason: &str) {
        self.users.remove(oid);
        self.removed_users.insert(oid.into(), reason.into());
        self.bump(Change::User(oid.into()));
        let groups: Vec<String> = self.groups.keys().cloned().collect();
        for g in groups {
            self.remove_member(&g, "user", oid);
        }
    }
    pub fn put_group(&mut self, gid: &str, name: &str) {
        let g = self.groups.entry(gid.into()).or_default();
        g.name = name.into();
        self.bump(Change::Group(gid.into()));
    }
    pub fn add_member(&mut self, gid: &str, kind: &str, id: &str) {
        if self.groups.get_mut(gid).unwrap().members.insert((kind.into(), id.into())) {
            self.bump(Change::Member { group: gid.into(), kind: kind.into(), id: id.into() });
        }
    }
    pub fn remove_member(&mut self, gid: &str, kind: &str, id: &str) {
        if self.groups.get_mut(gid).unwrap().members.remove(&(kind.to_owned(), id.to_owned())) {
            self.bump(Change::Member { group: gid.into(), kind: kind.into(), id: id.into() });
        }
    }
    pub fn delete_group(&mut self, gid: &str) {
        self.groups.remove(gid);
        self.removed_groups.insert(gid.into());
        self.bump(Change::Group(gid.into()));
    }
    /// Every delta link handed out so far stops working (410 Gone).
    pub fn expire_delta_links(&mut self) {
        self.oldest_token = self.seq + 1;
    }

    fn user_item(&self, oid: &str, select: &[String]) -> Value {
        match self.users.get(oid) {
            Some(u) => {
                let mut item = json!({"id": oid});
                for f in select {
                    if let Some(v) = u.get(f) {
                        item[f] = v.clone();
                    }
                }
                item
            }
            None => {
                json!({"id": oid, "@removed": {"reason": self.removed_users.get(oid).cloned().unwrap_or("deleted".into())}})
            }
        }
    }

    fn member_ref(kind: &str, id: &str) -> Value {
        json!({"@odata.type": format!("#microsoft.graph.{kind}"), "id": id})
    }

    /// The items of a round: everything (`since` None) or what changed after `since`.
    fn users_round(&self, since: Option<u64>, select: &[String]) -> Vec<Value> {
        match since {
            None => self.users.keys().map(|oid| self.user_item(oid, select)).collect(),
            Some(s) => {
                let mut seen = BTreeSet::new();
                for (n, c) in &self.log {
                    if let (true, Change::User(oid)) = (*n > s, c) {
                        seen.insert(oid.clone());
                    }
                }
                seen.iter().map(|oid| self.user_item(oid, select)).collect()
            }
        }
    }

    /// Group fragments: a group's members are split over page-size chunks.
    fn groups_round(&self, since: Option<u64>) -> Vec<Value> {
        let mut out = Vec::new();
        let head = |gid: &str, g: &FakeGroup| json!({"id": gid, "displayName": g.name, "description": g.description});
        match since {
            None => {
                for (gid, g) in &self.groups {
                    let members: Vec<Value> = g.members.iter().map(|(k, id)| Self::member_ref(k, id)).collect();
                    if members.is_empty() {
                        let mut item = head(gid, g);
                        item["members@delta"] = json!([]);
                        out.push(item);
                    }
                    for chunk in members.chunks(self.page_size.max(1)) {
                        let mut item = head(gid, g);
                        item["members@delta"] = json!(chunk);
                        out.push(item);
                    }
                }
            }
            Some(s) => {
                let mut changed: BTreeMap<String, BTreeMap<(String, String), ()>> = BTreeMap::new();
                for (_, c) in self.log.iter().filter(|(n, _)| *n > s) {
                    match c {
                        Change::Group(gid) => {
                            changed.entry(gid.clone()).or_default();
                        }
                        Change::Member { group, kind, id } => {
                            changed.entry(group.clone()).or_default().insert((kind.clone(), id.clone()), ());
                        }
                        Change::User(_) => {}
                    }
                }
                for (gid, members) in changed {
                    match self.groups.get(&gid) {
                        None => out.push(json!({"id": gid, "@removed": {"reason": "deleted"}})),
                        Some(g) => {
                            let mut item = head(&gid, g);
                            let refs: Vec<Value> = members
                                .keys()
                                .map(|(k, id)| {
                                    let mut r = Self::member_ref(k, id);
                                    if !g.members.contains(&(k.clone(), id.clone())) {
                                        r["@removed"] = json!({"reason": "deleted"});
                                    }
                                    r
                                })
                                .collect();
                            item["members@delta"] = json!(refs);
                            out.push(item);
                        }
                    }
                }
            }
        }
        out
    }
}

#[derive(Clone)]
struct Shared {
    dir: Arc<Mutex<Directory>>,
    base: String,
    client_id: String,
    client_secret: String,
}

pub struct FakeGraph {
    pub base: String,
    pub dir: Arc<Mutex<Directory>>,
    pub client_id: String,
    pub client_secret: String,
}

impl FakeGraph {
    pub async fn start(tenant: &str) -> FakeGraph {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let dir = Arc::new(Mutex::new(Directory { tenant: tenant.into(), page_size: 3, ..Default::default() }));
        let shared = Shared {
            dir: dir.clone(),
            base: base.clone(),
            client_id: "sync-app".into(),
            client_secret: "sync-secret".into(),
        };
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/v1.0/users/delta", get(users_delta))
            .route("/v1.0/groups/delta", get(groups_delta))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGraph { base, dir, client_id: shared.client_id, client_secret: shared.client_secret }
    }
}

async fn token(
    State(s): State<Shared>,
    Path(tenant): Path<String>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let mut d = s.dir.lock().unwrap();
    let ok = tenant == d.tenant
        && f.get("grant_type").map(String::as_str) == Some("client_credentials")
        && f.get("client_id") == Some(&s.client_id)
        && f.get("client_secret") == Some(&s.client_secret)
        && f.get("scope") == Some(&format!("{}/.default", s.base));
    if !ok {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
    }
    let t = format!("graph-{}", d.tokens.len() + 1);
    d.tokens.insert(t.clone());
    Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": t})).into_response()
}

/// Bearer check, call log, and the 429s asked for.
fn gate(d: &mut Directory, headers: &HeaderMap, what: &str) -> Option<Response> {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| d.tokens.contains(t)) {
        return Some(
            (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": "InvalidAuthenticationToken"}}))).into_response(),
        );
    }
    d.calls.push((Instant::now(), what.into()));
    if d.throttle > 0 {
        d.throttle -= 1;
        d.throttled_at.push(Instant::now());
        let body = Json(json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}}));
        return Some((StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], body).into_response());
    }
    None
}

/// `$skiptoken` = `{since or -}.{round token}.{offset}`.
fn page(
    base: &str,
    path: &str,
    items: Vec<Value>,
    since: Option<u64>,
    round: u64,
    offset: usize,
    size: usize,
) -> Response {
    let end = (offset + size).min(items.len());
    let mut body = json!({"@odata.context": format!("{base}/v1.0/$metadata"), "value": items[offset.min(end)..end]});
    if end < items.len() {
        let since = since.map(|s| s.to_string()).unwrap_or("-".into());
        body["@odata.nextLink"] = json!(format!("{base}/v1.0/{path}?$skiptoken={since}.{round}.{end}"));
    } else {
        body["@odata.deltaLink"] = json!(format!("{base}/v1.0/{path}?$deltatoken={round}"));
    }
    Json(body).into_response()
}

/// The round a request continues: (since, round token, offset), or a 410.
#[allow(clippy::result_large_err)]
fn round_of(d: &Directory, q: &BTreeMap<String, String>) -> Result<(Option<u64>, u64, usize), Response> {
    if let Some(skip) = q.get("$skiptoken") {
        let parts: Vec<&str> = skip.split('.').collect();
        let since = parts[0].parse().ok();
        return Ok((since, parts[1].parse().unwrap(), parts[2].parse().unwrap()));
    }
    if let Some(token) = q.get("$deltatoken") {
        let since: u64 = token.parse().unwrap();
        if since < d.oldest_token {
            let body = Json(json!({"error": {"code": "syncStateNotFound", "message": "Resync required."}}));
            return Err((StatusCode::GONE, body).into_response());
        }
        return Ok((Some(since), d.seq, 0));
    }
    Ok((None, d.seq, 0))
}

async fn users_delta(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut d = s.dir.lock().unwrap();
    if let Some(r) = gate(&mut d, &headers, "users") {
        return r;
    }
    let (since, round, offset) = match round_of(&d, &q) {
        Ok(r) => r,
        Err(r) => return r,
    };
    // Graph keeps the first request's $select in its links; so does this fake.
    let select: Vec<String> = [
        "userPrincipalName",
        "mail",
        "givenName",
        "surname",
        "displayName",
        "jobTitle",
        "department",
        "companyName",
        "employeeId",
        "officeLocation",
        "accountEnabled",
    ]
    .map(String::from)
    .to_vec();
    let items = d.users_round(since, &select);
    page(&s.base, "users/delta", items, since, round, offset, d.page_size)
}

async fn groups_delta(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut d = s.dir.lock().unwrap();
    if let Some(r) = gate(&mut d, &headers, "groups") {
        return r;
    }
    let (since, round, offset) = match round_of(&d, &q) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let items = d.groups_round(since);
    page(&s.base, "groups/delta", items, since, round, offset, d.page_size)
}
