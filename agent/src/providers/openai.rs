//! `api: "openai-completions"`: streaming Chat Completions (`POST {baseUrl}/chat/completions`),
//! the dialect of OpenAI, OpenRouter, Groq, vLLM, llama.cpp, Ollama, LiteLLM, …

use futures_util::future::BoxFuture;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::config::{ModelConfig, ProviderConfig};
use crate::model::{now_ms, AssistantMessage, Content, Message, StopReason, Usage};
use crate::provider::{DeltaSink, ModelClient, ModelRequest, ProviderError, StreamDelta};
use crate::providers::history::{arguments_text, normalize};
use crate::providers::http::{excerpt, Transport};
use crate::providers::parse_arguments;

pub const API: &str = "openai-completions";

/// A Chat Completions client for one model.
pub struct OpenAiClient {
    transport: Transport,
    url: reqwest::Url,
    model: ModelConfig,
    /// api.openai.com wants `max_completion_tokens` (reasoning models reject `max_tokens`);
    /// compatible servers mostly only know `max_tokens`.
    max_completion_tokens: bool,
}

impl OpenAiClient {
    pub fn new(provider: &ProviderConfig, model: ModelConfig, http: reqwest::Client) -> Result<OpenAiClient, ProviderError> {
        let transport = Transport::new(provider, http, |key| vec![("authorization", format!("Bearer {key}"))])?;
        let url = reqwest::Url::parse(&format!("{}/chat/completions", provider.base_url.trim_end_matches('/')))
            .map_err(|e| ProviderError::Config { message: format!("models.providers.{}.baseUrl: {e}", provider.id) })?;
        let max_completion_tokens = provider.id == "openai" || url.host_str() == Some("api.openai.com");
        Ok(OpenAiClient { transport, url, model, max_completion_tokens })
    }

    async fn run(
        &self,
        request: &ModelRequest,
        cancel: &CancellationToken,
        on_delta: DeltaSink<'_>,
    ) -> Result<AssistantMessage, ProviderError> {
        let body = request_body(&self.model, request, self.max_completion_tokens);
        tracing::debug!(provider = %self.transport.provider, model = %self.model.id, messages = request.messages.len(), "chat completion request");
        let mut sse = self.transport.open_sse(&self.url, &body, cancel).await?;
        let mut state = StreamState::default();
        while let Some(event) = sse.next(cancel).await? {
            if state.on_data(&event.data, &self.transport, on_delta)? {
                break;
            }
        }
        state.finish(&self.transport, &self.model.id)
    }
}

impl ModelClient for OpenAiClient {
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
pub fn request_body(model: &ModelConfig, request: &ModelRequest, max_completion_tokens: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model.id));
    body.insert("messages".into(), Value::Array(messages(&request.system_prompt, &request.messages, model)));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(max) = request.max_tokens.or(model.max_tokens) {
        let key = if max_completion_tokens { "max_completion_tokens" } else { "max_tokens" };
        body.insert(key.into(), json!(max));
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    // Only reasoning models take the parameter; others reject it.
    if let Some(effort) = request.thinking.reasoning_effort().filter(|_| model.reasoning) {
        body.insert("reasoning_effort".into(), json!(effort));
    }
    Value::Object(body)
}

fn image_omitted(model: &ModelConfig) -> String {
    format!("[image omitted: {} does not accept images]", model.id)
}

fn data_url(mime_type: &str, data: &str) -> Value {
    json!({"type": "image_url", "image_url": {"url": format!("data:{mime_type};base64,{data}")}})
}

/// User content: a plain string when it is text only (what every compatible server accepts),
/// content parts when there are images.
fn user_content(content: &[Content], model: &ModelConfig) -> Value {
    let has_images = model.accepts_images() && content.iter().any(|c| matches!(c, Content::Image { .. }));
    if !has_images {
        let texts: Vec<String> = content
            .iter()
            .filter_map(|c| match c {
                Content::Text { text } => Some(text.clone()),
                Content::Image { .. } => Some(image_omitted(model)),
                _ => None,
            })
            .collect();
        return json!(texts.join("\n"));
    }
    let parts = content
        .iter()
        .filter_map(|c| match c {
            Content::Text { text } => Some(json!({"type": "text", "text": text})),
            Content::Image { data, mime_type } => Some(data_url(mime_type, data)),
            _ => None,
        })
        .collect();
    Value::Array(parts)
}

