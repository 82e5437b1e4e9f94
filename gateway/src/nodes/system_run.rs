//! The one gate every `system.run` passes on its way to a node.
//!
//! A node trusts `approved` / `approvalDecision` in `system.run` params: they say "the gateway
//! already asked a person". So those facts must only ever come from the gateway's own approval
//! record, never from whoever sent the params. [`sanitize_for_forwarding`]:
//!
//! * keeps only the fields the node's `system.run` understands ([`CALLER_FIELDS`]), so no
//!   control field can be smuggled through, and drops anything the caller said about approval;
//! * when the caller asks to run with an approval (`approved: true` or an allow decision), it
//!   takes the approval id from `runId` (OpenClaw's rule) and accepts it only if the broker's
//!   record was answered allow-once / allow-always (or ended in an allow-once `askFallback`
//!   and the caller may approve), is for a node-host run on this very node, was opened by the
//!   same requester (device, else connection; the agent's own approvals only by the agent),
//!   is still within its use window, and binds exactly the plan being sent (argv, cwd,
//!   command text, agent, session, env). An allow-once is spent by its first run.
//!
//! The decision the node receives is the record's, whatever the caller wrote.

use std::collections::BTreeMap;

use pincer_protocol::approvals::ExecDecision;
use pincer_protocol::ErrorShape;
use serde_json::{json, Map, Value};

use crate::approvals::{ApprovalBroker, ApprovalRecord, Requester};

/// What a caller may set in `system.run` params: the fields the node's `system.run` reads,
/// minus the approval facts (`approved`, `approvalDecision`), which only the gate sets.
pub const CALLER_FIELDS: &[&str] =
    &["command", "rawCommand", "cwd", "env", "timeoutMs", "needsScreenRecording", "agentId", "sessionKey", "runId"];

/// How long after its answer an approval may still be used for its run. The requester runs
/// the approved command right after the answer; a record lying around longer is stale (the
/// same grace OpenClaw keeps resolved records for).
pub const USE_WINDOW_MS: i64 = 15_000;

/// Who is sending this `system.run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequester {
    pub identity: Requester,
    /// Holds `operator.approvals` or `operator.admin`: it could have answered the approval
    /// itself, so an allow-once that came from `askFallback` may be used by it.
    pub may_approve: bool,
}

impl RunRequester {
    /// The gateway's agent runtime (the `exec` tool).
    pub fn agent() -> RunRequester {
        RunRequester { identity: Requester::Agent, may_approve: true }
    }
}

/// Why a `system.run` was refused before it reached the node. Messages and `details.code`s
/// are OpenClaw's (`node-invoke-system-run-approval*.ts`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("approval override requires params.runId")]
    MissingRunId,
    #[error("unknown or expired approval id")]
    UnknownApproval,
    #[error("approval expired")]
    Expired,
    #[error("approval id missing node binding")]
    NodeBindingMissing,
    #[error("approval id not valid for this node")]
    NodeMismatch,
    #[error("approval id not valid for this device")]
    DeviceMismatch,
    #[error("approval id not valid for this client")]
    ClientMismatch,
    /// The record does not bind the plan being sent; `field` names the first difference.
    #[error("approval id does not match request")]
    RequestMismatch { field: &'static str },
    #[error("approval id missing env binding for requested env overrides")]
    EnvBindingMissing,
    #[error("approval id env binding mismatch")]
    EnvMismatch,
    /// Still pending, denied, expired unanswered, or an allow-once already spent.
    #[error("approval required")]
    ApprovalRequired { reason: &'static str },
}

impl GuardError {
    /// OpenClaw's `details.code`.
    pub fn code(&self) -> &'static str {
        match self {
            GuardError::MissingRunId => "MISSING_RUN_ID",
            GuardError::UnknownApproval => "UNKNOWN_APPROVAL_ID",
            GuardError::Expired => "APPROVAL_EXPIRED",
            GuardError::NodeBindingMissing => "APPROVAL_NODE_BINDING_MISSING",
            GuardError::NodeMismatch => "APPROVAL_NODE_MISMATCH",
            GuardError::DeviceMismatch => "APPROVAL_DEVICE_MISMATCH",
            GuardError::ClientMismatch => "APPROVAL_CLIENT_MISMATCH",
            GuardError::RequestMismatch { .. } => "APPROVAL_REQUEST_MISMATCH",
            GuardError::EnvBindingMissing => "APPROVAL_ENV_BINDING_MISSING",
            GuardError::EnvMismatch => "APPROVAL_ENV_MISMATCH",
            GuardError::ApprovalRequired { .. } => "APPROVAL_REQUIRED",
        }
    }

    /// `INVALID_REQUEST` with `details: {code, runId?, field?|reason?}`.
    pub fn to_shape(&self, run_id: Option<&str>) -> ErrorShape {
        let mut shape = ErrorShape::invalid_request(self.to_string()).with_detail("code", self.code());
        if let Some(id) = run_id {
            shape = shape.with_detail("runId", id);
        }
        match self {
            GuardError::RequestMismatch { field } => shape.with_detail("field", *field),
            GuardError::ApprovalRequired { reason } => shape.with_detail("reason", *reason),
            _ => shape,
        }
    }
}

