//! The node's local exec-approval gate: whether a `system.run` may execute on this machine.
//!
//! Policy lives in `<state_dir>/exec-approvals.json` (OpenClaw's v1 format, see
//! `docs/exec-approvals.md`); every decision is appended to `<state_dir>/exec-audit.jsonl`.
//!
//! **Deny by default.** Where the file says nothing, Pincer's node uses `security=allowlist`,
//! `ask=on-miss`, `askFallback=deny`, with an empty allowlist: nothing runs until it is
//! allowlisted or a person approves it, and when nobody can be asked the answer is no.
//! (Current OpenClaw builds default to `full`/`off`; a Pincer node is stricter on purpose.)
//!
//! The gate is the node's own AND gate after the gateway's: the gateway may already have asked
//! a person (`approved_by_gateway`), in which case the node does not ask again, but a local
//! `security=deny` or an allowlist miss under `ask=off` still wins.
//!
//! Allowlist entries are case-insensitive globs on the *resolved absolute path* of every
//! executable a request would run: known wrappers (`env`, `nice`, `timeout`, `nohup`,
//! `stdbuf`) are peeled off, `sh -c` / `cmd.exe /c` scripts are split into segments that
//! must all match, and anything opaque (redirections, substitutions, subshells, unbalanced
//! quotes, environment that changes what runs) can only pass through a person or `full`.

mod audit;
pub(crate) mod command;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod policy;
mod prompter;
mod runners;
mod shell;
mod store;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pincer_protocol::approvals::{AllowlistEntry, ExecApprovalsSnapshot, ExecAsk, ExecDecision, ExecSecurity};
use pincer_protocol::now_ms;
use serde_json::{json, Map, Value};

pub use error::{ApprovalsError, InvalidApprovalsFile};
pub use policy::{BUILTIN_ASK, BUILTIN_ASK_FALLBACK, BUILTIN_SECURITY, DEFAULT_AGENT};
pub use prompter::{ExecPrompt, NoPrompter, PromptReason, Prompter, TerminalPrompter, TERMINAL_PROMPT_TIMEOUT};
pub use runners::runner_warning;

use crate::error::CommandError;
use audit::{AuditLog, AuditRecord};
use command::{analyze, Analysis, Resolver};
use policy::EffectivePolicy;
use store::Store;

/// One `system.run` as the gate sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRequest {
    /// What will be executed (argv[0] may be a bare name; resolved via PATH).
    pub argv: Vec<String>,
    /// Display text (`rawCommand`).
    pub raw_command: Option<String>,
    pub cwd: Option<PathBuf>,
    /// Defaults to `main`.
    pub agent_id: Option<String>,
    pub session_key: Option<String>,
    /// `system.run {approved:true, approvalDecision}`: the gateway already asked a person.
    pub approved_by_gateway: Option<ExecDecision>,
    /// PATH used for resolution: the PATH the child gets (`None` = this process's PATH).
    pub env_path: Option<String>,
}

/// What the gate decided, and the argv to spawn if it allowed: program words pinned to the
/// absolute paths it checked (`None` when the program does not resolve).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatePlan {
    pub outcome: GateOutcome,
    pub exec_argv: Option<Vec<String>>,
}

/// How an allowed command got through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllowedVia {
    Allowlist,
    Full,
    PromptOnce,
    PromptAlways,
    Gateway,
    Fallback,
}

