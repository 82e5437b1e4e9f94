//! `sessions.*`: list, preview, resolve, patch, reset, delete, compact.

use pincer_agent::config::ModelRef;
use pincer_agent::model::{now_ms, Message};
use pincer_agent::provider::ThinkingLevel;
use pincer_protocol::methods::events;
use pincer_protocol::ErrorShape;
use serde_json::{json, Map, Value};

use crate::agent::host::{self, ensure_session};
use crate::agent::keys::{agent_id_of, canonical_session_key, MAIN_SESSION_KEY};
use crate::caller::Caller;
use crate::error::{invalid_params, MethodResult};
use crate::services::session_view::{agent_config, context_window, entry, preview_text, session_model, thinking_fields};
use crate::state::SharedState;

const LIST_DEFAULT_LIMIT: usize = 200;
const LIST_MAX_LIMIT: usize = 5000;
const PREVIEW_ITEMS: usize = 6;

fn key_param(params: &Value, method: &str) -> Result<String, ErrorShape> {
    let key = params
        .get("key")
        .or_else(|| params.get("sessionKey"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params(method, "must have required property 'key'"))?;
    canonical_session_key(key)
}

/// `sessions.subscribe {…sessions.list params}`: this client gets `session.message` and
/// `session.tool` for every session from now on. With list params, the list comes back too.
pub fn subscribe(state: &SharedState, caller: &Caller, params: Value) -> MethodResult {
    let empty = params.as_object().is_none_or(|p| p.is_empty());
    // Bad list params leave the client unsubscribed.
    let listed = if empty { None } else { Some(list(state, params)?) };
    caller.events().subscribe_all_sessions();
    Ok(match listed {
        Some(list) => json!({"subscribed": true, "list": list}),
        None => json!({"subscribed": true}),
    })
}

/// `sessions.messages.subscribe {key}` (`on`) / `sessions.messages.unsubscribe {key}`:
/// `session.message` events of one session.
pub fn messages_subscribe(caller: &Caller, params: Value, on: bool) -> MethodResult {
    let method = if on { "sessions.messages.subscribe" } else { "sessions.messages.unsubscribe" };
    let key = key_param(&params, method)?;
    if on && params.get("includeApprovals").and_then(Value::as_bool) == Some(true) {
        return Err(ErrorShape::invalid_request(
            "sessions.messages.subscribe includeApprovals is not supported by Pincer: pending approvals come as exec.approval.requested events (scope operator.approvals)",
        ));
    }
    caller.events().subscribe_session_messages(&key, on);
    Ok(json!({"subscribed": on, "key": key}))
}

/// `sessions.changed` in OpenClaw's shape: `sessionKey`, `agentId`, `sessionId`, `reason`, `ts`.
fn changed(state: &SharedState, key: &str, session_id: &str, reason: &str) {
    let payload = json!({"sessionKey": key, "agentId": agent_id_of(key), "sessionId": session_id, "reason": reason, "ts": now_ms()});
    state.hub.broadcast(events::SESSIONS_CHANGED, &payload);
}

pub fn list(state: &SharedState, params: Value) -> MethodResult {
    let limit = match params.get("limit") {
        None | Some(Value::Null) => LIST_DEFAULT_LIMIT,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => (n as usize).min(LIST_MAX_LIMIT),
            _ => return Err(invalid_params("sessions.list", "at /limit: must be >= 1")),
        },
    };
    let config = agent_config(state);
    let sessions: Vec<Value> = state.store.sessions(limit)?.iter().map(|s| entry(state, s, config.as_deref())).collect();
    let mut defaults = json!({});
    if let Some(c) = config.as_deref() {
        if let Some(m) = &c.primary {
            defaults = json!({"modelProvider": m.provider, "model": m.model, "contextTokens": context_window(c, m)});
        }
    }
    Ok(json!({"ts": now_ms(), "count": sessions.len(), "defaults": defaults, "sessions": sessions}))
}

