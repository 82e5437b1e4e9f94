//! The gateway's outbound side over real sockets (issue 10): a subscriber that stops reading
//! is dropped at `policy.maxBufferedBytes` with one log line while everyone else keeps getting
//! every event; broadcasts keep each connection's own `seq`; presence changes are coalesced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pincer_client::{GatewayClient, Incoming, RawSocket};
use pincer_gateway::services::presence;
use pincer_protocol::methods::events;
use pincer_protocol::scopes::READ;
use pincer_tests::TestGateway;
use serde_json::{json, Value};

/// Upper bound for anything a test waits on; passing tests finish far sooner.
const WAIT: Duration = Duration::from_secs(20);

// ---- log capture --------------------------------------------------------------------------

/// Everything the gateway logs in this test process (one global subscriber per process).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LogWriter(writer.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_lines_with(logs: &Mutex<Vec<u8>>, needles: &[&str]) -> Vec<String> {
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    text.lines().filter(|l| needles.iter().all(|n| l.contains(n))).map(str::to_string).collect()
}

// ---- helpers ------------------------------------------------------------------------------

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A raw operator socket that completed its handshake; returns it with its `connId`.
async fn raw_operator(gw: &TestGateway) -> (RawSocket, String) {
    let mut raw = RawSocket::open(&gw.url(), &[]).await.unwrap();
    let res = raw.handshake(&gw.operator_opts(&[READ])).await.unwrap();
    let hello = res.payload.expect("hello-ok");
    let conn_id = hello["server"]["connId"].as_str().expect("connId").to_string();
    (raw, conn_id)
}

/// The connId a client's hello-ok gave it.
async fn operator_with_id(gw: &TestGateway) -> (GatewayClient, String) {
    let (client, hello) = gw.operator(&[READ]).await.unwrap();
    (client, hello.server.conn_id)
}

// ---- case 5: slow consumers ---------------------------------------------------------------

/// Case 5 of issue 10. On 7f29638 the non-reading socket was never closed: the close was
/// queued behind the data it could not take, its writer blocked without a timeout, and every
/// further broadcast logged "closing slow consumer" again (this test timed out waiting for the
/// connection to go, with one log line per broadcast).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_dropped_once_with_its_backlog_bounded() {
    let logs = logs();
    let gw = TestGateway::start().await.unwrap();
    let (reader, _) = operator_with_id(&gw).await;
    let (mut stalled, stalled_id) = raw_operator(&gw).await;
    let conn = gw.state.hub.get(&stalled_id).expect("the stalled socket is connected");
    let limit = pincer_protocol::DEFAULT_MAX_BUFFERED_BYTES;

    // 1 MiB chat events until the stalled socket is dropped: the kernel's buffers take a few
    // megabytes, the queue takes the limit's worth, then the next push drops it.
    let pad = "x".repeat(1 << 20);
    let mut sent = 0u64;
    let mut peak_queued = 0;
    while !conn.dropped_as_slow() {
        assert!(sent < 200, "still not dropped after {sent} MiB");
        sent += 1;
        gw.state.hub.broadcast(events::CHAT, &json!({"runId": "bench", "state": "delta", "n": sent, "pad": pad}));
        peak_queued = peak_queued.max(conn.queued_bytes());
        // Let the writers run, as a real event source would.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(peak_queued <= limit, "queued {peak_queued} bytes, over the {limit} limit");
    assert!(peak_queued > limit - (2 << 20), "dropped early, at {peak_queued} of {limit} bytes");

    // It leaves the hub, its backlog is freed, and it takes nothing more.
    until("the slow consumer to leave the hub", || gw.state.hub.get(&stalled_id).is_none()).await;
    assert_eq!(conn.queued_bytes(), 0, "the dropped connection's backlog is freed");
    assert!(!conn.send_text("{}".into()), "a dropped connection accepts nothing");
    gw.state.hub.broadcast(events::CHAT, &json!({"runId": "bench", "state": "delta", "n": sent + 1}));
    assert_eq!(conn.queued_bytes(), 0);

    // The socket was shut even though its writer was stuck in a send: reading now drains what
    // the kernel held and then meets the end of the connection.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "the dropped socket is still open");
        match stalled.next_frame(WAIT).await {
            Ok(Incoming::Close(code, _)) => {
                assert!(code == 1008 || code == 1006, "closed with {code}");
                break;
            }
            Ok(_) => continue,
            Err(_) => break, // reset or truncated mid-frame: closed all the same
        }
    }

    // Exactly one log line for the drop.
    let lines = log_lines_with(&logs, &["closing slow consumer", &stalled_id]);
    assert_eq!(lines.len(), 1, "{lines:#?}");

    // The reading client got every event, in order, and is still served.
    until("the reader to get every event", || reader.seq_stats().last == Some(sent + 1)).await;
    assert_eq!(reader.seq_stats().gaps, 0);
    assert!(!reader.is_closed());
    assert_eq!(reader.request("health", json!({})).await.unwrap()["ok"], true);
}

