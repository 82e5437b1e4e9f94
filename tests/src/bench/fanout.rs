//! Fan-out under pressure (issue 10): broadcast latency to many clients while one slow
//! consumer is being dropped, and what presence churn (device clients coming and going in
//! front of readers) costs the gateway.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pincer_client::{DeviceIdentity, GatewayClient, Incoming, RawSocket};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::stats::{ms, summarize};
use super::{obj, raise_nofile, Target};
use crate::{procfs, SupportError};

/// How to run `fanout-slow`.
#[derive(Debug, Clone)]
pub struct SlowFanoutOpts {
    /// Clients that read every broadcast (they hold `operator.approvals` only, so the flood's
    /// `chat`/`session.message` events do not reach them; `voicewake.changed` does).
    pub concurrent: usize,
    pub parallelism: usize,
    /// Timed `voicewake.set` broadcasts while the flood runs.
    pub rounds: usize,
    /// `chat.inject` messages of `flood_chars` characters into the session the slow
    /// consumer follows (it gets each as `chat` + `session.message`).
    pub flood_messages: usize,
    pub flood_chars: usize,
    pub timeout: Duration,
    pub server_pid: Option<u32>,
}

/// Open `n` handshaken operator connections, `parallelism` at a time: the clients, each
/// handshake's duration, and the errors.
pub(super) async fn open_clients(
    target: &Target,
    n: usize,
    parallelism: usize,
    scopes: &[&str],
    timeout: Duration,
) -> (Vec<GatewayClient>, Vec<Duration>, Vec<String>) {
    let gate = Arc::new(Semaphore::new(parallelism.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let gate = Arc::clone(&gate);
        let mut opts = target.operator(scopes);
        opts.request_timeout = timeout;
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let t = Instant::now();
            let result = GatewayClient::connect(opts).await;
            (t.elapsed(), result)
        });
    }
    collect(tasks).await
}

/// One handshake: how long it took and the connected client (or why not).
type Opened = (Duration, Result<(GatewayClient, pincer_client::HelloOk), pincer_client::ClientError>);

async fn collect(mut tasks: tokio::task::JoinSet<Opened>) -> (Vec<GatewayClient>, Vec<Duration>, Vec<String>) {
    let (mut clients, mut took, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((t, Ok((client, _)))) => {
                took.push(t);
                clients.push(client);
            }
            Ok((_, Err(e))) => errors.push(e.to_string()),
            Err(e) => errors.push(format!("task: {e}")),
        }
    }
    (clients, took, errors)
}

/// When each client received the event `pred` accepts, measured from `t0`, looking at the
/// clients' backlogs every [`ARRIVAL_POLL`] until all have it or `timeout` passes: the
/// receive time is stamped by each client's reader task as the frame comes off the socket.
/// (A waiting task per client, woken by every frame, would compete with the reader tasks for
/// the CPU and inflate exactly what is being measured.) Returns the arrivals, how many clients
/// never got it, and the first reason one missed it.
pub(super) async fn arrivals(
    clients: &[GatewayClient],
    t0: Instant,
    timeout: Duration,
    pred: impl Fn(&pincer_client::EventFrame) -> bool,
) -> (Vec<Duration>, usize, Option<String>) {
    let mut waiting: Vec<&GatewayClient> = clients.iter().collect();
    let mut arrived = Vec::with_capacity(clients.len());
    loop {
        tokio::time::sleep(ARRIVAL_POLL).await;
        waiting.retain(|c| match c.take_received(&pred) {
            Some(event) => {
                arrived.push(event.at.saturating_duration_since(t0));
                false
            }
            None => true,
        });
        if waiting.is_empty() || t0.elapsed() > timeout {
            break;
        }
    }
    let first_miss = waiting.first().map(|c| match c.close_info() {
        Some((code, reason)) => format!("connection closed ({code} {reason})"),
        None => format!("no event within {} ms", timeout.as_millis()),
    });
    (arrived, waiting.len(), first_miss)
}

