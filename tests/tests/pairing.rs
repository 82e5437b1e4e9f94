//! Device pairing (the WS handshake gate) and node pairing (command trust) over real
//! sockets: manual and silent approval, supersede, reject, tokens (rotate, revoke), remove,
//! rename, the node surface approval cycle, and persistence across a gateway restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_client::{ClientError, ConnectOptions, DeviceIdentity, ErrorShape, GatewayClient};
use pincer_protocol::error::{DetailCode, ErrorCode};
use pincer_protocol::scopes::{ADMIN, PAIRING, READ, WRITE};
use pincer_tests::expect::{assert_keys_like, assert_types_like, fixture, fixture_payload, server_error};
use pincer_tests::fake_node::{approve_node, standard_reply, FakeNode, FakeNodeSpec};
use pincer_tests::{TempState, TestGateway, TestGatewayOptions};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);

fn manual_config() -> TestGatewayOptions {
    TestGatewayOptions { config: Some(json!({"gateway": {"nodes": {"pairing": {"autoApproveLocal": false}}}})), ..Default::default() }
}

/// The rejected connect's error (and close) of a device that still needs pairing.
fn pairing_rejection(result: Result<FakeNode, ClientError>) -> (ErrorShape, Option<(u16, String)>) {
    match result {
        Err(ClientError::Rejected { error, close }) => (error, close),
        Err(other) => panic!("expected a rejected connect, got {other}"),
        Ok(_) => panic!("expected a rejected connect, got hello-ok"),
    }
}

fn request_id_of(error: &ErrorShape) -> String {
    error.details.as_ref().and_then(|d| d["requestId"].as_str()).expect("details.requestId").to_string()
}

async fn device_list(client: &GatewayClient) -> Value {
    client.request("device.pair.list", json!({})).await.unwrap()
}

fn find<'a>(list: &'a Value, key: &str, field: &str, value: &str) -> Option<&'a Value> {
    list[key].as_array().and_then(|a| a.iter().find(|e| e[field] == value))
}

async fn node_entry(client: &GatewayClient, node_id: &str) -> Value {
    let list = client.request("node.list", json!({})).await.unwrap();
    find(&list, "nodes", "nodeId", node_id).cloned().unwrap_or_else(|| panic!("{node_id} not in node.list: {list}"))
}

