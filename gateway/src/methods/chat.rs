//! `chat.send`, `chat.history`, `chat.abort`, `chat.inject`: the WebChat / Control UI surface.

use base64::Engine;
use pincer_agent::model::{now_ms, AssistantMessage, Content, Message, StopReason, UserMessage};
use pincer_agent::provider::ThinkingLevel;
use pincer_protocol::error::DetailCode;
use pincer_protocol::ErrorShape;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::agent::host::{self, RunRequest};
use crate::agent::keys::canonical_session_key;
use crate::error::{invalid_params, parse_params, MethodResult};
use crate::state::SharedState;

/// Longest user message accepted (characters). Larger text belongs in a file the agent reads.
pub const MAX_MESSAGE_CHARS: usize = 200_000;
/// Attachments per message, and decoded bytes per attachment (OpenClaw's photo cap).
pub const MAX_ATTACHMENTS: usize = 8;
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];
/// `chat.history` limits (OpenClaw's).
const HISTORY_DEFAULT_LIMIT: usize = 200;
const HISTORY_MAX_LIMIT: usize = 1000;
const HISTORY_MAX_CHARS: usize = 500_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attachment {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendParams {
    session_key: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    thinking: Option<Value>,
    idempotency_key: String,
}

/// A run's `thinking` param (`off` … `xhigh`), checked; `None` when absent.
pub fn thinking_option(method: &str, value: Option<&Value>) -> Result<Option<&'static str>, ErrorShape> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if !name.trim().is_empty() => match ThinkingLevel::parse(name) {
            Some(level) => Ok(Some(level.as_str())),
            None => Err(invalid_params(method, format!("at /thinking: must be one of {}", ThinkingLevel::NAMES.join(", ")))),
        },
        Some(Value::String(_)) => Ok(None),
        Some(_) => Err(invalid_params(method, "at /thinking: must be string")),
    }
}

/// A user message from text and attachments, validated.
pub fn user_message(method: &str, text: &str, attachments_json: &Value) -> Result<Message, ErrorShape> {
    let attachments: Vec<Attachment> = match attachments_json {
        Value::Null => Vec::new(),
        other => serde_json::from_value(other.clone()).map_err(|e| invalid_params(method, format!("at /attachments: {e}")))?,
    };
    build_user_message(text, attachments)
}

fn build_user_message(text: &str, attachments: Vec<Attachment>) -> Result<Message, ErrorShape> {
    let chars = text.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(ErrorShape::invalid_request(format!(
            "message is too long: {chars} characters, the limit is {MAX_MESSAGE_CHARS}; put long text in a file in the agent workspace and ask the agent to read it"
        ))
        .with_detail_code(DetailCode::InvalidParams));
    }
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(ErrorShape::invalid_request(format!("too many attachments: {}, the limit is {MAX_ATTACHMENTS}", attachments.len())));
    }
    let mut content = Vec::new();
    if !text.trim().is_empty() {
        content.push(Content::text(text));
    }
    for (i, a) in attachments.into_iter().enumerate() {
        let name = a.file_name.clone().unwrap_or_else(|| format!("attachment {}", i + 1));
        let mime = a.mime_type.clone().unwrap_or_default().to_ascii_lowercase();
        if a.kind.as_deref().is_some_and(|k| k != "image") || !IMAGE_TYPES.contains(&mime.as_str()) {
            return Err(ErrorShape::invalid_request(format!(
                "{name}: only images can be attached (png, jpeg, gif, webp); got {}",
                if mime.is_empty() { "no mimeType" } else { mime.as_str() }
            )));
        }
        let data = a.content.unwrap_or_default();
        let data = data.split_once(";base64,").map(|(_, d)| d.to_string()).unwrap_or(data);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| ErrorShape::invalid_request(format!("{name}: content is not valid base64 ({e})")))?;
        if decoded.is_empty() {
            return Err(ErrorShape::invalid_request(format!("{name}: the attachment is empty")));
        }
        if decoded.len() > MAX_ATTACHMENT_BYTES {
            return Err(ErrorShape::invalid_request(format!(
                "{name}: {} bytes is over the {MAX_ATTACHMENT_BYTES}-byte limit per attachment",
                decoded.len()
            )));
        }
        content.push(Content::Image { data: base64::engine::general_purpose::STANDARD.encode(&decoded), mime_type: mime });
    }
    if content.is_empty() {
        return Err(ErrorShape::invalid_request("message or attachment required"));
    }
    Ok(Message::User(UserMessage { content, timestamp: now_ms() }))
}

