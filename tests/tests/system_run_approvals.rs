//! The approval gate on `system.run` (issue 10, case 1), with the real `pincer-gateway` and
//! `pincer-node` binaries: a node only ever runs "approved" what the gateway's own approval
//! record allows. The attacker's probe (a plain `cli` token client with `operator.write`
//! claiming `approved: true`) is refused and nothing runs or is added to the node's allowlist;
//! an approval is spent once, binds its exact argv, and belongs to the connection that asked
//! for it; the legitimate flow (prepare → exec.approval.request → a person answers →
//! node.invoke naming the approval as `runId`) still runs, and allow-always still persists.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use pincer_client::GatewayClient;
use pincer_protocol::error::ErrorCode;
use pincer_protocol::scopes::{ADMIN, APPROVALS, PAIRING, READ, WRITE};
use pincer_tests::fake_node::approve_node;
use pincer_tests::interop::{wait_node, Pincer, PincerNode, Scene, TOKEN};
use serde_json::{json, Value};

const UP: Duration = Duration::from_secs(30);
const T: Duration = Duration::from_secs(15);

/// Deny by default: nothing is allowlisted and nobody on the node can be asked.
fn nothing_allowed() -> Value {
    json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"},
           "agents": {"main": {"allowlist": []}}})
}

struct Rig {
    _scene: Scene,
    gw: Pincer,
    node: PincerNode,
    node_id: String,
    /// Where the commands under test would leave their marks.
    dir: PathBuf,
}

async fn rig(name: &str) -> Rig {
    let scene = Scene::pincer_only(name);
    let gw = Pincer::start(&scene, None).await;
    let node = PincerNode::new(scene.dir("node"), &gw.url(), TOKEN, "approvals-node");
    node.write_approvals(&nothing_allowed());
    let node = node.start();
    let node_id = node.node_id();
    let admin = gw.operator(&[ADMIN, READ, WRITE, APPROVALS, PAIRING]).await;
    wait_node(&admin, &node_id, "connected", UP, |n| n["connected"] == true).await;
    approve_node(&admin, &node_id, UP).await.unwrap();
    wait_node(&admin, &node_id, "paired", UP, |n| n["paired"] == true && n["connected"] == true).await;
    let dir = scene.dir("marks");
    std::fs::create_dir_all(&dir).unwrap();
    Rig { _scene: scene, gw, node, node_id, dir }
}

impl Rig {
    fn approvals_file(&self) -> String {
        std::fs::read_to_string(self.node.dir.join("exec-approvals.json")).unwrap()
    }

    fn allowlist(&self) -> Value {
        let file: Value = serde_json::from_str(&self.approvals_file()).unwrap();
        file["agents"]["main"]["allowlist"].clone()
    }

    /// The gateway's audit rows of one kind (a second reader of its SQLite file).
    fn audit(&self, kind: &str) -> Vec<pincer_gateway::store::AuditEntry> {
        let store = pincer_gateway::store::Store::open(&self.gw.dir.join("pincer.sqlite")).unwrap();
        store.audit_entries(1000).unwrap().into_iter().filter(|r| r.kind == kind).collect()
    }

    /// A token-only operator with `approvals` scope that can also prompt a person.
    async fn approver(&self) -> GatewayClient {
        let opts = pincer_client::ConnectOptions::operator(self.gw.url(), TOKEN, &[APPROVALS]).with_caps(&["exec-approvals"]);
        GatewayClient::connect(opts).await.unwrap().0
    }
}

/// `node.invoke` with a fresh idempotency key: the payload, or the error shape.
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

fn touch(path: &Path) -> Vec<String> {
    vec!["/usr/bin/touch".to_string(), path.display().to_string()]
}

/// Assert an `INVALID_REQUEST` from the gate with OpenClaw's message and `details.code`.
fn assert_refused(e: &pincer_protocol::ErrorShape, message: &str, code: &str) {
    assert_eq!((&e.code, e.message.as_str()), (&ErrorCode::InvalidRequest, message), "{e:?}");
    assert_eq!(e.details.as_ref().unwrap()["code"], code, "{e:?}");
}

