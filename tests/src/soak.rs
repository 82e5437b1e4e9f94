//! Soak: a gateway and a node host under steady mixed traffic for a long time, weighed at a
//! fixed interval, so a leak shows as a slope in their resident memory.
//!
//! Traffic, all at once and each at its own steady pace:
//! - chat turns (`chat.send` → streamed answer → `final`) against the in-bench scripted provider,
//!   rotating to a fresh session every `turns_per_session` turns (transcripts grow, as in use);
//! - `node.invoke system.which` on the node host;
//! - clients that connect, ask `health` and disconnect.
//!
//! The report gives each process's RSS at the start and end, its peak, and the least-squares slope
//! of RSS over time after a warm-up (MiB per hour). A measurement: nothing here fails on a number.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pincer_client::GatewayClient;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::bench::agent::{one_turn, AgentGateway, GatewayBin};
use crate::bench::provider::BenchProvider;
use crate::process::ChildGuard;
use crate::{procfs, SupportError, TempState};

const ADMIN_SCOPES: &[&str] = &["operator.admin", "operator.read", "operator.write", "operator.pairing"];

#[derive(Debug, Clone)]
pub struct SoakOpts {
    pub gateway_bin: PathBuf,
    pub node_bin: PathBuf,
    pub duration: Duration,
    /// How often both processes are weighed.
    pub sample_every: Duration,
    /// Samples before this are left out of the slope (caches filling, first allocations).
    pub warmup: Duration,
    /// Pause between the end of one chat turn and the next.
    pub turn_pause: Duration,
    pub turns_per_session: u64,
    pub invoke_pause: Duration,
    pub reconnect_pause: Duration,
}

/// One weighing.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Sample {
    pub secs: f64,
    pub gateway_kib: u64,
    pub node_kib: u64,
}

/// Traffic counters, shared by the load tasks.
#[derive(Default)]
struct Counters {
    turns_ok: AtomicU64,
    turns_failed: AtomicU64,
    invokes_ok: AtomicU64,
    invokes_failed: AtomicU64,
    reconnects_ok: AtomicU64,
    reconnects_failed: AtomicU64,
}

impl Counters {
    fn json(&self) -> Value {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "turnsOk": n(&self.turns_ok), "turnsFailed": n(&self.turns_failed),
            "invokesOk": n(&self.invokes_ok), "invokesFailed": n(&self.invokes_failed),
            "reconnectsOk": n(&self.reconnects_ok), "reconnectsFailed": n(&self.reconnects_failed),
        })
    }
}

/// Least-squares slope of `y` over `x` (units of y per unit of x); `None` below two points.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    Some(sxy / sxx)
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// RSS summary of one process: start / end / peak / slope after warm-up (MiB/hour).
pub fn rss_report(samples: &[Sample], warmup_secs: f64, pick: impl Fn(&Sample) -> u64) -> Value {
    let steady: Vec<(f64, f64)> =
        samples.iter().filter(|s| s.secs >= warmup_secs).map(|s| (s.secs / 3600.0, pick(s) as f64 / 1024.0)).collect();
    let first = samples.first().map(&pick).unwrap_or(0);
    let after_warmup = samples.iter().find(|s| s.secs >= warmup_secs).map(&pick).unwrap_or(first);
    let last = samples.last().map(&pick).unwrap_or(0);
    let peak = samples.iter().map(&pick).max().unwrap_or(0);
    json!({
        "startMiB": mib(first),
        "afterWarmupMiB": mib(after_warmup),
        "endMiB": mib(last),
        "peakMiB": mib(peak),
        "slopeMiBPerHour": slope(&steady).map(|s| (s * 100.0).round() / 100.0),
        "steadySamples": steady.len(),
    })
}

