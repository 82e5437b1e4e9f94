//! Harness for interop tests against the real OpenClaw (CLI, gateway, node host) and the
//! `pincer-gateway` / `pincer-node` binaries: isolated OpenClaw homes, captured CLI calls,
//! child processes in their own process groups, log tails on failure.
//!
//! Test-only code: it panics with a full report (both output streams, log tails) instead of
//! returning errors, because the panic message is the test's failure report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pincer_client::{ConnectOptions, GatewayClient};
use serde_json::{json, Value};

use crate::openclaw::openclaw_bin;
use crate::{free_port, wait_for_health, workspace_bin, workspace_root, ChildGuard, TempState};

pub const TOKEN: &str = "interop-token-0123456789";
/// One CLI call (`openclaw …` or `pincer-gateway devices|nodes …`).
pub const CLI_TIMEOUT: Duration = Duration::from_secs(90);
/// `pincer-gateway run` → first `health` (it is up in milliseconds; the rest is slack).
pub const GATEWAY_READY: Duration = Duration::from_secs(60);
/// `openclaw node run` → its first connect reaching the gateway (5-30 s observed).
pub const NODE_CONNECT: Duration = Duration::from_secs(180);
/// Waits for things the gateway does right away (events after a CLI call, a reconnect).
pub const SHORT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------------------------------
// Harness
// ------------------------------------------------------------------------------------------

