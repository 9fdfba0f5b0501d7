//! Every admin resource over HTTP: create, read, list, change, delete, and
//! the audit and change events each write leaves behind.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use scaikey::domain::audit::ChangeEvent;
use scaikey::domain::idp::IdentityProvider;
use scaikey::domain::user::User;
use scaikey::store::{Arg, PageRequest, Scope};

use crate::both;
use crate::support::TestServer;

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn change_events(s: &TestServer, tenant_id: &str) -> Vec<String> {
    let mut tx = s.svc.store.read(Scope::Platform).await.unwrap();
    let page = tx
        .list::<ChangeEvent>(vec![("tenant_id", Arg::from(tenant_id))], &PageRequest { limit: 500, after: None })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    page.items.into_iter().map(|e| e.kind).collect()
}

async fn crud_of_every_resource(s: TestServer) {
    let (partner, tenant) = s.partner_and_tenant("acme").await;
    let tid = id(&tenant);

    // Partners and tenants.
    let (status, v) = s
        .admin(Method::PATCH, &format!("/partners/{}", id(&partner)), Some(json!({"limits": {"max_tenants": 5}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["limits"]["max_tenants"], 5);
    let (_, v) = s
        .admin(Method::PATCH, &format!("/tenants/{tid}"), Some(json!({"settings": {"mfa_policy": "required", "lockout": {"threshold": 3, "duration": 60}}, "branding": {"primary_color": "#0a0b0c"}})))
        .await;
    assert_eq!(v["data"]["settings"]["mfa_policy"], "required");
    assert_eq!(v["data"]["branding"]["primary_color"], "#0a0b0c");
    assert_eq!(v["data"]["slug"], "acme");

    // OUs as a tree.
    let root = s.create("/organizational-units", json!({"tenant_id": tid, "name": "Europe"})).await;
    let child =
        s.create("/organizational-units", json!({"tenant_id": tid, "name": "NL", "parent_id": id(&root)})).await;
    let (status, v) = s
        .admin(Method::PATCH, &format!("/organizational-units/{}", id(&root)), Some(json!({"parent_id": id(&child)})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "moving a unit under its own child: {v}");

    // Users with the AD attribute set and a password.
    let ada = s
        .create(
            "/users",
            json!({"tenant_id": tid, "user_name": "ada@acme.test", "email": "ada@acme.test", "given_name": "Ada",
                   "family_name": "Lovelace", "display_name": "Ada Lovelace", "department": "R&D",
                   "sam_account_name": "ada", "employee_id": "1815", "ou_id": id(&child),
                   "phone_numbers": [{"value": "+31 20 123", "type": "work", "primary": true}],
                   "custom_attributes": {"badge": 7}, "password": "a long enough password"}),
        )
        .await;
    assert!(ada.get("password").is_none() && ada.get("password_hash").is_none(), "{ada}");
    assert_eq!(ada["status"], "active");
    let grace =
        s.create("/users", json!({"tenant_id": tid, "user_name": "grace@acme.test", "manager_id": id(&ada)})).await;
    let (_, got) = s.admin(Method::GET, &format!("/users/{}", id(&ada)), None).await;
    assert_eq!(got["data"]["identities"], json!([]));
    assert_eq!(got["data"]["phone_numbers"][0]["type"], "work");
    // The stored password is an argon2id hash.
    let mut tx = s.svc.store.read(Scope::Platform).await.unwrap();
    let stored: User = tx.get(&id(&ada)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(stored.password_hash.unwrap().starts_with("$argon2id$"));
    let (_, v) = s
        .admin(Method::PATCH, &format!("/users/{}", id(&grace)), Some(json!({"status": "suspended", "title": null})))
        .await;
    assert_eq!(v["data"]["status"], "suspended");
    let (_, list) = s.admin(Method::GET, &format!("/users?tenant_id={tid}&status=suspended"), None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    // User names and emails are found whatever their case, in the tenant and across tenants.
    for query in ["user_name=ADA@Acme.Test", "email=Ada@ACME.test"] {
        for scope in [format!("tenant_id={tid}&"), String::new()] {
            let (_, list) = s.admin(Method::GET, &format!("/users?{scope}{query}"), None).await;
            let found: Vec<_> = list["data"].as_array().unwrap().iter().map(|u| u["id"].clone()).collect();
            assert_eq!(found, vec![ada["id"].clone()], "{scope}{query}: {list}");
        }
    }

    // Groups, nesting and members.
    let eng = s.create("/groups", json!({"tenant_id": tid, "name": "engineering"})).await;
    let all = s.create("/groups", json!({"tenant_id": tid, "name": "everyone"})).await;
    s.create(&format!("/groups/{}/members", id(&eng)), json!({"user_id": id(&ada)})).await;
    s.create(&format!("/groups/{}/members", id(&all)), json!({"group_id": id(&eng)})).await;
    let (status, v) =
        s.admin(Method::POST, &format!("/groups/{}/members", id(&eng)), Some(json!({"group_id": id(&all)}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "group.cycle");
    let (_, members) = s.admin(Method::GET, &format!("/groups/{}/members", id(&all)), None).await;
    assert_eq!(members["data"][0]["member_id"], id(&eng).as_str());
    assert_eq!(members["data"][0]["type"], "group");
    let mut tx = s.svc.store.read(Scope::Tenant(tid.clone())).await.unwrap();
    let mut transitive = tx.transitive_groups_of_user(&id(&ada)).await.unwrap();
    tx.commit().await.unwrap();
    transitive.sort();
    let mut expected = vec![id(&eng), id(&all)];
    expected.sort();
    assert_eq!(transitive, expected);
    let (status, _) = s.admin(Method::DELETE, &format!("/groups/{}/members/{}", id(&all), id(&eng)), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Applications.
    let wiki = s
        .create(
            "/applications",
            json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": "Wiki",
                   "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": ["https://wiki.acme.test/cb"],
                   "logout_uris": [], "allowed_origins": ["https://wiki.acme.test"],
                   "allowed_scopes": ["openid", "profile", "email", "groups", "offline_access"],
                   "token_lifetime": 3600, "refresh_token_lifetime": 2592000, "token_signing_alg": "RS256",
                   "token_exchange_allowed": false, "sync_webhook_url": null, "assigned_users": [], "assigned_groups": [id(&eng)]}),
        )
        .await;
    assert_eq!(wiki["client_id"].as_str().unwrap().len(), 32);
    assert!(wiki["client_secret"].as_str().unwrap().starts_with("sks_"));
    let (_, got) = s.admin(Method::GET, &format!("/applications/{}", id(&wiki)), None).await;
    assert!(got["data"].get("client_secret").is_none(), "the secret is shown only once");
    let (_, v) = s
        .admin(
            Method::PATCH,
            &format!("/applications/{}", id(&wiki)),
            Some(json!({"redirect_uris": ["https://wiki.acme.test/cb", "https://wiki.acme.test/cb2"]})),
        )
        .await;
    assert_eq!(v["data"]["redirect_uris"].as_array().unwrap().len(), 2);

    // Identity providers: secrets sealed at rest and redacted in the API.
    let idp = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tid, "type": "oidc", "name": "Corporate Okta", "domains": ["acme.test"],
                   "config": {"issuer": "https://okta.acme.test", "client_id": "abc", "client_secret": "super-secret-value", "scopes": ["openid", "email", "profile"]},
                   "jit_provisioning": true, "attribute_mapping": {"email": "email", "display_name": "name"}, "sync_schedule": null}),
        )
        .await;
    assert_eq!(idp["config"]["client_secret"], "********");
    let mut tx = s.svc.store.read(Scope::Platform).await.unwrap();
    let stored: IdentityProvider = tx.get(&id(&idp)).await.unwrap();
    tx.commit().await.unwrap();
    let sealed = stored.config["client_secret"].as_str().unwrap();
    assert!(sealed.starts_with("v1.") && !sealed.contains("super-secret"));
    assert_eq!(
        scaikey::federation::secrets::open_secret(s.svc.keys.sealer(), &stored, "client_secret").as_deref(),
        Some("super-secret-value")
    );
    // A PATCH without the secret keeps it while the upstream stays where it was…
    let (status, v) = s
        .admin(
            Method::PATCH,
            &format!("/identity-providers/{}", id(&idp)),
            Some(json!({"config": {"issuer": "https://okta.acme.test", "client_id": "abc2"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // …but a new host needs the secret again, so a stored one never goes elsewhere.
    let (status, v) = s
        .admin(
            Method::PATCH,
            &format!("/identity-providers/{}", id(&idp)),
            Some(json!({"config": {"issuer": "https://evil.example", "client_id": "abc"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["details"][0]["field"], "config.client_secret", "{v}");
    let (status, v) = s
        .admin(
            Method::PATCH,
            &format!("/identity-providers/{}", id(&idp)),
            Some(json!({"config": {"issuer": "https://okta2.acme.test", "client_id": "abc", "client_secret": "super-secret-value"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // A domain belongs to at most one IdP of a tenant.
    let (status, v) = s
        .admin(
            Method::POST,
            "/identity-providers",
            Some(json!({"tenant_id": tid, "type": "oidc", "name": "Second", "domains": ["ACME.test"],
                        "config": {"issuer": "https://other.acme.test", "client_id": "x", "client_secret": "y"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "identity_provider.domain_taken", "{v}");
    let mut tx = s.svc.store.read(Scope::Platform).await.unwrap();
    let stored: IdentityProvider = tx.get(&id(&idp)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        scaikey::federation::secrets::open_secret(s.svc.keys.sealer(), &stored, "client_secret").as_deref(),
        Some("super-secret-value")
    );
    let (status, v) = s
        .admin(
            Method::POST,
            "/identity-providers",
            Some(json!({"tenant_id": tid, "type": "ldap", "name": "AD", "config": {"url": "http://dc1"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["error"]["details"].as_array().unwrap().iter().any(|d| d["field"] == "config.url"), "{v}");

    // MCP agents, role assignments, SCIM tokens.
    let agent = s
        .create(
            "/mcp-agents",
            json!({"tenant_id": tid, "name": "helper", "user_id": id(&ada), "allowed_scopes": ["api:read"]}),
        )
        .await;
    let (_, v) =
        s.admin(Method::PATCH, &format!("/mcp-agents/{}", id(&agent)), Some(json!({"status": "disabled"}))).await;
    assert_eq!(v["data"]["status"], "disabled");
    let role =
        s.create("/role-assignments", json!({"user_id": id(&ada), "role": "tenant_admin", "tenant_id": tid})).await;
    assert_eq!(role["partner_id"], partner["id"]);
    let (status, _) = s
        .admin(
            Method::POST,
            "/role-assignments",
            Some(json!({"user_id": id(&ada), "role": "tenant_admin", "tenant_id": tid})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let token =
        s.create("/scim-tokens", json!({"tenant_id": tid, "name": "Entra provisioning", "expires_at": null})).await;
    assert!(id(&token).starts_with("sct_"));
    assert!(token["token"].as_str().unwrap().len() > 40);
    let (_, got) = s.admin(Method::GET, &format!("/scim-tokens/{}", id(&token)), None).await;
    assert!(got["data"].get("token").is_none() && got["data"].get("token_hash").is_none());

    // Signing keys and audit events are readable.
    let (_, keys) = s.admin(Method::GET, "/signing-keys", None).await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 3);
    assert!(keys["data"][0].get("private_key_sealed").is_none());
    let (_, audit) = s.admin(Method::GET, &format!("/audit-events?tenant_id={tid}&action=user.create"), None).await;
    assert_eq!(audit["data"].as_array().unwrap().len(), 2);
    assert_eq!(audit["data"][0]["actor_type"], "application");
    assert!(audit["data"][0]["actor_id"].as_str().unwrap().starts_with("app_"));
    assert_eq!(audit["data"][0]["outcome"], "success");
    assert!(audit["data"][0]["request_id"].as_str().is_some_and(|r| !r.is_empty()));

    // Deletes.
    for path in [
        format!("/scim-tokens/{}", id(&token)),
        format!("/role-assignments/{}", id(&role)),
        format!("/mcp-agents/{}", id(&agent)),
        format!("/identity-providers/{}", id(&idp)),
        format!("/applications/{}", id(&wiki)),
        format!("/groups/{}", id(&all)),
        format!("/users/{}", id(&grace)),
    ] {
        let (status, v) = s.admin(Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "DELETE {path}: {v}");
        let (status, _) = s.admin(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path} after delete");
    }
    let (status, v) = s.admin(Method::DELETE, &format!("/partners/{}", id(&partner)), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "partner.has_tenants");

    // The change-event log has the SPEC webhook events, in order.
    let events = change_events(&s, &tid).await;
    for expected in [
        "user.created",
        "user.suspended",
        "group.created",
        "group.member.added",
        "group.member.removed",
        "group.deleted",
        "user.deleted",
    ] {
        assert!(events.iter().any(|e| e == expected), "{expected} in {events:?}");
    }
    assert_eq!(events.first().map(String::as_str), Some("user.created"));
}
both!(crud_of_every_resource);

async fn cursor_pagination(s: TestServer) {
    let (_, tenant) = s.partner_and_tenant("pages").await;
    let tid = id(&tenant);
    for i in 0..5 {
        s.create("/users", json!({"tenant_id": tid, "user_name": format!("u{i}@pages.test")})).await;
    }
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/users?tenant_id={tid}&limit=2&cursor={c}"),
            None => format!("/users?tenant_id={tid}&limit=2"),
        };
        let (status, v) = s.admin(Method::GET, &q, None).await;
        assert_eq!(status, StatusCode::OK);
        names.extend(v["data"].as_array().unwrap().iter().map(|u| u["user_name"].as_str().unwrap().to_owned()));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, (0..5).map(|i| format!("u{i}@pages.test")).collect::<Vec<_>>());
    let (status, v) = s.admin(Method::GET, "/users?limit=201", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["details"][0]["field"], "limit");
    let (status, _) = s.admin(Method::GET, "/users?cursor=***", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
both!(cursor_pagination);
