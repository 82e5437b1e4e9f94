//! The REAL OpenClaw CLI (`openclaw gateway call chat.send|chat.history|sessions.list|
//! models.list|agent.wait`) against the real `pincer-gateway` binary whose agent talks to a
//! scripted OpenAI-compatible provider; the `chat`/`agent` events Pincer broadcasts carry every
//! field of the frames captured from OpenClaw 2026.9.6 (`tests/fixtures/openclaw/agent/`).
//!
//! Like the other interop tests, this FAILS (never skips) when OpenClaw is not installed, and
//! runs in the serial `interop-openclaw` nextest group.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use pincer_protocol::scopes::READ;
use pincer_tests::interop::*;
use pincer_tests::llm_script::{Reply, ScriptedOpenAi};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(60);

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/openclaw/agent").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    // Some fixtures wrap the frame as {note, frame}.
    let frame = v.get("frame").cloned().unwrap_or(v);
    frame["payload"].clone()
}

/// Every key of OpenClaw's payload (recursively into objects) that Pincer's payload lacks.
fn missing_keys(openclaw: &Value, pincer: &Value, path: &str, ignore: &[&str], out: &mut Vec<String>) {
    if let (Value::Object(o), Value::Object(p)) = (openclaw, pincer) {
        for (k, v) in o {
            let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if ignore.contains(&here.as_str()) {
                continue;
            }
            match p.get(k) {
                None => out.push(here),
                Some(pv) => missing_keys(v, pv, &here, ignore, out),
            }
        }
    }
}

