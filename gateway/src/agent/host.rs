//! Hosting agent runs: accept (durably, before the ack), queue per session, execute with the
//! configured models and tools, finish (events, run status), abort, wait, and recover runs a
//! dead process left behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pincer_agent::config::{AgentConfig, AgentConfigError, ModelRef};
use pincer_agent::model::{now_ms, AssistantMessage, Content, Message};
use pincer_agent::provider::{ErrorKind, ModelClient, ProviderError, ThinkingLevel};
use pincer_agent::providers::ProviderRuntime;
use pincer_agent::runner::{self, Limits, RunEnd, Turn};
use pincer_agent::tool::ToolSet;
use pincer_agent::workspace::{PromptContext, Workspace};
use pincer_protocol::ErrorShape;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::events::RunEmitter;
use super::keys::agent_id_of;
use super::node_tools::{node_summaries, node_tools, ExecAsk};
use super::queue::{self, Admission, RunQueue};
use crate::state::SharedState;
use crate::store::{NewRun, SessionRecord};

/// How a run ended, as `agent.wait` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFinish {
    /// `ok`, `error` or `aborted`; `queued` when the gateway stopped before the run could start
    /// (it runs after the next start).
    pub status: &'static str,
    pub started_at: i64,
    pub ended_at: i64,
    pub error: Option<String>,
}

/// A run that is queued or executing in this process.
pub struct ActiveRun {
    pub run_id: String,
    pub session_key: String,
    pub cancel: CancellationToken,
    done: watch::Sender<Option<RunFinish>>,
    /// Set once the run holds its session's lane and its message is in the transcript.
    started: std::sync::atomic::AtomicBool,
}

impl ActiveRun {
    pub fn subscribe(&self) -> watch::Receiver<Option<RunFinish>> {
        self.done.subscribe()
    }

    /// Tell whoever waits for this run how it ended.
    pub fn finish(&self, finish: RunFinish) {
        self.done.send_replace(Some(finish));
    }
}

/// What a caller asks to run.
pub struct RunRequest {
    pub run_id: String,
    pub session_key: String,
    /// The user message (`Message::User` as JSON), or `null` to run on the transcript as is.
    pub input: Value,
    /// Identifies the request for idempotent replays.
    pub fingerprint: String,
    /// `model` (`provider/model` override), `extraSystemPrompt`, `timeoutMs`.
    pub options: Value,
}

/// An accepted run: its id and what the queue did with it.
pub struct Accepted {
    pub run_id: String,
    pub admission: Admission,
}

/// The runs of this gateway.
#[derive(Default)]
pub struct AgentHost {
    active: Mutex<HashMap<String, Arc<ActiveRun>>>,
    /// Session lanes, what waits in them and the global limit (`messages.queue`).
    pub queue: RunQueue,
    /// The agent config of the current config file (by hash): parsed once, with the provider
    /// runtime (connection pools, failover cooldowns) that outlives single runs.
    config: Mutex<Option<LoadedAgentConfig>>,
}

fn unavailable(e: impl std::fmt::Display) -> ErrorShape {
    ErrorShape::unavailable(e.to_string())
}

impl AgentHost {
    pub fn active(&self, run_id: &str) -> Option<Arc<ActiveRun>> {
        self.active.lock().ok()?.get(run_id).cloned()
    }

    pub fn active_for_session(&self, session_key: &str) -> Vec<Arc<ActiveRun>> {
        self.active.lock().map(|m| m.values().filter(|r| r.session_key == session_key).cloned().collect()).unwrap_or_default()
    }

    /// Abort every run (gateway shutdown).
    /// Gateway shutdown: abort the runs that are executing (they end as aborted, with their
    /// partial answer). Queued runs are left alone: they stay `queued` in the database and run
    /// after the next start, so a message accepted just before a restart is not lost.
    pub fn cancel_started(&self) {
        if let Ok(active) = self.active.lock() {
            for run in active.values().filter(|r| r.started.load(std::sync::atomic::Ordering::Acquire)) {
                run.cancel.cancel();
            }
        }
    }

    /// Runs executing now (queued ones not counted).
    pub fn started_count(&self) -> usize {
        self.active.lock().map(|m| m.values().filter(|r| r.started.load(std::sync::atomic::Ordering::Acquire)).count()).unwrap_or(0)
    }

