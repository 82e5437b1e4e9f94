//! `api: "anthropic-messages"`: the streaming Messages API (`POST {baseUrl}/v1/messages`).
//!
//! OpenClaw's `baseUrl` for this API is the root the Anthropic SDK appends `/v1/messages` to
//! (`https://api.anthropic.com`, `https://api.minimax.io/anthropic`); a `baseUrl` that already
//! ends in `/v1` gets only `/messages`.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::config::{ModelConfig, ProviderConfig};
use crate::model::{now_ms, AssistantMessage, Content, Message, StopReason, Usage};
use crate::provider::{DeltaSink, ModelClient, ModelRequest, ProviderError, StreamDelta};
use crate::providers::history::{arguments_object, normalize};
use crate::providers::http::{excerpt, Transport};
use crate::providers::parse_arguments;

pub const API: &str = "anthropic-messages";
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API; this is used when neither request nor model sets it.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// A Messages API client for one model.
pub struct AnthropicClient {
    transport: Transport,
    url: reqwest::Url,
    model: ModelConfig,
}

/// `{baseUrl}/v1/messages`, without doubling a `/v1` the base URL already has.
pub fn messages_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

impl AnthropicClient {
    pub fn new(provider: &ProviderConfig, model: ModelConfig, http: reqwest::Client) -> Result<AnthropicClient, ProviderError> {
        let mut transport = Transport::new(provider, http, |key| vec![("x-api-key", key.to_string())])?;
        if !transport.headers.contains_key("anthropic-version") {
            transport.headers.insert("anthropic-version", reqwest::header::HeaderValue::from_static(ANTHROPIC_VERSION));
        }
        let url = reqwest::Url::parse(&messages_url(&provider.base_url))
            .map_err(|e| ProviderError::Config { message: format!("models.providers.{}.baseUrl: {e}", provider.id) })?;
        Ok(AnthropicClient { transport, url, model })
    }

    async fn run(
        &self,
        request: &ModelRequest,
        cancel: &CancellationToken,
        on_delta: DeltaSink<'_>,
    ) -> Result<AssistantMessage, ProviderError> {
        let body = request_body(&self.model, request);
        tracing::debug!(provider = %self.transport.provider, model = %self.model.id, messages = request.messages.len(), "messages request");
        let mut sse = self.transport.open_sse(&self.url, &body, cancel).await?;
        let mut state = StreamState::default();
        while let Some(event) = sse.next(cancel).await? {
            if state.on_event(&event.data, &self.transport, on_delta)? {
                break;
            }
        }
        state.finish(&self.transport, &self.model.id)
    }
}

impl ModelClient for AnthropicClient {
    fn label(&self) -> String {
        format!("{}/{}", self.transport.provider, self.model.id)
    }

    fn stream<'a>(
        &'a self,
        request: &'a ModelRequest,
        cancel: &'a CancellationToken,
        on_delta: DeltaSink<'a>,
    ) -> BoxFuture<'a, Result<AssistantMessage, ProviderError>> {
        Box::pin(self.run(request, cancel, on_delta))
    }
}

/// The JSON request for a [`ModelRequest`].
pub fn request_body(model: &ModelConfig, request: &ModelRequest) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model.id));
    let (max_tokens, thinking_budget) = output_tokens(model, request);
    if let Some(budget) = thinking_budget {
        body.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
    }
    body.insert("max_tokens".into(), json!(max_tokens));
    body.insert("stream".into(), json!(true));
    if !request.system_prompt.is_empty() {
        body.insert("system".into(), json!(request.system_prompt));
    }
    body.insert("messages".into(), Value::Array(messages(&request.messages, model)));
    if !request.tools.is_empty() {
        let tools =
            request.tools.iter().map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters})).collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    // Anthropic refuses a temperature together with extended thinking.
    if let Some(t) = request.temperature.filter(|_| thinking_budget.is_none()) {
        body.insert("temperature".into(), json!(t));
    }
    Value::Object(body)
}

/// The API's smallest thinking budget.
const MIN_THINKING_BUDGET: u32 = 1024;

