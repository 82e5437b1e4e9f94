//! Scripted LLM servers: a real HTTP server on `127.0.0.1:0` that answers each request with the
//! next [`Reply`] of a script, in the real wire formats — OpenAI `chat.completion.chunk` SSE
//! ending in `data: [DONE]`, or Anthropic Messages `event:`/`data:` streams — and records every
//! request for assertions.
//!
//! ```ignore
//! let llm = ScriptedOpenAi::start([
//!     Reply::tool_calls([("call_1", "read", r#"{"path":"a.txt"}"#)]),
//!     Reply::text(["Hel", "lo"]).usage(12, 2),
//! ]).await?;
//! let config = json!({
//!     "agents": {"defaults": {"model": "scripted/m1"}},
//!     "models": {"providers": {"scripted": llm.provider_config(Some("sk-test"), &["m1"])}},
//! });
//! // … run the agent …
//! let requests = llm.requests();
//! assert_eq!(requests[1].system_prompt().as_deref(), Some("…"));
//! assert_eq!(requests[0].bearer_token(), Some("sk-test"));
//! ```
//!
//! Failure shapes: `Reply::status(429).retry_after(1)`, `Reply::status(500)`, `Reply::garbage()`,
//! `Reply::stall_after(chunks)` (hangs mid-stream), `Reply::close_mid_stream(chunks)` (clean EOF
//! before the end marker), `Reply::reset_mid_stream(chunks)` (broken connection),
//! `Reply::stream_error(..)` (an error event mid-stream), `Reply::slow(chunks, delay)` (for abort
//! tests), `.header_delay(d)` (for first-byte timeouts). When the script runs out, the server
//! answers 500 with a message saying so.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::SupportError;

/// The wire format a scripted server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `POST /v1/chat/completions` (base URL `http://127.0.0.1:<port>/v1`).
    OpenAi,
    /// `POST /v1/messages` (base URL `http://127.0.0.1:<port>`).
    Anthropic,
}

impl Dialect {
    /// The `api` value of a `models.providers` entry for this dialect.
    pub fn api(self) -> &'static str {
        match self {
            Dialect::OpenAi => "openai-completions",
            Dialect::Anthropic => "anthropic-messages",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Dialect::OpenAi => "/v1/chat/completions",
            Dialect::Anthropic => "/v1/messages",
        }
    }
}

/// Why the scripted model stops (rendered per dialect: `stop`/`end_turn`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
    ToolUse,
    /// OpenAI `content_filter`, Anthropic `refusal`.
    Refusal,
}

/// A tool call the scripted model makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedToolCall {
    pub id: String,
    pub name: String,
    /// The arguments exactly as streamed (need not be valid JSON).
    pub arguments: String,
}

/// How a streamed reply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Finish reason, usage and the end marker.
    Complete,
    /// Keep the connection open and send nothing more.
    Stall,
    /// End the body cleanly without finish reason or end marker.
    Close,
    /// Break the connection (the chunked body is never terminated).
    Reset,
}

#[derive(Debug, Clone)]
enum Kind {
    Stream { thinking: Vec<String>, text: Vec<String>, tool_calls: Vec<ScriptedToolCall>, ending: Ending },
    Status { status: u16, message: Option<String>, body: Option<Value> },
    Garbage,
    StreamError { text: Vec<String>, error_type: String, message: String },
}

/// One scripted answer, consumed by one request.
#[derive(Debug, Clone)]
pub struct Reply {
    kind: Kind,
    finish: Option<Finish>,
    usage: (u64, u64, u64),
    chunk_delay: Duration,
    header_delay: Duration,
    retry_after: Option<String>,
    headers: Vec<(String, String)>,
}

fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl Reply {
    fn new(kind: Kind) -> Reply {
        Reply {
            kind,
            finish: None,
            usage: (10, 5, 0),
            chunk_delay: Duration::ZERO,
            header_delay: Duration::ZERO,
            retry_after: None,
            headers: Vec::new(),
        }
    }

    fn stream(text: Vec<String>, tool_calls: Vec<ScriptedToolCall>, ending: Ending) -> Reply {
        Reply::new(Kind::Stream { thinking: Vec::new(), text, tool_calls, ending })
    }

    /// Text streamed in these chunks, then a normal stop.
    pub fn text<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Reply {
        Reply::stream(strings(chunks), Vec::new(), Ending::Complete)
    }

    /// One or several (parallel) tool calls `(id, name, arguments JSON text)`; each call's
    /// arguments are streamed in two pieces.
    pub fn tool_calls<I, N, A>(calls: impl IntoIterator<Item = (I, N, A)>) -> Reply
    where
        I: Into<String>,
        N: Into<String>,
        A: Into<String>,
    {
        let calls = calls
            .into_iter()
            .map(|(id, name, arguments)| ScriptedToolCall { id: id.into(), name: name.into(), arguments: arguments.into() })
            .collect();
        Reply::stream(Vec::new(), calls, Ending::Complete)
    }

    /// An HTTP error with the dialect's error body (`.message(..)` / `.json_body(..)` to change it).
    pub fn status(status: u16) -> Reply {
        Reply::new(Kind::Status { status, message: None, body: None })
    }

    /// HTTP 400 with both dialects' context-overflow wording.
    pub fn context_length_exceeded() -> Reply {
        Reply::status(400).message("This model's maximum context length is 8192 tokens (context_length_exceeded); prompt is too long")
    }

    /// 200 `text/event-stream` whose data is not JSON.
    pub fn garbage() -> Reply {
        Reply::new(Kind::Garbage)
    }

    /// Stream these text chunks, then hang with the connection open.
    pub fn stall_after<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Reply {
        Reply::stream(strings(chunks), Vec::new(), Ending::Stall)
    }

    /// Stream these text chunks, then end the body cleanly before any finish reason / end marker.
    pub fn close_mid_stream<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Reply {
        Reply::stream(strings(chunks), Vec::new(), Ending::Close)
    }

    /// Stream these text chunks, then break the connection.
    pub fn reset_mid_stream<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Reply {
        Reply::stream(strings(chunks), Vec::new(), Ending::Reset)
    }

    /// Text chunks with `delay` before each (the whole reply is slow, for abort tests).
    pub fn slow<S: Into<String>>(chunks: impl IntoIterator<Item = S>, delay: Duration) -> Reply {
        Reply::text(chunks).chunk_delay(delay)
    }

    /// Stream these text chunks, then an in-stream error event of this type
    /// (`overloaded_error`, `rate_limit_error`, `server_error`, …).
    pub fn stream_error<S: Into<String>>(
        chunks: impl IntoIterator<Item = S>,
        error_type: impl Into<String>,
        message: impl Into<String>,
    ) -> Reply {
        Reply::new(Kind::StreamError { text: strings(chunks), error_type: error_type.into(), message: message.into() })
    }

    /// Reasoning streamed before the text (`reasoning_content` / a thinking block).
    pub fn thinking<S: Into<String>>(mut self, chunks: impl IntoIterator<Item = S>) -> Reply {
        if let Kind::Stream { thinking, .. } = &mut self.kind {
            *thinking = strings(chunks);
        }
        self
    }

    /// Text streamed before the tool calls of a [`Reply::tool_calls`].
    pub fn with_text<S: Into<String>>(mut self, chunks: impl IntoIterator<Item = S>) -> Reply {
        if let Kind::Stream { text, .. } = &mut self.kind {
            *text = strings(chunks);
        }
        self
    }

    /// Token usage reported at the end: prompt (input) and completion (output) tokens.
    pub fn usage(mut self, input: u64, output: u64) -> Reply {
        self.usage.0 = input;
        self.usage.1 = output;
        self
    }

    /// Cached prompt tokens (OpenAI `prompt_tokens_details.cached_tokens`, included in the
    /// prompt count; Anthropic `cache_read_input_tokens`, separate from `input_tokens`).
    pub fn cached(mut self, tokens: u64) -> Reply {
        self.usage.2 = tokens;
        self
    }

    /// Override the finish reason (default: tool use when there are tool calls, else stop).
    pub fn finish(mut self, finish: Finish) -> Reply {
        self.finish = Some(finish);
        self
    }

    /// Sleep before each streamed frame.
    pub fn chunk_delay(mut self, delay: Duration) -> Reply {
        self.chunk_delay = delay;
        self
    }

    /// Sleep before sending the response headers.
    pub fn header_delay(mut self, delay: Duration) -> Reply {
        self.header_delay = delay;
        self
    }

    /// A `Retry-After: <secs>` header.
    pub fn retry_after(mut self, secs: u64) -> Reply {
        self.retry_after = Some(secs.to_string());
        self
    }

    /// A raw `Retry-After` value (an HTTP date, garbage, …).
    pub fn retry_after_raw(mut self, value: impl Into<String>) -> Reply {
        self.retry_after = Some(value.into());
        self
    }

    /// An extra response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The error message of a [`Reply::status`].
    pub fn message(mut self, text: impl Into<String>) -> Reply {
        if let Kind::Status { message, .. } = &mut self.kind {
            *message = Some(text.into());
        }
        self
    }

    /// The whole JSON body of a [`Reply::status`].
    pub fn json_body(mut self, value: Value) -> Reply {
        if let Kind::Status { body, .. } = &mut self.kind {
            *body = Some(value);
        }
        self
    }
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Lower-case names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The JSON body (a string if it was not JSON).
    pub body: Value,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The token of `Authorization: Bearer <token>`.
    pub fn bearer_token(&self) -> Option<&str> {
        self.header("authorization").and_then(|v| v.strip_prefix("Bearer "))
    }

    /// The `messages` array of the body.
    pub fn messages(&self) -> &[Value] {
        self.body.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The system prompt in either dialect: the first `role: "system"` message, or the top-level
    /// `system` (string or text blocks).
    pub fn system_prompt(&self) -> Option<String> {
        if let Some(system) = self.body.get("system") {
            return match system {
                Value::String(s) => Some(s.clone()),
                Value::Array(blocks) => Some(blocks.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect()),
                _ => None,
            };
        }
        self.messages()
            .iter()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("system"))
            .and_then(|m| m.get("content").and_then(Value::as_str))
            .map(str::to_string)
    }

    /// The names of the offered tools, in either dialect.
    pub fn tool_names(&self) -> Vec<String> {
        self.body
            .get("tools")
            .and_then(Value::as_array)
            .map(|tools| {
                tools
                    .iter()
                    .filter_map(|t| t.pointer("/function/name").or_else(|| t.get("name")).and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `model` field of the body.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    arrived: Notify,
    scripted_total: Mutex<usize>,
}

/// A running scripted server; stops when dropped.
pub struct ScriptedLlm {
    dialect: Dialect,
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// Scripted OpenAI Chat Completions server.
pub struct ScriptedOpenAi;

/// Scripted Anthropic Messages server.
pub struct ScriptedAnthropic;

impl ScriptedOpenAi {
    pub async fn start(script: impl IntoIterator<Item = Reply>) -> Result<ScriptedLlm, SupportError> {
        ScriptedLlm::start(Dialect::OpenAi, script).await
    }
}

impl ScriptedAnthropic {
    pub async fn start(script: impl IntoIterator<Item = Reply>) -> Result<ScriptedLlm, SupportError> {
        ScriptedLlm::start(Dialect::Anthropic, script).await
    }
}

impl ScriptedLlm {
    pub async fn start(dialect: Dialect, script: impl IntoIterator<Item = Reply>) -> Result<ScriptedLlm, SupportError> {
        let script: VecDeque<Reply> = script.into_iter().collect();
        let shared = Arc::new(Shared { scripted_total: Mutex::new(script.len()), script: Mutex::new(script), ..Shared::default() });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().fallback(handle).with_state((dialect, shared.clone()));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "scripted LLM server stopped");
            }
        });
        Ok(ScriptedLlm { dialect, addr, shared, task })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The `api` value for a `models.providers` entry.
    pub fn api(&self) -> &'static str {
        self.dialect.api()
    }

    /// The `baseUrl` to configure: `http://127.0.0.1:<port>/v1` (OpenAI) or
    /// `http://127.0.0.1:<port>` (Anthropic), as OpenClaw expects for each API.
    pub fn base_url(&self) -> String {
        match self.dialect {
            Dialect::OpenAi => format!("http://{}/v1", self.addr),
            Dialect::Anthropic => format!("http://{}", self.addr),
        }
    }

    /// A `models.providers.<id>` entry pointing at this server, listing `models` (text + image).
    pub fn provider_config(&self, api_key: Option<&str>, models: &[&str]) -> Value {
        let models: Vec<Value> =
            models.iter().map(|m| json!({"id": m, "name": m, "input": ["text", "image"], "contextWindow": 128000})).collect();
        let mut entry = json!({"api": self.api(), "baseUrl": self.base_url(), "models": models});
        if let Some(key) = api_key {
            entry["apiKey"] = json!(key);
        }
        entry
    }

    /// Queue more replies.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).push_back(reply);
        *lock(&self.shared.scripted_total) += 1;
    }

    /// Replies not consumed yet.
    pub fn remaining(&self) -> usize {
        lock(&self.shared.script).len()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Wait until at least `n` requests arrived.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Result<Vec<RecordedRequest>, SupportError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            let requests = self.requests();
            if requests.len() >= n {
                return Ok(requests);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(SupportError::Timeout {
                    what: format!("{n} requests to the scripted LLM (got {})", self.request_count()),
                    secs: timeout.as_secs_f64(),
                });
            }
        }
    }
}

