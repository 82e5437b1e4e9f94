//! The tool loop: ask the model, run the tools it calls, feed the results back, until it
//! answers without tools, the run is aborted, or a limit stops it.
//!
//! Every message the loop produces goes to [`RunObserver::persist`] *before* the loop moves
//! on, so a transcript is consistent at every point a process could die: a tool call is
//! stored before the tool runs, its result before the model sees it.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::context;
use crate::model::{now_ms, AssistantMessage, Content, Message, StopReason, ToolResultMessage, Usage};
use crate::provider::{ErrorKind, ModelClient, ModelRequest, ProviderError, StreamDelta, ThinkingLevel};
use crate::tool::{ToolContext, ToolOutput, ToolSet};

/// Limits of one run.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Model calls per run (each tool round is one).
    pub max_model_calls: usize,
    /// Characters of tool output the model sees per call (the rest is cut with a note).
    pub max_tool_result_chars: usize,
    /// The same tool with the same arguments this many times in one run trips the loop guard.
    pub max_identical_calls: usize,
    /// Tokens the request may use (context window minus the reserve for the answer).
    pub context_budget_tokens: u64,
    pub max_output_tokens: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_model_calls: 40,
            max_tool_result_chars: 50_000,
            max_identical_calls: 3,
            context_budget_tokens: 100_000,
            max_output_tokens: None,
        }
    }
}

/// Streamed progress of a run, for `agent` / `chat` events.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// A model call starts (a fresh assistant message).
    AssistantStart,
    AssistantDelta(String),
    ThinkingDelta(String),
    ToolStart {
        tool_call_id: String,
        name: String,
        args: Value,
    },
    ToolUpdate {
        tool_call_id: String,
        name: String,
        data: Value,
    },
    ToolResult {
        tool_call_id: String,
        name: String,
        is_error: bool,
        result: Value,
    },
}

/// Where a run reports to. `persist` must make the message durable; if it fails the run stops.
pub trait RunObserver: Send + Sync {
    fn event(&self, event: RunEvent);
    fn persist(&self, message: &Message) -> Result<(), PersistError>;
}

/// Why a message could not be made durable (the store's own error, kept as the source).
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct PersistError(Arc<dyn std::error::Error + Send + Sync>);

impl PersistError {
    pub fn new(source: impl std::error::Error + Send + Sync + 'static) -> PersistError {
        PersistError(Arc::new(source))
    }
}

/// One run's inputs.
pub struct Turn<'a> {
    pub run_id: &'a str,
    pub session_key: &'a str,
    pub system_prompt: String,
    /// The transcript so far, ending with the new user message (already persisted).
    pub history: Vec<Message>,
    pub tools: &'a ToolSet,
    pub limits: Limits,
    pub thinking: ThinkingLevel,
}

/// Why a run ended without a final answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the agent stopped after {0} model calls without finishing (limit reached)")]
    TooManyModelCalls(usize),
    #[error("the agent kept repeating the same tool call ({name}); stopped to avoid a loop")]
    LoopGuard { name: String },
    #[error("could not save the transcript: {0}")]
    Persist(PersistError),
}

impl RunError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RunError::Provider(e) => e.kind(),
            _ => ErrorKind::Unknown,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum RunEnd {
    /// The model answered without (further) tool calls.
    Completed(AssistantMessage),
    Aborted,
    Failed(RunError),
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub end: RunEnd,
    /// Token usage summed over every model call of the run.
    pub usage: Usage,
    pub model_calls: usize,
}

