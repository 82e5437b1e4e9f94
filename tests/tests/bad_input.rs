//! Bad input over real sockets: garbage and malformed frames, oversize frames, protocol
//! misuse before and after `connect`, invalid connect and method params. Every test also
//! checks that another, already-connected client keeps being served, i.e. one bad client
//! cannot take the gateway down.
//!
//! Expected behaviour is the real OpenClaw 2026.9.6 gateway's (`openclaw-shapes.md` §12),
//! except where Pincer answers instead of staying silent (malformed JSON / binary frames
//! after hello get an `INVALID_FRAME` error response) and accepts `cancel` frames.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_client::{ClientError, ConnectOptions, ErrorShape, Frame, GatewayClient, Incoming, RawSocket, ResponseFrame};
use pincer_protocol::scopes::{ADMIN, APPROVALS, PAIRING, READ, WRITE};
use pincer_tests::TestGateway;
use serde_json::{json, Value};

/// Upper bound for anything a test waits on; passing tests finish far sooner.
const WAIT: Duration = Duration::from_secs(5);
const ALL_SCOPES: [&str; 5] = [ADMIN, READ, WRITE, APPROVALS, PAIRING];

// ---- helpers ------------------------------------------------------------------------------

/// A gateway plus a connected bystander client.
async fn gateway_and_bystander() -> (TestGateway, GatewayClient) {
    let gw = TestGateway::start().await.expect("start gateway");
    let bystander = gw.admin().await.expect("bystander connects");
    (gw, bystander)
}

/// The other client is still served.
async fn assert_still_served(bystander: &GatewayClient) {
    assert!(!bystander.is_closed(), "bystander was disconnected: {:?}", bystander.close_info());
    let health = bystander.request("health", json!({})).await.expect("bystander health");
    assert_eq!(health["ok"], true, "{health}");
}

/// A raw socket that has completed the handshake with `scopes`.
async fn raw_connected(gw: &TestGateway, scopes: &[&str]) -> RawSocket {
    let mut raw = RawSocket::open(&gw.url(), &[]).await.unwrap();
    let res = raw.handshake(&gw.operator_opts(scopes)).await.unwrap();
    assert!(res.ok, "handshake failed: {res:?}");
    raw
}

/// A raw socket that has read its challenge and sent nothing.
async fn raw_pre_connect(gw: &TestGateway) -> RawSocket {
    let mut raw = RawSocket::open(&gw.url(), &[]).await.unwrap();
    raw.expect_challenge(WAIT).await.unwrap();
    raw
}

/// Read until the server closes; no response may come first.
async fn expect_close_without_response(raw: &mut RawSocket) -> (u16, String) {
    loop {
        match raw.next_frame(WAIT).await.unwrap() {
            Incoming::Close(code, reason) => return (code, reason),
            Incoming::Frame(Frame::Res(res)) => panic!("expected a close without a response, got {res:?}"),
            _ => continue,
        }
    }
}

/// The next response frame (events skipped), whatever its id.
async fn next_response(raw: &mut RawSocket) -> ResponseFrame {
    loop {
        match raw.next_frame(WAIT).await.unwrap() {
            Incoming::Frame(Frame::Res(res)) => return res,
            Incoming::Close(code, reason) => panic!("connection closed ({code} {reason:?}) while waiting for a response"),
            _ => continue,
        }
    }
}

fn res_error(res: &ResponseFrame) -> &ErrorShape {
    assert!(!res.ok, "expected ok:false, got {res:?}");
    res.error.as_ref().expect("ok:false response carries an error")
}

/// The raw socket is still open and served: a `health` request gets its answer.
async fn assert_raw_served(raw: &mut RawSocket) {
    let id = raw.send_request("health", json!({})).await.unwrap();
    let res = raw.expect_response(&id, WAIT).await.unwrap();
    assert!(res.ok, "health after bad input: {res:?}");
    assert!(raw.close_info().is_none());
}

