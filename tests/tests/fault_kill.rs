//! kill -9 of a real `pincer-gateway` while concurrent writers are mid-way through
//! `config.patch`, `exec.approvals.set` and `device.pair.approve`, then a restart on the same
//! state dir, many times over. After every kill:
//!
//! - the file on disk parses (never torn) and the gateway starts;
//! - nothing acknowledged is lost: each writer's own key holds exactly its last acknowledged
//!   value, or the value it was still waiting for an answer on when the process died (an
//!   unacknowledged write is wholly there or wholly absent, never anything else);
//! - what the restarted gateway serves is what is on disk.
//!
//! The kill points come from a seeded generator (`PINCER_FAULT_SEED`), the number of kills
//! from `PINCER_FAULT_KILLS` (default 12 per test). The assertions are invariants that hold
//! wherever the kill lands, so the tests do not depend on timing; what they saw (how many kills
//! caught a write in flight, how many left a temporary file) is logged with `--nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pincer_client::{ClientError, ConnectOptions, GatewayClient};
use pincer_gateway::config::sha256_hex;
use pincer_protocol::scopes::{ADMIN, APPROVALS, PAIRING, READ, WRITE};
use pincer_tests::fake_node::{FakeNode, FakeNodeSpec};
use pincer_tests::{free_port, wait_for_health, workspace_bin, ChildGuard, TempState};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const TOKEN: &str = "fault-kill-token-0123456789";
const WRITERS: usize = 4;
const T: Duration = Duration::from_secs(10);

fn kills() -> usize {
    std::env::var("PINCER_FAULT_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(12)
}

fn rng(test: u64) -> StdRng {
    let seed = std::env::var("PINCER_FAULT_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_0010);
    StdRng::seed_from_u64(seed ^ test)
}

/// `pincer-gateway run` on `state_dir`, healthy.
async fn start_gateway(state_dir: &Path) -> (ChildGuard, String) {
    let bin = tokio::task::spawn_blocking(|| workspace_bin("pincer-gateway")).await.unwrap().unwrap();
    let port = free_port().unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--port", &port.to_string(), "--token", TOKEN, "--log-level", "info", "--state-dir"])
        .arg(state_dir)
        .env_remove("RUST_LOG")
        .env_remove("PINCER_CONFIG")
        .env_remove("PINCER_GATEWAY_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let guard = ChildGuard::spawn("pincer-gateway", cmd).unwrap();
    let url = format!("ws://127.0.0.1:{port}");
    wait_for_health(&url, TOKEN, Duration::from_secs(30)).await.expect("the gateway must start after a kill");
    (guard, url)
}

async fn admin(url: &str) -> Result<GatewayClient, ClientError> {
    let opts = ConnectOptions::operator(url, TOKEN, &[ADMIN, READ, WRITE, APPROVALS, PAIRING]).with_request_timeout(T);
    Ok(GatewayClient::connect(opts).await?.0)
}

/// One writer's sequence numbers: the last one acknowledged and the last one sent.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    acked: u64,
    sent: u64,
}

type Shared = Arc<Mutex<Vec<Progress>>>;

/// What the kills caught, for the log and docs/security.md.
#[derive(Debug, Default)]
struct Tally {
    kills: usize,
    acked_writes: u64,
    caught_in_flight: usize,
    unacked_that_landed: usize,
    temp_files_left: usize,
}

/// Run `writer(url, index, progress)` ×[`WRITERS`] until a SIGKILL at a seeded random moment.
async fn run_until_killed<F, Fut>(state_dir: &Path, rng: &mut StdRng, progress: &Shared, writer: F)
where
    F: Fn(String, usize, Shared) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (guard, url) = start_gateway(state_dir).await;
    let tasks: Vec<_> = (0..WRITERS).map(|i| tokio::spawn(writer(url.clone(), i, Arc::clone(progress)))).collect();
    tokio::time::sleep(Duration::from_millis(rng.gen_range(30..400))).await;
    tokio::task::spawn_blocking(move || drop(guard)).await.unwrap(); // SIGKILL to the group, then reap
    for task in tasks {
        // A writer ends on the first transport error; a panic (an unexpected answer) fails here.
        tokio::time::timeout(T * 2, task).await.expect("writer did not notice the kill").unwrap();
    }
}

fn is_transport(e: &ClientError) -> bool {
    !matches!(e, ClientError::Server(_))
}

/// `.<name>.<random>.tmp` files next to `path` (a write the kill interrupted).
fn temp_files(path: &Path) -> usize {
    let prefix = format!(".{}.", path.file_name().unwrap().to_string_lossy());
    std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name().to_string_lossy().into_owned();
            name.starts_with(&prefix) && name.ends_with(".tmp")
        })
        .count()
}

