//! Agent benchmarks: what the gateway adds to a chat turn, and what 1,000 stored sessions cost.
//!
//! The gateway under test is a child process (a release `pincer-gateway`, or the real OpenClaw)
//! configured with one provider, the [`BenchProvider`] that runs inside this process; the
//! operator client is in this process too, so every timestamp below comes from one clock:
//!
//! ```text
//!  client ──chat.send──▶ gateway ──POST──▶ provider          (a) sendToRequest
//!  client ◀──chat final── gateway ◀──[DONE]── provider       (b) doneToFinal
//! ```
//!
//! Measurements, never assertions: nothing here fails on a number.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pincer_agent::model::{AssistantMessage, Content, Message, StopReason, Usage, UserMessage};
use pincer_client::{ConnectOptions, GatewayClient};
use serde_json::{json, Map, Value};

use super::provider::{BenchProvider, Hit, HitKind, NOTE_FILE, NOTE_TEXT, TOOL_MARKER};
use super::stats::{ms, percentile};
use crate::openclaw::OpenClawSpec;
use crate::process::ChildGuard;
use crate::{procfs, SupportError, TempState};

const TOKEN: &str = "bench-agent-token-0123456789";
/// The model id the gateways are configured with (`bench/m1`).
const MODEL: &str = "m1";

/// Which gateway a scenario runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayBin {
    /// `pincer-gateway` at this path.
    Pincer(PathBuf),
    /// The `openclaw` wrapper at this path (scripts/install-openclaw.sh).
    OpenClaw(PathBuf),
}

impl GatewayBin {
    pub fn label(&self) -> &'static str {
        match self {
            GatewayBin::Pincer(_) => "pincer",
            GatewayBin::OpenClaw(_) => "openclaw",
        }
    }
}

/// A gateway child process configured to use a [`BenchProvider`].
pub struct AgentGateway {
    pub label: &'static str,
    pub url: String,
    pub token: String,
    /// Spawn → first `health` answered.
    pub ready_after: Duration,
    pub workspace: PathBuf,
    child: ChildGuard,
}

impl AgentGateway {
    /// Start `gateway` with its state in `state_dir` (kept across restarts by the caller).
    pub async fn start(
        gateway: &GatewayBin,
        state_dir: &Path,
        provider: &BenchProvider,
        timeout: Duration,
    ) -> Result<AgentGateway, SupportError> {
        match gateway {
            GatewayBin::Pincer(bin) => AgentGateway::start_pincer(bin, state_dir, provider, timeout).await,
            GatewayBin::OpenClaw(bin) => AgentGateway::start_openclaw(bin, state_dir, provider, timeout).await,
        }
    }

