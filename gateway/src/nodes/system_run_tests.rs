#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::*;
use crate::approvals::AskFallback;

const NODE: &str = "node-1";
const T0: i64 = 1_000_000;

fn client(conn: &str, device: Option<&str>) -> Requester {
    Requester::Client { conn_id: conn.into(), device_id: device.map(str::to_string) }
}

fn caller(identity: Requester) -> RunRequester {
    RunRequester { identity, may_approve: false }
}

fn plan_request(argv: &[&str]) -> Value {
    json!({
        "command": argv.join(" "), "host": "node", "nodeId": NODE,
        "systemRunPlan": {"argv": argv, "cwd": "/srv/p", "commandText": argv.join(" "), "agentId": "main",
                          "sessionKey": "agent:main:main"},
    })
}

/// A broker holding approval `id`, opened by `requester` for `request` and answered `decision`
/// at T0 (`None`: left pending).
fn broker_with(id: &str, request: Value, requester: Requester, decision: Option<ExecDecision>) -> ApprovalBroker {
    let broker = ApprovalBroker::default();
    broker.create(Some(id.into()), request, requester, T0 - 10, Duration::from_secs(1800)).unwrap();
    if let Some(d) = decision {
        broker.resolve(id, d, Some("person".into()), T0).unwrap();
    }
    broker
}

/// What an honest caller sends after approval `id` of `argv`.
fn run_params(id: &str, argv: &[&str], decision: &str) -> Value {
    json!({"command": argv, "rawCommand": argv.join(" "), "cwd": "/srv/p", "agentId": "main", "sessionKey": "agent:main:main",
           "timeoutMs": 5000, "runId": id, "approved": true, "approvalDecision": decision})
}

fn gate(broker: &ApprovalBroker, params: &Value, who: &RunRequester) -> Result<Forwarded, GuardError> {
    sanitize_for_forwarding(broker, NODE, Some(params), Some(who), T0 + 1)
}

#[test]
fn without_an_approval_only_the_fields_the_node_understands_are_forwarded() {
    let broker = ApprovalBroker::default();
    let raw = json!({"command": ["ls"], "cwd": "/tmp", "env": {"A": "1"}, "timeoutMs": 10, "needsScreenRecording": false,
                     "agentId": "main", "sessionKey": "s", "runId": "r1", "approved": false, "approvalDecision": "deny",
                     "allowlistSatisfied": true, "security": "full", "ask": "off"});
    let out = sanitize_for_forwarding(&broker, NODE, Some(&raw), None, T0).unwrap();
    assert_eq!(
        out.params.unwrap(),
        json!({"command": ["ls"], "cwd": "/tmp", "env": {"A": "1"}, "timeoutMs": 10, "needsScreenRecording": false,
               "agentId": "main", "sessionKey": "s", "runId": "r1"})
    );
    assert_eq!(out.approval, None);
    // Absent or non-object params pass as they are (the node refuses them).
    assert_eq!(sanitize_for_forwarding(&broker, NODE, None, None, T0).unwrap().params, None);
    assert_eq!(sanitize_for_forwarding(&broker, NODE, Some(&json!([1])), None, T0).unwrap().params, Some(json!([1])));
}

#[test]
fn the_probe_caller_claimed_approval_is_refused() {
    let broker = ApprovalBroker::default();
    let op = caller(client("c1", None));
    for decision in ["allow-once", "allow-always"] {
        let probe = json!({"command": ["/bin/sh", "-c", "touch /tmp/pwned"], "approved": true, "approvalDecision": decision});
        assert_eq!(gate(&broker, &probe, &op), Err(GuardError::MissingRunId));
        // A decision alone is also a claim.
        let probe = json!({"command": ["id"], "approvalDecision": decision, "runId": "made-up"});
        assert_eq!(gate(&broker, &probe, &op), Err(GuardError::UnknownApproval));
    }
    let e = GuardError::MissingRunId.to_shape(None);
    assert_eq!(e.code, pincer_protocol::error::ErrorCode::InvalidRequest);
    assert_eq!(e.message, "approval override requires params.runId");
    assert_eq!(e.details.unwrap(), json!({"code": "MISSING_RUN_ID"}));
}

