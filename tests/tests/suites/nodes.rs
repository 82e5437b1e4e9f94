// The node-invoke suite, run over each transport by `tests/nodes.rs` (included there once per
// transport, with `TRANSPORT` set). Its `use`s are per including module.

use std::time::Duration;

use pincer_client::{Frame, GatewayClient, Incoming, RawSocket};
use pincer_protocol::error::{DetailCode, ErrorCode};
use pincer_protocol::scopes::{PAIRING, READ, WRITE};
use pincer_tests::expect::{assert_keys_like, assert_types_like, fixture_payload, server_error};
use pincer_tests::fake_node::{connect_approved, standard_reply, FakeNode, FakeNodeSpec, Reply};
use pincer_tests::{TestGateway, TestGatewayOptions};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);

fn invoke(node_id: &str, command: &str, params: Value, key: &str) -> Value {
    json!({"nodeId": node_id, "command": command, "params": params, "idempotencyKey": key, "timeoutMs": 15000})
}

/// A gateway with `config`, an admin, and an approved fake node declaring `commands`.
async fn setup(config: Option<Value>, commands: &[&str]) -> (TestGateway, GatewayClient, FakeNode) {
    let gw = TestGateway::start_with(TestGatewayOptions { transport: TRANSPORT, config, ..Default::default() }).await.unwrap();
    let admin = gw.admin().await.unwrap();
    let node = connect_approved(&gw.url(), &gw.token, &admin, FakeNodeSpec::linux(commands)).await.unwrap();
    (gw, admin, node)
}

#[tokio::test]
async fn invoke_round_trip_matches_openclaw_frames() {
    let (gw, _admin, node) = setup(None, &["system.which"]).await;
    let node_id = node.node_id();
    let (writer, _) = gw.operator(&[WRITE]).await.unwrap();

    let call = tokio::spawn({
        let writer = writer.clone();
        let params = invoke(&node_id, "system.which", json!({"bins": ["ls"]}), "d0ed8bd9-0331-4a40-ab47-7e466b4c5ab7");
        async move { writer.request("node.invoke", params).await }
    });

    // What the node receives: like 10-event.node.invoke.request.json, without a seq.
    let event = node.client.wait_event("node.invoke.request", T).await.unwrap();
    assert!(event.seq.is_none(), "node.invoke.request is targeted, not broadcast: {event:?}");
    let req = event.payload.clone().unwrap();
    let captured = fixture_payload("10-event.node.invoke.request.json");
    assert_keys_like("node.invoke.request", &req, &captured, &[]);
    assert_types_like("node.invoke.request", &req, &captured);
    assert_eq!(req["nodeId"], node_id.as_str());
    assert_eq!(req["command"], "system.which");
    assert_eq!(req["paramsJSON"], "{\"bins\":[\"ls\"]}");
    assert_eq!(req["idempotencyKey"], "d0ed8bd9-0331-4a40-ab47-7e466b4c5ab7");
    let timeout = req["timeoutMs"].as_u64().unwrap();
    assert!(timeout > 0 && timeout <= 15000, "{timeout}");

    // The node answers the way the OpenClaw node host does (payloadJSON string).
    let ack = reply_like_openclaw(&node, &req, json!({"bins": {"ls": "/usr/bin/ls"}})).await;
    assert_eq!(ack, fixture_payload("21-res.node.invoke.result.json"));

    let result = call.await.unwrap().unwrap();
    let mut expected = fixture_payload("21-res.node.invoke.json");
    expected["nodeId"] = json!(node_id);
    assert_eq!(result, expected);
}

/// Send `node.invoke.result` for `req` with `payloadJSON`, as in 20-req.node.invoke.result.json.
async fn reply_like_openclaw(node: &FakeNode, req: &Value, payload: Value) -> Value {
    let params = json!({"id": req["id"], "nodeId": req["nodeId"], "ok": true, "payloadJSON": payload.to_string()});
    let captured = pincer_tests::expect::fixture("20-req.node.invoke.result.json");
    assert_keys_like("node.invoke.result params", &params, &captured["params"], &[]);
    node.client.request("node.invoke.result", params).await.unwrap()
}