    async fn start_pincer(bin: &Path, state_dir: &Path, provider: &BenchProvider, timeout: Duration) -> Result<AgentGateway, SupportError> {
        let port = crate::free_port()?;
        let workspace = state_dir.join("workspace");
        std::fs::create_dir_all(&workspace)?;
        std::fs::write(workspace.join(NOTE_FILE), NOTE_TEXT)?;
        let config = json!({
            "agents": {"defaults": {"model": {"primary": format!("bench/{MODEL}")}}},
            "models": {"providers": {"bench": provider.provider_config(MODEL)}},
        });
        std::fs::write(state_dir.join("pincer.json"), serde_json::to_string_pretty(&config).unwrap_or_default())?;
        let out = std::fs::OpenOptions::new().create(true).append(true).open(state_dir.join("gateway.out"))?;
        let mut cmd = Command::new(bin);
        cmd.args(["run", "--port", &port.to_string(), "--token", TOKEN, "--state-dir"])
            .arg(state_dir)
            .env("PINCER_NO_KEYRING", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let started = Instant::now();
        let child = ChildGuard::spawn("pincer-gateway", cmd)?;
        let mut gw = AgentGateway {
            label: "pincer",
            url: format!("ws://127.0.0.1:{port}"),
            token: TOKEN.into(),
            ready_after: Duration::ZERO,
            workspace,
            child,
        };
        gw.wait_ready(started, timeout, Duration::from_millis(5), state_dir).await?;
        Ok(gw)
    }

    async fn start_openclaw(
        bin: &Path,
        state_dir: &Path,
        provider: &BenchProvider,
        timeout: Duration,
    ) -> Result<AgentGateway, SupportError> {
        let port = crate::free_port()?;
        let spec = OpenClawSpec::new(port, TOKEN, state_dir);
        let path = spec.write_config()?;
        let workspace = state_dir.join("workspace");
        std::fs::create_dir_all(&workspace)?;
        std::fs::write(workspace.join(NOTE_FILE), NOTE_TEXT)?;
        // The peer config plus the bench provider as the default model (as in
        // tests/fixtures/openclaw/agent/tools/openclaw.json).
        let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path)?).map_err(|e| SupportError::Other(e.to_string()))?;
        config["models"] = json!({"providers": {"bench": provider.provider_config(MODEL)}});
        config["agents"]["defaults"]["model"] = json!({"primary": format!("bench/{MODEL}")});
        config["agents"]["defaults"]["workspace"] = json!(workspace.display().to_string());
        std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap_or_default())?;
        let started = Instant::now();
        let child = ChildGuard::spawn("openclaw-gateway", spec.command(bin)?)?;
        let mut gw =
            AgentGateway { label: "openclaw", url: spec.url(), token: TOKEN.into(), ready_after: Duration::ZERO, workspace, child };
        gw.wait_ready(started, timeout, Duration::from_millis(250), state_dir).await?;
        Ok(gw)
    }

    async fn wait_ready(&mut self, started: Instant, timeout: Duration, poll: Duration, state_dir: &Path) -> Result<(), SupportError> {
        loop {
            if let Some(status) = self.child.try_status()? {
                return Err(SupportError::Exited(format!(
                    "{} exited with {status}; see {}",
                    self.label,
                    state_dir.join("gateway.out").display()
                )));
            }
            if crate::wait::probe_health(&self.url, &self.token).await.is_ok() {
                self.ready_after = started.elapsed();
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(SupportError::Timeout { what: format!("{} health", self.label), secs: timeout.as_secs_f64() });
            }
            tokio::time::sleep(poll).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// An operator with these scopes and a generous request timeout.
    pub fn operator(&self, scopes: &[&str]) -> ConnectOptions {
        let mut o = ConnectOptions::operator(&self.url, &self.token, scopes);
        o.request_timeout = Duration::from_secs(120);
        o
    }

    /// VmRSS and VmHWM of the gateway's process tree (KiB).
    pub fn memory(&self) -> (u64, u64) {
        let tree = procfs::tree(self.pid()).unwrap_or_default();
        (tree.iter().map(|p| p.rss_kib).sum(), tree.iter().map(|p| p.hwm_kib).sum())
    }

    /// SIGTERM and wait.
    pub fn stop(mut self) -> Result<(), SupportError> {
        self.child.terminate(Duration::from_secs(15))?;
        Ok(())
    }
}

/// Latency distribution of `samples` (ms), without throughput fields.
pub fn dist(samples: &[Duration]) -> Value {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    let mean = if n == 0 { Duration::ZERO } else { sorted.iter().sum::<Duration>() / n as u32 };
    json!({
        "n": n,
        "minMs": ms(sorted.first().copied().unwrap_or_default()),
        "p50ms": ms(percentile(&sorted, 50.0)),
        "p90ms": ms(percentile(&sorted, 90.0)),
        "p99ms": ms(percentile(&sorted, 99.0)),
        "maxMs": ms(sorted.last().copied().unwrap_or_default()),
        "meanMs": ms(mean),
    })
}

/// `/proc/loadavg`'s first three fields, to note how busy the machine was.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

/// One turn, timed on the bench's clock.
#[derive(Debug, Clone)]
pub struct TurnSample {
    /// `chat.send` → its response.
    pub ack: Duration,
    /// (a) `chat.send` written → first provider request complete (head and body read).
    pub send_to_request: Duration,
    /// … → its first byte read.
    pub send_to_request_first_byte: Duration,
    /// `chat.send` → first `chat` delta at the client (None if the run sent none).
    pub first_delta: Option<Duration>,
    /// First text frame written by the provider → first `chat` delta at the client.
    pub provider_text_to_delta: Option<Duration>,
    /// (b) the provider's last byte (final answer) → `chat` final at the client.
    pub done_to_final: Duration,
    /// `chat.send` → `chat` final.
    pub turn: Duration,
    /// Time spent inside provider requests (first byte in → last byte out), summed.
    pub provider: Duration,
    /// End of the tool-call response → the follow-up request complete (tool turns).
    pub tool_gap: Option<Duration>,
    pub requests: usize,
    pub last_body_bytes: usize,
    pub last_messages: usize,
}

fn is_run_event(e: &pincer_protocol::EventFrame, run_id: &str, states: &[&str]) -> bool {
    e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["runId"] == run_id && states.contains(&p["state"].as_str().unwrap_or("")))
}

