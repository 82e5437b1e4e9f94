//! The exec-approval broker: pending requests, first-answer-wins resolution, expiry with
//! the `askFallback` decision, waiters, and an audit row for every outcome. It also keeps
//! who asked for each approval and whether an allow-once was already spent, because those
//! records are the only source of the approval facts a node's `system.run` ever receives
//! (see `nodes::system_run`).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use pincer_protocol::approvals::ExecDecision;
use pincer_protocol::error::ErrorShape;
use serde_json::{json, Value};
use tokio::sync::watch;

/// What happens to a request nobody answers in time (`askFallback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskFallback {
    /// Deny (the default).
    Deny,
    /// Allow only what the requester reported as allowlisted (`allowlistSatisfied: true`).
    Allowlist,
    /// Allow once.
    Full,
}

impl AskFallback {
    pub fn parse(s: &str) -> Option<AskFallback> {
        match s {
            "deny" => Some(AskFallback::Deny),
            "allowlist" => Some(AskFallback::Allowlist),
            "full" => Some(AskFallback::Full),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AskFallback::Deny => "deny",
            AskFallback::Allowlist => "allowlist",
            AskFallback::Full => "full",
        }
    }
}

/// The terminal state of one approval.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// `None` when it expired unanswered.
    pub decision: Option<ExecDecision>,
    /// The decision actually applied (the answer, or the fallback on expiry).
    pub effective: ExecDecision,
    pub resolved_by: Option<String>,
    pub ts: i64,
    pub terminal_reason: Option<&'static str>,
}

/// Who opened an approval. Only the same requester may spend it on a `system.run`, so an
/// approval id seen in an event cannot be replayed by another client (OpenClaw binds the
/// record to the requesting device, or to the connection when there is no device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// A client connection (`exec.approval.request`, `node.invoke`).
    Client { conn_id: String, device_id: Option<String> },
    /// The gateway's own agent runtime (the `exec` tool); no client can act as it.
    Agent,
}

struct Entry {
    id: String,
    request: Value,
    requester: Requester,
    created_at_ms: i64,
    expires_at_ms: i64,
    state: watch::Sender<Option<Resolution>>,
}

/// A finished approval, kept for `waitDecision` and for spending it on a `system.run`.
struct Finished {
    id: String,
    request: Value,
    requester: Requester,
    created_at_ms: i64,
    expires_at_ms: i64,
    resolution: Resolution,
    /// An allow-once (answered or by fallback) was used for a run: it allows nothing more.
    spent: bool,
}

/// What the broker knows about one approval, as the `system.run` gate sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    pub id: String,
    pub request: Value,
    pub requester: Requester,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// `None` while nobody has answered and it has not expired.
    pub resolution: Option<Resolution>,
    pub spent: bool,
}

impl Entry {
    fn summary(&self) -> Value {
        json!({
            "id": self.id,
            "request": self.request,
            "createdAtMs": self.created_at_ms,
            "expiresAtMs": self.expires_at_ms,
            "approvalKind": "exec",
        })
    }
}

/// Resolved approvals stay answerable (`waitDecision`, `get`) for a while.
const RECENT_KEEP: usize = 1000;

#[derive(Default)]
pub struct ApprovalBroker {
    pending: Mutex<HashMap<String, Entry>>,
    recent: Mutex<VecDeque<Finished>>,
}

pub fn not_found() -> ErrorShape {
    ErrorShape::invalid_request("unknown or expired approval id")
        .with_detail("reason", "APPROVAL_NOT_FOUND")
        .with_detail("remediation", "Re-request the action; pending approvals are cleared after expiry or restart.")
}