#[tokio::test]
async fn legacy_v3_nodes_receive_params_inline() {
    let gw = TestGateway::start_with(TestGatewayOptions { transport: TRANSPORT, ..Default::default() }).await.unwrap();
    let admin = gw.admin().await.unwrap();
    let mut spec = FakeNodeSpec::linux(&["system.which"]);
    spec.protocol = (3, 3);
    let node = connect_approved(&gw.url(), &gw.token, &admin, spec).await.unwrap();
    let call = tokio::spawn({
        let admin = admin.clone();
        let params = invoke(&node.node_id(), "system.which", json!({"bins": ["git"]}), "v3");
        async move { admin.request("node.invoke", params).await }
    });
    let req = node.next_invoke(T).await.unwrap();
    assert_eq!(req.raw["params"], json!({"bins": ["git"]}), "{}", req.raw);
    assert!(req.raw.get("paramsJSON").is_none(), "v3 nodes get params, not paramsJSON: {}", req.raw);
    node.reply(&req, standard_reply(&req)).await.unwrap();
    assert_eq!(call.await.unwrap().unwrap()["payload"], json!({"bins": {"git": "/usr/bin/git"}}));
}

#[tokio::test]
async fn node_errors_timeouts_disconnects_and_stray_results() {
    let (gw, admin, node) = setup(None, &["system.which", "system.run"]).await;
    let node_id = node.node_id();
    let spawn_invoke = |params: Value| {
        let admin = admin.clone();
        tokio::spawn(async move { admin.request("node.invoke", params).await })
    };

    // ok:false → UNAVAILABLE "<code>: <message>" with details.nodeError.
    let call = spawn_invoke(invoke(&node_id, "system.run", json!({"command": ["rm", "-rf", "/"]}), "e1"));
    let req = node.next_invoke(T).await.unwrap();
    let ack = node.reply(&req, Reply::error("SYSTEM_RUN_DENIED", "approval required")).await.unwrap();
    assert_eq!(ack, Some(json!({"ok": true})));
    let e = server_error(call.await.unwrap());
    assert_eq!(e.code, ErrorCode::Unavailable);
    assert_eq!(e.message, "SYSTEM_RUN_DENIED: approval required");
    let details = e.details.unwrap();
    assert_eq!(details["nodeError"], json!({"code": "SYSTEM_RUN_DENIED", "message": "approval required"}));
    assert_eq!(details["nodeCommandDispatched"], true);

    // Timeout: the caller gets TIMEOUT and the node is told to cancel.
    let mut params = invoke(&node_id, "system.which", json!({"bins": ["ls"]}), "t1");
    params["timeoutMs"] = json!(300);
    let call = spawn_invoke(params);
    let req = node.next_invoke(T).await.unwrap();
    assert_eq!(req.raw["timeoutMs"], 300);
    let e = server_error(call.await.unwrap());
    assert_eq!(e.code, ErrorCode::Unavailable);
    assert_eq!(e.message, "TIMEOUT: node invoke timed out");
    assert_eq!(e.details.as_ref().unwrap()["nodeError"]["code"], "TIMEOUT");
    let cancel = node.next_cancel(T).await.unwrap();
    assert_eq!(cancel, json!({"invokeId": req.id(), "nodeId": node_id}));
    // A result arriving after that is acknowledged but ignored.
    let late = node.reply(&req, Reply::Ok(json!({"bins": {}}))).await.unwrap();
    assert_eq!(late, Some(json!({"ok": true, "ignored": true})));
    let unknown = node.client.request("node.invoke.result", json!({"id": "no-such-invoke", "nodeId": node_id, "ok": true})).await.unwrap();
    assert_eq!(unknown, json!({"ok": true, "ignored": true}));

    // A result naming another node is refused, and does not complete the invoke.
    let call = spawn_invoke(invoke(&node_id, "system.which", json!({"bins": ["cat"]}), "m1"));
    let req = node.next_invoke(T).await.unwrap();
    let e = server_error(
        node.client.request("node.invoke.result", json!({"id": req.id(), "nodeId": "someone-else", "ok": true, "payload": {}})).await,
    );
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidRequest, "nodeId mismatch"));
    node.reply(&req, standard_reply(&req)).await.unwrap();
    assert_eq!(call.await.unwrap().unwrap()["payload"]["bins"]["cat"], "/usr/bin/cat");

    // Malformed payloadJSON: the caller gets an error, the node keeps being served.
    let call = spawn_invoke(invoke(&node_id, "system.which", json!({"bins": ["x"]}), "bad1"));
    let req = node.next_invoke(T).await.unwrap();
    node.reply(&req, Reply::RawPayloadJson("{\"bins\": {".into())).await.unwrap();
    let e = server_error(call.await.unwrap());
    assert_eq!(e.code, ErrorCode::Unavailable, "{e:?}");
    let call = spawn_invoke(invoke(&node_id, "system.which", json!({"bins": ["y"]}), "good1"));
    let req = node.next_invoke(T).await.unwrap();
    node.reply(&req, standard_reply(&req)).await.unwrap();
    assert_eq!(call.await.unwrap().unwrap()["payload"]["bins"]["y"], "/usr/bin/y");

    // The node goes away mid-invoke.
    let call = spawn_invoke(invoke(&node_id, "system.which", json!({"bins": ["ls"]}), "d1"));
    node.next_invoke(T).await.unwrap();
    node.client.close(1000, "bye").await.unwrap();
    let e = server_error(call.await.unwrap());
    assert_eq!(e.code, ErrorCode::Unavailable);
    assert_eq!(e.message, "DISCONNECTED: node disconnected (system.which)");
    assert_eq!(e.details.as_ref().unwrap()["nodeError"]["code"], "DISCONNECTED");
    drop(gw);
}

