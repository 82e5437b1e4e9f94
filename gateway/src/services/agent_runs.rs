//! Agent runs seen from a caller: the `agent` method answers twice (the ack, then the run's
//! final result on the same request id, as OpenClaw's `--expect-final` clients wait for).

use std::time::Duration;

use pincer_agent::model::{AssistantMessage, Message, Usage};
use pincer_protocol::frames::ResponseFrame;
use pincer_protocol::ErrorShape;
use serde_json::{json, Value};

use crate::agent::host;
use crate::state::SharedState;

/// The longest `agent.wait` (and an `agent` caller's wait for its final answer) may take.
pub const WAIT_MAX_MS: u64 = 24 * 60 * 60 * 1000;

/// The run an `agent` answer leaves pending: its caller gets a second response (the final
/// result) on the same request id once the run ends, as OpenClaw's `--expect-final` clients
/// (`openclaw agent`) wait for.
pub fn pending_run(response: &ResponseFrame) -> Option<String> {
    let payload = response.payload.as_ref().filter(|_| response.ok)?;
    let status = payload.get("status").and_then(Value::as_str)?;
    if status != "accepted" {
        return None;
    }
    payload.get("runId").and_then(Value::as_str).map(str::to_string)
}

/// Waits for the run to end and builds its final response; `None` when the gateway stops first
/// (the run stays queued for the next start, and the connection closes anyway).
pub async fn final_response(state: &SharedState, request_id: String, run_id: &str) -> Option<ResponseFrame> {
    let finished = match host::wait(state, run_id, Duration::from_millis(WAIT_MAX_MS)).await {
        Ok(Some(finish)) => final_payload(state, run_id, &finish),
        Ok(None) => return None,
        Err(e) => Err(e),
    };
    match finished {
        Ok(Some(payload)) => Some(ResponseFrame::ok(request_id, payload)),
        Ok(None) => None,
        Err(error) => Some(ResponseFrame::err(request_id, error)),
    }
}

/// `{runId, status, summary, stopReason?, result: {payloads: [{text, mediaUrl}], meta}}` in
/// OpenClaw's shape: `ok`/`completed`, `error`/`failed`, or `timeout`/`aborted` for a run that
/// was stopped.
pub fn final_payload(state: &SharedState, run_id: &str, finish: &host::RunFinish) -> Result<Option<Value>, ErrorShape> {
    let (status, summary) = match finish.status {
        "ok" => ("ok", "completed"),
        "aborted" => ("timeout", "aborted"),
        "error" => ("error", "failed"),
        _ => return Ok(None),
    };
    let Some(run) = state.store.run(run_id)? else {
        return Ok(None);
    };
    let session_id = state.store.session(&run.session_key)?.map(|s| s.session_id);
    // A run `collect` merged into another is answered by that run's messages.
    let answering = host::answering_run(state, run_id)?;
    let answers: Vec<AssistantMessage> = state
        .store
        .run_assistant_messages(&answering)?
        .into_iter()
        .filter_map(|m| match serde_json::from_value(m) {
            Ok(Message::Assistant(a)) => Some(a),
            _ => None,
        })
        .collect();
    let mut usage = Usage::default();
    for answer in &answers {
        usage.add(&answer.usage);
    }
    let usage_json = |u: &Usage| json!({"input": u.input, "output": u.output, "cacheRead": u.cache_read, "cacheWrite": u.cache_write, "total": u.total_tokens});
    let last = answers.last();
    let last_usage = last.map(|m| m.usage).unwrap_or_default();
    let text = last.map(AssistantMessage::text).unwrap_or_default();
    let prompt = run
        .input
        .get("content")
        .and_then(Value::as_array)
        .map(|parts| parts.iter().filter(|p| p["type"] == "text").filter_map(|p| p["text"].as_str()).collect::<String>());
    let payloads = if text.is_empty() { json!([]) } else { json!([{"text": text, "mediaUrl": null}]) };
    let stop_reason = match finish.status {
        "aborted" => "rpc",
        _ => last.map_or("stop", |m| m.stop_reason.as_str()),
    };
    let mut meta = json!({
        "durationMs": (finish.ended_at - finish.started_at).max(0),
        "agentMeta": {
            "sessionId": session_id,
            "provider": last.map(|m| m.provider.as_str()),
            "model": last.map(|m| m.model.as_str()),
            "usage": usage_json(&usage),
            "lastCallUsage": usage_json(&last_usage),
            "promptTokens": last_usage.input,
            "assistantTurns": answers.len(),
        },
        "aborted": finish.status == "aborted",
        "finalPromptText": prompt,
        "finalAssistantVisibleText": text,
        "finalAssistantRawText": text,
        "stopReason": stop_reason,
        "completion": {"stopReason": stop_reason, "finishReason": stop_reason},
    });
    if let Some(error) = &finish.error {
        meta["error"] = json!({"message": error});
    }
    let mut out = json!({"runId": run_id, "status": status, "summary": summary, "result": {"payloads": payloads, "meta": meta}});
    if status != "ok" {
        out["stopReason"] = json!(stop_reason);
    }
    Ok(Some(out))
}