#[tokio::test]
async fn manual_device_pairing_requires_an_admin_approval_then_issues_a_node_token() {
    let gw = TestGateway::start_with(manual_config()).await.unwrap();
    let (pairer, _) = gw.operator(&[PAIRING]).await.unwrap();
    let admin = gw.admin().await.unwrap();
    let spec = FakeNodeSpec::linux(&["system.which"]).with_name("peer-node-2");
    let node_id = spec.node_id();

    // 1. The unpaired node is refused with the pending request's id.
    let (error, close) = pairing_rejection(FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await);
    assert_eq!(error.code, ErrorCode::NotPaired, "{error:?}");
    assert_eq!(error.message, "pairing required: device is not approved yet");
    assert_eq!(error.detail_code(), Some(DetailCode::PairingRequired));
    let details = error.details.clone().unwrap();
    assert_eq!(details["reason"], "not-paired");
    assert_eq!(details["deviceId"], node_id.as_str());
    assert_eq!(details["requestedRole"], "node");
    let request_id = request_id_of(&error);
    let captured = fixture("06-connect.res.error-not-paired.json")["error"].clone();
    assert_types_like("NOT_PAIRED error", &serde_json::to_value(&error).unwrap(), &captured);
    assert_types_like("NOT_PAIRED details", &details, &captured["details"]);
    if let Some((code, _)) = close {
        assert_eq!(code, 1008);
    }

    // 2. Operators with operator.pairing see the request, shaped like OpenClaw's.
    let event = pairer.wait_event("device.pair.requested", T).await.unwrap();
    let payload = event.payload.unwrap();
    let captured = fixture_payload("10-event.device.pair.requested.json");
    assert_keys_like("device.pair.requested", &payload, &captured, &["remoteIp"]);
    assert_types_like("device.pair.requested", &payload, &captured);
    assert_eq!(payload["requestId"], request_id.as_str());
    assert_eq!(payload["deviceId"], node_id.as_str());
    assert_eq!(payload["publicKey"], spec.device.public_key_b64url());
    assert_eq!(payload["displayName"], "peer-node-2");
    assert_eq!(payload["platform"], "linux");
    assert_eq!(payload["deviceFamily"], "Linux");
    assert_eq!(payload["clientId"], "node-host");
    assert_eq!(payload["clientMode"], "node");
    assert_eq!(payload["role"], "node");
    assert_eq!(payload["roles"], json!(["node"]));
    assert_eq!(payload["scopes"], json!([]));
    assert_eq!(payload["silent"], false);
    assert_eq!(payload["isRepair"], false);

    let list = device_list(&pairer).await;
    let pending = find(&list, "pending", "requestId", &request_id).expect("pending entry");
    let captured_list = fixture_payload("21-res.device.pair.list.json");
    assert_keys_like("device.pair.list pending[]", pending, &captured_list["pending"][0], &["remoteIp"]);
    assert!(find(&list, "paired", "deviceId", &node_id).is_none(), "{list}");

    // 3. operator.pairing alone may not let a device act as a node.
    let denied = server_error(pairer.request("device.pair.approve", json!({"requestId": request_id})).await);
    assert_eq!(denied.code, ErrorCode::InvalidRequest);
    assert_eq!(denied.message, "device pairing approval denied");
    assert!(find(&device_list(&pairer).await, "pending", "requestId", &request_id).is_some());

    // 4. An admin approves.
    let approved = admin.request("device.pair.approve", json!({"requestId": request_id})).await.unwrap();
    let captured = fixture_payload("21-res.device.pair.approve.json");
    assert_keys_like("device.pair.approve", &approved, &captured, &[]);
    assert_eq!(approved["requestId"], request_id.as_str());
    let device = &approved["device"];
    assert_keys_like("device.pair.approve device", device, &captured["device"], &["lastSeenAtMs", "lastSeenReason", "remoteIp"]);
    assert_types_like("device.pair.approve device", device, &captured["device"]);
    assert_eq!(device["deviceId"], node_id.as_str());
    assert_eq!(device["approvedVia"], "owner");
    assert_eq!(device["role"], "node");
    assert_eq!(device["roles"], json!(["node"]));
    let tokens = device["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{device}");
    assert_eq!(tokens[0]["role"], "node");
    assert_eq!(tokens[0]["scopes"], json!([]));
    assert!(tokens[0].get("token").is_none(), "the token itself must never be listed: {device}");

    let resolved = pairer.wait_event("device.pair.resolved", T).await.unwrap().payload.unwrap();
    assert_keys_like("device.pair.resolved", &resolved, &fixture_payload("10-event.device.pair.resolved.json"), &[]);
    assert_eq!(resolved["requestId"], request_id.as_str());
    assert_eq!(resolved["deviceId"], node_id.as_str());
    assert_eq!(resolved["decision"], "approved");

    // 5. The node reconnects and is issued a device token ...
    let node = FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await.unwrap();
    assert_eq!(node.hello.auth.role, "node");
    let token = node.device_token().expect("hello-ok.auth.deviceToken");
    assert!(token.len() >= 32, "{token}");
    node.client.close(1000, "bye").await.unwrap();

    // ... which authenticates on its own (no shared secret).
    let only_token = spec.connect_options(&gw.url()).with_device_token(token.clone());
    let node = FakeNode::connect_with(only_token, spec.clone()).await.unwrap();
    assert_eq!(node.hello.auth.role, "node");
    assert_eq!(node.hello.auth.method.as_deref(), Some("device-token"));

    let list = device_list(&pairer).await;
    assert!(list["pending"].as_array().unwrap().is_empty(), "{list}");
    let paired = find(&list, "paired", "deviceId", &node_id).expect("paired entry");
    assert_eq!(paired["approvedVia"], "owner");
    assert_eq!(paired["connected"], true);
}