    pub fn active_count(&self) -> usize {
        self.active.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub(super) fn register(&self, run_id: &str, session_key: &str) -> Arc<ActiveRun> {
        let (done, _) = watch::channel(None);
        let run = Arc::new(ActiveRun {
            run_id: run_id.to_string(),
            session_key: session_key.to_string(),
            cancel: CancellationToken::new(),
            done,
            started: std::sync::atomic::AtomicBool::new(false),
        });
        if let Ok(mut active) = self.active.lock() {
            active.insert(run_id.to_string(), run.clone());
        }
        run
    }

    pub(super) fn unregister(&self, run_id: &str) {
        if let Ok(mut active) = self.active.lock() {
            active.remove(run_id);
        }
    }
}

/// One parsed agent config and the provider state of the clients built from it.
struct LoadedAgentConfig {
    hash: String,
    config: Arc<AgentConfig>,
    runtime: Arc<ProviderRuntime>,
}

/// The agent config for the gateway's current config document.
pub fn agent_config(state: &SharedState) -> Result<Arc<AgentConfig>, AgentConfigError> {
    loaded_agent_config(state).map(|(config, _)| config)
}

/// [`agent_config`] with the provider runtime that belongs to it.
fn loaded_agent_config(state: &SharedState) -> Result<(Arc<AgentConfig>, Arc<ProviderRuntime>), AgentConfigError> {
    let guard = match state.config.read() {
        Ok(c) => c,
        Err(p) => p.into_inner(),
    };
    let hash = guard.hash();
    // Every turn and sessions.list asks: answer from the cache without copying the document.
    if let Ok(cached) = state.agents.config.lock() {
        if let Some(loaded) = cached.as_ref().filter(|loaded| loaded.hash == hash) {
            return Ok((loaded.config.clone(), loaded.runtime.clone()));
        }
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let config = Arc::new(AgentConfig::from_document(guard.resolved(), &state.options.state_dir, &env)?);
    let runtime = Arc::new(ProviderRuntime::default());
    if let Ok(mut cached) = state.agents.config.lock() {
        *cached = Some(LoadedAgentConfig { hash: hash.to_string(), config: config.clone(), runtime: runtime.clone() });
    }
    Ok((config, runtime))
}

/// The retrying, failing-over model client for `config` (one [`agent_config`] returned), sharing
/// the pools and cooldowns of that config. A config that is no longer the cached one (reloaded in
/// between) gets a runtime of its own, as a fresh config would.
pub fn failover_chain(
    state: &SharedState,
    config: &Arc<AgentConfig>,
    override_model: Option<&ModelRef>,
) -> Result<Arc<dyn ModelClient>, ProviderError> {
    let cached = state
        .agents
        .config
        .lock()
        .ok()
        .and_then(|cached| cached.as_ref().filter(|loaded| Arc::ptr_eq(&loaded.config, config)).map(|loaded| loaded.runtime.clone()));
    let runtime = cached.unwrap_or_default();
    pincer_agent::providers::failover_chain(config, &runtime, override_model)
}

/// `tools.exec.ask` of the current config.
fn exec_ask(state: &SharedState) -> ExecAsk {
    match state.config.read() {
        Ok(c) => ExecAsk::from_config(c.resolved()),
        Err(p) => ExecAsk::from_config(p.get_ref().resolved()),
    }
}

/// Create the session row if the key is new.
pub fn ensure_session(state: &SharedState, session_key: &str) -> Result<SessionRecord, ErrorShape> {
    if let Some(existing) = state.store.session(session_key)? {
        return Ok(existing);
    }
    let now = now_ms();
    let record = SessionRecord {
        session_key: session_key.to_string(),
        session_id: uuid::Uuid::new_v4().to_string(),
        agent_id: agent_id_of(session_key).to_string(),
        created_at_ms: now,
        updated_at_ms: now,
        meta: json!({}),
    };
    state.store.save_session(&record)?;
    Ok(record)
}

/// Record the run (and its message) durably and queue it in its session's lane (see
/// [`super::queue`]); a full queue may refuse it (`drop: "new"`) or drop older waiting ones.
pub fn accept(state: &SharedState, request: RunRequest) -> Result<Accepted, ErrorShape> {
    ensure_session(state, &request.session_key)?;
    let admission = queue::submit(
        state,
        &NewRun {
            run_id: &request.run_id,
            session_key: &request.session_key,
            fingerprint: &request.fingerprint,
            input: &request.input,
            options: &request.options,
            now_ms: now_ms(),
        },
    )?;
    Ok(Accepted { run_id: request.run_id, admission })
}

/// After a restart: runs that were accepted but never started are queued again; runs that were
/// executing when the process died are closed as errors, with their transcript repaired (tool
/// calls that never got a result get an "interrupted" one) and a note the person can see —
/// on the text the run had already streamed, when some was saved.
pub fn recover(state: &SharedState) -> Result<(), crate::store::StoreError> {
    for run in state.store.runs_with_status("running")? {
        let now = now_ms();
        let message = "The gateway stopped before this reply finished. Send the message again to retry.";
        if let Some(session) = state.store.session(&run.session_key)? {
            let transcript: Vec<Message> =
                state.store.transcript(&session.session_id)?.into_iter().filter_map(|r| serde_json::from_value(r.message).ok()).collect();
            let repaired = runner::repair_dangling_tool_calls(&transcript);
            // Persist only the synthetic results (those not in the stored transcript).
            for m in &repaired {
                if let Message::ToolResult(r) = m {
                    let stored = transcript.iter().any(|t| matches!(t, Message::ToolResult(s) if s.tool_call_id == r.tool_call_id));
                    if !stored {
                        state.store.append_message(
                            &run.session_key,
                            &session.session_id,
                            Some(&run.run_id),
                            &serde_json::to_value(m)?,
                            now,
                        )?;
                    }
                }
            }
            let mut note = AssistantMessage::error_note(message, now);
            if let Some(partial) = state.store.partial_text(&run.run_id)? {
                note.content = vec![Content::text(partial)];
            }
            let note = Message::Assistant(note);
            state.store.append_message(&run.session_key, &session.session_id, Some(&run.run_id), &serde_json::to_value(&note)?, now)?;
        }
        state.store.end_run(&run.run_id, "error", Some(message), now)?;
        state.store.save_partial_text(&run.run_id, None)?;
        tracing::warn!(run = %run.run_id, session = %run.session_key, "run interrupted by a restart; closed as an error");
    }
    for run in state.store.runs_with_status("queued")? {
        tracing::info!(run = %run.run_id, session = %run.session_key, "starting a run accepted before the restart");
        queue::resume(state, &run.run_id, &run.session_key);
    }
    Ok(())
}

/// Execute one run to its end (the queue calls it when the run's turn has come and a global
/// permit is held). Never panics; every ending is reported on the wire and stored.
pub(super) async fn execute(state: &SharedState, run: &ActiveRun) -> RunFinish {
    if state.shutdown.is_cancelled() {
        return RunFinish { status: "queued", started_at: 0, ended_at: 0, error: None };
    }
    if run.cancel.is_cancelled() {
        return end_unstarted(state, run);
    }
    let session = match ensure_session(state, &run.session_key) {
        Ok(s) => s,
        Err(e) => return fail_early(state, run, "", &e.message),
    };
    // Options live in the run's row, not in memory, while it waits.
    let options = match state.store.run(&run.run_id) {
        Ok(Some(row)) => row.options,
        Ok(None) => Value::Null,
        Err(e) => return fail_early(state, run, &session.session_id, &format!("could not read the run: {e}")),
    };
    let options = &options;
    let emitter = RunEmitter::new(state.clone(), &run.run_id, &run.session_key, &session.session_id);
    let started_at = now_ms();
    match state.store.start_run(&run.run_id, &run.session_key, &session.session_id, started_at) {
        Ok(Some((stored, message))) => super::session_events::message_added(state, &run.session_key, stored, Some(&run.run_id), &message),
        Ok(None) => {}
        Err(e) => return fail_early(state, run, &session.session_id, &format!("could not save the message: {e}")),
    }
    run.started.store(true, std::sync::atomic::Ordering::Release);
    emitter.lifecycle_start(started_at);
    if run.cancel.is_cancelled() {
        return finish(state, &emitter, started_at, Outcome::Aborted);
    }

    let prepared = match prepare(state, run, &session, options).await {
        Ok(p) => p,
        Err(message) => return finish(state, &emitter, started_at, Outcome::Error(message, ErrorKind::Unknown)),
    };
    let timeout = options.get("timeoutMs").and_then(Value::as_u64).map(Duration::from_millis).unwrap_or(prepared.timeout);
    let turn = Turn {
        run_id: &run.run_id,
        session_key: &run.session_key,
        system_prompt: prepared.system_prompt,
        history: prepared.history,
        tools: &prepared.tools,
        limits: prepared.limits,
        thinking: prepared.thinking,
    };
    let cancel = run.cancel.child_token();
    let timer_cancel = cancel.clone();
    let timeout_message = format!("the run timed out after {} s (agents.defaults.timeoutSeconds)", timeout.as_secs());
    // A timeout is a failure, not an abort: the partial answer is saved as an error with this.
    let timer_error = emitter.abort_error.clone();
    let timer_message = timeout_message.clone();
    let timer = tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        if let Ok(mut error) = timer_error.lock() {
            *error = Some(timer_message);
        }
        timer_cancel.cancel();
    });
    emitter.lifecycle_model(&prepared.model.label());
    let outcome = runner::run_turn(prepared.model.as_ref(), turn, &emitter, &cancel).await;
    timer.abort();
    let timed_out = cancel.is_cancelled() && !run.cancel.is_cancelled();
    record_usage(state, &run.session_key, &outcome.usage);
    let result = match outcome.end {
        RunEnd::Completed(message) => Outcome::Completed(message, outcome.usage),
        RunEnd::Aborted if timed_out => Outcome::Error(timeout_message, ErrorKind::Timeout),
        RunEnd::Aborted => Outcome::Aborted,
        RunEnd::Failed(e) => Outcome::Error(e.to_string(), e.kind()),
    };
    finish(state, &emitter, started_at, result)
}