/// Stable identity of a request's content, for idempotent replays.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// The answer to a replayed key: the run's status, or a conflict when the content differs.
pub fn replay(state: &SharedState, run_id: &str, fingerprint: &str) -> Result<Option<Value>, ErrorShape> {
    let Some(run) = state.store.run(run_id)? else { return Ok(None) };
    if run.fingerprint != fingerprint {
        return Err(ErrorShape::invalid_request("idempotencyKey was already used with a different message")
            .with_detail_code(DetailCode::IdempotencyConflict));
    }
    // A message `collect` merged into another run is answered by that run.
    let owner = host::answering_run(state, run_id)?;
    let answering = if owner == run_id { Some(run) } else { state.store.run(&owner)? };
    let (status, error) = match answering {
        Some(r) => (r.status, r.error),
        None => ("queued".to_string(), None),
    };
    let mut out = json!({"runId": run_id, "status": match status.as_str() {
        "queued" | "running" => "in_flight",
        // Dropped from a full queue: an error that says so.
        "dropped" => "error",
        other => other,
    }});
    if let Some(error) = error {
        out["error"] = json!(error);
    }
    if status == "dropped" {
        out["queueDisposition"] = json!("dropped");
    }
    if owner != run_id {
        out["mergedInto"] = json!(owner);
    }
    Ok(Some(out))
}

pub fn send(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "chat.send";
    let p: SendParams = parse_params(METHOD, params)?;
    if p.idempotency_key.trim().is_empty() {
        return Err(invalid_params(METHOD, "at /idempotencyKey: must NOT have fewer than 1 characters"));
    }
    let session_key = canonical_session_key(&p.session_key)?;
    let text = p.message.unwrap_or_default();
    let attachment_digest: String = p.attachments.iter().map(|a| a.content.as_deref().unwrap_or("")).collect::<Vec<_>>().join(",");
    let print = fingerprint(&[METHOD, &session_key, &text, &attachment_digest]);
    let run_id = p.idempotency_key.clone();
    if let Some(answer) = replay(state, &run_id, &print)? {
        return Ok(answer);
    }
    let thinking = thinking_option(METHOD, p.thinking.as_ref())?;
    let message = build_user_message(&text, p.attachments)?;
    let mut options = json!({});
    if let Some(ms) = p.timeout_ms.filter(|ms| *ms > 0) {
        options["timeoutMs"] = json!(ms);
    }
    if let Some(level) = thinking {
        options["thinking"] = json!(level);
    }
    let accepted = host::accept(
        state,
        RunRequest {
            run_id: run_id.clone(),
            session_key,
            input: serde_json::to_value(&message).map_err(|e| ErrorShape::unavailable(e.to_string()))?,
            fingerprint: print,
            options,
        },
    )?;
    // OpenClaw's ack, plus what the queue did (`queue` when it waits, `interruptedActiveRun`).
    let mut ack = json!({"runId": run_id, "status": "started"});
    if let Some(fields) = ack.as_object_mut() {
        fields.extend(accepted.admission.ack_fields());
    }
    Ok(ack)
}