impl Drop for ScriptedLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn handle(
    State((dialect, shared)): State<(Dialect, Arc<Shared>)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut recorded_headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        recorded_headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let body_json = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let request = RecordedRequest { method: method.to_string(), path: uri.path().to_string(), headers: recorded_headers, body: body_json };
    let number = {
        let mut requests = lock(&shared.requests);
        requests.push(request.clone());
        requests.len()
    };
    shared.arrived.notify_waiters();

    if method != Method::POST || uri.path() != dialect.path() {
        let message = format!("llm_script: unexpected {method} {} (this server serves POST {})", uri.path(), dialect.path());
        return error_response(dialect, 404, &message, None, &[]);
    }
    let Some(reply) = lock(&shared.script).pop_front() else {
        let total = *lock(&shared.scripted_total);
        let message = format!("llm_script: script exhausted: request #{number} but only {total} replies were scripted");
        return error_response(dialect, 500, &message, None, &[]);
    };
    if !reply.header_delay.is_zero() {
        tokio::time::sleep(reply.header_delay).await;
    }
    let model = request.model().unwrap_or("scripted").to_string();
    let wants_usage = request.body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
    match &reply.kind {
        Kind::Status { status, message, body } => {
            let default = format!("llm_script: scripted HTTP {status}");
            let text = message.clone().unwrap_or(default);
            error_response(dialect, *status, &text, body.clone(), &extra_headers(&reply))
        }
        Kind::Garbage => sse_response(vec!["data: this is not json {\n\n".to_string()], Duration::ZERO, Ending::Close, &reply),
        Kind::StreamError { text, error_type, message } => {
            let mut frames = match dialect {
                Dialect::OpenAi => openai::frames(&model, &[], text, &[]),
                Dialect::Anthropic => anthropic::frames(&model, &reply, &[], text, &[]),
            };
            frames.push(match dialect {
                Dialect::OpenAi => openai::frame(&json!({"error": {"message": message, "type": error_type, "code": null}})),
                Dialect::Anthropic => {
                    anthropic::frame("error", &json!({"type": "error", "error": {"type": error_type, "message": message}}))
                }
            });
            sse_response(frames, reply.chunk_delay, Ending::Close, &reply)
        }
        Kind::Stream { thinking, text, tool_calls, ending } => {
            let mut frames = match dialect {
                Dialect::OpenAi => openai::frames(&model, thinking, text, tool_calls),
                Dialect::Anthropic => anthropic::frames(&model, &reply, thinking, text, tool_calls),
            };
            if *ending == Ending::Complete {
                let finish = reply.finish.unwrap_or(if tool_calls.is_empty() { Finish::Stop } else { Finish::ToolUse });
                match dialect {
                    Dialect::OpenAi => frames.extend(openai::ending(&model, finish, reply.usage, wants_usage)),
                    Dialect::Anthropic => frames.extend(anthropic::ending(finish, reply.usage)),
                }
            }
            sse_response(frames, reply.chunk_delay, *ending, &reply)
        }
    }
}