/// Check every writer's value on disk against what it was told, then make what is on disk the
/// new baseline (an unacknowledged write that landed is durable from now on).
fn check_writers(what: &str, kill: usize, on_disk: &[u64], progress: &Shared, tally: &mut Tally) {
    let mut progress = progress.lock().unwrap();
    for (writer, (p, &disk)) in progress.iter_mut().zip(on_disk).enumerate() {
        assert!(
            disk == p.acked || disk == p.sent,
            "{what}, kill {kill}, writer {writer}: disk has {disk}, acknowledged {}, last sent {} — an acknowledged write was lost or a stray value appeared",
            p.acked,
            p.sent
        );
        if p.sent > p.acked {
            tally.caught_in_flight += 1;
            if disk == p.sent {
                tally.unacked_that_landed += 1;
            }
        }
        p.acked = disk;
        p.sent = disk;
    }
}

// ---- config.patch ------------------------------------------------------------------------------

/// get → patch `{probe: {w<i>: seq}}` with its hash, until the connection dies. A merge patch
/// touches only the writer's own key, so every key's last acknowledged value must survive.
async fn config_writer(url: String, writer: usize, progress: Shared) {
    let Ok(client) = admin(&url).await else { return };
    loop {
        let hash = match client.request("config.get", json!({})).await {
            Ok(snapshot) => snapshot["hash"].as_str().unwrap().to_string(),
            Err(e) if is_transport(&e) => return,
            Err(e) => panic!("config.get: {e}"),
        };
        let seq = {
            let mut p = progress.lock().unwrap();
            p[writer].sent += 1;
            p[writer].sent
        };
        let raw = format!("{{probe: {{w{writer}: {seq}}}}}");
        match client.request("config.patch", json!({"raw": raw, "baseHash": hash})).await {
            Ok(_) => progress.lock().unwrap()[writer].acked = seq,
            Err(ClientError::Server(e)) if e.message == "config changed since last load; re-run config.get and retry" => {}
            Err(e) if is_transport(&e) => return,
            Err(e) => panic!("config.patch: {e}"),
        }
    }
}