#[tokio::test]
async fn reconnecting_with_changed_scopes_or_metadata_supersedes_the_pending_request() {
    let gw = TestGateway::start_with(manual_config()).await.unwrap();
    let admin = gw.admin().await.unwrap();

    // An operator device: same details → same request; wider scopes → a new one.
    let device = DeviceIdentity::generate();
    let opts = |scopes: &[&str]| gw.operator_opts(scopes).with_device(device.clone());
    let first = request_id_of(&server_error(GatewayClient::connect(opts(&[READ])).await));
    let again = request_id_of(&server_error(GatewayClient::connect(opts(&[READ])).await));
    assert_eq!(first, again, "an identical reconnect must reuse the pending request");
    let wider = server_error(GatewayClient::connect(opts(&[READ, WRITE])).await);
    let second = request_id_of(&wider);
    assert_ne!(first, second);
    assert_eq!(wider.details.as_ref().unwrap()["requestedScopes"], json!([READ, WRITE]));

    let list = device_list(&admin).await;
    let mine: Vec<&Value> = list["pending"].as_array().unwrap().iter().filter(|p| p["deviceId"] == device.device_id()).collect();
    assert_eq!(mine.len(), 1, "only the latest request stays pending: {list}");
    assert_eq!(mine[0]["requestId"], second.as_str());
    assert_eq!(mine[0]["scopes"], json!([READ, WRITE]));
    let stale = server_error(admin.request("device.pair.approve", json!({"requestId": first})).await);
    assert_eq!(stale.message, "unknown requestId");

    // A node whose device family changes: new request too.
    let spec = FakeNodeSpec::linux(&["system.which"]);
    let a = request_id_of(&pairing_rejection(FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await).0);
    let mut changed = spec.clone();
    changed.device_family = "Desktop".into();
    let b = request_id_of(&pairing_rejection(FakeNode::connect(&gw.url(), &gw.token, changed).await).0);
    assert_ne!(a, b);
    let list = device_list(&admin).await;
    assert!(find(&list, "pending", "requestId", &a).is_none(), "{list}");
    assert_eq!(find(&list, "pending", "requestId", &b).unwrap()["deviceFamily"], "Desktop");

    // Approving the latest request lets the operator device in with the wider scopes.
    admin.request("device.pair.approve", json!({"requestId": second})).await.unwrap();
    let (client, hello) = GatewayClient::connect(opts(&[READ, WRITE])).await.unwrap();
    assert_eq!(hello.auth.scopes, vec![READ.to_string(), WRITE.to_string()]);
    assert!(hello.auth.device_token.is_some());
    client.request("voicewake.get", json!({})).await.unwrap();
}

#[tokio::test]
async fn rejecting_a_request_and_unknown_request_ids() {
    let gw = TestGateway::start_with(manual_config()).await.unwrap();
    let (pairer, _) = gw.operator(&[PAIRING]).await.unwrap();
    let spec = FakeNodeSpec::linux(&[]);
    let request_id = request_id_of(&pairing_rejection(FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await).0);

    let rejected = pairer.request("device.pair.reject", json!({"requestId": request_id})).await.unwrap();
    assert_eq!(rejected, json!({"requestId": request_id, "deviceId": spec.node_id()}));
    let resolved = pairer
        .wait_event_where("rejected device.pair.resolved", T, |e| {
            e.event == "device.pair.resolved" && e.payload.as_ref().is_some_and(|p| p["decision"] == "rejected")
        })
        .await
        .unwrap()
        .payload
        .unwrap();
    assert_eq!(resolved["requestId"], request_id.as_str());
    assert_eq!(resolved["deviceId"], spec.node_id());
    assert!(resolved["ts"].is_i64());

    let list = device_list(&pairer).await;
    assert!(list["pending"].as_array().unwrap().is_empty(), "{list}");
    assert!(list["paired"].as_array().unwrap().is_empty(), "{list}");
    for method in ["device.pair.approve", "device.pair.reject"] {
        let e = server_error(pairer.request(method, json!({"requestId": request_id})).await);
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidRequest, "unknown requestId"), "{method}");
        let e = server_error(pairer.request(method, json!({"requestId": "no-such-request"})).await);
        assert_eq!(e.message, "unknown requestId", "{method}");
    }
    // Still not paired: the next connect opens a fresh request.
    let (error, _) = pairing_rejection(FakeNode::connect(&gw.url(), &gw.token, spec).await);
    assert_ne!(request_id_of(&error), request_id);
}

