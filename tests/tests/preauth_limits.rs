//! What reaches the gateway before a client authenticates (issue 10, cases 6–9), over real
//! sockets: the pre-auth read budget, connection caps and the header-read timeout, the
//! failed-auth rate limit behind proxies, and the Host check against DNS rebinding.
//!
//! Each test reproduces an attack that worked against 7f29638.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_client::{ClientError, ConnectOptions, ErrorShape, GatewayClient};
use pincer_protocol::scopes::READ;
use pincer_tests::{TestGateway, TestGatewayOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for anything a test waits on; passing tests finish far sooner.
const WAIT: Duration = Duration::from_secs(5);
/// Longer than the 15 s pre-auth handshake budget: what 7f29638 took to close a socket that
/// was still sending its (never finished) first message.
const PAST_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
const MIB: usize = 1024 * 1024;

async fn gateway_with(config: Value) -> TestGateway {
    TestGateway::start_with(TestGatewayOptions { config: Some(config), ..Default::default() }).await.expect("start gateway")
}

async fn rejected(opts: ConnectOptions) -> ErrorShape {
    match GatewayClient::connect(opts).await {
        Err(ClientError::Rejected { error, .. }) => error,
        Err(other) => panic!("expected a rejected connect, got {other}"),
        Ok(_) => panic!("expected a rejected connect, got hello-ok"),
    }
}

fn detail_code(e: &ErrorShape) -> String {
    e.details.as_ref().and_then(|d| d["code"].as_str()).unwrap_or_default().to_string()
}

// ---- a minimal WebSocket client over raw TCP (to send half a frame) ---------------------------

/// Open a TCP socket and complete the WebSocket upgrade by hand.
async fn ws_upgrade(gw: &TestGateway) -> TcpStream {
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        gw.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tokio::time::timeout(WAIT, tcp.read_exact(&mut byte)).await.expect("upgrade response").unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    tcp
}

/// Read one server frame (unmasked): `(opcode, payload)`.
async fn read_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    tcp.read_exact(&mut h).await.unwrap();
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            tcp.read_exact(&mut l).await.unwrap();
            u16::from_be_bytes(l) as usize
        }
        127 => {
            let mut l = [0u8; 8];
            tcp.read_exact(&mut l).await.unwrap();
            u64::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.unwrap();
    (h[0] & 0x0f, payload)
}

/// Frames until a close frame: its code and reason.
async fn read_until_close(tcp: &mut TcpStream) -> (u16, String) {
    loop {
        let (opcode, payload) = read_frame(tcp).await;
        if opcode == 0x8 {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            return (code, String::from_utf8_lossy(&payload[2..]).into_owned());
        }
    }
}

/// The header of a masked (all-zero mask: the payload goes out as is) text frame of `len` bytes.
fn text_frame_header(len: u64) -> Vec<u8> {
    let mut h = vec![0x81, 0x80 | 127];
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    h
}

// ---- case 6: pre-auth memory ------------------------------------------------------------------

/// A 24 MiB first message: the gateway stops reading after its pre-auth budget and closes with
/// 1009 at once. 7f29638 kept buffering towards the whole 24 MiB (here: waited for the rest
/// until the handshake timeout closed it with 1000 "handshake timeout").
#[tokio::test]
async fn a_24_mib_preauth_message_is_refused_after_the_read_budget_not_buffered() {
    let gw = TestGateway::start().await.unwrap();
    let mut tcp = ws_upgrade(&gw).await;
    let (opcode, challenge) = read_frame(&mut tcp).await;
    assert_eq!(opcode, 0x1);
    assert!(String::from_utf8_lossy(&challenge).contains("connect.challenge"));

    // Announce 24 MiB, send 256 KiB of it (twice the budget; fits in socket buffers).
    tcp.write_all(&text_frame_header(24 * MIB as u64)).await.unwrap();
    tcp.write_all(&vec![b' '; 256 * 1024]).await.unwrap();
    let (code, reason) = tokio::time::timeout(PAST_HANDSHAKE_TIMEOUT, read_until_close(&mut tcp)).await.expect("a close frame");
    assert_eq!((code, reason.as_str()), (1009, "preauth payload too large"));

    // The server no longer reads: the rest of the 24 MiB cannot be delivered.
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 256 * 1024;
    while sent < 24 * MIB {
        match tokio::time::timeout(WAIT, tcp.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(_)) | Err(_) => break,
        }
    }
    assert!(sent < 24 * MIB, "the gateway kept accepting the 24 MiB message");
}

