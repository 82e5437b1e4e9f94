//! Interop of OUR node host (the `pincer-node` binary) with the REAL OpenClaw gateway (npm
//! `openclaw@2026.9.6`, `openclaw gateway run`), driven by the real OpenClaw CLI (`openclaw
//! devices …`, `nodes …`, `approvals get`, `gateway call node.invoke`).
//!
//! The OpenClaw wrapper comes from `scripts/install-openclaw.sh` (`$PINCER_OPENCLAW_BIN`, else
//! `~/.cache/pincer/openclaw/bin/openclaw`). When it is missing these tests FAIL and say so;
//! they never skip.
//!
//! Costs: the OpenClaw gateway takes ~10 s to start (5-10 s to restart) and every `openclaw …`
//! CLI call ~1.5-2.5 s, so each test groups many assertions, and the timeouts are generous
//! upper bounds, not performance targets. The tests of this binary run one at a time: a
//! process-wide lock (for `cargo test`) and the `interop-openclaw` test group in
//! `.config/nextest.toml` (shared with `interop_openclaw`). Every child lives in a
//! `ChildGuard`, so a failing test kills its whole process group; a failing test prints the
//! tails of the OpenClaw gateway's console and file logs and of pincer-node's log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pincer_client::{ConnectOptions, GatewayClient};
use pincer_protocol::scopes::{ADMIN, PAIRING, READ};
use pincer_tests::desktop::DesktopSession;
use pincer_tests::free_port;
use pincer_tests::interop::*;
use pincer_tests::openclaw::{OpenClawGateway, OpenClawSpec};
use serde_json::{json, Value};

/// `openclaw gateway run` → first `health` (8-20 s observed on 2 cores; cold caches slower).
const OPENCLAW_READY: Duration = Duration::from_secs(180);
/// pincer-node's reconnect backoff is capped at 30 s; plus the gateway's own slowness.
const NODE_RECONNECT: Duration = Duration::from_secs(120);

/// The commands a default `pincer-node` (no screen/camera/location) declares, sorted.
const DECLARED: [&str; 6] =
    ["system.execApprovals.get", "system.execApprovals.set", "system.notify", "system.run", "system.run.prepare", "system.which"];

// ------------------------------------------------------------------------------------------
// Harness
// ------------------------------------------------------------------------------------------

/// The real OpenClaw gateway on a free loopback port, state in `<scene>/openclaw`.
struct Peer {
    gw: OpenClawGateway,
    cli: OpenClawCli,
    dir: PathBuf,
}

impl Peer {
    async fn start(scene: &Scene, auto_approve_local: bool) -> Peer {
        let dir = scene.dir("openclaw");
        eprintln!("[interop] state under {}", scene.root.path().display());
        let spec = OpenClawSpec { auto_approve_local, ..OpenClawSpec::new(free_port().unwrap(), TOKEN, &dir) };
        let gw = Self::spawn(spec).await;
        let cli = OpenClawCli::new(scene, gw.url());
        Peer { gw, cli, dir }
    }

    async fn spawn(spec: OpenClawSpec) -> OpenClawGateway {
        let out = spec.state_dir.join("gateway.out");
        let gw = OpenClawGateway::start(spec, &openclaw(), OPENCLAW_READY)
            .await
            .unwrap_or_else(|e| panic!("the OpenClaw gateway did not come up: {e}\n{}", tail(&out, 60)));
        eprintln!("[interop] openclaw gateway on port {} ready after {:.1} s", gw.spec.port, gw.ready_after.as_secs_f64());
        gw
    }

    fn url(&self) -> String {
        self.gw.url()
    }

    /// SIGTERM the gateway and start it again on the same port and state dir. Its console
    /// log of the first run is kept as `gateway.out.1` (the start truncates `gateway.out`).
    async fn restart(&mut self) {
        let took = self.gw.stop().unwrap();
        assert!(took.is_some(), "the OpenClaw gateway ignored SIGTERM for 10 s:\n{}", tail(&self.dir.join("gateway.out"), 40));
        eprintln!("[interop] openclaw gateway stopped after {:.1} s", took.unwrap().as_secs_f64());
        std::fs::copy(self.dir.join("gateway.out"), self.dir.join("gateway.out.1")).unwrap();
        let spec = self.gw.spec.clone();
        // The old guard is replaced (and so dropped) only once the new gateway is up.
        self.gw = Self::spawn(spec).await;
    }