/// Wait until `node.list` reports the node disconnected.
async fn wait_disconnected(admin: &GatewayClient, node_id: &str) {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let list = admin.request("node.list", json!({})).await.unwrap();
        let entry = list["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == node_id).cloned().unwrap();
        if entry["connected"] == false {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "node still connected: {entry}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn command_policy_is_enforced() {
    let (gw, admin, node) = setup(None, &["system.which", "system.run", "camera.snap", "system.execApprovals.get"]).await;
    let node_id = node.node_id();
    let denied = |e: &pincer_client::ErrorShape| (e.code.clone(), e.message.clone());

    // Allowlisted for linux but not declared by this node.
    let e = server_error(admin.request("node.invoke", invoke(&node_id, "system.notify", json!({}), "p1")).await);
    assert_eq!(
        denied(&e),
        (ErrorCode::InvalidRequest, "node command not allowed: the node (platform: linux) does not support \"system.notify\"".into())
    );
    assert_eq!(e.details.as_ref().unwrap()["reason"], "command not declared by node");
    // Neither declared nor allowlisted: the allowlist check comes first (as in OpenClaw).
    let e = server_error(admin.request("node.invoke", invoke(&node_id, "x", json!({}), "p2")).await);
    assert_eq!(e.message, "node command not allowed: \"x\" is not in the allowlist for platform \"linux\"");
    // Dangerous commands need an explicit opt-in even when declared and approved.
    let e = server_error(admin.request("node.invoke", invoke(&node_id, "camera.snap", json!({}), "p3")).await);
    assert_eq!(e.message, "node command not allowed: \"camera.snap\" requires explicit gateway.nodes.commands.allow opt-in");
    // Exec approvals have their own operator methods.
    let e = server_error(admin.request("node.invoke", invoke(&node_id, "system.execApprovals.get", json!({}), "p4")).await);
    assert_eq!(
        denied(&e),
        (ErrorCode::InvalidRequest, "node.invoke does not allow system.execApprovals.*; use exec.approvals.node.*".into())
    );
    // Unknown node id.
    let e = server_error(admin.request("node.invoke", invoke("no-such-node", "system.which", json!({}), "p5")).await);
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.message.contains("no-such-node"), "{}", e.message);

    // Paired but not connected.
    drop(node);
    wait_disconnected(&admin, &node_id).await;
    let e = server_error(admin.request("node.invoke", invoke(&node_id, "system.which", json!({}), "p6")).await);
    assert_eq!(denied(&e), (ErrorCode::Unavailable, "node not connected".into()));
    assert_eq!(e.detail_code(), Some(DetailCode::NodeNotConnected));
    assert_eq!(e.details.as_ref().unwrap()["nodeCommandDispatched"], false);
    drop(gw);
}

#[tokio::test]
async fn commands_allow_opts_in_and_deny_wins() {
    let allow = json!({"gateway": {"nodes": {"commands": {"allow": ["camera.snap"]}}}});
    let (_gw, admin, mut node) = setup(Some(allow), &["camera.snap", "system.which"]).await;
    node.serve(|_| Reply::Ok(json!({"format": "jpg", "base64": "AAAA", "width": 1, "height": 1})));
    let r = admin.request("node.invoke", invoke(&node.node_id(), "camera.snap", json!({"facing": "front"}), "a1")).await.unwrap();
    assert_eq!(r["payload"]["format"], "jpg");

    let both = json!({"gateway": {"nodes": {"commands": {"allow": ["camera.snap"], "deny": ["camera.snap", "system.which"]}}}});
    let (_gw, admin, node) = setup(Some(both), &["camera.snap", "system.which"]).await;
    for cmd in ["camera.snap", "system.which"] {
        let e = server_error(admin.request("node.invoke", invoke(&node.node_id(), cmd, json!({}), cmd)).await);
        assert_eq!(e.message, format!("node command not allowed: \"{cmd}\" is blocked by gateway.nodes.commands.deny"));
    }
}

#[tokio::test]
async fn desktop_platform_needs_a_matching_device_family() {
    let gw = TestGateway::start_with(TestGatewayOptions { transport: TRANSPORT, ..Default::default() }).await.unwrap();
    let admin = gw.admin().await.unwrap();
    let mut spec = FakeNodeSpec::linux(&["system.run", "system.notify"]);
    spec.device_family = "desktop".into();
    let mut node = connect_approved(&gw.url(), &gw.token, &admin, spec).await.unwrap();
    node.serve(standard_reply);
    let e = server_error(admin.request("node.invoke", invoke(&node.node_id(), "system.run", json!({"command": ["id"]}), "u1")).await);
    assert_eq!(e.message, "node command not allowed: \"system.run\" is not in the allowlist for platform \"unknown\"");
    // The unknown class still gets its minimal set.
    let ok = admin.request("node.invoke", invoke(&node.node_id(), "system.notify", json!({"title": "t", "body": "b"}), "u2")).await;
    assert_eq!(ok.unwrap()["payload"], json!({"sent": true}));
}

#[tokio::test]
async fn idempotency_keys_replay_and_conflict() {
    let (_gw, admin, node) = setup(None, &["system.which"]).await;
    let node_id = node.node_id();
    let params = invoke(&node_id, "system.which", json!({"bins": ["ls"]}), "same-key");

    let call = tokio::spawn({
        let (admin, params) = (admin.clone(), params.clone());
        async move { admin.request("node.invoke", params).await }
    });
    let req = node.next_invoke(T).await.unwrap();
    node.reply(&req, standard_reply(&req)).await.unwrap();
    let first = call.await.unwrap().unwrap();

    // Same key, same params: the cached answer, and the node is not asked again.
    let second = admin.request("node.invoke", params.clone()).await.unwrap();
    assert_eq!(second, first);
    let call = tokio::spawn({
        let admin = admin.clone();
        let params = invoke(&node_id, "system.which", json!({"bins": ["pwd"]}), "next-key");
        async move { admin.request("node.invoke", params).await }
    });
    let next = node.next_invoke(T).await.unwrap();
    assert_eq!(next.raw["idempotencyKey"], "next-key", "the replay must not reach the node");
    node.reply(&next, standard_reply(&next)).await.unwrap();
    call.await.unwrap().unwrap();

    // Same key, other params: refused.
    let other = invoke(&node_id, "system.which", json!({"bins": ["rm"]}), "same-key");
    let e = server_error(admin.request("node.invoke", other).await);
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert_eq!(e.detail_code(), Some(DetailCode::IdempotencyConflict));
}

#[tokio::test]
async fn fifty_concurrent_invokes_through_one_node() {
    let (gw, _admin, mut node) = setup(None, &["system.which"]).await;
    let node_id = node.node_id();
    // Answer in reverse order of arrival-ish (later requests answer sooner).
    node.serve(|req| {
        let i = req.params()["i"].as_u64().unwrap_or(0);
        Reply::After(Duration::from_millis(2 * (50 - i.min(50))), Box::new(Reply::Ok(json!({"i": i, "echo": req.params()}))))
    });
    let (writer, _) = gw.operator(&[WRITE]).await.unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..50u64 {
        let writer = writer.clone();
        let params = invoke(&node_id, "system.which", json!({"i": i, "bins": [format!("b{i}")]}), &format!("c-{i}"));
        set.spawn(async move { (i, writer.request("node.invoke", params).await) });
    }
    let mut seen = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (i, result) = joined.unwrap();
        let result = result.unwrap_or_else(|e| panic!("invoke {i} failed: {e}"));
        assert_eq!(result["payload"]["i"], i, "{result}");
        assert_eq!(result["payload"]["echo"]["bins"][0], format!("b{i}"));
        seen.push(i);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..50).collect::<Vec<_>>());
    assert_eq!(gw.state.nodes.pending_count(), 0);
}

