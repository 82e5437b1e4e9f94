//! pincer-bench: measure a gateway (Pincer's or the real OpenClaw) over its WebSocket.
//!
//! ```text
//! pincer-bench --url ws://127.0.0.1:28790 --token T --scenario health --n 2000
//! pincer-bench --url ws://127.0.0.1:28790 --token T --scenario start --spawn "exec pincer-gateway ..."
//! pincer-bench --url ws://127.0.0.1:28790 --token T --scenario start --spawn-openclaw
//! pincer-bench --scenario rss --pid 1234
//! pincer-bench --scenario agent-turn --turns 200 --gateway-bin target/release/pincer-gateway
//! pincer-bench --scenario agent-tool --turns 50 --spawn-openclaw
//! pincer-bench --scenario agent-sessions --sessions 1000 --messages 200
//! ```
//! With `--spawn`/`--spawn-openclaw` the bench owns the gateway: it measures the start, runs
//! the other requested scenarios against it, weighs it again and stops it with SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use pincer_tests::bench::{self, agent, ConnectionsOpts, StartOpts, Target};
use pincer_tests::openclaw::{openclaw_bin, OpenClawSpec};
use pincer_tests::{SupportError, TempState};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Health,
    Status,
    Start,
    Rss,
    Invoke,
    Connections,
    /// A node host (--node-cmd) through the target gateway: invoke latency and node RSS.
    NodeHost,
    /// Spawns the gateway (--gateway-bin, or OpenClaw with --spawn-openclaw) wired to an
    /// in-bench scripted provider: per-turn overhead of `chat.send` → provider → `chat` final.
    AgentTurn,
    /// Like agent-turn, with one `read` tool call per turn.
    AgentTool,
    /// Pincer only: RSS and `sessions.list` / `chat.history` latency with --sessions ×
    /// --messages stored.
    AgentSessions,
    /// --concurrent readers get --rounds broadcasts while one operator that stopped reading
    /// is flooded (chat.inject) past maxBufferedBytes: reader latency, the slow one's close.
    FanoutSlow,
    /// --readers operator.read clients, then --devices clients with device identities
    /// (presence churn): device connect latency, presence events, gateway RSS.
    Presence,
    /// Everything above except agent-*, fanout-slow and presence.
    All,
}

