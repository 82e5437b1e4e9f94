//! `messages.queue` and `agents.defaults.maxConcurrent`: how messages that arrive while their
//! session is busy wait, with OpenClaw's names and defaults (checked against
//! `openclaw@2026.9.6`: `resolveQueueSettingsCore`, `applyQueueDropPolicy`, the command-queue
//! docs).

use std::time::Duration;

use serde_json::Value;

/// What a message does when its session already has a run (`messages.queue.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueMode {
    /// OpenClaw injects the message into the active run at its next model boundary. Pincer's
    /// runner cannot take input mid-run yet, so it does what OpenClaw does when a run cannot
    /// accept steering: the message waits for the active run to end (as `followup`).
    Steer,
    /// Each message is its own turn after the active run.
    Followup,
    /// Everything that waited is merged into one turn after the active run.
    Collect,
    /// The active run is aborted and the newest message runs next.
    Interrupt,
}

impl QueueMode {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueMode::Steer => "steer",
            QueueMode::Followup => "followup",
            QueueMode::Collect => "collect",
            QueueMode::Interrupt => "interrupt",
        }
    }

    /// OpenClaw's spellings and aliases (`normalizeQueueMode`).
    fn parse(raw: &str) -> Option<QueueMode> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "steer" | "steering" => Some(QueueMode::Steer),
            "followup" | "follow-ups" | "followups" => Some(QueueMode::Followup),
            "collect" | "coalesce" => Some(QueueMode::Collect),
            "interrupt" | "interrupts" | "abort" => Some(QueueMode::Interrupt),
            _ => None,
        }
    }
}

/// What happens when a session's queue is full (`messages.queue.drop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropPolicy {
    /// The oldest waiting messages are dropped.
    Old,
    /// The newest message is refused.
    New,
    /// The oldest are dropped and a one-line summary of each is given to the model in a
    /// followup turn.
    Summarize,
}

impl DropPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DropPolicy::Old => "old",
            DropPolicy::New => "new",
            DropPolicy::Summarize => "summarize",
        }
    }

    fn parse(raw: &str) -> Option<DropPolicy> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "old" | "oldest" => Some(DropPolicy::Old),
            "new" | "newest" => Some(DropPolicy::New),
            "summarize" | "summary" => Some(DropPolicy::Summarize),
            _ => None,
        }
    }
}

/// OpenClaw's defaults: `steer`, 500 ms, 20, `summarize`.
pub const DEFAULT_DEBOUNCE_MS: u64 = 500;
pub const DEFAULT_CAP: usize = 20;
/// Pincer's surface is OpenClaw's `webchat` channel (the Control UI, TUI and CLI speak it).
const CHANNEL: &str = "webchat";

/// The queue settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    pub mode: QueueMode,
    /// Quiet time after the last queued message before the queue drains.
    pub debounce: Duration,
    /// Waiting messages per session before `drop` applies.
    pub cap: usize,
    pub drop: DropPolicy,
    /// Runs executing at once across all sessions (`agents.defaults.maxConcurrent`).
    pub max_concurrent: usize,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            mode: QueueMode::Steer,
            debounce: Duration::from_millis(DEFAULT_DEBOUNCE_MS),
            cap: DEFAULT_CAP,
            drop: DropPolicy::Summarize,
            max_concurrent: default_max_concurrent(),
        }
    }
}

/// OpenClaw's default: `max(8, available parallelism × 4)`.
pub fn default_max_concurrent() -> usize {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    (cpus * 4).max(8)
}

/// A key with a wrong value: the key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct QueueConfigError {
    pub key: &'static str,
    pub message: String,
}

fn invalid(key: &'static str, message: impl Into<String>) -> QueueConfigError {
    QueueConfigError { key, message: message.into() }
}

fn at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |v, k| v.get(k)).filter(|v| !v.is_null())
}

fn whole_number(key: &'static str, v: &Value, min: u64, max: u64) -> Result<u64, QueueConfigError> {
    // OpenClaw floors a fractional cap; a number is what it checks.
    let n = v.as_f64().filter(|n| n.is_finite()).ok_or_else(|| invalid(key, "must be a number"))?;
    Ok((n.max(0.0).floor() as u64).clamp(min, max))
}

