//! The exec-approval broker: pending requests, first-answer-wins resolution, expiry with
//! the `askFallback` decision, waiters, and an audit row for every outcome.

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

struct Entry {
    id: String,
    request: Value,
    created_at_ms: i64,
    expires_at_ms: i64,
    state: watch::Sender<Option<Resolution>>,
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
    recent: Mutex<VecDeque<(String, Value, Resolution)>>,
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
        now_ms: i64,
        timeout: Duration,
    ) -> Result<(Value, watch::Receiver<Option<Resolution>>), ErrorShape> {
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if id.is_empty() || id.len() > 128 || id.contains("..") || id.starts_with("plugin:") {
            return Err(ErrorShape::invalid_request("invalid approval id"));
        }
        let (tx, rx) = watch::channel(None);
        let entry = Entry { id: id.clone(), request, created_at_ms: now_ms, expires_at_ms: now_ms + timeout.as_millis() as i64, state: tx };
        let summary = entry.summary();
        let mut pending = self.pending.lock().map_err(|_| ErrorShape::unavailable("approval request unavailable"))?;
        if pending.contains_key(&id) {
            return Err(ErrorShape::invalid_request("approval id already pending"));
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
            if let Some((_, req, res)) = self.recent_entry(id) {
                if res.decision == Some(decision) {
                    return Ok((res, req, false));
                }
                return Err(ErrorShape::invalid_request("approval already resolved").with_detail("reason", "APPROVAL_ALREADY_RESOLVED"));
            }
            return Err(not_found());
        };
        let resolution = Resolution { decision: Some(decision), effective: decision, resolved_by: by, ts: now_ms, terminal_reason: None };
        self.finish(entry, resolution.clone());
        Ok((resolution.clone(), self.recent_entry(id).map(|(_, r, _)| r).unwrap_or(Value::Null), true))
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
            recent.push_back((
                entry.id,
                json!({
                    "request": entry.request,
                    "createdAtMs": entry.created_at_ms,
                    "expiresAtMs": entry.expires_at_ms,
                }),
                resolution,
            ));
        }
    }

    fn recent_entry(&self, id: &str) -> Option<(String, Value, Resolution)> {
        let recent = self.recent.lock().ok()?;
        recent.iter().rev().find(|(rid, _, _)| rid == id).map(|(a, b, c)| (a.clone(), b["request"].clone(), c.clone()))
    }

    /// A receiver for a pending approval, or the final resolution of a recent one.
    pub fn watch(&self, id: &str) -> Result<WatchState, ErrorShape> {
        if let Some(entry) =
            self.pending.lock().ok().and_then(|p| p.get(id).map(|e| (e.state.subscribe(), e.created_at_ms, e.expires_at_ms)))
        {
            return Ok(WatchState::Pending { rx: entry.0, created_at_ms: entry.1, expires_at_ms: entry.2 });
        }
        let recent = self.recent.lock().map_err(|_| not_found())?;
        match recent.iter().rev().find(|(rid, _, _)| rid == id) {
            Some((_, meta, res)) => Ok(WatchState::Done {
                resolution: res.clone(),
                created_at_ms: meta["createdAtMs"].as_i64().unwrap_or(0),
                expires_at_ms: meta["expiresAtMs"].as_i64().unwrap_or(0),
            }),
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
        let (summary, rx) = broker.create(None, json!({"command": "ls"}), 1, Duration::from_secs(60)).unwrap();
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
        let (s, rx) = broker.create(Some("a1".into()), json!({}), 1, Duration::from_millis(5)).unwrap();
        assert_eq!(s["id"], "a1");
        let (res, _) = broker.expire("a1", AskFallback::Deny, 10).unwrap();
        assert_eq!(res.decision, None);
        assert_eq!(res.effective, ExecDecision::Deny);
        assert_eq!(wait_resolution(rx).await.unwrap().terminal_reason, Some("expired"));
        assert!(broker.expire("a1", AskFallback::Full, 11).is_none());

        broker.create(Some("a2".into()), json!({"allowlistSatisfied": true}), 1, Duration::from_millis(5)).unwrap();
        assert_eq!(broker.expire("a2", AskFallback::Allowlist, 10).unwrap().0.effective, ExecDecision::AllowOnce);
        broker.create(Some("a3".into()), json!({}), 1, Duration::from_millis(5)).unwrap();
        assert_eq!(broker.expire("a3", AskFallback::Allowlist, 10).unwrap().0.effective, ExecDecision::Deny);
        broker.create(Some("a4".into()), json!({}), 1, Duration::from_millis(5)).unwrap();
        assert_eq!(broker.expire("a4", AskFallback::Full, 10).unwrap().0.effective, ExecDecision::AllowOnce);
    }

    #[test]
    fn ids_are_validated_and_unique() {
        let broker = ApprovalBroker::default();
        broker.create(Some("x".into()), json!({}), 1, Duration::from_secs(1)).unwrap();
        assert!(broker.create(Some("x".into()), json!({}), 1, Duration::from_secs(1)).is_err());
        assert!(broker.create(Some("plugin:y".into()), json!({}), 1, Duration::from_secs(1)).is_err());
        assert!(broker.get("x").is_ok());
    }
}
