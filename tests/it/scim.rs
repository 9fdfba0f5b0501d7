//! The SCIM server driven over HTTP the way Entra ID and Okta provisioning
//! do, on both databases.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::support::TestServer;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM client of one tenant, as provisioning clients call the server.
pub struct Scim<'a> {
    pub s: &'a TestServer,
    pub base: String,
    pub token: String,
}

/// One SCIM answer.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl Scim<'_> {
    /// Sends a request; every answer with a body is `application/scim+json`.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, if_match: Option<&str>) -> Answer {
        let mut req = self.s.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        if status != StatusCode::NO_CONTENT {
            assert_eq!(r.headers()["content-type"], "application/scim+json", "{path}");
        }
        let header = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let (etag, location) = (header("etag"), header("location"));
        let text = r.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        Answer { status, body, etag, location }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        let a = self.send(method, path, body, if_match).await;
        (a.status, a.body, a.etag)
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.call(Method::GET, path, None, None).await;
        (s, v)
    }
}

/// A partner and tenant `slug`, and a SCIM client with a SCIM token of it.
pub async fn setup<'a>(s: &'a TestServer, slug: &str) -> (Scim<'a>, Value) {
    let (_, tenant) = s.partner_and_tenant(slug).await;
    let token = s.create("/scim-tokens", json!({"tenant_id": tenant["id"], "name": "Entra"})).await;
    let scim = Scim {
        s,
        base: format!("{}/scim/v2/tenants/{slug}", s.base),
        token: token["token"].as_str().unwrap().to_owned(),
    };
    (scim, tenant)
}

fn entra_user(name: &str, external: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": external, "userName": name, "active": true, "displayName": "Ada Lovelace",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": true, "type": "work", "value": name}],
        "title": "Countess",
        ENTERPRISE: {"department": "R&D", "employeeNumber": "1815"}
    })
}