/// Send one message and follow it to its final event.
pub async fn one_turn(
    client: &GatewayClient,
    provider: &BenchProvider,
    session_key: &str,
    message: &str,
    timeout: Duration,
) -> Result<TurnSample, String> {
    let run_id = uuid::Uuid::new_v4().to_string();
    let base = provider.hit_count();
    let sent = Instant::now();
    let ack = client
        .request("chat.send", json!({"sessionKey": session_key, "message": message, "idempotencyKey": run_id}))
        .await
        .map_err(|e| format!("chat.send: {e}"))?;
    let acked = Instant::now();
    if ack.get("status").and_then(Value::as_str).is_some_and(|s| s != "started") {
        return Err(format!("chat.send answered {ack}"));
    }
    let first = client
        .wait_received("the run's first chat event", timeout, |e| is_run_event(e, &run_id, &["delta", "final", "error", "aborted"]))
        .await
        .map_err(|e| format!("waiting for the run: {e}"))?;
    let state =
        |e: &pincer_protocol::EventFrame| e.payload.as_ref().and_then(|p| p["state"].as_str().map(str::to_string)).unwrap_or_default();
    let (delta_at, terminal) = if state(&first.frame) == "delta" {
        let t = client
            .wait_received("the run's final chat event", timeout, |e| is_run_event(e, &run_id, &["final", "error", "aborted"]))
            .await
            .map_err(|e| format!("waiting for the final event: {e}"))?;
        (Some(first.at), t)
    } else {
        (None, first)
    };
    client.drain_events();
    if state(&terminal.frame) != "final" {
        return Err(format!("the run ended {}: {}", state(&terminal.frame), terminal.frame.payload.unwrap_or_default()));
    }
    // The provider records a request after writing its last byte; the final event can (rarely)
    // overtake that bookkeeping on a busy machine.
    let deadline = Instant::now() + Duration::from_secs(2);
    let hits: Vec<Hit> = loop {
        let hits = provider.hits_since(base);
        if hits.iter().any(|h| h.kind == HitKind::Text) || Instant::now() > deadline {
            break hits;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let posts: Vec<&Hit> = hits.iter().filter(|h| matches!(h.kind, HitKind::Text | HitKind::ToolCall)).collect();
    let (Some(first_post), Some(answer)) = (posts.first(), posts.iter().rev().find(|h| h.kind == HitKind::Text)) else {
        return Err(format!("the provider saw no completion request for run {run_id}"));
    };
    let tool_gap = posts
        .iter()
        .position(|h| h.kind == HitKind::ToolCall)
        .and_then(|i| posts.get(i + 1).map(|next| next.received.saturating_duration_since(posts[i].done)));
    Ok(TurnSample {
        ack: acked - sent,
        send_to_request: first_post.received.saturating_duration_since(sent),
        send_to_request_first_byte: first_post.first_byte.saturating_duration_since(sent),
        first_delta: delta_at.map(|d| d.saturating_duration_since(sent)),
        provider_text_to_delta: match (delta_at, answer.first_text) {
            (Some(d), Some(t)) => Some(d.saturating_duration_since(t)),
            _ => None,
        },
        done_to_final: terminal.at.saturating_duration_since(answer.done),
        turn: terminal.at.saturating_duration_since(sent),
        provider: posts.iter().map(|h| h.done.saturating_duration_since(h.first_byte)).sum(),
        tool_gap,
        requests: hits.len(),
        last_body_bytes: answer.body_bytes,
        last_messages: answer.messages,
    })
}

/// The per-turn distributions of a batch of samples.
pub fn turn_report(samples: &[TurnSample]) -> Map<String, Value> {
    let pick = |f: &dyn Fn(&TurnSample) -> Option<Duration>| -> Vec<Duration> { samples.iter().filter_map(f).collect() };
    let mut out = Map::new();
    out.insert("sendToRequest".into(), dist(&pick(&|s| Some(s.send_to_request))));
    out.insert("doneToFinal".into(), dist(&pick(&|s| Some(s.done_to_final))));
    out.insert("firstDelta".into(), dist(&pick(&|s| s.first_delta)));
    out.insert("providerTextToDelta".into(), dist(&pick(&|s| s.provider_text_to_delta)));
    out.insert("turn".into(), dist(&pick(&|s| Some(s.turn))));
    out.insert("gatewayShare".into(), dist(&pick(&|s| Some(s.turn.saturating_sub(s.provider)))));
    out.insert("providerTime".into(), dist(&pick(&|s| Some(s.provider))));
    out.insert("ack".into(), dist(&pick(&|s| Some(s.ack))));
    out.insert("sendToRequestFirstByte".into(), dist(&pick(&|s| Some(s.send_to_request_first_byte))));
    let gaps = pick(&|s| s.tool_gap);
    if !gaps.is_empty() {
        out.insert("toolGap".into(), dist(&gaps));
    }
    if let Some(last) = samples.last() {
        out.insert("lastRequestBytes".into(), last.last_body_bytes.into());
        out.insert("lastRequestMessages".into(), last.last_messages.into());
    }
    let requests: usize = samples.iter().map(|s| s.requests).sum();
    if !samples.is_empty() {
        out.insert("providerRequestsPerTurn".into(), ((requests as f64 / samples.len() as f64 * 100.0).round() / 100.0).into());
    }
    out
}

/// The first turn after the gateway started (provider client and connection not warm yet).
fn cold_fields(s: &TurnSample) -> Value {
    json!({"sendToRequestMs": ms(s.send_to_request), "doneToFinalMs": ms(s.done_to_final), "turnMs": ms(s.turn)})
}

/// How to run the turn benchmark.
#[derive(Debug, Clone)]
pub struct TurnOpts {
    pub gateway: GatewayBin,
    /// Measured turns (after `warmup`).
    pub turns: usize,
    pub warmup: usize,
    /// Each turn makes the model call `read` once before answering.
    pub tool: bool,
    /// Turns per session before the next session key (0 = every turn in one session, so the
    /// history grows by 2 messages a turn, 4 with a tool call).
    pub session_turns: usize,
    /// Sleep before each SSE frame of the provider.
    pub frame_delay: Duration,
    pub turn_timeout: Duration,
    pub start_timeout: Duration,
}

/// Spawn the gateway, run `warmup + turns` sequential turns on one connection, report.
pub async fn turns(o: &TurnOpts) -> Result<Value, SupportError> {
    let provider = BenchProvider::start(o.frame_delay).await?;
    let state = TempState::new(&format!("bench-agent-{}", o.gateway.label()))?;
    let gw = AgentGateway::start(&o.gateway, state.path(), &provider, o.start_timeout).await?;
    let load_before = loadavg();
    let (client, hello) = GatewayClient::connect(gw.operator(&["operator.read", "operator.write"])).await?;
    let (rss_idle, _) = gw.memory();
    let mut samples = Vec::with_capacity(o.turns);
    let mut cold = None;
    let mut errors = 0usize;
    let mut last_error = None;
    let started = Instant::now();
    for i in 0..o.warmup + o.turns {
        let session = match o.session_turns {
            0 => "agent:main:bench".to_string(),
            k => format!("agent:main:bench-{}", i / k),
        };
        let message = if o.tool {
            format!("{TOOL_MARKER}: read {NOTE_FILE} and tell me what it says (turn {i})")
        } else {
            format!("Say hello (turn {i}).")
        };
        match one_turn(&client, &provider, &session, &message, o.turn_timeout).await {
            Ok(s) if i >= o.warmup => samples.push(s),
            Ok(s) => {
                if i == 0 {
                    cold = Some(s);
                }
            }
            Err(e) => {
                errors += 1;
                last_error = Some(e);
                if client.is_closed() {
                    break;
                }
            }
        }
    }
    let wall = started.elapsed();
    let (rss, hwm) = gw.memory();
    let load_after = loadavg();
    let ready_after = gw.ready_after;
    gw.stop()?;
    if samples.is_empty() {
        return Err(SupportError::Other(format!("no turn succeeded: {}", last_error.unwrap_or_default())));
    }
    let mut out = Map::new();
    out.insert("scenario".into(), (if o.tool { "agent-tool" } else { "agent-turn" }).into());
    out.insert("gateway".into(), o.gateway.label().into());
    out.insert("server".into(), hello.server.version.clone().into());
    out.insert("turns".into(), samples.len().into());
    out.insert("warmup".into(), o.warmup.into());
    out.insert("sessionTurns".into(), o.session_turns.into());
    out.insert("frameDelayMs".into(), ms(o.frame_delay).into());
    out.insert("errors".into(), errors.into());
    if let Some(e) = last_error {
        out.insert("lastError".into(), e.chars().take(500).collect::<String>().into());
    }
    out.insert("turnsPerS".into(), (((o.warmup + o.turns) as f64 / wall.as_secs_f64() * 10.0).round() / 10.0).into());
    out.insert("startMs".into(), ms(ready_after).into());
    if let Some(c) = cold {
        out.insert("coldTurn".into(), cold_fields(&c));
    }
    out.extend(turn_report(&samples));
    out.insert("rssIdleKiB".into(), rss_idle.into());
    out.insert("rssAfterKiB".into(), rss.into());
    out.insert("hwmAfterKiB".into(), hwm.into());
    out.insert("loadavgBefore".into(), load_before.into());
    out.insert("loadavgAfter".into(), load_after.into());
    Ok(Value::Object(out))
}

/// How the sessions are written before the memory measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedMode {
    /// The gateway's own store code (`pincer_gateway::store::Store`, the calls a turn makes:
    /// `save_session`, then `append_message` per message) on the state dir, gateway stopped.
    Store,
    /// `chat.inject` over the protocol (assistant messages only), gateway running.
    Inject,
    /// Real turns: `chat.send` (then `agent.wait`) of `messages / 2` user messages per session
    /// against the scripted provider, whose replies have the seeded assistant length.
    Send,
}

impl SeedMode {
    pub fn name(self) -> &'static str {
        match self {
            SeedMode::Store => "store",
            SeedMode::Inject => "inject",
            SeedMode::Send => "send",
        }
    }
}

