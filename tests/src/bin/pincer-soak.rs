//! pincer-soak: a release gateway and node host under steady chat turns, node invokes and
//! reconnecting clients for `--minutes`, weighed every `--sample-secs`; prints the JSON report
//! (RSS start / end / peak and the slope after warm-up, per process) on stdout.
//!
//! ```text
//! pincer-soak --gateway-bin target/release/pincer-gateway --node-bin target/release/pincer-node --minutes 60
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pincer_tests::soak::{self, SoakOpts};

#[derive(Debug, Parser)]
#[command(name = "pincer-soak", about = "RSS of pincer-gateway and pincer-node under an hour of steady traffic")]
struct Args {
    #[arg(long)]
    gateway_bin: PathBuf,
    #[arg(long)]
    node_bin: PathBuf,
    #[arg(long, default_value_t = 60.0)]
    minutes: f64,
    #[arg(long, default_value_t = 10.0)]
    sample_secs: f64,
    /// Minutes left out of the slope at the start.
    #[arg(long, default_value_t = 5.0)]
    warmup_minutes: f64,
    #[arg(long, default_value_t = 250)]
    turn_pause_ms: u64,
    #[arg(long, default_value_t = 50)]
    turns_per_session: u64,
    #[arg(long, default_value_t = 100)]
    invoke_pause_ms: u64,
    #[arg(long, default_value_t = 250)]
    reconnect_pause_ms: u64,
    /// Write the report here too.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let opts = SoakOpts {
        gateway_bin: args.gateway_bin,
        node_bin: args.node_bin,
        duration: Duration::from_secs_f64(args.minutes * 60.0),
        sample_every: Duration::from_secs_f64(args.sample_secs.max(0.1)),
        warmup: Duration::from_secs_f64(args.warmup_minutes * 60.0),
        turn_pause: Duration::from_millis(args.turn_pause_ms),
        turns_per_session: args.turns_per_session,
        invoke_pause: Duration::from_millis(args.invoke_pause_ms),
        reconnect_pause: Duration::from_millis(args.reconnect_pause_ms),
    };
    match soak::run(&opts).await {
        Ok(report) => {
            let text = serde_json::to_string(&report).unwrap_or_default();
            if let Some(out) = &args.out {
                if let Err(e) = std::fs::write(out, &text) {
                    eprintln!("pincer-soak: cannot write {}: {e}", out.display());
                }
            }
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pincer-soak: {e}");
            ExitCode::FAILURE
        }
    }
}
