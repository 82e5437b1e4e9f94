//! The agent's tools over the protocol: a scripted LLM calls `exec`, `nodes`, `camera`,
//! `screen`, `notify`, `canvas` and the workspace file tools; fake nodes answer; an approval
//! client (scope operator.approvals + cap exec-approvals) decides; an operator watches the
//! `chat`/`agent` events and the transcript. Asserts what the model, the node, the approval
//! client and the person see.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_client::GatewayClient;
use pincer_protocol::scopes::{ADMIN, APPROVALS, READ, WRITE};
use pincer_tests::agent::{agent_config, start_agent_gateway};
use pincer_tests::fake_node::{connect_approved, FakeNode, FakeNodeSpec, InvokeRequest, Reply as NodeReply};
use pincer_tests::llm_script::{RecordedRequest, Reply, ScriptedLlm, ScriptedOpenAi};
use pincer_tests::{TempState, TestGateway};
use serde_json::{json, Value};

/// Generous: nothing here is timed, this only bounds a hang.
const T: Duration = Duration::from_secs(30);

/// A 1×1 grey baseline JPEG (JFIF, one Huffman-coded 8×8 block) and a 1×1 RGB PNG.
const TINY_JPEG: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQH/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAAAP/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AP//Z";
const TINY_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYPgPAAEDAQAIicLsAAAAAElFTkSuQmCC";

/// The node host's wording when its exec policy wants a person to decide.
const APPROVAL_REQUIRED: &str = "SYSTEM_RUN_DENIED: approval required";

// ---- harness ------------------------------------------------------------------------------

/// A gateway whose agent talks to a scripted OpenAI server, an operator watching it, and an
/// admin that pairs nodes.
struct Rig {
    llm: ScriptedLlm,
    gw: TestGateway,
    admin: GatewayClient,
    client: GatewayClient,
}

async fn rig_in(script: Vec<Reply>, extra: Value, state_dir: Option<std::path::PathBuf>) -> Rig {
    let llm = ScriptedOpenAi::start(script).await.unwrap();
    let gw = start_agent_gateway(agent_config(&llm, extra), state_dir).await.unwrap();
    let admin = gw.admin().await.unwrap();
    let client = gw.operator(&[READ, WRITE, ADMIN]).await.unwrap().0;
    Rig { llm, gw, admin, client }
}

async fn rig(script: Vec<Reply>, extra: Value) -> Rig {
    rig_in(script, extra, None).await
}

impl Rig {
    /// A paired Linux fake node declaring `commands` (connected before the run starts, so
    /// the run offers the tools it backs).
    async fn node(&self, commands: &[&str]) -> FakeNode {
        connect_approved(&self.gw.url(), &self.gw.token, &self.admin, FakeNodeSpec::linux(commands)).await.unwrap()
    }

    /// An operator that prompts a person: scope operator.approvals + cap exec-approvals.
    async fn approver(&self) -> GatewayClient {
        GatewayClient::connect(self.gw.operator_opts(&[APPROVALS]).with_caps(&["exec-approvals"])).await.unwrap().0
    }

    async fn send(&self, run_id: &str, message: &str) {
        let ack =
            self.client.request("chat.send", json!({"sessionKey": "main", "message": message, "idempotencyKey": run_id})).await.unwrap();
        assert_eq!(ack, json!({"runId": run_id, "status": "started"}));
    }

    /// Wait for the run's terminal `chat` event; returns it and the run's `agent` tool events
    /// (their `data`), in order.
    async fn finish(&self, run_id: &str) -> (Value, Vec<Value>) {
        let terminal = loop {
            let e = self
                .client
                .wait_event_where("chat event", T, |e| e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["runId"] == run_id))
                .await
                .unwrap();
            let p = e.payload.unwrap();
            if p["state"] != "delta" {
                break p;
            }
        };
        // Every agent event of the run came before the terminal chat event on this socket.
        let tools = self
            .client
            .drain_events()
            .into_iter()
            .filter(|e| e.event == "agent")
            .filter_map(|e| e.payload)
            .filter(|p| p["runId"] == run_id && p["stream"] == "tool")
            .map(|p| p["data"].clone())
            .collect();
        (terminal, tools)
    }

    async fn history(&self) -> Vec<Value> {
        let h = self.client.request("chat.history", json!({"sessionKey": "main"})).await.unwrap();
        h["messages"].as_array().unwrap().clone()
    }

    fn workspace(&self) -> std::path::PathBuf {
        self.gw.state_dir.path().join("workspace")
    }
}

/// The text of the `role: "tool"` message answering `call_id` in a model request.
fn tool_message(req: &RecordedRequest, call_id: &str) -> String {
    let m = req
        .messages()
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == call_id)
        .unwrap_or_else(|| panic!("no tool message for {call_id} in {:?}", req.messages()));
    m["content"].as_str().unwrap_or_else(|| panic!("tool content is not a string: {m}")).to_string()
}

/// The phases of one tool call's `agent` events.
fn phases(events: &[Value], call_id: &str) -> Vec<String> {
    events.iter().filter(|d| d["toolCallId"] == call_id).map(|d| d["phase"].as_str().unwrap().to_string()).collect()
}

/// Every tool call in the transcript has exactly one result, right after its assistant message.
fn assert_transcript_consistent(messages: &[Value]) {
    let mut i = 0;
    while i < messages.len() {
        let m = &messages[i];
        i += 1;
        if m["role"] != "assistant" {
            continue;
        }
        let calls: Vec<&str> =
            m["content"].as_array().into_iter().flatten().filter(|c| c["type"] == "toolCall").map(|c| c["id"].as_str().unwrap()).collect();
        let mut answered = Vec::new();
        while i < messages.len() && messages[i]["role"] == "toolResult" {
            answered.push(messages[i]["toolCallId"].as_str().unwrap());
            i += 1;
        }
        assert_eq!(answered, calls, "tool calls and results do not match up: {messages:#?}");
    }
}

