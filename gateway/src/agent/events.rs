//! A run's voice on the wire: `agent` events (assistant deltas, tool phases, lifecycle) and
//! their chat projection (`chat` delta/final/aborted/error), both to operators holding
//! `operator.read`, and the transcript writes that must happen before the loop moves on.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pincer_agent::model::{now_ms, AssistantMessage, Message, StopReason};
use pincer_agent::provider::ErrorKind;
use pincer_agent::runner::{PersistError, RunEvent, RunObserver};
use pincer_protocol::agent::AgentEvent;
use pincer_protocol::chat::ChatEvent;
use pincer_protocol::methods::events;
use serde_json::{json, Map, Value};

use super::keys::agent_id_of;
use super::partial::PartialText;
use crate::state::SharedState;

/// Emits one run's events and persists its messages.
pub struct RunEmitter {
    state: SharedState,
    pub run_id: String,
    pub session_key: String,
    pub session_id: String,
    agent_seq: AtomicU64,
    chat_seq: AtomicU64,
    /// Text of the assistant message being streamed (chat deltas carry the whole text so far).
    streaming_text: Mutex<String>,
    /// Which model call of the run is streaming (names the `itemId` of assistant deltas).
    assistant_item: AtomicU64,
    /// Set when the run is cancelled as a failure (its timeout), not by a person: the partial
    /// answer the runner saves as "aborted" is then recorded as an error with this message.
    pub abort_error: Arc<Mutex<Option<String>>>,
    /// An assistant message recording this run's failure is in the transcript.
    failure_recorded: AtomicBool,
    /// The streamed text, saved every few hundred milliseconds for recovery after a kill.
    pub partial: PartialText,
}

impl RunEmitter {
    pub fn new(state: SharedState, run_id: &str, session_key: &str, session_id: &str) -> RunEmitter {
        RunEmitter {
            state: state.clone(),
            run_id: run_id.to_string(),
            session_key: session_key.to_string(),
            session_id: session_id.to_string(),
            agent_seq: AtomicU64::new(0),
            chat_seq: AtomicU64::new(0),
            streaming_text: Mutex::new(String::new()),
            assistant_item: AtomicU64::new(0),
            abort_error: Arc::new(Mutex::new(None)),
            failure_recorded: AtomicBool::new(false),
            partial: PartialText::new(state.clone(), run_id),
        }
    }

    /// Make sure the transcript shows why the run failed: unless the runner already saved an
    /// assistant message with `stopReason: "error"` (a provider error, a timeout after text),
    /// append an empty one carrying `message` (failures before or outside a model call: no
    /// model configured, a timeout before any text, the tool loop's limits).
    pub fn record_failure(&self, message: &str) {
        if self.failure_recorded.load(Ordering::Relaxed) || self.session_id.is_empty() {
            return;
        }
        let note = Message::Assistant(AssistantMessage::error_note(message, now_ms()));
        if let Err(e) = self.persist(&note) {
            tracing::warn!(run = %self.run_id, error = %e, "could not record the failure of a run in its transcript");
        }
    }

    /// An `agent` event on `stream` with `data`.
    pub fn agent(&self, stream: &str, data: Value) {
        let seq = self.agent_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let event = AgentEvent {
            run_id: self.run_id.clone(),
            stream: stream.to_string(),
            data,
            session_key: self.session_key.clone(),
            agent_id: Some(agent_id_of(&self.session_key).to_string()),
            session_id: Some(self.session_id.clone()),
            seq,
            ts: now_ms(),
            is_heartbeat: Some(false),
            extra: Map::new(),
        };
        let payload = serde_json::to_value(&event).unwrap_or(Value::Null);
        self.state.hub.broadcast(events::AGENT, &payload);
        if stream == "tool" {
            super::session_events::tool_phase(&self.state, &self.session_key, &payload);
        }
    }

    /// A `chat` event in `state` with the next sequence number and no other fields yet: fill
    /// the ones `state` needs, then [`RunEmitter::send_chat`].
    pub fn chat_event(&self, state: &str) -> ChatEvent {
        ChatEvent {
            run_id: self.run_id.clone(),
            session_key: self.session_key.clone(),
            agent_id: Some(agent_id_of(&self.session_key).to_string()),
            seq: self.chat_seq.fetch_add(1, Ordering::Relaxed) + 1,
            state: state.to_string(),
            message: None,
            delta_text: None,
            usage: None,
            stop_reason: None,
            error_message: None,
            error_kind: None,
            merged_into: None,
            queue_disposition: None,
            extra: Map::new(),
        }
    }

    pub fn send_chat(&self, event: &ChatEvent) {
        let payload = serde_json::to_value(event).unwrap_or(Value::Null);
        self.state.hub.broadcast(events::CHAT, &payload);
    }