impl ApprovalBroker {
    /// Register a new pending approval. Returns its summary (for the event) and a receiver
    /// that yields the resolution.
    pub fn create(
        &self,
        id: Option<String>,
        request: Value,
        requester: Requester,
        now_ms: i64,
        timeout: Duration,
    ) -> Result<(Value, watch::Receiver<Option<Resolution>>), ErrorShape> {
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if id.is_empty() || id.len() > 128 || id.contains("..") || id.starts_with("plugin:") {
            return Err(ErrorShape::invalid_request("invalid approval id"));
        }
        let (tx, rx) = watch::channel(None);
        let expires_at_ms = now_ms + timeout.as_millis() as i64;
        let entry = Entry { id: id.clone(), request, requester, created_at_ms: now_ms, expires_at_ms, state: tx };
        let summary = entry.summary();
        let mut pending = self.pending.lock().map_err(|_| ErrorShape::unavailable("approval request unavailable"))?;
        if pending.contains_key(&id) {
            return Err(ErrorShape::invalid_request("approval id already pending"));
        }
        // A finished id is never reused: its record may still authorise (or have spent) a run.
        if self.recent.lock().map_err(|_| ErrorShape::unavailable("approval request unavailable"))?.iter().any(|f| f.id == id) {
            return Err(ErrorShape::invalid_request("approval id already resolved").with_detail("reason", "APPROVAL_ALREADY_RESOLVED"));
        }
        pending.insert(id, entry);
        Ok((summary, rx))
    }

    /// Resolve a pending approval; the first answer wins. Returns the resolution and the
    /// original request.
    /// `fresh` is false when this repeats an earlier identical answer.
    pub fn resolve(
        &self,
        id: &str,
        decision: ExecDecision,
        by: Option<String>,
        now_ms: i64,
    ) -> Result<(Resolution, Value, bool), ErrorShape> {
        let entry = self.pending.lock().ok().and_then(|mut p| p.remove(id));
        let Some(entry) = entry else {
            // Answering again with the same decision is idempotent; a different one is late.
            if let Some((req, res)) = self.recent_entry(id) {
                if res.decision == Some(decision) {
                    return Ok((res, req, false));
                }
                return Err(ErrorShape::invalid_request("approval already resolved").with_detail("reason", "APPROVAL_ALREADY_RESOLVED"));
            }
            return Err(not_found());
        };
        let resolution = Resolution { decision: Some(decision), effective: decision, resolved_by: by, ts: now_ms, terminal_reason: None };
        self.finish(entry, resolution.clone());
        Ok((resolution.clone(), self.recent_entry(id).map(|(r, _)| r).unwrap_or(Value::Null), true))
    }

    /// Expire a pending approval with the fallback decision. `None` if already resolved.
    pub fn expire(&self, id: &str, fallback: AskFallback, now_ms: i64) -> Option<(Resolution, Value)> {
        self.expire_with_reason(id, fallback, now_ms, "expired")
    }

    /// [`expire`](Self::expire) with the `terminalReason` the requester and every waiter
    /// see (e.g. `"no-approval-route"`).
    pub fn expire_with_reason(&self, id: &str, fallback: AskFallback, now_ms: i64, reason: &'static str) -> Option<(Resolution, Value)> {
        let entry = self.pending.lock().ok()?.remove(id)?;
        let allowlisted = entry.request.get("allowlistSatisfied").and_then(Value::as_bool).unwrap_or(false);
        let effective = match fallback {
            AskFallback::Full => ExecDecision::AllowOnce,
            AskFallback::Allowlist if allowlisted => ExecDecision::AllowOnce,
            _ => ExecDecision::Deny,
        };
        let request = entry.request.clone();
        let resolution = Resolution {
            decision: None,
            effective,
            resolved_by: Some(format!("askFallback:{}", fallback.as_str())),
            ts: now_ms,
            terminal_reason: Some(reason),
        };
        self.finish(entry, resolution.clone());
        Some((resolution, request))
    }

