//! `pincer-node` (the binary) against `pincer-gateway` (the binary), over real sockets:
//! pairing (silent and manual), the system commands, local exec approvals, capabilities,
//! gateway restarts and revoked tokens. OpenClaw interop lives in `node_interop_openclaw.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_client::GatewayClient;
use pincer_protocol::scopes::{ADMIN, APPROVALS, PAIRING, READ, WRITE};
use pincer_tests::desktop::DesktopSession;
use pincer_tests::fake_node::approve_node;
use pincer_tests::interop::{wait_node, Pincer, PincerNode, Scene, TOKEN};
use serde_json::{json, Value};

const UP: Duration = Duration::from_secs(30);

/// An allowlist that lets `uname` (and nothing else) run without asking.
fn allow_uname() -> Value {
    json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"},
           "agents": {"main": {"allowlist": [{"pattern": "/usr/bin/uname"}, {"pattern": "/bin/uname"}]}}})
}

async fn admin(gw: &Pincer) -> GatewayClient {
    gw.operator(&[ADMIN, READ, WRITE, APPROVALS, PAIRING]).await
}

/// Wait until the node is connected, approve its command surface, wait until it is paired.
async fn approve_surface(op: &GatewayClient, node_id: &str) -> Value {
    wait_node(op, node_id, "connected", UP, |n| n["connected"] == true).await;
    approve_node(op, node_id, UP).await.unwrap();
    wait_node(op, node_id, "paired", UP, |n| n["paired"] == true && n["connected"] == true).await
}