#[tokio::test]
async fn loopback_devices_are_paired_silently_and_audited() {
    let gw = TestGateway::start().await.unwrap();
    let (pairer, _) = gw.operator(&[PAIRING]).await.unwrap();
    let spec = FakeNodeSpec::linux(&["system.which"]).with_name("silent-node");
    let node = FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await.unwrap();
    assert_eq!(node.hello.auth.role, "node");
    assert!(node.device_token().is_some(), "silent pairing must issue a device token");

    let list = device_list(&pairer).await;
    assert!(list["pending"].as_array().unwrap().is_empty(), "{list}");
    let paired = find(&list, "paired", "deviceId", &spec.node_id()).expect("paired entry");
    let captured = fixture_payload("21-res.device.pair.list.json");
    assert_types_like("device.pair.list paired[]", paired, &without(&captured["paired"][0], &["nodeSurface"]));
    assert_eq!(paired["approvedVia"], "silent");
    assert_eq!(paired["roles"], json!(["node"]));
    assert_eq!(paired["displayName"], "silent-node");
    assert_eq!(paired["connected"], true);
    assert_eq!(paired["tokens"][0]["role"], "node");

    let audit = gw.state.store.audit_entries(100).unwrap();
    let row = audit
        .iter()
        .find(|r| r.kind == "device.pair" && r.subject == spec.node_id())
        .unwrap_or_else(|| panic!("no audit row for the silent pairing: {audit:?}"));
    assert_eq!(row.decision, "approved");
    assert_eq!(row.actor.as_deref(), Some("silent"));
    assert_eq!(row.details["role"], "node");
}

/// A local process looping over fresh device keys (each silently paired over loopback, each
/// with its own name) no longer grows the devices table forever: once the connections are
/// gone, the next silent pairing leaves 64 silent devices (the bound), and a device a person
/// approved is still there. On 7f29638 every key stayed: 81 silent rows here.
#[tokio::test]
async fn a_loop_of_fresh_silent_keys_keeps_the_devices_table_bounded() {
    let gw = TestGateway::start().await.unwrap();
    let owner: pincer_protocol::devices::PairedDevice = serde_json::from_value(json!({
        "deviceId": "person-approved", "publicKey": "pk", "displayName": "my phone", "clientId": "node-host", "clientMode": "node",
        "role": "node", "roles": ["node"], "scopes": [], "approvedVia": "owner", "createdAtMs": 1, "approvedAtMs": 1
    }))
    .unwrap();
    gw.state.store.save_paired_device(&owner).unwrap();
    for i in 0..80 {
        let node = FakeNode::connect(&gw.url(), &gw.token, FakeNodeSpec::linux(&[]).with_name(&format!("probe-{i}"))).await.unwrap();
        drop(node);
    }
    // Wait until the probes' sockets are gone (connected devices are never pruned).
    let deadline = tokio::time::Instant::now() + T;
    while gw.state.hub.all().iter().any(|c| c.device_id.is_some()) {
        assert!(tokio::time::Instant::now() < deadline, "probe connections did not close");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = FakeNodeSpec::linux(&[]).with_name("probe-last");
    let _node = FakeNode::connect(&gw.url(), &gw.token, last.clone()).await.unwrap();
    let paired = gw.state.store.paired_devices().unwrap();
    let silent: Vec<&str> = paired.iter().filter(|d| d.approved_via.as_deref() == Some("silent")).map(|d| d.device_id.as_str()).collect();
    assert_eq!(silent.len(), 64, "{} silent rows", silent.len());
    assert!(silent.contains(&last.node_id().as_str()), "the newest pairing is kept");
    assert!(paired.iter().any(|d| d.device_id == "person-approved"), "a person's device is never pruned");
}

fn without(v: &Value, drop: &[&str]) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in drop {
            o.remove(*k);
        }
    }
    v
}