    fn finish(&self, entry: Entry, resolution: Resolution) {
        let _ = entry.state.send(Some(resolution.clone()));
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= RECENT_KEEP {
                recent.pop_front();
            }
            recent.push_back(Finished {
                id: entry.id,
                request: entry.request,
                requester: entry.requester,
                created_at_ms: entry.created_at_ms,
                expires_at_ms: entry.expires_at_ms,
                resolution,
                spent: false,
            });
        }
    }

    fn recent_entry(&self, id: &str) -> Option<(Value, Resolution)> {
        let recent = self.recent.lock().ok()?;
        recent.iter().rev().find(|f| f.id == id).map(|f| (f.request.clone(), f.resolution.clone()))
    }

    /// The record of one approval by its exact id (no prefixes: a run names its approval
    /// exactly), pending or finished.
    pub fn record(&self, id: &str) -> Option<ApprovalRecord> {
        if let Some(e) = self.pending.lock().ok()?.get(id) {
            return Some(ApprovalRecord {
                id: e.id.clone(),
                request: e.request.clone(),
                requester: e.requester.clone(),
                created_at_ms: e.created_at_ms,
                expires_at_ms: e.expires_at_ms,
                resolution: None,
                spent: false,
            });
        }
        let recent = self.recent.lock().ok()?;
        recent.iter().rev().find(|f| f.id == id).map(|f| ApprovalRecord {
            id: f.id.clone(),
            request: f.request.clone(),
            requester: f.requester.clone(),
            created_at_ms: f.created_at_ms,
            expires_at_ms: f.expires_at_ms,
            resolution: Some(f.resolution.clone()),
            spent: f.spent,
        })
    }

    /// Spend a finished allow-once approval. True exactly once per approval: the check and
    /// the mark happen under one lock, so two runs racing on one approval cannot both win.
    pub fn spend_once(&self, id: &str) -> bool {
        let Ok(mut recent) = self.recent.lock() else { return false };
        match recent.iter_mut().rev().find(|f| f.id == id) {
            Some(f) if !f.spent && f.resolution.effective == ExecDecision::AllowOnce => {
                f.spent = true;
                true
            }
            _ => false,
        }
    }

    /// A receiver for a pending approval, or the final resolution of a recent one.
    pub fn watch(&self, id: &str) -> Result<WatchState, ErrorShape> {
        if let Some(entry) =
            self.pending.lock().ok().and_then(|p| p.get(id).map(|e| (e.state.subscribe(), e.created_at_ms, e.expires_at_ms)))
        {
            return Ok(WatchState::Pending { rx: entry.0, created_at_ms: entry.1, expires_at_ms: entry.2 });
        }
        let recent = self.recent.lock().map_err(|_| not_found())?;
        match recent.iter().rev().find(|f| f.id == id) {
            Some(f) => {
                Ok(WatchState::Done { resolution: f.resolution.clone(), created_at_ms: f.created_at_ms, expires_at_ms: f.expires_at_ms })
            }
            None => Err(ErrorShape::invalid_request("approval expired or not found")),
        }
    }

    /// Look up a pending approval by id or unique prefix.
    pub fn get(&self, id: &str) -> Result<Value, ErrorShape> {
        let pending = self.pending.lock().map_err(|_| not_found())?;
        if let Some(e) = pending.get(id) {
            return Ok(e.summary());
        }
        let matches: Vec<&Entry> = pending.values().filter(|e| e.id.starts_with(id)).collect();
        match matches.as_slice() {
            [one] => Ok(one.summary()),
            [] => Err(not_found()),
            _ => Err(ErrorShape::invalid_request("ambiguous approval id prefix; use the full id")),
        }
    }

    pub fn list(&self) -> Vec<Value> {
        let pending = match self.pending.lock() {
            Ok(p) => p,
            Err(_) => return Vec::new(),
        };
        let mut out: Vec<&Entry> = pending.values().collect();
        out.sort_by_key(|e| e.created_at_ms);
        out.into_iter().map(Entry::summary).collect()
    }
}

