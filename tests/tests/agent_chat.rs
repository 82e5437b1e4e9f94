//! The agent over the protocol: `chat.send` → scripted LLM → `chat`/`agent` events →
//! transcript, with the workspace tools in the loop; sessions, models, idempotent replays,
//! abort, failover, and bad input. The LLM is a scripted OpenAI/Anthropic server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_client::GatewayClient;
use pincer_protocol::error::ErrorCode;
use pincer_protocol::scopes::{PAIRING, READ, WRITE};
use pincer_tests::agent::{agent_gateway, agent_operator};
use pincer_tests::expect::server_error;
use pincer_tests::llm_script::{Reply, ScriptedAnthropic, ScriptedOpenAi};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(15);

/// Every `chat` event of `run_id` up to and including the terminal one.
async fn chat_events(client: &GatewayClient, run_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let e = client
            .wait_event_where("chat event", T, |e| e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["runId"] == run_id))
            .await
            .unwrap();
        let p = e.payload.unwrap();
        let state = p["state"].as_str().unwrap_or_default().to_string();
        out.push(p);
        if state != "delta" {
            return out;
        }
    }
}

async fn history(client: &GatewayClient, key: &str) -> Vec<Value> {
    let h = client.request("chat.history", json!({"sessionKey": key})).await.unwrap();
    h["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_chat_turn_streams_deltas_then_final_and_is_stored() {
    let llm = ScriptedOpenAi::start([Reply::text(["Hel", "lo"]).usage(12, 2)]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;

    let ack = client.request("chat.send", json!({"sessionKey": "main", "message": "hello", "idempotencyKey": "k1"})).await.unwrap();
    assert_eq!(ack, json!({"runId": "k1", "status": "started"}));
    let events = chat_events(&client, "k1").await;
    let deltas: Vec<&str> = events.iter().filter(|e| e["state"] == "delta").map(|e| e["deltaText"].as_str().unwrap()).collect();
    assert_eq!(deltas, ["Hel", "lo"]);
    assert_eq!(events[1]["message"]["content"][0]["text"], "Hello", "a delta carries the whole text so far");
    let last = events.last().unwrap();
    assert_eq!(last["state"], "final");
    assert_eq!(last["sessionKey"], "agent:main:main");
    assert_eq!(last["agentId"], "main");
    assert_eq!(last["message"]["role"], "assistant");
    assert_eq!(last["message"]["content"], json!([{"type": "text", "text": "Hello"}]));
    assert_eq!(last["message"]["provider"], "scripted");
    assert_eq!(last["message"]["model"], "m1");
    assert_eq!(last["message"]["usage"]["input"], 12);
    assert_eq!(last["message"]["usage"]["output"], 2);
    assert_eq!(last["stopReason"], "stop");
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "chat seq counts up per run");

    let messages = history(&client, "main").await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], json!([{"type": "text", "text": "hello"}]));
    assert_eq!(messages[1]["content"][0]["text"], "Hello");

    // What the provider saw: the bootstrap files in the system prompt, the user's message, the key.
    let request = &llm.requests()[0];
    assert_eq!(request.bearer_token(), Some("sk-test"));
    assert_eq!(request.model(), Some("m1"));
    let system = request.system_prompt().unwrap();
    assert!(system.contains("AGENTS.md") && system.contains("SOUL.md"), "{system}");
    let last_user = request.messages().last().unwrap();
    assert_eq!(last_user["role"], "user");

    // Replays of the key: ok once finished; other content under the same key is refused.
    let replay = client.request("chat.send", json!({"sessionKey": "main", "message": "hello", "idempotencyKey": "k1"})).await.unwrap();
    assert_eq!(replay, json!({"runId": "k1", "status": "ok"}));
    let conflict =
        server_error(client.request("chat.send", json!({"sessionKey": "main", "message": "other", "idempotencyKey": "k1"})).await);
    assert_eq!(conflict.code, ErrorCode::InvalidRequest);
    assert_eq!(llm.request_count(), 1, "replays never reach the model");

    let waited = client.request("agent.wait", json!({"runId": "k1", "timeoutMs": 1000})).await.unwrap();
    assert_eq!(waited["status"], "ok");
    assert!(waited["endedAt"].as_i64().unwrap() >= waited["startedAt"].as_i64().unwrap());
}

