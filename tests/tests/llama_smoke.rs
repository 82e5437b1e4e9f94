//! The local LLM harness (`pincer_tests::llama`): llama.cpp's llama-server with SmolLM2-135M,
//! installed by `scripts/install-llama.sh`. Without the install this test FAILS and says so; it
//! never skips (CI installs it first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_tests::llama::{post_json, LlamaServer, MODEL_ID};
use serde_json::{json, Value};

#[tokio::test]
async fn llama_server_answers_a_chat_completion() {
    let server = LlamaServer::start().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(server.base_url().starts_with("http://127.0.0.1:") && server.base_url().ends_with("/v1"));
    assert_eq!(server.model_id(), MODEL_ID);

    let request = json!({
        "model": server.model_id(),
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say hello in one short sentence."}
        ],
        "max_tokens": 32,
        "temperature": 0,
        "stream": false
    });
    let url = format!("{}/chat/completions", server.base_url());
    let (status, body) = post_json(&url, &request, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}\nserver log:\n{}", server.log_tail(30)));
    assert_eq!(status, 200, "{body}\nserver log:\n{}", server.log_tail(30));
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["object"], "chat.completion", "{v}");
    let message = &v["choices"][0]["message"];
    assert_eq!(message["role"], "assistant", "{v}");
    let content = message["content"].as_str().unwrap_or_default();
    assert!(!content.trim().is_empty(), "empty assistant message: {v}");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap_or(0) > 0, "{v}");
}
