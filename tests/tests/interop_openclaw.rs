//! Interop with the REAL OpenClaw (npm `openclaw@2026.9.6`): its CLI (`openclaw gateway call`,
//! `devices …`, `nodes …`) and its headless node host (`openclaw node run`) against the real
//! `pincer-gateway` binary, spawned as a child process on a free loopback port with its own
//! state dir and `--token`.
//!
//! The OpenClaw wrapper comes from `scripts/install-openclaw.sh` (`$PINCER_OPENCLAW_BIN`, else
//! `~/.cache/pincer/openclaw/bin/openclaw`). When it is missing these tests FAIL and say so;
//! they never skip (CI installs it first).
//!
//! Costs: every `openclaw …` CLI call takes ~1.5-2.5 s before it does anything, and the node
//! host needs 5-30 s to start on a busy 2-core machine, so each test groups its assertions and
//! the timeouts below are generous upper bounds, not performance targets. The tests of this
//! binary run one at a time: a process-wide lock here (for `cargo test`) and the
//! `interop-openclaw` test group in `.config/nextest.toml` (nextest runs each test in its own
//! process). Every child (gateway, node host, CLI call) lives in a `ChildGuard`, so a failing
//! test kills its whole process group.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pincer_client::{ConnectOptions, GatewayClient};
use pincer_protocol::scopes::{ADMIN, PAIRING, READ};
use pincer_tests::openclaw::openclaw_bin;
use pincer_tests::{free_port, wait_for_health, workspace_bin, workspace_root, ChildGuard, TempState};
use serde_json::{json, Value};

const TOKEN: &str = "interop-token-0123456789";
/// One CLI call (`openclaw …` or `pincer-gateway devices|nodes …`).
const CLI_TIMEOUT: Duration = Duration::from_secs(90);
/// `pincer-gateway run` → first `health` (it is up in milliseconds; the rest is slack).
const GATEWAY_READY: Duration = Duration::from_secs(60);
/// `openclaw node run` → its first connect reaching the gateway (5-30 s observed).
const NODE_CONNECT: Duration = Duration::from_secs(180);
/// Waits for things the gateway does right away (events after a CLI call, a reconnect).
const SHORT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------------------------------
// Harness
// ------------------------------------------------------------------------------------------

/// One test at a time under `cargo test` (nextest isolates tests in processes and uses the
/// test group instead). Poisoning by an earlier failed test is irrelevant here.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The OpenClaw wrapper, or a failure that says how to install it.
fn openclaw() -> PathBuf {
    match openclaw_bin() {
        Some(bin) if bin.is_file() => bin,
        other => panic!(
            "the real OpenClaw CLI is not installed (looked for {}). Run scripts/install-openclaw.sh \
             (CI runs it before the tests), or set PINCER_OPENCLAW_BIN to its wrapper. \
             These interop tests never skip.",
            other.map(|p| p.display().to_string()).unwrap_or_else(|| "~/.cache/pincer/openclaw/bin/openclaw".into())
        ),
    }
}

/// Variables that keep any OpenClaw process (CLI or node host) local and quiet (peer doc §2).
const OFFLINE_ENV: &[(&str, &str)] = &[
    ("OPENCLAW_DISABLE_BONJOUR", "1"),
    ("OPENCLAW_SKIP_CHANNELS", "1"),
    ("OPENCLAW_NO_AUTO_UPDATE", "1"),
    ("OPENCLAW_NO_RESPAWN", "1"),
    ("OPENCLAW_OFFLINE", "1"),
    ("DO_NOT_TRACK", "1"),
];

/// Inherited variables that would point an OpenClaw process at some other gateway.
const FOREIGN_ENV: &[&str] =
    &["OPENCLAW_GATEWAY_URL", "OPENCLAW_GATEWAY_PORT", "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD", "OPENCLAW_PROFILE"];

/// An isolated OpenClaw home: `HOME`, `OPENCLAW_STATE_DIR`, and a config whose only setting is
/// its own log file (the default `/tmp/openclaw/…log` is shared by every OpenClaw process).
fn openclaw_env(cmd: &mut Command, dir: &Path) {
    std::fs::create_dir_all(dir.join("home")).unwrap();
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let config = dir.join("openclaw.json");
    if !config.exists() {
        let body = json!({"logging": {"file": dir.join("logs/openclaw.log")}});
        std::fs::write(&config, serde_json::to_string_pretty(&body).unwrap()).unwrap();
    }
    for k in FOREIGN_ENV {
        cmd.env_remove(k);
    }
    cmd.current_dir(dir)
        .env("HOME", dir.join("home"))
        .env("OPENCLAW_STATE_DIR", dir)
        .env("OPENCLAW_CONFIG_PATH", &config)
        .envs(OFFLINE_ENV.iter().copied());
}