#[tokio::test]
async fn rename_remove_and_token_rotation_and_revocation() {
    let gw = TestGateway::start().await.unwrap();
    let admin = gw.admin().await.unwrap();
    let spec = FakeNodeSpec::linux(&["system.which"]);
    let node_id = spec.node_id();
    let node = FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await.unwrap();
    let token = node.device_token().unwrap();
    drop(node);
    let by_token = |t: &str| spec.connect_options(&gw.url()).with_device_token(t.to_string());

    // rename
    let renamed = admin.request("device.pair.rename", json!({"deviceId": node_id, "label": "  Kitchen  "})).await.unwrap();
    assert_eq!(renamed, json!({"deviceId": node_id, "label": "Kitchen"}));
    assert_eq!(find(&device_list(&admin).await, "paired", "deviceId", &node_id).unwrap()["operatorLabel"], "Kitchen");
    let e = server_error(admin.request("device.pair.rename", json!({"deviceId": node_id, "label": "  "})).await);
    assert_eq!(e.message, "label required");
    let e = server_error(admin.request("device.pair.rename", json!({"deviceId": "nope", "label": "x"})).await);
    assert_eq!(e.message, "unknown deviceId");

    // revoke: the token stops working and its live socket is closed.
    let live = FakeNode::connect_with(by_token(&token), spec.clone()).await.unwrap();
    let revoked = admin.request("device.token.revoke", json!({"deviceId": node_id, "role": "node"})).await.unwrap();
    assert_eq!(revoked["deviceId"], node_id.as_str());
    assert_eq!(revoked["role"], "node");
    assert!(revoked["revokedAtMs"].is_i64());
    let (code, _) = live.client.wait_closed(T).await.unwrap();
    assert_eq!(code, 1008);
    let e = server_error(FakeNode::connect_with(by_token(&token), spec.clone()).await);
    assert_eq!(e.detail_code(), Some(DetailCode::AuthDeviceTokenMismatch), "{e:?}");
    let e = server_error(admin.request("device.token.revoke", json!({"deviceId": node_id, "role": "node"})).await);
    assert_eq!(e.message, "device token revocation denied");
    let listed = find(&device_list(&admin).await, "paired", "deviceId", &node_id).unwrap().clone();
    assert!(listed["tokens"][0]["revokedAtMs"].is_i64(), "{listed}");

    // A shared-secret reconnect re-issues a node token.
    let node = FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await.unwrap();
    let token = node.device_token().unwrap();

    // rotate by someone else: the new token is withheld and the node's socket closed.
    let rotated = admin.request("device.token.rotate", json!({"deviceId": node_id, "role": "node"})).await.unwrap();
    assert_eq!(rotated["tokenDelivery"], "withheld-cross-device");
    assert!(rotated.get("token").is_none(), "{rotated}");
    assert!(rotated["rotatedAtMs"].is_i64());
    node.client.wait_closed(T).await.unwrap();
    let e = server_error(FakeNode::connect_with(by_token(&token), spec.clone()).await);
    assert_eq!(e.detail_code(), Some(DetailCode::AuthDeviceTokenMismatch), "{e:?}");

    // rotate by the device itself (an operator device with operator.pairing): in-band.
    let me = DeviceIdentity::generate();
    let me_opts = gw.operator_opts(&[PAIRING]).with_device(me.clone());
    let (own, hello) = GatewayClient::connect(me_opts.clone()).await.unwrap();
    assert!(hello.auth.device_token.is_some());
    let rotated = own.request("device.token.rotate", json!({"deviceId": me.device_id(), "role": "operator"})).await.unwrap();
    assert_eq!(rotated["tokenDelivery"], "in-band");
    let new_token = rotated["token"].as_str().expect("own rotation returns the token").to_string();
    assert_eq!(rotated["scopes"], json!([PAIRING]));
    let mut token_only = ConnectOptions::new(gw.url()).with_scopes(&[PAIRING]).with_device(me.clone());
    token_only.device_token = Some(new_token);
    let (again, hello) = GatewayClient::connect(token_only).await.unwrap();
    assert_eq!(hello.auth.method.as_deref(), Some("device-token"));
    again.request("device.pair.list", json!({})).await.unwrap();
    // A non-admin device session may not touch another device's tokens.
    let e = server_error(own.request("device.token.rotate", json!({"deviceId": node_id, "role": "node"})).await);
    assert_eq!(e.message, "device token rotation denied");
    let e = server_error(admin.request("device.token.rotate", json!({"deviceId": node_id, "role": "operator"})).await);
    assert_eq!(e.message, "device token rotation denied");

    // remove: the device's sockets close and it is gone from the list.
    let node = FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await.unwrap();
    let removed = admin.request("device.pair.remove", json!({"deviceId": node_id})).await.unwrap();
    assert_eq!(removed, json!({"deviceId": node_id}));
    node.client.wait_closed(T).await.unwrap();
    assert!(find(&device_list(&admin).await, "paired", "deviceId", &node_id).is_none());
    let e = server_error(admin.request("device.pair.remove", json!({"deviceId": node_id})).await);
    assert_eq!(e.message, "unknown deviceId");
}

