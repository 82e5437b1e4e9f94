//! The approval flow: open an exec approval, tell the approval clients, expire it on time (or
//! at once when nobody can answer), and wait for the person's decision. `exec.approval.request`
//! (an operator asking) and the agent's `exec` tool (the gateway asking on its own behalf) are
//! the same flow with different requesters.

use std::time::Duration;

use pincer_protocol::approvals::ExecDecision;
use pincer_protocol::methods::events;
use pincer_protocol::{now_ms, scopes, ErrorShape};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use crate::approvals::{wait_resolution, AskFallback, Requester, Resolution};
use crate::hub::ConnHandle;
use crate::state::{GatewayState, SharedState};

/// Client ids that show approval prompts to a person.
const APPROVAL_CLIENT_IDS: &[&str] = &["openclaw-control-ui", "openclaw-macos", "openclaw-ios", "openclaw-android"];

/// Whether a connection is an approval surface: it holds the scope and can prompt a
/// person (a known app, or it declares the `approvals` / `exec-approvals` capability).
pub fn is_approval_client(conn: &ConnHandle) -> bool {
    conn.has_scope(scopes::APPROVALS)
        && (APPROVAL_CLIENT_IDS.contains(&conn.client.id.as_str()) || conn.caps.iter().any(|c| c == "approvals" || c == "exec-approvals"))
}

/// The answer shape of `exec.approval.request` / `exec.approval.waitDecision`.
pub fn resolution_json(id: &str, res: &Resolution, created_at_ms: i64, expires_at_ms: i64) -> Value {
    let mut out = json!({
        "id": id,
        "decision": res.decision.map(ExecDecision::as_str),
        "effectiveDecision": res.effective.as_str(),
        "createdAtMs": created_at_ms,
        "expiresAtMs": expires_at_ms,
    });
    if let Some(reason) = res.terminal_reason {
        out["terminalReason"] = json!(reason);
    }
    out
}

/// Tell the approval clients an approval is settled, and audit it.
pub fn broadcast_resolved(state: &GatewayState, id: &str, res: &Resolution, request: &Value) {
    let payload = json!({
        "id": id,
        "decision": res.decision.map(ExecDecision::as_str).unwrap_or(res.effective.as_str()),
        "resolvedBy": res.resolved_by,
        "ts": res.ts,
        "request": request,
    });
    state.hub.broadcast_filtered(events::EXEC_APPROVAL_RESOLVED, &payload, None, is_approval_client);
    let audit = json!({"decision": res.decision.map(ExecDecision::as_str), "effective": res.effective.as_str(),
                       "reason": res.terminal_reason, "command": request.get("command")});
    if let Err(e) = state.store.audit(res.ts, "exec.approval", id, res.effective.as_str(), res.resolved_by.as_deref(), &audit) {
        tracing::error!(error = %e, "audit write failed");
    }
}

/// Expire an approval now (no answer in time, or nobody to ask).
fn expire_now(state: &GatewayState, id: &str, reason: &'static str) {
    let fallback = state.settings().ask_fallback;
    if let Some((res, request)) = state.approvals.expire_with_reason(id, fallback, now_ms(), reason) {
        broadcast_resolved(state, id, &res, &request);
    }
}

/// What to put to a person.
pub struct Ask {
    /// The request as approval clients see it (`command`, `host`, `nodeId`, plan…).
    pub request: Value,
    /// A caller-chosen approval id, if any.
    pub id: Option<String>,
    pub requester: Requester,
    pub timeout: Duration,
    /// Expire at once (with the `askFallback`) when no approval client is connected.
    pub require_route: bool,
}

/// An approval that is open: approval clients have been told and its expiry is running.
pub struct Opened {
    pub id: String,
    pub summary: Value,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// Whether an approval client was connected to show it.
    pub has_route: bool,
    decision: watch::Receiver<Option<Resolution>>,
    expiry: Option<AbortHandle>,
}

/// Open an approval and tell every approval client. `on_open` sees the summary once they have
/// been told, before a missing route expires it.
pub fn open(state: &SharedState, ask: Ask, on_open: impl FnOnce(&Value)) -> Result<Opened, ErrorShape> {
    let Ask { request, id, requester, timeout, require_route } = ask;
    let (summary, decision) = state.approvals.create(id, request, requester, now_ms(), timeout)?;
    let approval_id = summary["id"].as_str().unwrap_or_default().to_string();
    let created_at_ms = summary["createdAtMs"].as_i64().unwrap_or(0);
    let expires_at_ms = summary["expiresAtMs"].as_i64().unwrap_or(0);
    let has_route = state.hub.all().iter().any(|c| is_approval_client(c));
    state.hub.broadcast_filtered(events::EXEC_APPROVAL_REQUESTED, &summary, None, is_approval_client);
    tracing::info!(approval = %approval_id, routed = has_route, "exec approval requested");
    on_open(&summary);
    let expiry = if !has_route && require_route {
        expire_now(state, &approval_id, "no-approval-route");
        None
    } else {
        let timer_state = state.clone();
        let timer_id = approval_id.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            expire_now(&timer_state, &timer_id, "expired");
        });
        Some(timer.abort_handle())
    };
    Ok(Opened { id: approval_id, summary, created_at_ms, expires_at_ms, has_route, decision, expiry })
}

impl Opened {
    /// Wait for the decision (an answer, or the fallback on expiry). When `cancel` fires first
    /// (the run was aborted) the approval is expired as denied so prompts disappear. Dropping an
    /// `Opened` leaves the approval open until it is answered or expires.
    pub async fn decision(self, state: &GatewayState, cancel: Option<&CancellationToken>) -> Result<Resolution, ErrorShape> {
        let never = CancellationToken::new();
        let cancel = cancel.unwrap_or(&never);
        let outcome = tokio::select! {
            res = wait_resolution(self.decision) => res.ok_or_else(|| ErrorShape::unavailable("approval request unavailable")),
            _ = cancel.cancelled() => {
                if let Some((res, request)) = state.approvals.expire_with_reason(&self.id, AskFallback::Deny, now_ms(), "cancelled") {
                    broadcast_resolved(state, &self.id, &res, &request);
                }
                Err(ErrorShape::unavailable("the run was aborted while waiting for approval"))
            }
        };
        // Settled either way: the expiry has nothing left to do.
        if let Some(expiry) = self.expiry {
            expiry.abort();
        }
        outcome
    }
}

/// Open an approval on the gateway's own behalf (the agent's `exec` tool) and wait for a
/// person. With no approval client connected it resolves at once with the configured
/// fallback. Returns the approval id (the agent's `system.run` names it as `runId`) with the
/// resolution.
pub async fn ask_person(
    state: &SharedState,
    mut request: Value,
    requested_by: &str,
    cancel: &CancellationToken,
    on_open: impl FnOnce(&Value),
) -> Result<(String, Resolution), ErrorShape> {
    request["requestedBy"] = json!(requested_by);
    let ask = Ask { request, id: None, requester: Requester::Agent, timeout: state.settings().exec_approval_timeout, require_route: true };
    let opened = open(state, ask, on_open)?;
    let id = opened.id.clone();
    let resolution = opened.decision(state, Some(cancel)).await?;
    Ok((id, resolution))
}
