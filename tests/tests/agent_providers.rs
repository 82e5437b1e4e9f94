//! pincer-agent's provider clients against scripted OpenAI / Anthropic servers over real HTTP:
//! streaming, tool calls, request shapes, retries, failover, cooldowns, timeouts, aborts, the
//! SSRF guard and API key handling. Everything goes through the crate's public API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pincer_agent::config::{AgentConfig, AgentConfigError, ModelRef, NoKeyring, RetryConfig};
use pincer_agent::model::{AssistantMessage, Content, Message, StopReason, ToolResultMessage, Usage, UserMessage};
use pincer_agent::provider::{ModelClient, ModelRequest, ProviderError, StreamDelta, ToolSpec};
use pincer_agent::providers::{client_for, failover_chain, ProviderRuntime};
use pincer_tests::llm_script::{Reply, ScriptedAnthropic, ScriptedLlm, ScriptedOpenAi};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-test-provider-key-4242";

/// A config document with these providers and model selection; env and keyring are injected.
fn config_with_env(providers: Value, model: Value, env: &[(&str, &str)]) -> Result<AgentConfig, AgentConfigError> {
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let doc = json!({"agents": {"defaults": {"model": model}}, "models": {"providers": providers}});
    let mut cfg = AgentConfig::from_document_with(&doc, Path::new("/tmp/pincer-state"), &|k| env.get(k).cloned(), &NoKeyring)?;
    // Fast retries so failover tests take milliseconds, not seconds.
    cfg.retry = RetryConfig { base_delay: Duration::from_millis(20), max_delay: Duration::from_millis(50), ..cfg.retry };
    Ok(cfg)
}

fn config(providers: Value, model: Value) -> AgentConfig {
    config_with_env(providers, model, &[]).unwrap()
}

fn request(text: &str) -> ModelRequest {
    ModelRequest {
        system_prompt: "You are a test.".into(),
        messages: vec![Message::user_text(text, 1)],
        tools: vec![],
        max_tokens: None,
        temperature: None,
        thinking: Default::default(),
    }
}

async fn stream(client: &Arc<dyn ModelClient>, request: &ModelRequest) -> (Result<AssistantMessage, ProviderError>, Vec<StreamDelta>) {
    let mut deltas = Vec::new();
    let mut sink = |d: StreamDelta| deltas.push(d);
    let result = client.stream(request, &CancellationToken::new(), &mut sink).await;
    (result, deltas)
}

