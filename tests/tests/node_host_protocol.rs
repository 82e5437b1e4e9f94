//! The node host's connection logic against a scripted gateway: what a real gateway never
//! does (garbage frames, malformed params, unknown commands, a protocol-3-only server,
//! silence, vanishing mid-invoke), each answered the documented way while the node keeps
//! serving.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use pincer_node::approvals::{ExecGate, NoPrompter};
use pincer_node::capabilities::{camera, location, CapabilitySettings};
use pincer_node::credentials::SecretBackend;
use pincer_node::{standard_commands, NodeConfig, NodeEvents, NodeHost, NodeStatus, Services, SharedAuth};
use pincer_tests::fake_gateway::{FakeConn, FakeGateway};
use pincer_tests::TempState;
use serde_json::{json, Value};
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(20);

struct RunningNode {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    status: tokio::sync::watch::Receiver<NodeStatus>,
    node_id: String,
    _state: TempState,
}

impl RunningNode {
    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task).await.expect("node did not stop").unwrap();
    }
}

/// A node with the standard commands and `security: full` (nothing here is about approvals).
fn start_node(url: &str) -> RunningNode {
    let state = TempState::new("node-proto").unwrap();
    std::fs::write(state.join("exec-approvals.json"), r#"{"version":1,"defaults":{"security":"full","ask":"off"}}"#).unwrap();
    let mut config = NodeConfig::new(url, state.path());
    config.auth = SharedAuth { token: Some("t".into()), ..Default::default() };
    config.secrets = SecretBackend::File;
    config.backoff = (Duration::from_millis(100), Duration::from_millis(500));
    let (events, outgoing) = NodeEvents::channel();
    let services = Services {
        gate: Arc::new(ExecGate::open(state.path(), Arc::new(NoPrompter)).unwrap()),
        events: events.clone(),
        settings: CapabilitySettings::default(),
        camera: Arc::new(camera::NativeCameras),
        location: Arc::from(location::default_provider()),
    };
    let host = NodeHost::new(config, standard_commands(&services), (events, outgoing)).unwrap();
    let node_id = host.node_id();
    let status = host.status();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        host.run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    RunningNode { stop: Some(tx), task, status, node_id, _state: state }
}

fn invoke_request(id: &str, node_id: &str, command: &str, params_json: Option<&str>, timeout_ms: u64) -> Value {
    json!({"id": id, "nodeId": node_id, "command": command, "paramsJSON": params_json, "timeoutMs": timeout_ms, "idempotencyKey": id})
}

/// The `node.invoke.result` params for invoke `id`.
async fn result_for(conn: &mut FakeConn, id: &str) -> Value {
    loop {
        let req = conn.recv_request("node.invoke.result", WAIT).await.unwrap();
        conn.reply_ok(&req, json!({"ok": true})).await.unwrap();
        if req["params"]["id"] == id {
            return req["params"].clone();
        }
    }
}

fn payload(result: &Value) -> Value {
    assert_eq!(result["ok"], true, "{result}");
    serde_json::from_str(result["payloadJSON"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_declares_a_signed_node_identity() {
    let gw = FakeGateway::bind().await.unwrap();
    let node = start_node(&gw.url().unwrap());
    let (_conn, params) = gw.accept_node(30_000, WAIT).await.unwrap();
    assert_eq!(params["client"]["id"], "node-host");
    assert_eq!(params["client"]["mode"], "node");
    assert_eq!(params["role"], "node");
    assert_eq!((params["minProtocol"].as_u64(), params["maxProtocol"].as_u64()), (Some(4), Some(4)));
    assert_eq!(params["client"]["platform"], std::env::consts::OS);
    assert_eq!(params["device"]["id"], node.node_id.as_str());
    assert_eq!(params["auth"]["token"], "t");
    assert!(params["commands"].as_array().unwrap().contains(&json!("system.run")));
    assert_eq!(params["caps"], json!(["system"]));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_the_gateway_is_ignored_and_bad_invokes_get_clear_errors() {
    let gw = FakeGateway::bind().await.unwrap();
    let node = start_node(&gw.url().unwrap());
    let (mut conn, _) = gw.accept_node(30_000, WAIT).await.unwrap();
    let id = node.node_id.clone();

    // Noise the node must survive.
    conn.send_text("this is not json").await.unwrap();
    conn.send_text("{\"type\":\"mystery\"}").await.unwrap();
    conn.send_binary(vec![0, 159, 146, 150]).await.unwrap();
    conn.send_event("node.invoke.request", json!({"nope": true})).await.unwrap();
    conn.send_event("node.invoke.cancel", json!({"invokeId": "unknown", "nodeId": id})).await.unwrap();

    // Malformed paramsJSON.
    conn.send_event("node.invoke.request", invoke_request("i1", &id, "system.which", Some("{\"bins\":"), 5_000)).await.unwrap();
    let r = result_for(&mut conn, "i1").await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["nodeId"], id.as_str());
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    assert!(r["error"]["message"].as_str().unwrap().starts_with("paramsJSON is malformed JSON"), "{r}");

    // A command this node does not implement.
    conn.send_event("node.invoke.request", invoke_request("i2", &id, "teleport.now", Some("{}"), 5_000)).await.unwrap();
    let r = result_for(&mut conn, "i2").await;
    assert_eq!(r["error"], json!({"code": "UNKNOWN_COMMAND", "message": "this node does not implement \"teleport.now\""}));

    // argv with a NUL byte, a missing cwd, a binary that does not exist.
    conn.send_event("node.invoke.request", invoke_request("i3", &id, "system.run", Some(r#"{"command":["ec\u0000ho","x"]}"#), 5_000))
        .await
        .unwrap();
    assert_eq!(result_for(&mut conn, "i3").await["error"]["message"], "command arguments must not contain NUL bytes");
    conn.send_event(
        "node.invoke.request",
        invoke_request("i4", &id, "system.run", Some(r#"{"command":["ls"],"cwd":"/no/such/dir"}"#), 5_000),
    )
    .await
    .unwrap();
    assert_eq!(result_for(&mut conn, "i4").await["error"]["message"], "working directory not found: /no/such/dir");
    conn.send_event(
        "node.invoke.request",
        invoke_request("i5", &id, "system.run", Some(r#"{"command":["/no/such/pincer-binary"]}"#), 5_000),
    )
    .await
    .unwrap();
    let out = payload(&result_for(&mut conn, "i5").await);
    assert_eq!(out["success"], false);
    assert_eq!(out["error"], "command not found: /no/such/pincer-binary");

    // PATH replacement and LD_PRELOAD are dropped; a harmless override passes.
    let env_run = r#"{"command":["sh","-c","printf '%s|%s|%s' \"$LD_PRELOAD\" \"$PATH\" \"$PINCER_OK\""],"env":{"LD_PRELOAD":"/tmp/evil.so","PATH":"/tmp/evil","PINCER_OK":"yes"}}"#;
    conn.send_event("node.invoke.request", invoke_request("i6", &id, "system.run", Some(env_run), 5_000)).await.unwrap();
    let out = payload(&result_for(&mut conn, "i6").await);
    let stdout = out["stdout"].as_str().unwrap();
    assert!(stdout.starts_with('|'), "LD_PRELOAD reached the child: {stdout}");
    assert!(!stdout.contains("/tmp/evil"), "{stdout}");

    // A command that prints gigabytes: capped at 200,000 bytes, killed by its timeout.
    conn.send_event(
        "node.invoke.request",
        invoke_request("i7", &id, "system.run", Some(r#"{"command":["yes"],"timeoutMs":1500}"#), 20_000),
    )
    .await
    .unwrap();
    let out = payload(&result_for(&mut conn, "i7").await);
    assert_eq!(out["truncated"], true);
    assert_eq!(out["timedOut"], true);
    assert_eq!(out["stdout"].as_str().unwrap().len() + out["stderr"].as_str().unwrap().len(), 200_000);

    // A command that never exits, with only the caller's invoke timeout: cancelled in time.
    let started = Instant::now();
    conn.send_event("node.invoke.request", invoke_request("i8", &id, "system.run", Some(r#"{"command":["sleep","600"]}"#), 1_000))
        .await
        .unwrap();
    let r = result_for(&mut conn, "i8").await;
    assert!(started.elapsed() < Duration::from_millis(1_500), "answer came after the caller's timeout: {:?}", started.elapsed());
    assert_eq!(r["error"], json!({"code": "TIMEOUT", "message": "system.run did not finish within 1000 ms"}));

    // An explicit cancel from the gateway.
    conn.send_event("node.invoke.request", invoke_request("i9", &id, "system.run", Some(r#"{"command":["sleep","600"]}"#), 60_000))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.send_event("node.invoke.cancel", json!({"invokeId": "i9", "nodeId": id})).await.unwrap();
    assert_eq!(result_for(&mut conn, "i9").await["error"]["code"], "CANCELLED");

    // And the node still serves.
    conn.send_event("node.invoke.request", invoke_request("i10", &id, "system.which", Some(r#"{"bins":["sh"]}"#), 5_000)).await.unwrap();
    assert!(payload(&result_for(&mut conn, "i10").await)["bins"]["sh"].is_string());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_vanishes_mid_invoke_kills_the_work_and_the_node_reconnects() {
    let gw = FakeGateway::bind().await.unwrap();
    let node = start_node(&gw.url().unwrap());
    let (mut conn, _) = gw.accept_node(30_000, WAIT).await.unwrap();
    let marker = TempState::new("vanish").unwrap();
    let file = marker.join("finished");
    let script = format!("sleep 3; touch {}", file.display());
    let params = json!({"command": ["sh", "-c", script]}).to_string();
    conn.send_event("node.invoke.request", invoke_request("v1", &node.node_id, "system.run", Some(&params), 60_000)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(conn);
    // The node comes back by itself and serves the new connection.
    let (mut conn, _) = gw.accept_node(30_000, WAIT).await.unwrap();
    conn.send_event("node.invoke.request", invoke_request("v2", &node.node_id, "system.which", Some(r#"{"bins":["sh"]}"#), 5_000))
        .await
        .unwrap();
    assert!(payload(&result_for(&mut conn, "v2").await)["bins"]["sh"].is_string());
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!file.exists(), "the disconnected invoke's process tree kept running");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_protocol_3_on_a_structured_mismatch() {
    let gw = FakeGateway::bind().await.unwrap();
    let node = start_node(&gw.url().unwrap());
    let mut conn = gw.accept(WAIT).await.unwrap();
    conn.send_challenge().await.unwrap();
    let first = conn.recv_request("connect", WAIT).await.unwrap();
    assert_eq!(first["params"]["maxProtocol"], 4);
    conn.reply_error(
        &first,
        json!({"code": "INVALID_REQUEST", "message": "protocol mismatch", "details": {"code": "PROTOCOL_MISMATCH", "expectedProtocol": 3}}),
    )
    .await
    .unwrap();
    let _ = conn.close(1002, "protocol mismatch").await;
    let mut conn = gw.accept(WAIT).await.unwrap();
    conn.send_challenge().await.unwrap();
    let second = conn.recv_request("connect", WAIT).await.unwrap();
    assert_eq!((second["params"]["minProtocol"].as_u64(), second["params"]["maxProtocol"].as_u64()), (Some(3), Some(3)));
    conn.reply_hello(&second, 30_000).await.unwrap();
    let mut status = node.status.clone();
    tokio::time::timeout(WAIT, status.wait_for(|s| matches!(s, NodeStatus::Connected { protocol: 3, .. }))).await.unwrap().unwrap();
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_required_is_waited_out_and_a_silent_gateway_trips_the_tick_watchdog() {
    let gw = FakeGateway::bind().await.unwrap();
    let node = start_node(&gw.url().unwrap());
    let mut conn = gw.accept(WAIT).await.unwrap();
    conn.send_challenge().await.unwrap();
    let connect = conn.recv_request("connect", WAIT).await.unwrap();
    conn.reply_error(
        &connect,
        json!({"code": "NOT_PAIRED", "message": "pairing required: device is not approved yet",
        "details": {"code": "PAIRING_REQUIRED", "reason": "not-paired", "requestId": "req-42", "deviceId": node.node_id}}),
    )
    .await
    .unwrap();
    let _ = conn.close(1008, "pairing required").await;
    let mut status = node.status.clone();
    let seen =
        tokio::time::timeout(WAIT, status.wait_for(|s| matches!(s, NodeStatus::PairingRequired { .. }))).await.unwrap().unwrap().clone();
    match seen {
        NodeStatus::PairingRequired { request_id, approve_hint, .. } => {
            assert_eq!(request_id.as_deref(), Some("req-42"));
            assert!(approve_hint.contains("openclaw devices approve req-42"), "{approve_hint}");
        }
        other => panic!("{other:?}"),
    }
    // It retries by itself; this time the gateway accepts and then never ticks.
    let (mut conn, _) = gw.accept_node(1_000, WAIT).await.unwrap();
    let started = Instant::now();
    let code = conn.wait_close(Duration::from_secs(10)).await.unwrap();
    assert_eq!(code, 4000, "tick watchdog closes with 4000");
    assert!(started.elapsed() >= Duration::from_millis(1_900), "closed before two tick intervals: {:?}", started.elapsed());
    // …and reconnects.
    let _reconnected = gw.accept_node(30_000, WAIT).await.unwrap();
    node.stop().await;
}