/// How often [`arrivals`] looks at the clients' backlogs.
const ARRIVAL_POLL: Duration = Duration::from_millis(25);

/// Whether `e` is the `voicewake.changed` that carries `marker` among its triggers.
pub(super) fn is_marked_voicewake(e: &pincer_client::EventFrame, marker: &str) -> bool {
    e.event == "voicewake.changed"
        && e.payload
            .as_ref()
            .and_then(|p| p.get("triggers"))
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|v| v.as_str() == Some(marker)))
}

/// One timed `voicewake.set` broadcast: when each client got its `voicewake.changed`.
async fn one_broadcast(trigger: &GatewayClient, clients: &[GatewayClient], base: &[String], timeout: Duration) -> (Vec<Duration>, usize) {
    let marker = format!("pincer-bench-{}", uuid::Uuid::new_v4().simple());
    let mut triggers = base.to_vec();
    triggers.push(marker.clone());
    let t0 = Instant::now();
    let _ = trigger.request("voicewake.set", json!({ "triggers": triggers })).await;
    let (arrived, missed, _) = arrivals(clients, t0, timeout, |e| is_marked_voicewake(e, &marker)).await;
    for c in clients {
        c.drain_events();
    }
    (arrived, missed)
}

/// `fanout-slow`: `concurrent` readers, one operator that subscribes to every session and then
/// never reads, a flood of large `chat.inject` messages only that one follows, and `rounds`
/// timed broadcasts to the readers meanwhile. Reports the readers' event latency, whether and
/// how the gateway closed the slow consumer, and the gateway's RSS.
pub async fn slow_fanout(target: &Target, o: &SlowFanoutOpts) -> Result<Value, SupportError> {
    let nofile = raise_nofile(o.concurrent as u64 * 2 + 256);
    let rss_before = o.server_pid.and_then(|p| procfs::tree_rss_kib(p).ok());
    let (clients, _, errors) = open_clients(target, o.concurrent, o.parallelism, &["operator.approvals"], o.timeout).await;
    if clients.is_empty() {
        return Err(SupportError::Other(format!("no reader connected: {}", errors.first().cloned().unwrap_or_default())));
    }
    let (admin, _) = GatewayClient::connect(target.operator(&["operator.admin", "operator.read", "operator.write"])).await?;
    let session_key = format!("agent:main:bench-slow-{}", uuid::Uuid::new_v4().simple());
    // The session must exist before anyone can follow it (OpenClaw requires it for chat.inject).
    let _ = admin.request("sessions.create", json!({"key": session_key})).await;
    let _ = admin.request("chat.inject", json!({"sessionKey": session_key, "message": "start"})).await;

    let mut slow = RawSocket::open(&target.url, &[]).await?;
    slow.handshake(&target.operator(&["operator.read"])).await?;
    let sub = slow.send_request("sessions.subscribe", json!({})).await?;
    slow.expect_response(&sub, o.timeout).await?;
    let sub = slow.send_request("sessions.messages.subscribe", json!({"key": session_key})).await?;
    let _ = slow.expect_response(&sub, o.timeout).await;
    // From here on the slow consumer reads nothing until the end.

    tokio::time::sleep(Duration::from_millis(500)).await;
    for c in &clients {
        c.drain_events();
    }
    let base: Vec<String> = admin
        .request("voicewake.get", json!({}))
        .await
        .ok()
        .and_then(|v| serde_json::from_value(v["triggers"].clone()).ok())
        .unwrap_or_else(|| vec!["openclaw".into(), "claude".into(), "computer".into()]);

    let flood_admin = admin.clone();
    let (flood_n, flood_chars, key) = (o.flood_messages, o.flood_chars, session_key.clone());
    let flood = tokio::spawn(async move {
        let text = "y".repeat(flood_chars);
        let (mut ok, mut failed, mut last_error) = (0usize, 0usize, None);
        for i in 0..flood_n {
            match flood_admin.request("chat.inject", json!({"sessionKey": key, "message": format!("{i} {text}")})).await {
                Ok(_) => ok += 1,
                Err(e) => {
                    failed += 1;
                    last_error = Some(e.to_string());
                }
            }
        }
        (ok, failed, last_error)
    });

    let mut all = Vec::new();
    let mut missed = 0;
    let mut per_round = Vec::new();
    let mut rss_peak = rss_before.unwrap_or(0);
    for _ in 0..o.rounds {
        let (arrivals, m) = one_broadcast(&admin, &clients, &base, o.timeout).await;
        let s = summarize(&arrivals, m, Duration::ZERO);
        per_round.push(json!({"p50ms": s.p50_ms, "p99ms": s.p99_ms, "lastMs": s.max_ms, "missed": m}));
        all.extend(arrivals);
        missed += m;
        if let Some(kib) = o.server_pid.and_then(|p| procfs::tree_rss_kib(p).ok()) {
            rss_peak = rss_peak.max(kib);
        }
    }
    let (flood_ok, flood_failed, flood_error) = flood.await.unwrap_or((0, 0, Some("flood task failed".into())));
    let rss_after_flood = o.server_pid.and_then(|p| procfs::tree_rss_kib(p).ok());
    let hwm = o.server_pid.and_then(|p| procfs::tree(p).ok()).map(|t| t.iter().map(|p| p.hwm_kib).sum::<u64>());
    let _ = admin.request("voicewake.set", json!({ "triggers": base })).await;

    // Now read the slow consumer: a gateway that dropped it has closed the socket; one that
    // did not still holds it open (and answers once we read).
    let read_started = Instant::now();
    let mut slow_bytes_read = 0usize;
    let slow_end = loop {
        match slow.next_frame(Duration::from_secs(5)).await {
            Ok(Incoming::Close(code, reason)) => break json!({"closed": true, "code": code, "reason": reason}),
            Ok(Incoming::Frame(f)) => slow_bytes_read += f.to_json().len(),
            Ok(_) => {}
            Err(e) if e.to_string().contains("timed out") => break json!({"closed": false}),
            Err(e) => break json!({"closed": true, "error": e.to_string()}),
        }
        if read_started.elapsed() > o.timeout {
            break json!({"closed": false, "stillSending": true});
        }
    };
    let s = summarize(&all, missed, Duration::ZERO);
    let mut out = obj(json!({
        "scenario": "fanout-slow",
        "readers": clients.len(),
        "readerErrors": errors.len(),
        "rounds": o.rounds,
        "fanoutP50ms": s.p50_ms,
        "fanoutP99ms": s.p99_ms,
        "fanoutMaxMs": s.max_ms,
        "fanoutMissed": missed,
        "perRound": per_round,
        "floodInjected": flood_ok,
        "floodFailed": flood_failed,
        "floodMiB": ((flood_ok * flood_chars) as f64 / 1048576.0 * 10.0).round() / 10.0,
        "slowConsumer": slow_end,
        "slowBytesReadAfter": slow_bytes_read,
        "nofileLimit": nofile,
    }));
    if let Some(e) = flood_error {
        out.insert("floodLastError".into(), e.into());
    }
    if let Some(kib) = rss_before {
        out.insert("serverRssBeforeMiB".into(), mib(kib));
        out.insert("serverRssPeakSampledMiB".into(), mib(rss_peak));
    }
    if let Some(kib) = rss_after_flood {
        out.insert("serverRssAfterMiB".into(), mib(kib));
    }
    if let Some(kib) = hwm {
        out.insert("serverHwmMiB".into(), mib(kib));
    }
    Ok(serde_json::Value::Object(out))
}