/// How to run the sessions/memory benchmark.
#[derive(Debug, Clone)]
pub struct SessionsOpts {
    /// Pincer only: seeding writes Pincer's database.
    pub gateway_bin: PathBuf,
    pub sessions: usize,
    pub messages: usize,
    pub seed: SeedMode,
    /// Settle time before each idle weighing.
    pub idle: Duration,
    pub history_limit: usize,
    pub list_repeats: usize,
    /// Turns into seeded sessions at the end (each reads a full history), after one warm-up turn.
    pub turns: usize,
    pub start_timeout: Duration,
}

/// Deterministic filler text of about `chars` characters.
fn filler(seed: &mut u64, chars: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "gateway",
        "agent",
        "session",
        "message",
        "reply",
        "tool",
        "file",
        "read",
        "write",
        "model",
        "token",
        "stream",
        "config",
        "node",
        "device",
        "approve",
        "history",
        "context",
        "summary",
        "please",
        "check",
        "update",
        "build",
        "test",
        "error",
        "result",
        "workspace",
        "provider",
        "latency",
        "memory",
        "sqlite",
        "turn",
        "event",
        "client",
        "server",
        "quick",
        "brown",
        "fox",
        "lazy",
    ];
    let mut out = String::with_capacity(chars + 16);
    while out.len() < chars {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        if !out.is_empty() {
            out.push(if seed.is_multiple_of(11) { '.' } else { ' ' });
            if out.ends_with('.') {
                out.push(' ');
            }
        }
        out.push_str(WORDS[(*seed % WORDS.len() as u64) as usize]);
    }
    out
}

