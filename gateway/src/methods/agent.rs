//! `agent` (start a run: ack at once, the final result as a second response), `agent.wait` (its end) and `models.list`.

use std::time::Duration;

use pincer_agent::model::now_ms;
use pincer_protocol::ErrorShape;
use serde_json::{json, Value};

use super::chat::{fingerprint, replay, user_message};
use crate::agent::host::{self, RunRequest};
use crate::agent::keys::{canonical_session_key, DEFAULT_AGENT_ID, MAIN_KEY, MAIN_SESSION_KEY};
use crate::error::{invalid_params, MethodResult};
use crate::services::agent_runs::{final_payload, WAIT_MAX_MS};
use crate::state::SharedState;

const WAIT_DEFAULT_MS: u64 = 30_000;

pub async fn start(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "agent";
    let text =
        params.get("message").and_then(Value::as_str).ok_or_else(|| invalid_params(METHOD, "must have required property 'message'"))?;
    let key = params.get("idempotencyKey").and_then(Value::as_str).unwrap_or("");
    if key.trim().is_empty() {
        return Err(invalid_params(METHOD, "must have required property 'idempotencyKey'"));
    }
    let session_key = match params.get("sessionKey").and_then(Value::as_str) {
        Some(k) => canonical_session_key(k)?,
        None => MAIN_SESSION_KEY.to_string(),
    };
    let extra = params.get("extraSystemPrompt").and_then(Value::as_str).unwrap_or("");
    let print = fingerprint(&[METHOD, &session_key, text, extra]);
    if replay(state, key, &print)?.is_some() {
        // A finished run is answered with its final result, as its second response was; one
        // still queued or running with its ack again, and its final result follows.
        if let Some(finish) = host::wait(state, key, Duration::ZERO).await? {
            if let Some(done) = final_payload(state, key, &finish)? {
                return Ok(done);
            }
        }
        let accepted_at = state.store.run(key)?.map_or_else(now_ms, |r| r.accepted_at_ms);
        return Ok(accepted_ack(key, &session_key, accepted_at));
    }
    let thinking = super::chat::thinking_option(METHOD, params.get("thinking"))?;
    let message = user_message(METHOD, text, params.get("attachments").unwrap_or(&Value::Null))?;
    let mut options = json!({});
    if let Some(level) = thinking {
        options["thinking"] = json!(level);
    }
    if !extra.trim().is_empty() {
        options["extraSystemPrompt"] = json!(extra);
    }
    // `timeout` is in seconds in OpenClaw's agent params.
    if let Some(secs) = params.get("timeout").and_then(Value::as_u64).filter(|s| *s > 0) {
        options["timeoutMs"] = json!(secs * 1000);
    }
    let accepted_at = now_ms();
    let accepted = host::accept(
        state,
        RunRequest {
            run_id: key.to_string(),
            session_key: session_key.clone(),
            input: serde_json::to_value(&message).unwrap_or(Value::Null),
            fingerprint: print,
            options,
        },
    )?;
    let mut ack = accepted_ack(key, &session_key, accepted_at);
    if let Some(fields) = ack.as_object_mut() {
        fields.extend(accepted.admission.ack_fields());
    }
    Ok(ack)
}

/// `agent`'s first answer: `{runId, sessionKey, agentId, status: "accepted", acceptedAt}`.
fn accepted_ack(run_id: &str, session_key: &str, accepted_at: i64) -> Value {
    let agent_id = crate::agent::keys::agent_id_of(session_key);
    json!({"runId": run_id, "sessionKey": session_key, "agentId": agent_id, "status": "accepted", "acceptedAt": accepted_at})
}

pub async fn wait(state: &SharedState, params: Value) -> MethodResult {
    const METHOD: &str = "agent.wait";
    let run_id =
        params.get("runId").and_then(Value::as_str).ok_or_else(|| invalid_params(METHOD, "must have required property 'runId'"))?;
    let timeout_ms = params.get("timeoutMs").and_then(Value::as_u64).unwrap_or(WAIT_DEFAULT_MS).min(WAIT_MAX_MS);
    match host::wait(state, run_id, Duration::from_millis(timeout_ms)).await? {
        Some(finish) => {
            let mut out = json!({"runId": run_id, "status": if finish.status == "aborted" { "error" } else { finish.status },
                                 "startedAt": finish.started_at, "endedAt": finish.ended_at});
            if finish.status == "aborted" {
                out["error"] = json!("aborted");
            } else if let Some(e) = finish.error {
                out["error"] = json!(e);
            }
            Ok(out)
        }
        None => Ok(json!({"runId": run_id, "status": "timeout"})),
    }
}

/// `agents.list`: Pincer has one agent, `main`, in OpenClaw's shape.
pub fn agents_list(state: &SharedState) -> MethodResult {
    let config = host::agent_config(state).map_err(ErrorShape::invalid_request)?;
    let mut model = json!({});
    if let Some(primary) = &config.primary {
        model["primary"] = json!(primary.to_string());
    }
    if !config.fallbacks.is_empty() {
        model["fallbacks"] = json!(config.fallbacks.iter().map(ToString::to_string).collect::<Vec<_>>());
    }
    let mut agent = json!({
        "id": DEFAULT_AGENT_ID,
        "workspace": config.workspace,
        "workspaceGit": config.workspace.join(".git").exists(),
        "model": model,
    });
    if let Some(fields) = agent.as_object_mut() {
        fields.extend(crate::services::session_view::thinking_fields(Some(&config), config.primary.as_ref()));
    }
    Ok(json!({
        "defaultId": DEFAULT_AGENT_ID,
        "ownership": "sole",
        "selectionRequired": false,
        "mainKey": MAIN_KEY,
        "scope": "per-sender",
        "agents": [agent],
    }))
}

pub fn models_list(state: &SharedState) -> MethodResult {
    let config = host::agent_config(state).map_err(pincer_protocol::ErrorShape::invalid_request)?;
    let mut models = Vec::new();
    for (id, provider) in &config.providers {
        for m in &provider.models {
            let is_default = config.primary.as_ref().is_some_and(|p| p.provider == *id && p.model == m.id);
            let is_fallback = config.fallbacks.iter().any(|f| f.provider == *id && f.model == m.id);
            let tags: Vec<&str> = [is_default.then_some("default"), is_fallback.then_some("fallback")].into_iter().flatten().collect();
            models.push(json!({
                "id": m.id,
                "name": if m.name.is_empty() { m.id.clone() } else { m.name.clone() },
                "provider": id,
                "contextWindow": m.context_window,
                "reasoning": m.reasoning,
                "input": m.input,
                "tags": tags,
                // A key is present, or the provider is local and needs none.
                "available": provider.api_key.is_some() || provider.is_loopback(),
            }));
        }
    }
    Ok(json!({"models": models}))
}