/// Run the loop to its end. Never panics on model or tool output.
pub async fn run_turn(model: &dyn ModelClient, mut turn: Turn<'_>, observer: &dyn RunObserver, cancel: &CancellationToken) -> RunOutcome {
    let mut messages = std::mem::take(&mut turn.history);
    let mut usage = Usage::default();
    let mut seen_calls: HashMap<(String, String), usize> = HashMap::new();
    let specs = turn.tools.specs();
    let mut model_calls = 0;
    let end = loop {
        if cancel.is_cancelled() {
            break RunEnd::Aborted;
        }
        if model_calls >= turn.limits.max_model_calls {
            break RunEnd::Failed(RunError::TooManyModelCalls(model_calls));
        }
        model_calls += 1;
        let request = ModelRequest {
            system_prompt: turn.system_prompt.clone(),
            messages: prepare_for_model(&messages, &turn.limits, &turn.system_prompt, &specs),
            tools: specs.clone(),
            max_tokens: turn.limits.max_output_tokens,
            temperature: None,
            thinking: turn.thinking,
        };
        observer.event(RunEvent::AssistantStart);
        let mut streamed = String::new();
        let result = {
            let mut on_delta = |delta: StreamDelta| match delta {
                StreamDelta::Text(t) => {
                    streamed.push_str(&t);
                    observer.event(RunEvent::AssistantDelta(t));
                }
                StreamDelta::Thinking(t) => observer.event(RunEvent::ThinkingDelta(t)),
                StreamDelta::ToolCallStarted { .. } => {}
            };
            model.stream(&request, cancel, &mut on_delta).await
        };
        let reply = match result {
            Ok(reply) => reply,
            Err(ProviderError::Aborted) => {
                // Keep what the person already saw, marked as cut off.
                if !streamed.is_empty() {
                    let partial = partial_message(model, streamed, StopReason::Aborted, None);
                    if let Err(e) = observer.persist(&Message::Assistant(partial)) {
                        tracing::warn!(error = %e, "could not save the partial answer of an aborted run");
                    }
                }
                break RunEnd::Aborted;
            }
            Err(error) => {
                let failed = partial_message(model, streamed, StopReason::Error, Some(error.to_string()));
                if let Err(e) = observer.persist(&Message::Assistant(failed)) {
                    break RunEnd::Failed(RunError::Persist(e));
                }
                break RunEnd::Failed(RunError::Provider(error));
            }
        };
        usage.add(&reply.usage);
        let message = Message::Assistant(reply.clone());
        if let Err(e) = observer.persist(&message) {
            break RunEnd::Failed(RunError::Persist(e));
        }
        messages.push(message);
        let calls: Vec<(String, String, Value)> =
            reply.tool_calls().map(|c| (c.id.to_string(), c.name.to_string(), c.arguments.clone())).collect();
        if calls.is_empty() {
            break RunEnd::Completed(reply);
        }

        let mut tripped = None;
        let futures = calls.iter().map(|(id, name, args)| {
            let key = (name.clone(), args.to_string());
            let count = seen_calls.entry(key).or_insert(0);
            *count += 1;
            let repeated = *count > turn.limits.max_identical_calls;
            if repeated {
                tripped = Some(name.clone());
            }
            run_tool(turn.tools, &turn, id, name, args, repeated, observer, cancel)
        });
        let results = join_all(futures.collect::<Vec<_>>()).await;
        let mut persist_failed = None;
        for result in results {
            let message = Message::ToolResult(result);
            if let Err(e) = observer.persist(&message) {
                persist_failed = Some(e);
                break;
            }
            messages.push(message);
        }
        if let Some(e) = persist_failed {
            break RunEnd::Failed(RunError::Persist(e));
        }
        if cancel.is_cancelled() {
            break RunEnd::Aborted;
        }
        if let Some(name) = tripped {
            // The model was told once (the error result); repeating again ends the run.
            let worst = seen_calls.values().copied().max().unwrap_or(0);
            if worst > turn.limits.max_identical_calls + 1 {
                break RunEnd::Failed(RunError::LoopGuard { name });
            }
        }
    };
    RunOutcome { end, usage, model_calls }
}

fn partial_message(model: &dyn ModelClient, text: String, stop_reason: StopReason, error: Option<String>) -> AssistantMessage {
    let (provider, model_id) = split_label(&model.label());
    AssistantMessage {
        content: if text.is_empty() { Vec::new() } else { vec![Content::text(text)] },
        api: String::new(),
        provider,
        model: model_id,
        usage: Usage::default(),
        stop_reason,
        error_message: error,
        timestamp: now_ms(),
    }
}