pub fn preview(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "sessions.preview";
    let keys = params.get("keys").and_then(Value::as_array).ok_or_else(|| invalid_params(METHOD, "must have required property 'keys'"))?;
    let limit = params.get("limit").and_then(Value::as_u64).map(|n| n.clamp(1, 50) as usize).unwrap_or(PREVIEW_ITEMS);
    let mut previews = Vec::new();
    for raw in keys.iter().take(64) {
        let raw = raw.as_str().unwrap_or_default();
        let Ok(key) = canonical_session_key(raw) else {
            previews.push(json!({"key": raw, "status": "missing", "items": []}));
            continue;
        };
        let Some(session) = state.store.session(&key)? else {
            previews.push(json!({"key": raw, "status": "missing", "items": []}));
            continue;
        };
        let rows = state.store.transcript(&session.session_id)?;
        let items: Vec<Value> = rows
            .iter()
            .rev()
            .filter_map(|r| serde_json::from_value::<Message>(r.message.clone()).ok())
            .filter(|m| matches!(m, Message::User(_) | Message::Assistant(_)))
            .filter(|m| !m.plain_text().trim().is_empty())
            .take(limit)
            .map(|m| json!({"role": m.role(), "text": preview_text(&m.plain_text())}))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        // The key as asked (OpenClaw echoes it), so callers can match previews to their keys.
        previews.push(json!({"key": raw, "status": if items.is_empty() { "empty" } else { "ok" }, "items": items}));
    }
    Ok(json!({"ts": now_ms(), "previews": previews}))
}

/// `sessions.describe {key}`: `{session: row | null}`, the `sessions.list` row with the agent,
/// chat type and the thinking levels its model takes.
pub fn describe(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "sessions.describe";
    let key = key_param(&params, METHOD)?;
    let Some(session) = state.store.session(&key)? else {
        return Ok(json!({"session": null}));
    };
    let config = agent_config(state);
    let mut row = entry(state, &session, config.as_deref());
    let thinking = thinking_fields(config.as_deref(), session_model(&session, config.as_deref()).as_ref());
    if let Some(fields) = row.as_object_mut() {
        let chat_type = fields.get("kind").cloned().unwrap_or(Value::Null);
        fields.insert("agentId".into(), json!(session.agent_id));
        fields.insert("isMain".into(), json!(session.session_key == MAIN_SESSION_KEY));
        fields.insert("chatType".into(), chat_type);
        fields.extend(thinking);
        fields.insert("snapshotAt".into(), json!(now_ms()));
    }
    Ok(json!({"session": row}))
}

pub fn resolve(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "sessions.resolve";
    if let Some(id) = params.get("sessionId").and_then(Value::as_str) {
        return match state.store.session_by_id(id)? {
            Some(s) => Ok(json!({"ok": true, "key": s.session_key})),
            None => Err(ErrorShape::invalid_request(format!("no session with sessionId {id}"))),
        };
    }
    if let Some(label) = params.get("label").and_then(Value::as_str) {
        let found = state.store.sessions(LIST_MAX_LIMIT)?.into_iter().find(|s| s.meta.get("label").and_then(Value::as_str) == Some(label));
        return match found {
            Some(s) => Ok(json!({"ok": true, "key": s.session_key})),
            None => Err(ErrorShape::invalid_request(format!("no session labelled \"{label}\""))),
        };
    }
    let key = key_param(&params, METHOD)?;
    match state.store.session(&key)? {
        Some(s) => Ok(json!({"ok": true, "key": s.session_key, "agentId": s.agent_id})),
        None if key == MAIN_SESSION_KEY => Ok(json!({"ok": true, "key": key, "agentId": "main"})),
        None if params.get("allowMissing").and_then(Value::as_bool) == Some(true) => Ok(json!({"ok": false, "key": key})),
        None => Err(ErrorShape::invalid_request(format!("No session found: {key}"))),
    }
}

pub fn patch(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "sessions.patch";
    let key = key_param(&params, METHOD)?;
    // Validate everything before the session is created: a refused patch changes nothing.
    let existing = state.store.session(&key)?;
    let mut meta: Map<String, Value> = existing.as_ref().and_then(|s| s.meta.as_object().cloned()).unwrap_or_default();
    let set_or_clear = |meta: &mut Map<String, Value>, name: &str, value: Option<&Value>| -> Result<(), ErrorShape> {
        match value {
            None => Ok(()),
            Some(Value::Null) => {
                meta.remove(name);
                Ok(())
            }
            Some(Value::String(s)) if !s.trim().is_empty() => {
                meta.insert(name.into(), json!(s.trim()));
                Ok(())
            }
            Some(_) => Err(invalid_params(METHOD, format!("at /{name}: must be a non-empty string or null"))),
        }
    };
    set_or_clear(&mut meta, "label", params.get("label"))?;
    if let Some(Value::String(model)) = params.get("model") {
        let parsed = ModelRef::parse(model).map_err(|e| invalid_params(METHOD, format!("at /model: {e}")))?;
        if let Some(config) = agent_config(state) {
            if !config.providers.contains_key(&parsed.provider) {
                return Err(ErrorShape::invalid_request(format!(
                    "model \"{model}\": no provider \"{}\" is configured under models.providers",
                    parsed.provider
                )));
            }
        }
    }
    set_or_clear(&mut meta, "model", params.get("model"))?;
    if let Some(Value::String(level)) = params.get("thinkingLevel") {
        if !ThinkingLevel::NAMES.contains(&level.as_str()) {
            return Err(invalid_params(METHOD, format!("at /thinkingLevel: must be one of {}", ThinkingLevel::NAMES.join(", "))));
        }
    }
    set_or_clear(&mut meta, "thinkingLevel", params.get("thinkingLevel"))?;
    set_or_clear(&mut meta, "verboseLevel", params.get("verboseLevel"))?;
    let mut session = match existing {
        Some(s) => s,
        None => ensure_session(state, &key)?,
    };
    session.meta = Value::Object(meta);
    session.updated_at_ms = now_ms();
    state.store.save_session(&session)?;
    changed(state, &key, &session.session_id, "patch");
    let config = agent_config(state);
    Ok(json!({"ok": true, "key": key, "entry": entry(state, &session, config.as_deref())}))
}