impl AllowedVia {
    pub fn as_str(self) -> &'static str {
        match self {
            AllowedVia::Allowlist => "allowlist",
            AllowedVia::Full => "full",
            AllowedVia::PromptOnce => "prompt-once",
            AllowedVia::PromptAlways => "prompt-always",
            AllowedVia::Gateway => "gateway",
            AllowedVia::Fallback => "fallback",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateOutcome {
    Allowed {
        via: AllowedVia,
    },
    /// `message` uses OpenClaw's `SYSTEM_RUN_DENIED: …` wording.
    Denied {
        message: String,
    },
}

impl GateOutcome {
    pub fn is_allowed(&self) -> bool {
        matches!(self, GateOutcome::Allowed { .. })
    }

    /// `Denied` as the `UNAVAILABLE` error OpenClaw's node reports.
    pub fn into_result(self) -> Result<AllowedVia, CommandError> {
        match self {
            GateOutcome::Allowed { via } => Ok(via),
            GateOutcome::Denied { message } => Err(CommandError::unavailable(message)),
        }
    }
}

pub const DENIED_APPROVAL_REQUIRED: &str = "SYSTEM_RUN_DENIED: approval required";
pub const DENIED_ALLOWLIST_MISS: &str = "SYSTEM_RUN_DENIED: allowlist miss";
pub const DENIED_SECURITY_DENY: &str = "SYSTEM_RUN_DENIED: security=deny";
pub const DENIED_USER: &str = "SYSTEM_RUN_DENIED: user denied";

/// A decision plus what the audit log says about it.
struct Verdict {
    outcome: GateOutcome,
    via: &'static str,
    reason: String,
}

impl Verdict {
    fn allow(via: AllowedVia, reason: impl Into<String>) -> Verdict {
        Verdict { outcome: GateOutcome::Allowed { via }, via: via.as_str(), reason: reason.into() }
    }

    fn deny(message: impl Into<String>, via: &'static str, reason: impl Into<String>) -> Verdict {
        Verdict { outcome: GateOutcome::Denied { message: message.into() }, via, reason: reason.into() }
    }
}

/// The node's exec-approval gate. Cheap to share behind `Arc`.
pub struct ExecGate {
    store: Store,
    audit: Arc<AuditLog>,
    prompter: Arc<dyn Prompter>,
}

// The gate is shared across connection tasks; losing `Send + Sync` must fail the build, not a test.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ExecGate>();
};

impl ExecGate {
    /// `state_dir/exec-approvals.json` (created lazily; missing file = built-in defaults) and
    /// `state_dir/exec-audit.jsonl`.
    pub fn open(state_dir: &Path, prompter: Arc<dyn Prompter>) -> Result<ExecGate, ApprovalsError> {
        match std::fs::metadata(state_dir) {
            Ok(meta) if !meta.is_dir() => {
                let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a directory");
                return Err(ApprovalsError::io("open", state_dir, e));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ApprovalsError::io("open", state_dir, e)),
        }
        let gate = ExecGate { store: Store::new(state_dir), audit: Arc::new(AuditLog::new(state_dir)), prompter };
        // A broken file denies every command until fixed; say so at startup, not only per run.
        if let Err(e) = gate.store.load() {
            tracing::warn!(error = %e, "exec approvals file unusable; system.run will be denied");
        }
        Ok(gate)
    }

    pub fn approvals_path(&self) -> &Path {
        self.store.path()
    }

    pub fn audit_path(&self) -> &Path {
        self.audit.path()
    }

    /// `system.execApprovals.get` → `{path, exists, hash, file}`.
    pub fn snapshot(&self) -> Result<ExecApprovalsSnapshot, ApprovalsError> {
        self.store.snapshot()
    }

    /// `system.execApprovals.set {file, baseHash}`: compare-and-swap on the hash, validate,
    /// atomic 0600 write; returns the new snapshot.
    pub fn set(&self, file: Value, base_hash: Option<&str>) -> Result<ExecApprovalsSnapshot, ApprovalsError> {
        self.store.set(file, base_hash)
    }

    /// `set`, plus a warning for each allowlist pattern it adds that names a shell or another
    /// program that runs arbitrary commands (an allowlisted `/bin/sh` is `security=full`).
    pub fn set_with_warnings(&self, file: Value, base_hash: Option<&str>) -> Result<(ExecApprovalsSnapshot, Vec<String>), ApprovalsError> {
        let before: Vec<String> = self.store.snapshot().map(|s| allowlist_patterns(&s.file)).unwrap_or_default();
        let snapshot = self.store.set(file, base_hash)?;
        let warnings: Vec<String> = allowlist_patterns(&snapshot.file)
            .into_iter()
            .filter(|p| !before.iter().any(|b| b.eq_ignore_ascii_case(p)))
            .filter_map(|p| runner_warning(&p))
            .collect();
        for warning in &warnings {
            tracing::warn!(%warning, "exec approvals: allowlist entry runs arbitrary commands");
        }
        Ok((snapshot, warnings))
    }

    /// Decide whether this command may run. Never panics on any input.
    pub async fn check(&self, req: &ExecRequest) -> GateOutcome {
        self.check_plan(req).await.outcome
    }

