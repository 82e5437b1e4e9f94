//! Exec approvals over real sockets: the approval broker (`exec.approval.*`: request,
//! requested/resolved events to approval clients, first answer wins, expiry with
//! askFallback, no route, waitDecision, get/list, audit) and the approvals files of the
//! gateway host (`exec.approvals.get/set`, compare-and-swap) and of a node
//! (`exec.approvals.node.*`, answered by a fake node).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pincer_client::GatewayClient;
use pincer_protocol::approvals::approvals_hash;
use pincer_protocol::error::ErrorCode;
use pincer_protocol::scopes::{APPROVALS, READ, WRITE};
use pincer_tests::expect::server_error;
use pincer_tests::fake_node::{connect_approved, FakeNodeSpec, InvokeRequest, Reply};
use pincer_tests::{TestGateway, TestGatewayOptions};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);

/// An operator that can prompt a person: scope operator.approvals + cap exec-approvals.
async fn approval_client(gw: &TestGateway) -> GatewayClient {
    GatewayClient::connect(gw.operator_opts(&[APPROVALS]).with_caps(&["exec-approvals"])).await.unwrap().0
}

fn spawn_request(client: &GatewayClient, params: Value) -> tokio::task::JoinHandle<Result<Value, pincer_client::ClientError>> {
    let client = client.clone();
    tokio::spawn(async move { client.request("exec.approval.request", params).await })
}

fn audit_rows(gw: &TestGateway, id: &str) -> Vec<pincer_gateway::store::AuditEntry> {
    gw.state.store.audit_entries(1000).unwrap().into_iter().filter(|r| r.kind == "exec.approval" && r.subject == id).collect()
}

#[tokio::test]
async fn approval_request_is_routed_to_approval_clients_and_first_answer_wins() {
    let gw = TestGateway::start().await.unwrap();
    let (requester, _) = gw.operator(&[APPROVALS]).await.unwrap();
    let approver = approval_client(&gw).await;
    let second_approver = approval_client(&gw).await;

    let call = spawn_request(
        &requester,
        json!({"command": "rg -n TODO", "commandArgv": ["rg", "-n", "TODO"], "cwd": "/srv/p", "host": "gateway",
               "agentId": "main", "sessionKey": "agent:main:main", "security": "allowlist", "ask": "on-miss"}),
    );
    let event = approver.wait_event("exec.approval.requested", T).await.unwrap();
    let requested = event.payload.unwrap();
    for key in ["id", "request", "createdAtMs", "expiresAtMs"] {
        assert!(requested.get(key).is_some(), "missing {key}: {requested}");
    }
    let id = requested["id"].as_str().unwrap().to_string();
    assert_eq!(requested["request"]["command"], "rg -n TODO");
    assert_eq!(requested["request"]["commandArgv"], json!(["rg", "-n", "TODO"]));
    assert_eq!(requested["request"]["cwd"], "/srv/p");
    assert_eq!(requested["request"]["agentId"], "main");
    let created = requested["createdAtMs"].as_i64().unwrap();
    assert_eq!(requested["expiresAtMs"].as_i64().unwrap() - created, 1_800_000, "default approval timeout is 30 min");
    // Every approval surface is prompted.
    let other = second_approver.wait_event("exec.approval.requested", T).await.unwrap().payload.unwrap();
    assert_eq!(other["id"], id.as_str());

    let e = server_error(approver.request("exec.approval.resolve", json!({"id": id, "decision": "maybe"})).await);
    assert_eq!(e.message, "invalid decision");
    let ok = approver.request("exec.approval.resolve", json!({"id": id, "decision": "allow-once"})).await.unwrap();
    assert_eq!(ok, json!({"ok": true}));

    let decided = call.await.unwrap().unwrap();
    assert_eq!(decided["id"], id.as_str());
    assert_eq!(decided["decision"], "allow-once");
    assert_eq!(decided["effectiveDecision"], "allow-once");
    assert_eq!(decided["createdAtMs"], created);
    assert!(decided["expiresAtMs"].is_i64());

    for client in [&approver, &second_approver] {
        let resolved = client.wait_event("exec.approval.resolved", T).await.unwrap().payload.unwrap();
        assert_eq!(resolved["id"], id.as_str());
        assert_eq!(resolved["decision"], "allow-once");
        assert!(resolved["ts"].is_i64());
        assert!(resolved.get("resolvedBy").is_some(), "{resolved}");
        assert_eq!(resolved["request"]["command"], "rg -n TODO");
    }
    // A plain CLI operator holding the scope is not an approval surface: no events for it.
    let leaked: Vec<_> = requester.drain_events().into_iter().filter(|e| e.event.starts_with("exec.approval.")).collect();
    assert!(leaked.is_empty(), "{leaked:?}");

    // Later answers: a different one is refused, the same one is idempotent.
    let e = server_error(second_approver.request("exec.approval.resolve", json!({"id": id, "decision": "deny"})).await);
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidRequest, "approval already resolved"));
    assert_eq!(e.details.unwrap()["reason"], "APPROVAL_ALREADY_RESOLVED");
    let again = second_approver.request("exec.approval.resolve", json!({"id": id, "decision": "allow-once"})).await.unwrap();
    assert_eq!(again, json!({"ok": true}));
    let e = server_error(approver.request("exec.approval.resolve", json!({"id": "no-such-approval", "decision": "deny"})).await);
    assert_eq!(e.message, "unknown or expired approval id");
    assert_eq!(e.details.unwrap()["reason"], "APPROVAL_NOT_FOUND");

    // One audit row for the one decision.
    let rows = audit_rows(&gw, &id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].decision, "allow-once");
    assert_eq!(rows[0].details["command"], "rg -n TODO");

    // Without operator.approvals nobody may ask or answer.
    let (writer, _) = gw.operator(&[READ, WRITE]).await.unwrap();
    let e = server_error(writer.request("exec.approval.request", json!({"command": "ls"})).await);
    assert_eq!(e.code, ErrorCode::Forbidden);
}