fn assert_shape(name: &str, openclaw: &Value, pincer: &Value, ignore: &[&str]) {
    let mut missing = Vec::new();
    missing_keys(openclaw, pincer, "", ignore, &mut missing);
    assert!(missing.is_empty(), "{name}: Pincer lacks {missing:?}\nOpenClaw: {openclaw}\nPincer:   {pincer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the serial lock is meant to span the whole test
async fn openclaw_cli_chats_with_pincers_agent_and_events_match_openclaws_shapes() {
    let _serial = serial();
    let llm = ScriptedOpenAi::start([
        Reply::text(["Hello ", "from ", "Pincer."]).usage(20, 4),
        Reply::text(["Second ", "answer."]).usage(30, 2),
        Reply::text(["Third ", "answer."]).usage(40, 2),
    ])
    .await
    .unwrap();
    let scene = Scene::new("agent-cli");
    let config = json!({
        "agents": {"defaults": {"model": {"primary": "scripted/m1"}}},
        "models": {"providers": {"scripted": llm.provider_config(Some("sk-test"), &["m1"])}},
    });
    let gw = Pincer::start(&scene, Some(config)).await;
    let watcher = gw.operator(&[READ]).await;
    watcher.request("sessions.messages.subscribe", json!({"key": "main"})).await.unwrap();
    let cli = OpenClawCli::new(&scene, gw.url());

    let params = json!({"sessionKey": "main", "message": "hello", "idempotencyKey": "oc-k1"}).to_string();
    let ack = cli.json(&["gateway", "call", "chat.send", "--params", &params, "--json"]).await;
    assert_eq!(ack, json!({"runId": "oc-k1", "status": "started"}));

    // The broadcast events, compared with OpenClaw's captured frames.
    let mut chat = Vec::new();
    let mut agent = Vec::new();
    loop {
        let e = watcher.wait_event_where("chat/agent event", T, |e| e.event == "chat" || e.event == "agent").await.unwrap();
        let p = e.payload.unwrap();
        if e.event == "agent" {
            agent.push(p);
            continue;
        }
        let done = p["state"] == "final";
        chat.push(p);
        if done {
            break;
        }
    }
    let delta = chat.iter().find(|c| c["state"] == "delta").unwrap();
    assert_shape("chat delta", &fixture("event.chat.delta.json"), delta, &[]);
    let final_event = chat.last().unwrap();
    assert_shape("chat final", &fixture("event.chat.final.json"), final_event, &[]);
    assert_eq!(final_event["message"]["content"][0]["text"], "Hello from Pincer.");
    let assistant = agent.iter().find(|a| a["stream"] == "assistant").unwrap();
    assert_shape("agent assistant", &fixture("event.agent.assistant.json"), assistant, &[]);
    let start = agent.iter().find(|a| a["stream"] == "lifecycle" && a["data"]["phase"] == "start").unwrap();
    assert_shape("agent lifecycle start", &fixture("event.agent.lifecycle.start.json"), start, &[]);
    // OpenClaw's end event carries its own diagnostics (terminalReceipt, livenessState, …);
    // Pincer sends the fields a client acts on.
    let wait_until_end = async {
        loop {
            if let Some(end) = agent.iter().find(|a| a["stream"] == "lifecycle" && a["data"]["phase"] == "end") {
                break end.clone();
            }
            let e = watcher.wait_event("agent", T).await.unwrap();
            agent.push(e.payload.unwrap());
        }
    };
    let end = wait_until_end.await;
    for key in ["phase", "stopReason", "aborted", "startedAt", "endedAt"] {
        assert!(end["data"].get(key).is_some(), "lifecycle end lacks {key}: {end}");
    }
    // Live transcript updates for a subscriber, in OpenClaw's session.message shape. OpenClaw's
    // own bookkeeping (transport, transcript file position, idempotency echo, cost, the long
    // session row) is left out; the row's key and id are there.
    let live: Vec<Value> =
        watcher.drain_events().into_iter().filter(|e| e.event == "session.message").map(|e| e.payload.unwrap()).collect();
    assert_eq!(live.len(), 2, "{live:?}");
    let pincer_has = [
        "sessionKey",
        "agentId",
        "message",
        "messageId",
        "messageSeq",
        "updatedAt",
        "sessionId",
        "kind",
        "createdAt",
        "totalTokens",
        "contextTokens",
        "modelProvider",
        "model",
    ];
    for (name, event) in [("event.session.message.user.json", &live[0]), ("event.session.message.assistant.json", &live[1])] {
        let openclaw = fixture(name);
        let mut ignore: Vec<&str> = vec![
            "message.idempotencyKey",
            "message.__openclaw.transport",
            "message.__openclaw.idempotencyKey",
            "message.__openclaw.recordTimestampMs",
            "message.__openclaw.transcriptPosition",
            "message.responseId",
            "message.usage.cost",
            "session",
        ];
        ignore.extend(openclaw.as_object().unwrap().keys().map(String::as_str).filter(|k| !pincer_has.contains(k)));
        assert_shape(name, &openclaw, event, &ignore);
    }
    assert_eq!(live[1]["session"]["key"], "agent:main:main");
    assert!(live[1]["session"]["sessionId"].is_string());

    // History, sessions and models through the CLI.
    let history = cli.json(&["gateway", "call", "chat.history", "--params", r#"{"sessionKey":"main"}"#, "--json"]).await;
    assert_eq!(history["sessionKey"], "agent:main:main");
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{history}");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"][0]["text"], "Hello from Pincer.");
    assert_eq!(messages[1]["usage"]["input"], 20);

    let replay = cli.json(&["gateway", "call", "chat.send", "--params", &params, "--json"]).await;
    assert_eq!(replay, json!({"runId": "oc-k1", "status": "ok"}));

    let sessions = cli.json(&["gateway", "call", "sessions.list", "--json"]).await;
    let row = &sessions["sessions"][0];
    assert_eq!(row["key"], "agent:main:main", "{sessions}");
    assert_eq!(row["kind"], "direct");
    assert_eq!(row["model"], "m1");
    assert_eq!(row["modelProvider"], "scripted");

    let models = cli.json(&["gateway", "call", "models.list", "--json"]).await;
    assert_eq!(models["models"][0]["id"], "m1", "{models}");
    assert_eq!(models["models"][0]["provider"], "scripted");
    assert_eq!(models["models"][0]["tags"], json!(["default"]));

    let waited = cli.json(&["gateway", "call", "agent.wait", "--params", r#"{"runId":"oc-k1","timeoutMs":5000}"#, "--json"]).await;
    assert_eq!(waited["status"], "ok", "{waited}");

    // A bad message is refused with OpenClaw's wording, and nothing reaches the model.
    let bad = cli
        .run(&["gateway", "call", "chat.send", "--params", r#"{"sessionKey":"main","message":"","idempotencyKey":"oc-k2"}"#, "--json"])
        .await;
    assert!(!bad.status.success(), "empty message must fail: {}", bad.stdout);
    assert!(format!("{}{}", bad.stdout, bad.stderr).contains("message or attachment required"), "{}{}", bad.stdout, bad.stderr);
    assert_eq!(llm.request_count(), 1);

    // `openclaw agent` waits for the run's final result (the second response to `agent`) and
    // prints it; its JSON has the shape of OpenClaw's own final response.
    let out = cli.run_local(&["agent", "--session-key", "main", "--message", "and you?", "--json"]).await.json();
    assert_eq!(out["status"], "ok", "{out}");
    assert_eq!(out["result"]["payloads"][0]["text"], "Second answer.", "{out}");
    let openclaw_final = fixture_frames("res.agent.expect-final.json")[1]["payload"].clone();
    let mut ignored = OPENCLAW_ONLY_FINAL_META.to_vec();
    ignored.push("result.sourceReplyDeliveryState");
    assert_shape("agent final", &openclaw_final, &out, &ignored);
    assert_eq!(out["result"]["meta"]["finalPromptText"], "and you?");
    let plain = cli.run_local(&["agent", "--session-key", "main", "--message", "and then?"]).await;
    assert!(plain.status.success(), "{}{}", plain.stdout, plain.stderr);
    assert!(plain.stdout.contains("Third answer."), "{}{}", plain.stdout, plain.stderr);
    assert_eq!(llm.request_count(), 3);
}

/// Diagnostics in OpenClaw's final `agent` result that Pincer does not produce: its prompt
/// and context-budget reports, transcript file, credential and harness bookkeeping, cost
/// (Pincer has no price table) and delivery state for chat channels it does not have. The
/// CLI prints the payloads; status, usage and texts are all there.
const OPENCLAW_ONLY_FINAL_META: [&str; 16] = [
    "result.meta.agentMeta.sessionFile",
    "result.meta.agentMeta.contextTokens",
    "result.meta.agentMeta.contextTokensSource",
    "result.meta.agentMeta.agentHarnessId",
    "result.meta.agentMeta.credentialSource",
    "result.meta.agentMeta.usage.cost",
    "result.meta.agentMeta.lastCallUsage.cost",
    "result.meta.agentMeta.contextBudgetStatus",
    "result.meta.agentMeta.codeModeEngaged",
    "result.meta.agentMeta.bridgeCalls",
    "result.meta.agentMeta.terminalReceipt",
    "result.meta.systemPromptReport",
    "result.meta.replayInvalid",
    "result.meta.livenessState",
    "result.meta.executionTrace",
    "result.meta.requestShaping",
];

/// The frames of a fixture that records a request and several responses.
fn fixture_frames(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/openclaw/agent").join(name);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["responses"].as_array().unwrap().clone()
}

/// OpenClaw's terminal UI (`openclaw tui`), on a pseudo-terminal, against pincer-gateway: it
/// starts without errors (agents.list, sessions.subscribe, sessions.describe, question.list,
/// plugin.approval.list all answer), sends its message and shows the streamed answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the serial lock is meant to span the whole test
async fn openclaw_tui_chats_with_pincers_agent() {
    let _serial = serial();
    let llm = ScriptedOpenAi::start([Reply::text(["Greetings ", "from ", "the Pincer agent."]).usage(20, 5)]).await.unwrap();
    let scene = Scene::new("agent-tui");
    let config = json!({
        "agents": {"defaults": {"model": {"primary": "scripted/m1"}}},
        "models": {"providers": {"scripted": llm.provider_config(Some("sk-test"), &["m1"])}},
    });
    let gw = Pincer::start(&scene, Some(config)).await;
    let cli = OpenClawCli::new(&scene, gw.url());
    let screen =
        openclaw_tui_until(&cli, &["--message", "hello from the tui"], "Greetings from the Pincer agent.", Duration::from_secs(90)).await;
    assert!(screen.contains("hello from the tui"), "{screen}");
    let complaints: Vec<&str> = screen.lines().filter(|l| l.contains("failed") || l.contains("unknown method")).collect();
    assert!(complaints.is_empty(), "the TUI reported errors: {complaints:?}");
    assert_eq!(llm.request_count(), 1);
}