#[tokio::test]
async fn cancel_frame_tells_the_node_and_frees_the_idempotency_key() {
    let (gw, _admin, node) = setup(None, &["system.which"]).await;
    let node_id = node.node_id();
    let mut raw = RawSocket::open(&gw.url(), &[]).await.unwrap();
    let hello = raw.handshake(&gw.operator_opts(&[WRITE])).await.unwrap();
    assert!(hello.ok, "{hello:?}");
    let params = invoke(&node_id, "system.which", json!({"bins": ["sleep"]}), "cancel-me");
    let id = raw.send_request("node.invoke", params.clone()).await.unwrap();
    let req = node.next_invoke(T).await.unwrap();
    raw.send_json(&json!({"type": "cancel", "id": id})).await.unwrap();
    let cancel = node.next_cancel(T).await.unwrap();
    assert_eq!(cancel, json!({"invokeId": req.id(), "nodeId": node_id}));
    assert_eq!(node.reply(&req, Reply::Ok(json!({}))).await.unwrap(), Some(json!({"ok": true, "ignored": true})));

    // Retrying the cancelled request with the same key runs it again.
    let id = raw.send_request("node.invoke", params).await.unwrap();
    let retry = node.next_invoke(T).await.unwrap();
    assert_ne!(retry.id(), req.id());
    node.reply(&retry, standard_reply(&retry)).await.unwrap();
    let res = raw.expect_response(&id, T).await.unwrap();
    assert!(res.ok, "{res:?}");
    assert_eq!(res.payload.unwrap()["payload"]["bins"]["sleep"], "/usr/bin/sleep");
    // Nothing else is left over on the raw socket but events.
    while let Ok(incoming) = raw.next_frame(Duration::from_millis(1)).await {
        assert!(matches!(incoming, Incoming::Frame(Frame::Event(_))), "{incoming:?}");
    }
}