#[tokio::test]
async fn unanswered_approvals_expire_with_the_ask_fallback() {
    // Default askFallback: deny.
    let gw = TestGateway::start().await.unwrap();
    let (requester, _) = gw.operator(&[APPROVALS]).await.unwrap();
    let approver = approval_client(&gw).await;
    let decided =
        requester.request("exec.approval.request", json!({"id": "exp-1", "command": "make deploy", "timeoutMs": 200})).await.unwrap();
    assert_eq!(decided["id"], "exp-1");
    assert_eq!(decided["decision"], Value::Null);
    assert_eq!(decided["effectiveDecision"], "deny");
    assert_eq!(decided["terminalReason"], "expired");
    assert_eq!(decided["expiresAtMs"].as_i64().unwrap() - decided["createdAtMs"].as_i64().unwrap(), 200);
    approver.wait_event("exec.approval.requested", T).await.unwrap();
    let resolved = approver.wait_event("exec.approval.resolved", T).await.unwrap().payload.unwrap();
    assert_eq!(resolved["id"], "exp-1");
    let e = server_error(approver.request("exec.approval.resolve", json!({"id": "exp-1", "decision": "allow-once"})).await);
    assert_eq!(e.message, "approval already resolved");
    let rows = audit_rows(&gw, "exp-1");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].decision, "deny");
    assert_eq!(rows[0].details["reason"], "expired");
    drop(gw);

    // askFallback full: an unanswered request is allowed once.
    let config = json!({"approvals": {"exec": {"askFallback": "full"}}});
    let gw = TestGateway::start_with(TestGatewayOptions { config: Some(config), ..Default::default() }).await.unwrap();
    let (requester, _) = gw.operator(&[APPROVALS]).await.unwrap();
    let _approver = approval_client(&gw).await;
    let decided =
        requester.request("exec.approval.request", json!({"id": "exp-2", "command": "make deploy", "timeoutMs": 200})).await.unwrap();
    assert_eq!(decided["decision"], Value::Null);
    assert_eq!(decided["effectiveDecision"], "allow-once");
    assert_eq!(audit_rows(&gw, "exp-2")[0].decision, "allow-once");
}

#[tokio::test]
async fn without_an_approval_client_requests_expire_at_once() {
    let gw = TestGateway::start().await.unwrap();
    let (requester, _) = gw.operator(&[APPROVALS]).await.unwrap();
    let started = Instant::now();
    let decided = requester.request("exec.approval.request", json!({"id": "lonely", "command": "ls", "timeoutMs": 60000})).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(decided["decision"], Value::Null);
    assert_eq!(decided["terminalReason"], "no-approval-route");
    assert_eq!(decided["effectiveDecision"], "deny");
    assert_eq!(audit_rows(&gw, "lonely").len(), 1);
    let waited = requester.request("exec.approval.waitDecision", json!({"id": "lonely"})).await.unwrap();
    assert_eq!(waited["terminalReason"], "no-approval-route");
}