/// Message `m` of a seeded session, shaped exactly as a real turn stores it: user messages of
/// ~160 characters, assistant replies of ~640 with provider, model and usage.
pub fn seeded_message(session: usize, m: usize, ts: i64) -> Value {
    let mut seed = (session as u64 + 1) * 1_000_003 + m as u64 * 7919 + 1;
    let message = if m.is_multiple_of(2) {
        Message::User(UserMessage { content: vec![Content::text(filler(&mut seed, 160))], timestamp: ts })
    } else {
        Message::Assistant(AssistantMessage {
            content: vec![Content::text(filler(&mut seed, 640))],
            api: "openai-completions".into(),
            provider: "bench".into(),
            model: MODEL.into(),
            usage: Usage { input: 1200 + m as u64 * 40, output: 160, cache_read: 0, cache_write: 0, total_tokens: 1360 + m as u64 * 40 },
            stop_reason: StopReason::Stop,
            error_message: None,
            timestamp: ts,
        })
    };
    serde_json::to_value(&message).unwrap_or(Value::Null)
}

fn session_key(i: usize) -> String {
    format!("agent:main:seed-{i:05}")
}

/// Seed through the gateway's store code, gateway stopped. Returns rows written.
fn seed_store(state_dir: &Path, sessions: usize, messages: usize) -> Result<usize, SupportError> {
    use pincer_gateway::store::{SessionRecord, Store};
    let err = |e: pincer_gateway::store::StoreError| SupportError::Other(format!("seeding: {e}"));
    let store = Store::open(&state_dir.join("pincer.sqlite")).map_err(err)?;
    let now = pincer_agent::model::now_ms();
    let mut rows = 0;
    for s in 0..sessions {
        let key = session_key(s);
        let record = SessionRecord {
            session_key: key.clone(),
            session_id: uuid::Uuid::new_v4().to_string(),
            agent_id: "main".into(),
            created_at_ms: now - 86_400_000,
            updated_at_ms: now - 86_400_000,
            meta: json!({"inputTokens": 100_000, "outputTokens": 16_000, "totalTokens": 116_000}),
        };
        store.save_session(&record).map_err(err)?;
        for m in 0..messages {
            let ts = now - 86_400_000 + (s * messages + m) as i64;
            store.append_message(&key, &record.session_id, Some("seed"), &seeded_message(s, m, ts), ts).map_err(err)?;
            rows += 1;
        }
    }
    Ok(rows)
}