/// A run aborted while it waited (chat.abort, sessions.reset/delete) ends as aborted: its
/// message joins no transcript (a reset one stays empty) and a deleted session is not created
/// again.
pub(super) fn end_unstarted(state: &SharedState, run: &ActiveRun) -> RunFinish {
    let session_id = state.store.session(&run.session_key).ok().flatten().map(|s| s.session_id).unwrap_or_default();
    let emitter = RunEmitter::new(state.clone(), &run.run_id, &run.session_key, &session_id);
    finish(state, &emitter, now_ms(), Outcome::Aborted)
}

struct Prepared {
    model: Arc<dyn ModelClient>,
    system_prompt: String,
    history: Vec<Message>,
    tools: ToolSet,
    limits: Limits,
    timeout: Duration,
    thinking: ThinkingLevel,
}

/// Everything a run needs, or the message that explains what to fix.
async fn prepare(state: &SharedState, run: &ActiveRun, session: &SessionRecord, options: &Value) -> Result<Prepared, String> {
    let (config, runtime) = loaded_agent_config(state).map_err(|e| e.to_string())?;
    let override_ref = options
        .get("model")
        .or_else(|| session.meta.get("model"))
        .and_then(Value::as_str)
        .map(|m| config.resolve_model_ref(m))
        .transpose()
        .map_err(|e| e.to_string())?;
    let model = pincer_agent::providers::failover_chain(&config, &runtime, override_ref.as_ref()).map_err(|e| e.to_string())?;
    let model_config = override_ref.as_ref().or(config.primary.as_ref()).map(|r| config.model_config(r));
    let context_window = model_config.as_ref().map(|m| m.context_window).unwrap_or(128_000);

    // Refuses a workspace that contains a state dir, and protects every state file.
    let workspace = Workspace::open_guarded(config.workspace.clone(), &super::protected::state_guard(state)).map_err(|e| e.to_string())?;
    let workspace = Arc::new(workspace);
    let mut tools = ToolSet::new();
    for tool in pincer_agent::tools::workspace_tools(workspace.clone()) {
        tools.add(tool);
    }
    for tool in node_tools(state, exec_ask(state)) {
        tools.add(tool);
    }

    let mut history: Vec<Message> = Vec::new();
    for row in state.store.transcript(&session.session_id).map_err(|e| e.to_string())? {
        match serde_json::from_value(row.message) {
            Ok(m) => history.push(m),
            Err(e) => tracing::warn!(row = row.id, error = %e, "skipping an unreadable transcript row"),
        }
    }
    let prompt_ctx = PromptContext {
        now_ms: now_ms(),
        timezone: "UTC".to_string(),
        os: std::env::consts::OS.to_string(),
        nodes: node_summaries(state),
        extra_system_prompt: options.get("extraSystemPrompt").and_then(Value::as_str).map(str::to_string),
        tool_names: tools.names(),
    };
    let system_prompt = workspace.system_prompt(&prompt_ctx);
    let reserve = config.compaction.reserve_for(context_window);
    let limits = Limits {
        max_model_calls: config.max_turns,
        max_tool_result_chars: config.max_tool_result_chars,
        max_identical_calls: 3,
        context_budget_tokens: context_window.saturating_sub(reserve),
        max_output_tokens: model_config.as_ref().and_then(|m| m.max_tokens),
    };

    let estimated = pincer_agent::context::estimate_request(&system_prompt, &history, &tools.specs());
    if pincer_agent::context::needs_compaction(estimated, context_window, reserve) {
        history = compact(state, run, session, model.as_ref(), history, config.compaction.keep_recent_tokens).await;
    }
    // The run's own `thinking` wins over the session's `thinkingLevel`.
    let thinking = options
        .get("thinking")
        .or_else(|| session.meta.get("thinkingLevel"))
        .and_then(Value::as_str)
        .and_then(ThinkingLevel::parse)
        .unwrap_or_default();
    Ok(Prepared { model, system_prompt, history, tools, limits, timeout: config.timeout, thinking })
}