fn extra_headers(reply: &Reply) -> Vec<(String, String)> {
    let mut headers = reply.headers.clone();
    if let Some(v) = &reply.retry_after {
        headers.push(("retry-after".into(), v.clone()));
    }
    headers
}

fn error_response(dialect: Dialect, status: u16, message: &str, body: Option<Value>, headers: &[(String, String)]) -> Response {
    let body = body.unwrap_or_else(|| match dialect {
        Dialect::OpenAi => {
            let (kind, code) = match status {
                401 => ("invalid_request_error", json!("invalid_api_key")),
                403 => ("invalid_request_error", json!("forbidden")),
                404 => ("invalid_request_error", json!("model_not_found")),
                429 => ("requests", json!("rate_limit_exceeded")),
                400 => ("invalid_request_error", Value::Null),
                _ => ("server_error", Value::Null),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        Dialect::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
    });
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Body::from(body.to_string())).unwrap_or_else(|_| Response::new(Body::from("llm_script: bad response")))
}

fn sse_response(frames: Vec<String>, delay: Duration, ending: Ending, reply: &Reply) -> Response {
    let frames: VecDeque<String> = frames.into();
    let stream = futures_util::stream::unfold((frames, false), move |(mut frames, ended)| async move {
        if ended {
            return None;
        }
        match frames.pop_front() {
            Some(frame) => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Some((Ok::<String, std::io::Error>(frame), (frames, false)))
            }
            None => match ending {
                Ending::Complete | Ending::Close => None,
                Ending::Stall => {
                    futures_util::future::pending::<()>().await;
                    None
                }
                Ending::Reset => {
                    // Let the frames reach the client first, so the break is mid-body rather
                    // than before the response.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((Err(std::io::Error::other("llm_script: connection reset on purpose")), (frames, true)))
                }
            },
        }
    })
    .boxed();
    let mut builder =
        Response::builder().status(StatusCode::OK).header("content-type", "text/event-stream").header("cache-control", "no-cache");
    for (name, value) in extra_headers(reply) {
        builder = builder.header(name, value);
    }
    builder.body(Body::from_stream(stream)).unwrap_or_else(|_| Response::new(Body::from("llm_script: bad response")))
}

