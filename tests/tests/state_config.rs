//! Config, voice-wake settings, logs, HTTP probes, ticks and the process lifecycle over real
//! sockets: `config.get/patch/schema` (redaction, base-hash guard, live effect),
//! `voicewake.*` (normalisation, persistence, broadcast), `logs.tail` on the real binary,
//! SIGTERM (shutdown event + 1012) and SIGKILL durability of everything acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use pincer_client::{ClientError, ConnectOptions, GatewayClient};
use pincer_protocol::error::ErrorCode;
use pincer_protocol::scopes::{ADMIN, APPROVALS, PAIRING, READ, WRITE};
use pincer_tests::expect::{assert_keys_like, fixture_payload, server_error};
use pincer_tests::fake_node::{approve_node, connect_approved, FakeNode, FakeNodeSpec, Reply};
use pincer_tests::wait::http_get;
use pincer_tests::{free_port, wait_for_health, workspace_bin, ChildGuard, TempState, TestGateway, TestGatewayOptions};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);
const BIN_TOKEN: &str = "state-config-token-0123456789";
const SECRET: &str = "file-secret-token-0123456789";

fn with_config(config: Value) -> TestGatewayOptions {
    TestGatewayOptions { config: Some(config), ..Default::default() }
}

// ---- config ------------------------------------------------------------------------------

#[tokio::test]
async fn config_get_redacts_and_patch_takes_effect_immediately() {
    let config = json!({"gateway": {"auth": {"token": SECRET}, "nodes": {"commands": {"deny": []}}}});
    let gw = TestGateway::start_with(with_config(config)).await.unwrap();
    let admin = gw.admin().await.unwrap();

    let snapshot = admin.request("config.get", json!({})).await.unwrap();
    assert!(!snapshot.to_string().contains(SECRET), "config.get leaked the token: {snapshot}");
    assert_eq!(snapshot["exists"], true);
    assert_eq!(snapshot["parsed"]["gateway"]["auth"]["token"], "__OPENCLAW_REDACTED__");
    assert_eq!(snapshot["config"]["gateway"]["auth"]["token"], "__OPENCLAW_REDACTED__");
    assert!(snapshot["raw"].as_str().unwrap().contains("__OPENCLAW_REDACTED__"), "{snapshot}");
    let hash = snapshot["hash"].as_str().unwrap().to_string();
    assert!(!hash.is_empty());

    // A dangerous command is refused until config allows it.
    let mut node = connect_approved(&gw.url(), &gw.token, &admin, FakeNodeSpec::linux(&["camera.snap"])).await.unwrap();
    node.serve(|_| Reply::Ok(json!({"format": "jpg", "base64": "AAAA", "width": 1, "height": 1})));
    let snap = |key: &str| json!({"nodeId": node.node_id(), "command": "camera.snap", "params": {}, "idempotencyKey": key});
    let e = server_error(admin.request("node.invoke", snap("before")).await);
    assert!(e.message.contains("requires explicit gateway.nodes.commands.allow opt-in"), "{}", e.message);

    let patched = admin
        .request("config.patch", json!({"raw": "{gateway: {nodes: {commands: {allow: ['camera.snap']}}}}", "baseHash": hash}))
        .await
        .unwrap();
    assert_eq!(patched["ok"], true);
    assert_eq!(patched["changedPaths"], json!(["gateway.nodes.commands.allow"]));
    let new_hash = patched["hash"].as_str().unwrap().to_string();
    assert_ne!(new_hash, hash);
    assert!(!patched.to_string().contains(SECRET), "{patched}");
    let ok = admin.request("node.invoke", snap("after")).await.unwrap();
    assert_eq!(ok["payload"]["format"], "jpg");

    // The stored file keeps the real secret (the sentinel is never written back).
    let on_disk = std::fs::read_to_string(gw.state.options.config_path.clone()).unwrap();
    assert!(on_disk.contains(SECRET), "{on_disk}");
    assert!(!on_disk.contains("__OPENCLAW_REDACTED__"));
    let snapshot = admin.request("config.get", json!({})).await.unwrap();
    assert_eq!(snapshot["hash"], new_hash.as_str());
    assert_eq!(snapshot["config"]["gateway"]["nodes"]["commands"]["allow"], json!(["camera.snap"]));

    let e =
        server_error(admin.request("config.patch", json!({"raw": "{gateway: {nodes: {commands: {allow: []}}}}", "baseHash": hash})).await);
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidRequest, "config changed since last load; re-run config.get and retry"));
    let e = server_error(admin.request("config.patch", json!({"raw": "{gateway: {nodes: {commands: {allow: []}}}}"})).await);
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.message.starts_with("config base hash required"), "{}", e.message);
    // Neither refused patch changed anything.
    assert_eq!(admin.request("config.get", json!({})).await.unwrap()["hash"], new_hash.as_str());
    admin.request("node.invoke", snap("still-allowed")).await.unwrap();

    let schema = admin.request("config.schema", json!({})).await.unwrap();
    let want = json!({"schema": {}, "uiHints": {}, "version": "", "generatedAt": ""});
    assert_keys_like("config.schema", &schema, &want, &[]);
    assert!(schema["schema"].is_object() && schema["uiHints"].is_object());
    assert!(schema["version"].is_string() && schema["generatedAt"].is_string());
    let (reader, _) = gw.operator(&[READ]).await.unwrap();
    reader.request("config.schema", json!({})).await.unwrap();
    let e = server_error(reader.request("config.patch", json!({"raw": "{}"})).await);
    assert_eq!(e.code, ErrorCode::Forbidden);
}