pub fn reset(state: &SharedState, params: Value) -> MethodResult {
    let key = key_param(&params, "sessions.reset")?;
    for run in state.agents.active_for_session(&key) {
        run.cancel.cancel();
    }
    let mut session = ensure_session(state, &key)?;
    session.session_id = uuid::Uuid::new_v4().to_string();
    session.updated_at_ms = now_ms();
    if let Some(meta) = session.meta.as_object_mut() {
        for counter in ["inputTokens", "outputTokens", "totalTokens", "compactionCount"] {
            meta.remove(counter);
        }
    }
    state.store.save_session(&session)?;
    changed(state, &key, &session.session_id, "reset");
    let config = agent_config(state);
    Ok(json!({"ok": true, "key": key, "entry": entry(state, &session, config.as_deref())}))
}

pub fn delete(state: &SharedState, params: Value) -> MethodResult {
    let key = key_param(&params, "sessions.delete")?;
    if key == MAIN_SESSION_KEY {
        return Err(ErrorShape::invalid_request(format!(
            "Cannot delete the main session ({MAIN_SESSION_KEY}). Use sessions.reset to start it afresh."
        )));
    }
    for run in state.agents.active_for_session(&key) {
        run.cancel.cancel();
    }
    let session_id = state.store.session(&key)?.map(|s| s.session_id).unwrap_or_default();
    let deleted = state.store.delete_session(&key)?;
    if deleted {
        changed(state, &key, &session_id, "delete");
    }
    Ok(json!({"ok": true, "key": key, "deleted": deleted}))
}

pub async fn compact(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "sessions.compact";
    let key = key_param(&params, METHOD)?;
    let Some(session) = state.store.session(&key)? else {
        return Ok(json!({"ok": true, "key": key, "compacted": false, "reason": "no such session"}));
    };
    if !state.agents.active_for_session(&key).is_empty() {
        return Err(ErrorShape::unavailable("a run is in progress in this session; compact after it ends").retryable(Some(1000)));
    }
    let config = host::agent_config(state).map_err(ErrorShape::invalid_request)?;
    let chain = host::failover_chain(state, &config, None).map_err(|e| ErrorShape::invalid_request(e.to_string()))?;
    let history: Vec<Message> =
        state.store.transcript(&session.session_id)?.into_iter().filter_map(|r| serde_json::from_value(r.message).ok()).collect();
    let before = history.len();
    let cancel = tokio_util::sync::CancellationToken::new();
    let keep = config.compaction.keep_recent_tokens;
    match host::compact_session(state, &session, chain.as_ref(), &history, keep, &cancel).await {
        Ok(Some(after)) => {
            changed(state, &key, &session.session_id, "compact");
            let summary = match after.first() {
                Some(Message::CompactionSummary(s)) => json!({"summary": s.summary, "tokensBefore": s.tokens_before,
                    "tokensAfter": pincer_agent::context::estimate_request("", &after, &[]),
                    "messagesBefore": before, "messagesAfter": after.len()}),
                _ => json!({"messagesBefore": before, "messagesAfter": after.len()}),
            };
            Ok(json!({"ok": true, "key": key, "compacted": true, "result": summary}))
        }
        Ok(None) => Ok(json!({"ok": true, "key": key, "compacted": false, "reason": "nothing to compact"})),
        Err(e) => Err(ErrorShape::unavailable(format!("compaction failed: {e}"))),
    }
}