fn split_label(label: &str) -> (String, String) {
    match label.split_once('/') {
        Some((p, m)) => (p.to_string(), m.to_string()),
        None => (String::new(), label.to_string()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_tool(
    tools: &ToolSet,
    turn: &Turn<'_>,
    id: &str,
    name: &str,
    args: &Value,
    repeated: bool,
    observer: &dyn RunObserver,
    cancel: &CancellationToken,
) -> ToolResultMessage {
    observer.event(RunEvent::ToolStart { tool_call_id: id.to_string(), name: name.to_string(), args: args.clone() });
    let output = if repeated {
        ToolOutput::error(format!(
            "Not run: this exact `{name}` call was already made {} times in this turn with the same arguments. Use the earlier results or try something different.",
            turn.limits.max_identical_calls
        ))
    } else if let Some(tool) = tools.get(name) {
        match args {
            Value::Object(_) => {
                let progress = |data: Value| {
                    observer.event(RunEvent::ToolUpdate { tool_call_id: id.to_string(), name: name.to_string(), data })
                };
                let ctx = ToolContext { session_key: turn.session_key, run_id: turn.run_id, tool_call_id: id, cancel, progress: &progress };
                tool.call(args.clone(), ctx).await
            }
            Value::String(raw) => ToolOutput::error(format!(
                "The arguments of this `{name}` call are not valid JSON, so it was not run. Send a JSON object matching the tool's schema. Received: {}",
                excerpt(raw, 500)
            )),
            Value::Null => tool_call_with_empty_args(tool.as_ref(), turn, id, name, observer, cancel).await,
            other => ToolOutput::error(format!(
                "The arguments of this `{name}` call must be a JSON object, not {}; it was not run.",
                json_type(other)
            )),
        }
    } else {
        let available = tools.names().join(", ");
        ToolOutput::error(format!("There is no tool named `{name}`. Available tools: {available}."))
    };
    let content = cap_content(output.content, turn.limits.max_tool_result_chars);
    let result_view = json!({
        "content": serde_json::to_value(&content).unwrap_or(Value::Null),
        "details": output.details.clone().unwrap_or(Value::Null),
    });
    observer.event(RunEvent::ToolResult {
        tool_call_id: id.to_string(),
        name: name.to_string(),
        is_error: output.is_error,
        result: result_view,
    });
    ToolResultMessage {
        tool_call_id: id.to_string(),
        tool_name: name.to_string(),
        content,
        details: output.details,
        is_error: output.is_error,
        timestamp: now_ms(),
    }
}

async fn tool_call_with_empty_args(
    tool: &dyn crate::tool::Tool,
    turn: &Turn<'_>,
    id: &str,
    name: &str,
    observer: &dyn RunObserver,
    cancel: &CancellationToken,
) -> ToolOutput {
    let progress = |data: Value| observer.event(RunEvent::ToolUpdate { tool_call_id: id.to_string(), name: name.to_string(), data });
    let ctx = ToolContext { session_key: turn.session_key, run_id: turn.run_id, tool_call_id: id, cancel, progress: &progress };
    tool.call(json!({}), ctx).await
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn excerpt(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max).collect();
    format!("{head}…")
}

/// Cut the text parts of a tool result to `max_chars` in total (head and tail kept, with a note),
/// so one huge output cannot flood the context.
pub fn cap_content(content: Vec<Content>, max_chars: usize) -> Vec<Content> {
    let total: usize = content.iter().filter_map(Content::as_text).map(|t| t.chars().count()).sum();
    if total <= max_chars {
        return content;
    }
    let mut budget = max_chars;
    content
        .into_iter()
        .map(|part| match part {
            Content::Text { text } => {
                let len = text.chars().count();
                let keep = budget.min(len);
                budget -= keep;
                if keep == len {
                    Content::Text { text }
                } else {
                    let head_len = keep * 3 / 4;
                    let tail_len = keep - head_len;
                    let head: String = text.chars().take(head_len).collect();
                    let tail: String = text.chars().skip(len - tail_len).collect();
                    Content::Text {
                        text: format!("{head}\n[… {} characters cut: the output was {len} characters, over the {max_chars}-character limit for tool results …]\n{tail}", len - keep),
                    }
                }
            }
            other => other,
        })
        .collect()
}

/// The messages as the model should see them: compaction summaries as user notes, tool calls
/// whose results never arrived (a crash mid-tool) answered with an error, old tool output
/// trimmed, and the oldest messages dropped to fit the budget.
pub fn prepare_for_model(messages: &[Message], limits: &Limits, system_prompt: &str, tools: &[crate::provider::ToolSpec]) -> Vec<Message> {
    let repaired = repair_dangling_tool_calls(messages);
    let trimmed = context::trim_tool_results(&repaired, limits.max_tool_result_chars.clamp(1_000, 8_000));
    let fixed_cost = context::estimate_request(system_prompt, &[], tools);
    let budget = limits.context_budget_tokens.saturating_sub(fixed_cost).max(1_000);
    context::window(&trimmed, budget)
        .into_iter()
        .map(|m| match m {
            Message::CompactionSummary(s) => context::summary_as_user_message(&s),
            other => other,
        })
        .collect()
}

/// Every tool call must be followed by its result before the next model call (both APIs
/// reject the request otherwise). A transcript can lack one after a crash or a node that
/// vanished; this answers such calls with an error result, in the request only.
pub fn repair_dangling_tool_calls(messages: &[Message]) -> Vec<Message> {
    let mut out = Vec::with_capacity(messages.len());
    let mut i = 0;
    while i < messages.len() {
        let message = &messages[i];
        out.push(message.clone());
        i += 1;
        if let Message::Assistant(a) = message {
            let calls: Vec<(String, String)> = a.tool_calls().map(|c| (c.id.to_string(), c.name.to_string())).collect();
            if calls.is_empty() {
                continue;
            }
            let mut answered = Vec::new();
            while i < messages.len() {
                if let Message::ToolResult(r) = &messages[i] {
                    answered.push(r.tool_call_id.clone());
                    out.push(messages[i].clone());
                    i += 1;
                } else {
                    break;
                }
            }
            for (id, name) in calls {
                if !answered.contains(&id) {
                    out.push(Message::ToolResult(interrupted_result(&id, &name, a.timestamp)));
                }
            }
        }
    }
    out
}

/// The result recorded for a tool call that never finished (process killed, node gone).
pub fn interrupted_result(tool_call_id: &str, tool_name: &str, timestamp: i64) -> ToolResultMessage {
    ToolResultMessage {
        tool_call_id: tool_call_id.to_string(),
        tool_name: tool_name.to_string(),
        content: vec![Content::text(
            "This tool call was interrupted before it finished (the gateway stopped or the run ended); its outcome is unknown.",
        )],
        details: None,
        is_error: true,
        timestamp,
    }
}

#[cfg(test)]
mod tests;