/// Seed with real turns over `parallel` connections (sessions interleaved). Returns rows written
/// and how many events the clients saw out of `seq` order (runs in parallel broadcast at once).
async fn seed_send(gw: &AgentGateway, sessions: usize, messages: usize, parallel: usize) -> Result<(usize, u64), SupportError> {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..parallel.max(1) {
        let opts = gw.operator(&["operator.write"]);
        tasks.spawn(async move {
            let (client, _) = GatewayClient::connect(opts).await?;
            let mut rows = 0usize;
            for s in (w..sessions).step_by(parallel.max(1)) {
                for m in (0..messages).step_by(2) {
                    let value = seeded_message(s, m, 0);
                    let text = value["content"][0]["text"].as_str().unwrap_or("x").to_string();
                    let run_id = uuid::Uuid::new_v4().to_string();
                    client.request("chat.send", json!({"sessionKey": session_key(s), "message": text, "idempotencyKey": run_id})).await?;
                    let done = client.request("agent.wait", json!({"runId": run_id, "timeoutMs": 60_000})).await?;
                    if done["status"] != "ok" {
                        return Err(SupportError::Other(format!("seeding turn in {}: {done}", session_key(s))));
                    }
                    rows += 2;
                }
                client.drain_events();
            }
            Ok::<(usize, u64), SupportError>((rows, client.seq_stats().gaps))
        });
    }
    let (mut rows, mut gaps) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (r, g) = joined.map_err(|e| SupportError::Other(format!("send task: {e}")))??;
        rows += r;
        gaps += g;
    }
    Ok((rows, gaps))
}