#[test]
fn allow_once_runs_the_bound_plan_once_with_the_records_decision() {
    let op = client("c1", None);
    let broker = broker_with("a1", plan_request(&["rm", "-rf", "build"]), op.clone(), Some(ExecDecision::AllowOnce));
    // The caller claims allow-always; the record says allow-once, and that is what is sent.
    let out = gate(&broker, &run_params("a1", &["rm", "-rf", "build"], "allow-always"), &caller(op.clone())).unwrap();
    assert_eq!(
        out.params.unwrap(),
        json!({"command": ["rm", "-rf", "build"], "rawCommand": "rm -rf build", "cwd": "/srv/p", "agentId": "main",
               "sessionKey": "agent:main:main", "timeoutMs": 5000, "runId": "a1", "approved": true, "approvalDecision": "allow-once"})
    );
    assert_eq!(out.approval, Some(("a1".to_string(), ExecDecision::AllowOnce)));
    // Replayed: refused.
    let again = gate(&broker, &run_params("a1", &["rm", "-rf", "build"], "allow-once"), &caller(op));
    assert_eq!(again, Err(GuardError::ApprovalRequired { reason: "allow-once already used" }));
    let shape = again.unwrap_err().to_shape(Some("a1"));
    assert_eq!(
        (shape.message.as_str(), shape.details.unwrap()),
        ("approval required", json!({"code": "APPROVAL_REQUIRED", "runId": "a1", "reason": "allow-once already used"}))
    );
}

#[test]
fn fields_left_out_are_taken_from_the_plan() {
    let op = client("c1", None);
    let broker = broker_with("a1", plan_request(&["ls", "-l"]), op.clone(), Some(ExecDecision::AllowOnce));
    let params = json!({"command": ["ls", "-l"], "runId": "a1", "approved": true});
    let out = gate(&broker, &params, &caller(op)).unwrap().params.unwrap();
    assert_eq!(out["rawCommand"], "ls -l");
    assert_eq!(out["cwd"], "/srv/p");
    assert_eq!(out["sessionKey"], "agent:main:main");
    assert_eq!(out["agentId"], "main");
}

#[test]
fn allow_always_is_reusable_only_within_the_use_window() {
    let op = client("c1", Some("dev-1"));
    let broker = broker_with("a2", plan_request(&["make"]), op.clone(), Some(ExecDecision::AllowAlways));
    let params = run_params("a2", &["make"], "allow-always");
    for _ in 0..2 {
        let out = gate(&broker, &params, &caller(op.clone())).unwrap();
        assert_eq!(out.approval, Some(("a2".to_string(), ExecDecision::AllowAlways)));
    }
    let late = sanitize_for_forwarding(&broker, NODE, Some(&params), Some(&caller(op)), T0 + USE_WINDOW_MS + 1);
    assert_eq!(late, Err(GuardError::Expired));
}

