//! Sessions over the protocol: `sessions.list/preview/resolve/patch/reset/delete/compact`,
//! automatic compaction near the context window, `sessions.changed` events, `models.list`,
//! scopes, and `chat.inject`. The LLM is a scripted OpenAI-compatible server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_agent::provider::ToolSpec;
use pincer_client::GatewayClient;
use pincer_protocol::error::ErrorCode;
use pincer_protocol::scopes::READ;
use pincer_tests::agent::{agent_config, agent_gateway, agent_operator, start_agent_gateway};
use pincer_tests::expect::server_error;
use pincer_tests::llm_script::{Reply, ScriptedOpenAi};
use pincer_tests::TestGateway;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(20);

async fn start_cfg(config: Value) -> TestGateway {
    start_agent_gateway(config, None).await.unwrap()
}

/// The terminal `chat` event of `run_id`.
async fn terminal(client: &GatewayClient, run_id: &str) -> Value {
    loop {
        let e = client
            .wait_event_where(&format!("chat event of {run_id}"), T, |e| {
                e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["runId"] == run_id)
            })
            .await
            .unwrap();
        let p = e.payload.unwrap();
        if p["state"] != "delta" {
            return p;
        }
    }
}

/// One whole turn: send, wait for its final.
async fn turn(client: &GatewayClient, key: &str, message: &str, run_id: &str) -> Value {
    client.request("chat.send", json!({"sessionKey": key, "message": message, "idempotencyKey": run_id})).await.unwrap();
    let last = terminal(client, run_id).await;
    assert_eq!(last["state"], "final", "{last}");
    last
}

async fn history(client: &GatewayClient, key: &str) -> Value {
    client.request("chat.history", json!({"sessionKey": key})).await.unwrap()
}

fn roles(messages: &Value) -> Vec<&str> {
    messages.as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect()
}

fn text_of(message: &Value) -> String {
    message["content"]
        .as_array()
        .map(|parts| parts.iter().filter(|p| p["type"] == "text").filter_map(|p| p["text"].as_str()).collect())
        .unwrap_or_default()
}

async fn list(client: &GatewayClient) -> Value {
    client.request("sessions.list", json!({})).await.unwrap()
}

fn entry<'a>(listed: &'a Value, key: &str) -> Option<&'a Value> {
    listed["sessions"].as_array().unwrap().iter().find(|s| s["key"] == key)
}

/// The next `sessions.changed` event on `client`.
async fn changed(client: &GatewayClient) -> Value {
    client.wait_event("sessions.changed", T).await.unwrap().payload.unwrap()
}