    /// [`ExecGate::check`], and the argv to spawn so that what runs is what was checked.
    pub async fn check_plan(&self, req: &ExecRequest) -> GatePlan {
        let agent_id = req.agent_id.as_deref().map(str::trim).filter(|a| !a.is_empty()).unwrap_or(DEFAULT_AGENT);
        let analysis = if req.argv.is_empty() {
            Analysis::default()
        } else {
            analyze(&req.argv, &Resolver::new(req.env_path.as_deref(), req.cwd.as_deref()))
        };
        let verdict = self.decide(req, agent_id, &analysis).await;
        let allowed = verdict.outcome.is_allowed();
        tracing::info!(agent = agent_id, allowed, via = verdict.via, reason = %verdict.reason, "exec approval decision");
        let record = AuditRecord {
            ts: now_ms(),
            decision: if allowed { "allow" } else { "deny" },
            via: verdict.via,
            argv: req.argv.clone(),
            raw_command: req.raw_command.clone(),
            cwd: req.cwd.as_ref().map(|c| c.display().to_string()),
            agent_id: agent_id.to_string(),
            session_key: req.session_key.clone(),
            resolved_paths: analysis.resolved_paths().iter().map(|p| p.display().to_string()).collect(),
            reason: verdict.reason,
        };
        // The append fsyncs; keep that off the async workers, but finish it before the
        // command runs so the log never misses a decision that took effect.
        let audit = self.audit.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || audit.append(record)).await {
            tracing::error!(error = %e, "exec audit write task failed");
        }
        GatePlan { outcome: verdict.outcome, exec_argv: analysis.exec_argv }
    }

    async fn decide(&self, req: &ExecRequest, agent_id: &str, analysis: &Analysis) -> Verdict {
        let policy = match self.store.load() {
            Ok(loaded) => EffectivePolicy::resolve(&loaded.file, agent_id),
            Err(e) => return Verdict::deny(format!("SYSTEM_RUN_DENIED: exec approvals unavailable ({e})"), "error", e.to_string()),
        };
        if policy.security == ExecSecurity::Deny {
            return Verdict::deny(DENIED_SECURITY_DENY, "policy", "security=deny");
        }
        if req.argv.is_empty() {
            return Verdict::deny("SYSTEM_RUN_DENIED: empty command", "policy", "empty argv");
        }
        let paths = analysis.resolved_paths();
        let path_refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let allowlisted = analysis.fully_resolved() && policy.allows_all(&path_refs);
        let miss = miss_reason(analysis, allowlisted);
        let satisfied = policy.security == ExecSecurity::Full || allowlisted;
        let must_ask = match policy.ask {
            ExecAsk::Always => true,
            ExecAsk::OnMiss => !satisfied,
            ExecAsk::Off => false,
        };
        if !must_ask {
            return match (satisfied, policy.security) {
                (true, ExecSecurity::Full) => Verdict::allow(AllowedVia::Full, "security=full"),
                (true, _) => Verdict::allow(AllowedVia::Allowlist, "allowlisted"),
                (false, _) => Verdict::deny(DENIED_ALLOWLIST_MISS, "policy", format!("{miss}; ask=off")),
            };
        }
        // A shell among the executables (`bash script.sh`) is never stored: an allowlisted shell
        // runs anything. Wrappers and `sh -c` are already peeled off into their inner programs.
        let allow_always = policy.security == ExecSecurity::Allowlist
            && policy.ask != ExecAsk::Always
            && analysis.fully_resolved()
            && !paths.iter().any(|p| runners::is_shell(p))
            && agent_id != "*";
        let (decision, from_gateway) = match req.approved_by_gateway {
            Some(decision) => (decision, true),
            None => {
                let prompt = ExecPrompt {
                    command_text: command_text(req),
                    argv: req.argv.clone(),
                    cwd: req.cwd.clone(),
                    resolved_paths: paths.clone(),
                    agent_id: agent_id.to_string(),
                    session_key: req.session_key.clone(),
                    security: policy.security,
                    ask: policy.ask,
                    reason: prompt_reason(&policy, analysis),
                    allow_always,
                };
                match self.prompter.ask(&prompt).await {
                    Some(decision) => (decision, false),
                    None => return fallback(&policy, allowlisted, &miss),
                }
            }
        };
        let asked = if from_gateway { "gateway" } else { "prompt" };
        match decision {
            ExecDecision::Deny => Verdict::deny(DENIED_USER, asked, format!("{asked} answered deny")),
            ExecDecision::AllowOnce => Verdict::allow(
                if from_gateway { AllowedVia::Gateway } else { AllowedVia::PromptOnce },
                format!("{asked} answered allow-once"),
            ),
            ExecDecision::AllowAlways => {
                let via = match (from_gateway, allow_always) {
                    (true, _) => AllowedVia::Gateway,
                    (false, true) => AllowedVia::PromptAlways,
                    (false, false) => AllowedVia::PromptOnce,
                };
                let persisted = if allow_always {
                    match self.persist_allow_always(req, agent_id, &paths) {
                        Ok(()) => "persisted to allowlist".to_string(),
                        Err(e) => {
                            tracing::warn!(error = %e, "allow-always not persisted");
                            format!("not persisted: {e}")
                        }
                    }
                } else {
                    "not persistable; treated as allow-once".to_string()
                };
                Verdict::allow(via, format!("{asked} answered allow-always; {persisted}"))
            }
        }
    }