/// Open an approval for `plan` as `requester`, have `approver` answer `decision`; returns its id.
async fn approve(rig: &Rig, requester: &GatewayClient, approver: &GatewayClient, plan: &Value, decision: &str) -> String {
    let call = {
        let requester = requester.clone();
        let params = json!({"host": "node", "nodeId": rig.node_id, "systemRunPlan": plan, "timeoutMs": 60000});
        tokio::spawn(async move { requester.request("exec.approval.request", params).await })
    };
    let requested = approver.wait_event("exec.approval.requested", T).await.unwrap().payload.unwrap();
    let id = requested["id"].as_str().unwrap().to_string();
    // The person is shown the plan that will run.
    assert_eq!(requested["request"]["commandArgv"], plan["argv"]);
    assert_eq!(requested["request"]["command"], plan["commandText"]);
    approver.request("exec.approval.resolve", json!({"id": id, "decision": decision})).await.unwrap();
    let decided = call.await.unwrap().unwrap();
    assert_eq!(decided["decision"], decision, "{decided}");
    id
}

async fn prepare(op: &GatewayClient, rig: &Rig, argv: &[String]) -> Value {
    let prepared = invoke(op, &rig.node_id, "system.run.prepare", json!({"command": argv, "cwd": rig.dir})).await.unwrap();
    prepared["plan"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_client_claiming_approval_is_refused_and_nothing_runs() {
    let mut rig = rig("sr-probe").await;
    // The probe's client: the plain token-only `cli` operator with operator.write.
    let cli = rig.gw.operator(&[READ, WRITE]).await;
    let before = rig.approvals_file();
    let marker = rig.dir.join("pwned");

    for decision in ["allow-once", "allow-always"] {
        let probe = json!({"command": touch(&marker), "approved": true, "approvalDecision": decision});
        let e = invoke(&cli, &rig.node_id, "system.run", probe).await.unwrap_err();
        assert_refused(&e, "approval override requires params.runId", "MISSING_RUN_ID");
        // Naming an approval that does not exist is no better.
        let probe = json!({"command": touch(&marker), "approved": true, "approvalDecision": decision, "runId": "made-up"});
        let e = invoke(&cli, &rig.node_id, "system.run", probe).await.unwrap_err();
        assert_refused(&e, "unknown or expired approval id", "UNKNOWN_APPROVAL_ID");
        assert_eq!(e.details.as_ref().unwrap()["runId"], "made-up");
    }
    // Without the claim the node's own policy decides: it needs a person, so it is denied.
    let e = invoke(&cli, &rig.node_id, "system.run", json!({"command": touch(&marker)})).await.unwrap_err();
    assert_eq!(e.details.unwrap()["nodeError"]["message"], "SYSTEM_RUN_DENIED: approval required");

    assert!(!marker.exists(), "the denied command ran");
    assert_eq!(rig.approvals_file(), before, "the node's exec-approvals.json changed");
    assert_eq!(rig.allowlist(), json!([]));
    // Each refusal is audited by the gateway, naming the code and the argv.
    let refused = rig.audit("system.run.approval");
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert!(refused.iter().all(|r| r.decision == "refused" && r.details["nodeId"] == rig.node_id.as_str()), "{refused:?}");
    assert_eq!(refused.iter().filter(|r| r.details["code"] == "MISSING_RUN_ID").count(), 2);
    assert_eq!(refused.iter().filter(|r| r.details["code"] == "UNKNOWN_APPROVAL_ID" && r.subject == "made-up").count(), 2);
    assert_eq!(refused[0].details["command"], json!(touch(&marker)));
    rig.node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_runs_its_own_plan_once_for_its_own_connection() {
    let mut rig = rig("sr-bound").await;
    let approver = rig.approver().await;
    // Two token-only operators that may ask for approvals (no device: bound per connection).
    let x = rig.gw.operator(&[READ, WRITE, APPROVALS]).await;
    let y = rig.gw.operator(&[READ, WRITE, APPROVALS]).await;
    let marker_a = rig.dir.join("a");
    let marker_b = rig.dir.join("b");
    let plan = prepare(&x, &rig, &touch(&marker_a)).await;
    let id = approve(&rig, &x, &approver, &plan, "allow-once").await;
    let run =
        |argv: Vec<String>| json!({"command": argv, "cwd": plan["cwd"], "runId": id, "approved": true, "approvalDecision": "allow-once"});

    // Connection Y replays X's approval id: refused.
    let e = invoke(&y, &rig.node_id, "system.run", run(touch(&marker_a))).await.unwrap_err();
    assert_refused(&e, "approval id not valid for this client", "APPROVAL_CLIENT_MISMATCH");
    // X uses the approval for argv A on argv B: refused.
    let e = invoke(&x, &rig.node_id, "system.run", run(touch(&marker_b))).await.unwrap_err();
    assert_refused(&e, "approval id does not match request", "APPROVAL_REQUEST_MISMATCH");
    assert_eq!(e.details.unwrap()["field"], "command");
    assert!(!marker_a.exists() && !marker_b.exists(), "a refused run ran");

    // X with the approved plan: runs (the refusals above spent nothing).
    let done = invoke(&x, &rig.node_id, "system.run", run(touch(&marker_a))).await.unwrap();
    assert_eq!(done["exitCode"], 0, "{done}");
    assert!(marker_a.exists());
    // Replayed: refused, and it does not run again.
    std::fs::remove_file(&marker_a).unwrap();
    let e = invoke(&x, &rig.node_id, "system.run", run(touch(&marker_a))).await.unwrap_err();
    assert_refused(&e, "approval required", "APPROVAL_REQUIRED");
    assert_eq!(e.details.unwrap()["reason"], "allow-once already used");
    assert!(!marker_a.exists(), "a replayed allow-once ran again");
    // allow-once leaves the node's allowlist alone.
    assert_eq!(rig.allowlist(), json!([]));

    let rows = rig.audit("system.run.approval");
    let codes: Vec<(&str, &str)> = rows.iter().map(|r| (r.decision.as_str(), r.details["code"].as_str().unwrap_or(""))).collect();
    assert_eq!(
        codes,
        [("refused", "APPROVAL_CLIENT_MISMATCH"), ("refused", "APPROVAL_REQUEST_MISMATCH"), ("used", ""), ("refused", "APPROVAL_REQUIRED")]
    );
    assert!(rows.iter().all(|r| r.subject == id), "{rows:?}");
    rig.node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_always_through_the_gateway_still_persists_on_the_node() {
    let mut rig = rig("sr-always").await;
    let approver = rig.approver().await;
    let op = rig.gw.operator(&[READ, WRITE, APPROVALS]).await;
    let marker = rig.dir.join("always");
    let plan = prepare(&op, &rig, &touch(&marker)).await;
    let id = approve(&rig, &op, &approver, &plan, "allow-always").await;
    // The caller says allow-once; the record says allow-always, and that is what the node gets.
    let params = json!({"command": plan["argv"], "rawCommand": plan["commandText"], "cwd": plan["cwd"], "agentId": plan["agentId"],
                        "runId": id, "approved": true, "approvalDecision": "allow-once"});
    let done = invoke(&op, &rig.node_id, "system.run", params).await.unwrap();
    assert_eq!(done["exitCode"], 0, "{done}");
    assert!(marker.exists());
    let allowlist = rig.allowlist();
    assert!(allowlist.as_array().unwrap().iter().any(|e| e["pattern"] == "/usr/bin/touch"), "{allowlist}");
    // From now on the node's own allowlist lets it run without any approval.
    std::fs::remove_file(&marker).unwrap();
    let again = invoke(&op, &rig.node_id, "system.run", json!({"command": touch(&marker)})).await.unwrap();
    assert_eq!(again["exitCode"], 0, "{again}");
    assert!(marker.exists());
    rig.node.stop();
}