#[tokio::test]
async fn sessions_list_reports_counts_usage_and_models() {
    let llm = ScriptedOpenAi::start([
        Reply::text(["Hello"]).usage(12, 2),
        Reply::text(["Again"]).usage(20, 3),
        Reply::text(["Work"]).usage(7, 1),
    ])
    .await
    .unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    assert_eq!(list(&client).await["count"], 0);

    turn(&client, "main", "hello", "l1").await;
    turn(&client, "main", "again", "l2").await;
    turn(&client, "work", "work", "l3").await;

    let listed = list(&client).await;
    assert_eq!(listed["count"], 2, "{listed}");
    assert_eq!(listed["defaults"], json!({"modelProvider": "scripted", "model": "m1", "contextTokens": 128000}));
    let keys: Vec<&str> = listed["sessions"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["agent:main:work", "agent:main:main"], "most recently updated first");

    let main = entry(&listed, "agent:main:main").unwrap();
    assert_eq!(main["kind"], "direct");
    assert_eq!(main["sessionId"], history(&client, "main").await["sessionId"]);
    assert!(main["updatedAt"].as_i64().unwrap() >= main["createdAt"].as_i64().unwrap());
    assert_eq!(main["messageCount"], 4);
    assert_eq!(main["inputTokens"], 32, "usage summed over both runs: {main}");
    assert_eq!(main["outputTokens"], 5);
    assert_eq!(main["totalTokens"], 37);
    assert_eq!(main["modelProvider"], "scripted");
    assert_eq!(main["model"], "m1");
    assert_eq!(main["contextTokens"], 128000);
    assert_eq!(main["lastMessagePreview"], "Again");

    let work = entry(&listed, "agent:main:work").unwrap();
    assert_eq!(work["messageCount"], 2);
    assert_eq!(work["totalTokens"], 8);
    assert_ne!(work["sessionId"], main["sessionId"]);

    let limited = client.request("sessions.list", json!({"limit": 1})).await.unwrap();
    assert_eq!(limited["count"], 1);
    let bad = server_error(client.request("sessions.list", json!({"limit": 0})).await);
    assert_eq!(bad.code, ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn sessions_preview_shows_recent_text_and_marks_missing_keys() {
    let llm = ScriptedOpenAi::start([Reply::text(["Hello ", "there"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    turn(&client, "main", "hello\n  world", "p1").await;
    let preview = client.request("sessions.preview", json!({"keys": ["main", "agent:main:nope", "agent:ops:main"]})).await.unwrap();
    let previews = preview["previews"].as_array().unwrap();
    assert_eq!(previews.len(), 3);
    // Previews are matched to the request by key: each echoes the key as asked (as OpenClaw does).
    assert_eq!(previews[0]["key"], "main");
    assert_eq!(previews[0]["status"], "ok");
    assert_eq!(previews[0]["items"], json!([{"role": "user", "text": "hello world"}, {"role": "assistant", "text": "Hello there"}]));
    assert_eq!(previews[1]["key"], "agent:main:nope");
    assert_eq!(previews[1]["status"], "missing");
    assert_eq!(previews[1]["items"], json!([]));
    assert_eq!(previews[2]["key"], "agent:ops:main");
    assert_eq!(previews[2]["status"], "missing");

    let limited = client.request("sessions.preview", json!({"keys": ["agent:main:main"], "limit": 1})).await.unwrap();
    assert_eq!(limited["previews"][0]["key"], "agent:main:main");
    assert_eq!(limited["previews"][0]["items"], json!([{"role": "assistant", "text": "Hello there"}]));
    let bad = server_error(client.request("sessions.preview", json!({})).await);
    assert_eq!(bad.code, ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn sessions_resolve_by_key_session_id_and_label() {
    let llm = ScriptedOpenAi::start([Reply::text(["hi"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    // The main session resolves even before it exists.
    let main = client.request("sessions.resolve", json!({"key": "main"})).await.unwrap();
    assert_eq!(main["ok"], true);
    assert_eq!(main["key"], "agent:main:main");

    turn(&client, "work", "hi", "r1").await;
    let by_key = client.request("sessions.resolve", json!({"key": "work"})).await.unwrap();
    assert_eq!((by_key["ok"].clone(), by_key["key"].clone()), (json!(true), json!("agent:main:work")));
    let session_id = history(&client, "work").await["sessionId"].as_str().unwrap().to_string();
    let by_id = client.request("sessions.resolve", json!({"sessionId": session_id})).await.unwrap();
    assert_eq!(by_id["key"], "agent:main:work");
    client.request("sessions.patch", json!({"key": "work", "label": "Work stuff"})).await.unwrap();
    let by_label = client.request("sessions.resolve", json!({"label": "Work stuff"})).await.unwrap();
    assert_eq!(by_label["key"], "agent:main:work");

    let missing = server_error(client.request("sessions.resolve", json!({"key": "agent:main:nosuch"})).await);
    assert_eq!(missing.code, ErrorCode::InvalidRequest);
    assert_eq!(missing.message, "No session found: agent:main:nosuch");
    let allowed = client.request("sessions.resolve", json!({"key": "agent:main:nosuch", "allowMissing": true})).await.unwrap();
    assert_eq!(allowed["ok"], false);
    assert!(server_error(client.request("sessions.resolve", json!({"sessionId": "no-such-id"})).await).message.contains("no-such-id"));
    assert!(server_error(client.request("sessions.resolve", json!({"label": "nope"})).await).message.contains("nope"));
}

#[tokio::test]
async fn sessions_patch_sets_label_and_model_override_and_null_clears() {
    let llm = ScriptedOpenAi::start([Reply::text(["from m2"]), Reply::text(["from m1"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    let patched = client
        .request("sessions.patch", json!({"key": "main", "label": "Daily", "model": "scripted/m2", "thinkingLevel": "low"}))
        .await
        .unwrap();
    assert_eq!(patched["ok"], true);
    assert_eq!(patched["key"], "agent:main:main");
    assert_eq!(patched["entry"]["label"], "Daily");
    assert_eq!(patched["entry"]["model"], "m2");
    assert_eq!(patched["entry"]["modelProvider"], "scripted");
    assert_eq!(patched["entry"]["thinkingLevel"], "low");
    assert_eq!(history(&client, "main").await["thinkingLevel"], "low");

    // The next run uses the override.
    let last = turn(&client, "main", "hi", "m1").await;
    assert_eq!(last["message"]["model"], "m2");
    assert_eq!(llm.requests()[0].model(), Some("m2"));

    // Bad values are refused and change nothing.
    let bad_level = server_error(client.request("sessions.patch", json!({"key": "main", "thinkingLevel": "extreme"})).await);
    assert_eq!(bad_level.code, ErrorCode::InvalidRequest);
    assert!(bad_level.message.contains("thinkingLevel"), "{}", bad_level.message);
    let bad_provider = server_error(client.request("sessions.patch", json!({"key": "main", "model": "nosuch/x"})).await);
    assert!(bad_provider.message.contains("nosuch") && bad_provider.message.contains("models.providers"), "{}", bad_provider.message);
    let bad_ref = server_error(client.request("sessions.patch", json!({"key": "main", "model": "no-slash"})).await);
    assert_eq!(bad_ref.code, ErrorCode::InvalidRequest);
    let bad_label = server_error(client.request("sessions.patch", json!({"key": "main", "label": 5})).await);
    assert!(bad_label.message.contains("label"), "{}", bad_label.message);
    let listed = list(&client).await;
    let main = entry(&listed, "agent:main:main").unwrap();
    assert_eq!((main["label"].clone(), main["model"].clone()), (json!("Daily"), json!("m2")));

    // null clears: back to the default model, no label.
    let cleared =
        client.request("sessions.patch", json!({"key": "main", "label": null, "model": null, "thinkingLevel": null})).await.unwrap();
    assert!(cleared["entry"].get("label").is_none(), "{cleared}");
    assert!(cleared["entry"].get("thinkingLevel").is_none(), "{cleared}");
    assert_eq!(cleared["entry"]["model"], "m1");
    turn(&client, "main", "again", "m2").await;
    assert_eq!(llm.requests()[1].model(), Some("m1"));
}

#[tokio::test]
async fn sessions_reset_starts_a_new_transcript_and_clears_counters() {
    let llm = ScriptedOpenAi::start([Reply::text(["one"]).usage(10, 2), Reply::text(["fresh"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    turn(&client, "main", "hello", "z1").await;
    client.request("sessions.patch", json!({"key": "main", "label": "Keep me"})).await.unwrap();
    let before = history(&client, "main").await["sessionId"].as_str().unwrap().to_string();

    let reset = client.request("sessions.reset", json!({"key": "main"})).await.unwrap();
    assert_eq!(reset["ok"], true);
    assert_eq!(reset["key"], "agent:main:main");
    let after = reset["entry"]["sessionId"].as_str().unwrap().to_string();
    assert_ne!(after, before, "a new transcript");
    assert_eq!(reset["entry"]["messageCount"], 0);
    assert_eq!(reset["entry"]["totalTokens"], 0);
    assert_eq!(reset["entry"]["label"], "Keep me", "settings survive a reset");
    let h = history(&client, "main").await;
    assert_eq!(h["sessionId"], after);
    assert_eq!(h["messages"], json!([]));
    let listed = list(&client).await;
    let main = entry(&listed, "agent:main:main").unwrap();
    assert_eq!((main["inputTokens"].clone(), main["outputTokens"].clone()), (json!(0), json!(0)));

    // The next turn starts from nothing.
    turn(&client, "main", "new start", "z2").await;
    let requests = llm.requests();
    let sent: Vec<&Value> = requests[1].messages().iter().filter(|m| m["role"] != "system").collect();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(roles(&history(&client, "main").await["messages"]), ["user", "assistant"]);
}

#[tokio::test]
async fn sessions_delete_removes_other_sessions_but_never_main() {
    let llm = ScriptedOpenAi::start([Reply::text(["a"]), Reply::text(["b"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    turn(&client, "main", "hi", "d1").await;
    turn(&client, "work", "hi", "d2").await;

    let deleted = client.request("sessions.delete", json!({"key": "work"})).await.unwrap();
    assert_eq!(deleted, json!({"ok": true, "key": "agent:main:work", "deleted": true}));
    let listed = list(&client).await;
    assert_eq!(listed["count"], 1);
    assert!(entry(&listed, "agent:main:work").is_none());
    assert_eq!(history(&client, "work").await["messages"], json!([]));

    let main = server_error(client.request("sessions.delete", json!({"key": "main"})).await);
    assert_eq!(main.code, ErrorCode::InvalidRequest);
    assert!(main.message.starts_with("Cannot delete the main session (agent:main:main)"), "{}", main.message);
    assert_eq!(roles(&history(&client, "main").await["messages"]), ["user", "assistant"]);

    let unknown = client.request("sessions.delete", json!({"key": "agent:main:nosuch"})).await.unwrap();
    assert_eq!(unknown["deleted"], false);
}

#[tokio::test]
async fn sessions_compact_folds_old_turns_into_a_summary_the_next_turn_sees() {
    let llm = ScriptedOpenAi::start([
        Reply::text(["answer one"]),
        Reply::text(["answer two"]),
        Reply::text(["answer three"]),
        Reply::text(["SUMMARY: the user said one; the assistant answered."]),
        Reply::text(["answer four"]),
    ])
    .await
    .unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    let watcher = gw.operator(&[READ]).await.unwrap().0;
    for (i, word) in ["one", "two", "three"].iter().enumerate() {
        turn(&client, "main", word, &format!("c{i}")).await;
    }
    watcher.request("sessions.subscribe", json!({})).await.unwrap();
    let compacted = client.request("sessions.compact", json!({"key": "main"})).await.unwrap();
    assert_eq!(compacted["ok"], true, "{compacted}");
    assert_eq!(compacted["compacted"], true, "{compacted}");
    assert_eq!(compacted["result"]["summary"], "SUMMARY: the user said one; the assistant answered.");
    assert_eq!(compacted["result"]["messagesBefore"], 6);
    let event = changed(&watcher).await;
    assert_eq!(event["reason"], "compact", "{event}");
    assert_eq!(event["sessionKey"], "agent:main:main", "{event}");
    // Subscribers saw the operation start and end, under one id, and the summary arrive like
    // any other message.
    let seen = watcher.drain_events();
    let summary_event = seen
        .iter()
        .filter_map(|e| e.payload.as_ref().filter(|_| e.event == "session.message"))
        .find(|p| p["message"]["role"] == "compactionSummary")
        .cloned();
    assert_eq!(summary_event.map(|p| p["messageSeq"].clone()), Some(json!(7)));
    let operations: Vec<Value> = seen.into_iter().filter(|e| e.event == "session.operation").map(|e| e.payload.unwrap()).collect();
    assert_eq!(operations.len(), 2, "{operations:?}");
    assert_eq!((operations[0]["operation"].as_str(), operations[0]["phase"].as_str()), (Some("compact"), Some("start")));
    assert_eq!((operations[1]["phase"].as_str(), operations[1]["completed"].as_bool()), (Some("end"), Some(true)));
    assert_eq!(operations[0]["operationId"], operations[1]["operationId"]);
    assert_eq!(operations[0]["sessionKey"], "agent:main:main");

    // The summary request: the summariser prompt, no tools, the old messages as text.
    let summary_request = &llm.requests()[3];
    assert!(summary_request.tool_names().is_empty());
    assert!(summary_request.system_prompt().unwrap().contains("summar"), "{:?}", summary_request.system_prompt());

    // History goes by position: the kept messages, then the summary where it was written (as
    // OpenClaw places its compaction marker); positions keep counting the folded messages.
    let h = history(&client, "main").await;
    let messages = h["messages"].as_array().unwrap();
    let kept: Vec<String> = messages[..4].iter().map(text_of).collect();
    assert_eq!(kept, ["two", "answer two", "three", "answer three"], "recent messages are kept verbatim");
    assert_eq!(messages[4]["role"], "compactionSummary", "{messages:#?}");
    assert_eq!(messages[4]["summary"], "SUMMARY: the user said one; the assistant answered.");
    let seqs: Vec<i64> = messages.iter().map(|m| m["__openclaw"]["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [3, 4, 5, 6, 7]);
    let listed = list(&client).await;
    assert_eq!(entry(&listed, "agent:main:main").unwrap()["compactionCount"], 1);

    // The next turn sends the summary (as a user message) and the kept messages only.
    turn(&client, "main", "four", "c4").await;
    let request = &llm.requests()[4];
    let sent: Vec<&Value> = request.messages().iter().filter(|m| m["role"] != "system").collect();
    assert_eq!(sent[0]["role"], "user");
    assert!(sent[0].to_string().contains("SUMMARY: the user said one"), "{}", sent[0]);
    assert!(!request.body.to_string().contains("answer one"), "folded messages are not sent again");
    assert_eq!(sent.len(), 6, "summary, two, answer two, three, answer three, four: {sent:#?}");

    // Nothing to compact in a missing session.
    let none = client.request("sessions.compact", json!({"key": "agent:main:nosuch"})).await.unwrap();
    assert_eq!(none["compacted"], false);
}

/// Estimated fixed cost (system prompt + tools) of a turn, from a request the gateway sent.
fn fixed_cost(request: &pincer_tests::llm_script::RecordedRequest) -> u64 {
    let tools: Vec<ToolSpec> = request.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| ToolSpec {
            name: t["function"]["name"].as_str().unwrap().to_string(),
            description: t["function"]["description"].as_str().unwrap_or_default().to_string(),
            parameters: t["function"]["parameters"].clone(),
        })
        .collect();
    pincer_agent::context::estimate_request(&request.system_prompt().unwrap(), &[], &tools)
}

#[tokio::test]
async fn a_long_transcript_is_compacted_automatically_near_the_context_window() {
    // Measure what the system prompt and tools cost, so the window below leaves a known room.
    let probe = ScriptedOpenAi::start([Reply::text(["ok"])]).await.unwrap();
    let fixed = {
        let gw = agent_gateway(&probe, json!({})).await;
        let client = agent_operator(&gw).await;
        turn(&client, "main", "probe", "probe").await;
        fixed_cost(&probe.requests()[0])
    };
    // Room for ~2 500 tokens of history (reserve 500): two 4 000-character messages fit, three do not.
    let window = fixed + 500 + 2_500;
    let llm = ScriptedOpenAi::start([
        Reply::text(["ok one"]),
        Reply::text(["ok two"]),
        Reply::text(["AUTO SUMMARY of the first exchange"]),
        Reply::text(["ok three"]),
    ])
    .await
    .unwrap();
    let mut config = agent_config(&llm, json!({"agents": {"defaults": {"compaction": {"reserveTokens": 500}}}}));
    config["models"]["providers"]["scripted"]["models"] =
        json!([{"id": "m1", "name": "Small", "input": ["text"], "contextWindow": window}]);
    let gw = start_cfg(config).await;
    let client = agent_operator(&gw).await;
    let long = |tag: &str| format!("{tag} {}", "lorem ipsum ".repeat(333));
    turn(&client, "main", &long("first"), "a1").await;
    turn(&client, "main", &long("second"), "a2").await;
    assert_eq!(llm.request_count(), 2, "no compaction while the history fits");
    let last = turn(&client, "main", &long("third"), "a3").await;
    assert_eq!(text_of(&last["message"]), "ok three");
    assert_eq!(llm.request_count(), 4, "a summary request, then the turn");

    let requests = llm.requests();
    assert!(requests[2].tool_names().is_empty(), "the summary request has no tools");
    assert!(requests[2].body.to_string().contains("first lorem"), "the oldest turn is summarised");
    let sent: Vec<&Value> = requests[3].messages().iter().filter(|m| m["role"] != "system").collect();
    assert!(sent[0].to_string().contains("AUTO SUMMARY"), "{}", sent[0]);
    assert!(!requests[3].body.to_string().contains("first lorem"), "the folded turn is not sent again");
    assert!(requests[3].body.to_string().contains("second lorem"));

    let h = history(&client, "main").await;
    // Compacted before the model was asked: the summary sits between the question and its answer.
    assert_eq!(roles(&h["messages"]), ["user", "assistant", "user", "compactionSummary", "assistant"]);
    let listed = list(&client).await;
    let main = entry(&listed, "agent:main:main").unwrap();
    assert_eq!(main["compactionCount"], 1);
    assert_eq!(main["contextTokens"], window);
}

#[tokio::test]
async fn session_changes_are_announced_to_read_only_operators() {
    let llm = ScriptedOpenAi::start([Reply::text(["a"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    let watcher = gw.operator(&[READ]).await.unwrap().0;
    turn(&client, "work", "hi", "e1").await;

    client.request("sessions.patch", json!({"key": "work", "label": "W"})).await.unwrap();
    let e = changed(&watcher).await;
    assert_eq!((e["sessionKey"].clone(), e["reason"].clone()), (json!("agent:main:work"), json!("patch")), "{e}");
    assert_eq!(e["agentId"], "main");
    assert!(e["ts"].is_i64());
    client.request("sessions.reset", json!({"key": "work"})).await.unwrap();
    assert_eq!(changed(&watcher).await["reason"], "reset");
    client.request("sessions.delete", json!({"key": "work"})).await.unwrap();
    let e = changed(&watcher).await;
    assert_eq!((e["sessionKey"].clone(), e["reason"].clone()), (json!("agent:main:work"), json!("delete")), "{e}");

    // A read-only operator sees but cannot change.
    let denied = server_error(watcher.request("sessions.patch", json!({"key": "main", "label": "x"})).await);
    assert_eq!(denied.code, ErrorCode::Forbidden);
}

#[tokio::test]
async fn models_list_shows_configured_models_with_default_and_fallback_tags() {
    let llm = ScriptedOpenAi::start([]).await.unwrap();
    let mut config =
        agent_config(&llm, json!({"agents": {"defaults": {"model": {"primary": "scripted/m1", "fallbacks": ["scripted/m2"]}}}}));
    config["models"]["providers"]["scripted"]["models"] = json!([
        {"id": "m1", "name": "Model One", "contextWindow": 32000},
        {"id": "m2", "contextWindow": 8000},
        {"id": "m3"},
    ]);
    let gw = start_cfg(config).await;
    let reader = gw.operator(&[READ]).await.unwrap().0;
    let models = reader.request("models.list", json!({})).await.unwrap();
    let models = models["models"].as_array().unwrap();
    assert_eq!(models.len(), 3, "{models:#?}");
    let m = |id: &str| models.iter().find(|m| m["id"] == id).unwrap();
    assert_eq!(m("m1")["name"], "Model One");
    assert_eq!(m("m1")["provider"], "scripted");
    assert_eq!(m("m1")["contextWindow"], 32000);
    assert_eq!(m("m1")["tags"], json!(["default"]));
    assert_eq!(m("m2")["name"], "m2", "the id when there is no name");
    assert_eq!(m("m2")["tags"], json!(["fallback"]));
    assert_eq!(m("m3")["tags"], json!([]));
    assert_eq!(m("m3")["contextWindow"], 128000);
    assert_eq!(m("m1")["available"], true);
}

#[tokio::test]
async fn a_read_only_operator_cannot_send_chat_messages() {
    let llm = ScriptedOpenAi::start([]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let reader = gw.operator(&[READ]).await.unwrap().0;
    let e = server_error(reader.request("chat.send", json!({"sessionKey": "main", "message": "hi", "idempotencyKey": "s1"})).await);
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert_eq!(e.message, "missing scope: operator.write");
    let e = server_error(reader.request("chat.inject", json!({"sessionKey": "main", "message": "hi"})).await);
    assert_eq!(e.code, ErrorCode::Forbidden);
    // Reading works.
    assert_eq!(history(&reader, "main").await["messages"], json!([]));
    assert_eq!(llm.request_count(), 0);
    let admin = agent_operator(&gw).await;
    assert_eq!(list(&admin).await["count"], 0, "nothing was stored");
}

#[tokio::test]
async fn chat_inject_appends_a_labelled_assistant_message() {
    let llm = ScriptedOpenAi::start([Reply::text(["seen it"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    let answer = client.request("chat.inject", json!({"sessionKey": "main", "message": "Build finished", "label": "ci"})).await.unwrap();
    assert_eq!(answer["ok"], true);
    assert!(answer["messageId"].as_str().is_some_and(|id| !id.is_empty()), "{answer}");
    let event = client
        .wait_event_where("inject final", T, |e| e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["state"] == "final"))
        .await
        .unwrap()
        .payload
        .unwrap();
    assert!(event["runId"].as_str().unwrap().starts_with("inject-"), "{event}");
    assert_eq!(event["sessionKey"], "agent:main:main");
    assert_eq!(event["message"]["role"], "assistant");
    assert_eq!(text_of(&event["message"]), "[ci]\n\nBuild finished");
    assert_eq!(event["message"]["model"], "gateway-injected");

    let h = history(&client, "main").await;
    assert_eq!(roles(&h["messages"]), ["assistant"]);
    assert_eq!(text_of(&h["messages"][0]), "[ci]\n\nBuild finished");
    // Without a label the text is as given; the next turn sees the injected messages.
    client.request("chat.inject", json!({"sessionKey": "main", "message": "plain note"})).await.unwrap();
    assert_eq!(text_of(&history(&client, "main").await["messages"][1]), "plain note");
    turn(&client, "main", "what happened?", "i1").await;
    assert!(llm.requests()[0].body.to_string().contains("Build finished"));
    let empty = server_error(client.request("chat.inject", json!({"sessionKey": "main", "message": " "})).await);
    assert_eq!(empty.code, ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn a_refused_sessions_patch_creates_no_session() {
    let llm = ScriptedOpenAi::start([]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    for params in [
        json!({"key": "agent:main:new1", "thinkingLevel": "extreme"}),
        json!({"key": "agent:main:new2", "model": "nosuch/x"}),
        json!({"key": "agent:main:new3", "label": 5}),
    ] {
        server_error(client.request("sessions.patch", params).await);
    }
    assert_eq!(list(&client).await["count"], 0, "a refused patch has no side effects");
}

#[tokio::test]
async fn a_queued_message_does_not_survive_a_reset_or_delete_of_its_session() {
    let slow: Vec<String> = (0..40).map(|i| format!("s{i} ")).collect();
    let llm = ScriptedOpenAi::start([Reply::slow(slow.clone(), Duration::from_millis(100)), Reply::slow(slow, Duration::from_millis(100))])
        .await
        .unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    for (key, verb, a, b) in [("main", "sessions.reset", "r1", "r2"), ("work", "sessions.delete", "d1", "d2")] {
        client.request("chat.send", json!({"sessionKey": key, "message": "first", "idempotencyKey": a})).await.unwrap();
        client
            .wait_event_where("first delta", T, |e| {
                e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["runId"] == a && p["state"] == "delta")
            })
            .await
            .unwrap();
        client.request("chat.send", json!({"sessionKey": key, "message": "queued", "idempotencyKey": b})).await.unwrap();
        client.request(verb, json!({"key": key})).await.unwrap();
        assert_eq!(terminal(&client, a).await["state"], "aborted");
        assert_eq!(terminal(&client, b).await["state"], "aborted");
        let h = history(&client, key).await;
        assert_eq!(h["messages"], json!([]), "{verb}: the new transcript is empty: {h}");
        let waited = client.request("agent.wait", json!({"runId": b, "timeoutMs": 1000})).await.unwrap();
        assert_eq!(waited["error"], "aborted", "{waited}");
    }
    let listed = list(&client).await;
    assert!(entry(&listed, "agent:main:work").is_none(), "a deleted session stays deleted: {listed}");
    assert_eq!(llm.request_count(), 2, "the queued messages never reached the model");
}

/// The `session.message` events a client received, in order.
fn session_messages(client: &GatewayClient) -> Vec<Value> {
    client.drain_events().into_iter().filter(|e| e.event == "session.message").map(|e| e.payload.unwrap()).collect()
}

#[tokio::test]
async fn subscribers_follow_transcripts_live_with_the_ids_and_positions_history_shows() {
    let llm = ScriptedOpenAi::start([
        Reply::tool_calls([("c1", "read", r#"{"path": "AGENTS.md"}"#)]),
        Reply::text(["Read ", "it."]).usage(40, 3),
        Reply::text(["elsewhere"]),
        Reply::text(["quiet"]),
    ])
    .await
    .unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let sender = agent_operator(&gw).await;
    let main_only = gw.operator(&[READ]).await.unwrap().0;
    let everything = gw.operator(&[READ]).await.unwrap().0;
    let bystander = gw.operator(&[READ]).await.unwrap().0;

    let ack = main_only.request("sessions.messages.subscribe", json!({"key": "main"})).await.unwrap();
    assert_eq!(ack, json!({"subscribed": true, "key": "agent:main:main"}));
    assert_eq!(everything.request("sessions.subscribe", json!({})).await.unwrap(), json!({"subscribed": true}));
    let refused = server_error(main_only.request("sessions.messages.subscribe", json!({"key": "main", "includeApprovals": true})).await);
    assert!(refused.message.contains("includeApprovals"), "{refused:?}");

    turn(&sender, "main", "what do the notes say?", "s1").await;
    // Each socket has its own pace: wait until the run's end reached every watcher.
    for watcher in [&main_only, &everything, &bystander] {
        terminal(watcher, "s1").await;
    }
    let live = session_messages(&main_only);
    let roles: Vec<&str> = live.iter().map(|p| p["message"]["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "toolResult", "assistant"], "{live:?}");
    let seqs: Vec<i64> = live.iter().map(|p| p["messageSeq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    for p in &live {
        assert_eq!(
            (p["sessionKey"].as_str(), p["agentId"].as_str(), p["runId"].as_str()),
            (Some("agent:main:main"), Some("main"), Some("s1"))
        );
        assert_eq!(p["message"]["__openclaw"]["id"], p["messageId"]);
        assert_eq!(p["message"]["__openclaw"]["seq"], p["messageSeq"]);
        assert_eq!(p["session"]["key"], "agent:main:main", "the session's row rides along: {p}");
    }
    assert_eq!(live[1]["message"]["content"][0]["type"], "toolCall");
    assert_eq!(live[3]["message"]["content"][0]["text"], "Read it.");
    assert_eq!(live[3]["session"]["messageCount"], 4);
    assert_eq!(live[3]["sessionId"], live[3]["session"]["sessionId"], "row fields also at the top level, as OpenClaw sends them");

    // chat.history carries the same ids and positions, so a client can merge both.
    let h = history(&sender, "main").await;
    let ids: Vec<&Value> = h["messages"].as_array().unwrap().iter().map(|m| &m["__openclaw"]["id"]).collect();
    assert_eq!(ids, live.iter().map(|p| &p["messageId"]).collect::<Vec<_>>());
    assert_eq!(h["messages"][3]["__openclaw"]["seq"], 4);
    assert_eq!(h["messages"][3]["__openclaw"]["runId"], "s1");

    // sessions.subscribe: the same messages plus the tool phases.
    let all = everything.drain_events();
    let everything_messages: Vec<&Value> = all.iter().filter(|e| e.event == "session.message").filter_map(|e| e.payload.as_ref()).collect();
    assert_eq!(everything_messages.len(), 4);
    let tools: Vec<&Value> = all.iter().filter(|e| e.event == "session.tool").filter_map(|e| e.payload.as_ref()).collect();
    let phases: Vec<&str> = tools.iter().map(|t| t["data"]["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, ["start", "result"]);
    assert_eq!(
        (tools[0]["stream"].as_str(), tools[0]["data"]["name"].as_str(), tools[0]["runId"].as_str()),
        (Some("tool"), Some("read"), Some("s1"))
    );
    assert_eq!(tools[0]["session"]["key"], "agent:main:main");
    // Nobody else gets them.
    assert!(bystander.drain_events().iter().all(|e| !e.event.starts_with("session.")), "unsubscribed clients get no session.* events");
    assert!(session_messages(&main_only).is_empty());

    // Another session: only whoever follows every session sees it.
    turn(&sender, "work", "hi", "s2").await;
    terminal(&main_only, "s2").await;
    terminal(&everything, "s2").await;
    assert!(session_messages(&main_only).is_empty(), "main_only follows main only");
    assert_eq!(session_messages(&everything).iter().map(|p| p["sessionKey"].as_str().unwrap()).collect::<Vec<_>>(), ["agent:main:work"; 2]);

    // Unsubscribed: nothing more, even from main.
    let ack = main_only.request("sessions.messages.unsubscribe", json!({"key": "main"})).await.unwrap();
    assert_eq!(ack, json!({"subscribed": false, "key": "agent:main:main"}));
    turn(&sender, "main", "again", "s3").await;
    terminal(&main_only, "s3").await;
    assert!(session_messages(&main_only).is_empty());

    // With sessions.list params, sessions.subscribe answers the list too.
    let with_list = bystander.request("sessions.subscribe", json!({"limit": 1})).await.unwrap();
    assert_eq!(with_list["subscribed"], true);
    assert_eq!(with_list["list"]["sessions"].as_array().map(Vec::len), Some(1), "{with_list}");
}

#[tokio::test]
async fn thinking_levels_reach_reasoning_models_from_the_session_or_the_message() {
    let llm = ScriptedOpenAi::start([Reply::text(["a"]), Reply::text(["b"]), Reply::text(["c"]), Reply::text(["d"])]).await.unwrap();
    let mut provider = llm.provider_config(Some("sk-test"), &["m1"]);
    provider["models"][0]["reasoning"] = json!(true);
    let gw = start_cfg(json!({
        "agents": {"defaults": {"model": {"primary": "scripted/m1"}}},
        "models": {"providers": {"scripted": provider}},
    }))
    .await;
    let client = agent_operator(&gw).await;
    let effort = |i: usize| llm.requests()[i].body.get("reasoning_effort").cloned();

    turn(&client, "main", "plain", "t1").await;
    assert_eq!(effort(0), None, "thinking is off unless asked for");

    client.request("sessions.patch", json!({"key": "main", "thinkingLevel": "high"})).await.unwrap();
    turn(&client, "main", "think hard", "t2").await;
    assert_eq!(effort(1), Some(json!("high")));

    // The message's own level wins over the session's; `agent` takes it too.
    client
        .request("chat.send", json!({"sessionKey": "main", "message": "quick one", "thinking": "low", "idempotencyKey": "t3"}))
        .await
        .unwrap();
    terminal(&client, "t3").await;
    assert_eq!(effort(2), Some(json!("low")));
    let frames = client
        .request_until_final("agent", json!({"message": "via agent", "thinking": "minimal", "idempotencyKey": "t4"}), T)
        .await
        .unwrap();
    assert_eq!(frames.last().unwrap().payload.as_ref().unwrap()["status"], "ok");
    assert_eq!(effort(3), Some(json!("low")), "minimal is sent as low, which every reasoning model accepts");

    let bad = server_error(
        client
            .request("chat.send", json!({"sessionKey": "main", "message": "x", "thinking": "galaxy-brain", "idempotencyKey": "t5"}))
            .await,
    );
    assert_eq!(bad.code, ErrorCode::InvalidRequest);
    assert!(bad.message.contains("off, minimal, low, medium, high, xhigh"), "{bad:?}");
    assert_eq!(llm.request_count(), 4, "a refused message reaches no model");
}

#[tokio::test]
async fn agents_list_describes_the_one_agent_in_openclaws_shape() {
    let llm = ScriptedOpenAi::start([]).await.unwrap();
    let mut provider = llm.provider_config(Some("sk-test"), &["m1", "m2"]);
    provider["models"][0]["reasoning"] = json!(true);
    let gw = start_cfg(json!({
        "agents": {"defaults": {"model": {"primary": "scripted/m1", "fallbacks": ["scripted/m2"]}}},
        "models": {"providers": {"scripted": provider}},
    }))
    .await;
    let watcher = gw.operator(&[READ]).await.unwrap().0;
    let listed = watcher.request("agents.list", json!({})).await.unwrap();

    // Every field of OpenClaw's answer, but its runtime placement and exec permission summary.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/openclaw/agent/res.agents.list.json");
    let openclaw: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let openclaw = &openclaw["frame"]["payload"];
    for key in openclaw.as_object().unwrap().keys() {
        assert!(listed.get(key).is_some(), "agents.list lacks {key}: {listed}");
    }
    for key in
        openclaw["agents"][0].as_object().unwrap().keys().filter(|k| !["agentRuntime", "defaultPermissionMode"].contains(&k.as_str()))
    {
        assert!(listed["agents"][0].get(key).is_some(), "agents[0] lacks {key}: {listed}");
    }
    assert_eq!((listed["defaultId"].as_str(), listed["mainKey"].as_str()), (Some("main"), Some("main")));
    let agent = &listed["agents"][0];
    assert_eq!(agent["id"], "main");
    assert_eq!(agent["model"], json!({"primary": "scripted/m1", "fallbacks": ["scripted/m2"]}));
    assert_eq!(agent["thinkingOptions"], json!(["off", "minimal", "low", "medium", "high", "xhigh"]), "the primary model reasons");
    assert_eq!(agent["thinkingDefault"], "off");
    assert!(agent["workspace"].as_str().unwrap().ends_with("workspace"), "{agent}");
}

fn openclaw_payload(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/openclaw/agent").join(name);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["frame"]["payload"].clone()
}

#[tokio::test]
async fn sessions_describe_and_the_empty_lists_answer_in_openclaws_shapes() {
    let llm = ScriptedOpenAi::start([Reply::text(["a"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    assert_eq!(client.request("sessions.describe", json!({"key": "main"})).await.unwrap(), json!({"session": null}), "no session yet");
    turn(&client, "main", "hi", "d1").await;
    let described = client.request("sessions.describe", json!({"key": "main"})).await.unwrap();
    let row = &described["session"];
    // OpenClaw's fields that Pincer has a value for (the rest is its sharing, archive, fast-mode
    // and runtime bookkeeping).
    let openclaw = openclaw_payload("res.sessions.describe.json");
    for key in [
        "key",
        "kind",
        "agentId",
        "isMain",
        "chatType",
        "createdAt",
        "updatedAt",
        "sessionId",
        "thinkingLevels",
        "thinkingOptions",
        "thinkingDefault",
        "totalTokens",
        "modelProvider",
        "model",
        "snapshotAt",
    ] {
        assert!(openclaw["session"].get(key).is_some(), "the fixture has {key}");
        assert!(row.get(key).is_some(), "sessions.describe lacks {key}: {row}");
    }
    assert_eq!(
        (row["key"].as_str(), row["isMain"].as_bool(), row["chatType"].as_str()),
        (Some("agent:main:main"), Some(true), Some("direct"))
    );
    assert_eq!(row["thinkingOptions"], json!(["off"]), "m1 is not a reasoning model");
    assert_eq!(row["messageCount"], 2);

    assert_eq!(client.request("question.list", json!({})).await.unwrap(), openclaw_payload("res.question.list.json"));
    assert_eq!(client.request("plugin.approval.list", json!({})).await.unwrap(), openclaw_payload("res.plugin.approval.list.json"));
    assert_eq!(client.request("commands.list", json!({})).await.unwrap(), json!({"commands": []}));
}
