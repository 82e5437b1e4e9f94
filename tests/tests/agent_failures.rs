//! How agent runs fail, over the protocol: provider errors (retry, failover, auth, garbage,
//! broken and stalled streams, context overflow), abort, run timeout, per-session queueing,
//! bad `chat.send` input, missing model config, and a gateway process killed mid-turn.
//!
//! Every failure must end the turn with a `chat` `error` event that says what happened (or be
//! handled: retried, failed over), leave a transcript whose failed turns carry an assistant
//! message with `stopReason: "error"` and an `errorMessage`, and lose nothing acknowledged.
//! The LLM is a scripted OpenAI-compatible server ([`pincer_tests::llm_script`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine;
use pincer_client::GatewayClient;
use pincer_protocol::error::ErrorCode;
use pincer_protocol::scopes::{ADMIN, READ, WRITE};
use pincer_tests::agent::{agent_config, agent_gateway, agent_operator, start_agent_gateway};
use pincer_tests::expect::server_error;
use pincer_tests::interop::{Pincer, Scene};
use pincer_tests::llm_script::{Reply, ScriptedLlm, ScriptedOpenAi};
use pincer_tests::TestGateway;
use serde_json::{json, Value};

async fn start_cfg(config: Value) -> TestGateway {
    start_agent_gateway(config, None).await.unwrap()
}

const T: Duration = Duration::from_secs(20);

fn is_chat_of(e: &pincer_client::EventFrame, run_id: &str) -> bool {
    e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["runId"] == run_id)
}

/// Every `chat` event of `run_id` up to and including the terminal one.
async fn chat_events(client: &GatewayClient, run_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let e = client.wait_event_where(&format!("chat event of {run_id}"), T, |e| is_chat_of(e, run_id)).await.unwrap();
        let p = e.payload.unwrap();
        let state = p["state"].as_str().unwrap_or_default().to_string();
        out.push(p);
        if state != "delta" {
            return out;
        }
    }
}

/// The terminal `chat` event of `run_id` (deltas skipped).
async fn terminal(client: &GatewayClient, run_id: &str) -> Value {
    chat_events(client, run_id).await.pop().unwrap()
}

fn deltas(events: &[Value]) -> Vec<String> {
    events.iter().filter(|e| e["state"] == "delta").map(|e| e["deltaText"].as_str().unwrap().to_string()).collect()
}

async fn history(client: &GatewayClient, key: &str) -> Vec<Value> {
    let h = client.request("chat.history", json!({"sessionKey": key})).await.unwrap();
    h["messages"].as_array().unwrap().clone()
}

async fn send(client: &GatewayClient, key: &str, message: &str, run_id: &str) -> Value {
    client.request("chat.send", json!({"sessionKey": key, "message": message, "idempotencyKey": run_id})).await.unwrap()
}

fn roles(messages: &[Value]) -> Vec<&str> {
    messages.iter().map(|m| m["role"].as_str().unwrap()).collect()
}

fn text_of(message: &Value) -> String {
    message["content"]
        .as_array()
        .map(|parts| parts.iter().filter(|p| p["type"] == "text").filter_map(|p| p["text"].as_str()).collect())
        .unwrap_or_default()
}

/// The transcript is well-formed: every tool call answered by a result with its id, every
/// assistant message that failed carries an error message.
fn assert_consistent(messages: &[Value]) {
    for (i, m) in messages.iter().enumerate() {
        if m["role"] != "assistant" {
            continue;
        }
        for call in m["content"].as_array().into_iter().flatten().filter(|p| p["type"] == "toolCall") {
            let answered = messages[i + 1..].iter().take_while(|n| n["role"] == "toolResult").any(|n| n["toolCallId"] == call["id"]);
            assert!(answered, "tool call {} has no result: {messages:#?}", call["id"]);
        }
        if m["stopReason"] == "error" {
            assert!(m["errorMessage"].as_str().is_some_and(|e| !e.is_empty()), "error turn without errorMessage: {m}");
        }
    }
}

/// The last message is the failed turn's assistant message: stopReason error, with a message.
fn assert_failed_turn(messages: &[Value], needle: &str) -> Value {
    assert_consistent(messages);
    let last = messages.last().unwrap().clone();
    assert_eq!(last["role"], "assistant", "{messages:#?}");
    assert_eq!(last["stopReason"], "error", "{last}");
    let error = last["errorMessage"].as_str().unwrap_or_default();
    assert!(error.contains(needle), "errorMessage {error:?} should mention {needle:?}");
    last
}