async fn users_lifecycle(s: TestServer) {
    let (scim, _tenant) = setup(&s, "prov").await;
    // Entra's test-connection probe: a filter that matches nothing.
    let (status, v) = scim.get("/Users?filter=userName+eq+%22a0b1c2d3-0000-4000-8000-000000000000%22").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["totalResults"], 0);
    assert_eq!(v["Resources"], json!([]));

    let (status, ada, etag) = scim.call(Method::POST, "/Users", Some(entra_user("ada@prov.test", "e-ada")), None).await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    let id = ada["id"].as_str().unwrap().to_owned();
    assert_eq!(etag.as_deref(), ada["meta"]["version"].as_str());
    assert_eq!(ada["meta"]["location"], format!("{}/Users/{id}", scim.base));
    assert_eq!(ada[ENTERPRISE]["department"], "R&D");
    let (status, dup, _) = scim.call(Method::POST, "/Users", Some(entra_user("ADA@prov.test", "e-2")), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(dup["scimType"], "uniqueness");
    assert_eq!(dup["status"], "409");
    let (_, grace, _) = scim.call(Method::POST, "/Users", Some(entra_user("grace@other.test", "e-grace")), None).await;

    // Filters compile to SQL on both databases.
    for (filter, expected) in [
        ("userName eq \"ADA@PROV.TEST\"", 1),
        ("externalId eq \"e-grace\"", 1),
        ("emails co \"@prov.\"", 1),
        ("emails[type eq \"work\" and value ew \"other.test\"]", 1),
        ("name.givenName sw \"A\" and not (userName eq \"ada@prov.test\")", 1),
        ("active eq true", 2),
        ("userName pr", 2),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"r&d\"", 2),
        ("meta.created gt \"2000-01-01T00:00:00Z\"", 2),
    ] {
        let q = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>();
        let (status, v) = scim.get(&format!("/Users?filter={q}")).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {v}");
        assert_eq!(v["totalResults"], expected, "{filter}");
    }
    let (status, v) = scim.get("/Users?filter=password+eq+%22x%22").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["scimType"], "invalidFilter");
    let (status, v) = scim.get("/Users?filter=userName+eq").await;
    assert_eq!((status, v["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidFilter")));

    // Sorting, paging, projection.
    let (_, v) = scim.get("/Users?sortBy=userName&sortOrder=descending&startIndex=1&count=1").await;
    assert_eq!(v["totalResults"], 2);
    assert_eq!(v["itemsPerPage"], 1);
    assert_eq!(v["Resources"][0]["userName"], "grace@other.test");
    let (_, v) = scim.get("/Users?sortBy=userName&startIndex=2&count=10&attributes=userName").await;
    assert_eq!(v["Resources"][0]["userName"], "grace@other.test");
    assert!(v["Resources"][0].get("emails").is_none());
    assert!(v["Resources"][0].get("id").is_some());
    let (_, v) = scim.get(&format!("/Users/{id}?excludedAttributes=emails,name")).await;
    assert!(v.get("emails").is_none() && v.get("name").is_none() && v.get("userName").is_some());
    let (status, v, _) = scim.call(Method::POST, "/Users/.search", Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"ada@prov.test\"", "startIndex": 1, "count": "5"})), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["totalResults"], 1);

    // Entra PATCH shapes.
    let patch = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": grace["id"]},
        {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "ada@home.test"},
        {"op": "Replace", "path": "title", "value": "Analyst"}
    ]});
    let (status, v, etag2) = scim.call(Method::PATCH, &format!("/Users/{id}"), Some(patch), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["active"], false);
    assert_eq!(v[ENTERPRISE]["manager"]["value"], grace["id"]);
    assert_eq!(v["title"], "Analyst");
    assert!(
        v["emails"].as_array().unwrap().iter().any(|e| e["value"] == "ada@home.test" && e["type"] == "home"),
        "{v}"
    );
    assert_ne!(etag, etag2);
    // Disabled users are still found.
    let (_, found) = scim.get("/Users?filter=userName+eq+%22ada@prov.test%22").await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["active"], false);

    // If-Match: a stale version is refused, the current one accepted.
    let okta = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": true}}]});
    let (status, v, _) = scim.call(Method::PATCH, &format!("/Users/{id}"), Some(okta.clone()), etag.as_deref()).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{v}");
    let (status, v, _) = scim.call(Method::PATCH, &format!("/Users/{id}"), Some(okta), etag2.as_deref()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["active"], true);
    assert_eq!(v["title"], "Analyst", "a path-less replace keeps what it does not name");

    // PUT replaces everything; read-only attributes are ignored; passwords are accepted, never returned.
    let mut put = entra_user("ada@prov.test", "e-ada");
    put["id"] = json!("usr_bogus");
    put["password"] = json!("a brand new password");
    put["groups"] = json!([{"value": "grp_x"}]);
    put.as_object_mut().unwrap().remove("title");
    let (status, v, _) = scim.call(Method::PUT, &format!("/Users/{id}"), Some(put), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["id"], id.as_str());
    assert!(v.get("title").is_none());
    assert!(v.get("password").is_none());

    // Delete.
    let (status, _, _) = scim.call(Method::DELETE, &format!("/Users/{id}"), None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, v) = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["status"], "404");

    // SCIM writes are audited and land in the change-event log.
    let (_, audit) = s.admin(Method::GET, "/audit-events?action=user.update", None).await;
    assert!(audit["data"].as_array().unwrap().iter().any(|a| a["actor_type"] == "scim_token"));
}
both!(users_lifecycle);

