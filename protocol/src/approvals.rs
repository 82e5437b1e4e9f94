//! Exec approvals: decisions, requests and the `exec-approvals.json` file format (v1).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What a person (or the fallback) decided about one exec request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecSecurity {
    Deny,
    Allowlist,
    Full,
}

/// `ask`: always > on-miss > off in strictness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecAsk {
    Off,
    OnMiss,
    Always,
}

/// One allowlist entry: a case-insensitive glob on the resolved binary path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowlistEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Policy fields shared by `defaults` and each agent entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecPolicyFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<ExecSecurity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<ExecAsk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_fallback: Option<ExecSecurity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowlist: Option<Vec<AllowlistEntry>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `exec-approvals.json`, version 1. Unknown keys are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecApprovalsFile {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<ExecPolicyFields>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<std::collections::BTreeMap<String, ExecPolicyFields>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for ExecApprovalsFile {
    fn default() -> Self {
        ExecApprovalsFile { version: 1, defaults: None, agents: None, extra: Map::new() }
    }
}

/// Result of `exec.approvals.get` / `system.execApprovals.get`: `{path, exists, hash, file}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecApprovalsSnapshot {
    pub path: String,
    pub exists: bool,
    pub hash: String,
    pub file: Value,
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