#[tokio::test]
async fn wait_decision_get_and_list_from_a_third_client() {
    let gw = TestGateway::start().await.unwrap();
    let (requester, _) = gw.operator(&[APPROVALS]).await.unwrap();
    let (watcher, _) = gw.operator(&[APPROVALS]).await.unwrap();
    let approver = approval_client(&gw).await;
    let call = spawn_request(
        &requester,
        json!({"id": "appr-wait-1", "command": "cargo publish", "host": "gateway", "agentId": "main", "ask": "always"}),
    );
    approver.wait_event("exec.approval.requested", T).await.unwrap();

    let got = watcher.request("exec.approval.get", json!({"id": "appr-wait-1"})).await.unwrap();
    assert_eq!(got["id"], "appr-wait-1");
    assert_eq!(got["commandText"], "cargo publish");
    // ask=always: allow-always is not offered.
    assert_eq!(got["allowedDecisions"], json!(["allow-once", "deny"]));
    assert_eq!(got["host"], "gateway");
    assert!(got["expiresAtMs"].is_i64());
    let by_prefix = watcher.request("exec.approval.get", json!({"id": "appr-wait"})).await.unwrap();
    assert_eq!(by_prefix["id"], "appr-wait-1");
    let list = watcher.request("exec.approval.list", json!({})).await.unwrap();
    let entry = list.as_array().unwrap().iter().find(|e| e["id"] == "appr-wait-1").expect("listed");
    assert_eq!(entry["approvalKind"], "exec");
    assert_eq!(entry["request"]["command"], "cargo publish");

    let waiting = {
        let watcher = watcher.clone();
        tokio::spawn(async move { watcher.request("exec.approval.waitDecision", json!({"id": "appr-wait-1"})).await })
    };
    let e = server_error(approver.request("exec.approval.resolve", json!({"id": "appr-wait-1", "decision": "allow-always"})).await);
    assert_eq!(e.message, "allow-always is unavailable for this command");
    approver.request("exec.approval.resolve", json!({"id": "appr-wait-1", "decision": "deny"})).await.unwrap();
    let waited = waiting.await.unwrap().unwrap();
    assert_eq!(waited["id"], "appr-wait-1");
    assert_eq!(waited["decision"], "deny");
    assert_eq!(call.await.unwrap().unwrap()["decision"], "deny");

    // Resolved: no longer pending, but waitDecision still answers.
    assert!(watcher.request("exec.approval.list", json!({})).await.unwrap().as_array().unwrap().is_empty());
    let e = server_error(watcher.request("exec.approval.get", json!({"id": "appr-wait-1"})).await);
    assert_eq!(e.message, "unknown or expired approval id");
    let again = watcher.request("exec.approval.waitDecision", json!({"id": "appr-wait-1"})).await.unwrap();
    assert_eq!(again["decision"], "deny");
    let e = server_error(watcher.request("exec.approval.waitDecision", json!({"id": "never-was"})).await);
    assert_eq!(e.message, "approval expired or not found");
    let e = server_error(watcher.request("exec.approval.waitDecision", json!({})).await);
    assert_eq!(e.message, "id is required");
}

#[tokio::test]
async fn request_validation() {
    let gw = TestGateway::start().await.unwrap();
    let (requester, _) = gw.operator(&[APPROVALS]).await.unwrap();
    let _approver = approval_client(&gw).await;
    let cases = [
        (json!({"command": "ls", "host": "node", "nodeId": "n1"}), "systemRunPlan is required for host=node"),
        (json!({"command": "ls", "host": "node", "systemRunPlan": {"argv": ["ls"]}}), "nodeId is required for host=node"),
        (json!({"host": "gateway"}), "command is required"),
        (json!({"id": "plugin:x", "command": "ls"}), "invalid approval id"),
    ];
    for (params, message) in cases {
        let e = server_error(requester.request("exec.approval.request", params.clone()).await);
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidRequest, message), "{params}");
    }
    // Two requests may not share an id while one is pending.
    let first = spawn_request(&requester, json!({"id": "dup", "command": "ls", "timeoutMs": 5000}));
    let approver = approval_client(&gw).await;
    let deadline = Instant::now() + T;
    while requester.request("exec.approval.get", json!({"id": "dup"})).await.is_err() {
        assert!(Instant::now() < deadline, "approval dup never became pending");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let e = server_error(requester.request("exec.approval.request", json!({"id": "dup", "command": "ls"})).await);
    assert_eq!(e.message, "approval id already pending");
    approver.request("exec.approval.resolve", json!({"id": "dup", "decision": "allow-once"})).await.unwrap();
    assert_eq!(first.await.unwrap().unwrap()["decision"], "allow-once");
}