fn config_values(doc: &Value) -> Vec<u64> {
    (0..WRITERS).map(|w| doc.pointer(&format!("/probe/w{w}")).and_then(Value::as_u64).unwrap_or(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_concurrent_config_patches_loses_nothing_acknowledged() {
    let dir = TempState::new("fault-config").unwrap();
    let path = dir.join("pincer.json");
    let mut rng = rng(1);
    let progress: Shared = Arc::new(Mutex::new(vec![Progress::default(); WRITERS]));
    let mut tally = Tally::default();
    for kill in 0..kills() {
        let acked_before: u64 = progress.lock().unwrap().iter().map(|p| p.acked).sum();
        run_until_killed(dir.path(), &mut rng, &progress, config_writer).await;
        tally.kills += 1;
        tally.acked_writes += progress.lock().unwrap().iter().map(|p| p.acked).sum::<u64>() - acked_before;
        tally.temp_files_left += temp_files(&path);

        let bytes = std::fs::read(&path).unwrap_or_default();
        let doc: Value = if bytes.is_empty() { json!({}) } else { serde_json::from_slice(&bytes).expect("torn config file") };
        check_writers("config", kill, &config_values(&doc), &progress, &mut tally);

        // The restarted gateway serves exactly what is on disk.
        let (_guard, url) = start_gateway(dir.path()).await;
        let live = admin(&url).await.unwrap().request("config.get", json!({})).await.unwrap();
        if !bytes.is_empty() {
            assert_eq!(live["hash"].as_str().unwrap(), sha256_hex(&bytes), "kill {kill}");
        }
        assert_eq!(config_values(&live["config"]), config_values(&doc), "kill {kill}");
    }
    finish("config.patch", &path, tally, "config.patch", |snap| json!({"raw": "{probe: {final: true}}", "baseHash": snap["hash"]})).await;
}

// ---- exec.approvals.set --------------------------------------------------------------------------

/// get → set the whole file with `agents.w<i>` holding `/usr/bin/seq-<n>`, with its hash.
async fn approvals_writer(url: String, writer: usize, progress: Shared) {
    let Ok(client) = admin(&url).await else { return };
    loop {
        let (hash, mut file) = match client.request("exec.approvals.get", json!({})).await {
            Ok(snapshot) => (snapshot["hash"].clone(), snapshot["file"].clone()),
            Err(e) if is_transport(&e) => return,
            Err(e) => panic!("exec.approvals.get: {e}"),
        };
        let seq = {
            let mut p = progress.lock().unwrap();
            p[writer].sent += 1;
            p[writer].sent
        };
        file["agents"][format!("w{writer}")] = json!({"allowlist": [{"pattern": format!("/usr/bin/seq-{seq}")}]});
        match client.request("exec.approvals.set", json!({"file": file, "baseHash": hash})).await {
            Ok(_) => progress.lock().unwrap()[writer].acked = seq,
            Err(ClientError::Server(e)) if e.message == "exec approvals changed since last load; re-run exec.approvals.get and retry" => {}
            Err(e) if is_transport(&e) => return,
            Err(e) => panic!("exec.approvals.set: {e}"),
        }
    }
}

fn approvals_values(file: &Value) -> Vec<u64> {
    (0..WRITERS)
        .map(|w| {
            file.pointer(&format!("/agents/w{w}/allowlist/0/pattern"))
                .and_then(Value::as_str)
                .map(|p| p.strip_prefix("/usr/bin/seq-").unwrap().parse().unwrap())
                .unwrap_or(0)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_concurrent_exec_approvals_sets_loses_nothing_acknowledged() {
    let dir = TempState::new("fault-approvals").unwrap();
    let path = dir.join("exec-approvals.json");
    let mut rng = rng(2);
    let progress: Shared = Arc::new(Mutex::new(vec![Progress::default(); WRITERS]));
    let mut tally = Tally::default();
    for kill in 0..kills() {
        let acked_before: u64 = progress.lock().unwrap().iter().map(|p| p.acked).sum();
        run_until_killed(dir.path(), &mut rng, &progress, approvals_writer).await;
        tally.kills += 1;
        tally.acked_writes += progress.lock().unwrap().iter().map(|p| p.acked).sum::<u64>() - acked_before;
        tally.temp_files_left += temp_files(&path);

        let bytes = std::fs::read(&path).unwrap_or_default();
        let file: Value = if bytes.is_empty() { json!({}) } else { serde_json::from_slice(&bytes).expect("torn approvals file") };
        check_writers("exec approvals", kill, &approvals_values(&file), &progress, &mut tally);

        let (_guard, url) = start_gateway(dir.path()).await;
        let live = admin(&url).await.unwrap().request("exec.approvals.get", json!({})).await.unwrap();
        if !bytes.is_empty() {
            assert_eq!(live["hash"].as_str().unwrap(), sha256_hex(&bytes), "kill {kill}");
        }
        assert_eq!(approvals_values(&live["file"]), approvals_values(&file), "kill {kill}");
    }
    finish("exec.approvals.set", &path, tally, "exec.approvals.set", |snap| json!({"file": snap["file"], "baseHash": snap["hash"]})).await;
}

/// After the last kill: one write on a restarted gateway (nothing else running) removes the
/// temporary files earlier kills left; only the file and its lock remain.
async fn finish(what: &str, path: &Path, tally: Tally, method: &str, params: impl FnOnce(&Value) -> Value) {
    let (_guard, url) = start_gateway(path.parent().unwrap()).await;
    let client = admin(&url).await.unwrap();
    let get = if method == "config.patch" { "config.get" } else { "exec.approvals.get" };
    let snapshot = client.request(get, json!({})).await.unwrap();
    client.request(method, params(&snapshot)).await.unwrap();
    assert_eq!(temp_files(path), 0, "temporary files left after a clean write next to {}", path.display());
    eprintln!("fault test {what}: {tally:?}");
}

// ---- device.pair.approve -----------------------------------------------------------------------

/// What the pairing writers saw: devices whose approval was acknowledged (in order), and the
/// one each writer was waiting on when the gateway died.
#[derive(Default)]
struct Pairings {
    acked: Vec<FakeNodeSpec>,
    in_flight: Vec<FakeNodeSpec>,
}

/// Devices whose acknowledged pairing is checked by a real handshake after each restart (the
/// last ones before the kill, the most at risk).
const HANDSHAKE_SAMPLE: usize = 8;

/// A new device connects (refused: NOT_PAIRED with a request id), then an admin approves it;
/// again and again until the connection dies.
async fn pairing_writer(url: String, pairings: Arc<Mutex<Pairings>>) {
    let Ok(client) = admin(&url).await else { return };
    loop {
        let spec = FakeNodeSpec::linux(&[]);
        let device_id = spec.node_id();
        let request_id = match FakeNode::connect(&url, TOKEN, spec.clone()).await {
            Err(ClientError::Rejected { error, .. }) => error.details.unwrap()["requestId"].as_str().unwrap().to_string(),
            Err(_) => return,
            Ok(_) => panic!("an unpaired device was let in"),
        };
        pairings.lock().unwrap().in_flight.push(spec.clone());
        match client.request("device.pair.approve", json!({"requestId": request_id})).await {
            Ok(_) => {
                let mut p = pairings.lock().unwrap();
                p.in_flight.retain(|s| s.node_id() != device_id);
                p.acked.push(spec);
            }
            Err(e) if is_transport(&e) => return,
            Err(e) => panic!("device.pair.approve: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_concurrent_device_pairing_approvals_loses_no_acknowledged_pairing() {
    let dir = TempState::new("fault-pairing").unwrap();
    std::fs::write(dir.join("pincer.json"), r#"{gateway: {nodes: {pairing: {autoApproveLocal: false}}}}"#).unwrap();
    let mut rng = rng(3);
    let pairings = Arc::new(Mutex::new(Pairings::default()));
    let (mut caught_in_flight, mut landed) = (0, 0);
    let kills = kills();
    for kill in 0..kills {
        let (guard, url) = start_gateway(dir.path()).await;
        let tasks: Vec<_> = (0..WRITERS).map(|_| tokio::spawn(pairing_writer(url.clone(), Arc::clone(&pairings)))).collect();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(30..400))).await;
        tokio::task::spawn_blocking(move || drop(guard)).await.unwrap();
        for task in tasks {
            tokio::time::timeout(T * 2, task).await.expect("writer did not notice the kill").unwrap();
        }

        let (_guard, url) = start_gateway(dir.path()).await;
        let list = admin(&url).await.unwrap().request("device.pair.list", json!({})).await.unwrap();
        let paired: BTreeSet<String> =
            list["paired"].as_array().unwrap().iter().map(|d| d["deviceId"].as_str().unwrap().to_string()).collect();
        let (sample, in_flight) = {
            let mut p = pairings.lock().unwrap();
            let lost: Vec<String> = p.acked.iter().map(FakeNodeSpec::node_id).filter(|id| !paired.contains(id)).collect();
            assert!(lost.is_empty(), "kill {kill}: acknowledged pairings lost: {lost:?}");
            caught_in_flight += p.in_flight.len();
            // An unacknowledged approval is wholly there or absent; if there, it counts from now.
            let in_flight = std::mem::take(&mut p.in_flight);
            let (landed_now, _): (Vec<FakeNodeSpec>, Vec<FakeNodeSpec>) =
                in_flight.iter().cloned().partition(|s| paired.contains(&s.node_id()));
            landed += landed_now.len();
            p.acked.extend(landed_now);
            let sample: Vec<FakeNodeSpec> = p.acked.iter().rev().take(HANDSHAKE_SAMPLE).cloned().collect();
            (sample, in_flight)
        };
        // Paired means usable: the device passes the handshake and gets its token.
        for spec in sample {
            let node =
                FakeNode::connect(&url, TOKEN, spec.clone()).await.unwrap_or_else(|e| panic!("kill {kill}: {}: {e}", spec.node_id()));
            assert!(node.device_token().is_some(), "kill {kill}: no device token for {}", spec.node_id());
        }
        // A device whose approval was not acknowledged and did not land is still asking.
        for spec in in_flight.into_iter().filter(|s| !paired.contains(&s.node_id())) {
            assert!(matches!(FakeNode::connect(&url, TOKEN, spec).await, Err(ClientError::Rejected { .. })), "kill {kill}");
        }
    }
    let acked = pairings.lock().unwrap().acked.len();
    eprintln!("fault test device.pair.approve: kills {kills}, acknowledged pairings {acked}, approvals caught in flight {caught_in_flight}, of which landed {landed}");
}