#[derive(Debug, Parser)]
#[command(name = "pincer-bench", about = "Latency, fan-out, start time and memory of an OpenClaw-protocol gateway")]
struct Args {
    #[arg(long, env = "PINCER_BENCH_URL", default_value = "ws://127.0.0.1:18789")]
    url: String,
    #[arg(long, env = "PINCER_BENCH_TOKEN", default_value = "")]
    token: String,
    #[arg(long, value_enum, default_value = "all")]
    scenario: Scenario,
    /// Sequential requests for health / status / invoke.
    #[arg(long, default_value_t = 2000)]
    n: usize,
    /// Connections for the `connections` scenario.
    #[arg(long, default_value_t = 1000)]
    concurrent: usize,
    /// Handshakes in flight at once while opening them. 32 = OpenClaw's per-IP budget of
    /// unauthenticated sockets (OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP); above it OpenClaw
    /// refuses upgrades with HTTP 503 "Too many unauthenticated sockets".
    #[arg(long, default_value_t = 32)]
    open_parallelism: usize,
    /// Method the admin trigger client calls to make the gateway broadcast to every operator.
    #[arg(long, default_value = "voicewake.set")]
    broadcast_method: String,
    /// JSON params for --broadcast-method. Default: current voicewake triggers plus a unique
    /// marker (restored afterwards).
    #[arg(long)]
    broadcast_params: Option<String>,
    #[arg(long, default_value = "voicewake.changed")]
    broadcast_event: String,
    #[arg(long, default_value = "operator.admin", value_delimiter = ',')]
    trigger_scopes: Vec<String>,
    #[arg(long, default_value_t = 30)]
    broadcast_timeout_secs: u64,
    /// fanout-slow: timed broadcasts during the flood, and the flood itself.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    #[arg(long, default_value_t = 400)]
    flood_messages: usize,
    #[arg(long, default_value_t = 190_000)]
    flood_chars: usize,
    /// presence: reader and device clients.
    #[arg(long, default_value_t = 200)]
    readers: usize,
    #[arg(long, default_value_t = 300)]
    devices: usize,
    /// Node for `invoke` (default: first connected node of node.list).
    #[arg(long)]
    node_id: Option<String>,
    /// Shell command line that starts a node host connected to --url, for `node-host`.
    #[arg(long)]
    node_cmd: Option<String>,
    /// Shell command line that starts the gateway for `start` (`exec` avoids a shell parent).
    #[arg(long)]
    spawn: Option<String>,
    /// Start the real OpenClaw gateway (scripts/install-openclaw.sh) on --url's port with
    /// --token and a fresh state dir, per shared/docs/openclaw-peer.md.
    #[arg(long, conflicts_with = "spawn")]
    spawn_openclaw: bool,
    /// Also time until this http:// URL reports ready (e.g. http://127.0.0.1:P/readyz).
    #[arg(long)]
    ready_url: Option<String>,
    #[arg(long, default_value_t = 5)]
    idle_secs: u64,
    /// Interval between start probes. Probing competes for CPU with a starting gateway on a
    /// small machine; raise it to disturb the start less.
    #[arg(long, default_value_t = 10)]
    poll_ms: u64,
    #[arg(long, default_value_t = 180)]
    start_timeout_secs: u64,
    /// Process for `rss`, or the gateway to weigh during `connections`.
    #[arg(long)]
    pid: Option<u32>,
    /// Free text added to every JSON object (e.g. "openclaw-2026.9.6").
    #[arg(long)]
    label: Option<String>,
    /// One JSON object per scenario instead of a table.
    #[arg(long)]
    json: bool,
    /// Also append each scenario's JSON object (one line) to this file.
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
    /// agent-*: the pincer-gateway binary (default: the workspace's, built first).
    #[arg(long)]
    gateway_bin: Option<std::path::PathBuf>,
    /// agent-turn / agent-tool: measured turns, after --warmup.
    #[arg(long, default_value_t = 200)]
    turns: usize,
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// agent-turn / agent-tool: turns per session key (0 = all in one session, whose history
    /// then grows every turn).
    #[arg(long, default_value_t = 1)]
    session_turns: usize,
    /// agent-*: the scripted provider sleeps this long before each SSE frame.
    #[arg(long, default_value_t = 0)]
    frame_delay_ms: u64,
    #[arg(long, default_value_t = 120)]
    turn_timeout_secs: u64,
    /// agent-sessions: sessions and messages per session to seed.
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    #[arg(long, default_value_t = 200)]
    messages: usize,
    /// agent-sessions: `store` (the gateway's own store code, gateway stopped), `inject`
    /// (`chat.inject` over the protocol) or `send` (real `chat.send` turns, 2 messages each).
    #[arg(long, default_value = "store")]
    seed: String,
    #[arg(long, default_value_t = 200)]
    history_limit: usize,
    #[arg(long, default_value_t = 20)]
    list_repeats: usize,
    /// agent-sessions: turns into seeded sessions at the end.
    #[arg(long, default_value_t = 20)]
    seeded_turns: usize,
    /// Print a Markdown summary of the agent-* results in this JSON-lines file (from
    /// --json-out) and exit.
    #[arg(long)]
    summarize: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // Event seq gaps are counted in the results (seedEventSeqGaps), not logged one by one.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,pincer_client::events=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if let Some(path) = &args.summarize {
        return match std::fs::read_to_string(path) {
            Ok(text) => {
                print!("{}", agent_summary(&text));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pincer-bench: --summarize {}: {e}", path.display());
                ExitCode::FAILURE
            }
        };
    }
    let mut failed = false;
    let mut report = |args: &Args, result: Result<Value, (String, SupportError)>| {
        let value = match result {
            Ok(v) => v,
            Err((scenario, e)) => {
                failed = true;
                json!({"scenario": scenario, "error": e.to_string()})
            }
        };
        print_report(args, value);
    };
    let target = Target { url: args.url.clone(), token: args.token.clone() };

    if args.scenario == Scenario::Rss {
        let result = match args.pid {
            Some(pid) => bench::rss(pid),
            None => Err(SupportError::Other("--scenario rss needs --pid".into())),
        };
        report(&args, result.map_err(|e| ("rss".into(), e)));
        return exit(failed);
    }

    if matches!(args.scenario, Scenario::AgentTurn | Scenario::AgentTool | Scenario::AgentSessions) {
        let name = args.scenario.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
        let result = agent_scenario(&args).await;
        report(&args, result.map_err(|e| (name, e)));
        return exit(failed);
    }

    // Own the gateway when asked to spawn one.
    let mut _openclaw_state = None;
    let spawn = if args.spawn_openclaw {
        match openclaw_spawn_line(&args) {
            Ok((line, state)) => {
                _openclaw_state = Some(state);
                Some(line)
            }
            Err(e) => {
                report(&args, Err(("start".into(), e)));
                return exit(true);
            }
        }
    } else {
        args.spawn.clone()
    };
    let mut gateway = None;
    let mut server_pid = args.pid;
    let owns_gateway =
        matches!(args.scenario, Scenario::All | Scenario::Connections | Scenario::FanoutSlow | Scenario::Presence) && spawn.is_some();
    if args.scenario == Scenario::Start || owns_gateway {
        let Some(spawn) = spawn else {
            report(&args, Err(("start".into(), SupportError::Other("--scenario start needs --spawn or --spawn-openclaw".into()))));
            return exit(true);
        };
        let o = StartOpts {
            spawn,
            ready_url: args.ready_url.clone(),
            poll: Duration::from_millis(args.poll_ms),
            timeout: Duration::from_secs(args.start_timeout_secs),
            idle: Duration::from_secs(args.idle_secs),
        };
        match bench::start(&target, &o).await {
            Ok((v, child)) => {
                server_pid = Some(child.pid());
                gateway = Some(child);
                report(&args, Ok(v));
            }
            Err(e) => {
                report(&args, Err(("start".into(), e)));
                return exit(true);
            }
        }
    }

    let all = args.scenario == Scenario::All;
    if all || args.scenario == Scenario::Health {
        let r = bench::sequential(&target, "health", json!({}), args.n, &["operator.read"]).await;
        report(&args, r.map_err(|e| ("health".into(), e)));
    }
    if all || args.scenario == Scenario::Status {
        let r = bench::sequential(&target, "status", json!({}), args.n, &["operator.read"]).await;
        report(&args, r.map_err(|e| ("status".into(), e)));
    }
    if all || args.scenario == Scenario::Invoke {
        let r = bench::invoke(&target, args.node_id.clone(), args.n).await;
        report(&args, r.map_err(|e| ("invoke".into(), e)));
    }
    if all || args.scenario == Scenario::Connections {
        let broadcast_params = match args.broadcast_params.as_deref().map(serde_json::from_str::<Value>).transpose() {
            Ok(p) => p,
            Err(e) => {
                report(&args, Err(("connections".into(), SupportError::Other(format!("--broadcast-params: {e}")))));
                return exit(true);
            }
        };
        let o = ConnectionsOpts {
            concurrent: args.concurrent,
            parallelism: args.open_parallelism,
            broadcast_method: args.broadcast_method.clone(),
            broadcast_params,
            broadcast_event: args.broadcast_event.clone(),
            trigger_scopes: args.trigger_scopes.clone(),
            timeout: Duration::from_secs(args.broadcast_timeout_secs),
            server_pid,
        };
        let r = bench::connections(&target, &o).await;
        report(&args, r.map_err(|e| ("connections".into(), e)));
    }
    if args.scenario == Scenario::FanoutSlow {
        let o = bench::fanout::SlowFanoutOpts {
            concurrent: args.concurrent,
            parallelism: args.open_parallelism,
            rounds: args.rounds,
            flood_messages: args.flood_messages,
            flood_chars: args.flood_chars,
            timeout: Duration::from_secs(args.broadcast_timeout_secs),
            server_pid,
        };
        let r = bench::fanout::slow_fanout(&target, &o).await;
        report(&args, r.map_err(|e| ("fanout-slow".into(), e)));
    }
    if args.scenario == Scenario::Presence {
        let o = bench::fanout::PresenceOpts {
            readers: args.readers,
            devices: args.devices,
            parallelism: args.open_parallelism,
            timeout: Duration::from_secs(args.broadcast_timeout_secs),
            server_pid,
        };
        let r = bench::fanout::presence(&target, &o).await;
        report(&args, r.map_err(|e| ("presence".into(), e)));
    }
    if args.scenario == Scenario::NodeHost {
        let Some(spawn) = args.node_cmd.clone() else {
            report(&args, Err(("node-host".into(), SupportError::Other("--scenario node-host needs --node-cmd".into()))));
            return exit(true);
        };
        let o = bench::NodeHostOpts {
            spawn,
            n: args.n,
            idle: Duration::from_secs(args.idle_secs),
            timeout: Duration::from_secs(args.start_timeout_secs),
        };
        let r = bench::node_host(&target, &o).await;
        report(&args, r.map_err(|e| ("node-host".into(), e)));
    }
    if let Some(child) = gateway {
        report(&args, bench::stop(child).map_err(|e| ("stop".into(), e)));
    }
    exit(failed)
}