/// The params to send to the node, and the approval they carry (for the audit).
#[derive(Debug, Clone, PartialEq)]
pub struct Forwarded {
    pub params: Option<Value>,
    /// `(approval id, decision)` when the run carries an approval.
    pub approval: Option<(String, ExecDecision)>,
}

/// Gate one `system.run` for `node_id`. `caller` is `None` for internal calls that have no
/// requester: they can never carry an approval.
pub fn sanitize_for_forwarding(
    broker: &ApprovalBroker,
    node_id: &str,
    raw: Option<&Value>,
    caller: Option<&RunRequester>,
    now_ms: i64,
) -> Result<Forwarded, GuardError> {
    let Some(Value::Object(raw)) = raw else {
        // Not an object: nothing to strip; the node rejects it as malformed.
        return Ok(Forwarded { params: raw.cloned(), approval: None });
    };
    let mut next: Map<String, Value> = CALLER_FIELDS.iter().filter_map(|k| raw.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
    let wants_approval = raw.get("approved") == Some(&Value::Bool(true))
        || raw.get("approvalDecision").and_then(Value::as_str).is_some_and(|d| matches!(d.trim(), "allow-once" | "allow-always"));
    if !wants_approval {
        return Ok(Forwarded { params: Some(Value::Object(next)), approval: None });
    }

    let run_id = raw.get("runId").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).ok_or(GuardError::MissingRunId)?;
    let record = broker.record(run_id).ok_or(GuardError::UnknownApproval)?;
    check_record(&record, node_id, caller, now_ms)?;
    let plan = BoundPlan::from_request(&record.request).ok_or(GuardError::RequestMismatch { field: "systemRunPlan" })?;
    plan.check(raw)?;

    let decision = decision_of(&record, caller)?;
    if decision == ExecDecision::AllowOnce && !broker.spend_once(&record.id) {
        return Err(GuardError::ApprovalRequired { reason: "allow-once already used" });
    }
    plan.write_into(&mut next);
    next.insert("runId".into(), json!(record.id));
    next.insert("approved".into(), json!(true));
    next.insert("approvalDecision".into(), json!(decision.as_str()));
    Ok(Forwarded { params: Some(Value::Object(next)), approval: Some((record.id, decision)) })
}

/// Expiry, node and requester binding.
fn check_record(record: &ApprovalRecord, node_id: &str, caller: Option<&RunRequester>, now_ms: i64) -> Result<(), GuardError> {
    let expired = match &record.resolution {
        None => now_ms > record.expires_at_ms,
        Some(r) if r.decision.is_some() => now_ms > record.expires_at_ms || now_ms > r.ts + USE_WINDOW_MS,
        // Ended by `askFallback`, at (or before) its expiry: only the use window applies.
        Some(r) => now_ms > r.ts + USE_WINDOW_MS,
    };
    if expired {
        return Err(GuardError::Expired);
    }
    if record.request.get("host").and_then(Value::as_str) != Some("node") {
        return Err(GuardError::RequestMismatch { field: "host" });
    }
    match record.request.get("nodeId").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()) {
        None => return Err(GuardError::NodeBindingMissing),
        Some(bound) if bound != node_id => return Err(GuardError::NodeMismatch),
        Some(_) => {}
    }
    let caller = caller.map(|c| &c.identity);
    match (&record.requester, caller) {
        (Requester::Agent, Some(Requester::Agent)) => Ok(()),
        (Requester::Client { device_id: Some(device), .. }, Some(Requester::Client { device_id, .. })) => {
            if device_id.as_deref() == Some(device.as_str()) {
                Ok(())
            } else {
                Err(GuardError::DeviceMismatch)
            }
        }
        (Requester::Client { conn_id, device_id: None }, Some(Requester::Client { conn_id: caller_conn, .. })) => {
            if conn_id == caller_conn {
                Ok(())
            } else {
                Err(GuardError::ClientMismatch)
            }
        }
        (Requester::Client { device_id: Some(_), .. }, _) => Err(GuardError::DeviceMismatch),
        _ => Err(GuardError::ClientMismatch),
    }
}

