//! Directory sync and LDAP bind login against a real OpenLDAP `slapd`
//! (tests/peers/ldap: a private cn=config, 10,000 users in nested OUs, 100
//! groups nested three levels and one of 1,500 members): a full run, a
//! delta after adds, modifies, a modrdn, a deletion and a membership change
//! (the deletion found by the delta), suspension, nested membership in
//! tokens, and sign-in through the hosted page with the directory password.
//!
//! Needs Debian's slapd and ldap-utils (`tests/peers/ldap/install.sh`);
//! without them these tests fail, never skip.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::oidc_flow::{Browser, hidden, pkce_pair, query_param};
use crate::support::TestServer;

pub const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/ldap/slapd.py");
pub const REDIRECT_URI: &str = "https://intranet.ldap.test/cb";

/// A private slapd; stopped when dropped.
pub struct Slapd {
    pub info: Value,
    dir: PathBuf,
}

impl Slapd {
    pub fn start(users: usize, groups: usize) -> Slapd {
        Self::start_with(users, groups, false)
    }

    pub fn start_with(users: usize, groups: usize, tls: bool) -> Slapd {
        assert!(
            Path::new("/usr/sbin/slapd").is_file(),
            "OpenLDAP slapd is required: run tests/peers/ldap/install.sh (Debian slapd, ldap-utils)"
        );
        let dir = std::env::temp_dir().join(format!("scaikey-slapd-{}", scaikey::ids::random_base36(10)));
        let out = std::process::Command::new(crate::support::python())
            .args([PEER, "start", "--dir"])
            .arg(&dir)
            .args(["--users", &users.to_string(), "--groups", &groups.to_string()])
            .args(if tls { &["--tls"][..] } else { &[][..] })
            .output()
            .expect("python3 runs tests/peers/ldap/slapd.py");
        assert!(out.status.success(), "slapd did not start: {}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8_lossy(&out.stdout);
        Slapd { info: serde_json::from_str(line.trim()).unwrap(), dir }
    }

    /// Applies LDIF changes as the directory admin.
    pub fn modify(&self, ldif: &str) {
        peer_modify(PEER, &self.dir, ldif);
    }

    pub fn idp_config(&self) -> Value {
        let i = &self.info;
        json!({"url": i["url"], "bind_dn": i["bind_dn"], "bind_password": i["bind_password"], "flavor": "openldap",
               "user_base_dn": i["user_base_dn"], "user_filter": "(objectClass=inetOrgPerson)",
               "group_base_dn": i["group_base_dn"], "login_attribute": "uid", "page_size": 500})
    }
}

/// `python3 <peer> modify --dir <dir>` with `ldif` on stdin (slapd.py and
/// samba_dc.py share the command).
pub fn peer_modify(peer: &str, dir: &Path, ldif: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(crate::support::python())
        .args([peer, "modify", "--dir"])
        .arg(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ldapmodify failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = std::process::Command::new(crate::support::python())
            .args([PEER, "stop", "--remove", "--dir"])
            .arg(&self.dir)
            .output();
    }
}

/// Starts a sync through the admin API and waits for it to end.
pub async fn sync(s: &TestServer, idp_id: &str, mode: &str) -> Value {
    let (status, started) =
        s.admin(Method::POST, &format!("/identity-providers/{idp_id}/sync"), Some(json!({"mode": mode}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let run_id = started["data"]["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (_, run) = s.admin(Method::GET, &format!("/sync-runs/{run_id}"), None).await;
        if run["data"]["status"] != "running" {
            return run["data"].clone();
        }
        assert!(Instant::now() < deadline, "sync {run_id} did not finish: {run}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn user_named(s: &TestServer, tenant_id: &str, name: &str) -> Value {
    let (_, list) = s.admin(Method::GET, &format!("/users?tenant_id={tenant_id}&user_name={name}"), None).await;
    let found = list["data"].as_array().unwrap().iter().find(|u| u["user_name"] == name);
    let id = found.unwrap_or_else(|| panic!("no user {name}: {list}"))["id"].as_str().unwrap().to_owned();
    s.admin(Method::GET, &format!("/users/{id}"), None).await.1["data"].clone()
}

pub async fn group_named(s: &TestServer, tenant_id: &str, name: &str) -> Value {
    let (_, list) = s.admin(Method::GET, &format!("/groups?tenant_id={tenant_id}&name={name}&limit=200"), None).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group {name}"))
        .clone()
}

pub async fn member_count(s: &TestServer, group_id: &str) -> usize {
    let mut count = 0;
    let mut after = String::new();
    loop {
        let (_, page) = s.admin(Method::GET, &format!("/groups/{group_id}/members?limit=200{after}"), None).await;
        count += page["data"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => after = format!("&cursor={c}"),
            None => return count,
        }
    }
}

/// The DN of generated user `i` (tests/peers/ldap/README.md).
fn user_dn(i: usize) -> String {
    let k = (i - 1) % 20;
    let region = ["amer", "emea", "apac", "latam"][k / 5];
    let dept = ["engineering", "sales", "finance", "support", "operations"][k % 5];
    format!("uid=user{i},ou={dept},ou={region},ou=people,dc=example,dc=test")
}

/// Signs in at the hosted page as `username`; returns the ID token's claims or the page.
pub async fn sign_in(
    s: &TestServer,
    issuer: &str,
    app: &Value,
    username: &str,
    password: &str,
) -> Result<Value, String> {
    let mut b = Browser::new();
    let (verifier, challenge) = pkce_pair();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", app["client_id"].as_str().unwrap()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile email groups"),
            ("state", "s"),
            ("nonce", "n"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let r = b.get(&format!("{issuer}/oauth/authorize?{q}")).await;
    let page = b.get(&r.location.unwrap()).await;
    let action = format!("{issuer}/login");
    let req = hidden(&page.body, "request").unwrap();
    let page = b
        .post(
            &action,
            &[("request", &req), ("csrf_token", &hidden(&page.body, "csrf_token").unwrap()), ("username", username)],
        )
        .await;
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    let done = b
        .post(
            &action,
            &[("request", &req), ("csrf_token", &hidden(&page.body, "csrf_token").unwrap()), ("password", password)],
        )
        .await;
    let Some(location) = done.location.filter(|_| done.status == StatusCode::SEE_OTHER) else { return Err(done.body) };
    let code = query_param(&location, "code").unwrap();
    let r = s
        .http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(app["client_id"].as_str().unwrap(), Some(app["client_secret"].as_str().unwrap()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    let tokens: Value = r.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap_or_else(|| panic!("{tokens}"));
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap()).unwrap())
}

async fn openldap_sync_and_bind_login(s: TestServer) {
    let slapd = Slapd::start(10_000, 100);
    let (_, tenant) = s.partner_and_tenant("ldapco").await;
    let tid = tenant["id"].as_str().unwrap().to_owned();
    let idp = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tid, "type": "ldap", "name": "Corporate LDAP",
                                              "domains": ["example.test"], "config": slapd.idp_config()}),
        )
        .await;
    let idp_id = idp["id"].as_str().unwrap();
    let (_, t) = s.admin(Method::POST, &format!("/identity-providers/{idp_id}/test"), None).await;
    assert_eq!(t["data"]["ok"], true, "{t}");

    // Full run.
    let run = sync(&s, idp_id, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["users"]["created"], 10_000, "{run}");
    assert_eq!(run["counts"]["groups"]["created"], 101, "{run}");
    let user42 = user_named(&s, &tid, "user42").await;
    assert_eq!(user42["email"], "user42@example.test");
    assert_eq!(user42["identities"][0]["idp_id"], idp["id"]);
    let big = group_named(&s, &tid, "everyone-big").await;
    assert_eq!(member_count(&s, big["id"].as_str().unwrap()).await, 1500);
    let (g1, g2) = (group_named(&s, &tid, "group1").await, group_named(&s, &tid, "group2").await);
    let (_, members) =
        s.admin(Method::GET, &format!("/groups/{}/members?limit=200", g1["id"].as_str().unwrap()), None).await;
    assert!(members["data"].as_array().unwrap().iter().any(|m| m["member_id"] == g2["id"]), "nested: {members}");
    let (_, audit) =
        s.admin(Method::GET, &format!("/audit-events?tenant_id={tid}&action=user.create&limit=1"), None).await;
    assert_eq!(audit["data"][0]["actor_type"], "sync", "{audit}");

    // A run with nothing changed upstream writes nothing.
    let again = sync(&s, idp_id, "full").await;
    assert_eq!(again["counts"]["users"]["unchanged"], 10_000, "{again}");
    assert_eq!(again["counts"]["users"]["updated"], 0, "{again}");
    assert_eq!(again["counts"]["groups"]["unchanged"], 101, "{again}");

    // Changes upstream: an add, a modify, a move (modrdn), a deletion.
    let base = "dc=example,dc=test";
    slapd.modify(&format!(
        "dn: uid=newbie,ou=engineering,ou=amer,ou=people,{base}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: newbie\ncn: New Bie\nsn: Bie\ngivenName: New\nmail: newbie@example.test\nuserPassword: newbie-password\n\n\
         dn: {}\nchangetype: modify\nreplace: title\ntitle: Chief Synchronizer\n\n\
         dn: {}\nchangetype: modrdn\nnewrdn: uid=user11\ndeleteoldrdn: 1\nnewsuperior: ou=sales,ou=latam,ou=people,{base}\n\n\
         dn: {}\nchangetype: delete\n\n\
         dn: cn=group1,ou=groups,{base}\nchangetype: modify\nadd: member\nmember: {}\n",
        user_dn(7),
        user_dn(11),
        user_dn(9),
        user_dn(5000)
    ));
    let user11_before = user_named(&s, &tid, "user11").await;
    let delta = sync(&s, idp_id, "delta").await;
    assert_eq!(delta["status"], "succeeded", "{delta}");
    assert_eq!(delta["mode"], "delta");
    assert_eq!(delta["counts"]["users"]["created"], 1, "{delta}");
    assert_eq!(delta["counts"]["users"]["suspended"], 1, "the deletion is found by the delta: {delta}");
    assert!(delta["counts"]["users"]["updated"].as_u64().unwrap() >= 1, "{delta}");
    assert_eq!(user_named(&s, &tid, "user7").await["title"], "Chief Synchronizer");
    assert_eq!(user_named(&s, &tid, "user9").await["status"], "suspended");
    assert_eq!(user_named(&s, &tid, "user11").await["id"], user11_before["id"], "a move keeps the user's id");
    user_named(&s, &tid, "newbie").await;
    // group1 changed (a new member): its nested group2 stays, the new member joins.
    assert!(delta["counts"]["groups"]["updated"].as_u64().unwrap() >= 1, "{delta}");
    let (_, members) =
        s.admin(Method::GET, &format!("/groups/{}/members?limit=200", g1["id"].as_str().unwrap()), None).await;
    let ids: Vec<&str> = members["data"].as_array().unwrap().iter().filter_map(|m| m["member_id"].as_str()).collect();
    assert!(ids.contains(&g2["id"].as_str().unwrap()), "nested group kept after a delta: {members}");
    assert!(ids.contains(&user_named(&s, &tid, "user5000").await["id"].as_str().unwrap()), "{members}");

    // Sign-in with the directory password, by login name and by email (home realm).
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": "Intranet",
                 "grant_types": ["authorization_code"], "redirect_uris": [REDIRECT_URI],
                 "allowed_scopes": ["openid", "profile", "email", "groups"]}),
        )
        .await;
    let issuer = format!("{}/api/v1/auth/tenants/ldapco", s.base);
    let claims = sign_in(&s, &issuer, &app, "user42", "password-42").await.expect("user42 signs in");
    assert_eq!(claims["sub"], user42["id"]);
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(claims["groups"].as_array().unwrap().contains(&big["id"]), "{claims}");
    // Nested membership reaches tokens: a member of group4 is in group2 and group1 too.
    let g4 = group_named(&s, &tid, "group4").await;
    let (_, members) =
        s.admin(Method::GET, &format!("/groups/{}/members?limit=200", g4["id"].as_str().unwrap()), None).await;
    let member = members["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["member_type"] == "user" || m["member_id"].as_str().is_some_and(|id| id.starts_with("usr_")))
        .expect("group4 has users")
        .clone();
    let (_, u) = s.admin(Method::GET, &format!("/users/{}", member["member_id"].as_str().unwrap()), None).await;
    let name = u["data"]["user_name"].as_str().unwrap().to_owned();
    let password = format!("password-{}", name.trim_start_matches("user"));
    let nested = sign_in(&s, &issuer, &app, &name, &password).await.expect("a member of group4 signs in");
    let groups = nested["groups"].as_array().unwrap();
    for g in [&g4, &g2, &g1] {
        assert!(groups.contains(&g["id"]), "{} missing from {nested}", g["name"]);
    }
    // And SCIM: the user's `groups` has group4 as direct, group2 and group1 as
    // indirect (RFC 7643 §4.1.2); group2's `members` lists group4 as a Group.
    let token = s.create("/scim-tokens", json!({"tenant_id": tid, "name": "reader"})).await;
    let scim = |path: String| {
        let req = s.http.get(format!("{}/scim/v2/tenants/ldapco{path}", s.base));
        req.bearer_auth(token["token"].as_str().unwrap()).send()
    };
    let scim_user: Value =
        scim(format!("/Users/{}", nested["sub"].as_str().unwrap())).await.unwrap().json().await.unwrap();
    let kind_of = |g: &Value| {
        let listed = scim_user["groups"].as_array().unwrap().iter().find(|m| m["value"] == g["id"]);
        listed.unwrap_or_else(|| panic!("{} missing from {scim_user}", g["name"]))["type"].clone()
    };
    assert_eq!(kind_of(&g4), "direct");
    assert_eq!((kind_of(&g2), kind_of(&g1)), (json!("indirect"), json!("indirect")));
    let scim_g2: Value = scim(format!("/Groups/{}", g2["id"].as_str().unwrap())).await.unwrap().json().await.unwrap();
    assert!(
        scim_g2["members"].as_array().unwrap().iter().any(|m| m["value"] == g4["id"] && m["type"] == "Group"),
        "{scim_g2}"
    );
    let claims = sign_in(&s, &issuer, &app, "user43@example.test", "password-43").await.expect("by email");
    assert_eq!(claims["preferred_username"], "user43");
    let refused = sign_in(&s, &issuer, &app, "user42", "password-43").await.unwrap_err();
    assert!(refused.contains("incorrect"), "{refused}");
    // A password changed upstream works at once.
    slapd.modify(&format!(
        "dn: {}\nchangetype: modify\nreplace: userPassword\nuserPassword: brand-new-42\n",
        user_dn(42)
    ));
    assert!(sign_in(&s, &issuer, &app, "user42", "password-42").await.is_err());
    sign_in(&s, &issuer, &app, "user42", "brand-new-42").await.expect("the new password works at once");
    // The suspended user cannot sign in even with the right password... their entry is gone upstream.
    assert!(sign_in(&s, &issuer, &app, "user9", "password-9").await.is_err());
}
both!(openldap_sync_and_bind_login);

/// `ldaps://` and StartTLS verified against the configured CA: syncs work;
/// the same server without its CA configured (the system roots do not know
/// it) is refused, never "accept any certificate".
async fn ldaps_is_verified_against_the_configured_ca(s: TestServer) {
    let slapd = Slapd::start_with(20, 3, true);
    let (_, tenant) = s.partner_and_tenant("ldapsco").await;
    let ca = std::fs::read_to_string(slapd.info["ca_pem_path"].as_str().unwrap()).unwrap();
    let mut config = slapd.idp_config();
    config["url"] = slapd.info["ldaps_url"].clone();
    let untrusted = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tenant["id"], "type": "ldap", "name": "No CA", "config": config.clone()}),
        )
        .await;
    config["ca_pem"] = json!(ca);
    let trusted = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tenant["id"], "type": "ldap", "name": "With CA", "config": config}),
        )
        .await;
    let run = sync(&s, trusted["id"].as_str().unwrap(), "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["users"]["created"], 20);
    // StartTLS on the plain port, verified against the same CA (the test button binds and reads the root DSE).
    let mut start_tls = slapd.idp_config();
    start_tls["start_tls"] = json!(true);
    start_tls["ca_pem"] = json!(ca);
    let upgraded = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tenant["id"], "type": "ldap", "name": "StartTLS", "config": start_tls}),
        )
        .await;
    let (_, t) =
        s.admin(Method::POST, &format!("/identity-providers/{}/test", upgraded["id"].as_str().unwrap()), None).await;
    assert_eq!(t["data"]["ok"], true, "StartTLS verified against the CA: {t}");
    let mut unverified = slapd.idp_config();
    unverified["start_tls"] = json!(true);
    let plain = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tenant["id"], "type": "ldap", "name": "StartTLS no CA", "config": unverified}),
        )
        .await;
    let (_, t) =
        s.admin(Method::POST, &format!("/identity-providers/{}/test", plain["id"].as_str().unwrap()), None).await;
    assert_eq!(t["data"]["ok"], false, "StartTLS without the CA is refused: {t}");
    let refused = sync(&s, untrusted["id"].as_str().unwrap(), "full").await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(refused["errors"].to_string().to_lowercase().contains("certificate"), "{refused}");
    let (_, t) =
        s.admin(Method::POST, &format!("/identity-providers/{}/test", untrusted["id"].as_str().unwrap()), None).await;
    assert_eq!(t["data"]["ok"], false, "{t}");
}
both!(ldaps_is_verified_against_the_configured_ca);