#[tokio::test]
async fn node_events_update_host_stats() {
    let (gw, _admin, node) = setup(None, &["system.which"]).await;
    let (reader, _) = gw.operator(&[READ]).await.unwrap();
    let captured_req = pincer_tests::expect::fixture("20-req.node.event.json");
    let res = node.client.request("node.event", captured_req["params"].clone()).await.unwrap();
    assert_eq!(res, json!({"ok": true, "event": "node.host.stats", "handled": true, "reason": "updated"}));
    let ev = reader.wait_event("node.hostStats", T).await.unwrap().payload.unwrap();
    let captured = fixture_payload("10-event.node.hostStats.json");
    assert_keys_like("node.hostStats", &ev, &captured, &[]);
    assert_keys_like("node.hostStats.hostStats", &ev["hostStats"], &captured["hostStats"], &[]);
    assert_types_like("node.hostStats.hostStats", &ev["hostStats"], &captured["hostStats"]);
    assert_eq!(ev["nodeId"], node.node_id());
    assert_eq!(ev["hostStats"]["cpuCount"], 2);
    let list = reader.request("node.list", json!({})).await.unwrap();
    assert_eq!(list["nodes"][0]["hostStats"]["cpuCount"], 2, "{list}");

    let res = node.client.request("node.event", json!({"event": "something.new", "payload": {"a": 1}})).await.unwrap();
    assert_eq!(res["ok"], true);
    assert_eq!(res["handled"], false);
    assert_eq!(res["event"], "something.new");

    let e = server_error(node.client.request("node.event", json!({"event": "node.host.stats", "payloadJSON": "{nope"})).await);
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    // Operators may not post node events.
    let e = server_error(reader.request("node.event", json!({"event": "node.host.stats", "payload": {}})).await);
    assert_eq!(e.message, "unauthorized role: operator");
}

