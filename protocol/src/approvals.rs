//! Exec approvals: decisions, requests and the `exec-approvals.json` file format (v1).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use ts_rs::TS;

/// What a person (or the fallback) decided about one exec request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ExecDecision {
    AllowOnce,
    AllowAlways,
    Deny,
}

impl ExecDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecDecision::AllowOnce => "allow-once",
            ExecDecision::AllowAlways => "allow-always",
            ExecDecision::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<ExecDecision> {
        match s {
            "allow-once" => Some(ExecDecision::AllowOnce),
            "allow-always" => Some(ExecDecision::AllowAlways),
            "deny" => Some(ExecDecision::Deny),
            _ => None,
        }
    }

    pub fn allows(self) -> bool {
        !matches!(self, ExecDecision::Deny)
    }
}

/// `security`: deny > allowlist > full in strictness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum ExecSecurity {
    Deny,
    Allowlist,
    Full,
}

/// `ask`: always > on-miss > off in strictness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ExecAsk {
    Off,
    OnMiss,
    Always,
}

/// One allowlist entry: a case-insensitive glob on the resolved binary path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AllowlistEntry {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub pattern: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Policy fields shared by `defaults` and each agent entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecPolicyFields {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<ExecSecurity>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<ExecAsk>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_fallback: Option<ExecSecurity>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowlist: Option<Vec<AllowlistEntry>>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `exec-approvals.json`, version 1. Unknown keys are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExecApprovalsFile {
    pub version: u32,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<ExecPolicyFields>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<std::collections::BTreeMap<String, ExecPolicyFields>>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for ExecApprovalsFile {
    fn default() -> Self {
        ExecApprovalsFile { version: 1, defaults: None, agents: None, extra: Map::new() }
    }
}

/// Result of `exec.approvals.get` / `system.execApprovals.get`: `{path, exists, hash, file}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExecApprovalsSnapshot {
    pub path: String,
    pub exists: bool,
    pub hash: String,
    pub file: Value,
}

/// `exec.approvals.get` result: [`ExecApprovalsSnapshot`] plus the defaults in force where the
/// file says nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalsFileResult {
    pub path: String,
    pub exists: bool,
    pub hash: String,
    pub file: Value,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_defaults: Option<ExecResolvedDefaults>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `resolvedDefaults` of an approvals snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecResolvedDefaults {
    pub security: ExecSecurity,
    pub ask: ExecAsk,
    pub ask_fallback: ExecSecurity,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `exec.approvals.set` / `exec.approvals.node.set` / `system.execApprovals.set` params: the new
/// file, guarded by the `hash` it was edited from. `nodeId` only for `exec.approvals.node.set`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalsSetParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_hash: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `exec.approval.request` params. The request is kept as sent (minus `id`, `timeoutMs`,
/// `twoPhase`, `requireDeliveryRoute`) and shown to the approving person, so unknown fields matter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalRequestParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The command line as text (or `systemRunPlan.commandText`).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// `gateway` (default) or `node`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_run_plan: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<ExecAsk>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Answer at once with [`ExecApprovalAccepted`]; the decision comes from `waitDecision`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_phase: Option<bool>,
    /// Default true: with no approval client connected the request expires at once.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_delivery_route: Option<bool>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// First answer of a two-phase `exec.approval.request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalAccepted {
    /// Always `accepted`.
    pub status: String,
    pub id: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// `approval-client` or `none`.
    pub delivery_route: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How an approval ended: `exec.approval.request` (one-phase), `exec.approval.waitDecision`.
/// `decision` is `null` when nobody decided (then `effectiveDecision` is the fallback's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalResolution {
    pub id: String,
    pub decision: Option<ExecDecision>,
    pub effective_decision: ExecDecision,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// `expired`, `no-approval-route`, ... when the approval ended without a person's answer.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_reason: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Params naming one approval: `exec.approval.get`, `exec.approval.waitDecision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExecApprovalIdParams {
    pub id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `exec.approval.resolve` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExecApprovalResolveParams {
    pub id: String,
    pub decision: ExecDecision,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A pending approval: `exec.approval.list` entries and the `exec.approval.requested` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalSummary {
    pub id: String,
    /// The request as asked (see [`ExecApprovalRequestParams`]) plus `requestedBy`.
    pub request: Value,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// Always `exec`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_kind: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `exec.approval.get` result: the request and the decisions the person may give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalDetails {
    pub id: String,
    pub command_text: Option<String>,
    pub command_preview: Option<String>,
    pub allowed_decisions: Vec<ExecDecision>,
    pub host: Option<String>,
    pub node_id: Option<String>,
    pub agent_id: Option<String>,
    pub cwd: Option<String>,
    pub request: Value,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `exec.approval.resolved` event payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecApprovalResolvedEvent {
    pub id: String,
    pub decision: ExecDecision,
    pub resolved_by: Option<String>,
    pub ts: i64,
    pub request: Value,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The compare-and-swap hash of an approvals file: SHA-256 hex of its bytes on disk, or of
/// the empty string when the file does not exist yet.
pub fn approvals_hash(raw: Option<&[u8]>) -> String {
    hex::encode(Sha256::digest(raw.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_file_keeps_unknown_keys() {
        let text = r#"{"version":1,"socket":{"path":"/x"},"defaults":{"security":"allowlist","ask":"on-miss","askFallback":"deny","autoAllowSkills":false},"agents":{"main":{"allowlist":[{"id":"u","pattern":"/usr/bin/rg","lastUsedAt":1}]}}}"#;
        let file: ExecApprovalsFile = serde_json::from_str(text).unwrap();
        assert_eq!(file.defaults.as_ref().unwrap().security, Some(ExecSecurity::Allowlist));
        let back: Value = serde_json::to_value(&file).unwrap();
        let orig: Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, orig);
    }

    #[test]
    fn decisions_use_kebab_case() {
        assert_eq!(serde_json::to_string(&ExecDecision::AllowAlways).unwrap(), "\"allow-always\"");
        assert_eq!(ExecDecision::parse("deny"), Some(ExecDecision::Deny));
        assert_eq!(ExecDecision::parse("yes"), None);
    }
}