async fn agent_scenario(args: &Args) -> Result<Value, SupportError> {
    let gateway_bin = || match &args.gateway_bin {
        Some(p) => Ok(p.clone()),
        None => pincer_tests::workspace_bin("pincer-gateway"),
    };
    let start_timeout = Duration::from_secs(args.start_timeout_secs);
    if args.scenario == Scenario::AgentSessions {
        if args.spawn_openclaw {
            return Err(SupportError::Other("agent-sessions seeds Pincer's database; it has no OpenClaw variant".into()));
        }
        let seed = match args.seed.as_str() {
            "store" => agent::SeedMode::Store,
            "inject" => agent::SeedMode::Inject,
            "send" => agent::SeedMode::Send,
            other => return Err(SupportError::Other(format!("--seed {other}: expected store, inject or send"))),
        };
        let o = agent::SessionsOpts {
            gateway_bin: gateway_bin()?,
            sessions: args.sessions,
            messages: args.messages,
            seed,
            idle: Duration::from_secs(args.idle_secs),
            history_limit: args.history_limit,
            list_repeats: args.list_repeats,
            turns: args.seeded_turns,
            start_timeout,
        };
        return agent::sessions(&o).await;
    }
    let gateway = if args.spawn_openclaw {
        agent::GatewayBin::OpenClaw(
            openclaw_bin().ok_or_else(|| SupportError::Other("openclaw not installed: run scripts/install-openclaw.sh".into()))?,
        )
    } else {
        agent::GatewayBin::Pincer(gateway_bin()?)
    };
    let o = agent::TurnOpts {
        gateway,
        turns: args.turns,
        warmup: args.warmup,
        tool: args.scenario == Scenario::AgentTool,
        session_turns: args.session_turns,
        frame_delay: Duration::from_millis(args.frame_delay_ms),
        turn_timeout: Duration::from_secs(args.turn_timeout_secs),
        start_timeout,
    };
    agent::turns(&o).await
}