    /// A token-only `cli` operator from this process, for fast polling between CLI calls.
    async fn operator(&self) -> GatewayClient {
        let opts = ConnectOptions::operator(self.url(), TOKEN, &[ADMIN, PAIRING, READ]).with_request_timeout(Duration::from_secs(30));
        GatewayClient::connect(opts).await.unwrap().0
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for name in ["gateway.out.1", "gateway.out"] {
            let path = self.dir.join(name);
            if path.exists() {
                eprintln!("---- openclaw gateway ({}) last lines ----\n{}", path.display(), tail(&path, 40));
            }
        }
        let path = self.dir.join("logs/openclaw.log");
        eprintln!("---- openclaw gateway ({}) last lines, condensed ----\n{}", path.display(), condensed_log(&tail(&path, 40)));
    }
}

/// OpenClaw's JSON-lines file log as `time level message {fields}` lines.
fn condensed_log(text: &str) -> String {
    let line = |raw: &str| -> String {
        let Ok(v) = serde_json::from_str::<Value>(raw) else { return raw.to_string() };
        let fields = if v["1"].is_object() { v["1"].to_string() } else { String::new() };
        let text = format!(
            "{} {} {} {fields}",
            v["time"].as_str().unwrap_or_default(),
            v["_meta"]["logLevelName"].as_str().unwrap_or_default(),
            v["message"].as_str().or(v["2"].as_str()).or(v["1"].as_str()).unwrap_or_default(),
        );
        text.chars().take(600).collect()
    };
    text.lines().map(line).collect::<Vec<_>>().join("\n")
}

/// Call `method` on `op` until `pred` holds for its result; returns that result.
async fn poll(op: &GatewayClient, method: &str, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let last = op.request(method, json!({})).await.unwrap_or_else(|e| panic!("{method}: {e}"));
        if pred(&last) {
            return last;
        }
        assert!(started.elapsed() < timeout, "{what}: not within {timeout:?}; last {method}: {last}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The first `dir/name` on our PATH that is a file (pincer-node inherits this PATH).
fn on_path(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).unwrap_or_else(|| panic!("no {name} on PATH {path}"))
}

/// Exec approvals that allow exactly `uname` (by its absolute path) for agent `main`, with
/// pincer-node's defaults otherwise (allowlist / on-miss / askFallback=deny).
fn allow_uname() -> Value {
    json!({
        "version": 1,
        "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"},
        "agents": {"main": {"allowlist": [{"pattern": on_path("uname").display().to_string()}]}},
    })
}

/// The device token pincer-node stored for `url` (`--secrets file` keeps it in secrets.json).
fn stored_device_token(node: &PincerNode, url: &str) -> Option<String> {
    let text = std::fs::read_to_string(node.dir.join("secrets.json")).ok()?;
    let map: Value = serde_json::from_str(&text).ok()?;
    map[format!("device-token|{url}|node")].as_str().map(str::to_string)
}