    pub fn lifecycle_start(&self, started_at: i64) {
        self.agent("lifecycle", json!({"phase": "start", "startedAt": started_at}));
    }

    pub fn lifecycle_end(&self, started_at: i64, ended_at: i64, stop_reason: &str, aborted: bool) {
        self.agent(
            "lifecycle",
            json!({"phase": "end", "stopReason": stop_reason, "aborted": aborted, "startedAt": started_at, "endedAt": ended_at}),
        );
    }

    /// Before each model call: which model is asked.
    pub fn lifecycle_model(&self, label: &str) {
        let (provider, model) = label.split_once('/').unwrap_or(("", label));
        self.agent("lifecycle", json!({"phase": "model", "provider": provider, "model": model}));
    }

    pub fn lifecycle_error(&self, started_at: i64, ended_at: i64, error: &str) {
        self.agent("lifecycle", json!({"phase": "error", "startedAt": started_at, "endedAt": ended_at, "error": error}));
    }

    /// The run answered: `chat` final with the last assistant message.
    pub fn final_message(&self, message: &Value, usage: &Value, stop_reason: &str) {
        let mut event = self.chat_event("final");
        event.message = Some(message.clone());
        event.usage = Some(usage.clone());
        event.stop_reason = Some(stop_reason.to_string());
        self.send_chat(&event);
    }

    pub fn error(&self, message: &str, kind: ErrorKind) {
        let mut event = self.chat_event("error");
        event.error_message = Some(message.to_string());
        event.error_kind = Some(kind.as_str().to_string());
        self.send_chat(&event);
    }

    pub fn aborted(&self) {
        let text = self.streaming_text.lock().map(|t| t.clone()).unwrap_or_default();
        let mut event = self.chat_event("aborted");
        if !text.is_empty() {
            event.message = Some(assistant_text_message(&text));
        }
        // OpenClaw's reason for an abort requested over RPC.
        event.stop_reason = Some("rpc".into());
        self.send_chat(&event);
    }
}

fn assistant_text_message(text: &str) -> Value {
    json!({"role": "assistant", "content": [{"type": "text", "text": text}], "timestamp": now_ms()})
}

impl RunObserver for RunEmitter {
    fn event(&self, event: RunEvent) {
        match event {
            RunEvent::AssistantStart => {
                self.assistant_item.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut t) = self.streaming_text.lock() {
                    t.clear();
                }
            }
            RunEvent::AssistantDelta(delta) => {
                let text = match self.streaming_text.lock() {
                    Ok(mut t) => {
                        t.push_str(&delta);
                        t.clone()
                    }
                    Err(_) => delta.clone(),
                };
                self.partial.update(&text);
                let item = format!("{}:{}", self.run_id, self.assistant_item.load(Ordering::Relaxed));
                self.agent("assistant", json!({"text": text, "delta": delta, "itemId": item}));
                let mut event = self.chat_event("delta");
                event.message = Some(assistant_text_message(&text));
                event.delta_text = Some(delta);
                self.send_chat(&event);
            }
            RunEvent::ThinkingDelta(delta) => self.agent("thinking", json!({"delta": delta})),
            RunEvent::ToolStart { tool_call_id, name, args } => {
                self.agent("tool", json!({"phase": "start", "name": name, "toolCallId": tool_call_id, "args": args}))
            }
            RunEvent::ToolUpdate { tool_call_id, name, data } => {
                self.agent("tool", json!({"phase": "update", "name": name, "toolCallId": tool_call_id, "partialResult": data}))
            }
            RunEvent::ToolResult { tool_call_id, name, is_error, result } => self
                .agent("tool", json!({"phase": "result", "name": name, "toolCallId": tool_call_id, "isError": is_error, "result": result})),
        }
    }

    fn persist(&self, message: &Message) -> Result<(), PersistError> {
        let failure = self.abort_error.lock().ok().and_then(|e| e.clone());
        let message = match (message, failure) {
            (Message::Assistant(a), Some(error)) if a.stop_reason == StopReason::Aborted => {
                Message::Assistant(AssistantMessage { stop_reason: StopReason::Error, error_message: Some(error), ..a.clone() })
            }
            _ => message.clone(),
        };
        let value = serde_json::to_value(&message).map_err(PersistError::new)?;
        let stored = self
            .state
            .store
            .append_message(&self.session_key, &self.session_id, Some(&self.run_id), &value, now_ms())
            .map_err(PersistError::new)?;
        // Stored whole: the partial copy is no longer needed.
        self.partial.clear();
        super::session_events::message_added(&self.state, &self.session_key, stored, Some(&self.run_id), &value);
        if matches!(&message, Message::Assistant(a) if a.stop_reason == StopReason::Error) {
            self.failure_recorded.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}