async fn next_invoke(node: &FakeNode, command: &str) -> InvokeRequest {
    let req = node.next_invoke(T).await.unwrap();
    assert_eq!(req.command(), command, "{}", req.raw);
    req
}

/// Answer the exec tool's `system.run.prepare` like the node host does; returns the plan.
async fn answer_prepare(node: &FakeNode, cmd: &str) -> Value {
    let req = next_invoke(node, "system.run.prepare").await;
    let p = req.params();
    assert_eq!(p["command"], json!(["/bin/sh", "-lc", cmd]));
    assert_eq!(p["rawCommand"], cmd);
    let plan = json!({"argv": ["/bin/sh", "-lc", cmd], "cwd": null, "commandText": cmd, "commandPreview": cmd,
                      "agentId": "main", "sessionKey": "agent:main:main"});
    node.reply(&req, NodeReply::Ok(json!({"cmdText": cmd, "plan": plan}))).await.unwrap();
    plan
}

fn invokes_left(node: &FakeNode) -> Vec<String> {
    node.client
        .drain_events()
        .into_iter()
        .filter(|e| e.event == "node.invoke.request")
        .map(|e| e.payload.unwrap_or_default()["command"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn ok_run(stdout: &str) -> NodeReply {
    NodeReply::Ok(json!({"exitCode": 0, "stdout": stdout, "stderr": "", "success": true, "timedOut": false}))
}

fn exec_call(cmd: &str) -> Reply {
    Reply::tool_calls([("call_1", "exec", json!({"command": cmd}).to_string())])
}

// ---- exec and approvals -------------------------------------------------------------------

#[tokio::test]
async fn exec_waits_for_a_person_and_runs_once_approved() {
    let r = rig(vec![exec_call("echo hi"), Reply::text(["done"])], json!({})).await;
    let node = r.node(&["system.run", "system.run.prepare"]).await;
    let approver = r.approver().await;
    r.send("x1", "say hi on the node").await;

    let plan = answer_prepare(&node, "echo hi").await;
    let first = next_invoke(&node, "system.run").await;
    let p = first.params();
    assert_eq!(p["command"], json!(["/bin/sh", "-lc", "echo hi"]));
    assert_eq!(p["rawCommand"], "echo hi");
    assert_eq!(p["sessionKey"], "agent:main:main");
    assert_eq!(p["runId"], "x1");
    assert!(p.get("approved").is_none(), "the first try is not pre-approved: {p}");
    // What the node host sends when its policy wants a person (code UNAVAILABLE).
    node.reply(&first, NodeReply::error("UNAVAILABLE", APPROVAL_REQUIRED)).await.unwrap();

    let requested = approver.wait_event("exec.approval.requested", T).await.unwrap().payload.unwrap();
    let id = requested["id"].as_str().unwrap().to_string();
    let request = &requested["request"];
    assert_eq!(request["command"], "echo hi");
    assert_eq!(request["host"], "node");
    assert_eq!(request["nodeId"], node.node_id().as_str());
    assert_eq!(request["systemRunPlan"], plan);
    assert_eq!(request["sessionKey"], "agent:main:main");
    assert_eq!(request["runId"], "x1");
    assert_eq!(request["agentId"], "main");
    assert_eq!(requested["expiresAtMs"].as_i64().unwrap() - requested["createdAtMs"].as_i64().unwrap(), 1_800_000);
    let ok = approver.request("exec.approval.resolve", json!({"id": id, "decision": "allow-once"})).await.unwrap();
    assert_eq!(ok, json!({"ok": true}));

    let second = next_invoke(&node, "system.run").await;
    let p = second.params();
    assert_eq!(p["approved"], true);
    assert_eq!(p["approvalDecision"], "allow-once");
    assert_eq!(p["command"], json!(["/bin/sh", "-lc", "echo hi"]));
    assert_eq!(p["rawCommand"], "echo hi");
    node.reply(&second, ok_run("hi\n")).await.unwrap();

    let (terminal, tools) = r.finish("x1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    assert_eq!(terminal["message"]["content"][0]["text"], "done");
    let resolved = approver.wait_event("exec.approval.resolved", T).await.unwrap().payload.unwrap();
    assert_eq!((resolved["id"].as_str(), resolved["decision"].as_str()), (Some(id.as_str()), Some("allow-once")));

    // The model sees the output and the exit code.
    let requests = r.llm.requests();
    assert_eq!(requests.len(), 2);
    let seen = tool_message(&requests[1], "call_1");
    assert!(seen.contains("stdout:\nhi\n"), "{seen}");
    assert!(seen.contains("exit code 0"), "{seen}");

    // UIs saw start → waiting for approval → result.
    assert_eq!(phases(&tools, "call_1"), ["start", "update", "result"], "{tools:#?}");
    assert_eq!(tools[0]["name"], "exec");
    assert_eq!(tools[0]["args"], json!({"command": "echo hi"}));
    assert_eq!(tools[1]["partialResult"]["status"], "waiting-for-approval");
    assert_eq!(tools[1]["partialResult"]["approvalId"], id.as_str());
    assert_eq!(tools[1]["partialResult"]["command"], "echo hi");
    assert_eq!(tools[2]["isError"], false);
    assert_eq!(tools[2]["result"]["details"]["exitCode"], 0);

    let messages = r.history().await;
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "toolResult", "assistant"]);
    assert_eq!(messages[2]["isError"], false);
    assert_eq!(messages[2]["details"], json!({"exitCode": 0, "timedOut": false, "nodeId": node.node_id()}));
    assert!(invokes_left(&node).is_empty());
}

#[tokio::test]
async fn exec_denied_by_the_person_is_reported_and_not_retried() {
    let r = rig(vec![exec_call("rm -rf build"), Reply::text(["ok, I won't"])], json!({})).await;
    let node = r.node(&["system.run", "system.run.prepare"]).await;
    let approver = r.approver().await;
    r.send("d1", "clean up").await;

    answer_prepare(&node, "rm -rf build").await;
    let first = next_invoke(&node, "system.run").await;
    // The other wording a node may use: the code separate from the message.
    node.reply(&first, NodeReply::error("SYSTEM_RUN_DENIED", "approval required")).await.unwrap();
    let requested = approver.wait_event("exec.approval.requested", T).await.unwrap().payload.unwrap();
    assert_eq!(requested["request"]["command"], "rm -rf build");
    approver.request("exec.approval.resolve", json!({"id": requested["id"], "decision": "deny"})).await.unwrap();

    let (terminal, tools) = r.finish("d1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let seen = tool_message(&r.llm.requests()[1], "call_1");
    assert!(seen.contains("The user denied running `rm -rf build`"), "{seen}");
    assert!(seen.contains("Do not retry"), "{seen}");
    assert!(!seen.contains("nobody"), "a person answered; the model must not be told nobody did: {seen}");
    assert_eq!(phases(&tools, "call_1"), ["start", "update", "result"]);
    assert_eq!(tools[2]["isError"], true);
    assert_eq!(tools[2]["result"]["details"]["status"], "denied");
    assert!(invokes_left(&node).is_empty(), "a denied command is never sent to the node again");
    let messages = r.history().await;
    assert_eq!(messages[2]["role"], "toolResult");
    assert_eq!(messages[2]["isError"], true);
}

#[tokio::test]
async fn exec_without_an_approval_client_falls_back_to_deny_at_once() {
    let r = rig(vec![exec_call("make deploy"), Reply::text(["nobody could approve"])], json!({})).await;
    let node = r.node(&["system.run", "system.run.prepare"]).await;
    r.send("n1", "deploy").await;

    answer_prepare(&node, "make deploy").await;
    let first = next_invoke(&node, "system.run").await;
    node.reply(&first, NodeReply::error("UNAVAILABLE", APPROVAL_REQUIRED)).await.unwrap();

    let (terminal, tools) = r.finish("n1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let seen = tool_message(&r.llm.requests()[1], "call_1");
    assert!(seen.contains("`make deploy`") && seen.contains("not run"), "{seen}");
    assert!(seen.contains("no approval client"), "the model is told why nobody was asked: {seen}");
    assert!(!seen.contains("The user denied"), "nobody was asked, so nobody denied: {seen}");
    assert_eq!(tools.last().unwrap()["phase"], "result");
    assert_eq!(tools.last().unwrap()["isError"], true);
    assert_eq!(tools.last().unwrap()["result"]["details"]["reason"], "no-approval-route");
    assert!(invokes_left(&node).is_empty());
    // The broker recorded the fallback decision.
    let audit: Vec<_> = r.gw.state.store.audit_entries(100).unwrap().into_iter().filter(|a| a.kind == "exec.approval").collect();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].decision, "deny");
    assert_eq!(audit[0].details["reason"], "no-approval-route");
}

#[tokio::test]
async fn exec_approval_timeout_falls_back_to_deny() {
    let config = json!({"approvals": {"exec": {"timeoutMs": 500}}});
    let r = rig(vec![exec_call("shutdown now"), Reply::text(["timed out"])], config).await;
    let node = r.node(&["system.run", "system.run.prepare"]).await;
    let approver = r.approver().await;
    r.send("t1", "turn it off").await;

    answer_prepare(&node, "shutdown now").await;
    let first = next_invoke(&node, "system.run").await;
    node.reply(&first, NodeReply::error("UNAVAILABLE", APPROVAL_REQUIRED)).await.unwrap();
    let requested = approver.wait_event("exec.approval.requested", T).await.unwrap().payload.unwrap();
    assert_eq!(requested["expiresAtMs"].as_i64().unwrap() - requested["createdAtMs"].as_i64().unwrap(), 500);
    // The approval client never answers.
    let resolved = approver.wait_event("exec.approval.resolved", T).await.unwrap().payload.unwrap();
    assert_eq!(resolved["id"], requested["id"]);
    assert_eq!(resolved["decision"], "deny");

    let (terminal, tools) = r.finish("t1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let seen = tool_message(&r.llm.requests()[1], "call_1");
    assert!(seen.contains("`shutdown now`") && seen.contains("not run"), "{seen}");
    assert!(seen.contains("Nobody approved"), "{seen}");
    assert!(!seen.contains("The user denied"), "{seen}");
    assert_eq!(tools.last().unwrap()["result"]["details"]["reason"], "expired");
    assert!(invokes_left(&node).is_empty());
    let e = approver.request("exec.approval.resolve", json!({"id": requested["id"], "decision": "allow-once"})).await.unwrap_err();
    assert!(e.to_string().contains("already resolved"), "{e}");
}

#[tokio::test]
async fn exec_ask_always_asks_before_the_first_run() {
    let config = json!({"tools": {"exec": {"ask": "always"}}});
    let r = rig(vec![exec_call("ls"), Reply::text(["listed"])], config).await;
    let node = r.node(&["system.run", "system.run.prepare"]).await;
    let approver = r.approver().await;
    r.send("a1", "list").await;

    let plan = answer_prepare(&node, "ls").await;
    let requested = approver.wait_event("exec.approval.requested", T).await.unwrap().payload.unwrap();
    assert_eq!(requested["request"]["systemRunPlan"], plan);
    assert!(invokes_left(&node).is_empty(), "nothing runs before the person decides");
    approver.request("exec.approval.resolve", json!({"id": requested["id"], "decision": "allow-once"})).await.unwrap();

    let run = next_invoke(&node, "system.run").await;
    assert_eq!(run.params()["approved"], true);
    assert_eq!(run.params()["approvalDecision"], "allow-once");
    node.reply(&run, ok_run("a\nb\n")).await.unwrap();
    let (terminal, tools) = r.finish("a1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    assert!(tool_message(&r.llm.requests()[1], "call_1").contains("stdout:\na\nb\n"));
    assert_eq!(phases(&tools, "call_1"), ["start", "update", "result"]);
}

#[tokio::test]
async fn exec_ask_off_reports_the_node_denial_without_asking() {
    let config = json!({"tools": {"exec": {"ask": "off"}}});
    let r = rig(vec![exec_call("curl example.com"), Reply::text(["denied by node"])], config).await;
    let node = r.node(&["system.run", "system.run.prepare"]).await;
    let approver = r.approver().await;
    r.send("o1", "fetch").await;

    answer_prepare(&node, "curl example.com").await;
    let first = next_invoke(&node, "system.run").await;
    node.reply(&first, NodeReply::error("UNAVAILABLE", APPROVAL_REQUIRED)).await.unwrap();
    let (terminal, tools) = r.finish("o1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let seen = tool_message(&r.llm.requests()[1], "call_1");
    assert!(seen.contains("`curl example.com` did not run on fake-node"), "{seen}");
    assert!(seen.contains(APPROVAL_REQUIRED), "{seen}");
    assert_eq!(phases(&tools, "call_1"), ["start", "result"], "no approval wait: {tools:#?}");
    let prompts: Vec<_> = approver.drain_events().into_iter().filter(|e| e.event.starts_with("exec.approval.")).collect();
    assert!(prompts.is_empty(), "{prompts:?}");
    assert!(invokes_left(&node).is_empty());
}

#[tokio::test]
async fn aborting_a_run_that_waits_for_approval_withdraws_the_prompt() {
    let config = json!({"tools": {"exec": {"ask": "always"}}});
    let r = rig(vec![exec_call("make release"), Reply::text(["never asked"])], config).await;
    let node = r.node(&["system.run", "system.run.prepare"]).await;
    let approver = r.approver().await;
    r.send("ab1", "release").await;
    answer_prepare(&node, "make release").await;
    let requested = approver.wait_event("exec.approval.requested", T).await.unwrap().payload.unwrap();

    let aborted = r.client.request("chat.abort", json!({"sessionKey": "main"})).await.unwrap();
    assert_eq!(aborted, json!({"ok": true, "aborted": true, "runIds": ["ab1"]}));
    // The prompt is withdrawn for every approval client.
    let resolved = approver.wait_event("exec.approval.resolved", T).await.unwrap().payload.unwrap();
    assert_eq!(resolved["id"], requested["id"]);
    assert_eq!(resolved["decision"], "deny");
    let (terminal, tools) = r.finish("ab1").await;
    assert_eq!(terminal["state"], "aborted", "{terminal}");
    assert_eq!(phases(&tools, "call_1"), ["start", "update", "result"]);
    assert_eq!(r.llm.request_count(), 1, "an aborted run asks the model nothing more");
    assert!(invokes_left(&node).is_empty(), "nothing ran");
    let e = approver.request("exec.approval.resolve", json!({"id": requested["id"], "decision": "allow-once"})).await.unwrap_err();
    assert!(e.to_string().contains("already resolved"), "{e}");
    let messages = r.history().await;
    assert_transcript_consistent(&messages);
    assert_eq!(messages.last().unwrap()["role"], "toolResult");
    assert_eq!(messages.last().unwrap()["isError"], true);
}

// ---- nodes going away ---------------------------------------------------------------------

#[tokio::test]
async fn a_node_disconnecting_mid_tool_is_an_error_result_and_the_turn_finishes() {
    let r = rig(vec![exec_call("sleep 100"), Reply::text(["the node went away"])], json!({})).await;
    let node = r.node(&["system.run"]).await;
    r.send("g1", "wait").await;
    // Without system.run.prepare the tool goes straight to system.run.
    next_invoke(&node, "system.run").await;
    drop(node);

    let (terminal, tools) = r.finish("g1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    assert_eq!(terminal["message"]["content"][0]["text"], "the node went away");
    let seen = tool_message(&r.llm.requests()[1], "call_1");
    // The node had the command when it vanished: the model must not be told it did not run.
    assert!(seen.starts_with("`sleep 100` was sent to fake-node"), "{seen}");
    assert!(seen.contains("DISCONNECTED: node disconnected (system.run)"), "{seen}");
    assert!(seen.contains("may have run"), "{seen}");
    assert!(!seen.contains("did not run"), "{seen}");
    assert_eq!(tools.last().unwrap()["isError"], true);
    let messages = r.history().await;
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "toolResult", "assistant"]);
    assert_transcript_consistent(&messages);
}

#[tokio::test]
async fn aborting_a_run_mid_node_call_cancels_the_invoke_on_the_node() {
    let r = rig(vec![exec_call("sleep 100"), Reply::text(["never asked"])], json!({})).await;
    let node = r.node(&["system.run"]).await;
    r.send("ab2", "wait").await;
    let req = next_invoke(&node, "system.run").await;
    r.client.request("chat.abort", json!({"sessionKey": "main", "runId": "ab2"})).await.unwrap();
    let cancel = node.next_cancel(T).await.unwrap();
    assert_eq!(cancel, json!({"invokeId": req.id(), "nodeId": node.node_id()}));
    let (terminal, tools) = r.finish("ab2").await;
    assert_eq!(terminal["state"], "aborted", "{terminal}");
    let result = tools.iter().find(|d| d["phase"] == "result").unwrap();
    assert_eq!(result["isError"], true);
    assert!(result["result"]["content"][0]["text"].as_str().unwrap().contains("cancelled"), "{result}");
    assert_transcript_consistent(&r.history().await);
    // A late answer from the node is harmless.
    let late = node.reply(&req, ok_run("late\n")).await.unwrap();
    assert_eq!(late, Some(json!({"ok": true, "ignored": true})));
    assert_eq!(r.llm.request_count(), 1);
}

// ---- nodes --------------------------------------------------------------------------------

#[tokio::test]
async fn nodes_tool_lists_invokes_and_refuses() {
    let r = rig(
        vec![
            Reply::tool_calls([("c_list", "nodes", r#"{"action":"list"}"#)]),
            Reply::tool_calls([(
                "c_loc",
                "nodes",
                r#"{"action":"invoke","command":"location.get","params":{"desiredAccuracy":"precise"}}"#,
            )]),
            Reply::tool_calls([
                ("c_set", "nodes", r#"{"action":"invoke","command":"system.execApprovals.set","params":{"file":{"version":1}}}"#),
                ("c_cam", "nodes", r#"{"action":"invoke","command":"camera.snap"}"#),
                ("c_run", "nodes", r#"{"action":"invoke","command":"system.run","params":{"command":["id"]}}"#),
                ("c_who", "nodes", r#"{"action":"invoke","node":"no-such-node","command":"location.get"}"#),
            ]),
            Reply::text(["done"]),
        ],
        json!({}),
    )
    .await;
    let mut node = r
        .node(&[
            "location.get",
            "system.which",
            "system.run",
            "camera.snap",
            "screen.record",
            "system.execApprovals.set",
            "system.execApprovals.get",
        ])
        .await;
    let node_id = node.node_id();
    node.serve(|req| match req.command() {
        "location.get" => NodeReply::Ok(json!({"lat": 52.52, "lon": 13.405, "accuracyMeters": 12, "params": req.params()})),
        other => NodeReply::error("UNEXPECTED", &format!("the agent should not reach {other}")),
    });
    r.send("l1", "where am I").await;
    let (terminal, tools) = r.finish("l1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let requests = r.llm.requests();
    assert!(requests[0].tool_names().contains(&"nodes".to_string()));

    // list: the node, and only the commands the agent may invoke through it.
    let listed: Value = serde_json::from_str(&tool_message(&requests[1], "c_list")).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["nodeId"], node_id.as_str());
    assert_eq!(listed[0]["displayName"], "fake-node");
    assert_eq!(listed[0]["platform"], "linux");
    let mut commands: Vec<&str> = listed[0]["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    commands.sort();
    assert_eq!(commands, ["location.get", "system.run", "system.which"], "{listed}");

    // invoke: the node gets the params, the model gets the payload.
    let loc = tool_message(&requests[2], "c_loc");
    assert!(loc.starts_with(&format!("location.get on fake-node ({node_id}): ")), "{loc}");
    let payload: Value = serde_json::from_str(loc.split_once("): ").unwrap().1).unwrap();
    assert_eq!(payload, json!({"lat": 52.52, "lon": 13.405, "accuracyMeters": 12, "params": {"desiredAccuracy": "precise"}}));

    // Refusals, none of which reach the node.
    let set = tool_message(&requests[3], "c_set");
    assert!(set.contains("system.execApprovals.set is not available to the agent"), "{set}");
    let cam = tool_message(&requests[3], "c_cam");
    assert!(cam.contains("cannot run camera.snap") || cam.contains("may run camera.snap"), "{cam}");
    assert!(cam.contains("gateway.nodes.commands.allow"), "{cam}");
    let run = tool_message(&requests[3], "c_run");
    assert!(run.contains("Use the exec tool"), "{run}");
    let who = tool_message(&requests[3], "c_who");
    assert!(who.contains("No connected node matches \"no-such-node\""), "{who}");
    assert!(who.contains(&node_id), "the error names the connected nodes: {who}");
    for id in ["c_set", "c_cam", "c_run", "c_who"] {
        let result = tools.iter().find(|d| d["toolCallId"] == id && d["phase"] == "result").unwrap();
        assert_eq!(result["isError"], true, "{result}");
    }
    node.stop_serving();
    // The only command that reached the node is location.get (answered by the server task).
    assert!(invokes_left(&node).is_empty());
}

#[tokio::test]
async fn nodes_tool_without_a_node_says_so() {
    let r = rig(
        vec![
            Reply::tool_calls([
                ("c_list", "nodes", r#"{"action":"list"}"#),
                ("c_loc", "nodes", r#"{"action":"invoke","command":"location.get"}"#),
            ]),
            Reply::text(["no devices"]),
        ],
        json!({}),
    )
    .await;
    r.send("e1", "where am I").await;
    let (terminal, _) = r.finish("e1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let requests = r.llm.requests();
    // Only `nodes` among the node tools when nothing is connected.
    let names = requests[0].tool_names();
    assert!(names.contains(&"nodes".to_string()), "{names:?}");
    for absent in ["exec", "camera", "screen", "notify", "canvas"] {
        assert!(!names.contains(&absent.to_string()), "{names:?}");
    }
    assert_eq!(tool_message(&requests[1], "c_list"), "No nodes are connected.");
    let loc = tool_message(&requests[1], "c_loc");
    assert!(loc.starts_with("No node is connected"), "{loc}");
    assert!(loc.contains("pair"), "the error says what to do: {loc}");
}

// ---- camera / screen / notify / canvas ----------------------------------------------------

#[tokio::test]
async fn camera_snap_reaches_the_model_as_an_image() {
    let config = json!({"gateway": {"nodes": {"commands": {"allow": ["camera.snap"]}}}});
    let r = rig(
        vec![Reply::tool_calls([("c1", "camera", r#"{"action":"snap","facing":"front","maxWidth":640}"#)]), Reply::text(["a grey square"])],
        config,
    )
    .await;
    let node = r.node(&["camera.list", "camera.snap"]).await;
    r.send("c1", "take a photo").await;
    let req = next_invoke(&node, "camera.snap").await;
    assert_eq!(req.params(), json!({"facing": "front", "maxWidth": 640}), "action and node are not node params");
    node.reply(&req, NodeReply::Ok(json!({"format": "jpg", "base64": TINY_JPEG, "width": 1, "height": 1}))).await.unwrap();

    let (terminal, tools) = r.finish("c1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let second = &r.llm.requests()[1];
    let text = tool_message(second, "c1");
    assert!(!text.contains(TINY_JPEG), "the base64 is not in the text: {text}");
    assert!(text.contains("attached as an image"), "{text}");
    assert!(text.contains("\"width\":1"), "{text}");
    assert_image_follows(second, &format!("data:image/jpeg;base64,{TINY_JPEG}"));
    assert_eq!(tools.last().unwrap()["isError"], false);
    // The transcript keeps the image as an image part.
    let messages = r.history().await;
    assert_eq!(messages[2]["content"][1], json!({"type": "image", "data": TINY_JPEG, "mimeType": "image/jpeg"}));
}

/// The OpenAI request carries the image as an `image_url` data URL in a user message after
/// the tool messages (tool messages cannot carry images).
fn assert_image_follows(req: &RecordedRequest, url: &str) {
    let messages = req.messages();
    let tool_at = messages.iter().rposition(|m| m["role"] == "tool").unwrap();
    let after = &messages[tool_at + 1];
    assert_eq!(after["role"], "user", "{messages:#?}");
    let parts = after["content"].as_array().unwrap();
    assert!(parts.iter().any(|p| p == &json!({"type": "image_url", "image_url": {"url": url}})), "{after}");
}

#[tokio::test]
async fn screen_snapshot_png_reaches_the_model_as_an_image() {
    let r = rig(
        vec![Reply::tool_calls([("s1", "screen", r#"{"action":"snapshot","screenIndex":0}"#)]), Reply::text(["a blue pixel"])],
        json!({}),
    )
    .await;
    let node = r.node(&["screen.snapshot"]).await;
    r.send("s1", "what is on screen").await;
    let req = next_invoke(&node, "screen.snapshot").await;
    assert_eq!(req.params(), json!({"screenIndex": 0}));
    node.reply(&req, NodeReply::Ok(json!({"format": "png", "base64": TINY_PNG, "width": 1, "height": 1}))).await.unwrap();
    let (terminal, _) = r.finish("s1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let second = &r.llm.requests()[1];
    let text = tool_message(second, "s1");
    assert!(!text.contains(TINY_PNG), "{text}");
    assert_image_follows(second, &format!("data:image/png;base64,{TINY_PNG}"));
}

#[tokio::test]
async fn notify_and_canvas_map_to_node_commands() {
    let r = rig(
        vec![
            Reply::tool_calls([("n1", "notify", r#"{"title":"Build done","body":"All 42 tests passed"}"#)]),
            Reply::tool_calls([
                ("v1", "canvas", r#"{"action":"present"}"#),
                ("v2", "canvas", r#"{"action":"navigate","url":"https://example.com/"}"#),
            ]),
            Reply::tool_calls([
                ("v3", "canvas", r#"{"action":"eval","javaScript":"document.title"}"#),
                ("v4", "canvas", r#"{"action":"a2ui_push","jsonl":"{\"beginRendering\":{}}"}"#),
                ("v5", "canvas", r#"{"action":"hide"}"#),
                ("v6", "canvas", r#"{"action":"dance"}"#),
            ]),
            Reply::text(["shown"]),
        ],
        json!({}),
    )
    .await;
    let mut node =
        r.node(&["system.notify", "canvas.present", "canvas.hide", "canvas.navigate", "canvas.eval", "canvas.a2ui.pushJSONL"]).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    node.serve(move |req| {
        let _ = tx.send((req.command().to_string(), req.params()));
        match req.command() {
            "system.notify" => NodeReply::Ok(json!({"sent": true})),
            "canvas.eval" => NodeReply::Ok(json!({"result": "Example Domain"})),
            _ => NodeReply::Ok(json!({"ok": true})),
        }
    });
    r.send("v1", "notify and show").await;
    let (terminal, _) = r.finish("v1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let mut seen = Vec::new();
    while let Ok(item) = rx.try_recv() {
        seen.push(item);
    }
    // Calls of one model turn run concurrently; compare without their order within a turn.
    seen[1..3].sort_by(|a, b| a.0.cmp(&b.0));
    seen[3..].sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        vec![
            ("system.notify".to_string(), json!({"title": "Build done", "body": "All 42 tests passed"})),
            ("canvas.navigate".to_string(), json!({"url": "https://example.com/"})),
            ("canvas.present".to_string(), json!({})),
            ("canvas.a2ui.pushJSONL".to_string(), json!({"jsonl": "{\"beginRendering\":{}}"})),
            ("canvas.eval".to_string(), json!({"javaScript": "document.title"})),
            ("canvas.hide".to_string(), json!({})),
        ]
    );
    let requests = r.llm.requests();
    let names = requests[0].tool_names();
    assert!(names.contains(&"notify".to_string()) && names.contains(&"canvas".to_string()), "{names:?}");
    assert!(tool_message(&requests[1], "n1").contains("{\"sent\":true}"));
    assert!(tool_message(&requests[3], "v3").contains("Example Domain"));
    let bad = tool_message(&requests[3], "v6");
    assert!(bad.contains("Unknown action \"dance\"") && bad.contains("present, hide, navigate"), "{bad}");
}

// ---- bad tool calls -----------------------------------------------------------------------

#[tokio::test]
async fn unknown_tools_and_invalid_arguments_are_error_results() {
    let r = rig(
        vec![Reply::tool_calls([("u1", "frobnicate", r#"{"x":1}"#), ("u2", "read", r#"{"path": "SOUL.md""#)]), Reply::text(["sorry"])],
        json!({}),
    )
    .await;
    r.send("b1", "do it").await;
    let (terminal, tools) = r.finish("b1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let second = &r.llm.requests()[1];
    let unknown = tool_message(second, "u1");
    assert!(unknown.starts_with("There is no tool named `frobnicate`. Available tools: "), "{unknown}");
    for name in ["read", "write", "nodes"] {
        assert!(unknown.contains(name), "{unknown}");
    }
    let invalid = tool_message(second, "u2");
    assert!(invalid.contains("not valid JSON"), "{invalid}");
    assert!(invalid.contains(r#"{"path": "SOUL.md""#), "the bad arguments are quoted: {invalid}");
    for id in ["u1", "u2"] {
        assert_eq!(phases(&tools, id), ["start", "result"]);
        let result = tools.iter().find(|d| d["toolCallId"] == id && d["phase"] == "result").unwrap();
        assert_eq!(result["isError"], true);
    }
    assert_transcript_consistent(&r.history().await);
}

#[tokio::test]
async fn the_loop_guard_ends_a_run_that_repeats_one_call() {
    let same = |i: usize| Reply::tool_calls([(format!("r{i}"), "read".to_string(), r#"{"path":"SOUL.md"}"#.to_string())]);
    let r = rig((1..=5).map(same).chain([Reply::text(["never asked"])]).collect(), json!({})).await;
    r.send("lg", "read it again and again").await;
    let (terminal, _) = r.finish("lg").await;
    assert_eq!(terminal["state"], "error", "{terminal}");
    let error = terminal["errorMessage"].as_str().unwrap();
    assert!(error.contains("repeating the same tool call (read)"), "{error}");
    assert_eq!(r.llm.request_count(), 5, "the run stops after the fifth identical call");
    assert_eq!(r.llm.remaining(), 1);
    // The fourth call was not run; the model was warned before the run ended.
    let fifth = &r.llm.requests()[4];
    assert!(!tool_message(fifth, "r3").starts_with("Not run"));
    let warning = tool_message(fifth, "r4");
    assert!(warning.starts_with("Not run: this exact `read` call was already made 3 times"), "{warning}");
    let waited = r.client.request("agent.wait", json!({"runId": "lg", "timeoutMs": 5000})).await.unwrap();
    assert_eq!(waited["status"], "error");
    assert_transcript_consistent(&r.history().await);
}

#[tokio::test]
async fn huge_tool_outputs_are_capped_before_the_model_sees_them() {
    let r = rig(
        vec![
            Reply::tool_calls([("big_read", "read", r#"{"path":"big.txt"}"#)]),
            Reply::tool_calls([("big_exec", "exec", r#"{"command":"cat /var/log/huge"}"#)]),
            Reply::text(["that was a lot"]),
        ],
        json!({}),
    )
    .await;
    // 2 000 lines of 100 bytes: 200 KB.
    let lines: String = (1..=2000).map(|i| format!("line {i:06} {}\n", "x".repeat(87))).collect();
    assert_eq!(lines.len(), 200_000);
    std::fs::create_dir_all(r.workspace()).unwrap();
    std::fs::write(r.workspace().join("big.txt"), &lines).unwrap();
    let mut node = r.node(&["system.run"]).await;
    let stdout = format!("BEGIN\n{}\nEND\n", "y".repeat(200_000));
    node.serve(move |_| ok_run(&stdout));
    r.send("h1", "read the big file and the log").await;
    let (terminal, _) = r.finish("h1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let requests = r.llm.requests();

    // read stops at its own 50 KB cap and says where to continue.
    let read = tool_message(&requests[1], "big_read");
    assert!(read.chars().count() <= 51_000, "{} chars", read.chars().count());
    assert!(read.starts_with("line 000001 "), "{}", &read[..100]);
    assert!(!read.contains("line 002000"));
    assert!(read.contains("Use offset="), "{}", &read[read.len() - 300..]);

    // A node's 200 KB stdout is cut to the 50 000-character limit, head and tail kept.
    let exec = tool_message(&requests[2], "big_exec");
    assert!(exec.chars().count() <= 50_000 + 200, "{} chars", exec.chars().count());
    assert!(exec.contains("stdout:\nBEGIN\n"));
    assert!(exec.ends_with("END\n"), "{}", &exec[exec.len() - 100..]);
    assert!(exec.contains("characters cut") && exec.contains("50000-character limit"), "the cut is marked");
}

/// A page of `read` (50 KB = 51 200 bytes plus its note) is longer than the runner's default
/// 50 000-character cap, so the runner cuts ~1 300 characters out of its middle, while read's
/// note says "Showing lines 1-512 … Use offset=513": the model believes it saw lines it did not.
#[tokio::test]
async fn a_full_page_of_read_is_not_cut_again_by_the_runner() {
    let r = rig(vec![Reply::tool_calls([("big_read", "read", r#"{"path":"big.txt"}"#)]), Reply::text(["ok"])], json!({})).await;
    let lines: String = (1..=2000).map(|i| format!("line {i:06} {}\n", "x".repeat(87))).collect();
    std::fs::create_dir_all(r.workspace()).unwrap();
    std::fs::write(r.workspace().join("big.txt"), &lines).unwrap();
    r.send("h2", "read the big file").await;
    let (terminal, _) = r.finish("h2").await;
    assert_eq!(terminal["state"], "final", "{terminal}");
    let read = tool_message(&r.llm.requests()[1], "big_read");
    let note =
        read.rsplit_once("[Showing lines 1-").map(|(_, n)| n).unwrap_or_else(|| panic!("no read note: {}", &read[read.len() - 300..]));
    let last: usize = note.split_once(' ').unwrap().0.parse().unwrap();
    for i in 1..=last {
        assert!(read.contains(&format!("line {i:06} ")), "read says it showed lines 1-{last} but line {i} is missing");
    }
    assert!(!read.contains("characters cut"), "{}", &read[read.len() - 300..]);
}

// ---- workspace confinement ----------------------------------------------------------------

#[tokio::test]
async fn file_tools_stay_in_the_workspace() {
    let r = rig(Vec::new(), json!({})).await;
    let state = r.gw.state_dir.path().to_path_buf();
    let config_path = state.join("pincer.json");
    let config_before = std::fs::read(&config_path).unwrap();
    // A secret outside the workspace, and a symlink to it inside.
    std::fs::write(state.join("secret.txt"), "TOPSECRET").unwrap();
    std::fs::create_dir_all(r.workspace()).unwrap();
    std::os::unix::fs::symlink(state.join("secret.txt"), r.workspace().join("secret-link")).unwrap();
    r.llm.push(Reply::tool_calls([
        ("w1", "write", r#"{"path":"../escape.txt","content":"out"}"#.to_string()),
        ("w2", "write", json!({"path": config_path, "content": "{}"}).to_string()),
        ("w3", "write", json!({"path": "notes/../../escape2.txt", "content": "out"}).to_string()),
        ("r1", "read", r#"{"path":"secret-link"}"#.to_string()),
    ]));
    r.llm.push(Reply::text(["refused"]));
    r.send("ws1", "escape").await;
    let (terminal, tools) = r.finish("ws1").await;
    assert_eq!(terminal["state"], "final", "{terminal}");

    let second = &r.llm.requests()[1];
    let escape = tool_message(second, "w1");
    assert_eq!(
        escape,
        "refused `../escape.txt`: it is outside the workspace (file tools only work inside the workspace directory; use a relative path)"
    );
    let config = tool_message(second, "w2");
    assert!(config.starts_with("refused `") && config.contains("outside the workspace"), "{config}");
    assert!(tool_message(second, "w3").contains("outside the workspace"));
    let link = tool_message(second, "r1");
    assert_eq!(link, "refused `secret-link`: it goes through a symbolic link that leads outside the workspace");
    for id in ["w1", "w2", "w3", "r1"] {
        let result = tools.iter().find(|d| d["toolCallId"] == id && d["phase"] == "result").unwrap();
        assert_eq!(result["isError"], true, "{result}");
    }
    // Nothing was written outside, the config is untouched, the secret never left.
    assert!(!state.join("escape.txt").exists());
    assert!(!state.join("escape2.txt").exists());
    assert_eq!(std::fs::read(&config_path).unwrap(), config_before);
    let everything: String = r.llm.requests().iter().map(|q| q.body.to_string()).collect();
    assert!(!everything.contains("TOPSECRET"));
}

/// The workspace is the state directory itself (so the config, the token, the database and
/// the approvals lie inside it): no file-by-file protection makes that safe, so the turn is
/// refused before the model is called or anything is seeded there. (Protected files that do
/// lie inside a workspace, e.g. a `--config` placed there, are refused by the file tools: see
/// the agent crate's `protected_files_are_refused`.)
#[tokio::test]
async fn a_workspace_that_is_the_state_dir_is_refused() {
    let dir = TempState::new("ws-state").unwrap();
    let workspace = dir.path().to_str().unwrap().to_string();
    let r = rig_in(
        vec![Reply::tool_calls([("p1", "write", r#"{"path":"pincer.json","content":"{}"}"#)]), Reply::text(["done"])],
        json!({"agents": {"defaults": {"workspace": workspace}}}),
        Some(dir.path().to_path_buf()),
    )
    .await;
    let config_path = dir.path().join("pincer.json");
    let config_before = std::fs::read(&config_path).unwrap();
    r.send("p1", "edit the config").await;
    let (terminal, _) = r.finish("p1").await;
    assert_eq!(terminal["state"], "error", "{terminal}");
    let expected = format!("the agent workspace {workspace} contains the state directory {workspace}, so the agent's file tools");
    assert!(terminal["errorMessage"].as_str().unwrap().starts_with(&expected), "{terminal}");
    assert!(r.llm.requests().is_empty(), "the model is never called");
    assert_eq!(std::fs::read(&config_path).unwrap(), config_before);
    assert!(!dir.path().join("AGENTS.md").exists(), "nothing is seeded into the state dir");
}
