//! A tiny OpenAI-compatible streaming provider for the agent benchmarks, living in the bench
//! process so its timestamps and the client's share one clock.
//!
//! Plain HTTP/1.1 on tokio sockets (no framework between the socket and the clock): it notes
//! when each request's first byte and its whole body arrived, writes every SSE frame as its own
//! chunk (TCP_NODELAY, one `write_all` each), and notes when the first text frame and the last
//! byte (`data: [DONE]` plus the terminating chunk) were handed to the kernel. Keep-alive works,
//! so the gateway's connection pool is exercised like against a real provider.
//!
//! What it answers to `POST …/chat/completions`, from the request's messages:
//! - the last message is a tool result (`role: "tool"`) → text;
//! - a user message after the last assistant/tool message contains [`TOOL_MARKER`] → one `read`
//!   tool call of [`NOTE_FILE`];
//! - otherwise → text.
//!
//! `GET …/models` answers a one-model list; anything else 404.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::SupportError;

/// Put this in a user message to get a tool call instead of text.
pub const TOOL_MARKER: &str = "BENCH_TOOL";
/// The workspace file the scripted tool call reads.
pub const NOTE_FILE: &str = "bench-note.txt";
/// Its contents (small: the benchmark measures the tool round trip, not file I/O).
pub const NOTE_TEXT: &str = "Pincer agent benchmark note.\nThis file is read by the scripted model's tool call; it is small on purpose.\n";
/// The text the scripted model streams, one frame per piece.
pub const TEXT_PIECES: &[&str] = &["Hello", " from", " the", " bench", " provider."];

/// What one request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitKind {
    Text,
    ToolCall,
    Models,
    Other,
}

/// One request, with the provider-side clock.
#[derive(Debug, Clone)]
pub struct Hit {
    pub kind: HitKind,
    /// First bytes of the request read off the socket.
    pub first_byte: Instant,
    /// Head and body complete: when a real provider could start working.
    pub received: Instant,
    /// The first text frame written (text replies only).
    pub first_text: Option<Instant>,
    /// The last byte of the response written.
    pub done: Instant,
    pub body_bytes: usize,
    pub messages: usize,
    pub tools: usize,
}

#[derive(Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    /// The text reply's pieces (default [`TEXT_PIECES`]).
    pieces: Vec<String>,
}

/// A running bench provider; stops when dropped.
pub struct BenchProvider {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl BenchProvider {
    /// Listen on `127.0.0.1:0`. `frame_delay` is slept before each SSE frame (0 = as fast as
    /// possible, which isolates the gateway's share of a turn).
    pub async fn start(frame_delay: Duration) -> Result<BenchProvider, SupportError> {
        BenchProvider::start_with(frame_delay, TEXT_PIECES.iter().map(|p| p.to_string()).collect()).await
    }

    /// Like [`start`](Self::start), answering text turns with these pieces.
    pub async fn start_with(frame_delay: Duration, pieces: Vec<String>) -> Result<BenchProvider, SupportError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared { hits: Mutex::new(Vec::new()), pieces });
        let accept_shared = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { continue };
                let _ = sock.set_nodelay(true);
                let shared = accept_shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(sock, &shared, frame_delay).await {
                        tracing::debug!(error = %e, "bench provider connection ended");
                    }
                });
            }
        });
        Ok(BenchProvider { addr, shared, task })
    }

    /// `http://127.0.0.1:<port>/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn hit_count(&self) -> usize {
        lock(&self.shared.hits).len()
    }

    /// Requests from index `from` on.
    pub fn hits_since(&self, from: usize) -> Vec<Hit> {
        lock(&self.shared.hits).get(from..).map(<[Hit]>::to_vec).unwrap_or_default()
    }

    /// A `models.providers.<id>` entry (OpenClaw key names, which Pincer reads too).
    pub fn provider_config(&self, model: &str) -> Value {
        json!({
            "api": "openai-completions", "baseUrl": self.base_url(), "apiKey": "sk-bench-not-a-secret",
            "models": [{"id": model, "name": model, "input": ["text"], "contextWindow": 128000, "maxTokens": 1024}],
        })
    }
}

