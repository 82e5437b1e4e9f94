//! GatewayClient and RawSocket against a scripted in-test server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use pincer_client::{ClientError, ConnectOptions, DeviceIdentity, GatewayClient, Incoming, RawSocket};
use pincer_protocol::device::{verify_connect_signature, PayloadVersion, SignedFields};
use pincer_protocol::error::ErrorCode;
use pincer_protocol::Frame;
use serde_json::{json, Value};

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(5);

fn opts(url: &str) -> ConnectOptions {
    ConnectOptions::operator(url, "T0k", &["operator.read"])
}

#[tokio::test]
async fn handshake_signs_the_challenge_and_returns_hello_ok() {
    let (url, server) = serve_one(|mut ws, _| async move {
        let req = accept_connect(&mut ws).await;
        // Keep the socket open until the client is done.
        let _ = recv(&mut ws).await;
        req
    })
    .await;
    let identity = DeviceIdentity::generate();
    let device_id = identity.device_id();
    let options =
        ConnectOptions::new(&url).with_device(identity).with_device_token("dev-tok").with_scopes(&["operator.read", "operator.write"]);
    let (client, hello) = GatewayClient::connect(options).await.unwrap();
    assert_eq!(hello.server.conn_id, "conn-1");
    assert_eq!(hello.protocol, 4);
    assert_eq!(client.challenge().nonce, NONCE);
    assert!(client.timings().total() > Duration::ZERO);
    client.send_raw_text("{}").await.unwrap();

    let req = server.await.unwrap();
    let p = &req["params"];
    assert_eq!(p["minProtocol"], 4);
    assert_eq!(p["auth"], json!({"deviceToken": "dev-tok"}));
    let d = &p["device"];
    assert_eq!(d["id"], device_id.as_str());
    assert_eq!(d["signedAt"], TS, "signedAt must be the challenge ts, not the local clock");
    assert_eq!(d["nonce"], NONCE);
    let scopes: Vec<String> = serde_json::from_value(p["scopes"].clone()).unwrap();
    let fields = SignedFields {
        device_id: &device_id,
        client_id: p["client"]["id"].as_str().unwrap(),
        client_mode: p["client"]["mode"].as_str().unwrap(),
        role: p["role"].as_str().unwrap(),
        scopes: &scopes,
        signed_at_ms: TS,
        token: "dev-tok",
        nonce: NONCE,
        platform: p["client"]["platform"].as_str().unwrap(),
        device_family: p["client"]["deviceFamily"].as_str().unwrap(),
    };
    let verified = verify_connect_signature(d["publicKey"].as_str().unwrap(), d["signature"].as_str().unwrap(), &fields);
    assert_eq!(verified, Ok(PayloadVersion::V3));
}

#[tokio::test]
async fn missing_challenge_is_an_error_after_the_challenge_timeout() {
    let (url, _server) = serve_one(|mut ws, _| async move {
        // Say nothing; wait for the client to give up.
        let _ = futures_util::StreamExt::next(&mut ws).await;
    })
    .await;
    let mut o = opts(&url);
    o.challenge_timeout = SHORT;
    let started = std::time::Instant::now();
    let err = GatewayClient::connect(o).await.unwrap_err();
    assert!(matches!(err, ClientError::ChallengeMissing), "{err:?}");
    assert!(started.elapsed() < LONG);
}

#[tokio::test]
async fn close_before_the_challenge_reports_the_close() {
    let (url, _server) = serve_one(|mut ws, _| async move { close(&mut ws, 1013, "try again later").await }).await;
    let err = GatewayClient::connect(opts(&url)).await.unwrap_err();
    assert_eq!(err.close(), Some((1013, "try again later")), "{err:?}");
}

