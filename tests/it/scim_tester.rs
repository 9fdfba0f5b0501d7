//! scim2-tester (PyPI), the SCIM 2.0 compliance checker of the scim2-* Python
//! libraries, run against a tenant's SCIM server: discovery, CRUD, queries
//! with attributes, PATCH add/remove/replace on Users and Groups. No check
//! may end in ERROR or CRITICAL. The peer lives in tests/peers/scim and is
//! installed into the peers' venv by `bash tests/prepare.sh`.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::support::{Backend, TestServer};

const PEER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/scim");
const INSTALL: &str = "bash tests/prepare.sh";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_reports_no_error() {
    let s = TestServer::start(Backend::Sqlite).await;
    let slug = "tester";
    let (_, tenant) = s.partner_and_tenant(slug).await;
    let token = s.create("/scim-tokens", json!({"tenant_id": tenant["id"], "name": "scim2-tester"})).await;
    let token = token["token"].as_str().unwrap();
    let base = format!("{}/scim/v2/tenants/{slug}", s.base);
    // The AD extension's organizationalUnit must name an OU of the tenant;
    // check.py hands it to the tester as that attribute's only valid value.
    let ou = s.create("/organizational-units", json!({"tenant_id": tenant["id"], "name": "Provisioned"})).await;
    let ou_id = ou["id"].as_str().unwrap();

    let dir = Path::new(PEER_DIR);
    let probe = tokio::process::Command::new(crate::support::python())
        .args(["-c", "import scim2_tester, scim2_client.engines.httpx2"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("python3 must be installed to run scim2-tester ({e}); then `{INSTALL}`"));
    assert!(
        probe.status.success(),
        "scim2-tester is not installed: run `{INSTALL}`\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );

    let mut cmd = tokio::process::Command::new(crate::support::python());
    cmd.arg(dir.join("check.py")).arg(&base).arg(token).arg(ou_id).current_dir(dir).kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("scim2-tester did not finish within 300 s")
        .expect("python3 tests/peers/scim/check.py could not start");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("scim2-tester results:\n{stdout}");
    if !stderr.is_empty() {
        eprintln!("scim2-tester stderr:\n{stderr}");
    }
    let failing: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(r#""status": "ERROR""#) || l.contains(r#""status": "CRITICAL""#))
        .collect();
    assert!(
        out.status.success(),
        "scim2-tester reported {} ERROR/CRITICAL result(s) (exit {}):\n{}\n{stderr}",
        failing.len(),
        out.status,
        failing.join("\n")
    );
    assert!(stdout.contains(r#""summary""#), "scim2-tester printed no summary:\n{stdout}\n{stderr}");
}