impl Drop for BenchProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One keep-alive connection: request, response, repeat.
async fn serve(mut sock: TcpStream, shared: &Shared, frame_delay: Duration) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Head.
        let mut first_byte = None;
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            first_byte.get_or_insert_with(Instant::now);
            buf.extend_from_slice(&chunk[..n]);
        };
        let first_byte = first_byte.unwrap_or_else(Instant::now);
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_string();
        let mut content_length = 0usize;
        let mut chunked = false;
        let mut close = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_ascii_lowercase());
            match name.as_str() {
                "content-length" => content_length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.contains("chunked"),
                "connection" => close = value == "close",
                _ => {}
            }
        }
        buf.drain(..head_end);
        // Body.
        let body: Vec<u8> = if chunked {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(i) = find(&buf, b"\r\n") {
                        break i;
                    }
                    let n = sock.read(&mut chunk).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                };
                let size_text = String::from_utf8_lossy(&buf[..line_end]).to_string();
                let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
                while buf.len() < line_end + 2 + size + 2 {
                    let n = sock.read(&mut chunk).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                body.extend_from_slice(&buf[line_end + 2..line_end + 2 + size]);
                buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
            body
        } else {
            while buf.len() < content_length {
                let n = sock.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..content_length).collect()
        };
        let received = Instant::now();

        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().split('?').next().unwrap_or_default().trim_end_matches('/').to_string();
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let messages = request.get("messages").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        let tools = request.get("tools").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        let mut hit =
            Hit { kind: HitKind::Other, first_byte, received, first_text: None, done: received, body_bytes: body.len(), messages, tools };
        if method == "POST" && path.ends_with("/chat/completions") {
            hit.kind = choose(&request);
            let model = request.get("model").and_then(Value::as_str).unwrap_or("bench").to_string();
            let usage = request.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
            sock.write_all(head.as_bytes()).await?;
            let frames = frames(hit.kind, &model, usage, &shared.pieces);
            let last = frames.len().saturating_sub(1);
            for (i, (frame, is_text)) in frames.into_iter().enumerate() {
                if !frame_delay.is_zero() {
                    tokio::time::sleep(frame_delay).await;
                }
                let mut out = format!("{:x}\r\n{frame}\r\n", frame.len());
                if i == last {
                    out.push_str("0\r\n\r\n");
                }
                sock.write_all(out.as_bytes()).await?;
                if is_text && hit.first_text.is_none() {
                    hit.first_text = Some(Instant::now());
                }
            }
            hit.done = Instant::now();
        } else {
            let (status, body) = if method == "GET" && path.ends_with("/models") {
                hit.kind = HitKind::Models;
                (
                    "200 OK",
                    json!({"object": "list", "data": [{"id": "m1", "object": "model", "created": 1_700_000_000, "owned_by": "bench"}]}),
                )
            } else {
                (
                    "404 Not Found",
                    json!({"error": {"message": format!("bench provider: no {method} {path}"), "type": "invalid_request_error"}}),
                )
            };
            let body = body.to_string();
            let out = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
            sock.write_all(out.as_bytes()).await?;
            hit.done = Instant::now();
        }
        lock(&shared.hits).push(hit);
        if close {
            return Ok(());
        }
    }
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

/// Text, or a tool call when the newest user turn asks for one (and no tool result is pending).
fn choose(request: &Value) -> HitKind {
    let messages = request.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    for m in messages.iter().rev() {
        match m.get("role").and_then(Value::as_str) {
            Some("user") => {
                if text_of(m.get("content").unwrap_or(&Value::Null)).contains(TOOL_MARKER) {
                    return HitKind::ToolCall;
                }
            }
            _ => return HitKind::Text,
        }
    }
    HitKind::Text
}

fn sse(data: &Value) -> String {
    format!("data: {data}\n\n")
}

fn chunk(model: &str, delta: Value, finish: Value) -> String {
    sse(&json!({
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }))
}

/// The SSE frames of a reply, each flagged when it carries text.
fn frames(kind: HitKind, model: &str, usage: bool, pieces: &[String]) -> Vec<(String, bool)> {
    let mut out = vec![(chunk(model, json!({"role": "assistant", "content": ""}), Value::Null), false)];
    let finish = match kind {
        HitKind::ToolCall => {
            let args = json!({"path": NOTE_FILE}).to_string();
            let (a, b) = args.split_at(args.len() / 2);
            let first = json!({"index": 0, "id": "call_bench_1", "type": "function", "function": {"name": "read", "arguments": ""}});
            out.push((chunk(model, json!({"tool_calls": [first]}), Value::Null), false));
            for piece in [a, b] {
                out.push((chunk(model, json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}), Value::Null), false));
            }
            "tool_calls"
        }
        _ => {
            for piece in pieces {
                out.push((chunk(model, json!({"content": piece}), Value::Null), true));
            }
            "stop"
        }
    };
    out.push((chunk(model, json!({}), json!(finish)), false));
    if usage {
        out.push((
            sse(&json!({
                "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model, "choices": [],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010},
            })),
            false,
        ));
    }
    out.push(("data: [DONE]\n\n".to_string(), false));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_call_only_for_a_fresh_marked_user_turn() {
        let user = |t: &str| json!({"role": "user", "content": t});
        let req = |m: Vec<Value>| json!({"messages": m});
        assert_eq!(choose(&req(vec![user("hi")])), HitKind::Text);
        assert_eq!(choose(&req(vec![user("please BENCH_TOOL")])), HitKind::ToolCall);
        // OpenClaw appends an internal-context user message after the real one.
        assert_eq!(choose(&req(vec![user("BENCH_TOOL"), user("<<<context>>>")])), HitKind::ToolCall);
        let tool = json!({"role": "tool", "content": "x", "tool_call_id": "c"});
        assert_eq!(choose(&req(vec![user("BENCH_TOOL"), json!({"role": "assistant"}), tool])), HitKind::Text);
        let pieces: Vec<String> = TEXT_PIECES.iter().map(|p| p.to_string()).collect();
        let text = frames(HitKind::Text, "m", true, &pieces);
        assert!(text.last().unwrap().0.contains("[DONE]"));
        assert_eq!(text.iter().filter(|f| f.1).count(), TEXT_PIECES.len());
    }
}