#[tokio::test]
async fn the_tool_loop_reads_a_workspace_file_and_feeds_the_result_back() {
    let llm = ScriptedOpenAi::start([
        Reply::tool_calls([("call_1", "read", r#"{"path":"SOUL.md"}"#), ("call_2", "write", r#"{"path":"notes/a.txt","content":"hi"}"#)]),
        Reply::text(["done"]),
    ])
    .await
    .unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    client.request("chat.send", json!({"sessionKey": "main", "message": "look", "idempotencyKey": "t1"})).await.unwrap();
    let events = chat_events(&client, "t1").await;
    assert_eq!(events.last().unwrap()["state"], "final", "{events:?}");

    let messages = history(&client, "main").await;
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "toolResult", "toolResult", "assistant"]);
    assert_eq!(messages[1]["content"][0], json!({"type": "toolCall", "id": "call_1", "name": "read", "arguments": {"path": "SOUL.md"}}));
    assert_eq!(messages[1]["stopReason"], "toolUse");
    assert_eq!(messages[2]["toolCallId"], "call_1");
    assert_eq!(messages[2]["isError"], false);
    assert_eq!(messages[3]["toolCallId"], "call_2");
    let workspace = gw.state_dir.path().join("workspace");
    assert_eq!(std::fs::read_to_string(workspace.join("notes/a.txt")).unwrap(), "hi");

    // The second model request carries both results, as OpenAI tool messages.
    let second = &llm.requests()[1];
    let tool_msgs: Vec<&Value> = second.messages().iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(tool_msgs.len(), 2);
    assert_eq!(tool_msgs[0]["tool_call_id"], "call_1");
    let soul = std::fs::read_to_string(workspace.join("SOUL.md")).unwrap();
    let first_line = soul.lines().find(|l| !l.trim().is_empty()).unwrap();
    assert!(tool_msgs[0]["content"].to_string().contains(first_line.trim()), "{}", tool_msgs[0]);
}

#[tokio::test]
async fn anthropic_providers_stream_through_the_same_loop() {
    let llm =
        ScriptedAnthropic::start([Reply::tool_calls([("toolu_1", "read", r#"{"path":"IDENTITY.md"}"#)]), Reply::text(["All ", "set"])])
            .await
            .unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    client.request("chat.send", json!({"sessionKey": "main", "message": "who are you", "idempotencyKey": "a1"})).await.unwrap();
    let events = chat_events(&client, "a1").await;
    let last = events.last().unwrap();
    assert_eq!(last["state"], "final", "{events:?}");
    assert_eq!(last["message"]["content"][0]["text"], "All set");
    assert_eq!(last["message"]["api"], "anthropic-messages");
    let second = &llm.requests()[1];
    assert_eq!(second.header("x-api-key"), Some("sk-test"));
    let blocks = second.messages().last().unwrap()["content"].clone();
    assert_eq!(blocks[0]["type"], "tool_result");
    assert_eq!(blocks[0]["tool_use_id"], "toolu_1");
}

#[tokio::test]
async fn the_chat_verb_prints_the_streamed_answer_and_fails_clearly_on_errors() {
    let llm = ScriptedOpenAi::start([Reply::text(["Paris ", "it is."]), Reply::status(401).message("bad key")]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let bin = pincer_tests::workspace_bin("pincer-gateway").unwrap();
    let run = |message: &str| {
        tokio::process::Command::new(&bin)
            .args(["chat", message, "--url", &gw.url(), "--token", &gw.token])
            .env_remove("PINCER_GATEWAY_PASSWORD")
            .output()
    };
    let ok = tokio::time::timeout(T, run("capital of France?")).await.unwrap().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "Paris it is.\n");

    let failed = tokio::time::timeout(T, run("again")).await.unwrap().unwrap();
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("the agent failed") && stderr.contains("401"), "{stderr}");
    assert!(!stderr.contains("sk-test"), "the key never shows: {stderr}");
}

#[tokio::test]
async fn api_keys_are_redacted_by_config_get_and_events_need_operator_read() {
    let llm = ScriptedOpenAi::start([Reply::text(["ok"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let admin = agent_operator(&gw).await;
    let config = admin.request("config.get", json!({})).await.unwrap();
    let text = config.to_string();
    assert!(!text.contains("sk-test"), "config.get leaks the provider key: {text}");
    assert_eq!(config["config"]["models"]["providers"]["scripted"]["apiKey"], "__OPENCLAW_REDACTED__", "{config}");

    // The stream goes to readers (operator.write includes read, as in OpenClaw), not to an
    // operator that holds only another scope.
    let (writer, _) = gw.operator(&[WRITE]).await.unwrap();
    let (reader, _) = gw.operator(&[READ]).await.unwrap();
    let (pairing_only, _) = gw.operator(&[PAIRING]).await.unwrap();
    writer.request("chat.send", json!({"sessionKey": "main", "message": "hi", "idempotencyKey": "w1"})).await.unwrap();
    let events = chat_events(&reader, "w1").await;
    assert_eq!(events.last().unwrap()["state"], "final");
    assert_eq!(chat_events(&writer, "w1").await.last().unwrap()["state"], "final");
    let leaked = pairing_only.wait_event_where("chat event", Duration::from_millis(300), |e| e.event == "chat" || e.event == "agent").await;
    assert!(matches!(leaked, Err(pincer_client::ClientError::Timeout { .. })), "an operator without operator.read got {leaked:?}");
    // And a reader cannot send.
    let denied = server_error(reader.request("chat.send", json!({"sessionKey": "main", "message": "x", "idempotencyKey": "r1"})).await);
    assert!(denied.message.contains("operator.write"), "{}", denied.message);
}

/// `agent` answers twice on the same request id, as OpenClaw does: the ack, then, when the run
/// ends, its result (what `openclaw agent` prints). Errors and aborts end the same way, and a
/// replay of a finished run is answered with that result.
#[tokio::test]
async fn the_agent_method_answers_with_an_ack_then_the_final_result() {
    let slow: Vec<String> = (0..40).map(|i| format!("w{i} ")).collect();
    let llm = ScriptedOpenAi::start([
        Reply::tool_calls([("c1", "read", r#"{"path": "AGENTS.md"}"#)]).usage(30, 5),
        Reply::text(["All ", "done."]).usage(50, 3),
        Reply::status(400),
        Reply::slow(slow, Duration::from_millis(150)),
    ])
    .await
    .unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;

    let frames = client.request_until_final("agent", json!({"message": "check the notes", "idempotencyKey": "a1"}), T).await.unwrap();
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0].id, frames[1].id);
    let ack = frames[0].payload.clone().unwrap();
    assert_eq!(
        (ack["runId"].as_str(), ack["status"].as_str(), ack["sessionKey"].as_str()),
        (Some("a1"), Some("accepted"), Some("agent:main:main"))
    );
    assert!(frames[1].ok);
    let done = frames[1].payload.clone().unwrap();
    assert_eq!((done["runId"].as_str(), done["status"].as_str(), done["summary"].as_str()), (Some("a1"), Some("ok"), Some("completed")));
    assert_eq!(done["result"]["payloads"], json!([{"text": "All done.", "mediaUrl": null}]), "only the final answer, not the tool step");
    let meta = &done["result"]["meta"];
    assert_eq!(meta["aborted"], false);
    assert_eq!(meta["stopReason"], "stop");
    assert_eq!((meta["agentMeta"]["provider"].as_str(), meta["agentMeta"]["model"].as_str()), (Some("scripted"), Some("m1")));
    assert_eq!(meta["agentMeta"]["usage"]["input"], 80, "usage sums every model call of the run");
    assert_eq!(meta["agentMeta"]["usage"]["output"], 8);
    let sessions = client.request("sessions.list", json!({})).await.unwrap();
    assert_eq!(meta["agentMeta"]["sessionId"], sessions["sessions"][0]["sessionId"], "{sessions}");
    assert!(meta["durationMs"].as_i64().unwrap() >= 0);

    // The same key again: the finished run's result, once, and the model is not asked again.
    let replay = client.request_until_final("agent", json!({"message": "check the notes", "idempotencyKey": "a1"}), T).await.unwrap();
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0].payload.as_ref().unwrap()["result"]["payloads"], done["result"]["payloads"]);
    assert_eq!(llm.request_count(), 2);

    // A provider error: still ok:true at the frame level, status error, and the reason.
    let frames = client.request_until_final("agent", json!({"message": "again", "idempotencyKey": "a2"}), T).await.unwrap();
    let failed = frames.last().unwrap().payload.clone().unwrap();
    assert_eq!((failed["status"].as_str(), failed["summary"].as_str()), (Some("error"), Some("failed")), "{failed}");
    assert!(failed["result"]["meta"]["error"]["message"].as_str().unwrap().contains("400"), "{failed}");

    // Aborted mid-stream by chat.abort from another request on the same connection.
    let waiting = {
        let client = client.clone();
        tokio::spawn(async move { client.request_until_final("agent", json!({"message": "long story", "idempotencyKey": "a3"}), T).await })
    };
    client
        .wait_event_where("first delta of a3", T, |e| {
            e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["runId"] == "a3" && p["state"] == "delta")
        })
        .await
        .unwrap();
    // A retry with the same key while it runs is acked again (its final result follows, as for
    // the first request), so an expect-final client keeps waiting instead of stopping there.
    let retry_ack = client.request("agent", json!({"message": "long story", "idempotencyKey": "a3"})).await.unwrap();
    assert_eq!((retry_ack["status"].as_str(), retry_ack["runId"].as_str()), (Some("accepted"), Some("a3")), "{retry_ack}");
    client.request("chat.abort", json!({"sessionKey": "main", "runId": "a3"})).await.unwrap();
    let frames = waiting.await.unwrap().unwrap();
    let aborted = frames.last().unwrap().payload.clone().unwrap();
    assert_eq!(
        (aborted["status"].as_str(), aborted["summary"].as_str(), aborted["stopReason"].as_str()),
        (Some("timeout"), Some("aborted"), Some("rpc")),
        "{aborted}"
    );
    assert_eq!(aborted["result"]["meta"]["aborted"], true);
    assert!(aborted["result"]["payloads"][0]["text"].as_str().unwrap().starts_with("w0 "), "the partial answer: {aborted}");
}

/// With extended thinking on, Anthropic needs the signed thinking of a tool-use turn back in the
/// next request of the loop; the transcript keeps the signature for that.
#[tokio::test]
async fn anthropic_thinking_is_sent_back_signed_within_a_tool_loop() {
    let llm = ScriptedAnthropic::start([
        Reply::tool_calls([("toolu_1", "read", r#"{"path":"IDENTITY.md"}"#)]).thinking(["let me ", "look"]),
        Reply::text(["Done."]),
    ])
    .await
    .unwrap();
    let mut provider = llm.provider_config(Some("sk-test"), &["m1"]);
    provider["models"][0]["reasoning"] = json!(true);
    let config = json!({
        "agents": {"defaults": {"model": {"primary": "scripted/m1"}}},
        "models": {"providers": {"scripted": provider}},
    });
    let gw = pincer_tests::agent::start_agent_gateway(config, None).await.unwrap();
    let client = agent_operator(&gw).await;
    client
        .request("chat.send", json!({"sessionKey": "main", "message": "who are you", "thinking": "medium", "idempotencyKey": "th1"}))
        .await
        .unwrap();
    let events = chat_events(&client, "th1").await;
    assert_eq!(events.last().unwrap()["state"], "final", "{events:?}");

    let first = &llm.requests()[0];
    assert_eq!(first.body["thinking"], json!({"type": "enabled", "budget_tokens": 10_000}));
    let second = &llm.requests()[1];
    let assistant = &second.messages()[second.messages().len() - 2];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(assistant["content"][0], json!({"type": "thinking", "thinking": "let me look", "signature": "c2lnbmF0dXJl"}));
    assert_eq!(assistant["content"][1]["type"], "tool_use");
    // The transcript keeps it in OpenClaw's field name.
    let h = history(&client, "main").await;
    assert_eq!(h[1]["content"][0]["thinkingSignature"], "c2lnbmF0dXJl", "{:?}", h[1]);
}