#[test]
fn any_difference_from_the_bound_plan_is_a_mismatch_and_spends_nothing() {
    let op = client("c1", None);
    let broker = broker_with("a3", plan_request(&["cat", "notes.txt"]), op.clone(), Some(ExecDecision::AllowOnce));
    let who = caller(op);
    let base = run_params("a3", &["cat", "notes.txt"], "allow-once");
    let cases: Vec<(Value, GuardError)> = vec![
        (json!({"command": ["cat", "/etc/shadow"]}), GuardError::RequestMismatch { field: "command" }),
        (json!({"command": ["cat", "notes.txt", "x"]}), GuardError::RequestMismatch { field: "command" }),
        (json!({"command": "cat notes.txt"}), GuardError::RequestMismatch { field: "command" }),
        (json!({"rawCommand": "cat other.txt"}), GuardError::RequestMismatch { field: "rawCommand" }),
        (json!({"cwd": "/"}), GuardError::RequestMismatch { field: "cwd" }),
        (json!({"agentId": "ops"}), GuardError::RequestMismatch { field: "agentId" }),
        (json!({"sessionKey": "agent:main:other"}), GuardError::RequestMismatch { field: "sessionKey" }),
        (json!({"env": {"LD_PRELOAD": "/tmp/x.so"}}), GuardError::EnvBindingMissing),
        (json!({"env": {"A": 1}}), GuardError::EnvMismatch),
    ];
    for (patch, expected) in cases {
        let mut params = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            params[k] = v.clone();
        }
        assert_eq!(gate(&broker, &params, &who), Err(expected), "{params}");
    }
    let mut no_argv = base.clone();
    no_argv.as_object_mut().unwrap().remove("command");
    assert_eq!(gate(&broker, &no_argv, &who), Err(GuardError::RequestMismatch { field: "command" }));
    // None of those spent the allow-once.
    assert!(gate(&broker, &base, &who).is_ok());
}

#[test]
fn env_is_bound_when_the_approval_names_it() {
    let op = client("c1", None);
    let mut request = plan_request(&["printenv", "A"]);
    request["env"] = json!({"A": "1", "B": "2"});
    let broker = broker_with("a4", request, op.clone(), Some(ExecDecision::AllowAlways));
    let mut params = run_params("a4", &["printenv", "A"], "allow-always");
    assert_eq!(gate(&broker, &params, &caller(op.clone())), Err(GuardError::EnvMismatch), "env left out");
    params["env"] = json!({"A": "1", "B": "3"});
    assert_eq!(gate(&broker, &params, &caller(op.clone())), Err(GuardError::EnvMismatch));
    params["env"] = json!({"B": "2", "A": "1"});
    let out = gate(&broker, &params, &caller(op)).unwrap().params.unwrap();
    assert_eq!(out["env"], json!({"A": "1", "B": "2"}));
}

#[test]
fn an_approval_is_only_for_its_node_and_its_requester() {
    let argv = ["uptime"];
    let params = run_params("a5", &argv, "allow-always");
    // Bound to a device: any connection of that device, no other.
    let broker = broker_with("a5", plan_request(&argv), client("c1", Some("dev-1")), Some(ExecDecision::AllowAlways));
    assert!(gate(&broker, &params, &caller(client("c2", Some("dev-1")))).is_ok());
    assert_eq!(gate(&broker, &params, &caller(client("c1", Some("dev-2")))), Err(GuardError::DeviceMismatch));
    assert_eq!(gate(&broker, &params, &caller(client("c1", None))), Err(GuardError::DeviceMismatch));
    assert_eq!(gate(&broker, &params, &RunRequester::agent()), Err(GuardError::DeviceMismatch));
    assert_eq!(sanitize_for_forwarding(&broker, NODE, Some(&params), None, T0 + 1), Err(GuardError::DeviceMismatch));
    assert_eq!(
        sanitize_for_forwarding(&broker, "node-2", Some(&params), Some(&caller(client("c1", Some("dev-1")))), T0 + 1),
        Err(GuardError::NodeMismatch)
    );
    // Bound to a connection (no device): that connection only.
    let broker = broker_with("a5", plan_request(&argv), client("c1", None), Some(ExecDecision::AllowAlways));
    assert!(gate(&broker, &params, &caller(client("c1", None))).is_ok());
    assert_eq!(gate(&broker, &params, &caller(client("c2", None))), Err(GuardError::ClientMismatch));
    assert_eq!(gate(&broker, &params, &caller(client("c2", Some("dev-9")))), Err(GuardError::ClientMismatch));
    // The agent's own approvals: the agent only.
    let broker = broker_with("a5", plan_request(&argv), Requester::Agent, Some(ExecDecision::AllowAlways));
    assert!(gate(&broker, &params, &RunRequester::agent()).is_ok());
    let admin = RunRequester { identity: client("c1", Some("dev-1")), may_approve: true };
    assert_eq!(gate(&broker, &params, &admin), Err(GuardError::ClientMismatch));
}