/// `max_tokens` and the thinking budget. The budget is part of `max_tokens`, which must exceed
/// it and leave room for the answer; a configured `maxTokens` is the model's output limit and
/// is never exceeded, nor is the context window left after the prompt. Thinking that no longer
/// fits the API's minimum budget is dropped rather than failing the request.
fn output_tokens(model: &ModelConfig, request: &ModelRequest) -> (u32, Option<u32>) {
    let configured = request.max_tokens.or(model.max_tokens);
    let Some(wanted) = request.thinking.budget_tokens().filter(|_| model.reasoning) else {
        return (configured.unwrap_or(DEFAULT_MAX_TOKENS), None);
    };
    let prompt = crate::context::estimate_request(&request.system_prompt, &request.messages, &request.tools);
    let left_in_window = u32::try_from(model.context_window.saturating_sub(prompt)).unwrap_or(u32::MAX);
    let limit = configured.unwrap_or(u32::MAX).min(left_in_window);
    let max_tokens = wanted.saturating_add(DEFAULT_MAX_TOKENS).min(limit);
    let room = (max_tokens / 4).min(DEFAULT_MAX_TOKENS);
    let budget = wanted.min(max_tokens.saturating_sub(room));
    if budget < MIN_THINKING_BUDGET {
        return (configured.unwrap_or(DEFAULT_MAX_TOKENS).min(limit.max(1)), None);
    }
    (max_tokens, Some(budget))
}

/// Anthropic tool ids must match `^[a-zA-Z0-9_-]+$`; ids made by other providers (after a
/// failover, e.g. Kimi's `functions.read:0`) are mapped consistently for calls and results.
fn tool_id(id: &str) -> String {
    let clean: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if clean.is_empty() {
        "toolu_unknown".to_string()
    } else {
        clean
    }
}

fn content_blocks(content: &[Content], model: &ModelConfig) -> Vec<Value> {
    content
        .iter()
        .filter_map(|c| match c {
            Content::Text { text } if !text.is_empty() => Some(json!({"type": "text", "text": text})),
            Content::Image { data, mime_type } if model.accepts_images() => {
                Some(json!({"type": "image", "source": {"type": "base64", "media_type": mime_type, "data": data}}))
            }
            Content::Image { .. } => Some(json!({"type": "text", "text": format!("[image omitted: {} does not accept images]", model.id)})),
            _ => None,
        })
        .collect()
}