/// The scripted reply used when seeding with real turns: as long as a seeded assistant message.
fn seeded_reply_pieces() -> Vec<String> {
    let text = seeded_message(0, 1, 0)["content"][0]["text"].as_str().unwrap_or_default().to_string();
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    words.chunks(words.len().div_ceil(8).max(1)).map(|c| c.concat()).collect()
}

/// Seed with `chat.inject` over `parallel` connections. Returns rows written.
async fn seed_inject(gw: &AgentGateway, sessions: usize, messages: usize, parallel: usize) -> Result<usize, SupportError> {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..parallel.max(1) {
        let opts = gw.operator(&["operator.admin"]);
        tasks.spawn(async move {
            let (client, _) = GatewayClient::connect(opts).await?;
            let mut rows = 0usize;
            for s in (w..sessions).step_by(parallel.max(1)) {
                for m in 0..messages {
                    let value = seeded_message(s, m, 0);
                    let text = value["content"][0]["text"].as_str().unwrap_or("x").to_string();
                    client.request("chat.inject", json!({"sessionKey": session_key(s), "message": text})).await?;
                    rows += 1;
                }
                client.drain_events();
            }
            Ok::<usize, SupportError>(rows)
        });
    }
    let mut rows = 0;
    while let Some(joined) = tasks.join_next().await {
        rows += joined.map_err(|e| SupportError::Other(format!("inject task: {e}")))??;
    }
    Ok(rows)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn mem_fields(out: &mut Map<String, Value>, prefix: &str, gw: &AgentGateway) {
    let (rss, hwm) = gw.memory();
    out.insert(format!("{prefix}RssKiB"), rss.into());
    out.insert(format!("{prefix}HwmKiB"), hwm.into());
}

/// Weigh an empty gateway, seed `sessions × messages`, restart, weigh idle, after
/// `sessions.list`, after `chat.history` of every session, and after turns on seeded sessions.
pub async fn sessions(o: &SessionsOpts) -> Result<Value, SupportError> {
    let provider = match o.seed {
        SeedMode::Send => BenchProvider::start_with(Duration::ZERO, seeded_reply_pieces()).await?,
        _ => BenchProvider::start(Duration::ZERO).await?,
    };
    let state = TempState::new("bench-agent-sessions")?;
    let bin = GatewayBin::Pincer(o.gateway_bin.clone());
    let mut out = Map::new();
    out.insert("scenario".into(), "agent-sessions".into());
    out.insert("gateway".into(), "pincer".into());
    out.insert("sessions".into(), o.sessions.into());
    out.insert("messagesPerSession".into(), o.messages.into());
    out.insert("seed".into(), o.seed.name().into());
    out.insert("loadavgBefore".into(), loadavg().into());

    // 0 sessions.
    let gw = AgentGateway::start(&bin, state.path(), &provider, o.start_timeout).await?;
    out.insert("emptyStartMs".into(), ms(gw.ready_after).into());
    tokio::time::sleep(o.idle).await;
    mem_fields(&mut out, "emptyIdle", &gw);

    // Seed.
    let seeded = Instant::now();
    let rows = match o.seed {
        SeedMode::Store => {
            gw.stop()?;
            seed_store(state.path(), o.sessions, o.messages)?
        }
        SeedMode::Inject | SeedMode::Send => {
            let rows = if o.seed == SeedMode::Inject {
                seed_inject(&gw, o.sessions, o.messages, 4).await?
            } else {
                let (rows, gaps) = seed_send(&gw, o.sessions, o.messages, 4).await?;
                out.insert("seedEventSeqGaps".into(), gaps.into());
                rows
            };
            // The process that did the writing, before the restart.
            mem_fields(&mut out, "afterSeed", &gw);
            gw.stop()?;
            rows
        }
    };
    let seed_took = seeded.elapsed();
    out.insert("seedSecs".into(), ((seed_took.as_secs_f64() * 10.0).round() / 10.0).into());
    out.insert("seedRows".into(), rows.into());
    out.insert("seedRowsPerS".into(), ((rows as f64 / seed_took.as_secs_f64()).round()).into());
    let db = state.path().join("pincer.sqlite");
    out.insert("dbBytes".into(), file_len(&db).into());
    out.insert("walBytes".into(), file_len(&state.path().join("pincer.sqlite-wal")).into());

    // Seeded, restarted.
    let gw = AgentGateway::start(&bin, state.path(), &provider, o.start_timeout).await?;
    out.insert("seededStartMs".into(), ms(gw.ready_after).into());
    tokio::time::sleep(o.idle).await;
    mem_fields(&mut out, "seededIdle", &gw);
    let (client, _) = GatewayClient::connect(gw.operator(&["operator.read", "operator.write"])).await?;

    let mut samples = Vec::new();
    let mut bytes = 0usize;
    let mut count = 0usize;
    for _ in 0..o.list_repeats.max(1) {
        let t = Instant::now();
        let res = client.request("sessions.list", json!({"limit": o.sessions.max(1)})).await?;
        samples.push(t.elapsed());
        bytes = res.to_string().len();
        count = res["sessions"].as_array().map(Vec::len).unwrap_or(0);
    }
    out.insert("sessionsList".into(), dist(&samples));
    out.insert("sessionsListCount".into(), count.into());
    out.insert("sessionsListBytes".into(), bytes.into());
    mem_fields(&mut out, "afterList", &gw);

    let mut samples = Vec::with_capacity(o.sessions);
    let mut total_bytes = 0usize;
    let mut short = 0usize;
    let want = o.messages.min(o.history_limit);
    for s in 0..o.sessions {
        let t = Instant::now();
        let res = client.request("chat.history", json!({"sessionKey": session_key(s), "limit": o.history_limit})).await?;
        samples.push(t.elapsed());
        total_bytes += res.to_string().len();
        if res["messages"].as_array().map(Vec::len).unwrap_or(0) < want {
            short += 1;
        }
    }
    out.insert("chatHistory".into(), dist(&samples));
    out.insert("chatHistoryLimit".into(), o.history_limit.into());
    out.insert("chatHistoryMeanBytes".into(), (total_bytes / o.sessions.max(1)).into());
    out.insert("chatHistoryShort".into(), short.into());
    mem_fields(&mut out, "afterHistory", &gw);

    // Turns on seeded sessions: each reads its whole stored history into the prompt.
    let mut turn_samples = Vec::new();
    let mut errors = 0;
    let mut last_error = None;
    let mut cold = None;
    for i in 0..(o.turns + 1).min(o.sessions) {
        let key = session_key(o.sessions - 1 - i);
        match one_turn(&client, &provider, &key, &format!("Say hello (turn {i})."), Duration::from_secs(60)).await {
            // The first one warms the provider connection up.
            Ok(s) if i == 0 => cold = Some(s),
            Ok(s) => turn_samples.push(s),
            Err(e) => {
                errors += 1;
                last_error = Some(e);
            }
        }
    }
    if !turn_samples.is_empty() {
        let report = turn_report(&turn_samples);
        let mut seeded_turn = Map::new();
        for k in ["sendToRequest", "doneToFinal", "turn", "lastRequestBytes", "lastRequestMessages"] {
            if let Some(v) = report.get(k) {
                seeded_turn.insert(k.into(), v.clone());
            }
        }
        seeded_turn.insert("errors".into(), errors.into());
        if let Some(c) = &cold {
            seeded_turn.insert("coldTurn".into(), cold_fields(c));
        }
        out.insert("seededTurn".into(), Value::Object(seeded_turn));
    }
    if let Some(e) = last_error {
        out.insert("lastError".into(), e.into());
    }
    mem_fields(&mut out, "afterTurns", &gw);
    out.insert("loadavgAfter".into(), loadavg().into());
    drop(client);
    gw.stop()?;
    out.insert("dbBytesAfter".into(), file_len(&db).into());
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_messages_look_like_real_ones() {
        let user = seeded_message(3, 0, 5);
        assert_eq!(user["role"], "user");
        let text = user["content"][0]["text"].as_str().unwrap();
        assert!((160..200).contains(&text.len()), "{text}");
        let reply = seeded_message(3, 1, 5);
        assert_eq!(reply["role"], "assistant");
        assert_eq!(reply["stopReason"], "stop");
        assert!(serde_json::from_value::<Message>(reply).is_ok());
        assert_eq!(seeded_message(3, 1, 5), seeded_message(3, 1, 5), "deterministic");
    }
}
