//! What the tool loop needs from a model: one streamed completion at a time.
//!
//! Concrete wire clients live in [`crate::providers`]; the loop only sees [`ModelClient`], so
//! tests can drive it with a scripted model and the gateway can wrap clients in failover.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::model::{AssistantMessage, Message};

/// A tool the model may call, described as JSON Schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
}

/// One request to a model.
#[derive(Debug, Clone, Default)]
pub struct ModelRequest {
    pub system_prompt: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    /// Output token cap, if the model config has one.
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// How hard a reasoning model should think; ignored for models not marked `reasoning`.
    pub thinking: ThinkingLevel,
}

/// OpenClaw's thinking levels (`sessions.patch thinkingLevel`, `chat.send`/`agent` `thinking`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ThinkingLevel {
    #[default]
    Off,
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
}

impl ThinkingLevel {
    pub const NAMES: [&'static str; 6] = ["off", "minimal", "low", "medium", "high", "xhigh"];

    pub fn parse(name: &str) -> Option<ThinkingLevel> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "off" => ThinkingLevel::Off,
            "minimal" => ThinkingLevel::Minimal,
            "low" => ThinkingLevel::Low,
            "medium" => ThinkingLevel::Medium,
            "high" => ThinkingLevel::High,
            "xhigh" => ThinkingLevel::XHigh,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// OpenAI's `reasoning_effort` (which stops at `high`; `minimal` is sent as `low`, the
    /// lowest every reasoning model accepts); `None` when off.
    pub fn reasoning_effort(self) -> Option<&'static str> {
        match self {
            ThinkingLevel::Off => None,
            ThinkingLevel::Minimal | ThinkingLevel::Low => Some("low"),
            ThinkingLevel::Medium => Some("medium"),
            ThinkingLevel::High | ThinkingLevel::XHigh => Some("high"),
        }
    }

    /// Anthropic's extended-thinking `budget_tokens` (its minimum is 1024); `None` when off.
    pub fn budget_tokens(self) -> Option<u32> {
        match self {
            ThinkingLevel::Off => None,
            ThinkingLevel::Minimal => Some(1024),
            ThinkingLevel::Low => Some(4096),
            ThinkingLevel::Medium => Some(10_000),
            ThinkingLevel::High => Some(20_000),
            ThinkingLevel::XHigh => Some(32_000),
        }
    }
}

/// Incremental output while a response streams.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamDelta {
    Text(String),
    Thinking(String),
    /// The model started a tool call (arguments still streaming).
    ToolCallStarted {
        id: String,
        name: String,
    },
}

/// Coarse error classes, matching the `errorKind` of OpenClaw's `chat` error events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Refusal,
    Timeout,
    RateLimit,
    ContextLength,
    Unknown,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Refusal => "refusal",
            ErrorKind::Timeout => "timeout",
            ErrorKind::RateLimit => "rate_limit",
            ErrorKind::ContextLength => "context_length",
            ErrorKind::Unknown => "unknown",
        }
    }
}

/// Why a completion failed. Messages never contain API keys.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider}: rate limited (HTTP 429){}", retry_after.map(|d| format!(", retry after {} ms", d.as_millis())).unwrap_or_default())]
    RateLimited { provider: String, retry_after: Option<Duration> },
    #[error("{provider}: HTTP {status}: {message}")]
    Http { provider: String, status: u16, message: String, retry_after: Option<Duration> },
    #[error("{provider}: authentication failed (HTTP {status}): check the API key ({hint})")]
    Auth { provider: String, status: u16, hint: String },
    #[error("{provider}: the conversation is longer than the model's context window: {message}")]
    ContextLength { provider: String, message: String },
    #[error("{provider}: {what} timed out after {} ms", after.as_millis())]
    Timeout { provider: String, what: &'static str, after: Duration },
    #[error("{provider}: connection failed: {message}")]
    Transport { provider: String, message: String },
    #[error("{provider}: the stream ended before the response was complete")]
    Truncated { provider: String },
    #[error("{provider}: malformed response: {message}")]
    Malformed { provider: String, message: String },
    #[error("{provider}: the model refused: {message}")]
    Refusal { provider: String, message: String },
    #[error("{message}")]
    Config { message: String },
    #[error("aborted")]
    Aborted,
}

impl ProviderError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProviderError::RateLimited { .. } => ErrorKind::RateLimit,
            ProviderError::Timeout { .. } => ErrorKind::Timeout,
            ProviderError::ContextLength { .. } => ErrorKind::ContextLength,
            ProviderError::Refusal { .. } => ErrorKind::Refusal,
            _ => ErrorKind::Unknown,
        }
    }

    /// Worth retrying the same model (after a backoff).
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::RateLimited { .. }
            | ProviderError::Timeout { .. }
            | ProviderError::Transport { .. }
            | ProviderError::Truncated { .. } => true,
            ProviderError::Http { status, .. } => *status >= 500 || *status == 408 || *status == 409,
            _ => false,
        }
    }

    /// Worth trying the next model in the fallback chain (retries exhausted or model unusable).
    pub fn allows_failover(&self) -> bool {
        !matches!(self, ProviderError::Aborted | ProviderError::ContextLength { .. } | ProviderError::Refusal { .. })
    }

    /// A server-requested delay before the next attempt.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. } | ProviderError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Receives stream deltas as they arrive.
pub type DeltaSink<'a> = &'a mut (dyn FnMut(StreamDelta) + Send);

/// A model that can stream one completion.
pub trait ModelClient: Send + Sync {
    /// `provider/model`, for logs and transcripts.
    fn label(&self) -> String;

    /// Stream a completion. Deltas go to `on_delta` as they arrive; the returned message is the
    /// whole response (text, thinking, tool calls with parsed arguments, usage, stop reason).
    /// Must return [`ProviderError::Aborted`] promptly once `cancel` fires.
    fn stream<'a>(
        &'a self,
        request: &'a ModelRequest,
        cancel: &'a CancellationToken,
        on_delta: DeltaSink<'a>,
    ) -> BoxFuture<'a, Result<AssistantMessage, ProviderError>>;
}