#[tokio::test]
async fn nodes_coming_and_going_update_presence() {
    let gw = TestGateway::start_with(TestGatewayOptions { transport: TRANSPORT, ..Default::default() }).await.unwrap();
    let (reader, hello) = gw.operator(&[READ, PAIRING]).await.unwrap();
    let start = hello.snapshot.state_version.presence;
    let spec = FakeNodeSpec::linux(&["system.which"]).with_name("presence-node");
    let node_id = spec.node_id();
    let node = FakeNode::connect(&gw.url(), &gw.token, spec).await.unwrap();

    let has_node = |p: &Value| p["presence"].as_array().unwrap().iter().any(|e| e["deviceId"] == node_id.as_str());
    let joined = reader
        .wait_event_where("presence with the node", T, |e| e.event == "presence" && e.payload.as_ref().is_some_and(has_node))
        .await
        .unwrap();
    let joined_version = joined.state_version.unwrap().presence;
    assert!(joined_version > start, "{joined_version} > {start}");
    let payload = joined.payload.unwrap();
    let entries = payload["presence"].as_array().unwrap();
    let me = entries.iter().find(|e| e["mode"] == "gateway").expect("gateway self entry");
    assert_eq!(me["reason"], "self");
    assert!(me["text"].as_str().unwrap().starts_with("Gateway:"), "{me}");
    let captured = fixture_payload("10-event.presence.json");
    assert_types_like("presence self entry", me, &without_keys(&captured["presence"][0], &["ip", "deviceFamily"]));
    let entry = entries.iter().find(|e| e["deviceId"] == node_id.as_str()).unwrap();
    assert_types_like("presence node entry", entry, &captured["presence"][1]);
    assert_eq!(entry["mode"], "node");
    assert_eq!(entry["roles"], json!(["node"]));
    assert_eq!(entry["reason"], "connect");
    assert_eq!(entry["clientId"], "node-host");
    assert_eq!(entry["platform"], "linux");
    assert_eq!(entry["deviceFamily"], "Linux");
    assert_eq!(entry["host"], "presence-node");

    let listed = reader.request("system-presence", json!({})).await.unwrap();
    let listed = listed.as_array().unwrap();
    assert!(listed.iter().any(|e| e["mode"] == "gateway" && e["reason"] == "self"), "{listed:?}");
    assert!(listed.iter().any(|e| e["deviceId"] == node_id.as_str()), "{listed:?}");

    node.client.close(1000, "bye").await.unwrap();
    let left = reader
        .wait_event_where("presence without the node", T, |e| e.event == "presence" && e.payload.as_ref().is_some_and(|p| !has_node(p)))
        .await
        .unwrap();
    assert!(left.state_version.unwrap().presence > joined_version);
    let listed = reader.request("system-presence", json!({})).await.unwrap();
    assert!(!listed.as_array().unwrap().iter().any(|e| e["deviceId"] == node_id.as_str()), "{listed}");
}

fn without_keys(v: &Value, drop: &[&str]) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in drop {
            o.remove(*k);
        }
    }
    v
}