/// The decision the record allows, if any.
fn decision_of(record: &ApprovalRecord, caller: Option<&RunRequester>) -> Result<ExecDecision, GuardError> {
    let Some(resolution) = &record.resolution else {
        return Err(GuardError::ApprovalRequired { reason: "approval still pending" });
    };
    match (resolution.decision, resolution.effective) {
        (_, ExecDecision::Deny) => Err(GuardError::ApprovalRequired { reason: "approval denied" }),
        (Some(decision), _) => Ok(decision),
        // Nobody answered; the fallback allowed once. Only a caller that could have approved
        // it may use that (OpenClaw's rule), and the agent under the owner's `askFallback`.
        (None, effective) if caller.is_some_and(|c| c.may_approve) => Ok(effective),
        (None, _) => Err(GuardError::ApprovalRequired { reason: "approval expired unanswered" }),
    }
}

/// The plan an approval was given for (`request.systemRunPlan`, plus `request.env`).
#[derive(Debug, Clone, PartialEq)]
struct BoundPlan {
    argv: Vec<String>,
    cwd: Option<String>,
    command_text: String,
    agent_id: Option<String>,
    session_key: Option<String>,
    env: BTreeMap<String, String>,
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A string map; `None` when some value is not a string (it cannot match anything).
fn string_map(v: Option<&Value>) -> Option<BTreeMap<String, String>> {
    match v {
        None | Some(Value::Null) => Some(BTreeMap::new()),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect(),
        Some(_) => None,
    }
}

impl BoundPlan {
    fn from_request(request: &Value) -> Option<BoundPlan> {
        let plan = request.get("systemRunPlan")?;
        let argv: Vec<String> = plan.get("argv")?.as_array()?.iter().map(|a| a.as_str().map(str::to_string)).collect::<Option<_>>()?;
        if argv.is_empty() {
            return None;
        }
        let command_text = non_empty(plan.get("commandText")).or_else(|| non_empty(plan.get("rawCommand")))?;
        Some(BoundPlan {
            argv,
            cwd: non_empty(plan.get("cwd")),
            command_text,
            agent_id: non_empty(plan.get("agentId")),
            session_key: non_empty(plan.get("sessionKey")),
            env: string_map(request.get("env"))?,
        })
    }

    /// Every field the caller sent must be the bound one; a field it left out is filled from
    /// the plan. `command` (argv) is required.
    fn check(&self, raw: &Map<String, Value>) -> Result<(), GuardError> {
        let argv: Option<Vec<&str>> = raw.get("command").and_then(Value::as_array).and_then(|a| a.iter().map(Value::as_str).collect());
        if argv.is_none_or(|argv| argv != self.argv.iter().map(String::as_str).collect::<Vec<_>>()) {
            return Err(GuardError::RequestMismatch { field: "command" });
        }
        let same = |key: &str, bound: Option<&str>| match raw.get(key) {
            None | Some(Value::Null) => true,
            Some(v) => v.as_str().map(str::trim).filter(|s| !s.is_empty()) == bound,
        };
        if !same("rawCommand", Some(self.command_text.as_str())) {
            return Err(GuardError::RequestMismatch { field: "rawCommand" });
        }
        if !same("cwd", self.cwd.as_deref()) {
            return Err(GuardError::RequestMismatch { field: "cwd" });
        }
        if !same("agentId", self.agent_id.as_deref()) {
            return Err(GuardError::RequestMismatch { field: "agentId" });
        }
        if !same("sessionKey", self.session_key.as_deref()) {
            return Err(GuardError::RequestMismatch { field: "sessionKey" });
        }
        match string_map(raw.get("env")) {
            Some(env) if env == self.env => Ok(()),
            Some(env) if self.env.is_empty() && !env.is_empty() => Err(GuardError::EnvBindingMissing),
            _ => Err(GuardError::EnvMismatch),
        }
    }

    /// Send exactly the bound plan.
    fn write_into(&self, params: &mut Map<String, Value>) {
        params.insert("command".into(), json!(self.argv));
        params.insert("rawCommand".into(), json!(self.command_text));
        let optional = [("cwd", &self.cwd), ("agentId", &self.agent_id), ("sessionKey", &self.session_key)];
        for (key, value) in optional {
            match value {
                Some(v) => params.insert(key.into(), json!(v)),
                None => params.remove(key),
            };
        }
        if self.env.is_empty() {
            params.remove("env");
        } else {
            params.insert("env".into(), json!(self.env));
        }
    }
}

#[cfg(test)]
#[path = "system_run_tests.rs"]
mod tests;