/// The `messages` array. Consecutive turns of one role are merged (tool results and the user's
/// next words share one user turn, results first, as the API requires).
pub fn messages(transcript: &[Message], model: &ModelConfig) -> Vec<Value> {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in normalize(transcript) {
        let (role, blocks) = match message {
            Message::User(u) => ("user", content_blocks(&u.content, model)),
            Message::Assistant(a) => {
                // Signed thinking goes back first and unchanged (with extended thinking on, the
                // API refuses a tool-use turn without it); thinking from other providers, which
                // has no signature, cannot be replayed and is left out.
                let ours = a.api == API;
                let mut blocks: Vec<Value> = a
                    .content
                    .iter()
                    .filter_map(|c| match c {
                        Content::Thinking { signature: Some(data), redacted: true, .. } if ours => {
                            Some(json!({"type": "redacted_thinking", "data": data}))
                        }
                        Content::Thinking { thinking, signature: Some(signature), redacted: false } if ours => {
                            Some(json!({"type": "thinking", "thinking": thinking, "signature": signature}))
                        }
                        _ => None,
                    })
                    .collect();
                blocks.extend(a.content.iter().filter_map(|c| match c {
                    Content::Text { text } if !text.is_empty() => Some(json!({"type": "text", "text": text})),
                    _ => None,
                }));
                blocks.extend(
                    a.tool_calls()
                        .map(|c| json!({"type": "tool_use", "id": tool_id(c.id), "name": c.name, "input": arguments_object(c.arguments)})),
                );
                ("assistant", blocks)
            }
            Message::ToolResult(r) => {
                let mut inner = content_blocks(&r.content, model);
                if inner.is_empty() {
                    inner.push(json!({"type": "text", "text": "(no output)"}));
                }
                let mut block = json!({"type": "tool_result", "tool_use_id": tool_id(&r.tool_call_id), "content": inner});
                if r.is_error {
                    block["is_error"] = json!(true);
                }
                ("user", vec![block])
            }
            Message::CompactionSummary(s) => ("user", vec![json!({"type": "text", "text": super::summary_text(&s.summary)})]),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    // The conversation must open with a user turn (compaction can leave an assistant first).
    if turns.first().is_some_and(|(role, _)| *role == "assistant") {
        turns.insert(0, ("user", vec![json!({"type": "text", "text": "(earlier conversation omitted)"})]));
    }
    turns.into_iter().map(|(role, blocks)| json!({"role": role, "content": blocks})).collect()
}

/// One content block being streamed.
#[derive(Debug)]
enum Block {
    Text(String),
    Thinking {
        text: String,
        signature: String,
    },
    /// Thinking the API encrypted: only its `data`, to be sent back as is.
    RedactedThinking(String),
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
    /// Server tools, future block types: not part of the transcript.
    Other,
}

/// Accumulates Messages API events into the final message.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    blocks: BTreeMap<u64, Block>,
    usage: Usage,
    stop_reason: Option<String>,
    stopped: bool,
}

impl StreamState {
    /// Feed one event's data; `Ok(true)` at `message_stop`. The type is read from the data (it
    /// repeats the `event:` name), which also covers proxies that drop `event:` lines.
    pub(crate) fn on_event(&mut self, data: &str, t: &Transport, on_delta: DeltaSink<'_>) -> Result<bool, ProviderError> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(false);
        }
        let event: Value = serde_json::from_str(data).map_err(|_| t.malformed(format!("not JSON: {}", excerpt(data))))?;
        let Some(kind) = event.get("type").and_then(Value::as_str) else {
            return Err(t.malformed(format!("event without a type: {}", excerpt(data))));
        };
        let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                if let Some(u) = event.get("message").and_then(|m| m.get("usage")) {
                    self.apply_usage(u);
                }
            }
            "content_block_start" => {
                let block = event.get("content_block").unwrap_or(&Value::Null);
                let text = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or("").to_string();
                let new = match block.get("type").and_then(Value::as_str) {
                    Some("text") => Block::Text(text("text")),
                    Some("thinking") => Block::Thinking { text: text("thinking"), signature: text("signature") },
                    Some("redacted_thinking") => Block::RedactedThinking(text("data")),
                    Some("tool_use") => {
                        let (id, name) = (text("id"), text("name"));
                        on_delta(StreamDelta::ToolCallStarted { id: id.clone(), name: name.clone() });
                        // `input` is `{}` here and the real arguments stream as JSON text.
                        Block::ToolUse { id, name, json: String::new() }
                    }
                    Some(_) => Block::Other,
                    None => return Err(t.malformed(format!("content_block_start without a block type: {}", excerpt(data)))),
                };
                match &new {
                    Block::Text(s) if !s.is_empty() => on_delta(StreamDelta::Text(s.clone())),
                    Block::Thinking { text, .. } if !text.is_empty() => on_delta(StreamDelta::Thinking(text.clone())),
                    _ => {}
                }
                self.blocks.insert(index, new);
            }
            "content_block_delta" => {
                let delta = event.get("delta").unwrap_or(&Value::Null);
                let field = |key: &str| delta.get(key).and_then(Value::as_str).unwrap_or("");
                match (delta.get("type").and_then(Value::as_str), self.blocks.get_mut(&index)) {
                    (Some("text_delta"), Some(Block::Text(s))) => {
                        s.push_str(field("text"));
                        on_delta(StreamDelta::Text(field("text").to_string()));
                    }
                    (Some("thinking_delta"), Some(Block::Thinking { text, .. })) => {
                        text.push_str(field("thinking"));
                        on_delta(StreamDelta::Thinking(field("thinking").to_string()));
                    }
                    (Some("signature_delta"), Some(Block::Thinking { signature, .. })) => signature.push_str(field("signature")),
                    (Some("input_json_delta"), Some(Block::ToolUse { json, .. })) => json.push_str(field("partial_json")),
                    (Some("text_delta" | "thinking_delta" | "input_json_delta"), _) => {
                        return Err(t.malformed(format!("delta for a block that was not started: {}", excerpt(data))));
                    }
                    // citations_delta and future delta types.
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = event.get("delta").and_then(|d| d.get("stop_reason")).and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_string());
                }
                if let Some(u) = event.get("usage") {
                    self.apply_usage(u);
                }
            }
            "message_stop" => {
                self.stopped = true;
                return Ok(true);
            }
            "error" => return Err(t.error_object(&event, None)),
            // ping, content_block_stop, and event types added later.
            _ => {}
        }
        Ok(false)
    }

    /// `message_start` carries input (and a provisional output) count; `message_delta` the
    /// cumulative output count, and sometimes input counts too (proxies).
    fn apply_usage(&mut self, u: &Value) {
        let n = |key: &str| u.get(key).and_then(Value::as_u64);
        if let Some(v) = n("input_tokens").filter(|v| *v > 0) {
            self.usage.input = v;
        }
        if let Some(v) = n("output_tokens") {
            self.usage.output = v;
        }
        if let Some(v) = n("cache_read_input_tokens").filter(|v| *v > 0) {
            self.usage.cache_read = v;
        }
        if let Some(v) = n("cache_creation_input_tokens").filter(|v| *v > 0) {
            self.usage.cache_write = v;
        }
        let u = &self.usage;
        self.usage.total_tokens = u.input + u.output + u.cache_read + u.cache_write;
    }

    pub(crate) fn finish(self, t: &Transport, model: &str) -> Result<AssistantMessage, ProviderError> {
        if !self.stopped && self.stop_reason.is_none() {
            return Err(ProviderError::Truncated { provider: t.provider.clone() });
        }
        let mut content = Vec::new();
        for block in self.blocks.into_values() {
            match block {
                Block::Text(text) if !text.is_empty() => content.push(Content::Text { text }),
                Block::Thinking { text, signature } if !text.is_empty() || !signature.is_empty() => content.push(Content::Thinking {
                    thinking: text,
                    signature: Some(signature).filter(|s| !s.is_empty()),
                    redacted: false,
                }),
                Block::RedactedThinking(data) if !data.is_empty() => {
                    content.push(Content::Thinking { thinking: String::new(), signature: Some(data), redacted: true })
                }
                Block::ToolUse { id, name, json } => content.push(Content::ToolCall { id, name, arguments: parse_arguments(&json) }),
                _ => {}
            }
        }
        let has_calls = content.iter().any(|c| matches!(c, Content::ToolCall { .. }));
        let stop_reason = match self.stop_reason.as_deref() {
            Some("max_tokens" | "model_context_window_exceeded") => StopReason::Length,
            Some("tool_use") => StopReason::ToolUse,
            Some("refusal") => {
                let text: String = content.iter().filter_map(Content::as_text).collect();
                let message = if text.is_empty() { "stop_reason refusal".to_string() } else { excerpt(&text) };
                return Err(ProviderError::Refusal { provider: t.provider.clone(), message });
            }
            _ if has_calls => StopReason::ToolUse,
            _ => StopReason::Stop,
        };
        tracing::debug!(provider = %t.provider, model, input = self.usage.input, output = self.usage.output, stop = stop_reason.as_str(), "messages response done");
        Ok(AssistantMessage {
            content,
            api: API.to_string(),
            provider: t.provider.clone(),
            model: model.to_string(),
            usage: self.usage,
            stop_reason,
            error_message: None,
            timestamp: now_ms(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Api;
    use crate::model::{ToolResultMessage, UserMessage};

    fn transport() -> Transport {
        let provider = ProviderConfig {
            id: "a".into(),
            api: Api::AnthropicMessages,
            base_url: "https://x".into(),
            api_key: None,
            headers: Default::default(),
            models: vec![],
            allow_private_network: false,
            request_timeout: std::time::Duration::from_secs(1),
            first_byte_timeout: std::time::Duration::from_secs(1),
            stall_timeout: std::time::Duration::from_secs(1),
        };
        Transport::new(&provider, reqwest::Client::new(), |_| vec![]).unwrap()
    }

    fn feed(events: &[Value]) -> (Result<AssistantMessage, ProviderError>, Vec<StreamDelta>) {
        let t = transport();
        let mut deltas = Vec::new();
        let mut sink = |d: StreamDelta| deltas.push(d);
        let mut state = StreamState::default();
        for e in events {
            match state.on_event(&e.to_string(), &t, &mut sink) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return (Err(e), deltas),
            }
        }
        (state.finish(&t, "claude"), deltas)
    }

    #[test]
    fn urls_do_not_double_v1() {
        assert_eq!(messages_url("https://api.anthropic.com"), "https://api.anthropic.com/v1/messages");
        assert_eq!(messages_url("https://api.minimax.io/anthropic/"), "https://api.minimax.io/anthropic/v1/messages");
        assert_eq!(messages_url("https://proxy/v1"), "https://proxy/v1/messages");
    }

    #[test]
    fn accumulates_blocks_and_usage() {
        let (msg, deltas) = feed(&[
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 3}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "x"}}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}}),
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"pa"}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "th\":\"a\"}"}}),
            json!({"type": "content_block_stop", "index": 2}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}}),
            json!({"type": "message_stop"}),
        ]);
        let msg = msg.unwrap();
        assert_eq!(msg.stop_reason, StopReason::ToolUse);
        assert_eq!(
            msg.content,
            vec![
                Content::Thinking { thinking: "hm".into(), signature: Some("x".into()), redacted: false },
                Content::text("Hi"),
                Content::ToolCall { id: "toolu_1".into(), name: "read".into(), arguments: json!({"path": "a"}) },
            ]
        );
        assert_eq!(msg.usage, Usage { input: 12, output: 20, cache_read: 3, cache_write: 0, total_tokens: 35 });
        assert_eq!(deltas.len(), 3);
    }

    #[test]
    fn errors_truncation_and_refusal() {
        assert!(matches!(
            feed(&[json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})]).0,
            Err(ProviderError::Http { status: 529, .. })
        ));
        let start = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}});
        assert!(matches!(feed(std::slice::from_ref(&start)).0, Err(ProviderError::Truncated { .. })));
        assert!(matches!(
            feed(&[start, json!({"type": "message_delta", "delta": {"stop_reason": "refusal"}})]).0,
            Err(ProviderError::Refusal { .. })
        ));
        assert!(matches!(feed(&[json!(["x"])]).0, Err(ProviderError::Malformed { .. })));
    }

    #[test]
    fn thinking_enables_extended_thinking_with_room_for_the_answer() {
        let mut model = ModelConfig::unlisted("claude");
        model.reasoning = true;
        let request = ModelRequest { thinking: crate::provider::ThinkingLevel::Medium, temperature: Some(0.2), ..ModelRequest::default() };
        let body = request_body(&model, &request);
        assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 10_000}));
        assert!(body["max_tokens"].as_u64().unwrap() > 10_000, "{body}");
        assert!(body.get("temperature").is_none(), "Anthropic refuses temperature with thinking");
        // A configured output limit is kept: the budget shrinks to fit, leaving room to answer.
        model.max_tokens = Some(8000);
        let high = ModelRequest { thinking: crate::provider::ThinkingLevel::High, ..ModelRequest::default() };
        let body = request_body(&model, &high);
        assert_eq!((body["max_tokens"].as_u64(), body["thinking"]["budget_tokens"].as_u64()), (Some(8000), Some(6000)), "{body}");
        // Too small for the API's 1024-token minimum: no thinking rather than a refused request.
        model.max_tokens = Some(1200);
        let body = request_body(&model, &high);
        assert!(body.get("thinking").is_none(), "{body}");
        assert_eq!(body["max_tokens"], 1200);
        model.max_tokens = None;
        model.reasoning = false;
        let plain = request_body(&model, &request);
        assert!(plain.get("thinking").is_none());
        assert_eq!(plain["temperature"], json!(0.2_f32));
    }

    #[test]
    fn request_shape() {
        let model = ModelConfig::unlisted("claude");
        let request = ModelRequest {
            system_prompt: "sys".into(),
            messages: vec![
                Message::User(UserMessage {
                    content: vec![Content::text("look"), Content::Image { data: "AAA".into(), mime_type: "image/png".into() }],
                    timestamp: 0,
                }),
                Message::Assistant(AssistantMessage {
                    content: vec![
                        Content::Thinking { thinking: "t".into(), signature: Some("sig".into()), redacted: false },
                        Content::Thinking { thinking: String::new(), signature: Some("enc".into()), redacted: true },
                        Content::thinking("unsigned, from another provider"),
                        Content::ToolCall { id: "functions.read:0".into(), name: "read".into(), arguments: json!("{bad") },
                    ],
                    api: API.into(),
                    provider: "a".into(),
                    model: "claude".into(),
                    usage: Usage::default(),
                    stop_reason: StopReason::ToolUse,
                    error_message: None,
                    timestamp: 1,
                }),
                Message::ToolResult(ToolResultMessage {
                    tool_call_id: "functions.read:0".into(),
                    tool_name: "read".into(),
                    content: vec![Content::text("bad args")],
                    details: None,
                    is_error: true,
                    timestamp: 2,
                }),
                Message::user_text("and now?", 3),
            ],
            tools: vec![],
            max_tokens: None,
            temperature: Some(0.5),
            thinking: Default::default(),
        };
        assert_eq!(
            request_body(&model, &request),
            json!({
                "model": "claude",
                "max_tokens": 4096,
                "stream": true,
                "system": "sys",
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "look"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}]},
                    {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": "t", "signature": "sig"},
                        {"type": "redacted_thinking", "data": "enc"},
                        {"type": "tool_use", "id": "functions_read_0", "name": "read", "input": {}}]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "functions_read_0", "content": [{"type": "text", "text": "bad args"}], "is_error": true},
                        {"type": "text", "text": "and now?"}]}
                ],
                "temperature": 0.5
            })
        );
    }
}