async fn invoke(op: &GatewayClient, node_id: &str, command: &str, params: Value) -> Result<Value, pincer_protocol::ErrorShape> {
    let key = uuid::Uuid::new_v4().to_string();
    let res = op
        .request_response(
            "node.invoke",
            json!({"nodeId": node_id, "command": command, "params": params, "idempotencyKey": key}),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    match res.ok {
        true => Ok(res.payload.unwrap_or_default()["payload"].clone()),
        false => Err(res.error.unwrap()),
    }
}

/// The node's own error inside the gateway's UNAVAILABLE: `details.nodeError`.
fn node_error(e: &pincer_protocol::ErrorShape) -> (String, String) {
    let d = e.details.clone().unwrap_or_default();
    (d["nodeError"]["code"].as_str().unwrap_or_default().to_string(), d["nodeError"]["message"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_pairing_then_system_commands_with_local_approvals_and_a_real_notification() {
    let scene = Scene::pincer_only("node-system");
    let gw = Pincer::start(&scene, None).await;
    let desktop = DesktopSession::start(true).unwrap();
    let mut node = PincerNode::new(scene.dir("node"), &gw.url(), TOKEN, "pincer-test-node");
    for (k, v) in desktop.env() {
        node = node.with_env(&k, &v);
    }
    node.write_approvals(&allow_uname());
    let mut node = node.start();
    let node_id = node.node_id();
    let op = admin(&gw).await;
    let entry = approve_surface(&op, &node_id).await;

    // What the node declares, as the gateway shows it.
    assert_eq!(entry["platform"], "linux");
    assert_eq!(entry["deviceFamily"], "Linux");
    assert_eq!(entry["displayName"], "pincer-test-node");
    assert_eq!(entry["clientId"], "node-host");
    let mut commands: Vec<&str> = entry["commands"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    commands.sort();
    assert_eq!(
        commands,
        ["system.execApprovals.get", "system.execApprovals.set", "system.notify", "system.run", "system.run.prepare", "system.which"]
    );
    assert_eq!(entry["caps"], json!(["system"]));
    assert_eq!(entry["permissions"]["camera"], false, "camera is off until enabled: {entry}");

    // system.which: found names map to absolute paths; missing ones are left out.
    let which = invoke(&op, &node_id, "system.which", json!({"bins": ["sh", "pincer-no-such-bin"]})).await.unwrap();
    assert!(which["bins"]["sh"].as_str().unwrap().ends_with("/sh"), "{which}");
    assert!(which["bins"].get("pincer-no-such-bin").is_none());

    // system.run of an allowlisted binary runs without asking.
    let run = invoke(&op, &node_id, "system.run", json!({"command": ["uname", "-s"]})).await.unwrap();
    assert_eq!(run["stdout"], "Linux\n", "{run}");
    assert_eq!(run["exitCode"], 0);
    assert_eq!(run["success"], true);
    assert_eq!(run["timedOut"], false);
    assert_eq!(run["truncated"], false);

    // Not on the allowlist, nobody to ask, askFallback=deny: denied with OpenClaw's wording.
    let denied = invoke(&op, &node_id, "system.run", json!({"command": ["id", "-u"]})).await.unwrap_err();
    let (code, message) = node_error(&denied);
    assert_eq!(code, "UNAVAILABLE", "{denied:?}");
    assert_eq!(message, "SYSTEM_RUN_DENIED: approval required");
    // A chain passes only if every part is allowed.
    let chained = invoke(&op, &node_id, "system.run", json!({"command": ["/bin/sh", "-c", "uname && id"]})).await.unwrap_err();
    assert!(node_error(&chained).1.starts_with("SYSTEM_RUN_DENIED"), "{chained:?}");

    // Every decision is in the node's audit log.
    let audit = std::fs::read_to_string(node.dir.join("exec-audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().any(|l| l["decision"] == "allow" && l["argv"] == json!(["uname", "-s"])), "{audit}");
    assert!(lines.iter().any(|l| l["decision"] == "deny" && l["argv"] == json!(["id", "-u"])), "{audit}");

    // system.run.prepare: the canonical plan, nothing run.
    let plan =
        invoke(&op, &node_id, "system.run.prepare", json!({"command": ["echo", "a b"], "sessionKey": "agent:main:main"})).await.unwrap();
    assert_eq!(plan["cmdText"], "echo 'a b'");
    assert_eq!(plan["plan"]["argv"], json!(["echo", "a b"]));
    assert_eq!(plan["plan"]["agentId"], "main");
    assert_eq!(plan["plan"]["sessionKey"], "agent:main:main");

    // system.notify reaches the desktop's notification daemon.
    let sent = invoke(&op, &node_id, "system.notify", json!({"title": "Pincer test", "body": "hello from the node"})).await.unwrap();
    assert_eq!(sent, json!({"sent": true}));
    let shown = desktop.notifications().unwrap();
    assert!(shown.contains(&("Pincer test".to_string(), "hello from the node".to_string())), "dunst showed {shown:?}");

    // The node's approvals file, edited remotely through the gateway (compare-and-swap).
    let snap = op.request("exec.approvals.node.get", json!({"nodeId": node_id})).await.unwrap();
    assert_eq!(snap["exists"], true, "{snap}");
    assert!(snap.get("baseHash").is_none());
    let mut file = snap["file"].clone();
    file["agents"]["main"]["allowlist"].as_array_mut().unwrap().push(json!({"pattern": "/usr/bin/id"}));
    let stale = op.request("exec.approvals.node.set", json!({"nodeId": node_id, "file": file, "baseHash": "0".repeat(64)})).await;
    // The node refuses it; the gateway passes its error on under details.nodeError.
    match stale {
        Err(pincer_client::ClientError::Server(e)) => assert_eq!(
            e.details.as_ref().and_then(|d| d.get("nodeError")),
            Some(&json!({"code": "INVALID_REQUEST",
                "message": "exec approvals changed since last load (baseHash mismatch); re-run system.execApprovals.get and retry"})),
            "{e:?}"
        ),
        other => panic!("a stale baseHash must be refused by the node, got {other:?}"),
    }
    op.request("exec.approvals.node.set", json!({"nodeId": node_id, "file": file, "baseHash": snap["hash"]})).await.unwrap();
    let now_allowed = invoke(&op, &node_id, "system.run", json!({"command": ["id", "-u"]})).await.unwrap();
    assert_eq!(now_allowed["exitCode"], 0, "{now_allowed}");

    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_pairing_resumes_by_itself_once_approved() {
    let scene = Scene::pincer_only("node-manual");
    let gw = Pincer::start(&scene, Some(json!({"gateway": {"nodes": {"pairing": {"autoApproveLocal": false}}}}))).await;
    let op = admin(&gw).await;
    let mut node = PincerNode::new(scene.dir("node"), &gw.url(), TOKEN, "manual-node").start();
    let node_id = node.node_id();

    // The gateway holds a device pairing request; the node says how to approve it.
    let requested = op.wait_event("device.pair.requested", UP).await.unwrap().payload.unwrap();
    assert_eq!(requested["deviceId"], node_id.as_str());
    let request_id = requested["requestId"].as_str().unwrap().to_string();
    node.wait_log(&format!("openclaw devices approve {request_id}"), UP).await;

    // Approve with the operator verb; the node connects without being restarted.
    let approved = gw.verb(&["devices", "approve", &request_id]).await.json();
    assert_eq!(approved["requestId"], request_id.as_str(), "{approved}");
    approve_surface(&op, &node_id).await;
    node.wait_log("connected as node", UP).await;
    let which = invoke(&op, &node_id, "system.which", json!({"bins": ["sh"]})).await.unwrap();
    assert!(which["bins"]["sh"].is_string());
    // It stored the device token it was given (file backend: secrets.json).
    let secrets: Value = serde_json::from_str(&std::fs::read_to_string(node.dir.join("secrets.json")).unwrap()).unwrap();
    assert!(secrets.as_object().unwrap().keys().any(|k| k.starts_with("device-token|")), "{secrets}");
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_survives_gateway_restart_and_revoked_tokens() {
    let scene = Scene::pincer_only("node-restart");
    let mut gw = Pincer::start(&scene, None).await;
    let mut node = PincerNode::new(scene.dir("node"), &gw.url(), TOKEN, "restart-node").start();
    let node_id = node.node_id();
    let op = admin(&gw).await;
    approve_surface(&op, &node_id).await;
    drop(op);

    // Restart the gateway on the same port and state: the node comes back on its own with
    // its device token, and its approved surface still holds.
    gw.stop();
    gw.spawn().await;
    node.wait_log_count("connected as node", 2, Duration::from_secs(60)).await;
    let op = admin(&gw).await;
    wait_node(&op, &node_id, "reconnected", UP, |n| n["connected"] == true && n["paired"] == true).await;
    let which = invoke(&op, &node_id, "system.which", json!({"bins": ["sh"]})).await.unwrap();
    assert!(which["bins"]["sh"].is_string());

    // Revoke its device token: the next connect is refused with AUTH_DEVICE_TOKEN_MISMATCH,
    // the node drops the token and pairs again with the shared token (loopback: silently).
    op.request("device.token.revoke", json!({"deviceId": node_id, "role": "node"})).await.unwrap();
    gw.stop();
    gw.spawn().await;
    node.wait_log("dropping it and connecting with the shared credential", Duration::from_secs(60)).await;
    node.wait_log_count("connected as node", 3, Duration::from_secs(60)).await;
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabled_capabilities_are_declared_and_answer_honestly() {
    let scene = Scene::pincer_only("node-caps");
    let allow = json!({"gateway": {"nodes": {"commands": {"allow": ["camera.list", "camera.snap", "camera.clip", "screen.snapshot", "screen.record", "location.get"]}}}});
    let gw = Pincer::start(&scene, Some(allow)).await;
    let desktop = DesktopSession::start(false).unwrap();
    let mut node = PincerNode::new(scene.dir("node"), &gw.url(), TOKEN, "caps-node").with_args(&[
        "--enable-screen",
        "--enable-camera",
        "--enable-location",
    ]);
    for (k, v) in desktop.env() {
        node = node.with_env(&k, &v);
    }
    // No system bus with GeoClue in the test: point the node at an empty private one.
    node = node.with_env("DBUS_SYSTEM_BUS_ADDRESS", &desktop.bus_address);
    let mut node = node.start();
    let node_id = node.node_id();
    let op = admin(&gw).await;
    let entry = approve_surface(&op, &node_id).await;
    let commands: Vec<&str> = entry["commands"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for c in ["camera.list", "camera.snap", "camera.clip", "screen.snapshot", "screen.record", "location.get"] {
        assert!(commands.contains(&c), "{c} not declared: {entry}");
    }
    assert_eq!(entry["permissions"]["screenRecording"], true);

    // A real capture of the virtual display.
    let shot = invoke(&op, &node_id, "screen.snapshot", json!({"format": "png"})).await.unwrap();
    assert_eq!(shot["format"], "png");
    assert_eq!((shot["width"].as_u64(), shot["height"].as_u64()), (Some(1280), Some(800)), "{}", shot["width"]);
    let png = base64_decode(shot["base64"].as_str().unwrap());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // No camera on this machine: an empty list and a clear error, never an invented image.
    assert_eq!(invoke(&op, &node_id, "camera.list", json!({})).await.unwrap(), json!({"devices": []}));
    let snap = invoke(&op, &node_id, "camera.snap", json!({})).await.unwrap_err();
    assert_eq!(node_error(&snap).0, "CAMERA_UNAVAILABLE", "{snap:?}");

    // No GeoClue service answers: LOCATION_UNAVAILABLE with what to do.
    let loc = invoke(&op, &node_id, "location.get", json!({"timeoutMs": 15000})).await.unwrap_err();
    let (code, message) = node_error(&loc);
    assert_eq!(code, "LOCATION_UNAVAILABLE", "{loc:?}");
    assert!(message.to_lowercase().contains("geoclue"), "{message}");
    node.stop();
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// With a Secret Service keyring on the session bus, the identity lives there and no
/// `secrets.json` is written; without one, the node falls back to the 0600 file and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_lives_in_the_os_keyring_when_there_is_one() {
    let scene = Scene::pincer_only("node-keyring");
    let mut desktop = DesktopSession::start(false).unwrap();
    desktop.start_keyring().unwrap();
    let bin = pincer_tests::workspace_bin("pincer-node").unwrap();
    let id = |dir: &std::path::Path, env: &[(String, String)]| {
        let out = std::process::Command::new(&bin)
            .args(["id", "--state-dir"])
            .arg(dir)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8_lossy(&out.stdout).trim().to_string(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let with_keyring = scene.dir("with-keyring");
    let (first, log) = id(&with_keyring, &desktop.env());
    let (second, _) = id(&with_keyring, &desktop.env());
    assert_eq!(first.len(), 64);
    assert_eq!(first, second, "the identity must be read back from the keyring");
    assert!(!with_keyring.join("secrets.json").exists(), "no file fallback when a keyring answers: {log}");

    let without = scene.dir("without-keyring");
    let no_bus = [("DBUS_SESSION_BUS_ADDRESS".to_string(), format!("unix:path={}", without.join("no-bus").display()))];
    let (a, log) = id(&without, &no_bus);
    let (b, _) = id(&without, &no_bus);
    assert_eq!(a, b);
    assert!(log.contains("no usable OS keyring"), "{log}");
    let secrets = without.join("secrets.json");
    assert!(secrets.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