/// Connect and expect a rejection followed by the server's close.
async fn rejected(opts: ConnectOptions) -> (ErrorShape, (u16, String)) {
    match GatewayClient::connect(opts).await {
        Err(ClientError::Rejected { error, close }) => (error, close.expect("the gateway closes after rejecting connect")),
        Err(other) => panic!("expected a rejected connect, got {other}"),
        Ok(_) => panic!("expected a rejected connect, got hello-ok"),
    }
}

async fn call_err(client: &GatewayClient, method: &str, params: Value) -> ErrorShape {
    match client.request(method, params).await {
        Err(ClientError::Server(e)) => e,
        Err(other) => panic!("{method}: expected an error response, got {other}"),
        Ok(v) => panic!("{method}: expected an error response, got {v}"),
    }
}

// ---- malformed JSON ------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_before_connect_closes_1000() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_pre_connect(&gw).await;
    raw.send_text("{\"type\":\"req\",").await.unwrap();
    let (code, _) = expect_close_without_response(&mut raw).await;
    assert_eq!(code, 1000);
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn malformed_json_after_connect_is_answered_and_the_socket_stays_open() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_connected(&gw, &[READ]).await;
    raw.send_text("{this is not json").await.unwrap();
    let res = next_response(&mut raw).await;
    assert_eq!(res.id, "invalid");
    let error = res_error(&res);
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert!(error.message.starts_with("invalid frame: malformed JSON"), "{error:?}");
    assert_eq!(error.details.as_ref().unwrap()["code"], "INVALID_FRAME");
    assert_raw_served(&mut raw).await;
    assert_still_served(&bystander).await;
}

// ---- unknown / invalid frames --------------------------------------------------------------

#[tokio::test]
async fn unknown_frame_type_after_connect_is_an_invalid_request_frame() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_connected(&gw, &[READ]).await;
    raw.send_json(&json!({"type": "bogus", "id": "x"})).await.unwrap();
    let res = next_response(&mut raw).await;
    assert_eq!(res.id, "x");
    let error = res_error(&res);
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert!(error.message.starts_with("invalid request frame: "), "{error:?}");
    assert_raw_served(&mut raw).await;
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn request_without_id_after_connect_is_answered_with_id_invalid() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_connected(&gw, &[READ]).await;
    raw.send_json(&json!({"type": "req", "method": "health"})).await.unwrap();
    let res = next_response(&mut raw).await;
    assert_eq!(res.id, "invalid");
    let error = res_error(&res);
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert!(error.message.starts_with("invalid request frame: "), "{error:?}");
    assert_raw_served(&mut raw).await;
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn unknown_frame_type_before_connect_closes_1008() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_pre_connect(&gw).await;
    raw.send_json(&json!({"type": "bogus", "id": "x"})).await.unwrap();
    let close = expect_close_without_response(&mut raw).await;
    assert_eq!(close, (1008, "invalid request frame".to_string()));
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn binary_frame_after_connect_is_answered_and_the_socket_stays_open() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_connected(&gw, &[READ]).await;
    raw.send_binary(br#"{"type":"req","id":"b1","method":"health"}"#.to_vec()).await.unwrap();
    let res = next_response(&mut raw).await;
    assert_eq!(res.id, "invalid");
    let error = res_error(&res);
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert!(error.message.starts_with("invalid request frame: "), "{error:?}");
    assert_eq!(error.details.as_ref().unwrap()["code"], "INVALID_FRAME");
    assert_raw_served(&mut raw).await;
    assert_still_served(&bystander).await;
}

// ---- frame size ------------------------------------------------------------------------------