fn empty_hash() -> String {
    approvals_hash(None)
}

#[tokio::test]
async fn gateway_approvals_file_is_compare_and_swap() {
    let gw = TestGateway::start().await.unwrap();
    let admin = gw.admin().await.unwrap();

    let fresh = admin.request("exec.approvals.get", json!({})).await.unwrap();
    assert_eq!(fresh["exists"], false);
    assert_eq!(fresh["hash"], empty_hash());
    assert_eq!(fresh["hash"], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(fresh["file"]["version"], 1);
    assert!(fresh["path"].is_string());
    let path = std::path::PathBuf::from(fresh["path"].as_str().unwrap());

    let file = json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"},
                      "agents": {"main": {"allowlist": [{"id": "a1", "pattern": "/usr/bin/rg"}]}}});
    let written = admin.request("exec.approvals.set", json!({"file": file, "baseHash": fresh["hash"]})).await.unwrap();
    assert_eq!(written["exists"], true);
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(written["hash"], approvals_hash(Some(&on_disk)), "hash = sha256 of the bytes on disk");
    assert_eq!(serde_json::from_slice::<Value>(&on_disk).unwrap(), file);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }
    assert_eq!(admin.request("exec.approvals.get", json!({})).await.unwrap()["hash"], written["hash"]);

    let e = server_error(admin.request("exec.approvals.set", json!({"file": file})).await);
    assert_eq!(e.message, "exec approvals base hash required; re-run exec.approvals.get and retry");
    let e = server_error(admin.request("exec.approvals.set", json!({"file": file, "baseHash": empty_hash()})).await);
    assert_eq!(e.message, "exec approvals changed since last load; re-run exec.approvals.get and retry");

    let mut next = file.clone();
    next["defaults"]["ask"] = json!("always");
    let rewritten = admin.request("exec.approvals.set", json!({"file": next, "baseHash": written["hash"]})).await.unwrap();
    assert_ne!(rewritten["hash"], written["hash"]);
    assert_eq!(rewritten["file"]["defaults"]["ask"], "always");
    assert_eq!(rewritten["hash"], approvals_hash(Some(&std::fs::read(&path).unwrap())));
    // The stale hash of the previous version no longer works.
    let e = server_error(admin.request("exec.approvals.set", json!({"file": file, "baseHash": written["hash"]})).await);
    assert!(e.message.starts_with("exec approvals changed since last load"), "{}", e.message);

    for bad in [json!({"version": 2}), json!({"version": 1, "defaults": {"security": "sometimes"}})] {
        let e = server_error(admin.request("exec.approvals.set", json!({"file": bad, "baseHash": rewritten["hash"]})).await);
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad}");
        assert!(e.message.starts_with("invalid exec.approvals.set params"), "{bad}: {}", e.message);
    }
    let e = server_error(admin.request("exec.approvals.set", json!({"baseHash": rewritten["hash"]})).await);
    assert_eq!(e.message, "exec approvals file is required");
    // The file is untouched by refused writes.
    assert_eq!(admin.request("exec.approvals.get", json!({})).await.unwrap()["hash"], rewritten["hash"]);

    // Editing approvals files needs operator.admin.
    let (approver, _) = gw.operator(&[APPROVALS, WRITE]).await.unwrap();
    let e = server_error(approver.request("exec.approvals.get", json!({})).await);
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::Forbidden, "missing scope: operator.admin"));
}

/// A node-local approvals file with the node host's CAS rules.
#[derive(Default)]
struct NodeApprovals {
    file: Option<Value>,
    seen: Vec<(String, Value)>,
    broken: bool,
}

fn node_snapshot(file: &Option<Value>) -> Value {
    let text = file.as_ref().map(|f| format!("{}\n", serde_json::to_string_pretty(f).unwrap()));
    json!({
        "path": "~/.openclaw/exec-approvals.json",
        "exists": file.is_some(),
        "hash": approvals_hash(text.as_deref().map(str::as_bytes)),
        "file": file.clone().unwrap_or(json!({"version": 1, "defaults": {}, "agents": {}})),
    })
}