/// Split arguments into two streamed pieces (on a char boundary).
fn halves(s: &str) -> Vec<String> {
    let mid = s.char_indices().map(|(i, _)| i).nth(s.chars().count() / 2).unwrap_or(s.len());
    [&s[..mid], &s[mid..]].into_iter().filter(|p| !p.is_empty()).map(str::to_string).collect()
}

mod openai {
    use super::*;

    pub fn frame(data: &Value) -> String {
        format!("data: {data}\n\n")
    }

    fn chunk(model: &str, delta: Value, finish: Value) -> String {
        frame(&json!({
            "id": "chatcmpl-llmscript", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
            "system_fingerprint": null,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        }))
    }

    pub fn frames(model: &str, thinking: &[String], text: &[String], calls: &[ScriptedToolCall]) -> Vec<String> {
        let mut out = vec![chunk(model, json!({"role": "assistant", "content": ""}), Value::Null)];
        out.extend(thinking.iter().map(|t| chunk(model, json!({"reasoning_content": t}), Value::Null)));
        out.extend(text.iter().map(|t| chunk(model, json!({"content": t}), Value::Null)));
        for (i, call) in calls.iter().enumerate() {
            let first = json!({"index": i, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}});
            out.push(chunk(model, json!({"tool_calls": [first]}), Value::Null));
            for piece in halves(&call.arguments) {
                out.push(chunk(model, json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}), Value::Null));
            }
        }
        out
    }

    pub fn ending(model: &str, finish: Finish, usage: (u64, u64, u64), wants_usage: bool) -> Vec<String> {
        let reason = match finish {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::ToolUse => "tool_calls",
            Finish::Refusal => "content_filter",
        };
        let mut out = vec![chunk(model, json!({}), json!(reason))];
        // Like OpenAI: usage only when the request asked for it.
        if wants_usage {
            let (input, output, cached) = usage;
            out.push(frame(&json!({
                "id": "chatcmpl-llmscript", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                "choices": [],
                "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output,
                          "prompt_tokens_details": {"cached_tokens": cached}},
            })));
        }
        out.push("data: [DONE]\n\n".to_string());
        out
    }
}