fn texts(deltas: &[StreamDelta]) -> Vec<String> {
    deltas
        .iter()
        .filter_map(|d| match d {
            StreamDelta::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

/// One bare client (no retries) for `server` as provider `p`, model `m`.
fn bare_client(server: &ScriptedLlm, extra: Value) -> Arc<dyn ModelClient> {
    let mut entry = server.provider_config(Some(KEY), &["m"]);
    if let (Some(entry), Some(extra)) = (entry.as_object_mut(), extra.as_object()) {
        entry.extend(extra.clone());
    }
    let cfg = config(json!({"p": entry}), json!("p/m"));
    let runtime = ProviderRuntime::default();
    client_for(&cfg, &runtime, &ModelRef::new("p", "m")).unwrap()
}

#[tokio::test]
async fn openai_text_streams_in_order_with_usage() {
    let llm = ScriptedOpenAi::start([Reply::text(["Hel", "lo", " world"]).thinking(["pondering"]).usage(42, 3).cached(40)]).await.unwrap();
    let client = bare_client(&llm, json!({}));
    let (msg, deltas) = stream(&client, &request("hi")).await;
    let msg = msg.unwrap();
    assert_eq!(texts(&deltas), ["Hel", "lo", " world"]);
    assert_eq!(deltas[0], StreamDelta::Thinking("pondering".into()));
    assert_eq!(msg.text(), "Hello world");
    assert_eq!(msg.content[0], Content::thinking("pondering"));
    assert_eq!(msg.stop_reason, StopReason::Stop);
    assert_eq!((msg.api.as_str(), msg.provider.as_str(), msg.model.as_str()), ("openai-completions", "p", "m"));
    assert_eq!(msg.usage, Usage { input: 2, output: 3, cache_read: 40, cache_write: 0, total_tokens: 45 });
    let req = &llm.requests()[0];
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(req.body["stream"], json!(true));
    assert_eq!(req.body["stream_options"], json!({"include_usage": true}));
    assert!(req.header("user-agent").unwrap().starts_with("pincer/"));
}

#[tokio::test]
async fn anthropic_text_streams_in_order_with_usage() {
    let llm = ScriptedAnthropic::start([Reply::text(["Hel", "lo"]).thinking(["hm"]).usage(30, 7).cached(5)]).await.unwrap();
    let client = bare_client(&llm, json!({}));
    let (msg, deltas) = stream(&client, &request("hi")).await;
    let msg = msg.unwrap();
    assert_eq!(deltas, vec![StreamDelta::Thinking("hm".into()), StreamDelta::Text("Hel".into()), StreamDelta::Text("lo".into())]);
    assert_eq!(msg.text(), "Hello");
    assert_eq!(msg.stop_reason, StopReason::Stop);
    assert_eq!(msg.api, "anthropic-messages");
    assert_eq!(msg.usage, Usage { input: 30, output: 7, cache_read: 5, cache_write: 0, total_tokens: 42 });
    assert_eq!(llm.requests()[0].path, "/v1/messages");
}

#[tokio::test]
async fn tool_calls_single_and_parallel_with_parsed_arguments() {
    for dialect in ["openai", "anthropic"] {
        let script = [
            Reply::tool_calls([("call_1", "read", r#"{"path":"a.txt"}"#)]),
            Reply::tool_calls([("call_2", "read", r#"{"path":"b"}"#), ("call_3", "ls", r#"{"dir":"/","all":true}"#)])
                .with_text(["Let me look."]),
        ];
        let llm = match dialect {
            "openai" => ScriptedOpenAi::start(script).await.unwrap(),
            _ => ScriptedAnthropic::start(script).await.unwrap(),
        };
        let client = bare_client(&llm, json!({}));

        let (msg, deltas) = stream(&client, &request("read a")).await;
        let msg = msg.unwrap();
        assert_eq!(msg.stop_reason, StopReason::ToolUse, "{dialect}");
        assert_eq!(deltas, vec![StreamDelta::ToolCallStarted { id: "call_1".into(), name: "read".into() }], "{dialect}");
        let calls: Vec<_> = msg.tool_calls().map(|c| (c.id.to_string(), c.name.to_string(), c.arguments.clone())).collect();
        assert_eq!(calls, vec![("call_1".into(), "read".into(), json!({"path": "a.txt"}))], "{dialect}");

        let (msg, deltas) = stream(&client, &request("both")).await;
        let msg = msg.unwrap();
        assert_eq!(msg.text(), "Let me look.", "{dialect}");
        let calls: Vec<_> = msg.tool_calls().map(|c| (c.id.to_string(), c.arguments.clone())).collect();
        assert_eq!(calls, vec![("call_2".into(), json!({"path": "b"})), ("call_3".into(), json!({"dir": "/", "all": true}))], "{dialect}");
        let started: Vec<_> = deltas.iter().filter(|d| matches!(d, StreamDelta::ToolCallStarted { .. })).collect();
        assert_eq!(started.len(), 2, "{dialect}");
    }
}

#[tokio::test]
async fn invalid_json_arguments_are_kept_raw() {
    for llm in [
        ScriptedOpenAi::start([Reply::tool_calls([("c1", "write", r#"{"path": "a", "content": "unterminated"#)])]).await.unwrap(),
        ScriptedAnthropic::start([Reply::tool_calls([("c1", "write", r#"{"path": "a", "content": "unterminated"#)])]).await.unwrap(),
    ] {
        let (msg, _) = stream(&bare_client(&llm, json!({})), &request("x")).await;
        let msg = msg.unwrap();
        let call = msg.tool_calls().next().unwrap();
        assert_eq!(call.arguments, &json!(r#"{"path": "a", "content": "unterminated"#), "{}", llm.api());
    }
}

/// A conversation with an image from the user, a tool call and a tool result with an image.
fn rich_request() -> ModelRequest {
    ModelRequest {
        system_prompt: "SYSTEM PROMPT".into(),
        messages: vec![
            Message::User(UserMessage {
                content: vec![
                    Content::text("what is this?"),
                    Content::Image { data: "iVBORw0KGgo=".into(), mime_type: "image/png".into() },
                ],
                timestamp: 1,
            }),
            Message::Assistant(AssistantMessage {
                content: vec![
                    Content::text("Taking a photo."),
                    Content::ToolCall { id: "call_cam".into(), name: "camera".into(), arguments: json!({"facing": "back"}) },
                ],
                api: "openai-completions".into(),
                provider: "p".into(),
                model: "m".into(),
                usage: Usage::default(),
                stop_reason: StopReason::ToolUse,
                error_message: None,
                timestamp: 2,
            }),
            Message::ToolResult(ToolResultMessage {
                tool_call_id: "call_cam".into(),
                tool_name: "camera".into(),
                content: vec![Content::text("photo taken"), Content::Image { data: "/9j/4AAQ".into(), mime_type: "image/jpeg".into() }],
                details: None,
                is_error: false,
                timestamp: 3,
            }),
        ],
        tools: vec![ToolSpec {
            name: "camera".into(),
            description: "Take a photo".into(),
            parameters: json!({"type": "object", "properties": {"facing": {"type": "string"}}}),
        }],
        max_tokens: Some(777),
        temperature: None,
        thinking: Default::default(),
    }
}

#[tokio::test]
async fn openai_request_carries_system_images_tools_and_results() {
    let llm = ScriptedOpenAi::start([Reply::text(["ok"])]).await.unwrap();
    let (msg, _) = stream(&bare_client(&llm, json!({})), &rich_request()).await;
    msg.unwrap();
    let req = &llm.requests()[0];
    assert_eq!(req.bearer_token(), Some(KEY));
    assert_eq!(req.system_prompt().as_deref(), Some("SYSTEM PROMPT"));
    assert_eq!(req.model(), Some("m"));
    assert_eq!(req.body["max_tokens"], json!(777));
    let m = req.messages();
    assert_eq!(m[0], json!({"role": "system", "content": "SYSTEM PROMPT"}));
    assert_eq!(m[1]["content"][1], json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}));
    assert_eq!(
        m[2]["tool_calls"][0],
        json!({"id": "call_cam", "type": "function", "function": {"name": "camera", "arguments": "{\"facing\":\"back\"}"}})
    );
    assert_eq!(m[3], json!({"role": "tool", "tool_call_id": "call_cam", "content": "photo taken"}));
    // Tool messages cannot carry images: they follow as a user message.
    assert_eq!(m[4]["role"], "user");
    assert_eq!(m[4]["content"][1]["image_url"]["url"], "data:image/jpeg;base64,/9j/4AAQ");
    assert_eq!(
        req.body["tools"],
        json!([{"type": "function", "function": {"name": "camera", "description": "Take a photo",
            "parameters": {"type": "object", "properties": {"facing": {"type": "string"}}}}}])
    );
}

#[tokio::test]
async fn anthropic_request_carries_system_images_tools_and_results() {
    let llm = ScriptedAnthropic::start([Reply::text(["ok"])]).await.unwrap();
    let (msg, _) = stream(&bare_client(&llm, json!({})), &rich_request()).await;
    msg.unwrap();
    let req = &llm.requests()[0];
    assert_eq!(req.header("x-api-key"), Some(KEY));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(req.body["system"], json!("SYSTEM PROMPT"));
    assert_eq!(req.body["max_tokens"], json!(777));
    let m = req.messages();
    assert!(m.iter().all(|m| m["role"] != "system"));
    assert_eq!(
        m[0]["content"][1],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}})
    );
    assert_eq!(m[1]["content"][1], json!({"type": "tool_use", "id": "call_cam", "name": "camera", "input": {"facing": "back"}}));
    assert_eq!(m[2]["content"][0]["type"], "tool_result");
    assert_eq!(m[2]["content"][0]["tool_use_id"], "call_cam");
    assert_eq!(m[2]["content"][0]["content"][1]["source"]["data"], "/9j/4AAQ");
    assert_eq!(req.tool_names(), ["camera"]);
    assert_eq!(req.body["tools"][0]["input_schema"]["type"], "object");
}

#[tokio::test]
async fn rate_limit_retry_after_is_honoured_then_succeeds() {
    let llm = ScriptedOpenAi::start([Reply::status(429).retry_after(1), Reply::text(["fine"])]).await.unwrap();
    let cfg = config(json!({"p": llm.provider_config(Some(KEY), &["m"])}), json!("p/m"));
    let runtime = ProviderRuntime::default();
    let client = failover_chain(&cfg, &runtime, None).unwrap();
    let started = Instant::now();
    let (msg, _) = stream(&client, &request("x")).await;
    assert_eq!(msg.unwrap().text(), "fine");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(950), "Retry-After: 1 not honoured ({waited:?})");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(llm.request_count(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_then_fail_over_and_the_primary_cools_down() {
    let primary = ScriptedOpenAi::start([Reply::status(500), Reply::status(502), Reply::status(503)]).await.unwrap();
    let fallback = ScriptedAnthropic::start([Reply::text(["from ", "fallback"]), Reply::text(["again"])]).await.unwrap();
    let cfg = config(
        json!({"a": primary.provider_config(Some(KEY), &["big"]), "b": fallback.provider_config(Some(KEY), &["small"])}),
        json!({"primary": "a/big", "fallbacks": ["b/small"]}),
    );
    let runtime = ProviderRuntime::default();
    let client = failover_chain(&cfg, &runtime, None).unwrap();
    assert_eq!(client.label(), "a/big");
    let (msg, deltas) = stream(&client, &request("x")).await;
    let msg = msg.unwrap();
    assert_eq!((msg.provider.as_str(), msg.model.as_str(), msg.api.as_str()), ("b", "small", "anthropic-messages"));
    assert_eq!(texts(&deltas), ["from ", "fallback"]);
    assert_eq!((primary.request_count(), fallback.request_count()), (3, 1));

    // A later run (a new chain from the same config) skips the cooling primary.
    let client = failover_chain(&cfg, &runtime, None).unwrap();
    let (msg, _) = stream(&client, &request("y")).await;
    assert_eq!(msg.unwrap().text(), "again");
    assert_eq!((primary.request_count(), fallback.request_count()), (3, 2));
}

#[tokio::test]
async fn auth_errors_fail_over_without_retrying() {
    let primary = ScriptedOpenAi::start([Reply::status(401)]).await.unwrap();
    let fallback = ScriptedOpenAi::start([Reply::text(["ok"])]).await.unwrap();
    let cfg = config(
        json!({"a": primary.provider_config(Some(KEY), &["m"]), "b": fallback.provider_config(Some(KEY), &["m"])}),
        json!({"primary": "a/m", "fallbacks": ["b/m"]}),
    );
    let runtime = ProviderRuntime::default();
    let (msg, _) = stream(&failover_chain(&cfg, &runtime, None).unwrap(), &request("x")).await;
    assert_eq!(msg.unwrap().provider, "b");
    assert_eq!((primary.request_count(), fallback.request_count()), (1, 1));
}

#[tokio::test]
async fn override_model_leads_the_chain() {
    let a = ScriptedOpenAi::start([]).await.unwrap();
    let b = ScriptedOpenAi::start([Reply::text(["b"])]).await.unwrap();
    let cfg = config(json!({"a": a.provider_config(Some(KEY), &["m"]), "b": b.provider_config(Some(KEY), &["m"])}), json!("a/m"));
    let runtime = ProviderRuntime::default();
    let (msg, _) = stream(&failover_chain(&cfg, &runtime, Some(&ModelRef::new("b", "m"))).unwrap(), &request("x")).await;
    assert_eq!(msg.unwrap().provider, "b");
    assert_eq!(a.request_count(), 0);
    assert!(matches!(failover_chain(&cfg, &runtime, Some(&ModelRef::new("nope", "m"))), Err(ProviderError::Config { .. })));
}

#[tokio::test]
async fn context_length_errors_neither_retry_nor_fail_over() {
    let primary = ScriptedAnthropic::start([Reply::context_length_exceeded()]).await.unwrap();
    let fallback = ScriptedOpenAi::start([Reply::text(["no"])]).await.unwrap();
    let cfg = config(
        json!({"a": primary.provider_config(Some(KEY), &["m"]), "b": fallback.provider_config(Some(KEY), &["m"])}),
        json!({"primary": "a/m", "fallbacks": ["b/m"]}),
    );
    let runtime = ProviderRuntime::default();
    let (msg, _) = stream(&failover_chain(&cfg, &runtime, None).unwrap(), &request("x")).await;
    assert!(matches!(msg, Err(ProviderError::ContextLength { .. })), "{msg:?}");
    assert_eq!((primary.request_count(), fallback.request_count()), (1, 0));
}

#[tokio::test]
async fn failures_before_output_are_retried_but_not_after_output() {
    // Broken before anything streamed: retried on the same model.
    let llm = ScriptedOpenAi::start([Reply::close_mid_stream(Vec::<String>::new()), Reply::text(["second"])]).await.unwrap();
    let cfg = config(json!({"p": llm.provider_config(Some(KEY), &["m"])}), json!("p/m"));
    let runtime = ProviderRuntime::default();
    let (msg, _) = stream(&failover_chain(&cfg, &runtime, None).unwrap(), &request("x")).await;
    assert_eq!(msg.unwrap().text(), "second");
    assert_eq!(llm.request_count(), 2);

    // Broken after text reached the user: final, no retry, no failover (no duplicated text).
    let primary = ScriptedAnthropic::start([Reply::close_mid_stream(["half an ans"])]).await.unwrap();
    let fallback = ScriptedOpenAi::start([Reply::text(["other"])]).await.unwrap();
    let cfg = config(
        json!({"a": primary.provider_config(Some(KEY), &["m"]), "b": fallback.provider_config(Some(KEY), &["m"])}),
        json!({"primary": "a/m", "fallbacks": ["b/m"]}),
    );
    let runtime = ProviderRuntime::default();
    let (msg, deltas) = stream(&failover_chain(&cfg, &runtime, None).unwrap(), &request("x")).await;
    assert!(matches!(msg, Err(ProviderError::Truncated { .. })), "{msg:?}");
    assert_eq!(texts(&deltas), ["half an ans"]);
    assert_eq!((primary.request_count(), fallback.request_count()), (1, 0));
}

#[tokio::test]
async fn in_stream_errors_are_classified_and_retried() {
    let llm = ScriptedAnthropic::start([Reply::stream_error(Vec::<String>::new(), "overloaded_error", "Overloaded"), Reply::text(["ok"])])
        .await
        .unwrap();
    let (msg, _) = stream(&bare_client(&llm, json!({})), &request("x")).await;
    assert!(matches!(msg, Err(ProviderError::Http { status: 529, .. })), "{msg:?}");
    let cfg = config(json!({"p": llm.provider_config(Some(KEY), &["m"])}), json!("p/m"));
    let runtime = ProviderRuntime::default();
    let (msg, _) = stream(&failover_chain(&cfg, &runtime, None).unwrap(), &request("x")).await;
    assert_eq!(msg.unwrap().text(), "ok");
}

#[tokio::test]
async fn garbage_is_malformed() {
    for llm in [ScriptedOpenAi::start([Reply::garbage()]).await.unwrap(), ScriptedAnthropic::start([Reply::garbage()]).await.unwrap()] {
        let (msg, _) = stream(&bare_client(&llm, json!({})), &request("x")).await;
        assert!(matches!(msg, Err(ProviderError::Malformed { .. })), "{}: {msg:?}", llm.api());
    }
}

#[tokio::test]
async fn closed_or_broken_streams_are_truncated() {
    for llm in [
        ScriptedOpenAi::start([Reply::close_mid_stream(["Hel"]), Reply::reset_mid_stream(["Hel"])]).await.unwrap(),
        ScriptedAnthropic::start([Reply::close_mid_stream(["Hel"]), Reply::reset_mid_stream(["Hel"])]).await.unwrap(),
    ] {
        let client = bare_client(&llm, json!({}));
        for _ in 0..2 {
            let (msg, deltas) = stream(&client, &request("x")).await;
            assert!(matches!(msg, Err(ProviderError::Truncated { .. })), "{}: {msg:?}", llm.api());
            assert_eq!(texts(&deltas), ["Hel"]);
        }
    }
}

#[tokio::test]
async fn a_stalled_stream_times_out_after_the_stall_timeout() {
    for llm in [
        ScriptedOpenAi::start([Reply::stall_after(["Hel"])]).await.unwrap(),
        ScriptedAnthropic::start([Reply::stall_after(["Hel"])]).await.unwrap(),
    ] {
        let client = bare_client(&llm, json!({"stallTimeoutSeconds": 0.3}));
        let started = Instant::now();
        let (msg, deltas) = stream(&client, &request("x")).await;
        let took = started.elapsed();
        assert!(matches!(msg, Err(ProviderError::Timeout { .. })), "{}: {msg:?}", llm.api());
        assert_eq!(texts(&deltas), ["Hel"]);
        assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(3), "{took:?}");
    }
}

#[tokio::test]
async fn slow_response_headers_hit_the_first_byte_timeout() {
    let llm = ScriptedOpenAi::start([Reply::text(["late"]).header_delay(Duration::from_secs(5))]).await.unwrap();
    let client = bare_client(&llm, json!({"firstByteTimeoutSeconds": 0.3}));
    let started = Instant::now();
    let (msg, _) = stream(&client, &request("x")).await;
    assert!(matches!(msg, Err(ProviderError::Timeout { .. })), "{msg:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn cancelling_mid_stream_aborts_promptly() {
    let llm = ScriptedOpenAi::start([Reply::slow(["a", "b", "c", "d", "e", "f"], Duration::from_millis(300))]).await.unwrap();
    let cfg = config(json!({"p": llm.provider_config(Some(KEY), &["m"])}), json!("p/m"));
    let runtime = ProviderRuntime::default();
    let client = failover_chain(&cfg, &runtime, None).unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let mut cancelled_at = None;
    let mut deltas = Vec::new();
    let mut sink = |d: StreamDelta| {
        if cancelled_at.is_none() {
            cancelled_at = Some(Instant::now());
            trigger.cancel();
        }
        deltas.push(d);
    };
    let result = client.stream(&request("x"), &cancel, &mut sink).await;
    let elapsed = cancelled_at.map(|t| t.elapsed()).unwrap();
    assert!(matches!(result, Err(ProviderError::Aborted)), "{result:?}");
    assert!(elapsed < Duration::from_millis(200), "abort took {elapsed:?}");
    assert_eq!(llm.request_count(), 1, "an abort must not be retried");
    assert_eq!(deltas.len(), 1);
}

#[tokio::test]
async fn cancelling_during_a_retry_backoff_aborts_promptly() {
    let llm = ScriptedOpenAi::start([Reply::status(429).retry_after(30)]).await.unwrap();
    let cfg = config(json!({"p": llm.provider_config(Some(KEY), &["m"])}), json!("p/m"));
    let runtime = ProviderRuntime::default();
    let client = failover_chain(&cfg, &runtime, None).unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let mut sink = |_d: StreamDelta| {};
    let result = client.stream(&request("x"), &cancel, &mut sink).await;
    assert!(matches!(result, Err(ProviderError::Aborted)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn private_network_base_urls_are_refused_unless_allowed() {
    for url in ["http://10.0.0.1:8000/v1", "http://192.168.1.20/v1", "http://169.254.169.254/latest"] {
        let err = config_with_env(json!({"lan": {"api": "openai-completions", "baseUrl": url}}), json!("lan/m"), &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("models.providers.lan.allowPrivateNetwork"), "{text}");
        let cfg = config(json!({"lan": {"api": "openai-completions", "baseUrl": url, "allowPrivateNetwork": true}}), json!("lan/m"));
        let runtime = ProviderRuntime::default();
        client_for(&cfg, &runtime, &ModelRef::new("lan", "m")).unwrap();
    }
    // Loopback is always fine.
    let llm = ScriptedOpenAi::start([Reply::text(["local"])]).await.unwrap();
    let (msg, _) = stream(&bare_client(&llm, json!({})), &request("x")).await;
    assert_eq!(msg.unwrap().text(), "local");
}

#[tokio::test]
async fn api_keys_from_env_are_sent_and_never_shown() {
    let llm = ScriptedOpenAi::start([
        Reply::text(["ok"]),
        // A hostile server echoing the key back in its error message.
        Reply::status(401).message(format!("Incorrect API key provided: {KEY}")),
        Reply::status(500).message(format!("boom {KEY}")),
    ])
    .await
    .unwrap();
    let mut entry = llm.provider_config(None, &["m"]);
    entry.as_object_mut().unwrap().remove("apiKey");
    let cfg = config_with_env(json!({"my-llm": entry}), json!("my-llm/m"), &[("MY_LLM_API_KEY", KEY)]).unwrap();
    let runtime = ProviderRuntime::default();
    assert!(!format!("{cfg:?}").contains(KEY), "the key leaked into Debug output");
    let client = client_for(&cfg, &runtime, &ModelRef::new("my-llm", "m")).unwrap();
    stream(&client, &request("x")).await.0.unwrap();
    assert_eq!(llm.requests()[0].bearer_token(), Some(KEY));

    let (err, _) = stream(&client, &request("x")).await;
    let err = err.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { status: 401, .. }), "{err:?}");
    let (text, debug) = (err.to_string(), format!("{err:?}"));
    assert!(!text.contains(KEY) && !debug.contains(KEY), "{text}");
    assert!(text.contains("MY_LLM_API_KEY"), "the hint should name where the key came from: {text}");
    let (err, _) = stream(&client, &request("x")).await;
    assert!(!err.unwrap_err().to_string().contains(KEY));

    // A SecretRef names the variable; a missing one is a config error that names it.
    let llm2 = ScriptedAnthropic::start([Reply::text(["ok"])]).await.unwrap();
    let mut entry = llm2.provider_config(None, &["m"]);
    entry["apiKey"] = json!({"source": "env", "provider": "default", "id": "SCRIPTED_KEY"});
    let cfg = config_with_env(json!({"s": entry.clone()}), json!("s/m"), &[("SCRIPTED_KEY", KEY)]).unwrap();
    let runtime = ProviderRuntime::default();
    stream(&client_for(&cfg, &runtime, &ModelRef::new("s", "m")).unwrap(), &request("x")).await.0.unwrap();
    assert_eq!(llm2.requests()[0].header("x-api-key"), Some(KEY));
    let err = config_with_env(json!({"s": entry}), json!("s/m"), &[]).unwrap_err();
    assert_eq!(err.to_string(), "models.providers.s.apiKey: environment variable SCRIPTED_KEY is not set");
}

#[tokio::test]
async fn an_exhausted_script_answers_500_with_a_clear_message() {
    let llm = ScriptedOpenAi::start([]).await.unwrap();
    let (msg, _) = stream(&bare_client(&llm, json!({})), &request("x")).await;
    match msg {
        Err(ProviderError::Http { status: 500, message, .. }) => {
            assert!(message.contains("script exhausted"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let requests = llm.wait_for_requests(1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(requests.len(), 1);
}
