//! The run queue: one lane per session (its runs execute one after another), a global cap on
//! runs executing at once (`agents.defaults.maxConcurrent`), and a bounded wait per session
//! (`messages.queue`: mode, debounce, cap, drop), as OpenClaw's command queue does.
//!
//! Memory is bounded by what waits, not by what was sent: a waiting run is its durable row plus
//! a small handle (no task, no copy of its message or options); each busy session has one drain
//! task; a lane is removed as soon as it is idle. A message the queue drops or merges was
//! recorded first and its caller is told (a `chat` event, `agent.wait`, a replay of its key).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use pincer_agent::model::now_ms;
use pincer_protocol::ErrorShape;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

use super::events::RunEmitter;
use super::host::{ActiveRun, RunFinish};
use super::queue_settings::{DropPolicy, QueueMode, QueueSettings};
use crate::state::SharedState;
use crate::store::NewRun;

/// OpenClaw's answer when `drop: "new"` refuses a message (`QUEUE_CAP_REJECTION_TEXT`).
pub const QUEUE_FULL_TEXT: &str =
    "This message was not queued because the session queue is full. Please try again after the current response finishes.";
/// OpenClaw's heading for `collect` turns.
const COLLECT_TITLE: &str = "[Queued messages while agent was busy]";
/// OpenClaw elides each summarised message to this many characters.
const SUMMARY_LINE_CHARS: usize = 160;

/// What happened to a message when it was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Its session was idle: it starts now.
    Started,
    /// It waits behind the session's active run (1-based position among the waiting).
    Queued { position: usize, mode: QueueMode },
    /// `interrupt`: the active run was aborted and this message runs next.
    Interrupted,
}

impl Admission {
    /// The fields the `chat.send` / `agent` ack adds: OpenClaw's `interruptedActiveRun`, and
    /// Pincer's `queue` (`{mode, position}`) when the message waits.
    pub fn ack_fields(&self) -> Map<String, Value> {
        let mut out = Map::new();
        match self {
            Admission::Started => {}
            Admission::Queued { position, mode } => {
                out.insert("queue".into(), json!({"mode": mode.as_str(), "position": position}));
            }
            Admission::Interrupted => {
                out.insert("interruptedActiveRun".into(), json!(true));
            }
        }
        out
    }
}

/// The summary run of `drop: "summarize"`: what was dropped, given to the model as a followup.
struct Summary {
    run: Arc<ActiveRun>,
    dropped: usize,
    lines: Vec<String>,
}

#[derive(Default)]
struct Lane {
    /// A drain task serves this lane; without one the lane is idle (and removed).
    draining: bool,
    active: Option<Arc<ActiveRun>>,
    pending: VecDeque<Arc<ActiveRun>>,
    summary: Option<Summary>,
    last_enqueued: Option<Instant>,
}

/// Every session's lane and the global limit.
#[derive(Default)]
pub struct RunQueue {
    lanes: Mutex<HashMap<String, Lane>>,
    global: OnceLock<Arc<Semaphore>>,
}

/// Why a message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{QUEUE_FULL_TEXT}")]
    Full { cap: usize },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<QueueError> for ErrorShape {
    fn from(e: QueueError) -> ErrorShape {
        match e {
            QueueError::Full { cap } => {
                ErrorShape::unavailable(QUEUE_FULL_TEXT).with_detail("reason", "queue-cap").with_detail("cap", cap as u64).retryable(None)
            }
            QueueError::Store(e) => ErrorShape::unavailable(e.to_string()),
        }
    }
}

/// Messages the queue dropped or merged, told to their callers once the lane lock is released.
#[derive(Default)]
struct Notices {
    dropped: Vec<(Arc<ActiveRun>, String)>,
    merged: Vec<(Arc<ActiveRun>, String)>,
}

impl RunQueue {
    /// Waiting runs across all lanes (for tests and diagnostics).
    pub fn pending_count(&self) -> usize {
        self.lanes.lock().map(|l| l.values().map(|lane| lane.pending.len() + usize::from(lane.summary.is_some())).sum()).unwrap_or(0)
    }

    /// Lanes held in memory (busy sessions).
    pub fn lane_count(&self) -> usize {
        self.lanes.lock().map(|l| l.len()).unwrap_or(0)
    }

    fn permits(&self, settings: &QueueSettings) -> Arc<Semaphore> {
        self.global.get_or_init(|| Arc::new(Semaphore::new(settings.max_concurrent))).clone()
    }
}