static CALLS: AtomicU32 = AtomicU32::new(0);

/// What a finished CLI call printed.
struct Output {
    what: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Output {
    /// The JSON it printed; panics (with both streams) unless it exited 0 with JSON on stdout.
    fn json(&self) -> Value {
        assert!(self.status.success(), "{} failed ({}):\nstdout: {}\nstderr: {}", self.what, self.status, self.stdout, self.stderr);
        parse_json(&self.stdout).unwrap_or_else(|| panic!("{}: no JSON on stdout:\n{}\nstderr: {}", self.what, self.stdout, self.stderr))
    }
}

/// Whole stdout as JSON, else from the first line that opens an object or array.
fn parse_json(text: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str(text.trim()) {
        return Some(v);
    }
    let start = text.lines().scan(0, |pos, line| {
        let here = *pos;
        *pos += line.len() + 1;
        Some((here, line))
    });
    for (pos, line) in start {
        if line.starts_with('{') || line.starts_with('[') {
            if let Ok(v) = serde_json::from_str(text[pos..].trim()) {
                return Some(v);
            }
        }
    }
    None
}

/// Run `cmd` to completion in its own process group (killed on timeout or panic), stdout and
/// stderr into files under `dir` (kept for the failure report).
async fn run_captured(what: &str, mut cmd: Command, dir: &Path, timeout: Duration) -> Output {
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let out_path = dir.join(format!("call-{n:03}.out"));
    let err_path = dir.join(format!("call-{n:03}.err"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let started = Instant::now();
    let mut child = ChildGuard::spawn(what, cmd).unwrap();
    let status = loop {
        if let Some(status) = child.try_status().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            drop(child);
            panic!(
                "{what} did not finish within {timeout:?}:\nstdout: {}\nstderr: {}",
                std::fs::read_to_string(&out_path).unwrap_or_default(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if !what.ends_with(" (poll)") {
        eprintln!("[interop] {what}: {status} in {:.1} s", started.elapsed().as_secs_f64());
    }
    Output {
        what: what.to_string(),
        status,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// The last `n` lines of a log file, for failure reports.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("<{}: {e}>", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Owns a test's temp dir; on a failing test prints the tails of the gateway and node logs.
struct Scene {
    root: TempState,
}

impl Scene {
    fn new(name: &str) -> Scene {
        // Fail first thing (before anything is spawned) when OpenClaw is not installed.
        openclaw();
        Scene { root: TempState::new(&format!("interop-{name}")).unwrap() }
    }

    fn dir(&self, rel: &str) -> PathBuf {
        let dir = self.root.join(rel);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for (label, rel) in [("pincer-gateway", "gateway/gateway.out"), ("openclaw node", "node/node.out")] {
            let path = self.root.join(rel);
            if path.exists() {
                eprintln!("---- {label} ({}) last lines ----\n{}", path.display(), tail(&path, 60));
            }
        }
        eprintln!("(set PINCER_KEEP_STATE=1 to keep {})", self.root.path().display());
    }
}

/// The real `pincer-gateway` binary: `pincer-gateway run --port P --state-dir D --token T
/// [--config C]`, output appended to `D/gateway.out` (kept across restarts).
struct Pincer {
    bin: PathBuf,
    port: u16,
    dir: PathBuf,
    config: Option<PathBuf>,
    child: Option<ChildGuard>,
}

impl Pincer {
    async fn start(scene: &Scene, config: Option<Value>) -> Pincer {
        let bin = workspace_bin("pincer-gateway").unwrap();
        let dir = scene.dir("gateway");
        let config = config.map(|c| {
            // JSON is valid JSON5; the name says what the gateway parses it as.
            let path = dir.join("pincer.json5");
            std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
            path
        });
        let mut gw = Pincer { bin, port: free_port().unwrap(), dir, config, child: None };
        gw.spawn().await;
        gw
    }

    async fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("gateway.out")).unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("run")
            .args(["--port", &self.port.to_string(), "--bind", "loopback", "--token", TOKEN])
            .arg("--state-dir")
            .arg(&self.dir)
            .env_remove("PINCER_GATEWAY_PASSWORD")
            .env_remove("PINCER_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        let mut child = ChildGuard::spawn("pincer-gateway", cmd).unwrap();
        let url = self.url();
        let ready = tokio::select! {
            r = wait_for_health(&url, TOKEN, GATEWAY_READY) => r,
            status = async {
                loop {
                    if let Some(status) = child.try_status().unwrap() {
                        break status;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            } => panic!("pincer-gateway exited with {status} before it answered health:\n{}", tail(&self.dir.join("gateway.out"), 40)),
        };
        let took = ready.unwrap_or_else(|e| panic!("pincer-gateway never became healthy: {e}"));
        eprintln!("[interop] pincer-gateway on port {} healthy after {:.2} s", self.port, took.as_secs_f64());
        self.child = Some(child);
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// SIGTERM; it must exit 0 (clean shutdown) well within 10 s.
    fn stop(&mut self) {
        let mut child = self.child.take().expect("not running");
        let (took, status) = child.terminate(Duration::from_secs(10)).unwrap();
        assert!(took.is_some(), "pincer-gateway ignored SIGTERM for 10 s");
        assert!(status.success(), "pincer-gateway exited with {status} after SIGTERM");
    }

    /// A token-only operator (`cli`/`cli`) from this process, for watching events and polling.
    async fn operator(&self, scopes: &[&str]) -> GatewayClient {
        let opts = ConnectOptions::operator(self.url(), TOKEN, scopes).with_request_timeout(Duration::from_secs(30));
        GatewayClient::connect(opts).await.unwrap().0
    }

    /// `pincer-gateway <args…> --url U --token T --json` (the operator verbs).
    async fn verb(&self, args: &[&str]) -> Output {
        self.run_verb(args, "").await
    }

    /// The same without a progress line, for polling.
    async fn poll_verb(&self, args: &[&str]) -> Output {
        self.run_verb(args, " (poll)").await
    }

    async fn run_verb(&self, args: &[&str], suffix: &str) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .args(["--url", &self.url(), "--token", TOKEN, "--json"])
            .env_remove("PINCER_GATEWAY_PASSWORD");
        run_captured(&format!("pincer-gateway {}{suffix}", args.join(" ")), cmd, &self.dir, CLI_TIMEOUT).await
    }
}

/// The real OpenClaw CLI pointed at one gateway with `--url`/`--token`, in its own state dir.
struct OpenClawCli {
    bin: PathBuf,
    dir: PathBuf,
    url: String,
}

impl OpenClawCli {
    fn new(scene: &Scene, url: String) -> OpenClawCli {
        OpenClawCli { bin: openclaw(), dir: scene.dir("cli"), url }
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).args(["--url", &self.url, "--token", TOKEN]);
        openclaw_env(&mut cmd, &self.dir);
        run_captured(&format!("openclaw {}", args.join(" ")), cmd, &self.dir, CLI_TIMEOUT).await
    }

    async fn json(&self, args: &[&str]) -> Value {
        self.run(args).await.json()
    }
}

/// `openclaw node run --host 127.0.0.1 --port P --display-name NAME` with
/// `OPENCLAW_GATEWAY_TOKEN` and its own state dir (node commands take no `--token`). The
/// wrapper starts a child (`openclaw-node`) in the same process group; both die with the guard.
struct OpenClawNode {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    name: String,
    child: Option<ChildGuard>,
    /// When it was last (re)started, for the progress lines.
    started: Instant,
}

impl OpenClawNode {
    fn start(scene: &Scene, port: u16, name: &str) -> OpenClawNode {
        let mut node =
            OpenClawNode { bin: openclaw(), dir: scene.dir("node"), port, name: name.to_string(), child: None, started: Instant::now() };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "node already running");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.args(["node", "run", "--host", "127.0.0.1", "--port", &self.port.to_string(), "--display-name", &self.name]);
        openclaw_env(&mut cmd, &self.dir);
        cmd.env("OPENCLAW_GATEWAY_TOKEN", TOKEN).stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        self.child = Some(ChildGuard::spawn("openclaw-node", cmd).unwrap());
        self.started = Instant::now();
    }

    /// SIGTERM the wrapper and its child and start it again with the same state dir.
    fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(Duration::from_secs(15)).unwrap();
        }
        self.spawn();
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("node.out")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Wait until the node's console output contains `needle`.
    async fn wait_log(&mut self, needle: &str, timeout: Duration) {
        self.wait_log_count(needle, 1, timeout).await;
    }

    /// Wait until the node's console output contains `needle` at least `count` times.
    async fn wait_log_count(&mut self, needle: &str, count: usize, timeout: Duration) {
        let started = Instant::now();
        while self.log().matches(needle).count() < count {
            if let Some(child) = &mut self.child {
                if let Some(status) = child.try_status().unwrap() {
                    panic!("openclaw node exited with {status} while waiting for {needle:?}:\n{}", tail(&self.log_path(), 40));
                }
            }
            assert!(started.elapsed() < timeout, "openclaw node never logged {needle:?} within {timeout:?}:\n{}", tail(&self.log_path(), 40));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The next event named `name` on `client`, as its payload.
async fn event(client: &GatewayClient, name: &str, timeout: Duration) -> Value {
    let frame = client.wait_event(name, timeout).await.unwrap_or_else(|e| panic!("waiting for event {name}: {e}"));
    frame.payload.unwrap_or(Value::Null)
}

/// An event the node's (re)start leads to; logs how long the node took.
async fn node_event(client: &GatewayClient, node: &OpenClawNode, name: &str) -> Value {
    let payload = event(client, name, NODE_CONNECT).await;
    eprintln!("[interop] {name} {:.1} s after the node (re)started", node.started.elapsed().as_secs_f64());
    payload
}

/// Poll `node.list` until the entry for `node_id` satisfies `pred`; returns that entry.
async fn wait_node(op: &GatewayClient, node_id: &str, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let list = op.request("node.list", json!({})).await.unwrap();
        let entry = list["nodes"].as_array().and_then(|a| a.iter().find(|n| n["nodeId"] == node_id)).cloned();
        if let Some(entry) = entry.filter(|e| pred(e)) {
            return entry;
        }
        assert!(started.elapsed() < timeout, "node {node_id} never became {what} within {timeout:?}; last node.list: {list}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A captured OpenClaw frame from the protocol crate's fixtures (unwrapped from `{note, frame}`).
fn captured(name: &str) -> Value {
    let path = workspace_root().join("protocol/tests/fixtures/openclaw").join(name);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap();
    match v.get("frame") {
        Some(frame) if v.get("note").is_some() => frame.clone(),
        _ => v,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// The payload of a Pincer event has exactly the keys of the captured OpenClaw event, except
/// for `optional` keys that OpenClaw's own schema allows and Pincer may add (`remoteIp`: Pincer
/// reports it for loopback peers too, OpenClaw only for remote ones; `permissions`: the
/// node's permission map, `{}` when it sent none).
fn assert_event_keys(name: &str, actual: &Value, optional: &[&str]) {
    let frame = captured(&format!("10-event.{name}.json"));
    assert_eq!(frame["event"], name);
    let want = keys(&frame["payload"]);
    let have = keys(actual);
    let missing: Vec<&String> = want.difference(&have).collect();
    let unexpected: Vec<&String> = have.difference(&want).filter(|k| !optional.contains(&k.as_str())).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{name}: missing keys {missing:?}, unexpected keys {unexpected:?}\n  pincer:   {actual}\n  openclaw: {}",
        frame["payload"]
    );
}

/// Where `system.which` should find `ls`: the first directory of the node's `pathEnv` (what
/// the node reported in its connect) that has it, else of our own `PATH`.
fn expected_ls(path_env: Option<&str>) -> PathBuf {
    let ours = std::env::var("PATH").unwrap_or_default();
    let search = path_env.unwrap_or(&ours);
    std::env::split_paths(search)
        .map(|d| d.join("ls"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no ls in {search}"))
}

fn assert_which_ls(result: &Value, path_env: Option<&str>) {
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["command"], "system.which", "{result}");
    let found = result["payload"]["bins"]["ls"].as_str().unwrap_or_else(|| panic!("no bins.ls in {result}"));
    assert_eq!(Path::new(found), expected_ls(path_env), "{result}");
    let inner: Value = serde_json::from_str(result["payloadJSON"].as_str().unwrap()).unwrap();
    assert_eq!(inner, result["payload"], "payloadJSON must carry the same payload");
}

fn only<'a>(list: &'a Value, what: &str) -> &'a Value {
    let a = list.as_array().unwrap_or_else(|| panic!("{what}: not an array: {list}"));
    assert_eq!(a.len(), 1, "{what}: expected exactly one entry: {list}");
    &a[0]
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// Config for manual pairing (OpenClaw's `--manual-pairing`).
fn manual_pairing() -> Option<Value> {
    Some(json!({"gateway": {"nodes": {"pairing": {"autoApproveLocal": false}}}}))
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

/// 1+2. `openclaw gateway call health|status` print Pincer's payloads; `devices list`,
/// `nodes list` and `nodes pending` work and are empty on a fresh gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the serial lock is meant to span the whole test
async fn openclaw_cli_reads_health_status_and_empty_lists() {
    let _serial = serial();
    let scene = Scene::new("cli");
    let gw = Pincer::start(&scene, None).await;
    let cli = OpenClawCli::new(&scene, gw.url());

    let health = cli.json(&["gateway", "call", "health", "--json"]).await;
    assert_eq!(health["ok"], true, "{health}");
    assert_eq!(health["defaultAgentId"], "main", "{health}");
    assert!(health["version"].as_str().unwrap_or_default().starts_with("pincer-"), "{health}");
    assert!(health["agents"].as_array().is_some_and(|a| a.iter().any(|x| x["agentId"] == "main")), "{health}");

    let status = cli.json(&["gateway", "call", "status", "--json"]).await;
    let runtime = status["runtimeVersion"].as_str().unwrap_or_default();
    assert!(runtime.starts_with("pincer-"), "status.runtimeVersion {runtime:?}: {status}");
    assert_eq!(status["gateway"]["port"], gw.port, "{status}");
    assert_eq!(status["gateway"]["authMode"], "token", "{status}");

    let devices = cli.json(&["devices", "list", "--json"]).await;
    assert_eq!(devices, json!({"pending": [], "paired": []}));

    let nodes = cli.json(&["nodes", "list", "--json"]).await;
    assert_eq!(nodes["pending"], json!([]), "{nodes}");
    assert_eq!(nodes["paired"], json!([]), "{nodes}");

    let pending = cli.json(&["nodes", "pending", "--json"]).await;
    assert_eq!(pending, json!([]));
}

/// 3. Default config: the real node's device is paired silently on loopback; its command
/// surface waits for `openclaw nodes approve`; then the OpenClaw CLI lists, describes and
/// invokes it (`system.which`, and `system.run` through a raw `gateway call node.invoke`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn real_node_pairs_silently_and_openclaw_cli_approves_and_invokes() {
    let _serial = serial();
    let scene = Scene::new("silent");
    let gw = Pincer::start(&scene, None).await;
    let cli = OpenClawCli::new(&scene, gw.url());
    let watcher = gw.operator(&[ADMIN, PAIRING, READ]).await;
    let mut node = OpenClawNode::start(&scene, gw.port, "interop-silent");

    // Its first connect is accepted (no device request) and its surface becomes a node request.
    let requested = node_event(&watcher, &node, "node.pair.requested").await;
    let node_id = requested["nodeId"].as_str().unwrap().to_string();
    let request_id = requested["requestId"].as_str().unwrap().to_string();
    assert_event_keys("node.pair.requested", &requested, &["remoteIp", "permissions", "silent"]);
    node.wait_log("node host gateway connected", SHORT).await;
    assert!(!node.log().contains("PAIRING_REQUIRED"), "silent pairing must not ask:\n{}", node.log());
    // Like OpenClaw, operators hear only the outcome of a silent device pairing.
    let device_resolved = event(&watcher, "device.pair.resolved", SHORT).await;
    assert_event_keys("device.pair.resolved", &device_resolved, &[]);
    assert_eq!(device_resolved["deviceId"], node_id.as_str(), "{device_resolved}");
    assert_eq!(device_resolved["decision"], "approved", "{device_resolved}");

    let devices = cli.json(&["devices", "list", "--json"]).await;
    assert_eq!(devices["pending"], json!([]), "{devices}");
    let device = only(&devices["paired"], "paired devices");
    assert_eq!(device["deviceId"], node_id.as_str(), "a node's id is its device id: {device}");
    assert_eq!(device["approvedVia"], "silent", "{device}");
    assert_eq!(device["role"], "node", "{device}");
    assert_eq!(device["clientId"], "node-host", "{device}");
    assert_eq!(device["displayName"], "interop-silent", "{device}");
    assert_eq!(device["connected"], true, "{device}");

    let pending = cli.json(&["nodes", "pending", "--json"]).await;
    let entry = only(&pending, "nodes pending");
    assert_eq!(entry["requestId"], request_id.as_str(), "{entry}");
    assert_eq!(entry["nodeId"], node_id.as_str(), "{entry}");
    assert_eq!(entry["displayName"], "interop-silent", "{entry}");
    assert_eq!(entry["platform"], "linux", "{entry}");
    assert!(strings(&entry["commands"]).contains(&"system.which"), "{entry}");
    assert!(strings(&entry["requiredApproveScopes"]).contains(&"operator.admin"), "{entry}");

    let approved = cli.json(&["nodes", "approve", &request_id, "--json"]).await;
    assert_eq!(approved["requestId"], request_id.as_str(), "{approved}");
    assert_eq!(approved["node"]["nodeId"], node_id.as_str(), "{approved}");
    let resolved = event(&watcher, "node.pair.resolved", SHORT).await;
    assert_eq!(resolved["decision"], "approved", "{resolved}");
    assert_eq!(resolved["requestId"], request_id.as_str(), "{resolved}");

    let nodes = cli.json(&["nodes", "list", "--json"]).await;
    assert_eq!(nodes["pending"], json!([]), "{nodes}");
    let listed = only(&nodes["paired"], "nodes list paired");
    assert_eq!(listed["nodeId"], node_id.as_str(), "{listed}");
    assert_eq!(listed["paired"], true, "{listed}");
    assert_eq!(listed["connected"], true, "{listed}");
    assert_eq!(listed["platform"], "linux", "{listed}");

    let described = cli.json(&["nodes", "describe", "--node", &node_id, "--json"]).await;
    assert_eq!(described["nodeId"], node_id.as_str(), "{described}");
    assert_eq!(described["approvalState"], "approved", "{described}");
    assert_eq!(described["connected"], true, "{described}");
    assert_eq!(described["paired"], true, "{described}");
    assert_eq!(described["platform"], "linux", "{described}");
    assert_eq!(described["clientId"], "node-host", "{described}");
    assert!(strings(&described["commands"]).contains(&"system.run"), "{described}");
    let path_env = described["pathEnv"].as_str().map(str::to_string);

    let which = cli
        .json(&["nodes", "invoke", "--node", &node_id, "--command", "system.which", "--params", r#"{"bins":["ls"]}"#, "--json"])
        .await;
    assert_which_ls(&which, path_env.as_deref());

    // The CLI refuses `nodes invoke --command system.run` itself; the raw RPC is the way.
    let params = json!({"nodeId": node_id, "command": "system.run", "params": {"command": ["uname", "-s"]}, "idempotencyKey": "k1"});
    let run = cli.json(&["gateway", "call", "node.invoke", "--params", &params.to_string(), "--json"]).await;
    assert_eq!(run["ok"], true, "{run}");
    assert_eq!(run["payload"]["stdout"], "Linux\n", "{run}");
    assert_eq!(run["payload"]["exitCode"], 0, "{run}");
    assert_eq!(run["payload"]["timedOut"], false, "{run}");

    let asked: Vec<String> = watcher.drain_events().into_iter().map(|e| e.event).filter(|e| e == "device.pair.requested").collect();
    assert!(asked.is_empty(), "a silent pairing must not announce a device request: {asked:?}");
}

/// 4+7. Manual pairing (`autoApproveLocal: false`) driven by the OpenClaw CLI, with an
/// operator watching: the node's connect is refused with PAIRING_REQUIRED, `openclaw devices
/// approve` approves it, the restarted node connects, `openclaw nodes approve` approves its
/// surface, and `system.which` works. The pairing events have the captured OpenClaw key sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn real_node_manual_pairing_via_openclaw_cli_with_captured_event_shapes() {
    let _serial = serial();
    let scene = Scene::new("manual");
    let gw = Pincer::start(&scene, manual_pairing()).await;
    let cli = OpenClawCli::new(&scene, gw.url());
    let watcher = gw.operator(&[ADMIN, PAIRING, READ]).await;
    let mut node = OpenClawNode::start(&scene, gw.port, "interop-manual");

    let requested = node_event(&watcher, &node, "device.pair.requested").await;
    assert_event_keys("device.pair.requested", &requested, &["remoteIp"]);
    let device_request = requested["requestId"].as_str().unwrap().to_string();
    let node_id = requested["deviceId"].as_str().unwrap().to_string();
    assert_eq!(requested["silent"], false, "{requested}");
    assert_eq!(requested["role"], "node", "{requested}");
    assert_eq!(requested["clientId"], "node-host", "{requested}");
    assert_eq!(requested["displayName"], "interop-manual", "{requested}");
    // The node saw NOT_PAIRED / PAIRING_REQUIRED and paused its reconnects.
    node.wait_log("PAIRING_REQUIRED", SHORT).await;
    assert!(node.log().contains(&device_request), "the node must name the request id:\n{}", node.log());

    let devices = cli.json(&["devices", "list", "--json"]).await;
    assert_eq!(devices["paired"], json!([]), "{devices}");
    let pending = only(&devices["pending"], "pending devices");
    assert_eq!(pending["requestId"], device_request.as_str(), "{pending}");
    assert_eq!(pending["deviceId"], node_id.as_str(), "{pending}");
    assert_eq!(pending["role"], "node", "{pending}");

    // The CLI asks with operator.pairing first; Pincer, like OpenClaw, wants admin for a
    // node-role device and the CLI retries with operator.admin.
    let approved = cli.json(&["devices", "approve", &device_request, "--json"]).await;
    assert_eq!(approved["requestId"], device_request.as_str(), "{approved}");
    assert_eq!(approved["device"]["deviceId"], node_id.as_str(), "{approved}");
    assert_eq!(approved["device"]["approvedVia"], "owner", "{approved}");
    let resolved = event(&watcher, "device.pair.resolved", SHORT).await;
    assert_event_keys("device.pair.resolved", &resolved, &[]);
    assert_eq!(resolved["decision"], "approved", "{resolved}");
    assert_eq!(resolved["requestId"], device_request.as_str(), "{resolved}");

    // The real node host does not resume by itself after a PAIRING_REQUIRED close: it logs
    // "reconnect paused … waiting for operator action" and stays paused even once the device
    // is approved (the same against OpenClaw's own gateway, peer doc §4 step 4; checked
    // against Pincer for over a minute). Restarting it is the documented step.
    node.restart();

    let surface = node_event(&watcher, &node, "node.pair.requested").await;
    assert_event_keys("node.pair.requested", &surface, &["remoteIp", "permissions"]);
    assert_eq!(surface["nodeId"], node_id.as_str(), "{surface}");
    let node_request = surface["requestId"].as_str().unwrap().to_string();

    let approved = cli.json(&["nodes", "approve", &node_request, "--json"]).await;
    assert_eq!(approved["node"]["nodeId"], node_id.as_str(), "{approved}");
    let resolved = event(&watcher, "node.pair.resolved", SHORT).await;
    assert_event_keys("node.pair.resolved", &resolved, &[]);
    assert_eq!(resolved["decision"], "approved", "{resolved}");
    assert_eq!(resolved["requestId"], node_request.as_str(), "{resolved}");
    assert_eq!(resolved["nodeId"], node_id.as_str(), "{resolved}");

    let which = cli
        .json(&["nodes", "invoke", "--node", "interop-manual", "--command", "system.which", "--params", r#"{"bins":["ls"]}"#, "--json"])
        .await;
    let described = watcher.request("node.describe", json!({"nodeId": node_id})).await.unwrap();
    assert_eq!(described["approvalState"], "approved", "{described}");
    assert_which_ls(&which, described["pathEnv"].as_str());
}

/// 5. The same manual flow with Pincer's own operator verbs: `pincer-gateway devices
/// list|approve` and `pincer-gateway nodes pending|approve|list|describe|invoke`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn real_node_manual_pairing_via_pincer_operator_verbs() {
    let _serial = serial();
    let scene = Scene::new("verbs");
    let gw = Pincer::start(&scene, manual_pairing()).await;
    let mut node = OpenClawNode::start(&scene, gw.port, "interop-verbs");

    // The verbs are quick, so poll with them until the node's device request shows up.
    let started = Instant::now();
    let devices = loop {
        let devices = gw.poll_verb(&["devices", "list"]).await.json();
        if devices["pending"].as_array().is_some_and(|a| !a.is_empty()) {
            break devices;
        }
        assert!(started.elapsed() < NODE_CONNECT, "no device request within {NODE_CONNECT:?}: {devices}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(devices["paired"], json!([]), "{devices}");
    let pending = only(&devices["pending"], "pending devices");
    assert_eq!(pending["clientId"], "node-host", "{pending}");
    assert_eq!(pending["displayName"], "interop-verbs", "{pending}");
    let device_request = pending["requestId"].as_str().unwrap().to_string();
    let node_id = pending["deviceId"].as_str().unwrap().to_string();
    node.wait_log("PAIRING_REQUIRED", SHORT).await;

    let approved = gw.verb(&["devices", "approve", &device_request]).await.json();
    assert_eq!(approved["device"]["deviceId"], node_id.as_str(), "{approved}");
    assert_eq!(approved["device"]["approvedVia"], "owner", "{approved}");
    // Paused after PAIRING_REQUIRED (see the OpenClaw-CLI test): restart the node.
    node.restart();

    let started = Instant::now();
    let pending = loop {
        let pending = gw.poll_verb(&["nodes", "pending"]).await.json();
        if pending.as_array().is_some_and(|a| !a.is_empty()) {
            break pending;
        }
        assert!(started.elapsed() < NODE_CONNECT, "no node request within {NODE_CONNECT:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let entry = only(&pending, "nodes pending");
    assert_eq!(entry["nodeId"], node_id.as_str(), "{entry}");
    let node_request = entry["requestId"].as_str().unwrap().to_string();

    let approved = gw.verb(&["nodes", "approve", &node_request]).await.json();
    assert_eq!(approved["requestId"], node_request.as_str(), "{approved}");
    assert_eq!(approved["node"]["nodeId"], node_id.as_str(), "{approved}");

    let list = gw.verb(&["nodes", "list"]).await.json();
    let listed = only(&list["nodes"], "nodes list");
    assert_eq!(listed["nodeId"], node_id.as_str(), "{listed}");
    assert_eq!(listed["approvalState"], "approved", "{listed}");
    assert_eq!(listed["connected"], true, "{listed}");

    let described = gw.verb(&["nodes", "describe", "interop-verbs"]).await.json();
    assert_eq!(described["nodeId"], node_id.as_str(), "{described}");
    assert_eq!(described["platform"], "linux", "{described}");
    assert_eq!(described["approvalState"], "approved", "{described}");
    assert_eq!(described["connected"], true, "{described}");

    let which = gw
        .verb(&["nodes", "invoke", "--node", &node_id[..12], "--command", "system.which", "--params", r#"{"bins":["ls"]}"#])
        .await
        .json();
    assert_which_ls(&which, described["pathEnv"].as_str());

    let devices = gw.verb(&["devices", "list"]).await.json();
    assert_eq!(devices["pending"], json!([]), "{devices}");
    assert_eq!(only(&devices["paired"], "paired devices")["connected"], true, "{devices}");
}

/// 6. A paired and approved real node survives a `pincer-gateway` restart (SIGTERM, start
/// again on the same port and state dir): it reconnects by itself with its stored device
/// identity and token, and `system.which` works again without any new approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn real_node_reconnects_after_pincer_gateway_restart() {
    let _serial = serial();
    let scene = Scene::new("restart");
    let mut gw = Pincer::start(&scene, None).await;
    let op = gw.operator(&[ADMIN, PAIRING, READ]).await;
    let mut node = OpenClawNode::start(&scene, gw.port, "interop-restart");

    let requested = node_event(&op, &node, "node.pair.requested").await;
    let node_id = requested["nodeId"].as_str().unwrap().to_string();
    let approved = gw.verb(&["nodes", "approve", requested["requestId"].as_str().unwrap()]).await.json();
    assert_eq!(approved["node"]["nodeId"], node_id.as_str(), "{approved}");
    let which = gw.verb(&["nodes", "invoke", "--node", &node_id, "--command", "system.which", "--params", r#"{"bins":["ls"]}"#]).await.json();
    assert_eq!(which["ok"], true, "{which}");
    let before = op.request("device.pair.list", json!({})).await.unwrap();
    let device_before = only(&before["paired"], "paired devices").clone();
    drop(op);

    node.wait_log("node host gateway connected", SHORT).await;
    gw.stop();
    gw.spawn().await;

    let op = gw.operator(&[ADMIN, PAIRING, READ]).await;
    let entry = wait_node(&op, &node_id, "connected again", NODE_CONNECT, |n| n["connected"] == true).await;
    assert_eq!(entry["approvalState"], "approved", "approval must survive the restart: {entry}");
    let after = op.request("device.pair.list", json!({})).await.unwrap();
    assert_eq!(after["pending"], json!([]), "no new device request after the restart: {after}");
    let device_after = only(&after["paired"], "paired devices");
    assert_eq!(device_after["approvedVia"], "silent", "{device_after}");
    assert_eq!(device_after["approvedAtMs"], device_before["approvedAtMs"], "the device was not re-approved: {device_after}");
    let nodes = op.request("node.pair.list", json!({})).await.unwrap();
    assert_eq!(nodes["pending"], json!([]), "no new node request after the restart: {nodes}");
    // The node logs the reconnect itself once hello-ok is in (just after the gateway lists it).
    node.wait_log_count("node host gateway connected", 2, SHORT).await;

    // Through the real CLI this time.
    let cli = OpenClawCli::new(&scene, gw.url());
    let which = cli
        .json(&["nodes", "invoke", "--node", &node_id, "--command", "system.which", "--params", r#"{"bins":["ls"]}"#, "--json"])
        .await;
    assert_which_ls(&which, entry["pathEnv"].as_str());
}
