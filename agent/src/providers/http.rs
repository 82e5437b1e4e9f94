//! The HTTP side shared by the wire clients: building `reqwest` clients, sending a streaming
//! request under the connect/first-byte, stall and whole-request timeouts, mapping HTTP errors to
//! [`ProviderError`], and reading Server-Sent Events.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{ApiKey, ProviderConfig};
use crate::provider::ProviderError;
use crate::providers::netguard::{GuardedResolver, PrivateAddressRefused};
use crate::providers::retry;

/// Longest error excerpt put into a [`ProviderError`].
const EXCERPT_CHARS: usize = 300;
/// Most bytes read from an error response body.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// A `reqwest` client for one provider: our User-Agent, the SSRF-guarding resolver, no
/// redirects (a redirect could leave the checked host), connect bounded by the first-byte timeout.
pub fn build_client(provider: &ProviderConfig) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .user_agent(concat!("pincer/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver { provider: provider.id.clone(), allow_private: provider.allow_private_network }))
        .connect_timeout(provider.first_byte_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .map_err(|e| ProviderError::Config { message: format!("{}: cannot build the HTTP client: {e}", provider.id) })
}

/// Everything needed to send one provider request.
#[derive(Clone)]
pub struct Transport {
    pub provider: String,
    pub http: reqwest::Client,
    pub key: Option<ApiKey>,
    pub headers: HeaderMap,
    pub request_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub stall_timeout: Duration,
}

impl Transport {
    /// `auth` turns the key into the provider's auth headers.
    pub fn new(
        provider: &ProviderConfig,
        http: reqwest::Client,
        auth: impl FnOnce(&str) -> Vec<(&'static str, String)>,
    ) -> Result<Transport, ProviderError> {
        let mut headers = HeaderMap::new();
        let bad_header =
            |name: &str| ProviderError::Config { message: format!("models.providers.{}.headers: invalid header {name:?}", provider.id) };
        if let Some(key) = &provider.api_key {
            for (name, value) in auth(key.secret.expose()) {
                let mut value = HeaderValue::from_str(&value).map_err(|_| ProviderError::Config {
                    message: format!("{}: the API key contains characters not allowed in a header", provider.id),
                })?;
                value.set_sensitive(true);
                headers.insert(name, value);
            }
        }
        for (name, value) in &provider.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad_header(name))?;
            let value = HeaderValue::from_str(value).map_err(|_| bad_header(name.as_str()))?;
            headers.insert(name, value);
        }
        Ok(Transport {
            provider: provider.id.clone(),
            http,
            key: provider.api_key.clone(),
            headers,
            request_timeout: provider.request_timeout,
            first_byte_timeout: provider.first_byte_timeout,
            stall_timeout: provider.stall_timeout,
        })
    }

    /// Remove the API key from server-provided text (a misbehaving server might echo it).
    pub fn scrub(&self, text: &str) -> String {
        match &self.key {
            Some(k) if !k.secret.expose().is_empty() => text.replace(k.secret.expose(), "<redacted>"),
            _ => text.to_string(),
        }
    }

    fn auth_hint(&self) -> String {
        match &self.key {
            Some(k) => k.origin.describe(&self.provider),
            None => format!(
                "no API key configured: set models.providers.{0}.apiKey or {1}, or store one in the OS keyring",
                self.provider,
                crate::config::conventional_key_var(&self.provider)
            ),
        }
    }

    /// POST `body` to `url` and open its event stream. Non-2xx answers become errors here.
    pub async fn open_sse(&self, url: &reqwest::Url, body: &Value, cancel: &CancellationToken) -> Result<SseStream, ProviderError> {
        let started = Instant::now();
        let deadline = started + self.request_timeout;
        let first_byte_deadline = deadline.min(started + self.first_byte_timeout);
        let request = self
            .http
            .post(url.clone())
            .headers(self.headers.clone())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(body)
            .send();
        let response = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ProviderError::Aborted),
            r = tokio::time::timeout_at(first_byte_deadline, request) => match r {
                Err(_) => return Err(self.timeout("the response", first_byte_deadline - started)),
                Ok(Err(e)) => return Err(self.send_error(e)),
                Ok(Ok(response)) => response,
            },
        };
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry::retry_after(response.headers());
            let text = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ProviderError::Aborted),
                r = tokio::time::timeout_at(first_byte_deadline.max(Instant::now() + Duration::from_secs(5)), read_capped(response)) => r.unwrap_or_default(),
            };
            return Err(self.http_error(status.as_u16(), retry_after, &text));
        }
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        if content_type.starts_with("application/json") {
            // Some gateways answer errors with 200 + JSON, or ignore `stream: true`.
            let text = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ProviderError::Aborted),
                r = tokio::time::timeout_at(deadline, read_capped(response)) => r.unwrap_or_default(),
            };
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                if v.get("error").is_some() {
                    return Err(self.error_object(&v, None));
                }
            }
            return Err(self.malformed(format!("expected an event stream, got {content_type}: {}", excerpt(&text))));
        }
        let body = guard_body(Box::pin(response.bytes_stream()), first_byte_deadline, self.stall_timeout);
        Ok(SseStream {
            events: Box::pin(body.eventsource()),
            provider: self.provider.clone(),
            deadline,
            started,
            first_byte_timeout: self.first_byte_timeout,
            stall_timeout: self.stall_timeout,
        })
    }

    pub fn timeout(&self, what: &'static str, after: Duration) -> ProviderError {
        ProviderError::Timeout { provider: self.provider.clone(), what, after }
    }

    pub fn malformed(&self, message: String) -> ProviderError {
        ProviderError::Malformed { provider: self.provider.clone(), message: self.scrub(&message) }
    }

    fn send_error(&self, e: reqwest::Error) -> ProviderError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if let Some(refused) = err.downcast_ref::<PrivateAddressRefused>() {
                return ProviderError::Config { message: refused.to_string() };
            }
            source = err.source();
        }
        if e.is_timeout() {
            return self.timeout("connecting", self.first_byte_timeout);
        }
        ProviderError::Transport { provider: self.provider.clone(), message: self.scrub(&error_chain(&e)) }
    }

    /// Map a non-2xx response.
    pub fn http_error(&self, status: u16, retry_after: Option<Duration>, body: &str) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let message = parsed.as_ref().and_then(error_message).unwrap_or_else(|| body.to_string());
        let message = excerpt(&self.scrub(&message));
        let provider = self.provider.clone();
        let lower = body.to_ascii_lowercase();
        match status {
            401 | 403 => ProviderError::Auth { provider, status, hint: format!("{}; server said: {message}", self.auth_hint()) },
            // Quota exhaustion is a 429 that no retry will fix: keep it non-retryable (Http), so
            // the chain fails over right away.
            429 if lower.contains("insufficient_quota") => ProviderError::Http { provider, status, message, retry_after },
            429 => ProviderError::RateLimited { provider, retry_after },
            400 | 413 | 422 if is_context_length(&lower) => ProviderError::ContextLength { provider, message },
            _ => ProviderError::Http { provider, status, message, retry_after },
        }
    }

    /// Map an in-stream or JSON error object (`{"error": {...}}`, Anthropic's `{"type":"error",
    /// "error": {type, message}}`). `status` is the one the error implies, if known.
    pub fn error_object(&self, v: &Value, status: Option<u16>) -> ProviderError {
        let err = v.get("error").unwrap_or(v);
        let kind = [err.get("type"), err.get("code")]
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_ascii_lowercase).or_else(|| t.as_u64().map(|n| n.to_string())))
            .collect::<Vec<_>>()
            .join(" ");
        let message = excerpt(&self.scrub(&error_message(v).unwrap_or_else(|| v.to_string())));
        let lower = format!("{kind} {}", message.to_ascii_lowercase());
        let provider = self.provider.clone();
        let status = status
            .or_else(|| err.get("status").and_then(Value::as_u64).map(|s| s as u16))
            .or_else(|| err.get("code").and_then(Value::as_u64).map(|s| s as u16));
        if is_context_length(&lower) {
            ProviderError::ContextLength { provider, message }
        } else if lower.contains("rate_limit") || status == Some(429) {
            ProviderError::RateLimited { provider, retry_after: None }
        } else if lower.contains("authentication") || lower.contains("permission") || matches!(status, Some(401 | 403)) {
            ProviderError::Auth { provider, status: status.unwrap_or(401), hint: format!("{}; server said: {message}", self.auth_hint()) }
        } else if lower.contains("overloaded") {
            ProviderError::Http { provider, status: 529, message, retry_after: None }
        } else if lower.contains("not_found") {
            ProviderError::Http { provider, status: 404, message, retry_after: None }
        } else if lower.contains("invalid_request") {
            ProviderError::Http { provider, status: status.unwrap_or(400), message, retry_after: None }
        } else {
            // Unknown in-stream failures are usually server-side (`server_error`, `api_error`).
            ProviderError::Http { provider, status: status.filter(|s| *s >= 400).unwrap_or(500), message, retry_after: None }
        }
    }
}