/// Markdown tables of the agent-* objects among these JSON lines.
fn agent_summary(jsonl: &str) -> String {
    let rows: Vec<Value> = jsonl.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let d = |v: &Value, k: &str| -> String {
        let f = |q: &str| v[k][q].as_f64().map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
        if v[k].is_object() {
            format!("{} / {} / {} / {}", f("p50ms"), f("p90ms"), f("p99ms"), f("maxMs"))
        } else {
            "-".into()
        }
    };
    let mut out = String::new();
    let turns: Vec<&Value> = rows.iter().filter(|v| matches!(v["scenario"].as_str(), Some("agent-turn" | "agent-tool"))).collect();
    if !turns.is_empty() {
        out.push_str("Per turn, ms: p50 / p90 / p99 / max\n\n");
        out.push_str("| gateway | scenario | sessions | turns (errors) | (a) chat.send → provider request | (b) provider [DONE] → chat final | tool result → next request | first delta | whole turn | gateway share |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
        for v in turns {
            let sessions = match v["sessionTurns"].as_u64() {
                Some(0) => format!("one ({} msgs at the end)", v["lastRequestMessages"]),
                Some(1) => "new each turn".to_string(),
                Some(k) => format!("new every {k} turns"),
                None => "-".into(),
            };
            let label = v["label"].as_str().map(|l| format!(" ({l})")).unwrap_or_default();
            out.push_str(&format!(
                "| {}{label} | {} | {sessions} | {} ({}) | {} | {} | {} | {} | {} | {} |\n",
                v["gateway"].as_str().unwrap_or("?"),
                v["scenario"].as_str().unwrap_or("?"),
                v["turns"],
                v["errors"],
                d(v, "sendToRequest"),
                d(v, "doneToFinal"),
                d(v, "toolGap"),
                d(v, "firstDelta"),
                d(v, "turn"),
                d(v, "gatewayShare"),
            ));
        }
        out.push('\n');
    }
    for v in rows.iter().filter(|v| v["scenario"] == "agent-sessions") {
        let mib = |k: &str| v[k].as_f64().map(|x| format!("{:.1} MiB", x / 1024.0)).unwrap_or_else(|| "-".into());
        let bytes = |k: &str| v[k].as_f64().map(|x| format!("{:.1} MiB", x / 1_048_576.0)).unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{} sessions × {} messages (seeded with `{}` in {} s):\n\n| measurement | value |\n|---|---|\n",
            v["sessions"],
            v["messagesPerSession"],
            v["seed"].as_str().unwrap_or("?"),
            v["seedSecs"]
        ));
        let mut row = |k: &str, val: String| out.push_str(&format!("| {k} | {val} |\n"));
        row("RSS idle, 0 sessions (VmRSS)", mib("emptyIdleRssKiB"));
        row("RSS idle, seeded, after restart", mib("seededIdleRssKiB"));
        row("RSS after sessions.list", mib("afterListRssKiB"));
        row("RSS after chat.history of every session (VmHWM)", format!("{} ({})", mib("afterHistoryRssKiB"), mib("afterHistoryHwmKiB")));
        row("RSS after the seeded-session turns", mib("afterTurnsRssKiB"));
        if v["afterSeedRssKiB"].is_number() {
            row("RSS of the process that did the seeding", mib("afterSeedRssKiB"));
        }
        row("start with the seeded database → health", format!("{} ms", v["seededStartMs"]));
        row(
            &format!(
                "sessions.list (limit {}; {} sessions, {} KB returned)",
                v["sessions"],
                v["sessionsListCount"],
                v["sessionsListBytes"].as_u64().unwrap_or(0) / 1000
            ),
            d(v, "sessionsList") + " ms",
        );
        row(
            &format!(
                "chat.history (limit {}), every session ({} KB each)",
                v["chatHistoryLimit"],
                v["chatHistoryMeanBytes"].as_u64().unwrap_or(0) / 1000
            ),
            d(v, "chatHistory") + " ms",
        );
        row("turn in a seeded session: chat.send → provider request", d(&v["seededTurn"], "sendToRequest") + " ms");
        row("turn in a seeded session: whole turn", d(&v["seededTurn"], "turn") + " ms");
        row("SQLite file", bytes("dbBytes"));
        if let Some(gaps) = v["seedEventSeqGaps"].as_u64() {
            row("events out of seq order while seeding (parallel runs)", gaps.to_string());
        }
        out.push('\n');
    }
    out
}