// ---- voice wake ----------------------------------------------------------------------------

#[tokio::test]
async fn voicewake_triggers_are_normalized_persisted_and_broadcast() {
    let dir = TempState::new("voicewake").unwrap();
    let opts = || TestGatewayOptions { state_dir: Some(dir.path().to_path_buf()), ..Default::default() };
    {
        let gw = TestGateway::start_with(opts()).await.unwrap();
        let (reader, _) = gw.operator(&[READ]).await.unwrap();
        let (writer, _) = gw.operator(&[WRITE]).await.unwrap();
        let defaults = json!({"triggers": ["openclaw", "claude", "computer"]});
        assert_eq!(reader.request("voicewake.get", json!({})).await.unwrap(), defaults);

        // Nodes get the current triggers on connect ...
        let node = FakeNode::connect(&gw.url(), &gw.token, FakeNodeSpec::linux(&[])).await.unwrap();
        let first = node.client.wait_event("voicewake.changed", T).await.unwrap().payload.unwrap();
        assert_eq!(first, fixture_payload("10-event.voicewake.changed.json"));
        assert_eq!(node.client.request("voicewake.get", json!({})).await.unwrap(), defaults);

        let long = "x".repeat(100);
        let set = writer.request("voicewake.set", json!({"triggers": ["  hey pincer ", "", 3, long]})).await.unwrap();
        let expected = json!({"triggers": ["hey pincer", "x".repeat(64)]});
        assert_eq!(set, expected);
        // ... and every change, as do operators.
        for client in [&reader, &writer, &node.client] {
            let changed = client.wait_event("voicewake.changed", T).await.unwrap().payload.unwrap();
            assert_eq!(changed, expected);
        }
        assert_eq!(reader.request("voicewake.get", json!({})).await.unwrap(), expected);

        for bad in [json!({}), json!({"triggers": "openclaw"}), json!({"triggers": null})] {
            let e = server_error(writer.request("voicewake.set", bad.clone()).await);
            assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidRequest, "voicewake.set requires triggers: string[]"), "{bad}");
        }
        let e = server_error(reader.request("voicewake.set", json!({"triggers": ["a"]})).await);
        assert_eq!(e.code, ErrorCode::Forbidden);
        // Nothing usable left: the defaults are stored.
        let reset = writer.request("voicewake.set", json!({"triggers": ["   ", 7]})).await.unwrap();
        assert_eq!(reset, defaults);
        writer.request("voicewake.set", json!({"triggers": ["computer", "hey pincer"]})).await.unwrap();
        drop((reader, writer, node));
        gw.stop().await.unwrap();
    }
    let gw = TestGateway::start_with(opts()).await.unwrap();
    let (reader, _) = gw.operator(&[READ]).await.unwrap();
    assert_eq!(reader.request("voicewake.get", json!({})).await.unwrap(), json!({"triggers": ["computer", "hey pincer"]}));
}

// ---- HTTP and ticks --------------------------------------------------------------------------

