//! Transcript clean-up before a request, shared by both wire formats.
//!
//! Both APIs reject histories that a real transcript can contain after an abort or a crash: an
//! assistant tool call without a result, a result whose call is gone (compaction), an empty
//! assistant turn. Fixing them here keeps one interrupted run from wedging a session forever.

use std::collections::HashSet;

use crate::model::{Content, Message, ToolResultMessage};

/// What an unanswered tool call gets as its result.
pub const MISSING_RESULT: &str = "No result: the tool call was interrupted before it finished.";

/// The messages to send: empty assistant turns dropped, orphan tool results dropped, and a
/// synthetic error result added for every tool call that has none.
pub fn normalize(messages: &[Message]) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(messages.len());
    // Tool calls of the latest assistant turn that still await a result, in call order.
    let mut pending: Vec<(String, String)> = Vec::new();
    let mut answered: HashSet<String> = HashSet::new();
    for message in messages {
        match message {
            Message::ToolResult(result) => {
                if pending.iter().any(|(id, _)| *id == result.tool_call_id) && answered.insert(result.tool_call_id.clone()) {
                    out.push(message.clone());
                } else {
                    tracing::debug!(tool_call_id = %result.tool_call_id, "dropping a tool result without its call");
                }
            }
            other => {
                close_pending(&mut out, &mut pending, &mut answered, other.timestamp());
                if let Message::Assistant(a) = other {
                    let has_calls = a.tool_calls().next().is_some();
                    let has_text = a.content.iter().any(|c| matches!(c, Content::Text { text } if !text.trim().is_empty()));
                    // Errored/aborted turns with nothing in them (both APIs reject empty
                    // assistant turns); their partial text and calls are kept otherwise.
                    if !has_calls && !has_text {
                        continue;
                    }
                    pending = a.tool_calls().map(|c| (c.id.to_string(), c.name.to_string())).collect();
                }
                out.push(other.clone());
            }
        }
    }
    close_pending(&mut out, &mut pending, &mut answered, 0);
    out
}

fn close_pending(out: &mut Vec<Message>, pending: &mut Vec<(String, String)>, answered: &mut HashSet<String>, timestamp: i64) {
    for (id, name) in pending.drain(..) {
        if !answered.contains(&id) {
            out.push(Message::ToolResult(ToolResultMessage {
                tool_call_id: id,
                tool_name: name,
                content: vec![Content::text(MISSING_RESULT)],
                details: None,
                is_error: true,
                timestamp,
            }));
        }
    }
    answered.clear();
}

/// Tool call arguments as a JSON object for APIs that need one: arguments the model sent as
/// invalid JSON are kept as a string in the transcript; retry parsing, else send `{}`.
pub fn arguments_object(arguments: &serde_json::Value) -> serde_json::Value {
    match arguments {
        serde_json::Value::Object(_) => arguments.clone(),
        serde_json::Value::String(raw) => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => serde_json::json!({}),
        },
        _ => serde_json::json!({}),
    }
}

/// Tool call arguments as the JSON text OpenAI-style APIs carry (raw text is sent back as is).
pub fn arguments_text(arguments: &serde_json::Value) -> String {
    match arguments {
        serde_json::Value::String(raw) => raw.clone(),
        serde_json::Value::Null => "{}".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AssistantMessage, StopReason, Usage};
    use serde_json::json;

    fn assistant(content: Vec<Content>, stop: StopReason) -> Message {
        Message::Assistant(AssistantMessage {
            content,
            api: String::new(),
            provider: String::new(),
            model: String::new(),
            usage: Usage::default(),
            stop_reason: stop,
            error_message: None,
            timestamp: 1,
        })
    }

    fn result(id: &str) -> Message {
        Message::ToolResult(ToolResultMessage {
            tool_call_id: id.into(),
            tool_name: "t".into(),
            content: vec![Content::text("ok")],
            details: None,
            is_error: false,
            timestamp: 2,
        })
    }

    fn call(id: &str) -> Content {
        Content::ToolCall { id: id.into(), name: "t".into(), arguments: json!({}) }
    }

    #[test]
    fn fills_missing_results_and_drops_orphans_and_empty_turns() {
        let messages = vec![
            Message::user_text("hi", 0),
            assistant(vec![call("a"), call("b")], StopReason::ToolUse),
            result("b"),
            result("zzz"),
            Message::user_text("again", 3),
            assistant(vec![], StopReason::Error),
            assistant(vec![call("c")], StopReason::Aborted),
        ];
        let out = normalize(&messages);
        let shape: Vec<String> = out
            .iter()
            .map(|m| match m {
                Message::ToolResult(r) => format!("result:{}:{}", r.tool_call_id, r.is_error),
                other => other.role().to_string(),
            })
            .collect();
        assert_eq!(shape, ["user", "assistant", "result:b:false", "result:a:true", "user", "assistant", "result:c:true"]);
    }

    #[test]
    fn arguments_round_trip() {
        assert_eq!(arguments_object(&json!("{\"x\":1}")), json!({"x": 1}));
        assert_eq!(arguments_object(&json!("{oops")), json!({}));
        assert_eq!(arguments_text(&json!("{oops")), "{oops");
        assert_eq!(arguments_text(&json!({"x": 1})), "{\"x\":1}");
    }
}