fn exit(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Config + command line for the real OpenClaw gateway on --url's port.
fn openclaw_spawn_line(args: &Args) -> Result<(String, TempState), SupportError> {
    let bin = openclaw_bin().ok_or_else(|| SupportError::Other("openclaw not installed: run scripts/install-openclaw.sh".into()))?;
    let port = Target { url: args.url.clone(), token: String::new() }
        .host_port()
        .and_then(|hp| hp.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()))
        .ok_or_else(|| SupportError::Other(format!("--url {} needs an explicit port", args.url)))?;
    if args.token.is_empty() {
        return Err(SupportError::Other("--spawn-openclaw needs --token".into()));
    }
    let state = TempState::new("openclaw-bench")?;
    let spec = OpenClawSpec::new(port, &args.token, state.path());
    spec.write_config()?;
    Ok((spec.shell_line(&bin), state))
}

fn print_report(args: &Args, mut value: Value) {
    if let (Some(label), Value::Object(map)) = (&args.label, &mut value) {
        map.insert("label".into(), label.clone().into());
    }
    if let Some(path) = &args.json_out {
        let line = format!("{value}\n");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        if let Err(e) = written {
            eprintln!("pincer-bench: --json-out {}: {e}", path.display());
        }
    }
    if args.json {
        println!("{value}");
        return;
    }
    let Value::Object(map) = value else {
        println!("{value}");
        return;
    };
    let title = map.get("scenario").and_then(Value::as_str).unwrap_or("?").to_string();
    println!("== {title} ==");
    let width = map.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in &map {
        if k == "scenario" {
            continue;
        }
        match v {
            Value::Array(items) if k.ends_with("Processes") => {
                println!("  {k:width$}");
                for p in items {
                    println!(
                        "  {:width$}   pid {:>7}  {:<20} rss {:>9} KiB  peak {:>9} KiB",
                        "",
                        p["pid"],
                        p["name"].as_str().unwrap_or(""),
                        p["rssKiB"],
                        p["hwmKiB"]
                    );
                }
            }
            Value::Object(inner) => print_object(k, inner, width, 2),
            Value::String(s) => println!("  {k:width$}  {s}"),
            other => println!("  {k:width$}  {other}"),
        }
    }
    println!();
}

/// A latency distribution on one line; other objects key by key, indented.
fn print_object(key: &str, map: &serde_json::Map<String, Value>, width: usize, indent: usize) {
    let pad = " ".repeat(indent);
    if map.contains_key("p50ms") {
        let f = |k: &str| map.get(k).and_then(Value::as_f64).map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into());
        println!(
            "{pad}{key:width$}  p50 {:>9}  p90 {:>9}  p99 {:>9}  max {:>9} ms  (n {})",
            f("p50ms"),
            f("p90ms"),
            f("p99ms"),
            f("maxMs"),
            map.get("n").cloned().unwrap_or_default()
        );
        return;
    }
    println!("{pad}{key}");
    let inner_width = map.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in map {
        match v {
            Value::Object(m) => print_object(k, m, inner_width, indent + 2),
            other => println!("{pad}  {k:inner_width$}  {other}"),
        }
    }
}