/// The settings of the current config (defaults if it cannot be read; a bad value was refused
/// when the config was loaded).
pub fn settings(state: &SharedState) -> QueueSettings {
    let config = match state.config.read() {
        Ok(c) => c,
        Err(p) => p.into_inner(),
    };
    QueueSettings::from_document(config.resolved()).unwrap_or_default()
}

/// Record a new run and queue it in its session's lane (the row is committed before this
/// returns, so the caller may acknowledge it). A full queue applies `drop`.
pub fn submit(state: &SharedState, run: &NewRun<'_>) -> Result<Admission, QueueError> {
    let settings = settings(state);
    let mut notices = Notices::default();
    let admission = {
        let mut lanes = state.agents.queue.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let lane = lanes.entry(run.session_key.to_string()).or_default();
        let busy = lane.draining;
        let interrupt = busy && settings.mode == QueueMode::Interrupt;
        let excess = if interrupt {
            // OpenClaw clears the session's waiting messages before interrupting.
            lane.pending.len()
        } else if busy && lane.pending.len() >= settings.cap {
            if settings.drop == DropPolicy::New {
                tracing::warn!(run = %run.run_id, session = %run.session_key, cap = settings.cap, "queue full: message refused (messages.queue.drop \"new\")");
                return Err(QueueError::Full { cap: settings.cap });
            }
            lane.pending.len() + 1 - settings.cap
        } else {
            0
        };
        if let Err(e) = state.store.enqueue_run(run) {
            if !lane.draining {
                lanes.remove(run.session_key);
            }
            return Err(e.into());
        }
        let victims: Vec<Arc<ActiveRun>> = lane.pending.drain(..excess).collect();
        if !victims.is_empty() {
            let dropped = if interrupt {
                drop_interrupted(state, run.run_id, &victims, &mut notices)
            } else {
                drop_victims(state, lane, &settings, run.session_key, &victims, &mut notices)
            };
            if let Err(e) = dropped {
                // Not recorded as dropped, so not dropped: they wait on (over the cap).
                tracing::error!(session = %run.session_key, error = %e, "could not record dropped messages; keeping them queued");
                for victim in victims.into_iter().rev() {
                    lane.pending.push_front(victim);
                }
            }
        }
        let handle = state.agents.register(run.run_id, run.session_key);
        lane.last_enqueued = Some(Instant::now());
        if !busy {
            // An idle session starts the message at once: it never waits in the queue.
            lane.active = Some(handle.clone());
            lane.draining = true;
            tokio::spawn(drain(state.clone(), run.session_key.to_string(), Some(handle)));
            Admission::Started
        } else if interrupt {
            if let Some(active) = &lane.active {
                active.cancel.cancel();
            }
            lane.pending.push_back(handle);
            Admission::Interrupted
        } else {
            lane.pending.push_back(handle);
            Admission::Queued { position: lane.pending.len(), mode: settings.mode }
        }
    };
    notices.tell(state);
    Ok(admission)
}

/// `chat.abort` withdrew waiting runs (already cancelled): take them out of their lane now, so
/// they free their place under the cap, and end them as aborted.
pub fn withdraw_cancelled(state: &SharedState, session_key: &str) {
    let withdrawn: Vec<Arc<ActiveRun>> = {
        let mut lanes = state.agents.queue.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let Some(lane) = lanes.get_mut(session_key) else { return };
        let mut cancelled: Vec<Arc<ActiveRun>> = lane.pending.iter().filter(|r| r.cancel.is_cancelled()).cloned().collect();
        lane.pending.retain(|r| !r.cancel.is_cancelled());
        if lane.summary.as_ref().is_some_and(|s| s.run.cancel.is_cancelled()) {
            cancelled.extend(lane.summary.take().map(|s| s.run));
        }
        cancelled
    };
    finish_withdrawn(state, withdrawn);
}

fn finish_withdrawn(state: &SharedState, runs: Vec<Arc<ActiveRun>>) {
    for run in runs {
        let finish = super::host::end_unstarted(state, &run);
        state.agents.unregister(&run.run_id);
        run.finish(finish);
    }
}