#[test]
fn only_a_node_host_approval_with_a_plan_can_authorise_a_node_run() {
    let op = client("c1", None);
    let mut gateway_host = plan_request(&["ls"]);
    gateway_host["host"] = json!("gateway");
    let broker = broker_with("g1", gateway_host, op.clone(), Some(ExecDecision::AllowOnce));
    assert_eq!(
        gate(&broker, &run_params("g1", &["ls"], "allow-once"), &caller(op.clone())),
        Err(GuardError::RequestMismatch { field: "host" })
    );
    let mut no_node = plan_request(&["ls"]);
    no_node.as_object_mut().unwrap().remove("nodeId");
    let broker = broker_with("g2", no_node, op.clone(), Some(ExecDecision::AllowOnce));
    assert_eq!(gate(&broker, &run_params("g2", &["ls"], "allow-once"), &caller(op.clone())), Err(GuardError::NodeBindingMissing));
    let mut no_plan = plan_request(&["ls"]);
    no_plan.as_object_mut().unwrap().remove("systemRunPlan");
    let broker = broker_with("g3", no_plan, op.clone(), Some(ExecDecision::AllowOnce));
    assert_eq!(
        gate(&broker, &run_params("g3", &["ls"], "allow-once"), &caller(op)),
        Err(GuardError::RequestMismatch { field: "systemRunPlan" })
    );
}

#[test]
fn pending_denied_and_unanswered_approvals_allow_nothing() {
    let op = client("c1", None);
    let params = run_params("p1", &["ls"], "allow-once");
    let pending = broker_with("p1", plan_request(&["ls"]), op.clone(), None);
    assert_eq!(gate(&pending, &params, &caller(op.clone())), Err(GuardError::ApprovalRequired { reason: "approval still pending" }));
    let denied = broker_with("p1", plan_request(&["ls"]), op.clone(), Some(ExecDecision::Deny));
    assert_eq!(gate(&denied, &params, &caller(op.clone())), Err(GuardError::ApprovalRequired { reason: "approval denied" }));

    // Expired with askFallback=full: an allow-once, but only for a caller that could approve.
    let fallback = broker_with("p1", plan_request(&["ls"]), op.clone(), None);
    fallback.expire("p1", AskFallback::Full, T0).unwrap();
    assert_eq!(gate(&fallback, &params, &caller(op.clone())), Err(GuardError::ApprovalRequired { reason: "approval expired unanswered" }));
    let approver = RunRequester { identity: op.clone(), may_approve: true };
    assert_eq!(gate(&fallback, &params, &approver).unwrap().approval, Some(("p1".to_string(), ExecDecision::AllowOnce)));
    assert_eq!(gate(&fallback, &params, &approver), Err(GuardError::ApprovalRequired { reason: "allow-once already used" }));
    let deny_fallback = broker_with("p1", plan_request(&["ls"]), op.clone(), None);
    deny_fallback.expire("p1", AskFallback::Deny, T0).unwrap();
    assert_eq!(gate(&deny_fallback, &params, &approver), Err(GuardError::ApprovalRequired { reason: "approval denied" }));
}

#[test]
fn finished_approval_ids_are_never_reused() {
    let broker = broker_with("r1", plan_request(&["ls"]), client("c1", None), Some(ExecDecision::AllowAlways));
    let e =
        broker.create(Some("r1".into()), plan_request(&["rm", "-rf", "/"]), client("c2", None), T0, Duration::from_secs(60)).unwrap_err();
    assert_eq!(e.message, "approval id already resolved");
}
