//! SAML 2.0 federation end to end against a real IdP (tests/peers/saml-idp:
//! idp.mjs, Responses signed with xml-crypto, checked here by samael over
//! libxmlsec1), and the attacks of tests/peers/saml-idp/forge.mjs posted to
//! the ACS of a live login: tampered, signed by another key carrying its own
//! certificate, three signature-wrapping variants, wrong audience, expired,
//! replayed and unsolicited Responses. Each fails if its check is removed.
//!
//! Needs `npm ci --prefix tests/peers/saml-idp`; without it these fail, never skip.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::both;
use crate::oidc_flow::{Browser, hidden, query_param};
use crate::support::TestServer;

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/saml-idp");
const REDIRECT_URI: &str = "https://portal.saml.test/cb";

struct Idp {
    _child: tokio::process::Child,
    started: Value,
}

fn require_peer() {
    assert!(
        Path::new(PEER).join("node_modules/xml-crypto/package.json").is_file(),
        "the SAML IdP peer is not installed: run `npm ci --prefix tests/peers/saml-idp`"
    );
}

async fn saml_idp(config: Value) -> Idp {
    require_peer();
    let mut child = tokio::process::Command::new("node")
        .arg(Path::new(PEER).join("idp.mjs"))
        .arg(config.to_string())
        .current_dir(PEER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("node must be installed to run the SAML IdP peer: {e}"));
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    // Generous: node starts slowly while the rest of the suite loads both cores.
    tokio::time::timeout(std::time::Duration::from_secs(120), BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("the SAML IdP did not start within 120 s")
        .unwrap();
    Idp {
        _child: child,
        started: serde_json::from_str(&line).unwrap_or_else(|e| panic!("idp.mjs printed {line:?}: {e}")),
    }
}

/// A Response from the attacker's toolkit.
async fn forge(input: Value) -> String {
    let out = tokio::process::Command::new("node")
        .arg(Path::new(PEER).join("forge.mjs"))
        .arg(input.to_string())
        .current_dir(PEER)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "forge.mjs failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["SAMLResponse"].as_str().unwrap().to_owned()
}

fn inflate(saml_request: &str) -> String {
    let raw = STANDARD.decode(saml_request).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&raw[..]).read_to_string(&mut xml).unwrap();
    xml
}

fn form_field(html: &str, name: &str) -> String {
    hidden(html, name).unwrap_or_else(|| panic!("no {name} in:\n{html}"))
}

struct Setup {
    issuer: String,
    tenant: Value,
    app: Value,
    idp: Value,
    entity_id: String,
    acs: String,
    peer: Idp,
}