// ------------------------------------------------------------------------------------------
// Provider failures
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn server_errors_are_retried_then_fail_over_to_the_fallback_model() {
    let primary = ScriptedOpenAi::start([Reply::status(500), Reply::status(502), Reply::status(503)]).await.unwrap();
    let backup = ScriptedOpenAi::start([Reply::text(["from ", "backup"])]).await.unwrap();
    let gw = agent_gateway(
        &primary,
        json!({
            "agents": {"defaults": {"model": {"primary": "scripted/m1", "fallbacks": ["backup/b1"]}}},
            "models": {"providers": {"backup": backup.provider_config(Some("sk-backup"), &["b1"])}},
        }),
    )
    .await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "hello", "f1").await;
    let events = chat_events(&client, "f1").await;
    let last = events.last().unwrap();
    assert_eq!(last["state"], "final", "{events:#?}");
    assert_eq!(last["message"]["provider"], "backup");
    assert_eq!(last["message"]["model"], "b1");
    assert_eq!(text_of(&last["message"]), "from backup");
    assert_eq!(deltas(&events), ["from ", "backup"], "only the answering model's text is streamed");
    assert_eq!(primary.request_count(), 3, "the primary gets the configured 3 attempts");
    assert_eq!(backup.request_count(), 1);
    assert_eq!(backup.requests()[0].bearer_token(), Some("sk-backup"));
    assert_eq!(backup.requests()[0].model(), Some("b1"));

    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant"]);
    assert_eq!(messages[1]["provider"], "backup");
    assert_eq!(messages[1]["stopReason"], "stop");
}