/// Fold the older part of a long transcript into a summary before the turn; on failure the
/// turn goes on with windowing alone.
async fn compact(
    state: &SharedState,
    run: &ActiveRun,
    session: &SessionRecord,
    model: &dyn ModelClient,
    history: Vec<Message>,
    keep_recent_tokens: u64,
) -> Vec<Message> {
    match compact_session(state, session, model, &history, keep_recent_tokens, &run.cancel).await {
        Ok(Some(compacted)) => compacted,
        Ok(None) => history,
        Err(e) => {
            tracing::warn!(session = %session.session_key, error = %e, "compaction failed; continuing with windowing");
            history
        }
    }
}

/// Why compacting a session failed.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The model could not write the summary.
    #[error(transparent)]
    Model(#[from] ProviderError),
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
}

/// Compact a session's transcript now. `Ok(None)`: nothing to fold.
pub async fn compact_session(
    state: &SharedState,
    session: &SessionRecord,
    model: &dyn ModelClient,
    history: &[Message],
    keep_recent_tokens: u64,
    cancel: &CancellationToken,
) -> Result<Option<Vec<Message>>, CompactError> {
    let rows = state.store.transcript(&session.session_id)?;
    if rows.len() != history.len() || history.len() < 2 {
        return Ok(None);
    }
    let operation = super::session_events::Operation::start(state, &session.session_key, "compact");
    let compaction = match pincer_agent::context::compact(model, history, keep_recent_tokens, cancel).await {
        Ok(c) => c,
        Err(e) => {
            operation.end(false, Some(&e.to_string()));
            return Err(e.into());
        }
    };
    if compaction.keep_from == 0 || compaction.keep_from >= rows.len() {
        operation.end(false, Some("nothing to compact"));
        return Ok(None);
    }
    let keep_from_id = rows[compaction.keep_from].id;
    let summary = Message::CompactionSummary(compaction.summary.clone());
    let value = serde_json::to_value(&summary)?;
    let (_, stored) = state.store.compact_transcript(&session.session_id, keep_from_id, &value, now_ms())?;
    super::session_events::message_added(state, &session.session_key, stored, None, &value);
    bump_meta_counter(state, &session.session_key, "compactionCount");
    operation.end(true, None);
    let mut out = vec![summary];
    out.extend_from_slice(&history[compaction.keep_from..]);
    Ok(Some(out))
}