mod anthropic {
    use super::*;

    pub fn frame(event: &str, data: &Value) -> String {
        format!("event: {event}\ndata: {data}\n\n")
    }

    pub fn frames(model: &str, reply: &Reply, thinking: &[String], text: &[String], calls: &[ScriptedToolCall]) -> Vec<String> {
        let (input, _, cached) = reply.usage;
        let mut out = vec![
            frame(
                "message_start",
                &json!({"type": "message_start", "message": {
                    "id": "msg_llmscript", "type": "message", "role": "assistant", "content": [], "model": model,
                    "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": input, "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached, "output_tokens": 1}}}),
            ),
            frame("ping", &json!({"type": "ping"})),
        ];
        let mut index = 0;
        let mut block = |out: &mut Vec<String>, start: Value, deltas: Vec<Value>| {
            out.push(frame("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": start})));
            for delta in deltas {
                out.push(frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": delta})));
            }
            out.push(frame("content_block_stop", &json!({"type": "content_block_stop", "index": index})));
            index += 1;
        };
        if !thinking.is_empty() {
            let mut deltas: Vec<Value> = thinking.iter().map(|t| json!({"type": "thinking_delta", "thinking": t})).collect();
            deltas.push(json!({"type": "signature_delta", "signature": "c2lnbmF0dXJl"}));
            block(&mut out, json!({"type": "thinking", "thinking": ""}), deltas);
        }
        if !text.is_empty() {
            let deltas = text.iter().map(|t| json!({"type": "text_delta", "text": t})).collect();
            block(&mut out, json!({"type": "text", "text": ""}), deltas);
        }
        for call in calls {
            let deltas = halves(&call.arguments).into_iter().map(|p| json!({"type": "input_json_delta", "partial_json": p})).collect();
            block(&mut out, json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}}), deltas);
        }
        out
    }

    pub fn ending(finish: Finish, usage: (u64, u64, u64)) -> Vec<String> {
        let reason = match finish {
            Finish::Stop => "end_turn",
            Finish::Length => "max_tokens",
            Finish::ToolUse => "tool_use",
            Finish::Refusal => "refusal",
        };
        vec![
            frame(
                "message_delta",
                &json!({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": null}, "usage": {"output_tokens": usage.1}}),
            ),
            frame("message_stop", &json!({"type": "message_stop"})),
        ]
    }
}