/// The request id pincer-node named in its "pairing required" line.
fn logged_request_id(log: &str) -> Option<String> {
    const MARK: &str = "waits for approval of request ";
    let start = log.rfind(MARK)? + MARK.len();
    let id: String = log[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    (!id.is_empty()).then_some(id)
}

/// `openclaw nodes invoke … system.which {"bins":["ls"]}` answered from pincer-node.
async fn which_ls(cli: &OpenClawCli, node_id: &str, path_env: Option<&str>) {
    let which =
        cli.json(&["nodes", "invoke", "--node", node_id, "--command", "system.which", "--params", r#"{"bins":["ls"]}"#, "--json"]).await;
    assert_eq!(which["nodeId"], node_id, "{which}");
    assert_which_ls(&which, path_env);
}

/// `openclaw nodes approve` for the node's pending command surface; returns the approval.
async fn approve_surface(cli: &OpenClawCli, op: &GatewayClient, node_id: &str, expected: &[&str]) -> Value {
    let list = poll(op, "node.pair.list", "a node-surface request", NODE_RECONNECT, |l| {
        l["pending"].as_array().is_some_and(|a| a.iter().any(|p| p["nodeId"] == node_id))
    })
    .await;
    let pending = cli.json(&["nodes", "pending", "--json"]).await;
    let entry = only(&pending, "nodes pending");
    assert_eq!(entry["nodeId"], node_id, "{entry}\nnode.pair.list: {list}");
    assert_eq!(entry["platform"], "linux", "{entry}");
    assert_eq!(entry["clientId"], "node-host", "{entry}");
    let mut commands = strings(&entry["commands"]);
    commands.sort_unstable();
    assert_eq!(commands, expected, "the pending command surface: {entry}");
    assert!(strings(&entry["requiredApproveScopes"]).contains(&"operator.admin"), "system.* needs admin: {entry}");
    let request_id = entry["requestId"].as_str().unwrap().to_string();
    let approved = cli.json(&["nodes", "approve", &request_id, "--json"]).await;
    assert_eq!(approved["requestId"], request_id.as_str(), "{approved}");
    assert_eq!(approved["node"]["nodeId"], node_id, "{approved}");
    approved
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

/// 1. Manual pairing (`autoApproveLocal: false`) of pincer-node with the real OpenClaw
/// gateway: refused with PAIRING_REQUIRED (request id logged, one pending request however
/// often it retries), `openclaw devices approve` → pincer-node connects by itself with a
/// device token, `openclaw nodes approve` → OpenClaw describes it as a connected linux node
/// with exactly its declared commands; then `system.which`, an allowlisted `system.run`, a
/// denied `system.run`, the node's approvals through `openclaw approvals get --node`, and
/// `system.notify` shown by a real notification daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the serial lock is meant to span the whole test
async fn pincer_node_manual_pairing_and_commands_against_real_openclaw() {
    let _serial = serial();
    let scene = Scene::new("pn-manual");
    let desktop = DesktopSession::start(true).unwrap();
    let peer = Peer::start(&scene, false).await;
    let op = peer.operator().await;
    let url = peer.url();

    let mut node = PincerNode::new(scene.dir("pincer-node"), &url, TOKEN, "pincer-manual");
    for (k, v) in desktop.env() {
        node = node.with_env(&k, &v);
    }
    node.write_approvals(&allow_uname());
    let node_id = node.node_id();
    let mut node = node.start();

    // Refused: NOT_PAIRED / PAIRING_REQUIRED, with the request id in pincer-node's log.
    node.wait_log("pairing required", NODE_CONNECT).await;
    let logged = logged_request_id(&node.log()).unwrap_or_else(|| panic!("no request id in pincer-node's log:\n{}", node.log()));
    let devices = cli_devices(&peer.cli).await;
    assert_eq!(devices["paired"], json!([]), "{devices}");
    let pending = only(&devices["pending"], "pending devices");
    let request_id = pending["requestId"].as_str().unwrap().to_string();
    assert_eq!(logged, request_id, "pincer-node must log the gateway's request id: {pending}");
    assert_eq!(pending["deviceId"], node_id.as_str(), "{pending}");
    assert_eq!(pending["clientId"], "node-host", "{pending}");
    assert_eq!(pending["clientMode"], "node", "{pending}");
    assert_eq!(pending["role"], "node", "{pending}");
    assert_eq!(pending["displayName"], "pincer-manual", "{pending}");
    assert_eq!(pending["platform"], "linux", "{pending}");
    assert!(stored_device_token(&node, &url).is_none(), "no device token before approval");

    // It keeps retrying (1 s, 2 s, … backoff) without piling up requests at the gateway.
    node.wait_log_count("pairing required", 3, SHORT).await;
    let devices = cli_devices(&peer.cli).await;
    let pending = only(&devices["pending"], "pending devices after retries");
    let request_id = pending["requestId"].as_str().unwrap().to_string();
    assert_eq!(logged_request_id(&node.log()).as_deref(), Some(request_id.as_str()), "the latest logged id is the pending one");

    let approved = peer.cli.json(&["devices", "approve", &request_id, "--json"]).await;
    assert_eq!(approved["requestId"], request_id.as_str(), "{approved}");
    assert_eq!(approved["device"]["deviceId"], node_id.as_str(), "{approved}");
    assert_eq!(approved["device"]["approvedVia"], "owner", "{approved}");
    assert!(
        approved["device"]["tokens"].as_array().is_some_and(|t| t.iter().any(|t| t["role"] == "node")),
        "a node-role token is issued: {approved}"
    );

    // pincer-node resumes by itself (same process, no restart) and stores its device token.
    node.wait_log("connected as node", NODE_RECONNECT).await;
    eprintln!("[interop] pincer-node connected {:.1} s after it started", node.started.elapsed().as_secs_f64());
    assert_eq!(node.log().matches("pincer-node starting").count(), 1, "pincer-node must not have restarted:\n{}", node.log());
    let token = stored_device_token(&node, &url).unwrap_or_else(|| panic!("no device token stored after hello-ok:\n{}", node.log()));
    assert!(!token.is_empty() && token != TOKEN, "the stored token is the gateway's device token");

    // The command surface waits for `openclaw nodes approve`.
    approve_surface(&peer.cli, &op, &node_id, &DECLARED).await;

    let described = peer.cli.json(&["nodes", "describe", "--node", &node_id, "--json"]).await;
    assert_eq!(described["nodeId"], node_id.as_str(), "{described}");
    assert_eq!(described["displayName"], "pincer-manual", "{described}");
    assert_eq!(described["platform"], "linux", "{described}");
    assert_eq!(described["deviceFamily"], "Linux", "{described}");
    assert_eq!(described["clientId"], "node-host", "{described}");
    assert_eq!(described["connected"], true, "{described}");
    assert_eq!(described["paired"], true, "{described}");
    let mut commands = strings(&described["commands"]);
    commands.sort_unstable();
    assert_eq!(commands, DECLARED, "OpenClaw's linux policy keeps every command pincer-node declares: {described}");
    assert_eq!(strings(&described["caps"]), ["system"], "{described}");
    let path_env = described["pathEnv"].as_str().map(str::to_string);

    which_ls(&peer.cli, &node_id, path_env.as_deref()).await;

    // system.run of the allowlisted uname (the CLI's `nodes invoke` refuses system.run).
    let run = invoke_run(&peer.cli, &node_id, &["uname", "-s"], "k1").await;
    let run = run.json();
    assert_eq!(run["ok"], true, "{run}");
    assert_eq!(run["payload"]["stdout"], "Linux\n", "{run}");
    assert_eq!(run["payload"]["exitCode"], 0, "{run}");
    assert_eq!(run["payload"]["success"], true, "{run}");
    assert_eq!(run["payload"]["timedOut"], false, "{run}");

    // system.run of something not allowlisted: no one can be asked, askFallback=deny.
    let denied = invoke_run(&peer.cli, &node_id, &["id", "-u"], "k2").await;
    assert!(!denied.status.success(), "a denied system.run must fail the call:\n{}\n{}", denied.stdout, denied.stderr);
    let denied = parse_json(&denied.stdout).unwrap_or_else(|| panic!("no JSON error:\n{}\n{}", denied.stdout, denied.stderr));
    assert_eq!(denied["ok"], false, "{denied}");
    assert_eq!(denied["error"]["code"], "UNAVAILABLE", "{denied}");
    assert!(denied["error"]["message"].as_str().unwrap_or_default().contains("SYSTEM_RUN_DENIED"), "{denied}");
    // OpenClaw passes pincer-node's own error on unchanged.
    assert_eq!(
        denied["error"]["details"]["nodeError"],
        json!({"code": "UNAVAILABLE", "message": "SYSTEM_RUN_DENIED: approval required"}),
        "{denied}"
    );
    let audit = std::fs::read_to_string(node.dir.join("exec-audit.jsonl")).unwrap();
    let decisions: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(decisions.len(), 2, "one audit line per decision:\n{audit}");
    assert_eq!((decisions[0]["decision"].as_str(), decisions[0]["argv"][0].as_str()), (Some("allow"), Some("uname")), "{audit}");
    assert_eq!((decisions[1]["decision"].as_str(), decisions[1]["argv"][0].as_str()), (Some("deny"), Some("id")), "{audit}");

    // The node's approvals file, read through OpenClaw's exec.approvals.node.get.
    let approvals = peer.cli.json(&["approvals", "get", "--node", &node_id, "--json"]).await;
    assert_eq!(approvals["path"], node.dir.join("exec-approvals.json").display().to_string().as_str(), "{approvals}");
    assert_eq!(approvals["exists"], true, "{approvals}");
    let allowlist = &approvals["file"]["agents"]["main"]["allowlist"];
    assert_eq!(allowlist[0]["pattern"], on_path("uname").display().to_string().as_str(), "{approvals}");
    assert!(approvals["hash"].as_str().is_some_and(|h| !h.is_empty()), "{approvals}");

    // system.notify through `openclaw nodes notify`, shown by dunst on the test's desktop.
    let (title, body) = ("Pincer interop", "hello from the real OpenClaw gateway");
    let sent = peer.cli.json(&["nodes", "notify", "--node", &node_id, "--title", title, "--body", body, "--json"]).await;
    assert_eq!(sent["ok"], true, "{sent}");
    let shown = desktop.notifications().unwrap();
    assert!(shown.contains(&(title.to_string(), body.to_string())), "dunst showed {shown:?}");

    let invokes = node.log().matches("invoke served").count();
    assert_eq!(invokes, 5, "which, run, denied run, approvals get, notify:\n{}", node.log());
}

/// 2. Default config (`autoApproveLocal: true`): the loopback device pairing is silent
/// (pincer-node never sees PAIRING_REQUIRED), only the command surface needs `openclaw nodes
/// approve`, and then `system.which` works. With camera and location switched on, OpenClaw's
/// policy approves camera.list and location.get with the surface but withholds camera.snap and
/// camera.clip ("dangerous"), and refuses them itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn pincer_node_silent_loopback_pairing_against_real_openclaw() {
    let _serial = serial();
    let scene = Scene::new("pn-silent");
    let peer = Peer::start(&scene, true).await;
    let op = peer.operator().await;
    let url = peer.url();
    // Camera and location switched on: pincer-node declares camera.* and location.get too,
    // which OpenClaw's linux policy does not allow (camera.snap/clip are "dangerous").
    let node = PincerNode::new(scene.dir("pincer-node"), &url, TOKEN, "pincer-silent").with_args(&["--enable-camera", "--enable-location"]);
    let node_id = node.node_id();
    let mut node = node.start();

    node.wait_log("connected as node", NODE_CONNECT).await;
    assert!(!node.log().contains("pairing required"), "silent pairing must not ask:\n{}", node.log());
    assert!(stored_device_token(&node, &url).is_some(), "device token stored:\n{}", node.log());

    let devices = cli_devices(&peer.cli).await;
    assert_eq!(devices["pending"], json!([]), "{devices}");
    let device = only(&devices["paired"], "paired devices");
    assert_eq!(device["deviceId"], node_id.as_str(), "{device}");
    assert_eq!(device["approvedVia"], "silent", "{device}");
    assert_eq!(device["clientId"], "node-host", "{device}");
    assert_eq!(device["role"], "node", "{device}");

    // Until `nodes approve`, OpenClaw hides the node's commands. Its pending surface keeps
    // what pairing may approve and withholds the "dangerous" camera.snap/clip.
    let before = op.request("node.describe", json!({"nodeId": node_id})).await.unwrap();
    assert_eq!(before["connected"], true, "{before}");
    assert_eq!(before["commands"], json!([]), "commands are hidden before approval: {before}");

    let mut expected = DECLARED.to_vec();
    expected.extend(["camera.list", "location.get"]);
    expected.sort_unstable();
    approve_surface(&peer.cli, &op, &node_id, &expected).await;
    let nodes = peer.cli.json(&["nodes", "list", "--json"]).await;
    assert_eq!(nodes["pending"], json!([]), "{nodes}");
    let listed = only(&nodes["paired"], "nodes list paired");
    assert_eq!(listed["nodeId"], node_id.as_str(), "{listed}");
    assert_eq!(listed["connected"], true, "{listed}");
    assert_eq!(listed["platform"], "linux", "{listed}");
    let described = op.request("node.describe", json!({"nodeId": node_id})).await.unwrap();
    which_ls(&peer.cli, &node_id, described["pathEnv"].as_str()).await;
    let mut effective = strings(&described["commands"]);
    effective.sort_unstable();
    assert_eq!(effective, expected, "the approved surface: {described}");

    // camera.list was approved with the surface: it reaches pincer-node (no camera here or
    // some; either way a device list).
    let cameras = peer.cli.json(&["nodes", "invoke", "--node", &node_id, "--command", "camera.list", "--params", "{}", "--json"]).await;
    assert!(cameras["payload"]["devices"].is_array(), "{cameras}");
    // camera.snap is declared but "dangerous": OpenClaw refuses it without asking pincer-node.
    let snap = peer.cli.run(&["nodes", "invoke", "--node", &node_id, "--command", "camera.snap", "--params", "{}", "--json"]).await;
    assert!(!snap.status.success(), "camera.snap must be refused:\n{}", snap.stdout);
    assert!(snap.stdout.contains("requires explicit gateway.nodes.commands.allow opt-in"), "{}\n{}", snap.stdout, snap.stderr);
    let log = node.log();
    let served: Vec<&str> = log.lines().filter(|l| l.contains("invoke served")).map(|l| l.split("command=").nth(1).unwrap_or("")).collect();
    assert_eq!(served.len(), 2, "only which and camera.list reached pincer-node: {served:?}");
    assert!(served[0].starts_with("system.which ") && served[1].starts_with("camera.list "), "{served:?}");
}

/// 3. A paired and approved pincer-node survives an OpenClaw gateway restart (SIGTERM, start
/// again on the same port and state dir): it reconnects by itself with its stored device
/// token, no new device or node pairing request appears, and `system.which` works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn pincer_node_reconnects_after_real_openclaw_restart() {
    let _serial = serial();
    let scene = Scene::new("pn-restart");
    let mut peer = Peer::start(&scene, true).await;
    let op = peer.operator().await;
    let url = peer.url();
    let node = PincerNode::new(scene.dir("pincer-node"), &url, TOKEN, "pincer-restart");
    let node_id = node.node_id();
    let mut node = node.start();

    node.wait_log("connected as node", NODE_CONNECT).await;
    approve_surface(&peer.cli, &op, &node_id, &DECLARED).await;
    which_ls(&peer.cli, &node_id, None).await;
    let token = stored_device_token(&node, &url).expect("device token stored");
    let before = op.request("device.pair.list", json!({})).await.unwrap();
    let device_before = only(&before["paired"], "paired devices").clone();
    // OpenClaw stamps a device token's lastUsedAtMs only when a connect authenticates with it.
    // The first connect used the shared token (the device token came in its hello-ok).
    let token_before = only(&device_before["tokens"], "device tokens").clone();
    assert_eq!(token_before["role"], "node", "{device_before}");
    assert!(token_before.get("lastUsedAtMs").is_none(), "not used yet: {device_before}");
    drop(op);

    let restarted_at_ms = pincer_protocol::now_ms();
    peer.restart().await;

    // The gateway closed with 1012 (service restart); pincer-node retries with its backoff.
    node.wait_log("offline:", SHORT).await;
    node.wait_log_count("connected as node", 2, NODE_RECONNECT).await;
    eprintln!("[interop] pincer-node reconnected; {} \"offline\" lines", node.log().matches("offline:").count());
    assert_eq!(node.log().matches("pincer-node starting").count(), 1, "pincer-node must not have restarted:\n{}", node.log());
    assert!(!node.log().contains("pairing required"), "no pairing after the restart:\n{}", node.log());
    assert!(!node.log().contains("no longer accepts this node's device token"), "the device token still works:\n{}", node.log());

    let op = peer.operator().await;
    let entry = poll(&op, "node.list", "pincer-node connected again", NODE_RECONNECT, |l| {
        l["nodes"].as_array().is_some_and(|a| a.iter().any(|n| n["nodeId"] == node_id.as_str() && n["connected"] == true))
    })
    .await;
    let devices = cli_devices(&peer.cli).await;
    assert_eq!(devices["pending"], json!([]), "no new device request after the restart: {devices}");
    let device_after = only(&devices["paired"], "paired devices");
    assert_eq!(
        device_after["approvedAtMs"], device_before["approvedAtMs"],
        "the device was not re-approved: {device_after}\nbefore: {device_before}"
    );
    // The reconnect authenticated with the stored device token (the same one: not re-issued).
    let token_after = only(&device_after["tokens"], "device tokens");
    assert_eq!(token_after["createdAtMs"], token_before["createdAtMs"], "{device_after}");
    let used = token_after["lastUsedAtMs"].as_i64().unwrap_or_else(|| panic!("device token never used: {device_after}"));
    assert!(used >= restarted_at_ms, "device token last used at {used}, before the restart at {restarted_at_ms}: {device_after}");
    let nodes = op.request("node.pair.list", json!({})).await.unwrap();
    assert_eq!(nodes["pending"], json!([]), "no new node-surface request after the restart: {nodes}");
    assert_eq!(stored_device_token(&node, &url).as_deref(), Some(token.as_str()), "the same device token is kept");
    let path_env = entry["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == node_id.as_str()).unwrap()["pathEnv"].clone();
    which_ls(&peer.cli, &node_id, path_env.as_str()).await;
}

// ------------------------------------------------------------------------------------------
// Small helpers
// ------------------------------------------------------------------------------------------

async fn cli_devices(cli: &OpenClawCli) -> Value {
    cli.json(&["devices", "list", "--json"]).await
}

/// `openclaw gateway call node.invoke` of `system.run` (exit status and output as they are).
async fn invoke_run(cli: &OpenClawCli, node_id: &str, argv: &[&str], key: &str) -> Output {
    let params = json!({"nodeId": node_id, "command": "system.run", "params": {"command": argv}, "idempotencyKey": key});
    cli.run(&["gateway", "call", "node.invoke", "--params", &params.to_string(), "--json"]).await
}