async fn setup(s: &TestServer, slug: &str) -> Setup {
    let (_, tenant) = s.partner_and_tenant(slug).await;
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "WEB", "name": "Portal",
                   "grant_types": ["authorization_code"], "redirect_uris": [REDIRECT_URI],
                   "allowed_scopes": ["openid", "profile", "email"]}),
        )
        .await;
    // The IdP first points at a placeholder, so its SP metadata (entity id,
    // ACS, signing certificate) exists before the real IdP starts.
    let (_, placeholder_cert) = scaikey_connectors::saml::generate_sp_key("placeholder").unwrap();
    let idp = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tenant["id"], "type": "saml", "name": "Corporate SAML", "domains": ["saml.test"],
                   "jit_provisioning": true,
                   "config": {"entity_id": "http://127.0.0.1:1/metadata", "sso_url": "http://127.0.0.1:1/sso",
                              "certificates": [placeholder_cert],
                              "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}}),
        )
        .await;
    let issuer = format!("{}/api/v1/auth/tenants/{slug}", s.base);
    let idp_id = idp["id"].as_str().unwrap();
    let r = reqwest::get(format!("{issuer}/saml/{idp_id}/metadata")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/samlmetadata+xml");
    let sp_metadata = r.text().await.unwrap();
    let entity_id = format!("{issuer}/saml/{idp_id}/metadata");
    let acs = format!("{issuer}/saml/{idp_id}/acs");
    assert!(sp_metadata.contains(&format!("entityID=\"{entity_id}\"")) && sp_metadata.contains(&acs), "{sp_metadata}");
    assert!(sp_metadata.contains("AuthnRequestsSigned=\"true\""), "{sp_metadata}");
    let peer = saml_idp(json!({
        "sp": {"entity_id": entity_id, "acs_url": acs, "metadata_xml": sp_metadata},
        "users": {
            "grace": {"name_id": "grace@saml.test", "attributes": {"email": "grace@saml.test", "givenName": "Grace", "sn": "Hopper"}},
            "eve": {"name_id": "eve@saml.test", "attributes": {"email": "eve@saml.test"}}},
        "sign": "both", "want_authn_requests_signed": true}))
    .await;
    let (status, v) = s
        .admin(
            Method::PATCH,
            &format!("/identity-providers/{idp_id}"),
            Some(json!({"config": {"metadata_xml": peer.started["metadata_xml"],
                                      "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    Setup { issuer, tenant, app, idp, entity_id, acs, peer }
}

/// Starts a login at the app and follows the IdP's link: the signed
/// AuthnRequest's URL at the IdP.
async fn start_login(b: &mut Browser, st: &Setup) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", st.app["client_id"].as_str().unwrap()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid email"),
            ("state", "s1"),
            ("nonce", "n1"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let r = b.get(&format!("{}/oauth/authorize?{q}", st.issuer)).await;
    let page = b.get(&r.location.unwrap()).await;
    let marker = format!("data-idp=\"{}\" href=\"", st.idp["id"].as_str().unwrap());
    let start = page.body.find(&marker).unwrap_or_else(|| panic!("no IdP link:\n{}", page.body)) + marker.len();
    let link = page.body[start..].split('"').next().unwrap().replace("&#x2f;", "/").replace("&amp;", "&");
    let r = b.get(&link).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location.unwrap()
}

/// Posts a SAMLResponse to the ACS and, on a redirect, follows it with the browser.
async fn post_acs(b: &mut Browser, st: &Setup, response: &str, relay_state: &str) -> crate::oidc_flow::Page {
    let r = b.post(&st.acs, &[("SAMLResponse", response), ("RelayState", relay_state)]).await;
    if r.status != StatusCode::SEE_OTHER {
        return r;
    }
    b.get(&r.location.unwrap()).await
}

async fn saml_sign_in_end_to_end(s: TestServer) {
    let st = setup(&s, "samlco").await;
    // This IdP's metadata is fetched from its URL; the test button reads it.
    let idp_id = st.idp["id"].as_str().unwrap();
    let (status, v) = s
        .admin(
            Method::PATCH,
            &format!("/identity-providers/{idp_id}"),
            Some(json!({"config": {"metadata_url": st.peer.started["metadata_url"],
                                      "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, t) = s.admin(Method::POST, &format!("/identity-providers/{idp_id}/test"), None).await;
    assert_eq!(t["data"]["ok"], true, "{t}");
    assert_eq!(t["data"]["found"]["entity_id"], st.peer.started["entity_id"]);
    assert_eq!(t["data"]["found"]["sso_url"], st.peer.started["sso_url"]);
    let mut b = Browser::new();
    let sso = start_login(&mut b, &st).await;
    assert!(sso.starts_with(st.peer.started["sso_url"].as_str().unwrap()), "{sso}");
    assert!(query_param(&sso, "Signature").is_some() && query_param(&sso, "SigAlg").unwrap().ends_with("rsa-sha256"));
    let request_xml = inflate(&query_param(&sso, "SAMLRequest").unwrap());
    let id = request_xml.split("ID=\"").nth(1).unwrap().split('"').next().unwrap();
    assert!(id.starts_with('_') && id.len() >= 33, "a 128-bit request id: {id}");

    // The IdP checks our AuthnRequest signature, asks for the user, and posts back.
    let login = b.get(&sso).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let idp_base = st.peer.started["base"].as_str().unwrap();
    let posted = b
        .post(
            &format!("{idp_base}/sso/login"),
            &[("request_key", &form_field(&login.body, "request_key")), ("username", "grace"), ("password", "x")],
        )
        .await;
    let stats: Value = reqwest::get(format!("{idp_base}/_stats")).await.unwrap().json().await.unwrap();
    assert_eq!(stats["authn_requests"][0]["signature_verified"], true, "{stats}");
    let (response, relay) = (form_field(&posted.body, "SAMLResponse"), form_field(&posted.body, "RelayState"));
    // The ACS carries no cookie in a real browser (cross-site POST): prove it is not needed,
    // while /continue needs this browser's own login cookie.
    let acs = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(&st.acs)
        .form(&[("SAMLResponse", response.as_str()), ("RelayState", relay.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(acs.status(), StatusCode::SEE_OTHER);
    let cont = acs.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(reqwest::get(&cont).await.unwrap().status(), StatusCode::BAD_REQUEST, "another browser cannot continue");
    let done = b.get(&cont).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let back = done.location.unwrap();
    assert!(back.starts_with(&format!("{REDIRECT_URI}?code=")), "{back}");

    let (_, users) =
        s.admin(Method::GET, &format!("/users?tenant_id={}", st.tenant["id"].as_str().unwrap()), None).await;
    let grace = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_name"] == "grace@saml.test")
        .expect("provisioned")
        .clone();
    assert_eq!(grace["given_name"], "Grace");
    let (_, detail) = s.admin(Method::GET, &format!("/users/{}", grace["id"].as_str().unwrap()), None).await;
    assert_eq!(detail["data"]["identities"][0]["external_id"], "grace@saml.test");

    // The same Response again: its login is done and the assertion id is spent.
    let again = post_acs(&mut b, &st, &response, &relay).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
}
both!(saml_sign_in_end_to_end);

/// A fresh login at the IdP: (browser, RelayState, AuthnRequest ID).
async fn fresh_login(st: &Setup) -> (Browser, String, String) {
    let mut b = Browser::new();
    let sso = start_login(&mut b, st).await;
    let relay = query_param(&sso, "RelayState").unwrap();
    let request_xml = inflate(&query_param(&sso, "SAMLRequest").unwrap());
    let id = request_xml.split("ID=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    (b, relay, id)
}

async fn saml_attacks_are_refused(s: TestServer) {
    let st = setup(&s, "samlatk").await;
    // samael checks SAML time windows against the system clock, which the test server uses too.
    let now = s.svc.clock.now();
    let iso = |minutes: i64| serde_json::to_value(now.plus_seconds(minutes * 60)).unwrap();
    let base = json!({
        "idp_key_pem": st.peer.started["key_pem"], "idp_cert_pem": st.peer.started["certificate"],
        "issuer": st.peer.started["entity_id"], "destination": st.acs, "audience": st.entity_id,
        "name_id": "eve@saml.test", "attributes": {"email": "eve@saml.test"},
        "not_before": iso(-1), "not_on_or_after": iso(5),
        "victim_name_id": "admin@saml.test", "sign": "both", "variant": "valid"});
    let with = |changes: Value, request_id: &str| {
        let mut v = base.clone();
        v["in_response_to"] = json!(request_id);
        v.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
        v
    };
    let refused = [
        ("tampered", json!({"variant": "tampered"})),
        ("another key with its own certificate", json!({"variant": "foreign_key_with_cert"})),
        ("XSW response wrap", json!({"variant": "xsw_response_wrap"})),
        ("wrong audience", json!({"audience": "https://evil.example/sp"})),
        ("wrong recipient", json!({"destination": "https://evil.example/acs"})),
        ("expired", json!({"not_before": iso(-180), "not_on_or_after": iso(-120)})),
        ("answer to another request", json!({"in_response_to": "_someone-elses-request"})),
        ("unsigned", json!({"sign": "none"})),
        ("response signed, assertion not (want_assertions_signed)", json!({"sign": "response"})),
    ];
    for (name, changes) in refused {
        let (mut b, relay, id) = fresh_login(&st).await;
        let r = post_acs(&mut b, &st, &forge(with(changes, &id)).await, &relay).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name} was accepted:\n{}", r.body);
    }
    // Signature wrapping that leaves the honest signed assertion in place:
    // only that signed element is read, so the attacker signs in as
    // themself at most, never as the victim of the unsigned assertion.
    for variant in ["xsw_assertion_wrap", "xsw_extensions", "xsw7", "xsw2", "xsw4", "xsw5"] {
        let (mut b, relay, id) = fresh_login(&st).await;
        let r = post_acs(&mut b, &st, &forge(with(json!({"variant": variant}), &id)).await, &relay).await;
        assert!(r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::SEE_OTHER, "{variant}: {}", r.status);
    }
    // Unsolicited (IdP-initiated, not allowed): no RelayState of ours.
    let unsolicited = forge(with(json!({"in_response_to": null}), "")).await;
    let (mut b, _, _) = fresh_login(&st).await;
    let r = post_acs(&mut b, &st, &unsolicited, "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("not started here"), "{}", r.body);
    let (_, users) =
        s.admin(Method::GET, &format!("/users?tenant_id={}", st.tenant["id"].as_str().unwrap()), None).await;
    let names: Vec<&str> = users["data"].as_array().unwrap().iter().filter_map(|u| u["user_name"].as_str()).collect();
    assert!(!names.contains(&"admin@saml.test"), "the victim's account was provisioned: {names:?}");

    // Replay: an assertion id already consumed is refused in a later login.
    let (mut b, relay, id) = fresh_login(&st).await;
    let first = forge(with(json!({"assertion_id": "_replayed-assertion-0001"}), &id)).await;
    let r = post_acs(&mut b, &st, &first, &relay).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the honest answer signs in: {}", r.body);
    let (mut b2, relay2, id2) = fresh_login(&st).await;
    let replayed = forge(with(json!({"assertion_id": "_replayed-assertion-0001"}), &id2)).await;
    let r = post_acs(&mut b2, &st, &replayed, &relay2).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a replayed assertion id was accepted");
}
both!(saml_attacks_are_refused);

/// IdP-initiated SSO: refused by default; when the IdP allows it, the
/// RelayState names an app with an `initiate_login_uri`, the user gets an
/// SSO session and lands there, and the app's own sign-in then completes
/// without a prompt.
async fn saml_idp_initiated(s: TestServer) {
    let st = setup(&s, "samlinit").await;
    let idp_base = st.peer.started["base"].as_str().unwrap().to_owned();
    let client_id = st.app["client_id"].as_str().unwrap().to_owned();
    let unsolicited = |b: &mut Browser, relay: &str| {
        let url = format!("{idp_base}/idp-initiated?username=grace&RelayState={relay}");
        let mut b2 = std::mem::replace(b, Browser::new());
        async move {
            let page = b2.get(&url).await;
            (b2, form_field(&page.body, "SAMLResponse"))
        }
    };
    let mut b = Browser::new();
    let (nb, response) = unsolicited(&mut b, &client_id).await;
    b = nb;
    let r = b.post(&st.acs, &[("SAMLResponse", &response), ("RelayState", &client_id)]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "refused unless the IdP allows it");

    let idp_id = st.idp["id"].as_str().unwrap();
    let (status, v) = s
        .admin(
            Method::PATCH,
            &format!("/identity-providers/{idp_id}"),
            Some(json!({"config": {"metadata_xml": st.peer.started["metadata_xml"], "allow_idp_initiated": true,
                                      "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // An app without initiate_login_uri cannot be landed on.
    let (nb, response) = unsolicited(&mut b, &client_id).await;
    b = nb;
    let r = b.post(&st.acs, &[("SAMLResponse", &response), ("RelayState", &client_id)]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let (status, _) = s
        .admin(
            Method::PATCH,
            &format!("/applications/{}", st.app["id"].as_str().unwrap()),
            Some(json!({"initiate_login_uri": "https://portal.saml.test/login"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (nb, response) = unsolicited(&mut b, &client_id).await;
    b = nb;
    let r = b.post(&st.acs, &[("SAMLResponse", &response), ("RelayState", &client_id)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let landing = r.location.unwrap();
    assert!(landing.starts_with("https://portal.saml.test/login?iss="), "{landing}");
    // The same Response again is a replay.
    let again = b.post(&st.acs, &[("SAMLResponse", &response), ("RelayState", &client_id)]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    // The app starts its sign-in; the SSO session answers at once.
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let r = b.get(&format!("{}/oauth/authorize?{q}", st.issuer)).await;
    assert!(r.location.as_deref().is_some_and(|l| l.starts_with(&format!("{REDIRECT_URI}?code="))), "{:?}", r.location);
}
both!(saml_idp_initiated);