#[tokio::test]
async fn node_command_surface_needs_its_own_approval() {
    let gw = TestGateway::start().await.unwrap();
    let admin = gw.admin().await.unwrap();
    let (pairer, _) = gw.operator(&[PAIRING]).await.unwrap();
    let (pair_write, _) = gw.operator(&[PAIRING, WRITE]).await.unwrap();
    let spec = FakeNodeSpec::linux(&["system.which", "system.notify"]).with_name("peer-node-1");
    let node_id = spec.node_id();

    // Device pairing succeeds silently; the command surface is a pending node.pair request.
    let mut node = FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await.unwrap();
    node.serve(standard_reply);
    let requested = pairer.wait_event("node.pair.requested", T).await.unwrap().payload.unwrap();
    let captured = fixture_payload("10-event.node.pair.requested.json");
    assert_keys_like("node.pair.requested", &requested, &captured, &["remoteIp", "permissions", "silent"]);
    assert_types_like("node.pair.requested", &requested, &captured);
    assert_eq!(requested["nodeId"], node_id.as_str());
    assert_eq!(requested["requiredApproveScopes"], json!([PAIRING, ADMIN]));
    assert_eq!(requested["commands"], json!(["system.which", "system.notify"]));
    assert_eq!(requested["displayName"], "peer-node-1");
    let request_id = requested["requestId"].as_str().unwrap().to_string();

    let list = pairer.request("node.pair.list", json!({})).await.unwrap();
    let pending = find(&list, "pending", "requestId", &request_id).expect("pending node request");
    assert_keys_like(
        "node.pair.list pending[]",
        pending,
        &fixture_payload("21-res.node.pair.list.json")["pending"][0],
        &["remoteIp", "permissions", "silent"],
    );
    assert_eq!(node_entry(&admin, &node_id).await["approvalState"], "pending-approval");

    // Until approved the node's surface updates are refused ...
    let e = server_error(node.client.request("node.runnerInventory.update", json!({"workerHost": {"enabled": false}})).await);
    assert_eq!(e.code, ErrorCode::Unavailable);
    assert!(e.message.contains("awaiting operator approval"), "{}", e.message);
    // ... and its commands are not invokable.
    let invoke = json!({"nodeId": node_id, "command": "system.which", "params": {"bins": ["ls"]}, "idempotencyKey": "k-pending"});
    let e = server_error(admin.request("node.invoke", invoke.clone()).await);
    assert!(e.message.contains("pending approval"), "{}", e.message);

    // system.* needs operator.admin to approve.
    let e = server_error(pair_write.request("node.pair.approve", json!({"requestId": request_id})).await);
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert_eq!(e.message, "missing scope: operator.admin");
    assert_eq!(e.details.as_ref().unwrap()["requiredScopes"], json!([PAIRING, ADMIN]));

    let approved = admin.request("node.pair.approve", json!({"requestId": request_id})).await.unwrap();
    let captured = fixture_payload("21-res.node.pair.approve.json");
    assert_keys_like("node.pair.approve", &approved, &captured, &[]);
    assert_keys_like("node.pair.approve node", &approved["node"], &captured["node"], &["permissions"]);
    assert_eq!(approved["node"]["commands"], json!(["system.which", "system.notify"]));
    for (who, client) in [("operator", &pairer), ("node", &node.client)] {
        let resolved = client.wait_event("node.pair.resolved", T).await.unwrap().payload.unwrap();
        assert_keys_like(&format!("node.pair.resolved to {who}"), &resolved, &fixture_payload("10-event.node.pair.resolved.json"), &[]);
        assert_eq!(resolved["requestId"], request_id.as_str(), "{who}");
        assert_eq!(resolved["nodeId"], node_id.as_str(), "{who}");
        assert_eq!(resolved["decision"], "approved", "{who}");
    }

    let inventory = node.client.request("node.runnerInventory.update", json!({"workerHost": {"enabled": false}})).await.unwrap();
    assert_eq!(inventory["nodeId"], node_id.as_str());
    let entry = node_entry(&admin, &node_id).await;
    assert_types_like("node.list entry", &entry, &without(&fixture_payload("21-res.node.list.json")["nodes"][1], &["pathEnv"]));
    assert_eq!(entry["approvalState"], "approved");
    assert_eq!(entry["paired"], true);
    assert_eq!(entry["connected"], true);
    assert_eq!(entry["commands"], json!(["system.which", "system.notify"]));
    let result = admin.request("node.invoke", invoke.clone()).await.unwrap();
    assert_eq!(result["payload"], json!({"bins": {"ls": "/usr/bin/ls"}}));

    // Declaring a new command after approval: pending re-approval, the new command is not
    // invokable, the approved ones still are.
    drop(node);
    let spec2 = spec.clone().with_commands(&["system.which", "system.notify", "system.run"]);
    let mut node = FakeNode::connect(&gw.url(), &gw.token, spec2).await.unwrap();
    node.serve(standard_reply);
    let requested = pairer.wait_event("node.pair.requested", T).await.unwrap().payload.unwrap();
    let reapproval_id = requested["requestId"].as_str().unwrap().to_string();
    assert_ne!(reapproval_id, request_id);
    let entry = node_entry(&admin, &node_id).await;
    assert_eq!(entry["approvalState"], "pending-reapproval");
    assert_eq!(entry["pendingRequestId"], reapproval_id.as_str());
    assert_eq!(entry["commands"], json!(["system.which", "system.notify"]));
    assert_eq!(entry["pendingDeclaredCommands"], json!(["system.which", "system.notify", "system.run"]));
    let run = json!({"nodeId": node_id, "command": "system.run", "params": {"command": ["true"]}, "idempotencyKey": "k-run"});
    let e = server_error(admin.request("node.invoke", run.clone()).await);
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.message.contains("pending approval"), "{}", e.message);
    let ok = admin
        .request("node.invoke", json!({"nodeId": node_id, "command": "system.which", "params": {"bins": ["sh"]}, "idempotencyKey": "k2"}))
        .await;
    assert_eq!(ok.unwrap()["payload"], json!({"bins": {"sh": "/usr/bin/sh"}}));
    admin.request("node.pair.approve", json!({"requestId": reapproval_id})).await.unwrap();
    assert_eq!(node_entry(&admin, &node_id).await["approvalState"], "approved");
    let ran = admin.request("node.invoke", run).await.unwrap();
    assert_eq!(ran["command"], "system.run");

    // rename, describe
    let renamed = admin.request("node.rename", json!({"nodeId": node_id, "displayName": " Build box "})).await.unwrap();
    assert_eq!(renamed, json!({"nodeId": node_id, "displayName": "Build box"}));
    let paired = admin.request("node.pair.list", json!({})).await.unwrap();
    assert_eq!(find(&paired, "paired", "nodeId", &node_id).unwrap()["displayName"], "Build box");
    let e = server_error(admin.request("node.rename", json!({"nodeId": node_id, "displayName": " "})).await);
    assert_eq!(e.message, "displayName required");
    let described = admin.request("node.describe", json!({"nodeId": node_id})).await.unwrap();
    assert_eq!(described["nodeId"], node_id.as_str());
    assert!(described["ts"].is_i64());
    let e = server_error(admin.request("node.describe", json!({"nodeId": "no-such-node"})).await);
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidRequest, "unknown nodeId"));
    let e = server_error(admin.request("node.rename", json!({"nodeId": "no-such-node", "displayName": "x"})).await);
    assert_eq!(e.message, "unknown nodeId");

    // remove: the node is told, disconnected, and its surface is no longer approved.
    let removed = admin.request("node.pair.remove", json!({"nodeId": node_id})).await.unwrap();
    assert_eq!(removed, json!({"nodeId": node_id}));
    let resolved = node
        .client
        .wait_event_where("node.pair.resolved removed", T, |e| {
            e.event == "node.pair.resolved" && e.payload.as_ref().is_some_and(|p| p["decision"] == "removed")
        })
        .await
        .unwrap()
        .payload
        .unwrap();
    assert_eq!(resolved["nodeId"], node_id.as_str());
    assert_eq!(resolved["requestId"], "");
    node.client.wait_closed(T).await.unwrap();
    let paired = admin.request("node.pair.list", json!({})).await.unwrap();
    assert!(find(&paired, "paired", "nodeId", &node_id).is_none(), "{paired}");
    let e = server_error(admin.request("node.pair.remove", json!({"nodeId": node_id})).await);
    assert_eq!(e.message, "unknown nodeId");
}