#[tokio::test]
async fn a_rate_limit_with_retry_after_is_retried_and_succeeds() {
    let llm = ScriptedOpenAi::start([Reply::status(429).retry_after(1), Reply::text(["ok"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "hi", "r1").await;
    let last = terminal(&client, "r1").await;
    assert_eq!(last["state"], "final", "{last}");
    assert_eq!(text_of(&last["message"]), "ok");
    assert_eq!(llm.request_count(), 2);
    assert_eq!(roles(&history(&client, "main").await), ["user", "assistant"]);
}

#[tokio::test]
async fn rate_limits_that_outlast_the_retries_end_with_a_rate_limit_error() {
    let llm = ScriptedOpenAi::start([Reply::status(429), Reply::status(429), Reply::status(429), Reply::text(["late"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "hi", "r2").await;
    let last = terminal(&client, "r2").await;
    assert_eq!(last["state"], "error", "{last}");
    assert_eq!(last["errorKind"], "rate_limit");
    assert!(last["errorMessage"].as_str().unwrap().contains("429"), "{last}");
    assert_eq!(llm.request_count(), 3, "3 attempts, then the error");
    assert_failed_turn(&history(&client, "main").await, "rate limited");
}

#[tokio::test]
async fn an_auth_error_is_not_retried_and_fails_over() {
    let primary = ScriptedOpenAi::start([Reply::status(401)]).await.unwrap();
    let backup = ScriptedOpenAi::start([Reply::text(["fine"])]).await.unwrap();
    let gw = agent_gateway(
        &primary,
        json!({
            "agents": {"defaults": {"model": {"primary": "scripted/m1", "fallbacks": ["backup/b1"]}}},
            "models": {"providers": {"backup": backup.provider_config(Some("sk-backup"), &["b1"])}},
        }),
    )
    .await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "hi", "a1").await;
    let last = terminal(&client, "a1").await;
    assert_eq!(last["state"], "final", "{last}");
    assert_eq!(last["message"]["provider"], "backup");
    assert_eq!((primary.request_count(), backup.request_count()), (1, 1), "a 401 is never retried");
}

#[tokio::test]
async fn an_auth_error_without_fallback_names_the_key_setting_and_never_leaks_the_key() {
    const SECRET: &str = "sk-live-very-secret-0123456789";
    // A server that echoes the key it was given, as OpenAI does ("Incorrect API key provided: …").
    let llm = ScriptedOpenAi::start([Reply::status(401).message(format!("Incorrect API key provided: {SECRET}"))]).await.unwrap();
    let mut config = agent_config(&llm, json!({}));
    config["models"]["providers"]["scripted"]["apiKey"] = json!(SECRET);
    let gw = start_cfg(config).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "hi", "a2").await;
    let last = terminal(&client, "a2").await;
    assert_eq!(last["state"], "error", "{last}");
    let error = last["errorMessage"].as_str().unwrap();
    assert!(error.contains("API key"), "{error}");
    assert!(error.contains("models.providers.scripted.apiKey"), "says which setting to fix: {error}");
    assert!(!last.to_string().contains(SECRET), "the key leaked into the event: {last}");
    assert_eq!(last["errorKind"], "unknown");
    assert_eq!(llm.request_count(), 1, "a 401 is never retried");

    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant"]);
    assert_failed_turn(&messages, "API key");
    assert!(!Value::Array(messages).to_string().contains(SECRET), "the key leaked into the transcript");
    let waited = client.request("agent.wait", json!({"runId": "a2", "timeoutMs": 1000})).await.unwrap();
    assert_eq!(waited["status"], "error");
    assert!(!waited.to_string().contains(SECRET), "{waited}");
}

/// `agents.defaults.workspace` set to a home-like directory that holds the state dir (`~` with
/// the state in `~/.pincer`): the turn ends with an error that names the state dir and the
/// setting to change, before the model is called or anything is written into that directory.
/// On 7f29638 the turn ran with the whole home as workspace (and the agent could rewrite the
/// node's approvals).
#[tokio::test]
async fn a_workspace_that_contains_the_state_dir_is_refused() {
    let llm = ScriptedOpenAi::start([Reply::text(["never"])]).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let state_dir = home.path().join(".pincer");
    std::fs::create_dir_all(&state_dir).unwrap();
    let config = agent_config(&llm, json!({"agents": {"defaults": {"workspace": home.path().display().to_string()}}}));
    let gw = start_agent_gateway(config, Some(state_dir.clone())).await.unwrap();
    let client = agent_operator(&gw).await;
    send(&client, "main", "hi", "ws1").await;
    let last = terminal(&client, "ws1").await;
    assert_eq!(last["state"], "error", "{last}");
    let error = last["errorMessage"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("the agent workspace {} contains the state directory {},", home.path().display(), state_dir.display())),
        "{error}"
    );
    assert!(error.contains("Set agents.defaults.workspace"), "{error}");
    assert_eq!(llm.request_count(), 0, "the model is never called");
    assert!(!home.path().join("AGENTS.md").exists(), "nothing is seeded into the refused directory");
}

#[tokio::test]
async fn a_garbage_response_ends_the_turn_with_an_error() {
    let llm = ScriptedOpenAi::start([Reply::garbage()]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "hi", "g1").await;
    let last = terminal(&client, "g1").await;
    assert_eq!(last["state"], "error", "{last}");
    assert!(last["errorMessage"].as_str().unwrap().contains("malformed"), "{last}");
    assert_eq!(last["errorKind"], "unknown");
    assert_eq!(llm.request_count(), 1, "a malformed answer is not retried");
    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant"]);
    assert_failed_turn(&messages, "malformed");

    // The session is not wedged.
    llm.push(Reply::text(["back"]));
    send(&client, "main", "again", "g2").await;
    assert_eq!(terminal(&client, "g2").await["state"], "final");
}

#[tokio::test]
async fn a_stream_closed_before_any_text_is_retried() {
    let llm = ScriptedOpenAi::start([Reply::close_mid_stream(Vec::<String>::new()), Reply::text(["recovered"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "hi", "c1").await;
    let events = chat_events(&client, "c1").await;
    assert_eq!(events.last().unwrap()["state"], "final", "{events:#?}");
    assert_eq!(deltas(&events), ["recovered"]);
    assert_eq!(llm.request_count(), 2);
    assert_eq!(roles(&history(&client, "main").await), ["user", "assistant"]);
}

#[tokio::test]
async fn a_stall_after_text_is_a_timeout_and_the_text_is_not_repeated() {
    let llm = ScriptedOpenAi::start([Reply::stall_after(["Hel", "lo"]), Reply::text(["must not be asked"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({"models": {"providers": {"scripted": {"stallTimeoutSeconds": 1}}}})).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "hi", "s1").await;
    let events = chat_events(&client, "s1").await;
    let last = events.last().unwrap();
    assert_eq!(last["state"], "error", "{events:#?}");
    assert_eq!(last["errorKind"], "timeout");
    assert!(last["errorMessage"].as_str().unwrap().contains("timed out"), "{last}");
    assert_eq!(deltas(&events), ["Hel", "lo"], "streamed text is never retried or repeated");
    assert_eq!(llm.request_count(), 1);

    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant"]);
    let failed = assert_failed_turn(&messages, "timed out");
    assert_eq!(text_of(&failed), "Hello", "the partial answer the user saw is kept");
}

#[tokio::test]
async fn a_context_length_error_is_reported_as_such_without_failover() {
    let primary = ScriptedOpenAi::start([Reply::context_length_exceeded()]).await.unwrap();
    let backup = ScriptedOpenAi::start([Reply::text(["nope"])]).await.unwrap();
    let gw = agent_gateway(
        &primary,
        json!({
            "agents": {"defaults": {"model": {"primary": "scripted/m1", "fallbacks": ["backup/b1"]}}},
            "models": {"providers": {"backup": backup.provider_config(Some("sk-backup"), &["b1"])}},
        }),
    )
    .await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "hi", "x1").await;
    let last = terminal(&client, "x1").await;
    assert_eq!(last["state"], "error", "{last}");
    assert_eq!(last["errorKind"], "context_length");
    assert!(last["errorMessage"].as_str().unwrap().contains("context window"), "{last}");
    assert_eq!((primary.request_count(), backup.request_count()), (1, 0));
    assert_failed_turn(&history(&client, "main").await, "context window");
}

// ------------------------------------------------------------------------------------------
// Abort, timeout, queueing
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn chat_abort_stops_the_stream_and_keeps_the_partial_answer() {
    let slow: Vec<String> = (0..40).map(|i| format!("w{i} ")).collect();
    let llm = ScriptedOpenAi::start([Reply::slow(slow, Duration::from_millis(150)), Reply::text(["next answer"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "tell me a long story", "ab1").await;
    let first = client
        .wait_event_where("first delta", T, |e| is_chat_of(e, "ab1") && e.payload.as_ref().is_some_and(|p| p["state"] == "delta"))
        .await
        .unwrap();
    assert_eq!(first.payload.unwrap()["deltaText"], "w0 ");

    let aborted = client.request("chat.abort", json!({"sessionKey": "main"})).await.unwrap();
    assert_eq!(aborted, json!({"ok": true, "aborted": true, "runIds": ["ab1"]}));
    let last = terminal(&client, "ab1").await;
    assert_eq!(last["state"], "aborted", "{last}");
    assert_eq!(last["stopReason"], "rpc");
    let partial = text_of(&last["message"]);
    assert!(partial.starts_with("w0 ") && partial.len() < 40 * 4, "{partial:?}");

    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant"]);
    assert_consistent(&messages);
    assert_eq!(messages[1]["stopReason"], "aborted");
    assert_eq!(text_of(&messages[1]), partial, "history keeps exactly what was shown");

    let waited = client.request("agent.wait", json!({"runId": "ab1", "timeoutMs": 2000})).await.unwrap();
    assert_eq!(waited["status"], "error", "{waited}");
    assert_eq!(waited["error"], "aborted", "{waited}");
    // Nothing is left to abort.
    let again = client.request("chat.abort", json!({"sessionKey": "main"})).await.unwrap();
    assert_eq!(again, json!({"ok": true, "aborted": false, "runIds": []}));

    // The next message runs normally, with the partial answer in its context.
    send(&client, "main", "go on", "ab2").await;
    let last = terminal(&client, "ab2").await;
    assert_eq!(last["state"], "final", "{last}");
    assert_eq!(text_of(&last["message"]), "next answer");
    let request = &llm.requests()[1];
    let sent: Vec<&Value> = request.messages().iter().filter(|m| m["role"] != "system").collect();
    assert_eq!(sent.len(), 3, "user, partial assistant, user: {sent:#?}");
    assert!(sent[1].to_string().contains("w0 "), "{}", sent[1]);
    assert_eq!(roles(&history(&client, "main").await), ["user", "assistant", "user", "assistant"]);
}

#[tokio::test]
async fn chat_abort_with_a_run_id_of_another_session_aborts_nothing() {
    let llm = ScriptedOpenAi::start([Reply::slow(["a ", "b ", "c ", "d"], Duration::from_millis(150))]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    send(&client, "other", "hi", "o1").await;
    client
        .wait_event_where("first delta", T, |e| is_chat_of(e, "o1") && e.payload.as_ref().is_some_and(|p| p["state"] == "delta"))
        .await
        .unwrap();
    let answer = client.request("chat.abort", json!({"sessionKey": "main", "runId": "o1"})).await.unwrap();
    assert_eq!(answer, json!({"ok": true, "aborted": false, "runIds": []}));
    let last = terminal(&client, "o1").await;
    assert_eq!(last["state"], "final", "the other session's run went on: {last}");
    assert_eq!(text_of(&last["message"]), "a b c d");
}

#[tokio::test]
async fn a_run_over_agents_defaults_timeout_seconds_ends_with_a_timeout_error() {
    let slow: Vec<String> = (0..60).map(|i| format!("t{i} ")).collect();
    let llm = ScriptedOpenAi::start([Reply::slow(slow, Duration::from_millis(100))]).await.unwrap();
    // The provider's own timeouts are long: the run's timer is what fires.
    let gw = agent_gateway(
        &llm,
        json!({
            "agents": {"defaults": {"timeoutSeconds": 1}},
            "models": {"providers": {"scripted": {"timeoutSeconds": 60, "stallTimeoutSeconds": 60}}},
        }),
    )
    .await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "hi", "to1").await;
    let events = chat_events(&client, "to1").await;
    let last = events.last().unwrap();
    assert_eq!(last["state"], "error", "{events:#?}");
    assert_eq!(last["errorKind"], "timeout");
    let error = last["errorMessage"].as_str().unwrap();
    assert!(error.contains("timed out") && error.contains("agents.defaults.timeoutSeconds"), "{error}");
    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant"]);
    let failed = assert_failed_turn(&messages, "timed out");
    assert!(text_of(&failed).starts_with("t0 "), "the partial answer is kept: {failed}");
    let waited = client.request("agent.wait", json!({"runId": "to1", "timeoutMs": 1000})).await.unwrap();
    assert_eq!(waited["status"], "error");
    assert!(waited["error"].as_str().unwrap().contains("timed out"), "{waited}");
}

#[tokio::test]
async fn tool_call_mistakes_are_fed_back_and_an_abort_after_a_tool_turn_keeps_the_transcript_whole() {
    let slow: Vec<String> = (0..40).map(|i| format!("z{i} ")).collect();
    let llm = ScriptedOpenAi::start([
        Reply::tool_calls([("call_1", "no_such_tool", r#"{"x":1}"#), ("call_2", "read", r#"{"path": oops"#)]),
        Reply::tool_calls([("call_3", "read", r#"{"path":"SOUL.md"}"#)]),
        Reply::slow(slow, Duration::from_millis(150)),
    ])
    .await
    .unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "do things", "tl1").await;
    client
        .wait_event_where("text after the tools", T, |e| is_chat_of(e, "tl1") && e.payload.as_ref().is_some_and(|p| p["state"] == "delta"))
        .await
        .unwrap();
    client.request("chat.abort", json!({"sessionKey": "main", "runId": "tl1"})).await.unwrap();
    assert_eq!(terminal(&client, "tl1").await["state"], "aborted");

    // The mistakes went back to the model as error results, in the next request.
    let second = &llm.requests()[1];
    let results: Vec<&Value> = second.messages().iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(results.len(), 2, "{results:#?}");
    assert!(results[0]["content"].to_string().contains("no tool named"), "{}", results[0]);
    assert!(results[1]["content"].to_string().contains("not valid JSON"), "{}", results[1]);

    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant", "toolResult", "toolResult", "assistant", "toolResult", "assistant"]);
    assert_consistent(&messages);
    assert_eq!(messages[2]["isError"], true);
    assert_eq!(messages[3]["isError"], true);
    assert_eq!(messages[5]["isError"], false);
    assert_eq!(messages[6]["stopReason"], "aborted");
}

#[tokio::test]
async fn runs_are_serialized_per_session() {
    let llm = ScriptedOpenAi::start([Reply::slow(["first ", "answer"], Duration::from_millis(200)), Reply::text(["second answer"])])
        .await
        .unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    assert_eq!(send(&client, "main", "one", "q1").await["status"], "started");
    assert_eq!(send(&client, "main", "two", "q2").await["status"], "started");
    // A replay of the queued key is answered from the runs table, not run again.
    let replay = send(&client, "main", "two", "q2").await;
    assert_eq!(replay, json!({"runId": "q2", "status": "in_flight"}));

    // Collect both runs' chat and agent events in arrival order until q2 ends.
    let mut seen: Vec<(String, String, Value)> = Vec::new();
    loop {
        let e = client
            .wait_event_where("run events", T, |e| {
                (e.event == "chat" || e.event == "agent") && e.payload.as_ref().is_some_and(|p| p["runId"] == "q1" || p["runId"] == "q2")
            })
            .await
            .unwrap();
        let p = e.payload.unwrap();
        let run = p["runId"].as_str().unwrap().to_string();
        let done = e.event == "chat" && run == "q2" && p["state"] != "delta";
        seen.push((e.event.clone(), run, p));
        if done {
            break;
        }
    }
    let q1_final = seen.iter().position(|(ev, run, p)| ev == "chat" && run == "q1" && p["state"] == "final").expect("q1 final");
    let q2_first = seen.iter().position(|(_, run, _)| run == "q2").unwrap();
    assert!(
        q1_final < q2_first,
        "q2's events start after q1's final: {:?}",
        seen.iter().map(|(e, r, p)| format!("{e}/{r}/{}", p["state"].as_str().or(p["stream"].as_str()).unwrap_or(""))).collect::<Vec<_>>()
    );
    assert_eq!(seen.last().unwrap().2["state"], "final");

    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant", "user", "assistant"]);
    assert_eq!(text_of(&messages[0]), "one");
    assert_eq!(text_of(&messages[1]), "first answer");
    assert_eq!(text_of(&messages[2]), "two");
    assert_eq!(text_of(&messages[3]), "second answer");
    // The second request saw the first exchange.
    let second = &llm.requests()[1];
    let sent: Vec<&Value> = second.messages().iter().filter(|m| m["role"] != "system").collect();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert_eq!(llm.request_count(), 2);
}

// ------------------------------------------------------------------------------------------
// Bad input
// ------------------------------------------------------------------------------------------

fn attachment(mime: &str, content: &str) -> Value {
    json!({"type": "image", "mimeType": mime, "fileName": "a.bin", "content": content})
}

/// A 1×1 transparent PNG.
const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

#[tokio::test]
async fn bad_chat_send_input_is_refused_and_nothing_is_stored() {
    let llm = ScriptedOpenAi::start([Reply::text(["a picture"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let too_big = b64(&vec![0u8; 5 * 1024 * 1024 + 1]);
    let nine: Vec<Value> = (0..9).map(|_| attachment("image/png", PNG_1X1)).collect();

    let cases: Vec<(&str, Value, &str)> = vec![
        ("unknown agent", json!({"sessionKey": "agent:ops:main", "message": "hi", "idempotencyKey": "b1"}), "\"ops\""),
        ("empty message", json!({"sessionKey": "main", "message": "", "idempotencyKey": "b2"}), "message or attachment required"),
        ("blank message", json!({"sessionKey": "main", "message": "  \n ", "idempotencyKey": "b3"}), "message or attachment required"),
        ("huge message", json!({"sessionKey": "main", "message": "x".repeat(200_001), "idempotencyKey": "b4"}), "200000"),
        (
            "pdf attachment",
            json!({"sessionKey": "main", "message": "see", "idempotencyKey": "b5", "attachments": [attachment("application/pdf", PNG_1X1)]}),
            "only images",
        ),
        (
            "bad base64",
            json!({"sessionKey": "main", "message": "see", "idempotencyKey": "b6", "attachments": [attachment("image/png", "!!not base64!!")]}),
            "not valid base64",
        ),
        (
            "attachment over 5 MB",
            json!({"sessionKey": "main", "message": "see", "idempotencyKey": "b7", "attachments": [attachment("image/png", &too_big)]}),
            "limit",
        ),
        (
            "nine attachments",
            json!({"sessionKey": "main", "message": "see", "idempotencyKey": "b8", "attachments": nine}),
            "too many attachments",
        ),
        ("no idempotencyKey", json!({"sessionKey": "main", "message": "hi"}), "idempotencyKey"),
        ("empty idempotencyKey", json!({"sessionKey": "main", "message": "hi", "idempotencyKey": " "}), "idempotencyKey"),
        ("no sessionKey", json!({"message": "hi", "idempotencyKey": "b9"}), "sessionKey"),
    ];
    for (what, params, needle) in cases {
        let e = server_error(client.request("chat.send", params).await);
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{what}: {e:?}");
        assert!(e.message.contains(needle), "{what}: {:?} should mention {needle:?}", e.message);
    }
    let listed = client.request("sessions.list", json!({})).await.unwrap();
    assert_eq!(listed["count"], 0, "nothing was stored: {listed}");
    assert_eq!(llm.request_count(), 0, "nothing reached the model");
    // A refused key is free: it was not recorded as a run.
    let waited = client.request("agent.wait", json!({"runId": "b5", "timeoutMs": 10})).await.unwrap();
    assert_eq!(waited["status"], "timeout");

    // A valid image (data URL form) reaches the provider as an image part.
    let ok = client
        .request(
            "chat.send",
            json!({"sessionKey": "main", "message": "what is this", "idempotencyKey": "img1",
                   "attachments": [attachment("image/png", &format!("data:image/png;base64,{PNG_1X1}"))]}),
        )
        .await
        .unwrap();
    assert_eq!(ok["status"], "started");
    assert_eq!(terminal(&client, "img1").await["state"], "final");
    let request = &llm.requests()[0];
    let user = request.messages().iter().rev().find(|m| m["role"] == "user").unwrap();
    let parts = user["content"].as_array().unwrap();
    assert_eq!(parts[0], json!({"type": "text", "text": "what is this"}));
    assert_eq!(parts[1]["type"], "image_url");
    assert_eq!(parts[1]["image_url"]["url"], format!("data:image/png;base64,{PNG_1X1}"));
    let messages = history(&client, "main").await;
    assert_eq!(messages[0]["content"][1], json!({"type": "image", "data": PNG_1X1, "mimeType": "image/png"}));
}

// ------------------------------------------------------------------------------------------
// Configuration problems surface as run errors
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn no_model_configured_ends_the_run_with_an_error_naming_the_setting() {
    let llm = ScriptedOpenAi::start([]).await.unwrap();
    let mut config = agent_config(&llm, json!({}));
    config["agents"]["defaults"].as_object_mut().unwrap().remove("model");
    let gw = start_cfg(config).await;
    let client = agent_operator(&gw).await;
    assert_eq!(send(&client, "main", "hi", "n1").await["status"], "started");
    let last = terminal(&client, "n1").await;
    assert_eq!(last["state"], "error", "{last}");
    let error = last["errorMessage"].as_str().unwrap();
    assert!(error.contains("agents.defaults.model"), "names the key to set: {error}");
    assert_eq!(llm.request_count(), 0);
    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant"], "the failure is visible in the transcript");
    assert_failed_turn(&messages, "agents.defaults.model");
    let waited = client.request("agent.wait", json!({"runId": "n1", "timeoutMs": 1000})).await.unwrap();
    assert_eq!(waited["status"], "error");
}

#[tokio::test]
async fn an_unknown_provider_in_the_model_ref_ends_the_run_with_an_error_naming_it() {
    let llm = ScriptedOpenAi::start([]).await.unwrap();
    let gw = agent_gateway(&llm, json!({"agents": {"defaults": {"model": {"primary": "nosuch/model-x"}}}})).await;
    let client = agent_operator(&gw).await;
    assert_eq!(send(&client, "main", "hi", "u1").await["status"], "started");
    let last = terminal(&client, "u1").await;
    assert_eq!(last["state"], "error", "{last}");
    let error = last["errorMessage"].as_str().unwrap();
    assert!(error.contains("nosuch") && error.contains("models.providers"), "{error}");
    assert_eq!(llm.request_count(), 0);
    assert_failed_turn(&history(&client, "main").await, "nosuch");
}

// ------------------------------------------------------------------------------------------
// The gateway process killed mid-turn
// ------------------------------------------------------------------------------------------

fn binary_config(llm: &ScriptedLlm) -> Value {
    json!({
        "agents": {"defaults": {"model": {"primary": "scripted/m1"}}},
        "models": {"providers": {"scripted": llm.provider_config(Some("sk-test"), &["m1"])}},
    })
}

/// SIGKILL the gateway's process group (no shutdown path runs) and start it again on the same
/// state dir and port.
async fn kill_and_restart(gw: &mut Pincer) {
    let child = gw.child.take().expect("running");
    drop(child); // ChildGuard's drop is SIGKILL to the group, then wait.
    gw.spawn().await;
}

async fn first_delta(client: &GatewayClient, run_id: &str) {
    client
        .wait_event_where("first delta", T, |e| is_chat_of(e, run_id) && e.payload.as_ref().is_some_and(|p| p["state"] == "delta"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_gateway_killed_mid_turn_closes_the_run_as_an_error_after_restart() {
    std::env::set_var("PINCER_NO_KEYRING", "1");
    let llm = ScriptedOpenAi::start([Reply::stall_after(["partial "]), Reply::text(["after restart"])]).await.unwrap();
    let scene = Scene::pincer_only("agent-kill");
    let mut gw = Pincer::start(&scene, Some(binary_config(&llm))).await;
    let client = gw.operator(&[READ, WRITE, ADMIN]).await;
    let ack = client.request("chat.send", json!({"sessionKey": "main", "message": "hello", "idempotencyKey": "k1"})).await.unwrap();
    assert_eq!(ack["status"], "started");
    first_delta(&client, "k1").await;

    kill_and_restart(&mut gw).await;
    let client = gw.operator(&[READ, WRITE, ADMIN]).await;
    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant"], "{messages:#?}");
    assert_eq!(text_of(&messages[0]), "hello");
    assert_failed_turn(&messages, "The gateway stopped before this reply finished");
    let waited = client.request("agent.wait", json!({"runId": "k1", "timeoutMs": 1000})).await.unwrap();
    assert_eq!(waited["status"], "error", "{waited}");
    assert!(waited["error"].as_str().unwrap().contains("gateway stopped"), "{waited}");
    // Replaying the key says how it ended instead of running it again.
    let replay = client.request("chat.send", json!({"sessionKey": "main", "message": "hello", "idempotencyKey": "k1"})).await.unwrap();
    assert_eq!(replay["status"], "error", "{replay}");

    // The session works again.
    client.request("chat.send", json!({"sessionKey": "main", "message": "again", "idempotencyKey": "k2"})).await.unwrap();
    let last = terminal(&client, "k2").await;
    assert_eq!(last["state"], "final", "{last}");
    assert_eq!(text_of(&last["message"]), "after restart");
    assert_eq!(llm.request_count(), 2);
    assert_eq!(roles(&history(&client, "main").await), ["user", "assistant", "user", "assistant"]);
}

#[tokio::test]
async fn a_message_queued_when_the_gateway_was_killed_runs_after_restart() {
    std::env::set_var("PINCER_NO_KEYRING", "1");
    let llm = ScriptedOpenAi::start([Reply::stall_after(["thinking "]), Reply::text(["second answer"])]).await.unwrap();
    let scene = Scene::pincer_only("agent-kill-queued");
    let mut gw = Pincer::start(&scene, Some(binary_config(&llm))).await;
    let client = gw.operator(&[READ, WRITE, ADMIN]).await;
    client.request("chat.send", json!({"sessionKey": "main", "message": "first", "idempotencyKey": "q1"})).await.unwrap();
    first_delta(&client, "q1").await;
    let ack = client.request("chat.send", json!({"sessionKey": "main", "message": "second", "idempotencyKey": "q2"})).await.unwrap();
    assert_eq!(ack["status"], "started", "acknowledged, so it must not be lost");
    assert_eq!(llm.request_count(), 1, "q2 waits behind q1");

    kill_and_restart(&mut gw).await;
    let client = gw.operator(&[READ, WRITE, ADMIN]).await;
    let waited = client.request("agent.wait", json!({"runId": "q2", "timeoutMs": 15_000})).await.unwrap();
    assert_eq!(waited["status"], "ok", "{waited}");
    let requests = llm.wait_for_requests(2, T).await.unwrap();
    let last_user = requests[1].messages().iter().rev().find(|m| m["role"] == "user").unwrap().clone();
    assert!(last_user.to_string().contains("second"), "{last_user}");
    let waited = client.request("agent.wait", json!({"runId": "q1", "timeoutMs": 1000})).await.unwrap();
    assert_eq!(waited["status"], "error", "{waited}");

    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant", "user", "assistant"], "{messages:#?}");
    assert_eq!(text_of(&messages[0]), "first");
    assert_eq!(messages[1]["stopReason"], "error");
    assert!(messages[1]["errorMessage"].as_str().unwrap().contains("The gateway stopped before this reply finished"));
    assert_eq!(text_of(&messages[2]), "second");
    assert_eq!(text_of(&messages[3]), "second answer");
    assert_consistent(&messages);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_restart_aborts_the_running_turn_and_keeps_the_queued_message() {
    std::env::set_var("PINCER_NO_KEYRING", "1");
    let llm = ScriptedOpenAi::start([Reply::stall_after(["thinking "]), Reply::text(["second answer"])]).await.unwrap();
    let scene = Scene::pincer_only("agent-term-queued");
    let mut gw = Pincer::start(&scene, Some(binary_config(&llm))).await;
    let client = gw.operator(&[READ, WRITE, ADMIN]).await;
    client.request("chat.send", json!({"sessionKey": "main", "message": "first", "idempotencyKey": "g1"})).await.unwrap();
    first_delta(&client, "g1").await;
    client.request("chat.send", json!({"sessionKey": "main", "message": "second", "idempotencyKey": "g2"})).await.unwrap();

    // SIGTERM: the running turn ends as aborted (and says so), the queued one waits for the restart.
    gw.stop();
    gw.spawn().await;
    let client = gw.operator(&[READ, WRITE, ADMIN]).await;
    let waited = client.request("agent.wait", json!({"runId": "g2", "timeoutMs": 15_000})).await.unwrap();
    assert_eq!(waited["status"], "ok", "the queued message ran after the restart: {waited}");
    let first = client.request("agent.wait", json!({"runId": "g1", "timeoutMs": 1000})).await.unwrap();
    assert_eq!(first["status"], "error", "{first}");
    assert_eq!(first["error"], "aborted", "{first}");

    let messages = history(&client, "main").await;
    assert_eq!(roles(&messages), ["user", "assistant", "user", "assistant"], "{messages:#?}");
    assert_eq!(messages[1]["stopReason"], "aborted", "the partial answer is kept: {:#?}", messages[1]);
    assert_eq!(text_of(&messages[1]), "thinking ");
    assert_eq!(text_of(&messages[2]), "second");
    assert_eq!(text_of(&messages[3]), "second answer");
    assert_consistent(&messages);
}