pub enum WatchState {
    Pending { rx: watch::Receiver<Option<Resolution>>, created_at_ms: i64, expires_at_ms: i64 },
    Done { resolution: Resolution, created_at_ms: i64, expires_at_ms: i64 },
}

/// Wait until the receiver holds a resolution.
pub async fn wait_resolution(mut rx: watch::Receiver<Option<Resolution>>) -> Option<Resolution> {
    loop {
        if let Some(res) = rx.borrow().clone() {
            return Some(res);
        }
        if rx.changed().await.is_err() {
            return rx.borrow().clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_answer_wins_and_repeats_are_idempotent() {
        let broker = ApprovalBroker::default();
        let (summary, rx) = broker.create(None, json!({"command": "ls"}), Requester::Agent, 1, Duration::from_secs(60)).unwrap();
        let id = summary["id"].as_str().unwrap().to_string();
        assert_eq!(broker.list().len(), 1);
        let (res, _, fresh) = broker.resolve(&id, ExecDecision::AllowOnce, Some("a".into()), 2).unwrap();
        assert!(fresh);
        assert_eq!(res.decision, Some(ExecDecision::AllowOnce));
        assert_eq!(wait_resolution(rx).await.unwrap().effective, ExecDecision::AllowOnce);
        // Same answer again: fine. Different answer: too late.
        assert!(!broker.resolve(&id, ExecDecision::AllowOnce, None, 3).unwrap().2);
        let late = broker.resolve(&id, ExecDecision::Deny, None, 3).unwrap_err();
        assert_eq!(late.message, "approval already resolved");
        assert!(broker.list().is_empty());
        assert_eq!(broker.resolve("nope", ExecDecision::Deny, None, 3).unwrap_err().message, "unknown or expired approval id");
    }

    #[tokio::test]
    async fn expiry_applies_the_fallback() {
        let broker = ApprovalBroker::default();
        let (s, rx) = broker.create(Some("a1".into()), json!({}), Requester::Agent, 1, Duration::from_millis(5)).unwrap();
        assert_eq!(s["id"], "a1");
        let (res, _) = broker.expire("a1", AskFallback::Deny, 10).unwrap();
        assert_eq!(res.decision, None);
        assert_eq!(res.effective, ExecDecision::Deny);
        assert_eq!(wait_resolution(rx).await.unwrap().terminal_reason, Some("expired"));
        assert!(broker.expire("a1", AskFallback::Full, 11).is_none());

        broker.create(Some("a2".into()), json!({"allowlistSatisfied": true}), Requester::Agent, 1, Duration::from_millis(5)).unwrap();
        assert_eq!(broker.expire("a2", AskFallback::Allowlist, 10).unwrap().0.effective, ExecDecision::AllowOnce);
        broker.create(Some("a3".into()), json!({}), Requester::Agent, 1, Duration::from_millis(5)).unwrap();
        assert_eq!(broker.expire("a3", AskFallback::Allowlist, 10).unwrap().0.effective, ExecDecision::Deny);
        broker.create(Some("a4".into()), json!({}), Requester::Agent, 1, Duration::from_millis(5)).unwrap();
        assert_eq!(broker.expire("a4", AskFallback::Full, 10).unwrap().0.effective, ExecDecision::AllowOnce);
    }

    #[test]
    fn ids_are_validated_and_unique() {
        let broker = ApprovalBroker::default();
        broker.create(Some("x".into()), json!({}), Requester::Agent, 1, Duration::from_secs(1)).unwrap();
        assert_eq!(
            broker.create(Some("x".into()), json!({}), Requester::Agent, 1, Duration::from_secs(1)).err(),
            Some(ErrorShape::invalid_request("approval id already pending"))
        );
        assert_eq!(
            broker.create(Some("plugin:y".into()), json!({}), Requester::Agent, 1, Duration::from_secs(1)).err(),
            Some(ErrorShape::invalid_request("invalid approval id"))
        );
        assert!(broker.get("x").is_ok());
    }
}