/// After a restart: queue a run that was accepted before it (no cap: it was acknowledged).
pub fn resume(state: &SharedState, run_id: &str, session_key: &str) {
    let mut lanes = state.agents.queue.lanes.lock().unwrap_or_else(|p| p.into_inner());
    let lane = lanes.entry(session_key.to_string()).or_default();
    let handle = state.agents.register(run_id, session_key);
    if lane.draining {
        lane.pending.push_back(handle);
    } else {
        lane.active = Some(handle.clone());
        lane.draining = true;
        tokio::spawn(drain(state.clone(), session_key.to_string(), Some(handle)));
    }
}

/// Drop `victims` (the oldest waiting runs) as `drop` says, durably, and note whom to tell.
/// `interrupt`: the runs that waited are dropped in favour of `newest`.
fn drop_interrupted(state: &SharedState, newest: &str, victims: &[Arc<ActiveRun>], notices: &mut Notices) -> Result<(), QueueError> {
    let reason = format!(
        "Dropped: a newer message interrupted this session (messages.queue.mode \"interrupt\") before this one ran; run {newest} replaces it."
    );
    let ids: Vec<String> = victims.iter().map(|v| v.run_id.clone()).collect();
    state.store.drop_queued_runs(&ids, &reason, now_ms())?;
    notices.dropped.extend(victims.iter().map(|v| (v.clone(), reason.clone())));
    Ok(())
}

fn drop_victims(
    state: &SharedState,
    lane: &mut Lane,
    settings: &QueueSettings,
    session_key: &str,
    victims: &[Arc<ActiveRun>],
    notices: &mut Notices,
) -> Result<(), QueueError> {
    let ids: Vec<String> = victims.iter().map(|v| v.run_id.clone()).collect();
    let cap = settings.cap;
    if settings.drop != DropPolicy::Summarize {
        let reason = format!(
            "Dropped: the session queue was full (messages.queue.cap {cap}, drop \"old\") and this was the oldest waiting message; it did not run. Send it again if it still matters."
        );
        state.store.drop_queued_runs(&ids, &reason, now_ms())?;
        notices.dropped.extend(victims.iter().map(|v| (v.clone(), reason.clone())));
        return Ok(());
    }
    let (summary_id, existed, mut dropped, mut lines) = match &lane.summary {
        Some(s) => (s.run.run_id.clone(), true, s.dropped, s.lines.clone()),
        None => (format!("queue-summary-{}", uuid::Uuid::new_v4()), false, 0, Vec::new()),
    };
    for id in &ids {
        let text = state.store.run(id)?.map(|r| message_text(&r.input)).unwrap_or_default();
        lines.push(summary_line(&text));
        dropped += 1;
    }
    // OpenClaw keeps at most `cap` summary lines (the newest).
    if lines.len() > cap {
        lines.drain(..lines.len() - cap);
    }
    let input = summary_message(dropped, &lines);
    let reason = format!(
        "Dropped: the session queue was full (messages.queue.cap {cap}, drop \"summarize\"); this message did not run on its own, a one-line summary of it goes to the agent in run {summary_id}."
    );
    state.store.summarize_dropped_runs(
        &ids,
        &reason,
        &NewRun { run_id: &summary_id, session_key, fingerprint: "queue-summary", input: &input, options: &json!({}), now_ms: now_ms() },
        existed,
    )?;
    notices.dropped.extend(victims.iter().map(|v| (v.clone(), reason.clone())));
    let run = match lane.summary.take() {
        Some(s) => s.run,
        None => state.agents.register(&summary_id, session_key),
    };
    lane.summary = Some(Summary { run, dropped, lines });
    Ok(())
}

/// OpenClaw's overflow prompt: `[Queue overflow] Dropped N messages due to cap.` and a summary.
fn summary_message(dropped: usize, lines: &[String]) -> Value {
    let mut text = format!("[Queue overflow] Dropped {dropped} message{} due to cap.", if dropped == 1 { "" } else { "s" });
    if !lines.is_empty() {
        text.push_str("\nSummary:");
        for line in lines {
            text.push_str("\n- ");
            text.push_str(line);
        }
    }
    json!({"role": "user", "content": [{"type": "text", "text": text}], "timestamp": now_ms()})
}