async fn start_node(bin: &Path, gw: &AgentGateway, state: &Path, admin: &GatewayClient) -> Result<ChildGuard, SupportError> {
    let node_dir = state.join("node");
    std::fs::create_dir_all(&node_dir)?;
    let out = std::fs::OpenOptions::new().create(true).append(true).open(state.join("node.out"))?;
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--url", &gw.url, "--token", &gw.token, "--name", "soak-node", "--secrets", "file", "--state-dir"])
        .arg(&node_dir)
        .env("PINCER_NO_KEYRING", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    let mut child = ChildGuard::spawn("pincer-node", cmd)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let node_id = loop {
        let list = admin.request("node.list", json!({})).await?;
        let connected = list["nodes"].as_array().into_iter().flatten().find(|n| n["connected"] == true);
        if let Some(id) = connected.and_then(|n| n["nodeId"].as_str()) {
            break id.to_string();
        }
        if child.try_status()?.is_some() {
            return Err(SupportError::Exited(format!("pincer-node; see {}", state.join("node.out").display())));
        }
        if Instant::now() > deadline {
            return Err(SupportError::Timeout { what: "the node host to connect".into(), secs: 60.0 });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    crate::fake_node::approve_node(admin, &node_id, Duration::from_secs(30)).await?;
    Ok(child)
}

async fn first_node_id(admin: &GatewayClient) -> Result<String, SupportError> {
    let list = admin.request("node.list", json!({})).await?;
    list["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["connected"] == true && n["paired"] == true)
        .and_then(|n| n["nodeId"].as_str().map(str::to_string))
        .ok_or_else(|| SupportError::Other("no paired node is connected".into()))
}

/// Run the soak; returns the report (samples included).
pub async fn run(opts: &SoakOpts) -> Result<Value, SupportError> {
    let state = TempState::new("pincer-soak")?;
    let provider = Arc::new(BenchProvider::start(Duration::from_millis(1)).await?);
    let gw = AgentGateway::start(&GatewayBin::Pincer(opts.gateway_bin.clone()), state.path(), &provider, Duration::from_secs(60)).await?;
    let admin = GatewayClient::connect(gw.operator(ADMIN_SCOPES)).await?.0;
    let mut node = start_node(&opts.node_bin, &gw, state.path(), &admin).await?;
    let node_id = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match first_node_id(&admin).await {
                Ok(id) => break id,
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    };

    let stop = CancellationToken::new();
    let counters = Arc::new(Counters::default());
    let mut tasks = Vec::new();

    // Chat turns.
    {
        let (stop, counters, provider) = (stop.clone(), counters.clone(), provider.clone());
        let (opts_turn, per_session) = (opts.turn_pause, opts.turns_per_session.max(1));
        let chat = GatewayClient::connect(gw.operator(&["operator.read", "operator.write"])).await?.0;
        tasks.push(tokio::spawn(async move {
            let mut n: u64 = 0;
            while !stop.is_cancelled() {
                let session = format!("agent:main:soak-{}", n / per_session);
                match one_turn(&chat, &provider, &session, "soak: say something short", Duration::from_secs(60)).await {
                    Ok(_) => counters.turns_ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, "soak turn failed");
                        counters.turns_failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                n += 1;
                tokio::select! { _ = stop.cancelled() => break, _ = tokio::time::sleep(opts_turn) => {} }
            }
        }));
    }
    // Node invokes.
    {
        let (stop, counters) = (stop.clone(), counters.clone());
        let pause = opts.invoke_pause;
        let invoker = GatewayClient::connect(gw.operator(ADMIN_SCOPES)).await?.0;
        let node_id = node_id.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.is_cancelled() {
                let params = json!({"nodeId": node_id, "command": "system.which", "params": {"bins": ["sh", "ls"]},
                                    "idempotencyKey": uuid::Uuid::new_v4().to_string()});
                match invoker.request("node.invoke", params).await {
                    Ok(_) => counters.invokes_ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, "soak invoke failed");
                        counters.invokes_failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                tokio::select! { _ = stop.cancelled() => break, _ = tokio::time::sleep(pause) => {} }
            }
        }));
    }
    // Reconnecting clients.
    {
        let (stop, counters) = (stop.clone(), counters.clone());
        let pause = opts.reconnect_pause;
        let connect = gw.operator(&["operator.read"]);
        tasks.push(tokio::spawn(async move {
            while !stop.is_cancelled() {
                let ok = match GatewayClient::connect(connect.clone()).await {
                    Ok((client, _)) => client.request("health", json!({})).await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    counters.reconnects_ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    counters.reconnects_failed.fetch_add(1, Ordering::Relaxed);
                }
                tokio::select! { _ = stop.cancelled() => break, _ = tokio::time::sleep(pause) => {} }
            }
        }));
    }

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut ticker = tokio::time::interval(opts.sample_every);
    while started.elapsed() < opts.duration {
        ticker.tick().await;
        let weigh = |pid: u32| procfs::read_process(pid).map(|p| p.rss_kib).unwrap_or(0);
        let sample = Sample { secs: started.elapsed().as_secs_f64(), gateway_kib: weigh(gw.pid()), node_kib: weigh(node.pid()) };
        tracing::info!(secs = sample.secs, gateway_kib = sample.gateway_kib, node_kib = sample.node_kib, "soak sample");
        samples.push(sample);
        if node.try_status()?.is_some() {
            stop.cancel();
            return Err(SupportError::Exited("pincer-node died during the soak".into()));
        }
    }
    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
    let warmup = opts.warmup.as_secs_f64();
    let report = json!({
        "scenario": "soak",
        "minutes": (opts.duration.as_secs_f64() / 60.0 * 10.0).round() / 10.0,
        "sampleEverySecs": opts.sample_every.as_secs_f64(),
        "warmupSecs": warmup,
        "traffic": counters.json(),
        "gateway": rss_report(&samples, warmup, |s| s.gateway_kib),
        "node": rss_report(&samples, warmup, |s| s.node_kib),
        "samples": samples,
    });
    node.terminate(Duration::from_secs(15))?;
    gw.stop()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_is_least_squares() {
        assert_eq!(slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]), Some(2.0));
        assert_eq!(slope(&[(0.0, 4.0), (1.0, 4.0)]), Some(0.0));
        assert_eq!(slope(&[(1.0, 4.0)]), None);
        assert_eq!(slope(&[(1.0, 4.0), (1.0, 5.0)]), None);
    }

    #[test]
    fn report_leaves_the_warmup_out_of_the_slope() {
        let samples: Vec<Sample> =
            (0..10).map(|i| Sample { secs: i as f64 * 360.0, gateway_kib: if i < 2 { 1024 * i } else { 4096 }, node_kib: 2048 }).collect();
        let r = rss_report(&samples, 700.0, |s| s.gateway_kib);
        assert_eq!(r["slopeMiBPerHour"], 0.0);
        assert_eq!(r["startMiB"], 0.0);
        assert_eq!(r["peakMiB"], 4.0);
        assert_eq!(r["steadySamples"], 8);
    }
}