fn mib(kib: u64) -> Value {
    ((kib as f64 / 1024.0 * 10.0).round() / 10.0).into()
}

/// How to run `presence`.
#[derive(Debug, Clone)]
pub struct PresenceOpts {
    pub readers: usize,
    pub devices: usize,
    pub parallelism: usize,
    pub timeout: Duration,
    pub server_pid: Option<u32>,
}

/// `presence`: `readers` token-only `operator.read` clients, then `devices` clients with
/// their own device identity (each a presence row; each connect changes presence for every
/// reader). Reports connect latency of the devices, presence events a reader got, and the
/// gateway's RSS before, after and at its peak.
pub async fn presence(target: &Target, o: &PresenceOpts) -> Result<Value, SupportError> {
    let nofile = raise_nofile((o.readers + o.devices) as u64 * 2 + 256);
    let rss_before = o.server_pid.and_then(|p| procfs::tree_rss_kib(p).ok());
    let (readers, _, reader_errors) = open_clients(target, o.readers, o.parallelism, &["operator.read"], o.timeout).await;
    let rss_readers = o.server_pid.and_then(|p| procfs::tree_rss_kib(p).ok());
    for r in &readers {
        r.drain_events();
    }

    let gate = Arc::new(Semaphore::new(o.parallelism.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..o.devices {
        let gate = Arc::clone(&gate);
        let mut opts = target.operator(&["operator.read"]).with_device(DeviceIdentity::generate());
        opts.display_name = Some(format!("bench-device-{i}"));
        opts.request_timeout = o.timeout;
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let t = Instant::now();
            let result = GatewayClient::connect(opts).await;
            (t.elapsed(), result)
        });
    }
    let (devices, connect_times, device_errors) = collect(tasks).await;
    let connect_wall = started.elapsed();
    // Let the last presence broadcasts reach everyone, then weigh.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = o.server_pid.and_then(|p| procfs::tree_rss_kib(p).ok());
    let presence_events: Vec<usize> = readers.iter().map(|r| r.drain_events().iter().filter(|e| e.event == "presence").count()).collect();
    drop(devices);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after_leave = o.server_pid.and_then(|p| procfs::tree_rss_kib(p).ok());
    let hwm = o.server_pid.and_then(|p| procfs::tree(p).ok()).map(|t| t.iter().map(|p| p.hwm_kib).sum::<u64>());
    let departures: Vec<usize> = readers.iter().map(|r| r.drain_events().iter().filter(|e| e.event == "presence").count()).collect();

    let s = summarize(&connect_times, device_errors.len(), connect_wall);
    let avg = |v: &[usize]| if v.is_empty() { 0.0 } else { v.iter().sum::<usize>() as f64 / v.len() as f64 };
    let mut out = obj(json!({
        "scenario": "presence",
        "readers": readers.len(),
        "readerErrors": reader_errors.len(),
        "devices": connect_times.len(),
        "deviceErrors": device_errors.len(),
        "deviceConnectP50ms": s.p50_ms,
        "deviceConnectP99ms": s.p99_ms,
        "deviceConnectMaxMs": s.max_ms,
        "deviceConnectWallS": ms(connect_wall) / 1000.0,
        "presenceEventsPerReaderOnConnect": avg(&presence_events),
        "presenceEventsPerReaderOnLeave": avg(&departures),
        "nofileLimit": nofile,
    }));
    if let Some(e) = device_errors.first() {
        out.insert("firstDeviceError".into(), e.clone().into());
    }
    for (key, v) in [
        ("serverRssBeforeMiB", rss_before),
        ("serverRssReadersMiB", rss_readers),
        ("serverRssDevicesMiB", rss_connected),
        ("serverRssAfterLeaveMiB", rss_after_leave),
        ("serverHwmMiB", hwm),
    ] {
        if let Some(kib) = v {
            out.insert(key.into(), mib(kib));
        }
    }
    Ok(serde_json::Value::Object(out))
}