impl QueueSettings {
    /// Read the settings from the resolved config document.
    pub fn from_document(doc: &Value) -> Result<QueueSettings, QueueConfigError> {
        let d = QueueSettings::default();
        let mode = match at(doc, &["messages", "queue", "mode"]) {
            None => d.mode,
            Some(v) => v
                .as_str()
                .and_then(QueueMode::parse)
                .ok_or_else(|| invalid("messages.queue.mode", "must be one of \"steer\", \"followup\", \"collect\", \"interrupt\""))?,
        };
        let drop = match at(doc, &["messages", "queue", "drop"]) {
            None => d.drop,
            Some(v) => v
                .as_str()
                .and_then(DropPolicy::parse)
                .ok_or_else(|| invalid("messages.queue.drop", "must be one of \"old\", \"new\", \"summarize\""))?,
        };
        // OpenClaw ignores a cap below 1 (keeps its default); larger than 10 000 is a mistake.
        let cap = match at(doc, &["messages", "queue", "cap"]) {
            None => d.cap,
            Some(v) => {
                let n = v.as_f64().filter(|n| n.is_finite()).ok_or_else(|| invalid("messages.queue.cap", "must be a number"))?;
                if n < 1.0 {
                    d.cap
                } else {
                    whole_number("messages.queue.cap", v, 1, 10_000)? as usize
                }
            }
        };
        // OpenClaw's key for this surface is `debounceMsByChannel.webchat`; `debounceMs` is the
        // older, channel-wide spelling (Pincer reads it; OpenClaw 2026.9.6's validator refuses it).
        let by_channel = at(doc, &["messages", "queue", "debounceMsByChannel", CHANNEL]);
        let debounce_ms = match (by_channel, at(doc, &["messages", "queue", "debounceMs"])) {
            (Some(v), _) => whole_number("messages.queue.debounceMsByChannel.webchat", v, 0, 3_600_000)?,
            (None, Some(v)) => whole_number("messages.queue.debounceMs", v, 0, 3_600_000)?,
            (None, None) => DEFAULT_DEBOUNCE_MS,
        };
        let max_concurrent = match at(doc, &["agents", "defaults", "maxConcurrent"]) {
            None => d.max_concurrent,
            Some(v) => {
                let n = v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                    invalid("agents.defaults.maxConcurrent", "must be a whole number of at least 1 (runs executing at once)")
                })?;
                n.min(10_000) as usize
            }
        };
        Ok(QueueSettings { mode, debounce: Duration::from_millis(debounce_ms), cap, drop, max_concurrent })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_are_openclaws() {
        let s = QueueSettings::from_document(&json!({})).unwrap();
        assert_eq!(s.mode, QueueMode::Steer);
        assert_eq!(s.debounce, Duration::from_millis(500));
        assert_eq!(s.cap, 20);
        assert_eq!(s.drop, DropPolicy::Summarize);
        assert!(s.max_concurrent >= 8);
    }

    #[test]
    fn keys_and_aliases_are_read_as_openclaw_reads_them() {
        let s = QueueSettings::from_document(&json!({
            "messages": {"queue": {"mode": "Coalesce", "drop": "oldest", "cap": 3.7, "debounceMs": 50,
                                   "debounceMsByChannel": {"webchat": 0, "discord": 900}}},
            "agents": {"defaults": {"maxConcurrent": 2}},
        }))
        .unwrap();
        assert_eq!((s.mode, s.drop, s.cap, s.debounce, s.max_concurrent), (QueueMode::Collect, DropPolicy::Old, 3, Duration::ZERO, 2));
        let s = QueueSettings::from_document(&json!({"messages": {"queue": {"mode": "abort", "cap": 0, "debounceMs": 75}}})).unwrap();
        assert_eq!((s.mode, s.cap, s.debounce), (QueueMode::Interrupt, 20, Duration::from_millis(75)), "a cap below 1 is ignored");
    }

    #[test]
    fn wrong_values_name_their_key() {
        for (doc, key) in [
            (json!({"messages": {"queue": {"mode": "later"}}}), "messages.queue.mode"),
            (json!({"messages": {"queue": {"drop": 1}}}), "messages.queue.drop"),
            (json!({"messages": {"queue": {"cap": "many"}}}), "messages.queue.cap"),
            (json!({"messages": {"queue": {"debounceMsByChannel": {"webchat": "1s"}}}}), "messages.queue.debounceMsByChannel.webchat"),
            (json!({"agents": {"defaults": {"maxConcurrent": 0}}}), "agents.defaults.maxConcurrent"),
        ] {
            assert_eq!(QueueSettings::from_document(&doc).unwrap_err().key, key, "{doc}");
        }
    }
}