/// A handful of sockets each sending a whole 24 MiB first message at once: the process's peak
/// memory barely moves (7f29638 buffered every one: 6 × 24 MiB and more).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_24_mib_preauth_messages_leave_peak_memory_bounded() {
    let gw = TestGateway::start().await.unwrap();
    let payload = std::sync::Arc::new(vec![b' '; 24 * MIB]);
    let hwm_before = pincer_tests::procfs::read_process(std::process::id()).unwrap().hwm_kib;
    let mut senders = Vec::new();
    for _ in 0..6 {
        let mut tcp = ws_upgrade(&gw).await;
        let _challenge = read_frame(&mut tcp).await;
        let payload = payload.clone();
        senders.push(tokio::spawn(async move {
            let _ = tcp.write_all(&text_frame_header(payload.len() as u64)).await;
            // Errors are expected: the gateway closes once the budget is spent.
            let _ = tokio::time::timeout(PAST_HANDSHAKE_TIMEOUT, tcp.write_all(&payload)).await;
            let _ = tokio::time::timeout(WAIT, read_until_close(&mut tcp)).await;
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let hwm_after = pincer_tests::procfs::read_process(std::process::id()).unwrap().hwm_kib;
    let grew_mib = hwm_after.saturating_sub(hwm_before) / 1024;
    assert!(grew_mib < 48, "peak RSS grew by {grew_mib} MiB for 6 unauthenticated 24 MiB messages");
    // And the gateway still serves.
    let client = gw.admin().await.unwrap();
    assert_eq!(client.request("health", json!({})).await.unwrap()["ok"], true);
}

// ---- case 7: the rate limit behind a proxy ----------------------------------------------------

fn rate_limited_config(extra: Value) -> Value {
    let mut config = json!({"gateway": {"auth": {"rateLimit": {"maxAttempts": 3, "windowMs": 60000, "lockoutMs": 300000}}}});
    if let (Some(gw), Some(extra)) = (config["gateway"].as_object_mut(), extra.as_object()) {
        gw.extend(extra.clone());
    }
    config
}

/// A client that came through a proxy (here: loopback socket + `X-Forwarded-For`) is not
/// loopback-exempt. 7f29638 let it guess forever.
#[tokio::test]
async fn forwarded_clients_from_loopback_are_rate_limited() {
    let gw = gateway_with(rate_limited_config(json!({}))).await;
    let proxied = |token: &str| {
        let mut o = gw.operator_opts(&[READ]).with_header("X-Forwarded-For", "203.0.113.7");
        o.token = Some(token.into());
        o
    };
    for attempt in 1..=3 {
        assert_eq!(detail_code(&rejected(proxied("guess")).await), "AUTH_TOKEN_MISMATCH", "attempt {attempt}");
    }
    let locked = rejected(proxied(&gw.token)).await;
    assert_eq!(detail_code(&locked), "AUTH_RATE_LIMITED");
    // A direct loopback client is still exempt (gateway.auth.rateLimit.exemptLoopback).
    GatewayClient::connect(gw.operator_opts(&[READ])).await.expect("direct loopback client");
}

/// Behind a trusted proxy each client is limited by the address the proxy reports, not the
/// proxy's own (which would lock everyone out at once).
#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_limited_on_its_own() {
    let gw = gateway_with(rate_limited_config(json!({"trustedProxies": ["127.0.0.1"]}))).await;
    let via_proxy = |client: &str, token: &str| {
        // The client may prepend anything; the trusted proxy appends the real peer.
        let mut o = gw.operator_opts(&[READ]).with_header("X-Forwarded-For", format!("10.9.9.9, {client}"));
        o.token = Some(token.into());
        o
    };
    for _ in 0..3 {
        assert_eq!(detail_code(&rejected(via_proxy("198.51.100.1", "guess")).await), "AUTH_TOKEN_MISMATCH");
    }
    assert_eq!(detail_code(&rejected(via_proxy("198.51.100.1", &gw.token)).await), "AUTH_RATE_LIMITED");
    GatewayClient::connect(via_proxy("198.51.100.2", &gw.token)).await.expect("another client behind the proxy");
}

// ---- case 8: DNS rebinding --------------------------------------------------------------------

/// A page on evil.example rebound to 127.0.0.1: its Origin matches the Host it sends, but that
/// Host is not the gateway's. 7f29638 took it as same-origin and let it in.
#[tokio::test]
async fn a_rebound_page_is_refused_by_its_host() {
    let gw = TestGateway::start().await.unwrap();
    let authority = format!("evil.example:{}", gw.addr.port());
    let opts = gw.operator_opts(&[READ]).with_header("Host", &authority).with_header("Origin", format!("http://{authority}"));
    let error = rejected(opts).await;
    assert_eq!(detail_code(&error), "CONTROL_UI_ORIGIN_NOT_ALLOWED");
    assert_eq!(error.details.as_ref().unwrap()["reason"], "host not allowed");
    // The same page through the gateway's own loopback name is fine.
    let own = format!("127.0.0.1:{}", gw.addr.port());
    let opts = gw.operator_opts(&[READ]).with_header("Origin", format!("http://{own}"));
    GatewayClient::connect(opts).await.expect("same-origin page on the loopback address");
}

// ---- case 9: slowloris and connection caps ----------------------------------------------------

/// Read until the peer closes; `true` if it did within `wait`.
async fn closed_by_peer(tcp: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn healthz(gw: &TestGateway) -> String {
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut response)).await.expect("healthz answered").unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// A client that never finishes its request headers is disconnected.
#[tokio::test]
async fn a_slowloris_client_is_disconnected_at_the_header_read_timeout() {
    let gw = gateway_with(json!({"gateway": {"connections": {"headerReadTimeoutMs": 300}}})).await;
    let mut slow = TcpStream::connect(gw.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
    assert!(closed_by_peer(&mut slow, WAIT).await, "a half-sent request kept its socket");
    let mut silent = TcpStream::connect(gw.addr).await.unwrap();
    assert!(closed_by_peer(&mut silent, WAIT).await, "a silent socket kept its place");
}

/// More idle sockets than the unauthenticated cap: the oldest are evicted and `/healthz` keeps
/// answering; authenticated clients are never evicted.
#[tokio::test]
async fn healthz_answers_while_idle_sockets_exceed_the_unauthenticated_cap() {
    let gw = gateway_with(json!({"gateway": {"connections": {"maxUnauthenticated": 8, "headerReadTimeoutMs": 60000}}})).await;
    let client = gw.admin().await.unwrap();
    let mut idle = Vec::new();
    for _ in 0..40 {
        let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        idle.push(tcp);
    }
    for _ in 0..3 {
        let response = healthz(&gw).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with(r#"{"ok":true,"status":"live"}"#), "{response}");
    }
    // All but the newest few idle sockets were closed by the gateway.
    let mut closed = 0;
    for tcp in &mut idle {
        if closed_by_peer(tcp, Duration::from_millis(200)).await {
            closed += 1;
        }
    }
    assert!(closed >= 40 - 8, "only {closed} of 40 idle sockets were evicted");
    assert!(!client.is_closed(), "an authenticated client was evicted");
    assert_eq!(client.request("health", json!({})).await.unwrap()["ok"], true);
}