/// A `req` frame of exactly `len` bytes.
fn padded_request(id: &str, method: &str, len: usize) -> String {
    let frame = |pad: &str| format!(r#"{{"type":"req","id":"{id}","method":"{method}","params":{{"pad":"{pad}"}}}}"#);
    let skeleton = frame("").len();
    assert!(len >= skeleton);
    let text = frame(&"x".repeat(len - skeleton));
    assert_eq!(text.len(), len);
    text
}

#[tokio::test]
async fn oversized_frame_before_connect_closes_1009() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_pre_connect(&gw).await;
    raw.send_text(padded_request("big", "connect", 64 * 1024 + 1)).await.unwrap();
    let (code, _) = expect_close_without_response(&mut raw).await;
    assert_eq!(code, 1009);
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn frame_over_max_payload_before_connect_closes_1009() {
    // Beyond even the socket's 25 MiB limit, the transport itself refuses the message.
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_pre_connect(&gw).await;
    let _ = raw.send_text(padded_request("huge", "connect", 26_214_400 + 1)).await;
    let (code, _) = expect_close_without_response(&mut raw).await;
    assert_eq!(code, 1009);
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn frame_of_exactly_64_kib_before_connect_is_not_too_large() {
    // The pre-auth cap is inclusive: 65 536 bytes get past the size check and are handled
    // (here: not a connect, so the handshake error).
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_pre_connect(&gw).await;
    raw.send_text(padded_request("edge", "health", 64 * 1024)).await.unwrap();
    let res = raw.expect_response("edge", WAIT).await.unwrap();
    assert_eq!(res_error(&res).message, "invalid handshake: first request must be connect");
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn large_request_after_connect_is_served() {
    // After hello the limit is policy.maxPayload (25 MiB), not the pre-auth 64 KiB.
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_connected(&gw, &[READ]).await;
    raw.send_text(padded_request("large", "health", 100 * 1024)).await.unwrap();
    let res = raw.expect_response("large", WAIT).await.unwrap();
    assert!(res.ok, "{res:?}");
    assert_eq!(res.payload.unwrap()["ok"], true);
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn frame_over_max_payload_after_connect_closes_1009() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_connected(&gw, &[READ]).await;
    let _ = raw.send_text(padded_request("huge", "health", 26_214_400 + 1)).await;
    let (code, _) = expect_close_without_response(&mut raw).await;
    assert_eq!(code, 1009);
    assert_still_served(&bystander).await;
}

// ---- handshake misuse ---------------------------------------------------------------------

#[tokio::test]
async fn first_request_other_than_connect_is_refused_and_closed() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_pre_connect(&gw).await;
    let id = raw.send_request("health", json!({})).await.unwrap();
    let res = next_response(&mut raw).await;
    assert_eq!(res.id, id);
    let error = res_error(&res);
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert_eq!(error.message, "invalid handshake: first request must be connect");
    let close = raw.expect_close(WAIT).await.unwrap();
    assert_eq!(close, (1008, "invalid handshake: first request must be connect".to_string()));
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn idle_socket_gets_the_challenge_and_is_not_served() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut idle = raw_pre_connect(&gw).await;
    // Only the bystander is a connected client.
    let health = bystander.request("health", json!({})).await.unwrap();
    assert_eq!(health["connections"], 1, "an unauthenticated socket counts as a client: {health}");
    // A broadcast now must not reach the idle socket: when it finally connects, its first
    // frame after the challenge is the hello-ok, not the earlier event.
    bystander.request("voicewake.set", json!({"triggers": ["idle-check"]})).await.unwrap();
    bystander.wait_event("voicewake.changed", WAIT).await.unwrap();
    let opts = gw.operator_opts(&[READ]);
    let challenge = pincer_client::ConnectChallenge { nonce: String::new(), ts: 0, extra: Default::default() };
    let params = serde_json::to_value(opts.connect_params(&challenge)).unwrap();
    let id = idle.send_request("connect", params).await.unwrap();
    match idle.next_frame(WAIT).await.unwrap() {
        Incoming::Frame(Frame::Res(res)) => {
            assert_eq!(res.id, id);
            assert!(res.ok, "{res:?}");
        }
        other => panic!("the idle socket received {other:?} before its hello-ok"),
    }
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn second_connect_as_admin_is_refused_and_the_connection_stays_open() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_connected(&gw, &ALL_SCOPES).await;
    let challenge = pincer_client::ConnectChallenge { nonce: "n".into(), ts: 0, extra: Default::default() };
    let params = serde_json::to_value(gw.operator_opts(&ALL_SCOPES).connect_params(&challenge)).unwrap();
    let id = raw.send_request("connect", params).await.unwrap();
    let res = raw.expect_response(&id, WAIT).await.unwrap();
    let error = res_error(&res);
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert_eq!(error.message, "connect is only valid as the first request");
    assert_raw_served(&mut raw).await;
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn second_connect_without_admin_is_missing_admin_scope() {
    let (gw, bystander) = gateway_and_bystander().await;
    let (client, _) = GatewayClient::connect(gw.operator_opts(&[READ, WRITE])).await.unwrap();
    let e = call_err(&client, "connect", json!({})).await;
    assert_eq!(e.code.as_str(), "FORBIDDEN");
    assert_eq!(e.message, "missing scope: operator.admin");
    assert_eq!(e.details.as_ref().unwrap()["code"], "MISSING_SCOPE");
    client.request("health", json!({})).await.expect("connection stays open");
    assert_still_served(&bystander).await;
}

// ---- invalid connect params ---------------------------------------------------------------

#[tokio::test]
async fn unknown_client_id_is_invalid_connect_params() {
    let (gw, bystander) = gateway_and_bystander().await;
    let (error, close) = rejected(gw.operator_opts(&[READ]).with_client("bogus-client", "cli")).await;
    let message = "invalid connect params: at /client/id: must be equal to one of the allowed values";
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert_eq!(error.message, message);
    assert!(error.details.is_none(), "{error:?}");
    assert_eq!(close, (1008, message.to_string()));
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn unknown_client_mode_is_invalid_connect_params() {
    let (gw, bystander) = gateway_and_bystander().await;
    let (error, close) = rejected(gw.operator_opts(&[READ]).with_client("cli", "bogus-mode")).await;
    let message = "invalid connect params: at /client/mode: must be equal to one of the allowed values";
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert_eq!(error.message, message);
    assert_eq!(close, (1008, message.to_string()));
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn connect_without_client_is_invalid_connect_params() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = RawSocket::open(&gw.url(), &[]).await.unwrap();
    let challenge = raw.expect_challenge(WAIT).await.unwrap();
    let mut params = serde_json::to_value(gw.operator_opts(&[READ]).connect_params(&challenge)).unwrap();
    params.as_object_mut().unwrap().remove("client");
    let id = raw.send_request("connect", params).await.unwrap();
    let res = raw.expect_response(&id, WAIT).await.unwrap();
    let message = "invalid connect params: must have required property 'client'";
    let error = res_error(&res);
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert_eq!(error.message, message);
    assert_eq!(raw.expect_close(WAIT).await.unwrap(), (1008, message.to_string()));
    assert_still_served(&bystander).await;
}

// ---- cancel -------------------------------------------------------------------------------

#[tokio::test]
async fn cancel_of_an_in_flight_wait_decision_keeps_the_connection() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_connected(&gw, &ALL_SCOPES).await;
    // A pending approval nobody decides on: waitDecision blocks.
    let req =
        raw.send_request("exec.approval.request", json!({"command": "ls", "twoPhase": true, "requireDeliveryRoute": false})).await.unwrap();
    let accepted = raw.expect_response(&req, WAIT).await.unwrap();
    assert!(accepted.ok, "{accepted:?}");
    let approval_id = accepted.payload.unwrap()["id"].as_str().unwrap().to_string();
    let wait_id = raw.send_request("exec.approval.waitDecision", json!({"id": approval_id})).await.unwrap();
    raw.send_json(&json!({"type": "cancel", "id": wait_id})).await.unwrap();

    // The cancel is not answered with an error; the connection keeps working.
    let health = raw.send_request("health", json!({})).await.unwrap();
    let res = next_response(&mut raw).await;
    assert_eq!(res.id, health, "unexpected response after cancel: {res:?}");
    assert!(res.ok);

    // Decide the approval elsewhere; a fresh waitDecision sees it, the cancelled one never answers.
    bystander.request("exec.approval.resolve", json!({"id": approval_id, "decision": "deny"})).await.unwrap();
    let again = raw.send_request("exec.approval.waitDecision", json!({"id": approval_id})).await.unwrap();
    let res = next_response(&mut raw).await;
    assert_eq!(res.id, again, "the cancelled request was answered: {res:?}");
    assert_eq!(res.payload.unwrap()["decision"], "deny");
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn cancel_of_an_unknown_id_is_ignored() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_connected(&gw, &[READ]).await;
    raw.send_json(&json!({"type": "cancel", "id": "never-sent"})).await.unwrap();
    let health = raw.send_request("health", json!({})).await.unwrap();
    let res = next_response(&mut raw).await;
    assert_eq!(res.id, health, "a cancel was answered: {res:?}");
    assert!(res.ok);
    assert_still_served(&bystander).await;
}

// ---- invalid method params ----------------------------------------------------------------

#[tokio::test]
async fn node_invoke_without_idempotency_key_is_invalid_params() {
    let (gw, bystander) = gateway_and_bystander().await;
    let (client, _) = GatewayClient::connect(gw.operator_opts(&[READ, WRITE])).await.unwrap();
    let e = call_err(&client, "node.invoke", json!({"nodeId": "n1", "command": "system.which"})).await;
    assert_eq!(e.code.as_str(), "INVALID_REQUEST");
    assert_eq!(e.message, "invalid node.invoke params: must have required property 'idempotencyKey'");
    client.request("health", json!({})).await.unwrap();
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn logs_tail_with_limit_zero_is_invalid_params() {
    let (gw, bystander) = gateway_and_bystander().await;
    let (client, _) = GatewayClient::connect(gw.operator_opts(&[READ])).await.unwrap();
    let e = call_err(&client, "logs.tail", json!({"limit": 0})).await;
    assert_eq!(e.code.as_str(), "INVALID_REQUEST");
    assert_eq!(e.message, "invalid logs.tail params: at /limit: must be >= 1");
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn logs_tail_with_limit_above_5000_is_invalid_params() {
    let (gw, bystander) = gateway_and_bystander().await;
    let (client, _) = GatewayClient::connect(gw.operator_opts(&[READ])).await.unwrap();
    let e = call_err(&client, "logs.tail", json!({"limit": 5001})).await;
    assert_eq!(e.code.as_str(), "INVALID_REQUEST");
    assert_eq!(e.message, "invalid logs.tail params: at /limit: must be <= 5000");
    assert_still_served(&bystander).await;
}

#[tokio::test]
async fn a_request_id_still_in_use_is_refused_and_the_first_request_goes_on() {
    let (gw, bystander) = gateway_and_bystander().await;
    let mut raw = raw_connected(&gw, &ALL_SCOPES).await;
    let req =
        raw.send_request("exec.approval.request", json!({"command": "ls", "twoPhase": true, "requireDeliveryRoute": false})).await.unwrap();
    let approval_id = raw.expect_response(&req, WAIT).await.unwrap().payload.unwrap()["id"].as_str().unwrap().to_string();
    let wait_id = raw.send_request("exec.approval.waitDecision", json!({"id": approval_id})).await.unwrap();
    raw.send_json(&json!({"type": "req", "id": wait_id, "method": "exec.approval.waitDecision", "params": {"id": approval_id}}))
        .await
        .unwrap();
    let refused = raw.expect_response(&wait_id, WAIT).await.unwrap();
    let error = res_error(&refused);
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert!(error.message.contains("still in use"), "{}", error.message);
    // The first one still gets its answer when the approval is decided.
    let resolve = raw.send_request("exec.approval.resolve", json!({"id": approval_id, "decision": "deny"})).await.unwrap();
    assert!(raw.expect_response(&resolve, WAIT).await.unwrap().ok);
    let decided = raw.expect_response(&wait_id, WAIT).await.unwrap();
    assert!(decided.ok, "{decided:?}");
    assert_still_served(&bystander).await;
}