enum Outcome {
    Completed(AssistantMessage, pincer_agent::model::Usage),
    Aborted,
    Error(String, ErrorKind),
}

fn finish(state: &SharedState, emitter: &RunEmitter, started_at: i64, outcome: Outcome) -> RunFinish {
    let ended_at = now_ms();
    emitter.partial.clear();
    let (status, error) = match outcome {
        Outcome::Completed(message, usage) => {
            let value = serde_json::to_value(Message::Assistant(message.clone())).unwrap_or(Value::Null);
            let usage = serde_json::to_value(usage).unwrap_or(Value::Null);
            emitter.final_message(&value, &usage, message.stop_reason.as_str());
            emitter.lifecycle_end(started_at, ended_at, message.stop_reason.as_str(), false);
            ("ok", None)
        }
        Outcome::Aborted => {
            emitter.aborted();
            emitter.lifecycle_end(started_at, ended_at, "rpc", true);
            ("aborted", None)
        }
        Outcome::Error(message, kind) => {
            // Stored before it is announced: a client that reloads history on the error sees it.
            emitter.record_failure(&message);
            emitter.error(&message, kind);
            emitter.lifecycle_error(started_at, ended_at, &message);
            ("error", Some(message))
        }
    };
    if let Err(e) = state.store.end_run(&emitter.run_id, status, error.as_deref(), ended_at) {
        tracing::error!(run = %emitter.run_id, error = %e, "could not record the end of a run");
    }
    tracing::info!(run = %emitter.run_id, session = %emitter.session_key, status, "run finished");
    RunFinish { status, started_at, ended_at, error }
}