pub fn history(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "chat.history";
    let key = params
        .get("sessionKey")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params(METHOD, "must have required property 'sessionKey'"))?;
    let session_key = canonical_session_key(key)?;
    let limit = match params.get("limit") {
        None | Some(Value::Null) => HISTORY_DEFAULT_LIMIT,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=HISTORY_MAX_LIMIT as u64).contains(&n) => n as usize,
            _ => return Err(invalid_params(METHOD, format!("at /limit: must be an integer from 1 to {HISTORY_MAX_LIMIT}"))),
        },
    };
    let max_chars = match params.get("maxChars") {
        None | Some(Value::Null) => HISTORY_MAX_CHARS,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=HISTORY_MAX_CHARS as u64).contains(&n) => n as usize,
            _ => return Err(invalid_params(METHOD, format!("at /maxChars: must be an integer from 1 to {HISTORY_MAX_CHARS}"))),
        },
    };
    let Some(session) = state.store.session(&session_key)? else {
        return Ok(json!({"sessionKey": session_key, "messages": []}));
    };
    let rows = state.store.transcript_tail(&session.session_id, limit)?;
    let mut messages: Vec<Value> = Vec::new();
    let mut used = 0usize;
    for row in rows.into_iter().rev() {
        if messages.len() >= limit {
            break;
        }
        let size = row.message.to_string().len();
        if used + size > max_chars && !messages.is_empty() {
            break;
        }
        used += size;
        let mut message = row.message;
        if let Some(fields) = message.as_object_mut() {
            fields.insert("__openclaw".into(), crate::agent::session_events::envelope(row.id, row.seq, row.run_id.as_deref()));
        }
        messages.push(message);
    }
    messages.reverse();
    let mut out = json!({"sessionKey": session_key, "sessionId": session.session_id, "messages": messages});
    if let Some(level) = session.meta.get("thinkingLevel") {
        out["thinkingLevel"] = level.clone();
    }
    Ok(out)
}

pub fn abort(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "chat.abort";
    let key = params
        .get("sessionKey")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params(METHOD, "must have required property 'sessionKey'"))?;
    let session_key = canonical_session_key(key)?;
    let wanted = params.get("runId").and_then(Value::as_str);
    let mut run_ids = Vec::new();
    for run in state.agents.active_for_session(&session_key) {
        if wanted.is_none_or(|w| w == run.run_id) {
            run.cancel.cancel();
            run_ids.push(run.run_id.clone());
        }
    }
    // Waiting ones leave the queue now (their place under the cap is free at once).
    crate::agent::queue::withdraw_cancelled(state, &session_key);
    Ok(json!({"ok": true, "aborted": !run_ids.is_empty(), "runIds": run_ids}))
}

pub fn inject(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "chat.inject";
    let key = params
        .get("sessionKey")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params(METHOD, "must have required property 'sessionKey'"))?;
    let text =
        params.get("message").and_then(Value::as_str).ok_or_else(|| invalid_params(METHOD, "must have required property 'message'"))?;
    if text.trim().is_empty() {
        return Err(invalid_params(METHOD, "message must not be empty"));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ErrorShape::invalid_request(format!("message is too long: the limit is {MAX_MESSAGE_CHARS} characters")));
    }
    let session_key = canonical_session_key(key)?;
    let session = host::ensure_session(state, &session_key)?;
    let label = params.get("label").and_then(Value::as_str).filter(|l| !l.trim().is_empty());
    let shown = match label {
        Some(l) => format!("[{l}]\n\n{text}"),
        None => text.to_string(),
    };
    let message = Message::Assistant(AssistantMessage {
        content: vec![Content::text(shown)],
        api: "openclaw".into(),
        provider: "openclaw".into(),
        model: "gateway-injected".into(),
        usage: Default::default(),
        stop_reason: StopReason::Stop,
        error_message: None,
        timestamp: now_ms(),
    });
    let value = serde_json::to_value(&message).map_err(|e| ErrorShape::unavailable(e.to_string()))?;
    let stored = state.store.append_message(&session_key, &session.session_id, None, &value, now_ms())?;
    crate::agent::session_events::message_added(state, &session_key, stored, None, &value);
    let run_id = format!("inject-{}", uuid::Uuid::new_v4());
    let emitter = crate::agent::events::RunEmitter::new(state.clone(), &run_id, &session_key, &session.session_id);
    emitter.final_message(&value, &json!(null), "stop");
    Ok(json!({"ok": true, "messageId": stored.id.to_string()}))
}