fn is_context_length(lower: &str) -> bool {
    [
        "context_length_exceeded",
        "maximum context length",
        "prompt is too long",
        "context window",
        "context length",
        "too many tokens",
        "exceeds the context",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// The human message inside an error body, in the shapes OpenAI and Anthropic use.
fn error_message(v: &Value) -> Option<String> {
    let err = v.get("error").unwrap_or(v);
    err.get("message")
        .and_then(Value::as_str)
        .or_else(|| err.as_str())
        .or_else(|| v.get("message").and_then(Value::as_str))
        .or_else(|| v.get("detail").and_then(Value::as_str))
        .map(str::to_string)
}

/// Whitespace collapsed, at most [`EXCERPT_CHARS`] characters.
pub fn excerpt(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= EXCERPT_CHARS {
        return collapsed;
    }
    let mut cut: String = collapsed.chars().take(EXCERPT_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// `reqwest` errors hide the useful part (refused, reset, TLS) in their sources.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

async fn read_capped(mut response: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        buf.extend_from_slice(&chunk);
        if buf.len() >= ERROR_BODY_LIMIT {
            buf.truncate(ERROR_BODY_LIMIT);
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Why the body stream stopped delivering bytes.
#[derive(Debug)]
pub enum BodyError {
    /// No first byte before the first-byte deadline.
    FirstByte,
    /// Silence longer than the stall timeout between chunks.
    Stalled,
    /// The connection failed mid-body (reset, broken chunked encoding).
    Read(reqwest::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::FirstByte => f.write_str("no data before the first-byte timeout"),
            BodyError::Stalled => f.write_str("the stream stalled"),
            BodyError::Read(e) => write!(f, "{}", error_chain(e)),
        }
    }
}

/// Timeouts at the byte level, below SSE parsing, so keep-alive comments (`: ping`) count as
/// activity even though they produce no events.
fn guard_body<S, B>(body: S, first_byte_deadline: Instant, stall: Duration) -> impl Stream<Item = Result<B, BodyError>>
where
    S: Stream<Item = Result<B, reqwest::Error>> + Unpin,
{
    futures_util::stream::unfold((body, Some(first_byte_deadline), false), move |(mut body, first, failed)| async move {
        if failed {
            return None;
        }
        let deadline = first.unwrap_or_else(|| Instant::now() + stall);
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), (body, None, false))),
            Ok(Some(Err(e))) => Some((Err(BodyError::Read(e)), (body, None, true))),
            Ok(None) => None,
            Err(_) if first.is_some() => Some((Err(BodyError::FirstByte), (body, None, true))),
            Err(_) => Some((Err(BodyError::Stalled), (body, None, true))),
        }
    })
}

type Events = Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<BodyError>>> + Send>>;

/// An open event stream with its deadlines.
pub struct SseStream {
    events: Events,
    provider: String,
    deadline: Instant,
    started: Instant,
    first_byte_timeout: Duration,
    stall_timeout: Duration,
}

impl SseStream {
    /// The next event; `Ok(None)` when the server closed the stream.
    pub async fn next(&mut self, cancel: &CancellationToken) -> Result<Option<Event>, ProviderError> {
        let item = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ProviderError::Aborted),
            r = tokio::time::timeout_at(self.deadline, self.events.next()) => match r {
                Err(_) => return Err(self.timeout("the request", self.deadline - self.started)),
                Ok(item) => item,
            },
        };
        match item {
            None => Ok(None),
            Some(Ok(event)) => Ok(Some(event)),
            Some(Err(EventStreamError::Transport(BodyError::FirstByte))) => Err(self.timeout("the first byte", self.first_byte_timeout)),
            Some(Err(EventStreamError::Transport(BodyError::Stalled))) => Err(self.timeout("the stream (no data)", self.stall_timeout)),
            Some(Err(EventStreamError::Transport(BodyError::Read(e)))) => {
                // The connection broke mid-response: from the caller's view the stream ended
                // early, which is what Truncated says (and it is retryable like Transport).
                tracing::debug!(provider = %self.provider, error = %error_chain(&e), "provider stream broke off");
                Err(ProviderError::Truncated { provider: self.provider.clone() })
            }
            Some(Err(e)) => Err(ProviderError::Malformed { provider: self.provider.clone(), message: format!("bad event stream: {e}") }),
        }
    }

    fn timeout(&self, what: &'static str, after: Duration) -> ProviderError {
        ProviderError::Timeout { provider: self.provider.clone(), what, after }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Api, KeyOrigin, SecretString};

    fn transport() -> Transport {
        let provider = ProviderConfig {
            id: "p".into(),
            api: Api::OpenAiCompletions,
            base_url: "https://x".into(),
            api_key: Some(ApiKey { secret: SecretString::new("sk-secret-1"), origin: KeyOrigin::Env("P_API_KEY".into()) }),
            headers: Default::default(),
            models: vec![],
            allow_private_network: false,
            request_timeout: Duration::from_secs(1),
            first_byte_timeout: Duration::from_secs(1),
            stall_timeout: Duration::from_secs(1),
        };
        Transport::new(&provider, reqwest::Client::new(), |k| vec![("authorization", format!("Bearer {k}"))]).unwrap()
    }

    #[test]
    fn http_errors_are_classified_and_scrubbed() {
        let t = transport();
        let e = t.http_error(401, None, r#"{"error":{"message":"Incorrect API key provided: sk-secret-1"}}"#);
        assert!(matches!(e, ProviderError::Auth { status: 401, .. }));
        let text = e.to_string();
        assert!(!text.contains("sk-secret-1") && text.contains("env P_API_KEY"), "{text}");
        assert!(matches!(t.http_error(429, Some(Duration::from_secs(2)), ""), ProviderError::RateLimited { retry_after: Some(_), .. }));
        assert!(matches!(t.http_error(429, None, r#"{"error":{"code":"insufficient_quota"}}"#), ProviderError::Http { status: 429, .. }));
        let e = t.http_error(
            400,
            None,
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#,
        );
        assert!(matches!(e, ProviderError::ContextLength { .. }));
        let e = t.http_error(
            400,
            None,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 250000 tokens"}}"#,
        );
        assert!(matches!(e, ProviderError::ContextLength { .. }));
        let long = "x".repeat(5000);
        match t.http_error(502, None, &long) {
            ProviderError::Http { status: 502, message, .. } => assert_eq!(message.chars().count(), 300),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn in_stream_errors_are_classified() {
        let t = transport();
        let v: Value = serde_json::from_str(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#).unwrap();
        assert!(matches!(t.error_object(&v, None), ProviderError::Http { status: 529, .. }));
        let v: Value = serde_json::from_str(r#"{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}"#).unwrap();
        assert!(matches!(t.error_object(&v, None), ProviderError::RateLimited { .. }));
        let v: Value = serde_json::from_str(r#"{"error":{"message":"boom","code":502}}"#).unwrap();
        assert!(matches!(t.error_object(&v, None), ProviderError::Http { status: 502, .. }));
    }
}