#[tokio::test]
async fn http_probes() {
    let gw = TestGateway::start().await.unwrap();
    for path in ["/healthz", "/health"] {
        let (status, body) = http_get(&gw.http(path), T).await.unwrap();
        assert_eq!(status, 200, "{path}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"ok": true, "status": "live"}), "{path}");
    }
    for path in ["/readyz", "/ready"] {
        let (status, body) = http_get(&gw.http(path), T).await.unwrap();
        assert_eq!(status, 200, "{path}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["ready"], true, "{path}: {body}");
    }
    let (status, _) = http_get(&gw.http("/no-such-path"), T).await.unwrap();
    assert_eq!(status, 404);
}

#[tokio::test]
async fn ticks_carry_increasing_per_connection_seq() {
    let gw = TestGateway::start_with(with_config(json!({"gateway": {"tickIntervalMs": 1000}}))).await.unwrap();
    let (client, hello) = gw.operator(&[READ]).await.unwrap();
    assert_eq!(hello.policy.tick_interval_ms, 1000);
    let a = client.wait_event("tick", Duration::from_secs(5)).await.unwrap();
    let b = client.wait_event("tick", Duration::from_secs(5)).await.unwrap();
    let captured = fixture_payload("10-event.tick.json");
    for tick in [&a, &b] {
        assert_keys_like("tick", tick.payload.as_ref().unwrap(), &captured, &[]);
    }
    assert!(b.seq.unwrap() > a.seq.unwrap(), "{a:?} {b:?}");
    assert!(b.payload.unwrap()["ts"].as_i64().unwrap() > a.payload.unwrap()["ts"].as_i64().unwrap());
    assert_eq!(client.seq_stats().gaps, 0);
}

// ---- the real binary ------------------------------------------------------------------------

/// `pincer-gateway run` on a free port with `state_dir`, healthy.
async fn start_binary(state_dir: &Path) -> (ChildGuard, String) {
    let bin = tokio::task::spawn_blocking(|| workspace_bin("pincer-gateway")).await.unwrap().unwrap();
    let port = free_port().unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("run")
        .arg("--port")
        .arg(port.to_string())
        .arg("--state-dir")
        .arg(state_dir)
        .arg("--token")
        .arg(BIN_TOKEN)
        .arg("--log-level")
        .arg("info")
        .env_remove("RUST_LOG")
        .env_remove("PINCER_CONFIG")
        .env_remove("PINCER_GATEWAY_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let guard = ChildGuard::spawn("pincer-gateway", cmd).unwrap();
    let url = format!("ws://127.0.0.1:{port}");
    wait_for_health(&url, BIN_TOKEN, Duration::from_secs(30)).await.unwrap();
    (guard, url)
}

async fn bin_operator(url: &str, scopes: &[&str]) -> GatewayClient {
    let opts = ConnectOptions::operator(url, BIN_TOKEN, scopes).with_request_timeout(T);
    GatewayClient::connect(opts).await.unwrap().0
}

#[tokio::test]
async fn logs_tail_returns_json_lines_and_resumes_at_the_cursor() {
    let dir = TempState::new("logs").unwrap();
    let (_guard, url) = start_binary(dir.path()).await;
    let reader = bin_operator(&url, &[READ]).await;
    reader.request("health", json!({})).await.unwrap();

    let first = reader.request("logs.tail", json!({})).await.unwrap();
    assert!(first["file"].as_str().unwrap().ends_with("gateway.log"), "{first}");
    let cursor = first["cursor"].as_u64().unwrap();
    let size = first["size"].as_u64().unwrap();
    assert!(cursor > 0 && cursor <= size, "{first}");
    let lines: Vec<String> = first["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
    }
    assert!(lines.iter().any(|l| l.contains("client connected")), "{lines:?}");

    // A new connection logs new lines; reading from the cursor returns only those.
    let (other, hello) = GatewayClient::connect(ConnectOptions::operator(&url, BIN_TOKEN, &[READ])).await.unwrap();
    let conn_id = hello.server.conn_id.clone();
    let deadline = tokio::time::Instant::now() + T;
    let mut cursor = cursor;
    let mut fresh: Vec<String> = Vec::new();
    while !fresh.iter().any(|l| l.contains(&conn_id)) {
        assert!(tokio::time::Instant::now() < deadline, "no log line for connection {conn_id}: {fresh:?}");
        let next = reader.request("logs.tail", json!({"cursor": cursor})).await.unwrap();
        assert_eq!(next["reset"], false, "{next}");
        let next_cursor = next["cursor"].as_u64().unwrap();
        assert!(next_cursor >= cursor);
        cursor = next_cursor;
        fresh.extend(next["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()));
        if fresh.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for line in &fresh {
        assert!(!lines.contains(line), "line returned twice: {line}");
        serde_json::from_str::<Value>(line).unwrap();
    }
    drop(other);

    let one = reader.request("logs.tail", json!({"limit": 1})).await.unwrap();
    assert_eq!(one["lines"].as_array().unwrap().len(), 1);
    assert_eq!(one["truncated"], true);
    let e = server_error(reader.request("logs.tail", json!({"maxBytes": 0})).await);
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.message.starts_with("invalid logs.tail params"), "{}", e.message);
}

#[tokio::test]
async fn sigterm_sends_shutdown_then_closes_1012_and_exits_0() {
    let dir = TempState::new("sigterm").unwrap();
    let (mut guard, url) = start_binary(dir.path()).await;
    let client = bin_operator(&url, &[READ]).await;
    let node = FakeNode::connect(&url, BIN_TOKEN, FakeNodeSpec::linux(&[])).await.unwrap();
    let mut others = Vec::new();
    for _ in 0..30 {
        others.push(bin_operator(&url, &[READ]).await);
    }

    let stopping = tokio::task::spawn_blocking(move || {
        let r = guard.terminate(Duration::from_secs(10));
        (guard, r)
    });
    for c in [&client, &node.client].into_iter().chain(others.iter()) {
        let shutdown = c.wait_event("shutdown", T).await.unwrap();
        assert_eq!(shutdown.payload.unwrap(), json!({"reason": "gateway stopping"}));
        let (code, reason) = c.wait_closed(T).await.unwrap();
        assert_eq!((code, reason.as_str()), (1012, "service restart"));
    }
    let (_guard, result) = stopping.await.unwrap();
    let (took, status) = result.unwrap();
    let took = took.expect("the gateway did not exit after SIGTERM");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(status.success(), "{status:?}");
    let e = GatewayClient::connect(ConnectOptions::operator(&url, BIN_TOKEN, &[READ])).await.unwrap_err();
    assert!(matches!(e, ClientError::Ws(_) | ClientError::Io(_)), "{e}");
}

#[tokio::test]
async fn everything_acknowledged_survives_sigkill() {
    let dir = TempState::new("sigkill").unwrap();
    std::fs::write(dir.join("pincer.json"), r#"{gateway: {nodes: {pairing: {autoApproveLocal: false}}}}"#).unwrap();
    let spec = FakeNodeSpec::linux(&["system.which", "camera.snap"]);
    let node_id = spec.node_id();

    let (token, approvals_hash) = {
        let (guard, url) = start_binary(dir.path()).await;
        let admin = bin_operator(&url, &[ADMIN, READ, WRITE, PAIRING, APPROVALS]).await;
        // Device pairing, approved by an admin.
        let request_id = match FakeNode::connect(&url, BIN_TOKEN, spec.clone()).await {
            Err(ClientError::Rejected { error, .. }) => error.details.unwrap()["requestId"].as_str().unwrap().to_string(),
            other => panic!("expected NOT_PAIRED, got {other:?}"),
        };
        admin.request("device.pair.approve", json!({"requestId": request_id})).await.unwrap();
        let node = FakeNode::connect(&url, BIN_TOKEN, spec.clone()).await.unwrap();
        let token = node.device_token().unwrap();
        // Node surface approval, voice wake, config, approvals file.
        approve_node(&admin, &node_id, T).await.unwrap();
        admin.request("voicewake.set", json!({"triggers": ["durable"]})).await.unwrap();
        let hash = admin.request("config.get", json!({})).await.unwrap()["hash"].clone();
        admin
            .request("config.patch", json!({"raw": "{gateway: {nodes: {commands: {allow: ['camera.snap']}}}}", "baseHash": hash}))
            .await
            .unwrap();
        let base = admin.request("exec.approvals.get", json!({})).await.unwrap()["hash"].clone();
        let set = admin
            .request("exec.approvals.set", json!({"file": {"version": 1, "defaults": {"security": "deny"}}, "baseHash": base}))
            .await
            .unwrap();
        // SIGKILL, no chance to flush anything.
        drop(guard);
        let e = node.client.wait_closed(T).await.unwrap();
        assert_eq!(e.0, 1006, "the process died without a close frame: {e:?}");
        (token, set["hash"].clone())
    };

    let (_guard, url) = start_binary(dir.path()).await;
    let admin = bin_operator(&url, &[ADMIN, READ, WRITE, PAIRING]).await;
    let mut node = FakeNode::connect_with(spec.connect_options(&url).with_device_token(token), spec.clone()).await.unwrap();
    node.serve(|_| Reply::Ok(json!({"format": "jpg", "base64": ""})));
    let list = admin.request("node.list", json!({})).await.unwrap();
    let entry = list["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == node_id.as_str()).cloned().unwrap();
    assert_eq!(entry["approvalState"], "approved", "{entry}");
    assert_eq!(admin.request("voicewake.get", json!({})).await.unwrap(), json!({"triggers": ["durable"]}));
    let config = admin.request("config.get", json!({})).await.unwrap();
    assert_eq!(config["config"]["gateway"]["nodes"]["commands"]["allow"], json!(["camera.snap"]));
    assert_eq!(config["config"]["gateway"]["nodes"]["pairing"]["autoApproveLocal"], false);
    // The patched allowlist is live after the restart too.
    let snap = admin
        .request("node.invoke", json!({"nodeId": node_id, "command": "camera.snap", "params": {}, "idempotencyKey": "k"}))
        .await
        .unwrap();
    assert_eq!(snap["payload"]["format"], "jpg");
    assert_eq!(admin.request("exec.approvals.get", json!({})).await.unwrap()["hash"], approvals_hash);
    let devices = admin.request("device.pair.list", json!({})).await.unwrap();
    let paired = devices["paired"].as_array().unwrap().iter().find(|d| d["deviceId"] == node_id.as_str()).cloned().unwrap();
    assert_eq!(paired["approvedVia"], "owner");
}