#[tokio::test]
async fn rejected_node_surface_stays_unapproved() {
    let gw = TestGateway::start().await.unwrap();
    let admin = gw.admin().await.unwrap();
    let spec = FakeNodeSpec::linux(&["system.notify"]);
    let node_id = spec.node_id();
    let node = FakeNode::connect(&gw.url(), &gw.token, spec).await.unwrap();
    let requested = admin.wait_event("node.pair.requested", T).await.unwrap().payload.unwrap();
    // No system.* admin command declared: pairing + write suffices.
    assert_eq!(requested["requiredApproveScopes"], json!([PAIRING, WRITE]));
    let request_id = requested["requestId"].as_str().unwrap().to_string();

    let rejected = admin.request("node.pair.reject", json!({"requestId": request_id})).await.unwrap();
    assert_eq!(rejected, json!({"requestId": request_id, "nodeId": node_id}));
    for client in [&admin, &node.client] {
        let resolved = client.wait_event("node.pair.resolved", T).await.unwrap().payload.unwrap();
        assert_eq!(resolved["decision"], "rejected");
        assert_eq!(resolved["requestId"], request_id.as_str());
    }
    let list = admin.request("node.pair.list", json!({})).await.unwrap();
    assert!(find(&list, "pending", "requestId", &request_id).is_none(), "{list}");
    let entry = node_entry(&admin, &node_id).await;
    assert_eq!(entry["approvalState"], "unapproved");
    assert_eq!(entry["paired"], false);
    assert_eq!(entry["commands"], json!([]));
    for method in ["node.pair.approve", "node.pair.reject"] {
        let e = server_error(admin.request(method, json!({"requestId": request_id})).await);
        assert_eq!(e.message, "unknown requestId", "{method}");
    }
    let e = server_error(
        admin.request("node.invoke", json!({"nodeId": node_id, "command": "system.notify", "params": {}, "idempotencyKey": "k"})).await,
    );
    assert_eq!(e.code, ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn pairings_tokens_and_node_approvals_survive_a_restart() {
    let dir = TempState::new("restart").unwrap();
    let opts = || TestGatewayOptions {
        state_dir: Some(dir.path().to_path_buf()),
        config: Some(json!({"gateway": {"nodes": {"pairing": {"autoApproveLocal": false}}}})),
        ..Default::default()
    };
    let spec = FakeNodeSpec::linux(&["system.which"]).with_name("durable");
    let node_id = spec.node_id();
    let waiting = FakeNodeSpec::linux(&[]).with_name("still-pending");

    let token = {
        let gw = TestGateway::start_with(opts()).await.unwrap();
        let admin = gw.admin().await.unwrap();
        let request_id = request_id_of(&pairing_rejection(FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await).0);
        admin.request("device.pair.approve", json!({"requestId": request_id})).await.unwrap();
        let node = FakeNode::connect(&gw.url(), &gw.token, spec.clone()).await.unwrap();
        approve_node(&admin, &node_id, T).await.unwrap();
        admin.request("node.rename", json!({"nodeId": node_id, "displayName": "Durable box"})).await.unwrap();
        // A second device is left pending across the restart.
        pairing_rejection(FakeNode::connect(&gw.url(), &gw.token, waiting.clone()).await);
        let token = node.device_token().unwrap();
        drop(node);
        drop(admin);
        gw.stop().await.unwrap();
        token
    };

    let gw = TestGateway::start_with(opts()).await.unwrap();
    let admin = gw.admin().await.unwrap();
    let list = device_list(&admin).await;
    let paired = find(&list, "paired", "deviceId", &node_id).unwrap_or_else(|| panic!("paired device lost: {list}"));
    assert_eq!(paired["approvedVia"], "owner");
    let pending = find(&list, "pending", "deviceId", &waiting.node_id()).unwrap_or_else(|| panic!("pending lost: {list}"));
    let pending_id = pending["requestId"].as_str().unwrap().to_string();

    // The device token from before the restart still authenticates.
    let mut node = FakeNode::connect_with(spec.connect_options(&gw.url()).with_device_token(token), spec.clone()).await.unwrap();
    node.serve(standard_reply);
    let entry = node_entry(&admin, &node_id).await;
    assert_eq!(entry["approvalState"], "approved");
    assert_eq!(entry["paired"], true);
    assert_eq!(entry["connected"], true);
    let pairs = admin.request("node.pair.list", json!({})).await.unwrap();
    assert_eq!(find(&pairs, "paired", "nodeId", &node_id).unwrap()["displayName"], "Durable box");
    let result = admin
        .request(
            "node.invoke",
            json!({"nodeId": node_id, "command": "system.which", "params": {"bins": ["ls"]}, "idempotencyKey": "after-restart"}),
        )
        .await
        .unwrap();
    assert_eq!(result["payload"]["bins"]["ls"], "/usr/bin/ls");

    // The request left pending before the restart can be approved after it.
    admin.request("device.pair.approve", json!({"requestId": pending_id})).await.unwrap();
    let late = FakeNode::connect(&gw.url(), &gw.token, waiting).await.unwrap();
    assert!(late.device_token().is_some());
    let audit = gw.state.store.audit_entries(100).unwrap();
    assert!(audit.iter().filter(|r| r.kind == "device.pair" && r.decision == "approved").count() >= 2, "{audit:?}");
}
