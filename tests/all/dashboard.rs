//! The dashboard in a real browser (headless Chromium driven by playwright-core): a
//! phone-sized page follows a paced replay live, and its kill button asks before it acts.

use std::time::Duration;

use super::control::{control_of, output_dir, paced_replay};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_a_paced_replay_and_its_kill_button_asks_first() {
    let node_modules = polybox_tests::root().join("target/npm/node_modules");
    assert!(
        node_modules.join("playwright-core").exists(),
        "playwright-core is missing: run .ci/run, or `npm install --prefix target/npm playwright-core` (and `apt-get install chromium`)"
    );
    let state = tempfile::tempdir().unwrap();
    let host = paced_replay(state.path(), "20", &[]);
    let (addr, token) = control_of(state.path()).await;
    let png = output_dir("dashboard").join("dashboard.png");
    let _ = std::fs::remove_file(&png);
    let browser = tokio::process::Command::new("node")
        .arg(polybox_tests::root().join("tests/browser/dashboard.cjs"))
        .arg(format!("http://{addr}"))
        .arg(&token)
        .arg(&png)
        .env("NODE_PATH", &node_modules)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), browser)
        .await
        .expect("the browser finished within 2 minutes")
        .expect("node runs (install nodejs)");
    assert!(
        out.status.success(),
        "the browser script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        !seen["address"].as_str().unwrap().contains("token="),
        "the token leaves the address bar: {seen}"
    );
    assert_ne!(
        seen["first"]["pnl"], seen["later"]["pnl"],
        "P&L updates: {seen}"
    );
    assert_ne!(seen["first"]["events"], seen["later"]["events"], "{seen}");
    let positions: u64 = seen["later"]["positions"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        positions > 0 && seen["rows"].as_u64() >= Some(positions),
        "{seen}"
    );
    let points = seen["chartPoints"].as_str().unwrap_or_default();
    assert!(points.split(' ').count() >= 2, "an equity curve: {seen}");
    assert!(
        seen["overflow"].as_i64() <= Some(0),
        "no sideways scrolling on a phone: {seen}"
    );
    assert_eq!(
        seen["afterDismiss"], "kill switch: off",
        "a dismissed confirmation does nothing"
    );
    assert_eq!(
        seen["killed"], "KILLED: kill button on the dashboard",
        "{seen}"
    );
    // The host agrees, and the journal says who.
    let http = reqwest::Client::new();
    let risk: serde_json::Value = http
        .get(format!("http://{addr}/api/risk"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(risk["kill_switch"]["engaged"], true, "{risk}");
    let journal = risk["journal"].as_array().unwrap();
    assert!(
        journal
            .iter()
            .any(|e| e["who"] == "dashboard" && e["action"] == "kill --cancel-all"),
        "{risk}"
    );
    // A real PNG of the phone-wide page.
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "a PNG at {}",
        png.display()
    );
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!(width, 390, "phone width");
    assert!(height > 844, "the full page: {height}");
    let out = host.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
