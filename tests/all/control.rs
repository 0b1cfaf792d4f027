//! The control API of a running host: bearer-token auth, status and strategies, and hot
//! swaps asked for by `polybox strategy swap`.

use std::path::Path;
use std::time::Duration;

use polybox_tests::fake_market::FakeMarket;
use polybox_tests::{component, polybox_bin};

/// `polybox` with the test host's state dir.
fn cli(state: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(polybox_bin())
        .args(["--set", &format!("store.dir=\"{}\"", state.display())])
        .args(args)
        .env_remove("POLYBOX_CONTROL_TOKEN")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_answers_only_with_the_token_and_loads_swaps_and_unloads() {
    let mut market = FakeMarket::start(&["111", "222"], 67).await;
    let state = tempfile::tempdir().unwrap();
    let host = tokio::process::Command::new(polybox_bin())
        .args(["run", "--markets", "111,222", "--duration", "12", "--json"])
        .arg("--strategy")
        .arg(component("strategies/spread-quoter"))
        .args(["--set", &format!("exchange.ws_url=\"{}\"", market.url())])
        .args([
            "--set",
            &format!("exchange.clob_url=\"{}\"", market.http_url()),
        ])
        .args([
            "--set",
            &format!("store.dir=\"{}\"", state.path().display()),
        ])
        .args(["--set", "control.listen=\"127.0.0.1:0\""])
        .env("POLYBOX_LOG", "error")
        .env_remove("POLYBOX_CONTROL_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr_file = state.path().join("control.addr");
    for _ in 0..100 {
        if addr_file.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        market.step(2);
    }
    let addr = std::fs::read_to_string(&addr_file).unwrap();
    let token = std::fs::read_to_string(state.path().join("control.token")).unwrap();
    let mode = std::fs::metadata(state.path().join("control.token")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600,
        "the token is its owner's only"
    );
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/api/status");
    let get = |bearer: Option<&str>| {
        let mut r = http.get(&url);
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 401);
    assert_eq!(get(Some("not-the-token")).await.unwrap().status(), 401);
    let ok = get(Some(token.trim())).await.unwrap();
    assert_eq!(ok.status(), 200);
    let status: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(status["mode"], "paper", "{status}");
    assert!(status["summary"]["strategies"].is_array(), "{status}");

    // The CLI, on the same state dir.
    let list = cli(state.path(), &["strategy", "list", "--json"]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["name"], "spread_quoter");
    assert_eq!(list[0]["state"], "running");
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(5);
    }
    let quoter = component("strategies/spread-quoter");
    let swapped = cli(
        state.path(),
        &[
            "strategy",
            "swap",
            "spread_quoter",
            quoter.to_str().unwrap(),
        ],
    );
    assert!(
        swapped.status.success(),
        "{}",
        String::from_utf8_lossy(&swapped.stderr)
    );
    // A build that refuses the state: refused, the quoter runs on.
    let dir = tempfile::tempdir().unwrap();
    let impostor = dir.path().join("spread_quoter.wasm");
    std::fs::copy(component("tests/guests/amnesiac"), &impostor).unwrap();
    let refused = cli(
        state.path(),
        &[
            "strategy",
            "swap",
            "spread_quoter",
            impostor.to_str().unwrap(),
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("was not swapped"));
    // A file named for another strategy: bad input.
    let wrong = cli(
        state.path(),
        &[
            "strategy",
            "swap",
            "complement_arb",
            quoter.to_str().unwrap(),
        ],
    );
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not `complement_arb`"));
    // Load a second strategy at run time, then unload it.
    let arb = component("strategies/complement-arb");
    let loaded = cli(state.path(), &["strategy", "load", arb.to_str().unwrap()]);
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let again = cli(state.path(), &["strategy", "load", arb.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("loaded already"));
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(5);
    }
    let list = cli(state.path(), &["strategy", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[1]["name"], "complement_arb", "{list}");
    assert_eq!(list[1]["state"], "running", "{list}");
    let q = &list[0];
    assert!(q["callback_p50_ns"].as_u64() > Some(0), "{q}");
    assert!(
        q["callback_p99_ns"].as_u64() >= q["callback_p50_ns"].as_u64(),
        "{q}"
    );
    assert!(q["memory_bytes"].as_u64() > Some(0), "{q}");
    assert!(q["uptime_ms"].as_u64() > Some(0), "{q}");
    let unloaded = cli(state.path(), &["strategy", "unload", "complement_arb"]);
    assert!(
        unloaded.status.success(),
        "{}",
        String::from_utf8_lossy(&unloaded.stderr)
    );
    let twice = cli(state.path(), &["strategy", "unload", "complement_arb"]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("no strategy `complement_arb`"));
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(5);
    }

    let out = host.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["swaps"], 1, "{summary}");
    assert_eq!(summary["strategies"][1]["state"], "unloaded", "{summary}");
    assert_eq!(summary["events_missed"], 0, "{summary}");
    // The host is gone: the CLI says so.
    let gone = cli(state.path(), &["status"]);
    assert_eq!(gone.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no running host"));
}