fn node_approvals_handler(store: Arc<Mutex<NodeApprovals>>) -> impl Fn(&InvokeRequest) -> Reply + Send + Sync + 'static {
    move |req| {
        let mut s = store.lock().unwrap();
        s.seen.push((req.command().to_string(), req.params()));
        match req.command() {
            "system.execApprovals.get" if s.broken => Reply::Ok(json!({"nope": true})),
            "system.execApprovals.get" => Reply::Ok(node_snapshot(&s.file)),
            "system.execApprovals.set" => {
                let params = req.params();
                let current = node_snapshot(&s.file)["hash"].clone();
                match params.get("baseHash") {
                    None if s.file.is_some() => Reply::error("INVALID_REQUEST", "exec approvals base hash required; reload and retry"),
                    Some(h) if *h != current => Reply::error("INVALID_REQUEST", "exec approvals changed; reload and retry"),
                    _ => {
                        s.file = Some(params["file"].clone());
                        Reply::Ok(node_snapshot(&s.file))
                    }
                }
            }
            other => Reply::error("UNAVAILABLE", &format!("unsupported {other}")),
        }
    }
}

#[tokio::test]
async fn node_approvals_files_go_through_the_node() {
    let gw = TestGateway::start().await.unwrap();
    let admin = gw.admin().await.unwrap();
    let spec = FakeNodeSpec::linux(&["system.execApprovals.get", "system.execApprovals.set", "system.which"]);
    let mut node = connect_approved(&gw.url(), &gw.token, &admin, spec).await.unwrap();
    let node_id = node.node_id();
    let store = Arc::new(Mutex::new(NodeApprovals::default()));
    node.serve(node_approvals_handler(store.clone()));

    let got = admin.request("exec.approvals.node.get", json!({"nodeId": node_id})).await.unwrap();
    assert_eq!(got, node_snapshot(&None));
    assert_eq!(store.lock().unwrap().seen.last().unwrap(), &("system.execApprovals.get".to_string(), json!({})));

    let file = json!({"version": 1, "defaults": {"security": "allowlist"}, "agents": {}});
    let set = admin.request("exec.approvals.node.set", json!({"nodeId": node_id, "file": file, "baseHash": got["hash"]})).await.unwrap();
    assert_eq!(set["exists"], true);
    assert_eq!(set["file"], file);
    let (cmd, params) = store.lock().unwrap().seen.last().unwrap().clone();
    assert_eq!(cmd, "system.execApprovals.set");
    assert_eq!(params, json!({"file": file, "baseHash": got["hash"]}), "nodeId is not forwarded");
    assert_eq!(admin.request("exec.approvals.node.get", json!({"nodeId": node_id})).await.unwrap()["hash"], set["hash"]);

    // The node's CAS refusal comes back as a node error.
    let e = server_error(admin.request("exec.approvals.node.set", json!({"nodeId": node_id, "file": file, "baseHash": got["hash"]})).await);
    assert_eq!(e.code, ErrorCode::Unavailable);
    assert_eq!(e.message, "INVALID_REQUEST: exec approvals changed; reload and retry");
    assert_eq!(e.details.unwrap()["nodeError"]["code"], "INVALID_REQUEST");

    // A node answering nonsense is caught.
    store.lock().unwrap().broken = true;
    let e = server_error(admin.request("exec.approvals.node.get", json!({"nodeId": node_id})).await);
    assert_eq!(e.message, "node returned invalid exec approvals payload");

    // Raw node.invoke may not reach these commands.
    for cmd in ["system.execApprovals.get", "system.execApprovals.set"] {
        let e = server_error(
            admin.request("node.invoke", json!({"nodeId": node_id, "command": cmd, "params": {}, "idempotencyKey": cmd})).await,
        );
        assert_eq!(e.message, "node.invoke does not allow system.execApprovals.*; use exec.approvals.node.*");
    }
    let e = server_error(admin.request("exec.approvals.node.get", json!({})).await);
    assert_eq!(e.message, "nodeId required");

    // A node that did not declare them is refused before anything is sent.
    let plain = connect_approved(&gw.url(), &gw.token, &admin, FakeNodeSpec::linux(&["system.which"])).await.unwrap();
    let e = server_error(admin.request("exec.approvals.node.get", json!({"nodeId": plain.node_id()})).await);
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.message.starts_with("node command not allowed: system.execApprovals.get"), "{}", e.message);
    assert!(plain.client.drain_events().iter().all(|ev| ev.event != "node.invoke.request"));
    drop(node);
}