/// A run that could not even start (its session or message could not be stored).
fn fail_early(state: &SharedState, run: &ActiveRun, session_id: &str, message: &str) -> RunFinish {
    let emitter = RunEmitter::new(state.clone(), &run.run_id, &run.session_key, session_id);
    let now = now_ms();
    finish(state, &emitter, now, Outcome::Error(message.to_string(), ErrorKind::Unknown))
}

fn record_usage(state: &SharedState, session_key: &str, usage: &pincer_agent::model::Usage) {
    let Ok(Some(mut session)) = state.store.session(session_key) else { return };
    let meta = session.meta.as_object_mut();
    if let Some(meta) = meta {
        for (key, add) in [("inputTokens", usage.input), ("outputTokens", usage.output), ("totalTokens", usage.total_tokens)] {
            let current = meta.get(key).and_then(Value::as_u64).unwrap_or(0);
            meta.insert(key.into(), json!(current + add));
        }
    }
    session.updated_at_ms = now_ms();
    if let Err(e) = state.store.save_session(&session) {
        tracing::warn!(error = %e, "could not update session usage");
    }
}

fn bump_meta_counter(state: &SharedState, session_key: &str, key: &str) {
    let Ok(Some(mut session)) = state.store.session(session_key) else { return };
    if let Some(meta) = session.meta.as_object_mut() {
        let current = meta.get(key).and_then(Value::as_u64).unwrap_or(0);
        meta.insert(key.into(), json!(current + 1));
    }
    if let Err(e) = state.store.save_session(&session) {
        tracing::warn!(error = %e, "could not update session metadata");
    }
}

/// Wait for a run to end, up to `timeout`. `None`: still running when the time was up. A run
/// `collect` merged into another ends when that one does.
pub async fn wait(state: &SharedState, run_id: &str, timeout: Duration) -> Result<Option<RunFinish>, ErrorShape> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut id = answering_run(state, run_id)?;
    // A merged run names its owner, which may itself be merged later: follow a few hops.
    for _ in 0..8 {
        let finish = wait_one(state, &id, deadline).await?;
        if finish.is_some() {
            return Ok(finish);
        }
        let next = answering_run(state, &id)?;
        if next == id {
            return Ok(None);
        }
        id = next;
    }
    Ok(None)
}

/// The run whose answer is this run's: itself, or the run `collect` merged it into.
pub fn answering_run(state: &SharedState, run_id: &str) -> Result<String, ErrorShape> {
    let mut id = run_id.to_string();
    for _ in 0..8 {
        match state.store.run_merged_into(&id).map_err(unavailable)? {
            Some(owner) => id = owner,
            None => break,
        }
    }
    Ok(id)
}

async fn wait_one(state: &SharedState, run_id: &str, deadline: tokio::time::Instant) -> Result<Option<RunFinish>, ErrorShape> {
    if let Some(active) = state.agents.active(run_id) {
        let mut rx = active.subscribe();
        drop(active);
        let waited = tokio::time::timeout_at(deadline, async {
            loop {
                if let Some(finish) = rx.borrow().clone() {
                    return Some(finish);
                }
                if rx.changed().await.is_err() {
                    return rx.borrow().clone();
                }
            }
        })
        .await;
        return match waited {
            Ok(Some(finish)) => Ok(Some(finish)),
            Ok(None) => stored_finish(state, run_id),
            Err(_) => Ok(None),
        };
    }
    stored_finish(state, run_id)
}

fn stored_finish(state: &SharedState, run_id: &str) -> Result<Option<RunFinish>, ErrorShape> {
    // OpenClaw answers an unknown run as still pending (`timeout`), not as an error.
    let Some(run) = state.store.run(run_id).map_err(unavailable)? else {
        return Ok(None);
    };
    let status = match run.status.as_str() {
        "ok" => "ok",
        "aborted" => "aborted",
        // Dropped from a full queue: an error saying so.
        "error" | "dropped" => "error",
        _ => return Ok(None),
    };
    Ok(Some(RunFinish {
        status,
        started_at: run.started_at_ms.unwrap_or(run.accepted_at_ms),
        ended_at: run.ended_at_ms.unwrap_or(run.accepted_at_ms),
        error: run.error,
    }))
}
