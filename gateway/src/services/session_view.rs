//! Session views: a session as `sessions.list` and the session events show it (model,
//! context window, token counts, last message preview) and the thinking levels of a model.

use std::sync::Arc;

use pincer_agent::config::{AgentConfig, ModelRef};
use pincer_agent::model::Message;
use pincer_agent::provider::ThinkingLevel;
use serde_json::{json, Map, Value};

use crate::agent::host;
use crate::state::SharedState;
use crate::store::SessionRecord;

const PREVIEW_CHARS: usize = 240;

/// The agent config, when one is set up.
pub fn agent_config(state: &SharedState) -> Option<Arc<AgentConfig>> {
    host::agent_config(state).ok()
}

pub fn context_window(config: &AgentConfig, model: &ModelRef) -> u64 {
    config.model_config(model).context_window
}

/// One `sessions.list` row.
pub fn entry(state: &SharedState, s: &SessionRecord, defaults: Option<&AgentConfig>) -> Value {
    let (count, last) = state.store.transcript_stats(&s.session_id).unwrap_or((0, None));
    let mut out = json!({
        "key": s.session_key,
        "kind": if s.session_key.contains(":group:") { "group" } else { "direct" },
        "sessionId": s.session_id,
        "updatedAt": s.updated_at_ms,
        "createdAt": s.created_at_ms,
        "messageCount": count,
        "inputTokens": s.meta.get("inputTokens").cloned().unwrap_or(json!(0)),
        "outputTokens": s.meta.get("outputTokens").cloned().unwrap_or(json!(0)),
        "totalTokens": s.meta.get("totalTokens").cloned().unwrap_or(json!(0)),
    });
    if let Some(m) = session_model(s, defaults) {
        out["modelProvider"] = json!(m.provider);
        out["model"] = json!(m.model);
        if let Some(d) = defaults {
            out["contextTokens"] = json!(context_window(d, &m));
        }
    }
    for key in ["label", "thinkingLevel", "verboseLevel", "compactionCount"] {
        if let Some(v) = s.meta.get(key) {
            out[key] = v.clone();
        }
    }
    if let Some(last) = last.and_then(|m| serde_json::from_value::<Message>(m).ok()) {
        out["lastMessagePreview"] = json!(preview_text(&last.plain_text()));
    }
    out
}

/// The model a session runs on: its own override, else the configured primary.
pub fn session_model(s: &SessionRecord, defaults: Option<&AgentConfig>) -> Option<ModelRef> {
    s.meta.get("model").and_then(Value::as_str).and_then(|m| ModelRef::parse(m).ok()).or_else(|| defaults.and_then(|d| d.primary.clone()))
}

/// `thinkingLevels`, `thinkingOptions` and `thinkingDefault` for `model` (as `agents.list` and
/// `sessions.describe` show them): every level for a reasoning model, else only `off`.
pub fn thinking_fields(config: Option<&AgentConfig>, model: Option<&ModelRef>) -> Map<String, Value> {
    let reasoning = matches!((config, model), (Some(c), Some(m)) if c.model_config(m).reasoning);
    let levels: Vec<&str> = if reasoning { ThinkingLevel::NAMES.to_vec() } else { vec![ThinkingLevel::Off.as_str()] };
    let mut fields = Map::new();
    fields.insert("thinkingLevels".into(), json!(levels.iter().map(|l| json!({"id": l, "label": l})).collect::<Vec<_>>()));
    fields.insert("thinkingOptions".into(), json!(levels));
    fields.insert("thinkingDefault".into(), json!(ThinkingLevel::Off.as_str()));
    fields
}

/// The `sessions.list` row of `key`, for events that carry the session's state.
pub fn snapshot(state: &SharedState, key: &str) -> Option<Value> {
    let session = state.store.session(key).ok()??;
    Some(entry(state, &session, agent_config(state).as_deref()))
}

/// A message flattened to one line and cut to the preview length.
pub fn preview_text(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= PREVIEW_CHARS {
        flat
    } else {
        let mut s: String = flat.chars().take(PREVIEW_CHARS).collect();
        s.push('…');
        s
    }
}