async fn groups_and_bulk(s: TestServer) {
    let (scim, _) = setup(&s, "groups").await;
    let (_, a, _) = scim.call(Method::POST, "/Users", Some(entra_user("a@groups.test", "a")), None).await;
    let (_, b, _) = scim.call(Method::POST, "/Users", Some(entra_user("b@groups.test", "b")), None).await;
    let (status, g, _) = scim
        .call(Method::POST, "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "externalId": "g-1", "members": [{"value": a["id"]}]})), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
    // Entra: add a member, 204.
    let add =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": [{"value": b["id"]}]}]});
    let (status, _, etag) = scim.call(Method::PATCH, &format!("/Groups/{gid}"), Some(add), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(etag.is_some());
    let (_, v) = scim.get(&format!("/Users/{}", a["id"].as_str().unwrap())).await;
    assert_eq!(v["groups"][0]["value"], gid.as_str());
    assert_eq!(v["groups"][0]["type"], "direct");
    // Okta: rename with a path-less replace that has no members keeps the members.
    let rename =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "Eng"}}]});
    let (status, _, _) = scim.call(Method::PATCH, &format!("/Groups/{gid}"), Some(rename), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, v) = scim.get(&format!("/Groups/{gid}")).await;
    assert_eq!(v["displayName"], "Eng");
    assert_eq!(v["members"].as_array().unwrap().len(), 2);
    // Entra removes members both ways.
    let rm1 = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": a["id"]}]}]});
    let (status, _, _) = scim.call(Method::PATCH, &format!("/Groups/{gid}"), Some(rm1), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let rm2 = json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", b["id"].as_str().unwrap())}]});
    let (status, _, _) = scim.call(Method::PATCH, &format!("/Groups/{gid}"), Some(rm2), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, v) = scim.get(&format!("/Groups/{gid}")).await;
    assert_eq!(v["members"], json!([]));
    let (_, v) = scim.get("/Groups?filter=displayName+eq+%22eng%22").await;
    assert_eq!(v["totalResults"], 1);
    let (status, v, _) = scim.call(Method::POST, "/Groups", Some(json!({"displayName": "ENG"})), None).await;
    assert_eq!((status, v["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")));

    // Bulk with a bulkId reference from a group to a user created in the same request.
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": 5, "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "Bulk", "members": [{"value": "bulkId:u"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": entra_user("c@groups.test", "c")},
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": entra_user("c@groups.test", "c2")}
    ]});
    let (status, v, _) = scim.call(Method::POST, "/Bulk", Some(bulk), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let ops = v["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["status"], "201", "{v}");
    assert_eq!(ops[1]["status"], "201");
    assert_eq!(ops[2]["status"], "409");
    let gloc = ops[0]["location"].as_str().unwrap();
    let (_, g) = scim.get(&gloc[scim.base.len()..]).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 1);

    // Discovery.
    let (_, spc) = scim.get("/ServiceProviderConfig").await;
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 200);
    let (_, rts) = scim.get("/ResourceTypes").await;
    assert_eq!(rts["totalResults"], 2);
    let (_, schemas) = scim.get("/Schemas").await;
    assert_eq!(schemas["totalResults"], 4);
    let (status, _) = scim.get(&format!("/Schemas/{USER}")).await;
    assert_eq!(status, StatusCode::OK);
}
both!(groups_and_bulk);

async fn scim_auth_and_limits(s: TestServer) {
    let (scim, tenant) = setup(&s, "authz").await;
    let (other, _) = setup(&s, "otherscim").await;
    // No token, a garbage token, another tenant's token.
    let r = s.http.get(format!("{}/Users", scim.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    let foreign = Scim { s: &s, base: scim.base.clone(), token: other.token.clone() };
    let (status, _) = foreign.get("/Users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Access tokens with scim:read may read, not write.
    let app = s
        .create("/applications", json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "SERVICE", "name": "hr", "allowed_scopes": ["scim:read"]}))
        .await;
    let at = s
        .client_token(
            &format!("{}/api/v1/auth/tenants/authz", s.base),
            app["client_id"].as_str().unwrap(),
            app["client_secret"].as_str().unwrap(),
            None,
        )
        .await;
    let reader = Scim { s: &s, base: scim.base.clone(), token: at };
    let (status, _) = reader.get("/Users").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = reader.call(Method::POST, "/Users", Some(entra_user("x@authz.test", "x")), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Malformed bodies.
    let r = s
        .http
        .post(format!("{}/Users", scim.base))
        .bearer_auth(&scim.token)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["scimType"], "invalidSyntax");
    // Partner limits apply.
    s.admin(
        Method::PATCH,
        &format!("/partners/{}", tenant["partner_id"].as_str().unwrap()),
        Some(json!({"limits": {"max_users_per_tenant": 1}})),
    )
    .await;
    let (status, _, _) = scim.call(Method::POST, "/Users", Some(entra_user("one@authz.test", "1")), None).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, v, _) = scim.call(Method::POST, "/Users", Some(entra_user("two@authz.test", "2")), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("limit"));
}
both!(scim_auth_and_limits);
