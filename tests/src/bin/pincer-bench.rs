//! pincer-bench: measure a gateway (Pincer's or the real OpenClaw) over its WebSocket.
//!
//! ```text
//! pincer-bench --url ws://127.0.0.1:28790 --token T --scenario health --n 2000
//! pincer-bench --url ws://127.0.0.1:28790 --token T --scenario start --spawn "exec pincer-gateway ..."
//! pincer-bench --url ws://127.0.0.1:28790 --token T --scenario start --spawn-openclaw
//! pincer-bench --scenario rss --pid 1234
//! ```
//! With `--spawn`/`--spawn-openclaw` the bench owns the gateway: it measures the start, runs
//! the other requested scenarios against it, weighs it again and stops it with SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use pincer_tests::bench::{self, ConnectionsOpts, StartOpts, Target};
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
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
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
    if args.scenario == Scenario::Start || (args.scenario == Scenario::All && spawn.is_some()) {
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
    if args.scenario == Scenario::NodeHost {
        let Some(spawn) = args.node_cmd.clone() else {
            report(&args, Err(("node-host".into(), SupportError::Other("--scenario node-host needs --node-cmd".into()))));
            return exit(true);
        };
        let o = bench::NodeHostOpts { spawn, n: args.n, idle: Duration::from_secs(args.idle_secs), timeout: Duration::from_secs(args.start_timeout_secs) };
        let r = bench::node_host(&target, &o).await;
        report(&args, r.map_err(|e| ("node-host".into(), e)));
    }
    if let Some(child) = gateway {
        report(&args, bench::stop(child).map_err(|e| ("stop".into(), e)));
    }
    exit(failed)
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
            Value::String(s) => println!("  {k:width$}  {s}"),
            other => println!("  {k:width$}  {other}"),
        }
    }
    println!();
}
