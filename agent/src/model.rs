//! The conversation model: messages as they are stored in transcripts, returned by
//! `chat.history` and sent (after conversion) to providers.
//!
//! The JSON shape is OpenClaw's (pi-agent-core's): `{role:"user"|"assistant"|"toolResult", content:[…],
//! timestamp}`, content parts `{type:"text",text}`, `{type:"image",data,mimeType}`,
//! `{type:"thinking",thinking}`, `{type:"toolCall",id,name,arguments}`. Keeping that shape means the
//! OpenClaw Control UI renders Pincer's transcripts without translation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Content {
    Text {
        text: String,
    },
    /// Base64 image data (no `data:` prefix).
    Image {
        data: String,
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// The model's reasoning. Anthropic signs it (`thinkingSignature`), and a redacted block
    /// keeps only its encrypted `data` there (`redacted`); both must go back to the API
    /// unchanged within a tool loop.
    Thinking {
        thinking: String,
        #[serde(rename = "thinkingSignature", default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        redacted: bool,
    },
    /// A tool call the assistant made. `arguments` is the parsed JSON object; arguments that were
    /// not valid JSON are kept as a string so the transcript shows what the model sent.
    ToolCall {
        id: String,
        name: String,
        arguments: Value,
    },
}

impl Content {
    pub fn text(text: impl Into<String>) -> Content {
        Content::Text { text: text.into() }
    }

    /// Unsigned reasoning text (what OpenAI-compatible servers stream).
    pub fn thinking(text: impl Into<String>) -> Content {
        Content::Thinking { thinking: text.into(), signature: None, redacted: false }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Content::Text { text } => Some(text),
            _ => None,
        }
    }
}

/// Token accounting for one model response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub total_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
        self.total_tokens += other.total_tokens;
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    Stop,
    Length,
    ToolUse,
    Error,
    Aborted,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Stop => "stop",
            StopReason::Length => "length",
            StopReason::ToolUse => "toolUse",
            StopReason::Error => "error",
            StopReason::Aborted => "aborted",
        }
    }
}

/// A user turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserMessage {
    pub content: Vec<Content>,
    pub timestamp: i64,
}

/// A model response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssistantMessage {
    pub content: Vec<Content>,
    /// Wire API used (`openai-completions` / `anthropic-messages`).
    #[serde(default)]
    pub api: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub usage: Usage,
    pub stop_reason: StopReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub timestamp: i64,
}

impl AssistantMessage {
    /// An empty answer that records why a turn failed (shown by chat UIs; providers skip it).
    pub fn error_note(message: impl Into<String>, timestamp: i64) -> AssistantMessage {
        AssistantMessage {
            content: Vec::new(),
            api: String::new(),
            provider: String::new(),
            model: String::new(),
            usage: Usage::default(),
            stop_reason: StopReason::Error,
            error_message: Some(message.into()),
            timestamp,
        }
    }

    /// The concatenated text parts.
    pub fn text(&self) -> String {
        self.content.iter().filter_map(Content::as_text).collect::<Vec<_>>().join("")
    }

    /// The tool calls, in the order the model made them.
    pub fn tool_calls(&self) -> impl Iterator<Item = ToolCall<'_>> {
        self.content.iter().filter_map(|c| match c {
            Content::ToolCall { id, name, arguments } => Some(ToolCall { id, name, arguments }),
            _ => None,
        })
    }
}

/// A borrowed view of a tool call inside an assistant message.
#[derive(Debug, Clone, Copy)]
pub struct ToolCall<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub arguments: &'a Value,
}

/// The outcome of one tool call, fed back to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultMessage {
    pub tool_call_id: String,
    pub tool_name: String,
    pub content: Vec<Content>,
    /// Structured extras for UIs (not sent to the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    pub is_error: bool,
    pub timestamp: i64,
}

/// One transcript entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "camelCase")]
pub enum Message {
    User(UserMessage),
    Assistant(AssistantMessage),
    ToolResult(ToolResultMessage),
    /// A summary that replaces older messages after compaction (Pincer's; rendered as a note).
    CompactionSummary(CompactionSummary),
}

/// What compaction leaves in place of the messages it folded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompactionSummary {
    pub summary: String,
    /// How many messages the summary replaces.
    pub replaced: usize,
    pub tokens_before: u64,
    pub timestamp: i64,
}

impl Message {
    pub fn user_text(text: impl Into<String>, timestamp: i64) -> Message {
        Message::User(UserMessage { content: vec![Content::text(text)], timestamp })
    }

    pub fn timestamp(&self) -> i64 {
        match self {
            Message::User(m) => m.timestamp,
            Message::Assistant(m) => m.timestamp,
            Message::ToolResult(m) => m.timestamp,
            Message::CompactionSummary(m) => m.timestamp,
        }
    }

    pub fn role(&self) -> &'static str {
        match self {
            Message::User(_) => "user",
            Message::Assistant(_) => "assistant",
            Message::ToolResult(_) => "toolResult",
            Message::CompactionSummary(_) => "compactionSummary",
        }
    }

    /// The plain text of the message (text parts only), for previews and token estimates.
    pub fn plain_text(&self) -> String {
        let parts: &[Content] = match self {
            Message::User(m) => &m.content,
            Message::Assistant(m) => &m.content,
            Message::ToolResult(m) => &m.content,
            Message::CompactionSummary(m) => return m.summary.clone(),
        };
        parts.iter().filter_map(Content::as_text).collect::<Vec<_>>().join("")
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_serialize_in_openclaw_transcript_shape() {
        let m = Message::Assistant(AssistantMessage {
            content: vec![Content::text("hi"), Content::ToolCall { id: "c1".into(), name: "read".into(), arguments: json!({"path": "a"}) }],
            api: "openai-completions".into(),
            provider: "fake".into(),
            model: "m".into(),
            usage: Usage { input: 1, output: 2, cache_read: 0, cache_write: 0, total_tokens: 3 },
            stop_reason: StopReason::ToolUse,
            error_message: None,
            timestamp: 5,
        });
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            json!({"role": "assistant", "content": [{"type": "text", "text": "hi"},
                {"type": "toolCall", "id": "c1", "name": "read", "arguments": {"path": "a"}}],
                "api": "openai-completions", "provider": "fake", "model": "m",
                "usage": {"input": 1, "output": 2, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 3},
                "stopReason": "toolUse", "timestamp": 5})
        );
        let back: Message = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
        let tr = Message::ToolResult(ToolResultMessage {
            tool_call_id: "c1".into(),
            tool_name: "read".into(),
            content: vec![Content::Image { data: "AA==".into(), mime_type: "image/png".into() }],
            details: None,
            is_error: false,
            timestamp: 6,
        });
        assert_eq!(
            serde_json::to_value(&tr).unwrap(),
            json!({"role": "toolResult", "toolCallId": "c1", "toolName": "read",
                "content": [{"type": "image", "data": "AA==", "mimeType": "image/png"}], "isError": false, "timestamp": 6})
        );
    }
}