// ---- broadcast seq ------------------------------------------------------------------------

/// Broadcast frames are serialized once and shared; each connection still numbers its events
/// from 1 without gaps, whatever it received before (a guard for the shared-frame path; the
/// old per-connection rendering already did this).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_broadcast_frames_keep_each_connections_own_seq() {
    let gw = TestGateway::start().await.unwrap();
    let (a, a_id) = operator_with_id(&gw).await;
    // A gets two events of its own before anyone else is there.
    assert!(gw.state.hub.send_to(&a_id, events::CHAT, &json!({"own": 1})));
    assert!(gw.state.hub.send_to(&a_id, events::CHAT, &json!({"own": 2})));
    let (b, b_id) = operator_with_id(&gw).await;
    for i in 0..50 {
        gw.state.hub.broadcast(events::CHAT, &json!({"i": i}));
    }
    let (c, _) = operator_with_id(&gw).await;
    // A targeted event carries no seq and does not move B's numbering.
    let b_conn = gw.state.hub.get(&b_id).unwrap();
    assert!(b_conn.send_targeted(events::CHAT, &json!({"targeted": true})));
    for i in 50..100 {
        gw.state.hub.broadcast(events::CHAT, &json!({"i": i}));
    }

    for (client, first_i, own, total) in [(&a, 0, 2, 102u64), (&b, 0, 0, 100), (&c, 50, 0, 50)] {
        until("every event", || client.seq_stats().last == Some(total)).await;
        let events: Vec<_> = client.drain_events().into_iter().filter(|e| e.event == events::CHAT).collect();
        let numbered: Vec<_> = events.iter().filter(|e| e.seq.is_some()).collect();
        assert_eq!(numbered.iter().map(|e| e.seq.unwrap()).collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>());
        let broadcasts: Vec<i64> = numbered.iter().skip(own).map(|e| e.payload.as_ref().unwrap()["i"].as_i64().unwrap()).collect();
        assert_eq!(broadcasts, (first_i..100).collect::<Vec<i64>>());
        assert_eq!(client.seq_stats().gaps, 0);
    }
    let targeted: Vec<_> = b.drain_events();
    assert!(targeted.is_empty(), "already drained");
}

// ---- case 12c: presence fan-out -----------------------------------------------------------

fn presence_events(client: &GatewayClient) -> Vec<Value> {
    client
        .drain_events()
        .into_iter()
        .filter(|e| e.event == events::PRESENCE)
        .map(|e| json!({"payload": e.payload, "version": e.state_version.map(|v| v.presence)}))
        .collect()
}

/// Case 12c of issue 10: a burst of presence changes costs one broadcast of the final list,
/// not one full list per change to every operator (on 7f29638 this reader got 100 events).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_presence_changes_is_one_broadcast() {
    let gw = TestGateway::start().await.unwrap();
    let (reader, _) = gw.operator(&[READ]).await.unwrap();
    let version_before = gw.state.hub.state_version().presence;
    for _ in 0..100 {
        presence::broadcast_presence(&gw.state);
    }
    until("the coalesced presence event", || reader.seq_stats().last.is_some()).await;
    // Long enough for a second broadcast to have gone out, had there been one.
    tokio::time::sleep(presence::PRESENCE_COALESCE * 3).await;
    let got = presence_events(&reader);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["version"], json!(version_before + 1));
    assert_eq!(gw.state.hub.state_version().presence, version_before + 1);
}

/// Devices connecting together are all in the presence list readers end up with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalesced_presence_lists_every_device_that_connected() {
    let gw = TestGateway::start().await.unwrap();
    let (reader, _) = gw.operator(&[READ]).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let mut opts = gw.operator_opts(&[READ]).with_device(pincer_client::DeviceIdentity::generate());
        opts.display_name = Some(format!("device-{i}"));
        tasks.spawn(async move { GatewayClient::connect(opts).await.map(|(c, _)| c) });
    }
    let mut devices = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        devices.push(joined.unwrap().unwrap());
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        seen.extend(presence_events(&reader));
        let listed = seen.last().and_then(|e| e["payload"]["presence"].as_array().map(|p| p.len())).unwrap_or(0);
        // The gateway's own row plus one per device.
        if listed == 21 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "last presence lists {listed} rows: {:#?}", seen.last());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(devices);
}