    /// Add the resolved executables to this agent's allowlist (same CAS write as `set`).
    fn persist_allow_always(&self, req: &ExecRequest, agent_id: &str, paths: &[PathBuf]) -> Result<(), ApprovalsError> {
        let now = now_ms();
        let command = audit::redact_text(&command_text(req));
        self.store.update(|file| {
            let policy = EffectivePolicy::resolve(file, agent_id);
            let agent = file.agents.get_or_insert_with(Default::default).entry(agent_id.to_string()).or_default();
            let list = agent.allowlist.get_or_insert_with(Vec::new);
            for path in paths {
                let shown = path.display().to_string();
                let pattern = globset::escape(&shown);
                let usage = [("lastUsedAt", json!(now)), ("lastUsedCommand", json!(command)), ("lastResolvedPath", json!(shown))];
                if let Some(existing) = list.iter_mut().find(|e| e.pattern.eq_ignore_ascii_case(&pattern)) {
                    existing.extra.extend(usage.map(|(k, v)| (k.to_string(), v)));
                } else if !policy.allows(path) {
                    if let Some(warning) = runner_warning(&pattern) {
                        tracing::warn!(%warning, "allow-always added an entry that runs arbitrary commands");
                    }
                    let extra: Map<String, Value> = usage.map(|(k, v)| (k.to_string(), v)).into_iter().collect();
                    list.push(AllowlistEntry {
                        id: Some(uuid::Uuid::new_v4().to_string()),
                        pattern,
                        source: Some("allow-always".to_string()),
                        extra,
                    });
                }
            }
        })?;
        Ok(())
    }
}

/// The allowlist patterns of every agent in an approvals file.
fn allowlist_patterns(file: &Value) -> Vec<String> {
    let agents = file.get("agents").and_then(Value::as_object).into_iter().flat_map(|agents| agents.values());
    let entries = agents.filter_map(|a| a.get("allowlist").and_then(Value::as_array)).flatten();
    entries.filter_map(|e| e.get("pattern").and_then(Value::as_str)).map(str::to_string).collect()
}

fn command_text(req: &ExecRequest) -> String {
    req.raw_command.clone().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| req.argv.join(" "))
}

fn miss_reason(analysis: &Analysis, allowlisted: bool) -> String {
    if allowlisted {
        return "allowlisted".to_string();
    }
    if let Some(blocker) = &analysis.blocker {
        return format!("not allowlistable: {blocker}");
    }
    match analysis.segments.iter().find(|s| s.resolved.is_none()) {
        Some(segment) => format!("cannot resolve {:?}", segment.argv.first().map(String::as_str).unwrap_or_default()),
        None => "allowlist miss".to_string(),
    }
}

fn prompt_reason(policy: &EffectivePolicy, analysis: &Analysis) -> PromptReason {
    match (&analysis.blocker, policy.ask) {
        (_, ExecAsk::Always) => PromptReason::AskAlways,
        (Some(blocker), _) => PromptReason::NotAllowlistable(blocker.clone()),
        (None, _) => PromptReason::AllowlistMiss,
    }
}

/// Nobody answered: `askFallback` decides.
fn fallback(policy: &EffectivePolicy, allowlisted: bool, miss: &str) -> Verdict {
    match policy.ask_fallback {
        ExecSecurity::Full => Verdict::allow(AllowedVia::Fallback, "no answer; askFallback=full"),
        ExecSecurity::Allowlist if allowlisted => Verdict::allow(AllowedVia::Fallback, "no answer; askFallback=allowlist; allowlisted"),
        ExecSecurity::Allowlist => Verdict::deny(DENIED_ALLOWLIST_MISS, "fallback", format!("no answer; askFallback=allowlist; {miss}")),
        ExecSecurity::Deny => Verdict::deny(DENIED_APPROVAL_REQUIRED, "fallback", "no answer; askFallback=deny"),
    }
}
