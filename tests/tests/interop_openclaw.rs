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

use std::time::{Duration, Instant};

use pincer_protocol::scopes::{ADMIN, PAIRING, READ};
use pincer_tests::interop::*;
use serde_json::json;

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

    let which =
        cli.json(&["nodes", "invoke", "--node", &node_id, "--command", "system.which", "--params", r#"{"bins":["ls"]}"#, "--json"]).await;
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

    let which =
        gw.verb(&["nodes", "invoke", "--node", &node_id[..12], "--command", "system.which", "--params", r#"{"bins":["ls"]}"#]).await.json();
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
    let which =
        gw.verb(&["nodes", "invoke", "--node", &node_id, "--command", "system.which", "--params", r#"{"bins":["ls"]}"#]).await.json();
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
    let which =
        cli.json(&["nodes", "invoke", "--node", &node_id, "--command", "system.which", "--params", r#"{"bins":["ls"]}"#, "--json"]).await;
    assert_which_ls(&which, entry["pathEnv"].as_str());
}