/// One test at a time under `cargo test` (nextest isolates tests in processes and uses the
/// test group instead). Poisoning by an earlier failed test is irrelevant here.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The OpenClaw wrapper, or a failure that says how to install it.
pub fn openclaw() -> PathBuf {
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
pub const OFFLINE_ENV: &[(&str, &str)] = &[
    ("OPENCLAW_DISABLE_BONJOUR", "1"),
    ("OPENCLAW_SKIP_CHANNELS", "1"),
    ("OPENCLAW_NO_AUTO_UPDATE", "1"),
    ("OPENCLAW_NO_RESPAWN", "1"),
    ("OPENCLAW_OFFLINE", "1"),
    ("DO_NOT_TRACK", "1"),
];

/// Inherited variables that would point an OpenClaw process at some other gateway.
pub const FOREIGN_ENV: &[&str] =
    &["OPENCLAW_GATEWAY_URL", "OPENCLAW_GATEWAY_PORT", "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD", "OPENCLAW_PROFILE"];

/// An isolated OpenClaw home: `HOME`, `OPENCLAW_STATE_DIR`, and a config whose only setting is
/// its own log file (the default `/tmp/openclaw/…log` is shared by every OpenClaw process).
pub fn openclaw_env(cmd: &mut Command, dir: &Path) {
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

pub static CALLS: AtomicU32 = AtomicU32::new(0);

/// What a finished CLI call printed.
pub struct Output {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The JSON it printed; panics (with both streams) unless it exited 0 with JSON on stdout.
    pub fn json(&self) -> Value {
        assert!(self.status.success(), "{} failed ({}):\nstdout: {}\nstderr: {}", self.what, self.status, self.stdout, self.stderr);
        parse_json(&self.stdout).unwrap_or_else(|| panic!("{}: no JSON on stdout:\n{}\nstderr: {}", self.what, self.stdout, self.stderr))
    }
}

/// Whole stdout as JSON, else from the first line that opens an object or array.
pub fn parse_json(text: &str) -> Option<Value> {
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
pub async fn run_captured(what: &str, mut cmd: Command, dir: &Path, timeout: Duration) -> Output {
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let out_path = dir.join(format!("call-{n:03}.out"));
    let err_path = dir.join(format!("call-{n:03}.err"));
    cmd.stdin(Stdio::null()).stdout(std::fs::File::create(&out_path).unwrap()).stderr(std::fs::File::create(&err_path).unwrap());
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

/// `openclaw tui --url … --token … <args>` on a pseudo-terminal (util-linux `script`, part of
/// every Debian), until its screen shows `needle` or `timeout` passes; returns the screen text
/// with terminal escapes removed (the TUI redraws, so lines repeat). Panics with that text when
/// `needle` never shows.
pub async fn openclaw_tui_until(cli: &OpenClawCli, args: &[&str], needle: &str, timeout: Duration) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut line = format!("exec {} tui --url {} --token {}", quote(&cli.bin.display().to_string()), quote(&cli.url), quote(TOKEN));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let out_path = cli.dir.join("tui.out");
    let mut cmd = Command::new("script");
    cmd.args(["-qfec", &line, "/dev/null"]);
    openclaw_env(&mut cmd, &cli.dir);
    cmd.env("TERM", "xterm-256color").env("COLUMNS", "120").env("LINES", "40");
    cmd.stdin(Stdio::null()).stdout(std::fs::File::create(&out_path).unwrap()).stderr(Stdio::null());
    let started = Instant::now();
    let mut child = ChildGuard::spawn("openclaw tui", cmd).unwrap();
    loop {
        let screen = strip_terminal_escapes(&std::fs::read(&out_path).unwrap_or_default());
        if screen.contains(needle) {
            eprintln!("[interop] openclaw tui showed {needle:?} after {:.1} s", started.elapsed().as_secs_f64());
            let _ = child.terminate(Duration::from_secs(5));
            return screen;
        }
        let exited = child.try_status().ok().flatten();
        if exited.is_some() || started.elapsed() > timeout {
            drop(child);
            panic!("openclaw tui never showed {needle:?} (exit: {exited:?}); its screen:\n{screen}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Terminal output without its escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL|ST`,
/// two-byte `ESC x`), carriage returns turned into line breaks.
pub fn strip_terminal_escapes(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

/// The last `n` lines of a log file, for failure reports.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("<{}: {e}>", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Owns a test's temp dir; on a failing test prints the tails of the gateway and node logs.
pub struct Scene {
    pub root: TempState,
}

impl Scene {
    pub fn new(name: &str) -> Scene {
        // Fail first thing (before anything is spawned) when OpenClaw is not installed.
        openclaw();
        Scene { root: TempState::new(&format!("interop-{name}")).unwrap() }
    }

    /// A scene for tests that use only Pincer's own binaries (no OpenClaw needed).
    pub fn pincer_only(name: &str) -> Scene {
        Scene { root: TempState::new(&format!("pincer-{name}")).unwrap() }
    }

    pub fn dir(&self, rel: &str) -> PathBuf {
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
pub struct Pincer {
    pub bin: PathBuf,
    pub port: u16,
    pub dir: PathBuf,
    pub config: Option<PathBuf>,
    pub child: Option<ChildGuard>,
}

impl Pincer {
    pub async fn start(scene: &Scene, config: Option<Value>) -> Pincer {
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

    pub async fn spawn(&mut self) {
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

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// SIGTERM; it must exit 0 (clean shutdown) well within 10 s.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("not running");
        let (took, status) = child.terminate(Duration::from_secs(10)).unwrap();
        assert!(took.is_some(), "pincer-gateway ignored SIGTERM for 10 s");
        assert!(status.success(), "pincer-gateway exited with {status} after SIGTERM");
    }

    /// A token-only operator (`cli`/`cli`) from this process, for watching events and polling.
    pub async fn operator(&self, scopes: &[&str]) -> GatewayClient {
        let opts = ConnectOptions::operator(self.url(), TOKEN, scopes).with_request_timeout(Duration::from_secs(30));
        GatewayClient::connect(opts).await.unwrap().0
    }

    /// `pincer-gateway <args…> --url U --token T --json` (the operator verbs).
    pub async fn verb(&self, args: &[&str]) -> Output {
        self.run_verb(args, "").await
    }

    /// The same without a progress line, for polling.
    pub async fn poll_verb(&self, args: &[&str]) -> Output {
        self.run_verb(args, " (poll)").await
    }

    pub async fn run_verb(&self, args: &[&str], suffix: &str) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).args(["--url", &self.url(), "--token", TOKEN, "--json"]).env_remove("PINCER_GATEWAY_PASSWORD");
        run_captured(&format!("pincer-gateway {}{suffix}", args.join(" ")), cmd, &self.dir, CLI_TIMEOUT).await
    }
}

/// The real OpenClaw CLI pointed at one gateway with `--url`/`--token`, in its own state dir.
pub struct OpenClawCli {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub url: String,
}

impl OpenClawCli {
    pub fn new(scene: &Scene, url: String) -> OpenClawCli {
        OpenClawCli { bin: openclaw(), dir: scene.dir("cli"), url }
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).args(["--url", &self.url, "--token", TOKEN]);
        openclaw_env(&mut cmd, &self.dir);
        run_captured(&format!("openclaw {}", args.join(" ")), cmd, &self.dir, CLI_TIMEOUT).await
    }

    pub async fn json(&self, args: &[&str]) -> Value {
        self.run(args).await.json()
    }

    /// For commands without `--url` (`openclaw agent`): they reach the gateway their config
    /// names, as a user's CLI does: `gateway.port` and `gateway.auth.token` of this CLI's
    /// `openclaw.json`.
    pub async fn run_local(&self, args: &[&str]) -> Output {
        let port: u16 = self.url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.args(args);
        openclaw_env(&mut cmd, &self.dir);
        let config_path = self.dir.join("openclaw.json");
        let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
        config["gateway"] = json!({"mode": "local", "port": port, "auth": {"mode": "token", "token": TOKEN}});
        std::fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
        run_captured(&format!("openclaw {}", args.join(" ")), cmd, &self.dir, CLI_TIMEOUT).await
    }
}

/// `openclaw node run --host 127.0.0.1 --port P --display-name NAME` with
/// `OPENCLAW_GATEWAY_TOKEN` and its own state dir (node commands take no `--token`). The
/// wrapper starts a child (`openclaw-node`) in the same process group; both die with the guard.
pub struct OpenClawNode {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub port: u16,
    pub name: String,
    pub child: Option<ChildGuard>,
    /// When it was last (re)started, for the progress lines.
    pub started: Instant,
}

impl OpenClawNode {
    pub fn start(scene: &Scene, port: u16, name: &str) -> OpenClawNode {
        let mut node =
            OpenClawNode { bin: openclaw(), dir: scene.dir("node"), port, name: name.to_string(), child: None, started: Instant::now() };
        node.spawn();
        node
    }

    pub fn spawn(&mut self) {
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
    pub fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(Duration::from_secs(15)).unwrap();
        }
        self.spawn();
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("node.out")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Wait until the node's console output contains `needle`.
    pub async fn wait_log(&mut self, needle: &str, timeout: Duration) {
        self.wait_log_count(needle, 1, timeout).await;
    }

    /// Wait until the node's console output contains `needle` at least `count` times.
    pub async fn wait_log_count(&mut self, needle: &str, count: usize, timeout: Duration) {
        let path = self.log_path();
        wait_for_log("openclaw node", &path, self.child.as_mut(), needle, count, timeout, Duration::from_millis(200)).await;
    }
}

/// Wait until the log at `path` contains `needle` at least `count` times; fail with the log's
/// tail if `child` exits first or `timeout` passes.
async fn wait_for_log(
    what: &str,
    path: &Path,
    mut child: Option<&mut ChildGuard>,
    needle: &str,
    count: usize,
    timeout: Duration,
    poll: Duration,
) {
    let started = Instant::now();
    while std::fs::read_to_string(path).unwrap_or_default().matches(needle).count() < count {
        if let Some(child) = child.as_deref_mut() {
            if let Some(status) = child.try_status().unwrap() {
                panic!("{what} exited with {status} while waiting for {needle:?}:\n{}", tail(path, 40));
            }
        }
        assert!(started.elapsed() < timeout, "{what} never logged {needle:?} within {timeout:?}:\n{}", tail(path, 40));
        tokio::time::sleep(poll).await;
    }
}

/// The next event named `name` on `client`, as its payload.
pub async fn event(client: &GatewayClient, name: &str, timeout: Duration) -> Value {
    let frame = client.wait_event(name, timeout).await.unwrap_or_else(|e| panic!("waiting for event {name}: {e}"));
    frame.payload.unwrap_or(Value::Null)
}

/// An event the node's (re)start leads to; logs how long the node took.
pub async fn node_event(client: &GatewayClient, node: &OpenClawNode, name: &str) -> Value {
    let payload = event(client, name, NODE_CONNECT).await;
    eprintln!("[interop] {name} {:.1} s after the node (re)started", node.started.elapsed().as_secs_f64());
    payload
}

/// Poll `node.list` until the entry for `node_id` satisfies `pred`; returns that entry.
pub async fn wait_node(op: &GatewayClient, node_id: &str, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
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
pub fn captured(name: &str) -> Value {
    let path = workspace_root().join("protocol/tests/fixtures/openclaw").join(name);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap();
    match v.get("frame") {
        Some(frame) if v.get("note").is_some() => frame.clone(),
        _ => v,
    }
}

pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// The payload of a Pincer event has exactly the keys of the captured OpenClaw event, except
/// for `optional` keys that OpenClaw's own schema allows and Pincer may add (`remoteIp`: Pincer
/// reports it for loopback peers too, OpenClaw only for remote ones; `permissions`: the
/// node's permission map, `{}` when it sent none).
pub fn assert_event_keys(name: &str, actual: &Value, optional: &[&str]) {
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
pub fn expected_ls(path_env: Option<&str>) -> PathBuf {
    let ours = std::env::var("PATH").unwrap_or_default();
    let search = path_env.unwrap_or(&ours);
    std::env::split_paths(search).map(|d| d.join("ls")).find(|p| p.is_file()).unwrap_or_else(|| panic!("no ls in {search}"))
}

pub fn assert_which_ls(result: &Value, path_env: Option<&str>) {
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["command"], "system.which", "{result}");
    let found = result["payload"]["bins"]["ls"].as_str().unwrap_or_else(|| panic!("no bins.ls in {result}"));
    assert_eq!(Path::new(found), expected_ls(path_env), "{result}");
    let inner: Value = serde_json::from_str(result["payloadJSON"].as_str().unwrap()).unwrap();
    assert_eq!(inner, result["payload"], "payloadJSON must carry the same payload");
}

pub fn only<'a>(list: &'a Value, what: &str) -> &'a Value {
    let a = list.as_array().unwrap_or_else(|| panic!("{what}: not an array: {list}"));
    assert_eq!(a.len(), 1, "{what}: expected exactly one entry: {list}");
    &a[0]
}

pub fn strings(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// Config for manual pairing (OpenClaw's `--manual-pairing`).
pub fn manual_pairing() -> Option<Value> {
    Some(json!({"gateway": {"nodes": {"pairing": {"autoApproveLocal": false}}}}))
}

/// The real `pincer-node` binary: `pincer-node run --url U --token T --state-dir D --name N
/// --secrets file [extra…]`, output appended to `D/node.out` (kept across restarts).
pub struct PincerNode {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub url: String,
    pub token: String,
    pub name: String,
    pub extra: Vec<String>,
    pub env: Vec<(String, String)>,
    pub child: Option<ChildGuard>,
    pub started: Instant,
}

impl PincerNode {
    /// A node that is not started yet (so a test can write its `node.json` or approvals first).
    pub fn new(dir: PathBuf, url: &str, token: &str, name: &str) -> PincerNode {
        std::fs::create_dir_all(&dir).unwrap();
        PincerNode {
            bin: workspace_bin("pincer-node").unwrap(),
            dir,
            url: url.to_string(),
            token: token.to_string(),
            name: name.to_string(),
            extra: Vec::new(),
            env: Vec::new(),
            child: None,
            started: Instant::now(),
        }
    }

    pub fn with_args(mut self, args: &[&str]) -> Self {
        self.extra.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Write the node's `exec-approvals.json` (before it starts, or between restarts).
    pub fn write_approvals(&self, file: &Value) {
        std::fs::write(self.dir.join("exec-approvals.json"), serde_json::to_string_pretty(file).unwrap()).unwrap();
    }

    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "pincer-node already running");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.args(["run", "--url", &self.url, "--token", &self.token, "--name", &self.name, "--secrets", "file"])
            .arg("--state-dir")
            .arg(&self.dir)
            .args(&self.extra)
            .env_remove("PINCER_GATEWAY_PASSWORD")
            .env_remove("PINCER_GATEWAY_URL")
            .env("PINCER_LOG", "info,pincer_node=debug")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(ChildGuard::spawn("pincer-node", cmd).unwrap());
        self.started = Instant::now();
    }

    pub fn start(mut self) -> Self {
        self.spawn();
        self
    }

    /// SIGTERM; the node must exit 0 within 10 s.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let (took, status) = child.terminate(Duration::from_secs(10)).unwrap();
            assert!(took.is_some(), "pincer-node ignored SIGTERM for 10 s:\n{}", tail(&self.log_path(), 30));
            assert!(status.success(), "pincer-node exited with {status} after SIGTERM:\n{}", tail(&self.log_path(), 30));
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The node's device id (`pincer-node id`), which gateways use as its node id.
    pub fn node_id(&self) -> String {
        let out = Command::new(&self.bin).args(["id", "--secrets", "file", "--state-dir"]).arg(&self.dir).output().unwrap();
        assert!(out.status.success(), "pincer-node id failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("node.out")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Wait until the node's output contains `needle` at least `count` times.
    pub async fn wait_log_count(&mut self, needle: &str, count: usize, timeout: Duration) {
        let path = self.log_path();
        wait_for_log("pincer-node", &path, self.child.as_mut(), needle, count, timeout, Duration::from_millis(100)).await;
    }

    pub async fn wait_log(&mut self, needle: &str, timeout: Duration) {
        self.wait_log_count(needle, 1, timeout).await;
    }
}

impl Drop for PincerNode {
    fn drop(&mut self) {
        if std::thread::panicking() && self.log_path().exists() {
            eprintln!("---- pincer-node ({}) last lines ----\n{}", self.log_path().display(), tail(&self.log_path(), 60));
        }
    }
}