/// The `messages` array: system prompt first; tool results as `role: "tool"`; images from tool
/// results (which tool messages cannot carry) in one user message after the tool messages.
pub fn messages(system_prompt: &str, transcript: &[Message], model: &ModelConfig) -> Vec<Value> {
    let mut out = Vec::new();
    if !system_prompt.is_empty() {
        out.push(json!({"role": "system", "content": system_prompt}));
    }
    let mut tool_images: Vec<Value> = Vec::new();
    for message in normalize(transcript) {
        if !matches!(message, Message::ToolResult(_)) {
            flush_tool_images(&mut out, &mut tool_images);
        }
        match message {
            Message::User(u) => out.push(json!({"role": "user", "content": user_content(&u.content, model)})),
            Message::Assistant(a) => {
                let text = a.text();
                let mut m = Map::new();
                m.insert("role".into(), json!("assistant"));
                m.insert("content".into(), if text.is_empty() { Value::Null } else { json!(text) });
                let calls: Vec<Value> = a
                    .tool_calls()
                    .map(
                        |c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": arguments_text(c.arguments)}}),
                    )
                    .collect();
                if !calls.is_empty() {
                    m.insert("tool_calls".into(), Value::Array(calls));
                }
                out.push(Value::Object(m));
            }
            Message::ToolResult(r) => {
                let mut texts = Vec::new();
                for c in &r.content {
                    match c {
                        Content::Text { text } => texts.push(text.clone()),
                        Content::Image { data, mime_type } if model.accepts_images() => tool_images.push(data_url(mime_type, data)),
                        Content::Image { .. } => texts.push(image_omitted(model)),
                        _ => {}
                    }
                }
                let mut text = texts.join("\n");
                if text.is_empty() {
                    text = if r.content.is_empty() { "(no output)".into() } else { "(see the attached image)".into() };
                }
                out.push(json!({"role": "tool", "tool_call_id": r.tool_call_id, "content": text}));
            }
            Message::CompactionSummary(s) => out.push(json!({"role": "user", "content": super::summary_text(&s.summary)})),
        }
    }
    flush_tool_images(&mut out, &mut tool_images);
    out
}

fn flush_tool_images(out: &mut Vec<Value>, images: &mut Vec<Value>) {
    if images.is_empty() {
        return;
    }
    let mut parts = vec![json!({"type": "text", "text": "Images returned by the tool call(s) above:"})];
    parts.append(images);
    out.push(json!({"role": "user", "content": parts}));
}

/// A tool call being assembled from deltas.
#[derive(Debug, Default)]
struct PartialCall {
    index: u64,
    id: String,
    name: String,
    arguments: String,
    announced: bool,
}

/// Accumulates `chat.completion.chunk`s into the final message.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    text: String,
    thinking: String,
    calls: Vec<PartialCall>,
    finish_reason: Option<String>,
    usage: Usage,
    done: bool,
}

impl StreamState {
    /// Feed one `data:` payload; `Ok(true)` at `[DONE]`.
    pub(crate) fn on_data(&mut self, data: &str, t: &Transport, on_delta: DeltaSink<'_>) -> Result<bool, ProviderError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|_| t.malformed(format!("not JSON: {}", excerpt(data))))?;
        let Some(obj) = chunk.as_object() else {
            return Err(t.malformed(format!("expected a JSON object: {}", excerpt(data))));
        };
        if obj.get("error").is_some_and(|e| !e.is_null()) {
            return Err(t.error_object(&chunk, None));
        }
        if let Some(usage) = obj.get("usage").filter(|u| !u.is_null()) {
            self.usage = parse_usage(usage);
        }
        let choices = match obj.get("choices") {
            None | Some(Value::Null) => return Ok(false),
            Some(Value::Array(choices)) => choices,
            Some(_) => return Err(t.malformed(format!("\"choices\" is not an array: {}", excerpt(data)))),
        };
        // Only one choice is ever requested (no `n`).
        let Some(choice) = choices.first() else { return Ok(false) };
        if let Some(delta) = choice.get("delta").filter(|d| !d.is_null()) {
            self.apply_delta(delta, t, on_delta, data)?;
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
        }
        Ok(false)
    }