/// Whitespace collapsed, cut to 160 characters with an ellipsis (OpenClaw's `buildQueueSummaryLine`).
fn summary_line(text: &str) -> String {
    let cleaned = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.chars().count() <= SUMMARY_LINE_CHARS {
        return cleaned;
    }
    let cut: String = cleaned.chars().take(SUMMARY_LINE_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The text parts of a stored user message.
fn message_text(message: &Value) -> String {
    message
        .get("content")
        .and_then(Value::as_array)
        .map(|parts| parts.iter().filter(|p| p["type"] == "text").filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

impl Notices {
    /// Tell each caller: the run ends (`agent.wait`, the `agent` final answer) and a `chat`
    /// event says what happened to it.
    fn tell(self, state: &SharedState) {
        for (run, reason) in self.dropped {
            let emitter = emitter_for(state, &run);
            let mut event = emitter.chat_event("error");
            event.error_message = Some(reason.clone());
            event.error_kind = Some("unknown".into());
            event.queue_disposition = Some("dropped".into());
            emitter.send_chat(&event);
            state.agents.unregister(&run.run_id);
            let now = now_ms();
            run.finish(RunFinish { status: "error", started_at: now, ended_at: now, error: Some(reason) });
            tracing::warn!(run = %run.run_id, session = %run.session_key, "queue full: a waiting message was dropped");
        }
        for (run, owner) in self.merged {
            let emitter = emitter_for(state, &run);
            let mut event = emitter.chat_event("final");
            event.stop_reason = Some("merged".into());
            event.merged_into = Some(owner.clone());
            event.queue_disposition = Some("merged".into());
            emitter.send_chat(&event);
            // No finish is sent: waiters see the handle go and follow `mergedInto` to the
            // run that answers.
            state.agents.unregister(&run.run_id);
        }
    }
}

fn emitter_for(state: &SharedState, run: &ActiveRun) -> RunEmitter {
    let session_id = state.store.session(&run.session_key).ok().flatten().map(|s| s.session_id).unwrap_or_default();
    RunEmitter::new(state.clone(), &run.run_id, &run.session_key, &session_id)
}

/// Serve one lane until it is empty: wait out the debounce, take the next run (or, in
/// `collect`, merge everything waiting into one), hold a global permit while it executes.
async fn drain(state: SharedState, session_key: String, mut first: Option<Arc<ActiveRun>>) {
    loop {
        let next = match first.take() {
            Some(run) => Some(run),
            None => next_in_lane(&state, &session_key).await,
        };
        let Some(run) = next else { return };
        let permits = state.agents.queue.permits(&settings(&state));
        let permit = tokio::select! {
            p = permits.acquire_owned() => p.ok(),
            // Stopping: the run stays `queued` for the next start.
            _ = state.shutdown.cancelled() => None,
        };
        if permit.is_none() {
            return stop_draining(&state, &session_key);
        }
        let finish = super::host::execute(&state, &run).await;
        drop(permit);
        state.agents.unregister(&run.run_id);
        run.finish(finish);
        if let Ok(mut lanes) = state.agents.queue.lanes.lock() {
            if let Some(lane) = lanes.get_mut(&session_key) {
                lane.active = None;
            }
        }
        if state.shutdown.is_cancelled() {
            return stop_draining(&state, &session_key);
        }
    }
}

/// The lane's next run once the debounce is over (made its active run), or `None` when the
/// lane is empty (then removed) or the gateway stops.
async fn next_in_lane(state: &SharedState, session_key: &str) -> Option<Arc<ActiveRun>> {
    {
        // Nothing waits: the lane goes now (a message sent next starts at once, undelayed).
        let mut lanes = state.agents.queue.lanes.lock().unwrap_or_else(|p| p.into_inner());
        if lanes.get(session_key).is_none_or(|l| l.pending.is_empty() && l.summary.is_none()) {
            lanes.remove(session_key);
            return None;
        }
    }
    // `interrupt` starts the newest message at once (its active run was just aborted).
    if settings(state).mode != QueueMode::Interrupt && !quiet_for_debounce(state, session_key).await {
        stop_draining(state, session_key);
        return None;
    }
    let mut notices = Notices::default();
    let next = {
        let mut lanes = state.agents.queue.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let lane = lanes.get_mut(session_key)?;
        let next = take_next(state, lane, session_key, &mut notices);
        match &next {
            Some(run) => lane.active = Some(run.clone()),
            // Idle: the lane goes, so the map holds only busy sessions.
            None => {
                lanes.remove(session_key);
            }
        }
        next
    };
    notices.tell(state);
    next
}

/// Shutting down: forget the lane (its runs stay `queued` in the database).
fn stop_draining(state: &SharedState, session_key: &str) {
    if let Ok(mut lanes) = state.agents.queue.lanes.lock() {
        lanes.remove(session_key);
    }
}

/// Wait until nothing was queued in this lane for the debounce time; false when stopping.
async fn quiet_for_debounce(state: &SharedState, session_key: &str) -> bool {
    loop {
        let debounce = settings(state).debounce;
        let since = {
            let lanes = state.agents.queue.lanes.lock().unwrap_or_else(|p| p.into_inner());
            lanes.get(session_key).and_then(|l| l.last_enqueued).map(|t| t.elapsed())
        };
        let Some(since) = since else { return !state.shutdown.is_cancelled() };
        if since >= debounce {
            return !state.shutdown.is_cancelled();
        }
        tokio::select! {
            _ = tokio::time::sleep(debounce - since) => {}
            _ = state.shutdown.cancelled() => return false,
        }
    }
}

/// The next run of a lane: the overflow summary first (it stands for the oldest messages),
/// then, in `collect`, everything waiting merged into the newest; else the oldest.
fn take_next(state: &SharedState, lane: &mut Lane, session_key: &str, notices: &mut Notices) -> Option<Arc<ActiveRun>> {
    if let Some(summary) = lane.summary.take() {
        return Some(summary.run);
    }
    let mode = settings(state).mode;
    if mode == QueueMode::Collect && lane.pending.len() > 1 {
        let group: Vec<Arc<ActiveRun>> = lane.pending.drain(..).collect();
        match merge(state, &group) {
            Ok(()) => {
                let owner = group.last().cloned();
                if let Some(owner) = &owner {
                    for run in &group[..group.len() - 1] {
                        notices.merged.push((run.clone(), owner.run_id.clone()));
                    }
                }
                return owner;
            }
            Err(e) => {
                // Not merged: each runs on its own, nothing is lost.
                tracing::warn!(session = %session_key, error = %e, "could not merge queued messages; running them one by one");
                lane.pending.extend(group);
            }
        }
    }
    lane.pending.pop_front()
}

/// `collect`: one user message with every waiting message under OpenClaw's heading
/// (`---\nQueued #n\n<text>`), images kept, written to the newest run; the others are merged.
fn merge(state: &SharedState, group: &[Arc<ActiveRun>]) -> Result<(), crate::store::StoreError> {
    let mut blocks = vec![COLLECT_TITLE.to_string()];
    let mut images = Vec::new();
    for (i, run) in group.iter().enumerate() {
        let input = state.store.run(&run.run_id)?.map(|r| r.input).unwrap_or(Value::Null);
        blocks.push(format!("---\nQueued #{}\n{}", i + 1, message_text(&input)).trim().to_string());
        if let Some(parts) = input.get("content").and_then(Value::as_array) {
            images.extend(parts.iter().filter(|p| p["type"] == "image").cloned());
        }
    }
    let mut content = vec![json!({"type": "text", "text": blocks.join("\n\n")})];
    content.extend(images);
    let combined = json!({"role": "user", "content": content, "timestamp": now_ms()});
    let Some((owner, merged)) = group.split_last() else { return Ok(()) };
    let merged: Vec<String> = merged.iter().map(|r| r.run_id.clone()).collect();
    state.store.merge_queued_runs(&owner.run_id, &merged, &combined, now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines_are_collapsed_and_cut_like_openclaws() {
        assert_eq!(summary_line("  a\n\n b\tc "), "a b c");
        let long = "x".repeat(200);
        let line = summary_line(&long);
        assert_eq!(line.chars().count(), 160);
        assert!(line.ends_with('…'));
    }

    #[test]
    fn the_overflow_prompt_has_openclaws_wording() {
        let m = summary_message(1, &["hello".into()]);
        assert_eq!(m["content"][0]["text"], "[Queue overflow] Dropped 1 message due to cap.\nSummary:\n- hello");
        let m = summary_message(3, &["a".into(), "b".into()]);
        assert_eq!(m["content"][0]["text"], "[Queue overflow] Dropped 3 messages due to cap.\nSummary:\n- a\n- b");
    }

    #[test]
    fn acks_say_whether_the_message_waits_or_interrupted() {
        assert!(Admission::Started.ack_fields().is_empty());
        assert_eq!(
            Value::Object(Admission::Queued { position: 2, mode: QueueMode::Collect }.ack_fields()),
            json!({"queue": {"mode": "collect", "position": 2}})
        );
        assert_eq!(Value::Object(Admission::Interrupted.ack_fields()), json!({"interruptedActiveRun": true}));
    }
}