/// A schedule fires one run per firing however many replicas tick at once,
/// and a schedule edited at runtime takes effect at the next tick.
async fn schedules_fire_once_across_replicas(s: TestServer) {
    let slapd = Slapd::start(20, 3);
    let (_, tenant) = s.partner_and_tenant("cronco").await;
    let idp = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tenant["id"], "type": "ldap", "name": "Scheduled",
                                              "config": slapd.idp_config(), "sync_schedule": "* * * * * *"}),
        )
        .await;
    // The first tick only sets the next firing.
    assert_eq!(scaikey::sync::schedule::tick(&s.svc).await.unwrap(), 0);
    // Then two "replicas" tick together until a firing is due: one run starts.
    let deadline = Instant::now() + Duration::from_secs(10);
    let started = loop {
        let (a, b) = tokio::join!(scaikey::sync::schedule::tick(&s.svc), scaikey::sync::schedule::tick(&s.svc));
        let n = a.unwrap() + b.unwrap();
        if n > 0 {
            break n;
        }
        assert!(Instant::now() < deadline, "the schedule never fired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(started, 1, "one firing, one run");
    let idp_id = idp["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, runs) = s.admin(Method::GET, &format!("/sync-runs?idp_id={idp_id}"), None).await;
        let runs = runs["data"].as_array().unwrap().clone();
        if runs.iter().any(|r| r["status"] == "succeeded") {
            assert_eq!(runs.len(), 1, "{runs:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the scheduled run did not finish: {runs:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Removing the schedule at runtime stops it.
    let (status, _) =
        s.admin(Method::PATCH, &format!("/identity-providers/{idp_id}"), Some(json!({"sync_schedule": null}))).await;
    assert_eq!(status, StatusCode::OK);
    let mut tx = s.svc.store.read(scaikey::store::Scope::Platform).await.unwrap();
    assert!(tx.scheduled_idps().await.unwrap().iter().all(|(i, _)| i.id != idp_id), "no longer scheduled");
    tx.commit().await.unwrap();
}
both!(schedules_fire_once_across_replicas);