    fn apply_delta(&mut self, delta: &Value, t: &Transport, on_delta: DeltaSink<'_>, raw: &str) -> Result<(), ProviderError> {
        let text_field = |key: &str| -> Result<Option<&str>, ProviderError> {
            match delta.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(t.malformed(format!("delta.{key} is not a string: {}", excerpt(raw)))),
            }
        };
        // vLLM/DeepSeek say `reasoning_content`, OpenRouter/Ollama `reasoning`.
        let thinking = match text_field("reasoning_content")? {
            Some(s) => Some(s),
            None => text_field("reasoning")?,
        };
        if let Some(s) = thinking.filter(|s| !s.is_empty()) {
            self.thinking.push_str(s);
            on_delta(StreamDelta::Thinking(s.to_string()));
        }
        if let Some(s) = text_field("content")?.filter(|s| !s.is_empty()) {
            self.text.push_str(s);
            on_delta(StreamDelta::Text(s.to_string()));
        }
        match delta.get("tool_calls") {
            None | Some(Value::Null) => Ok(()),
            Some(Value::Array(calls)) => {
                for call in calls {
                    self.on_tool_call(call, on_delta);
                }
                Ok(())
            }
            Some(_) => Err(t.malformed(format!("delta.tool_calls is not an array: {}", excerpt(raw)))),
        }
    }

    fn on_tool_call(&mut self, call: &Value, on_delta: DeltaSink<'_>) {
        let id = call.get("id").and_then(Value::as_str).filter(|s| !s.is_empty());
        // `index` identifies the call across chunks; servers that omit it send each call whole
        // or with its id, so fall back to the id, then to "a new call" / "the last call".
        let index = match call.get("index").and_then(Value::as_u64) {
            Some(i) => i,
            None => match id {
                Some(id) => self.calls.iter().find(|c| c.id == id).map(|c| c.index).unwrap_or(self.calls.len() as u64),
                None => self.calls.last().map(|c| c.index).unwrap_or(0),
            },
        };
        let pos = match self.calls.iter().position(|c| c.index == index) {
            Some(pos) => pos,
            None => {
                self.calls.push(PartialCall { index, ..PartialCall::default() });
                self.calls.len() - 1
            }
        };
        let entry = &mut self.calls[pos];
        if let (Some(id), true) = (id, entry.id.is_empty()) {
            entry.id = id.to_string();
        }
        let function = call.get("function");
        if let Some(name) = function.and_then(|f| f.get("name")).and_then(Value::as_str) {
            // Some servers repeat the whole name in every chunk: set it once.
            if entry.name.is_empty() {
                entry.name = name.to_string();
            }
        }
        match function.and_then(|f| f.get("arguments")) {
            Some(Value::String(piece)) => entry.arguments.push_str(piece),
            // Ollama has sent arguments as an object rather than JSON text.
            Some(v @ Value::Object(_)) => entry.arguments = v.to_string(),
            _ => {}
        }
        if !entry.announced && !entry.name.is_empty() {
            if entry.id.is_empty() {
                entry.id = format!("call_{}", uuid::Uuid::new_v4().simple());
            }
            entry.announced = true;
            on_delta(StreamDelta::ToolCallStarted { id: entry.id.clone(), name: entry.name.clone() });
        }
    }

    pub(crate) fn finish(self, t: &Transport, model: &str) -> Result<AssistantMessage, ProviderError> {
        if !self.done && self.finish_reason.is_none() {
            return Err(ProviderError::Truncated { provider: t.provider.clone() });
        }
        let has_calls = self.calls.iter().any(|c| !c.name.is_empty());
        let stop_reason = match self.finish_reason.as_deref() {
            Some("length") => StopReason::Length,
            Some("content_filter") => {
                let message = if self.text.is_empty() { "content filter".to_string() } else { excerpt(&self.text) };
                return Err(ProviderError::Refusal { provider: t.provider.clone(), message });
            }
            // Some servers say "stop" even when the turn is tool calls.
            _ if has_calls => StopReason::ToolUse,
            _ => StopReason::Stop,
        };
        let mut content = Vec::new();
        if !self.thinking.is_empty() {
            content.push(Content::thinking(self.thinking));
        }
        if !self.text.is_empty() {
            content.push(Content::Text { text: self.text });
        }
        for call in self.calls.into_iter().filter(|c| !c.name.is_empty()) {
            content.push(Content::ToolCall { id: call.id, name: call.name, arguments: parse_arguments(&call.arguments) });
        }
        tracing::debug!(provider = %t.provider, model, input = self.usage.input, output = self.usage.output, stop = stop_reason.as_str(), "chat completion done");
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

fn parse_usage(u: &Value) -> Usage {
    let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let prompt = n(u.get("prompt_tokens"));
    let completion = n(u.get("completion_tokens"));
    let cached = n(u.get("prompt_tokens_details").and_then(|d| d.get("cached_tokens"))).min(prompt);
    Usage { input: prompt - cached, output: completion, cache_read: cached, cache_write: 0, total_tokens: prompt + completion }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Api, ModelConfig};
    use crate::model::{ToolResultMessage, UserMessage};
    use crate::provider::ToolSpec;

    fn transport() -> Transport {
        let provider = ProviderConfig {
            id: "p".into(),
            api: Api::OpenAiCompletions,
            base_url: "https://x/v1".into(),
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

    fn feed(lines: &[&str]) -> (Result<AssistantMessage, ProviderError>, Vec<StreamDelta>) {
        let t = transport();
        let mut deltas = Vec::new();
        let mut sink = |d: StreamDelta| deltas.push(d);
        let mut state = StreamState::default();
        for line in lines {
            match state.on_data(line, &t, &mut sink) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return (Err(e), deltas),
            }
        }
        (state.finish(&t, "m"), deltas)
    }

    #[test]
    fn accumulates_text_reasoning_tool_calls_and_usage() {
        let (msg, deltas) = feed(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"hmm"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"read","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c2","function":{"name":"ls","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"a\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4}}}"#,
            "[DONE]",
        ]);
        let msg = msg.unwrap();
        assert_eq!(msg.stop_reason, StopReason::ToolUse);
        assert_eq!(msg.text(), "Hi");
        let calls: Vec<_> = msg.tool_calls().map(|c| (c.id.to_string(), c.name.to_string(), c.arguments.clone())).collect();
        assert_eq!(calls, vec![("c1".into(), "read".into(), json!({"path": "a"})), ("c2".into(), "ls".into(), json!({}))]);
        assert_eq!(msg.usage, Usage { input: 6, output: 5, cache_read: 4, cache_write: 0, total_tokens: 15 });
        assert_eq!(
            deltas,
            vec![
                StreamDelta::Thinking("hmm".into()),
                StreamDelta::Text("Hi".into()),
                StreamDelta::ToolCallStarted { id: "c1".into(), name: "read".into() },
                StreamDelta::ToolCallStarted { id: "c2".into(), name: "ls".into() },
            ]
        );
    }

    #[test]
    fn garbage_truncation_filters_and_in_stream_errors() {
        assert!(matches!(feed(&["nope"]).0, Err(ProviderError::Malformed { .. })));
        assert!(matches!(feed(&[r#"{"choices":{}}"#]).0, Err(ProviderError::Malformed { .. })));
        assert!(matches!(feed(&[r#"{"choices":[{"delta":{"content":5}}]}"#]).0, Err(ProviderError::Malformed { .. })));
        assert!(matches!(feed(&[r#"{"choices":[{"delta":{"content":"a"}}]}"#]).0, Err(ProviderError::Truncated { .. })));
        assert!(matches!(
            feed(&[r#"{"choices":[{"delta":{"content":"a"},"finish_reason":"content_filter"}]}"#]).0,
            Err(ProviderError::Refusal { .. })
        ));
        assert!(matches!(feed(&[r#"{"error":{"message":"boom","type":"server_error"}}"#]).0, Err(ProviderError::Http { status: 500, .. })));
        // Invalid JSON arguments are kept raw; a stream without finish_reason but with [DONE] is fine.
        let (msg, _) = feed(&[
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"x","arguments":"{oops"}}]}}]}"#,
            "[DONE]",
        ]);
        assert_eq!(msg.unwrap().tool_calls().next().map(|c| c.arguments.clone()), Some(json!("{oops")));
    }

    #[test]
    fn thinking_becomes_reasoning_effort_for_reasoning_models_only() {
        let mut model = ModelConfig::unlisted("o-think");
        let request = ModelRequest { thinking: crate::provider::ThinkingLevel::XHigh, ..ModelRequest::default() };
        assert!(request_body(&model, &request, true).get("reasoning_effort").is_none(), "not a reasoning model");
        model.reasoning = true;
        assert_eq!(request_body(&model, &request, true)["reasoning_effort"], "high", "xhigh is capped at OpenAI's high");
        let off = ModelRequest::default();
        assert!(request_body(&model, &off, true).get("reasoning_effort").is_none());
    }

    #[test]
    fn request_shape() {
        let mut model = ModelConfig::unlisted("gpt");
        model.max_tokens = Some(100);
        let request = ModelRequest {
            system_prompt: "be brief".into(),
            messages: vec![
                Message::User(UserMessage {
                    content: vec![Content::text("look"), Content::Image { data: "AAA".into(), mime_type: "image/png".into() }],
                    timestamp: 0,
                }),
                Message::Assistant(AssistantMessage {
                    content: vec![Content::ToolCall { id: "c1".into(), name: "shot".into(), arguments: json!({"a": 1}) }],
                    api: API.into(),
                    provider: "p".into(),
                    model: "gpt".into(),
                    usage: Usage::default(),
                    stop_reason: StopReason::ToolUse,
                    error_message: None,
                    timestamp: 1,
                }),
                Message::ToolResult(ToolResultMessage {
                    tool_call_id: "c1".into(),
                    tool_name: "shot".into(),
                    content: vec![Content::text("done"), Content::Image { data: "BBB".into(), mime_type: "image/jpeg".into() }],
                    details: None,
                    is_error: false,
                    timestamp: 2,
                }),
            ],
            tools: vec![ToolSpec { name: "shot".into(), description: "d".into(), parameters: json!({"type": "object"}) }],
            max_tokens: None,
            temperature: None,
            thinking: Default::default(),
        };
        let body = request_body(&model, &request, false);
        assert_eq!(
            body,
            json!({
                "model": "gpt",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": [{"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}]},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                        "function": {"name": "shot", "arguments": "{\"a\":1}"}}]},
                    {"role": "tool", "tool_call_id": "c1", "content": "done"},
                    {"role": "user", "content": [{"type": "text", "text": "Images returned by the tool call(s) above:"},
                        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,BBB"}}]}
                ],
                "stream": true,
                "stream_options": {"include_usage": true},
                "tools": [{"type": "function", "function": {"name": "shot", "description": "d", "parameters": {"type": "object"}}}],
                "max_tokens": 100
            })
        );
        model.input = vec!["text".into()];
        let body = request_body(&model, &request, true);
        assert_eq!(body["messages"][1]["content"], json!("look\n[image omitted: gpt does not accept images]"));
        assert_eq!(body["max_completion_tokens"], json!(100));
    }
}