#[tokio::test]
async fn rejection_carries_the_error_and_the_close_that_follows() {
    let (url, _server) = serve_one(|mut ws, _| async move {
        send_challenge(&mut ws).await;
        let req = recv(&mut ws).await;
        let error = json!({"code":"NOT_PAIRED","message":"pairing required: device is not approved yet",
            "details":{"code":"PAIRING_REQUIRED","requestId":"r-1"}});
        send(&mut ws, json!({"type":"res","id":req["id"],"ok":false,"error":error})).await;
        close(&mut ws, 1008, "pairing required: not-paired (requestId: r-1)").await;
    })
    .await;
    let err = GatewayClient::connect(opts(&url)).await.unwrap_err();
    match err {
        ClientError::Rejected { error, close } => {
            assert_eq!(error.code, ErrorCode::NotPaired);
            assert_eq!(error.details.unwrap()["requestId"], "r-1");
            assert_eq!(close, Some((1008, "pairing required: not-paired (requestId: r-1)".to_string())));
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn rejection_without_a_close_gives_up_after_the_grace() {
    let (url, _server) = serve_one(|mut ws, _| async move {
        send_challenge(&mut ws).await;
        let req = recv(&mut ws).await;
        let error = json!({"code":"UNAVAILABLE","message":"gateway starting; retry shortly","retryable":true,"retryAfterMs":500});
        send(&mut ws, json!({"type":"res","id":req["id"],"ok":false,"error":error})).await;
        let _ = futures_util::StreamExt::next(&mut ws).await;
    })
    .await;
    let mut o = opts(&url);
    o.reject_close_grace = SHORT;
    let err = GatewayClient::connect(o).await.unwrap_err();
    assert!(err.is_retryable());
    assert!(matches!(err, ClientError::Rejected { close: None, .. }), "{err:?}");
}

#[tokio::test]
async fn concurrent_requests_are_matched_by_id_whatever_the_answer_order() {
    const N: usize = 64;
    let (url, server) = serve_one(|mut ws, _| async move {
        accept_connect(&mut ws).await;
        let mut reqs = Vec::new();
        for _ in 0..N {
            reqs.push(recv(&mut ws).await);
        }
        let ids: HashSet<String> = reqs.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(ids.len(), N, "request ids must be unique");
        // Answer in reverse order, echoing the params.
        for r in reqs.iter().rev() {
            send(&mut ws, json!({"type":"res","id":r["id"],"ok":true,"payload":{"echo":r["params"]}})).await;
        }
        let _ = recv(&mut ws).await;
    })
    .await;
    let (client, _) = GatewayClient::connect(opts(&url)).await.unwrap();
    let calls = (0..N).map(|i| {
        let c = client.clone();
        async move { (i, c.request("echo", json!({"i": i})).await) }
    });
    for (i, result) in futures_util::future::join_all(calls).await {
        assert_eq!(result.unwrap(), json!({"echo": {"i": i}}));
    }
    client.send_raw_text("{}").await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn server_errors_and_timeouts_leave_the_connection_usable() {
    let (url, _server) = serve_one(|mut ws, _| async move {
        accept_connect(&mut ws).await;
        let mut slow_id = Value::Null;
        loop {
            let r = recv(&mut ws).await;
            match r["method"].as_str().unwrap() {
                "fail" => {
                    let error = json!({"code":"INVALID_REQUEST","message":"missing scope: operator.write",
                        "details":{"code":"MISSING_SCOPE","missingScope":"operator.write"}});
                    send(&mut ws, json!({"type":"res","id":r["id"],"ok":false,"error":error})).await;
                }
                "slow" => slow_id = r["id"].clone(),
                _ => {
                    // Answer the abandoned request late: the client must ignore it.
                    send(&mut ws, json!({"type":"res","id":slow_id,"ok":true,"payload":"late"})).await;
                    send(&mut ws, json!({"type":"res","id":r["id"],"ok":true})).await;
                }
            }
        }
    })
    .await;
    let (client, _) = GatewayClient::connect(opts(&url)).await.unwrap();
    let err = client.request("fail", json!({})).await.unwrap_err();
    let shape = err.error_shape().unwrap();
    assert_eq!(shape.code, ErrorCode::InvalidRequest);
    assert_eq!(shape.message, "missing scope: operator.write");

    let err = client.request_with_timeout("slow", json!({}), SHORT).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");

    // ok:true without payload is null.
    assert_eq!(client.request("ping", json!({})).await.unwrap(), Value::Null);
}

#[tokio::test]
async fn call_sends_typed_params_and_decodes_the_typed_result() {
    use pincer_protocol::nodes::{NodeInvokeCancelParams, NodeInvokeCancelResult};
    let (url, _server) = serve_one(|mut ws, _| async move {
        accept_connect(&mut ws).await;
        let r = recv(&mut ws).await;
        // The params went out exactly as the type serializes them: absent fields left out.
        assert_eq!(r["params"], json!({"invokeId": "inv-1"}));
        send(&mut ws, json!({"type":"res","id":r["id"],"ok":true,"payload":{"ok":true,"cancelled":false,"later":1}})).await;
        let r = recv(&mut ws).await;
        send(&mut ws, json!({"type":"res","id":r["id"],"ok":true,"payload":{"ok":"yes"}})).await;
        let _ = recv(&mut ws).await;
    })
    .await;
    let (client, _) = GatewayClient::connect(opts(&url)).await.unwrap();
    let params = NodeInvokeCancelParams { invoke_id: Some("inv-1".into()), id: None, extra: Default::default() };
    let result: NodeInvokeCancelResult = client.call("node.invoke.cancel", &params).await.unwrap();
    assert!(result.ok && !result.cancelled);
    assert_eq!(result.extra["later"], 1, "a newer gateway's fields are kept");

    let err = client.call::<_, NodeInvokeCancelResult>("node.invoke.cancel", &params).await.unwrap_err();
    match err {
        ClientError::Protocol(message) => assert!(message.starts_with("unexpected node.invoke.cancel result"), "{message}"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn wait_event_skips_others_but_keeps_them_and_tracks_seq() {
    let (url, _server) = serve_one(|mut ws, _| async move {
        accept_connect(&mut ws).await;
        let _go = recv(&mut ws).await;
        for (name, seq) in [("a", 1), ("b", 2), ("c", 4)] {
            send(&mut ws, json!({"type":"event","event":name,"payload":{"n":seq},"seq":seq})).await;
        }
        let _ = recv(&mut ws).await;
    })
    .await;
    let (client, _) = GatewayClient::connect(opts(&url)).await.unwrap();
    let mut live = client.events();
    client.send_raw_text("{}").await.unwrap();

    let b = client.wait_event("b", LONG).await.unwrap();
    assert_eq!(b.seq, Some(2));
    // "a" arrived first and was skipped, but is still there.
    let a = client.wait_event("a", LONG).await.unwrap();
    assert_eq!(a.payload, Some(json!({"n": 1})));
    let c = client.next_event(LONG).await.unwrap();
    assert_eq!(c.event, "c");
    assert!(matches!(client.next_event(SHORT).await, Err(ClientError::Timeout { .. })));

    let stats = client.seq_stats();
    assert_eq!(stats.last, Some(4));
    assert_eq!(stats.gaps, 1, "3 is missing");
    // Live subscribers saw all three in order too.
    for name in ["a", "b", "c"] {
        assert_eq!(live.recv().await.unwrap().event, name);
    }
}

#[tokio::test]
async fn server_close_fails_pending_requests_and_resolves_closed() {
    let (url, _server) = serve_one(|mut ws, _| async move {
        accept_connect(&mut ws).await;
        let _req = recv(&mut ws).await;
        send(&mut ws, json!({"type":"event","event":"shutdown","payload":{"reason":"gateway stopping"},"seq":1})).await;
        close(&mut ws, 1012, "service restart").await;
    })
    .await;
    let (client, _) = GatewayClient::connect(opts(&url)).await.unwrap();
    let err = client.request("health", json!({})).await.unwrap_err();
    assert_eq!(err.close(), Some((1012, "service restart")), "{err:?}");
    assert_eq!(client.wait_closed(LONG).await.unwrap(), (1012, "service restart".to_string()));
    assert!(client.is_closed());
    // Events that arrived before the close are still readable; then waiting reports the close.
    assert_eq!(client.wait_event("shutdown", LONG).await.unwrap().event, "shutdown");
    let err = client.wait_event("never", LONG).await.unwrap_err();
    assert!(matches!(err, ClientError::Closed { code: 1012, .. }), "{err:?}");
    let err = client.request("health", json!({})).await.unwrap_err();
    assert!(matches!(err, ClientError::Closed { code: 1012, .. }), "{err:?}");
}

#[tokio::test]
async fn extra_headers_reach_the_server() {
    let (url, server) = serve_one(|mut ws, headers| async move {
        accept_connect(&mut ws).await;
        headers.get("origin").map(|v| v.to_str().unwrap().to_string())
    })
    .await;
    let o = opts(&url).with_header("Origin", "http://127.0.0.1:18789");
    let (_client, _) = GatewayClient::connect(o).await.unwrap();
    assert_eq!(server.await.unwrap().as_deref(), Some("http://127.0.0.1:18789"));
}

#[tokio::test]
async fn connection_refused_is_an_error_not_a_panic() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = GatewayClient::connect(opts(&format!("ws://127.0.0.1:{port}"))).await.unwrap_err();
    assert!(matches!(err, ClientError::Ws(_)), "{err:?}");
    let err = GatewayClient::connect(opts("http://not-a-ws-url")).await.unwrap_err();
    assert!(matches!(err, ClientError::InvalidUrl(_)), "{err:?}");
}

#[tokio::test]
async fn raw_socket_sees_frames_invalid_text_and_the_close() {
    let (url, _server) = serve_one(|mut ws, _| async move {
        send_challenge(&mut ws).await;
        let first = recv(&mut ws).await;
        assert_eq!(first["method"], "health");
        let error = json!({"code":"INVALID_REQUEST","message":"invalid handshake: first request must be connect"});
        send(&mut ws, json!({"type":"res","id":first["id"],"ok":false,"error":error})).await;
        ws_send_text(&mut ws, "not json").await;
        close(&mut ws, 1008, "invalid handshake: first request must be connect").await;
    })
    .await;
    let mut raw = RawSocket::open(&url, &[]).await.unwrap();
    let challenge = raw.expect_challenge(LONG).await.unwrap();
    assert_eq!((challenge.nonce.as_str(), challenge.ts), (NONCE, TS));
    let id = raw.send_request("health", json!({})).await.unwrap();
    match raw.next_frame(LONG).await.unwrap() {
        Incoming::Frame(Frame::Res(res)) => {
            assert_eq!(res.id, id);
            assert!(!res.ok);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(raw.next_frame(LONG).await.unwrap(), Incoming::Invalid("not json".into()));
    let reason = "invalid handshake: first request must be connect".to_string();
    assert_eq!(raw.next_frame(LONG).await.unwrap(), Incoming::Close(1008, reason.clone()));
    // The close is sticky.
    assert_eq!(raw.next_frame(SHORT).await.unwrap(), Incoming::Close(1008, reason));
}

#[tokio::test]
async fn raw_handshake_returns_the_connect_response() {
    let (url, _server) = serve_one(|mut ws, _| async move {
        accept_connect(&mut ws).await;
        let _ = recv(&mut ws).await;
    })
    .await;
    let mut raw = RawSocket::open(&url, &[]).await.unwrap();
    let res = raw.handshake(&opts(&url)).await.unwrap();
    assert!(res.ok);
    assert_eq!(res.payload.unwrap()["type"], "hello-ok");
    assert!(matches!(raw.next_frame(SHORT).await, Err(ClientError::Timeout { .. })));
}

async fn ws_send_text(ws: &mut ServerWs, text: &str) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text(text.to_string())).await.unwrap();
}

#[tokio::test]
async fn dropping_the_last_handle_closes_normally() {
    let (url, server) = serve_one(|mut ws, _| async move {
        accept_connect(&mut ws).await;
        loop {
            match futures_util::StreamExt::next(&mut ws).await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await;
    let (client, _) = GatewayClient::connect(opts(&url)).await.unwrap();
    let clone = client.clone();
    drop(client);
    // Still open while a clone lives.
    clone.send_raw_text("{}").await.unwrap();
    drop(clone);
    let code = tokio::time::timeout(LONG, server).await.unwrap().unwrap();
    assert_eq!(code, Some(1000));
}

#[tokio::test]
async fn wss_to_a_plain_server_fails_cleanly() {
    // Exercises the TLS path (crypto provider, native roots) without a certificate: the
    // handshake must fail with an error, not panic.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        use tokio::io::AsyncWriteExt;
        let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    });
    let mut o = opts(&format!("wss://127.0.0.1:{port}"));
    o.connect_timeout = LONG;
    let err = GatewayClient::connect(o).await.unwrap_err();
    assert!(matches!(err, ClientError::Ws(_) | ClientError::Io(_)), "{err:?}");
}
