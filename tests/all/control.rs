//! The control API of a running host: bearer-token auth, every route against a paced
//! replay, Prometheus text, operator actions from the CLI, and hot swaps asked for by
//! `polybox strategy swap`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use polybox_tests::fake_market::FakeMarket;
use polybox_tests::{component, polybox_bin};

/// `polybox` with the test host's state dir and kill switch.
pub(crate) fn cli(state: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(polybox_bin())
        .args(["--set", &format!("store.dir=\"{}\"", state.display())])
        .args([
            "--set",
            &format!("kill_switch.path=\"{}\"", state.join("kill").display()),
        ])
        .args(args)
        .env_remove("POLYBOX_CONTROL_TOKEN")
        .env("USER", "tester")
        .output()
        .unwrap()
}

/// A running host's control address and token, once it has written them.
pub(crate) async fn control_of(state: &Path) -> (String, String) {
    let addr_file = state.join("control.addr");
    for _ in 0..400 {
        if let Ok(addr) = std::fs::read_to_string(&addr_file) {
            let token = std::fs::read_to_string(state.join("control.token")).unwrap();
            return (addr, token.trim().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no control API came up in {}: {:?}",
        state.display(),
        std::fs::read_dir(state).map(|d| d
            .filter_map(|e| Some(e.ok()?.file_name()))
            .collect::<Vec<_>>())
    );
}

/// Scrape `/metrics` of the host with state dir `state` until `done` holds (10 s at most).
pub(crate) async fn scrape_until(state: &Path, done: impl Fn(&str) -> bool) -> String {
    let (addr, token) = control_of(state).await;
    let http = reqwest::Client::new();
    let mut text = String::new();
    for _ in 0..100 {
        text = http
            .get(format!("http://{addr}/metrics"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if done(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the metrics never showed what was awaited:\n{text}");
}

/// A paced replay of the bundled sample, spread quoter only, serving its control API on
/// a free port with `state` as its state dir.
pub(crate) fn paced_replay(state: &Path, speed: &str, sets: &[&str]) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(polybox_bin());
    cmd.args(["replay", "--json", "--speed", speed])
        .arg("--strategy")
        .arg(component("strategies/spread-quoter"))
        .args(["--set", &format!("store.dir=\"{}\"", state.display())])
        .args([
            "--set",
            &format!("kill_switch.path=\"{}\"", state.join("kill").display()),
        ])
        .args(["--set", "control.listen=\"127.0.0.1:0\""]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    cmd.env("POLYBOX_LOG", "error")
        .env_remove("POLYBOX_CONTROL_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// One sample of Prometheus text: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parse the Prometheus text exposition format strictly: every line a `# HELP`, a
/// `# TYPE` with a known type, or a sample `name{label="value",...} number`.
fn parse_prometheus(text: &str) -> Result<(BTreeMap<String, String>, Vec<Sample>), String> {
    let name_ok = |n: &str| {
        n.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or(format!("bad TYPE: {line}"))?;
            if !name_ok(name)
                || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
            {
                return Err(format!("bad TYPE: {line}"));
            }
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| format!("bad value: {line}"))?,
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .ok_or(format!("bad labels: {line}"))?;
                let mut labels = BTreeMap::new();
                for pair in body.split(',').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').ok_or(format!("bad label: {line}"))?;
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .ok_or(format!("unquoted label: {line}"))?;
                    if !name_ok(k) {
                        return Err(format!("bad label name: {line}"));
                    }
                    labels.insert(k.to_owned(), v.to_owned());
                }
                (name, labels)
            }
        };
        if !name_ok(name) {
            return Err(format!("bad metric name: {line}"));
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            .unwrap_or(name);
        if !types.contains_key(family) {
            return Err(format!("a sample before its TYPE: {line}"));
        }
        samples.push((name.to_owned(), labels, value));
    }
    Ok((types, samples))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_replay_serves_every_route_to_the_token_holder_only() {
    let state = tempfile::tempdir().unwrap();
    // Two positions at most: the quoter's other markets are refused, a reason to count.
    let host = paced_replay(state.path(), "30", &["risk.max_positions=2"]);
    let (addr, token) = control_of(state.path()).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("http://{addr}{path}");
    // Without the token (or with a wrong one): 401 everywhere, the dashboard a login form.
    for path in ["/api/status", "/api/positions", "/metrics", "/api/events"] {
        let r = http.get(url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = http
            .get(url(path))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let r = http
        .post(url("/api/kill"))
        .json(&serde_json::json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no kill without the token");
    let login = http.get(url("/")).send().await.unwrap();
    assert_eq!(login.status(), 401);
    assert!(
        login.text().await.unwrap().contains("<form"),
        "a login form"
    );
    assert_eq!(
        http.get(url("/?token=wrong"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // The token once in the URL: a cookie, and the token leaves the address bar.
    let first = http
        .get(url(&format!("/?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 303);
    assert_eq!(first.headers()["location"], "/");
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let jar = cookie.split(';').next().unwrap().to_owned();
    let page = http
        .get(url("/"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text().await.unwrap().contains("EventSource"),
        "the dashboard page"
    );
    let api = http
        .get(url("/api/status"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200, "the cookie opens the API too");

    let get = |path: &'static str| {
        let r = http.get(url(path)).bearer_auth(&token).send();
        async move {
            let r = r.await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    // Wait for trading.
    let mut fills = serde_json::Value::Null;
    for _ in 0..100 {
        fills = get("/api/fills").await;
        if fills.as_array().is_some_and(|f| f.len() >= 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let f = &fills[0];
    assert_eq!(f["strategy"], "spread_quoter", "{fills}");
    assert!(
        f["price"].is_string() && f["size"].is_string() && f["order"].is_u64(),
        "{f}"
    );
    assert!(
        fills[0]["ts"].as_u64() >= fills[1]["ts"].as_u64(),
        "newest first: {fills}"
    );
    let status = get("/api/status").await;
    assert_eq!(status["mode"], "paper", "{status}");
    assert_eq!(status["kill_switch"]["engaged"], false, "{status}");
    assert!(status["summary"]["events"].as_u64() > Some(0), "{status}");
    let positions = get("/api/positions").await;
    let p = &positions[0];
    for key in [
        "token",
        "size",
        "avg_price",
        "mark",
        "realized_pnl",
        "unrealized_pnl",
    ] {
        assert!(p[key].is_string(), "{key} in {p}");
    }
    assert_eq!(p["strategy"], "spread_quoter");
    let orders = get("/api/orders").await;
    assert!(orders.is_array(), "{orders}");
    for o in orders.as_array().unwrap() {
        assert_eq!(o["state"], "open", "{o}");
    }
    let risk = get("/api/risk").await;
    assert_eq!(risk["limits"]["max_positions"], 2, "{risk}");
    assert_eq!(risk["limits"]["max_daily_loss_usdc"], "30", "{risk}");
    assert!(
        risk["bankroll"].is_string() && risk["exposure_usdc"].is_string(),
        "{risk}"
    );
    assert_eq!(risk["breaker"], serde_json::Value::Null, "{risk}");
    let strategies = get("/api/strategies").await;
    assert_eq!(strategies[0]["name"], "spread_quoter", "{strategies}");
    let snapshot = get("/api/snapshot").await;
    for key in [
        "status",
        "strategies",
        "positions",
        "orders",
        "fills",
        "risk",
        "equity",
    ] {
        assert!(!snapshot[key].is_null(), "{key} in the snapshot");
    }
    assert!(
        snapshot["equity"].as_array().is_some_and(|e| !e.is_empty()),
        "an equity curve"
    );
    // The live feed: server-sent snapshots.
    let mut events = http
        .get(url("/api/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut sse = String::new();
    while !sse.contains("\n\n") {
        sse += &String::from_utf8_lossy(&events.chunk().await.unwrap().unwrap());
    }
    let data = sse
        .strip_prefix("data: ")
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let pushed: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(pushed["status"]["mode"], "paper");
    drop(events);

    // Prometheus text, twice (the rate needs two scrapes).
    let metrics = |http: reqwest::Client| {
        let r = http.get(url("/metrics")).bearer_auth(&token).send();
        async move {
            let r = r.await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/plain")
            );
            r.text().await.unwrap()
        }
    };
    metrics(http.clone()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = metrics(http.clone()).await;
    let (types, samples) = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for (name, kind) in [
        ("polybox_events_total", "counter"),
        ("polybox_events_per_second", "gauge"),
        ("polybox_callback_seconds", "histogram"),
        ("polybox_intents_total", "counter"),
        ("polybox_orders", "gauge"),
        ("polybox_fills_total", "counter"),
        ("polybox_pnl_usdc", "gauge"),
        ("polybox_bankroll_usdc", "gauge"),
        ("polybox_exposure_usdc", "gauge"),
        ("polybox_daily_pnl_usdc", "gauge"),
        ("polybox_positions", "gauge"),
        ("polybox_breaker_tripped", "gauge"),
        ("polybox_feed_reconnects_total", "counter"),
        ("polybox_feed_message_age_seconds", "gauge"),
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some(kind),
            "{name}\n{text}"
        );
    }
    let value = |name: &str, want: &[(&str, &str)]| {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && want
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.2)
    };
    let q = [("strategy", "spread_quoter")];
    assert!(value("polybox_events_total", &[]) > Some(0.0), "{text}");
    assert!(
        value("polybox_events_per_second", &[]) > Some(0.0),
        "{text}"
    );
    assert!(value("polybox_fills_total", &q) >= Some(2.0), "{text}");
    assert!(
        value("polybox_callback_seconds_count", &q) > Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(
            "polybox_callback_seconds_bucket",
            &[("strategy", "spread_quoter"), ("le", "+Inf")]
        ),
        value("polybox_callback_seconds_count", &q),
        "{text}"
    );
    assert!(
        value(
            "polybox_intents_total",
            &[("strategy", "spread_quoter"), ("verdict", "accepted")]
        ) > Some(0.0),
        "{text}"
    );
    assert!(
        value(
            "polybox_intents_total",
            &[("verdict", "rejected"), ("reason", "max_positions")]
        ) > Some(0.0),
        "refusals by reason: {text}"
    );
    assert!(
        value("polybox_orders", &[("state", "open")]).is_some(),
        "{text}"
    );
    assert!(
        value(
            "polybox_pnl_usdc",
            &[("strategy", "spread_quoter"), ("kind", "realized")]
        )
        .is_some()
    );
    assert!(value("polybox_bankroll_usdc", &[]) > Some(0.0), "{text}");

    // Operator actions from the CLI go to the running host.
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(cli(state.path(), &["strategy", "pause", "spread_quoter"]));
    let s = get("/api/strategies").await;
    assert_eq!(s[0]["paused"], true, "{s}");
    assert_eq!(
        get("/api/orders").await,
        serde_json::json!([]),
        "a paused strategy's orders are cancelled"
    );
    ok(cli(state.path(), &["strategy", "resume", "spread_quoter"]));
    assert_eq!(get("/api/strategies").await[0]["paused"], false);
    let unknown = cli(state.path(), &["strategy", "pause", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nobody"));

    let said = ok(cli(
        state.path(),
        &["kill", "--cancel-all", "--reason", "drill"],
    ));
    assert!(said.contains("running host"), "{said}");
    let status = get("/api/status").await;
    assert_eq!(status["kill_switch"]["engaged"], true, "{status}");
    assert_eq!(status["kill_switch"]["reason"], "drill", "{status}");
    assert_eq!(
        get("/api/orders").await,
        serde_json::json!([]),
        "--cancel-all cancels every order"
    );
    ok(cli(state.path(), &["resume", "--reason", "drill over"]));
    assert_eq!(get("/api/status").await["kill_switch"]["engaged"], false);
    assert!(!state.path().join("kill").exists(), "the kill file is gone");
    let reset = ok(cli(
        state.path(),
        &["risk", "reset-breaker", "--reason", "reviewed"],
    ));
    assert!(reset.contains("not tripped"), "{reset}");
    let journal = get("/api/risk").await["journal"].clone();
    let actions: Vec<(&str, &str, &str)> = journal
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["who"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    for want in [
        ("kill --cancel-all", "tester", "drill"),
        ("resume", "tester", "drill over"),
        ("reset-breaker", "tester", "reviewed"),
    ] {
        assert!(actions.contains(&want), "{want:?} in {actions:?}");
    }
    // Through the API directly: a kill without a reason is bad input.
    let r = http
        .post(url("/api/kill"))
        .bearer_auth(&token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a kill needs a reason");

    let out = host.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        summary["rejected"]["max_positions"].as_u64() > Some(0),
        "{summary}"
    );
    assert!(
        !state.path().join("control.addr").exists(),
        "the address is withdrawn at the end"
    );
    // No host now: the CLI acts on the files.
    let offline = ok(cli(state.path(), &["kill", "--reason", "offline"]));
    assert!(!offline.contains("running host"), "{offline}");
    assert!(state.path().join("kill").exists());
}

/// Where a test keeps what it produced for people to look at.
pub(crate) fn output_dir(test: &str) -> PathBuf {
    let dir = polybox_tests::root().join("target/test-output").join(test);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
