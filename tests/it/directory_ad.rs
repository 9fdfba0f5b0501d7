//! The `active_directory` flavor against a real Samba AD domain controller
//! (tests/peers/samba): objectGUID as the external id, `uSNChanged` deltas,
//! a deleted user found by the delta, `userAccountControl` disable, nested
//! groups, a group of 1,600 members, bind login with the user's AD password
//! over LDAPS verified against the configured CA, and refusal without it.
//!
//! Needs Debian's samba packages (`tests/peers/samba/install.sh`); without
//! them this test fails, never skips.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::directory_sync::{peer_modify, sync};
use crate::oidc_flow::{Browser, hidden};
use crate::support::{Backend, TestServer};

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/samba/samba_dc.py");
const REDIRECT_URI: &str = "https://intranet.ad.test/cb";

struct SambaDc {
    info: Value,
    dir: PathBuf,
}

impl SambaDc {
    fn start(ip: &str) -> SambaDc {
        assert!(Path::new("/usr/sbin/samba").is_file(), "Samba is required: run tests/peers/samba/install.sh");
        let dir = std::env::temp_dir().join(format!("scaikey-samba-{}", scaikey::ids::random_base36(8)));
        let out = std::process::Command::new(crate::support::python())
            .args([PEER, "start", "--dir"])
            .arg(&dir)
            .args(["--ip", ip])
            .output()
            .expect("python3 runs tests/peers/samba/samba_dc.py");
        assert!(out.status.success(), "samba did not start: {}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8_lossy(&out.stdout);
        SambaDc { info: serde_json::from_str(line.trim()).unwrap(), dir }
    }

    /// Applies LDIF changes as the directory admin.
    fn modify(&self, ldif: &str) {
        peer_modify(PEER, &self.dir, ldif);
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        let _ = std::process::Command::new(crate::support::python())
            .args([PEER, "stop", "--remove", "--dir"])
            .arg(&self.dir)
            .output();
    }
}

/// `CN=User <i>` lives in one of four OUs by number.
fn user_dn(i: usize) -> String {
    let ou = ["Engineering", "Sales", "Finance", "Support"][(i - 1) % 4];
    format!("CN=User {i},OU={ou},OU=People,DC=test,DC=local")
}

async fn user_named(s: &TestServer, tenant_id: &str, name: &str) -> Value {
    let (_, list) = s.admin(Method::GET, &format!("/users?tenant_id={tenant_id}&user_name={name}"), None).await;
    let id = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.admin(Method::GET, &format!("/users/{id}"), None).await.1["data"].clone()
}

/// Every member id of a group, page by page.
pub async fn members_of(s: &TestServer, group_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = s.admin(Method::GET, &format!("/groups/{group_id}/members?limit=200{cursor}"), None).await;
        out.extend(page["data"].as_array().unwrap().iter().filter_map(|m| m["member_id"].as_str().map(str::to_owned)));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

async fn sign_in(issuer: &str, app: &Value, username: &str, password: &str) -> bool {
    let mut b = Browser::new();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", app["client_id"].as_str().unwrap()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
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
    let done = b
        .post(
            &action,
            &[("request", &req), ("csrf_token", &hidden(&page.body, "csrf_token").unwrap()), ("password", password)],
        )
        .await;
    done.status == StatusCode::SEE_OTHER
        && done.location.is_some_and(|l| l.starts_with(&format!("{REDIRECT_URI}?code=")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_directory_on_samba() {
    let dc = SambaDc::start("127.0.0.2");
    let s = TestServer::start(Backend::Sqlite).await;
    let (_, tenant) = s.partner_and_tenant("adco").await;
    let tid = tenant["id"].as_str().unwrap().to_owned();
    let i = &dc.info;
    let ca = std::fs::read_to_string(i["ca_pem_path"].as_str().unwrap()).unwrap();
    let mut config = json!({"url": i["ldaps_url"], "bind_dn": i["bind_dn"], "bind_password": i["bind_password"],
        "flavor": "active_directory", "user_base_dn": i["user_base_dn"], "group_base_dn": i["group_base_dn"]});
    let untrusted = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tid, "type": "ldap", "name": "AD without CA", "config": config.clone()}),
        )
        .await;
    config["ca_pem"] = json!(ca);
    let idp = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tid, "type": "ldap", "name": "Active Directory",
                                              "domains": ["test.local"], "config": config}),
        )
        .await;
    let idp_id = idp["id"].as_str().unwrap();

    // The CA is what makes the server trusted.
    let refused = sync(&s, untrusted["id"].as_str().unwrap(), "full").await;
    assert_eq!(refused["status"], "failed", "{refused}");

    let run = sync(&s, idp_id, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let users = i["users"].as_u64().unwrap() + 1 + i["bulk_users"].as_u64().unwrap();
    assert_eq!(run["counts"]["users"]["created"], users, "{run}");
    assert_eq!(run["counts"]["groups"]["created"], 4, "{run}");
    let user5 = user_named(&s, &tid, "user5@test.local").await;
    let guid = user5["identities"][0]["external_id"].as_str().unwrap();
    assert!(guid.len() == 36 && guid.chars().filter(|c| *c == '-').count() == 4, "objectGUID as a GUID string: {guid}");
    assert_eq!(user_named(&s, &tid, "user_disabled@test.local").await["status"], "suspended", "uac bit 2");
    let (_, groups) = s.admin(Method::GET, &format!("/groups?tenant_id={tid}&limit=200"), None).await;
    let by_name = |n: &str| groups["data"].as_array().unwrap().iter().find(|g| g["name"] == n).unwrap().clone();
    let (staff, engineering, big) = (by_name("Staff"), by_name("Engineering"), by_name("Everyone Big"));
    let (_, members) =
        s.admin(Method::GET, &format!("/groups/{}/members?limit=200", staff["id"].as_str().unwrap()), None).await;
    assert!(
        members["data"].as_array().unwrap().iter().any(|m| m["member_id"] == engineering["id"]),
        "nested: {members}"
    );
    let big_id = big["id"].as_str().unwrap().to_owned();
    assert_eq!(members_of(&s, &big_id).await.len() as u64, i["big_group_members"].as_u64().unwrap());

    // Sign-in with the AD password (UPN; home realm test.local).
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": "Intranet",
                 "grant_types": ["authorization_code"], "redirect_uris": [REDIRECT_URI], "allowed_scopes": ["openid"]}),
        )
        .await;
    let issuer = format!("{}/api/v1/auth/tenants/adco", s.base);
    assert!(sign_in(&issuer, &app, "user5@test.local", "Passw0rd-5!").await);
    assert!(!sign_in(&issuer, &app, "user5@test.local", "Passw0rd-6!").await);
    assert!(!sign_in(&issuer, &app, "user_disabled@test.local", "Passw0rd-disabled!").await);

    // Changes: a new user, a title, a disabled account, a deletion, a user
    // moved out of the synced OU, a deleted group. The delta reads what
    // changed, the tombstones (Show Deleted) and what left the scope.
    let password = STANDARD.encode("\"NewAd-pass-1!\"".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>());
    dc.modify(&format!(
        "dn: CN=New Ad,OU=Sales,OU=People,DC=test,DC=local\nchangetype: add\nobjectClass: user\nsAMAccountName: newad\n\
         userPrincipalName: newad@test.local\ngivenName: New\nsn: Ad\nmail: newad@test.local\nunicodePwd:: {password}\nuserAccountControl: 512\n\n\
         dn: {}\nchangetype: modify\nreplace: title\ntitle: Domain Synchronizer\n\n\
         dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n\n\
         dn: {}\nchangetype: delete\n\n\
         dn: {}\nchangetype: modrdn\nnewrdn: CN=User 10\ndeleteoldrdn: 1\nnewsuperior: CN=Users,DC=test,DC=local\n\n\
         dn: CN=Platform,OU=Groups,DC=test,DC=local\nchangetype: delete\n",
        user_dn(7),
        user_dn(8),
        user_dn(9),
        user_dn(10)
    ));
    let delta = sync(&s, idp_id, "delta").await;
    assert_eq!(delta["status"], "succeeded", "{delta}");
    assert_eq!(delta["mode"], "delta");
    assert_eq!(delta["counts"]["users"]["created"], 1, "{delta}");
    assert_eq!(delta["counts"]["users"]["suspended"], 3, "disabled, deleted, moved out: {delta}");
    assert_eq!(delta["counts"]["groups"]["deleted"], 1, "{delta}");
    assert!(delta["counts"]["users"]["unchanged"].as_u64().unwrap() < 5, "a delta reads what changed: {delta}");
    assert_eq!(user_named(&s, &tid, "user10@test.local").await["status"], "suspended", "moved out of scope");
    let (_, groups) = s.admin(Method::GET, &format!("/groups?tenant_id={tid}&limit=200"), None).await;
    assert!(!groups["data"].as_array().unwrap().iter().any(|g| g["name"] == "Platform"), "{groups}");
    assert_eq!(user_named(&s, &tid, "user7@test.local").await["title"], "Domain Synchronizer");
    assert_eq!(user_named(&s, &tid, "user8@test.local").await["status"], "suspended");
    let user9 = user_named(&s, &tid, "user9@test.local").await;
    assert_eq!(user9["status"], "suspended");
    // AD dropped the deleted user from its groups without marking them
    // changed; the sync drops it too, and the user who left the synced OU.
    let members = members_of(&s, &big_id).await;
    assert_eq!(members.len() as u64, i["big_group_members"].as_u64().unwrap() - 2);
    assert!(!members.contains(&user9["id"].as_str().unwrap().to_owned()));
    assert!(sign_in(&issuer, &app, "newad@test.local", "NewAd-pass-1!").await, "the new user signs in");
}
