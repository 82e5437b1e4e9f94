// The handshake suite, run over each transport by `tests/handshake_auth.rs` (included there once per
// transport, with `TRANSPORT` set). Its `use`s are per including module.

use std::time::Duration;

use pincer_client::{
    ClientError, ConnectChallenge, ConnectOptions, DeviceIdentity, ErrorShape, Frame, GatewayClient, Incoming, RawSocket, ResponseFrame,
};
use pincer_protocol::device::SignedFields;
use pincer_protocol::now_ms;
use pincer_protocol::scopes::{ADMIN, APPROVALS, PAIRING, READ, WRITE};
use pincer_tests::{TestGateway, TestGatewayOptions};
use serde_json::{json, Value};

/// Upper bound for anything a test waits on; passing tests finish far sooner.
const WAIT: Duration = Duration::from_secs(5);

const ORIGIN_NOT_ALLOWED: &str =
    "origin not allowed (open the Control UI from the gateway host or allow it in gateway.controlUi.allowedOrigins)";
const TOKEN_MISMATCH: &str = "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)";

// ---- helpers ------------------------------------------------------------------------------

async fn gateway() -> TestGateway {
    TestGateway::start_with(TestGatewayOptions { transport: TRANSPORT, ..Default::default() }).await.expect("start gateway")
}

async fn gateway_with(config: Value) -> TestGateway {
    TestGateway::start_with(TestGatewayOptions { transport: TRANSPORT, config: Some(config), ..Default::default() }).await.expect("start gateway")
}

/// Connect and expect `hello-ok`.
async fn connect(opts: ConnectOptions) -> (GatewayClient, pincer_client::HelloOk) {
    match GatewayClient::connect(opts).await {
        Ok(ok) => ok,
        Err(e) => panic!("expected hello-ok, got {e}"),
    }
}

/// Connect and expect a rejection followed by the server's close.
async fn rejected(opts: ConnectOptions) -> (ErrorShape, (u16, String)) {
    match GatewayClient::connect(opts).await {
        Err(ClientError::Rejected { error, close }) => (error, close.expect("the gateway closes after rejecting connect")),
        Err(other) => panic!("expected a rejected connect, got {other}"),
        Ok((_, hello)) => panic!("expected a rejected connect, got hello-ok (auth {:?})", hello.auth),
    }
}

fn details(e: &ErrorShape) -> &Value {
    e.details.as_ref().unwrap_or_else(|| panic!("error without details: {e:?}"))
}

/// Assert `INVALID_REQUEST <message>`, `details.code`, and close 1008 with the message as reason.
fn assert_policy_reject(error: &ErrorShape, close: &(u16, String), message: &str, detail_code: &str) {
    assert_eq!(error.code.as_str(), "INVALID_REQUEST", "{error:?}");
    assert_eq!(error.message, message);
    assert_eq!(details(error)["code"], detail_code, "{error:?}");
    assert_eq!(close, &(1008, message.to_string()));
}

/// The error of a request that must fail.
async fn call_err(client: &GatewayClient, method: &str, params: Value) -> ErrorShape {
    match client.request(method, params).await {
        Err(ClientError::Server(e)) => e,
        Err(other) => panic!("{method}: expected an error response, got {other}"),
        Ok(v) => panic!("{method}: expected an error response, got {v}"),
    }
}

async fn assert_health(client: &GatewayClient) {
    let health = client.request("health", json!({})).await.expect("health");
    assert_eq!(health["ok"], true, "{health}");
}

fn auth_scopes(hello: &pincer_client::HelloOk) -> Vec<&str> {
    hello.auth.scopes.iter().map(String::as_str).collect()
}

fn node_opts(gw: &TestGateway, identity: DeviceIdentity) -> ConnectOptions {
    ConnectOptions::node(gw.url(), identity).with_token(gw.token.clone()).with_request_timeout(WAIT)
}

/// Open a raw socket, take the challenge, build signed connect params for `opts` (a device
/// operator unless changed), let `tweak` corrupt them, send, and return the response and the
/// close that follows.
async fn raw_device_connect(
    gw: &TestGateway,
    identity: &DeviceIdentity,
    tweak: impl FnOnce(&ConnectChallenge, &ConnectOptions, &mut Value),
) -> (ResponseFrame, Option<(u16, String)>) {
    let opts = gw.operator_opts(&[READ]).with_device(identity.clone());
    let mut raw = RawSocket::open(&gw.url(), &[]).await.unwrap();
    let challenge = raw.expect_challenge(WAIT).await.unwrap();
    let mut params = serde_json::to_value(opts.connect_params(&challenge)).unwrap();
    tweak(&challenge, &opts, &mut params);
    let id = raw.send_request("connect", params).await.unwrap();
    let res = raw.expect_response(&id, WAIT).await.unwrap();
    let close = if res.ok { None } else { Some(raw.expect_close(WAIT).await.unwrap()) };
    (res, close)
}

fn res_error(res: &ResponseFrame) -> &ErrorShape {
    assert!(!res.ok, "expected ok:false, got {res:?}");
    res.error.as_ref().expect("ok:false response carries an error")
}

/// Signed fields of `opts`' connect for `challenge`, as the client signs them.
fn signed_fields<'a>(opts: &'a ConnectOptions, device_id: &'a str, challenge: &'a ConnectChallenge) -> SignedFields<'a> {
    SignedFields {
        device_id,
        client_id: &opts.client_id,
        client_mode: &opts.client_mode,
        role: &opts.role,
        scopes: &opts.scopes,
        signed_at_ms: challenge.ts,
        token: opts.token.as_deref().unwrap_or(""),
        nonce: &challenge.nonce,
        platform: &opts.platform,
        device_family: opts.device_family.as_deref().unwrap_or(""),
    }
}

/// Assert a device-auth rejection: `INVALID_REQUEST <message>`, `details.code`, close 1008.
fn assert_device_reject(res: &ResponseFrame, close: &Option<(u16, String)>, message: &str, detail_code: &str) {
    let error = res_error(res);
    assert_eq!(error.code.as_str(), "INVALID_REQUEST", "{error:?}");
    assert_eq!(error.message, message);
    assert_eq!(details(error)["code"], detail_code, "{error:?}");
    assert_eq!(close.as_ref(), Some(&(1008, message.to_string())));
}

// ---- challenge and hello-ok -------------------------------------------------------------

#[tokio::test]
async fn challenge_is_the_first_frame_with_a_fresh_nonce_and_ts() {
    let gw = gateway().await;
    let before = now_ms();
    let mut a = RawSocket::open(&gw.url(), &[]).await.unwrap();
    let mut b = RawSocket::open(&gw.url(), &[]).await.unwrap();
    let mut nonces = Vec::new();
    for raw in [&mut a, &mut b] {
        // The very first frame, before we send anything.
        let Incoming::Frame(Frame::Event(event)) = raw.next_frame(WAIT).await.unwrap() else {
            panic!("first frame must be an event");
        };
        assert_eq!(event.event, "connect.challenge");
        let payload = event.payload.expect("challenge payload");
        let nonce = payload["nonce"].as_str().expect("nonce is a string");
        assert!(!nonce.is_empty());
        let ts = payload["ts"].as_i64().expect("ts is an integer (ms)");
        assert!(ts >= before - 1000 && ts <= now_ms() + 1000, "ts {ts} is not now");
        nonces.push(nonce.to_string());
    }
    assert_ne!(nonces[0], nonces[1], "every socket gets its own nonce");
}

#[tokio::test]
async fn hello_ok_has_the_openclaw_shape() {
    let gw = gateway().await;
    let scopes = [READ, WRITE];
    let mut raw = RawSocket::open(&gw.url(), &[]).await.unwrap();
    let res = raw.handshake(&gw.operator_opts(&scopes)).await.unwrap();
    assert!(res.ok, "{res:?}");
    let hello = res.payload.expect("hello-ok payload");

    assert_eq!(hello["type"], "hello-ok");
    assert_eq!(hello["protocol"], 4);
    assert!(hello["server"]["version"].as_str().is_some_and(|v| !v.is_empty()), "{}", hello["server"]);
    assert!(hello["server"]["connId"].as_str().is_some_and(|v| !v.is_empty()), "{}", hello["server"]);

    let methods: Vec<&str> = hello["features"]["methods"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    for implemented in [
        "health",
        "status",
        "system-presence",
        "logs.tail",
        "voicewake.get",
        "voicewake.set",
        "config.get",
        "config.patch",
        "device.pair.list",
        "device.pair.approve",
        "node.list",
        "node.invoke",
        "node.invoke.result",
        "node.event",
        "exec.approval.request",
        "exec.approval.resolve",
        "exec.approval.waitDecision",
        "exec.approvals.get",
        "chat.send",
        "chat.history",
        "agent",
        "agent.wait",
        "sessions.list",
        "sessions.subscribe",
        "sessions.describe",
        "agents.list",
        "models.list",
    ] {
        assert!(methods.contains(&implemented), "features.methods lacks {implemented}: {methods:?}");
    }
    for missing in ["wizard.start", "sessions.create", "connect"] {
        assert!(!methods.contains(&missing), "features.methods advertises unimplemented {missing}");
    }
    let mut unique = methods.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), methods.len(), "duplicate entries in features.methods");
    let events: Vec<&str> = hello["features"]["events"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    for event in ["tick", "presence", "shutdown", "exec.approval.requested", "device.pair.requested", "chat", "agent", "session.message"] {
        assert!(events.contains(&event), "features.events lacks {event}: {events:?}");
    }

    let snapshot = &hello["snapshot"];
    let presence = snapshot["presence"].as_array().expect("snapshot.presence is an array");
    assert!(presence.iter().any(|p| p["reason"] == "self" && p["mode"] == "gateway"), "no gateway self entry in {presence:?}");
    assert_eq!(snapshot["health"]["ok"], true);
    assert!(snapshot["stateVersion"]["presence"].is_u64(), "{}", snapshot["stateVersion"]);
    assert!(snapshot["stateVersion"]["health"].is_u64(), "{}", snapshot["stateVersion"]);
    assert!(snapshot["uptimeMs"].is_u64());
    assert_eq!(snapshot["sessionDefaults"]["mainSessionKey"], "agent:main:main");
    assert_eq!(snapshot["sessionDefaults"]["defaultAgentId"], "main");
    assert_eq!(snapshot["sessionDefaults"]["mainKey"], "main");

    assert_eq!(hello["auth"]["role"], "operator");
    assert_eq!(hello["auth"]["scopes"], json!(scopes));
    assert!(hello["auth"].get("deviceToken").is_none(), "token-only clients get no device token");

    assert_eq!(hello["policy"]["maxPayload"], 26_214_400);
    assert_eq!(hello["policy"]["maxBufferedBytes"], 52_428_800);
    assert_eq!(hello["policy"]["tickIntervalMs"], 30_000);
}

#[tokio::test]
async fn every_advertised_method_is_served() {
    // Discovery must not advertise something the router then calls unknown.
    let gw = gateway().await;
    let (admin, hello) = connect(gw.operator_opts(&[ADMIN, READ, WRITE, APPROVALS, PAIRING])).await;
    let calls = hello.features.methods.iter().map(|method| {
        let admin = admin.clone();
        async move {
            // Empty params: most answer with a params error, which is fine; hangs are bounded.
            let res = admin.request_response(method, json!({}), Duration::from_millis(1500)).await;
            (method.clone(), res)
        }
    });
    for (method, res) in futures_util::future::join_all(calls).await {
        if let Ok(res) = res {
            if let Some(e) = &res.error {
                assert!(!e.message.starts_with("unknown method"), "{method} is advertised but unknown: {e:?}");
            }
        }
    }
}

// ---- token-only clients (token-only-connect-matrix.jsonl) -------------------------------

#[tokio::test]
async fn token_only_cli_keeps_requested_read_scope() {
    let gw = gateway().await;
    let (client, hello) = connect(gw.operator_opts(&[READ])).await;
    assert_eq!(hello.auth.role, "operator");
    assert_eq!(hello.auth.method.as_deref(), Some("token"));
    assert_eq!(auth_scopes(&hello), [READ]);
    assert_health(&client).await;
    // The scope is effective: a read method works.
    client.request("status", json!({})).await.expect("status with operator.read");
}

#[tokio::test]
async fn token_only_cli_keeps_requested_admin_scope() {
    let gw = gateway().await;
    let (client, hello) = connect(gw.operator_opts(&[ADMIN])).await;
    assert_eq!(auth_scopes(&hello), [ADMIN]);
    client.request("config.get", json!({})).await.expect("config.get with operator.admin");
}

#[tokio::test]
async fn token_only_cli_with_no_scopes_connects_with_none() {
    let gw = gateway().await;
    let (client, hello) = connect(gw.operator_opts(&[])).await;
    assert!(hello.auth.scopes.is_empty(), "{:?}", hello.auth.scopes);
    assert_health(&client).await;
}

#[tokio::test]
async fn gateway_client_backend_keeps_requested_scopes() {
    let gw = gateway().await;
    let (client, hello) = connect(gw.operator_opts(&[ADMIN]).with_client("gateway-client", "backend")).await;
    assert_eq!(hello.auth.role, "operator");
    assert_eq!(auth_scopes(&hello), [ADMIN]);
    assert_health(&client).await;
}

#[tokio::test]
async fn test_client_gets_scopes_cleared_but_health_works() {
    let gw = gateway().await;
    let (client, hello) = connect(gw.operator_opts(&[READ]).with_client("test", "test")).await;
    assert!(hello.auth.scopes.is_empty(), "scopes must be cleared: {:?}", hello.auth.scopes);
    assert_health(&client).await;
    let e = call_err(&client, "status", json!({})).await;
    assert_eq!(e.code.as_str(), "FORBIDDEN");
    assert_eq!(e.message, "missing scope: operator.read");
}

#[tokio::test]
async fn probe_client_gets_scopes_cleared_but_health_works() {
    let gw = gateway().await;
    let (client, hello) = connect(gw.operator_opts(&[READ]).with_client("openclaw-probe", "probe")).await;
    assert!(hello.auth.scopes.is_empty(), "scopes must be cleared: {:?}", hello.auth.scopes);
    assert_health(&client).await;
    let e = call_err(&client, "status", json!({})).await;
    assert_eq!(e.message, "missing scope: operator.read");
}

#[tokio::test]
async fn tui_without_device_identity_is_refused() {
    let gw = gateway().await;
    let (error, close) = rejected(gw.operator_opts(&[READ]).with_client("openclaw-tui", "ui")).await;
    assert_policy_reject(
        &error,
        &close,
        "control ui requires device identity (use HTTPS or localhost secure context)",
        "CONTROL_UI_DEVICE_IDENTITY_REQUIRED",
    );
}

#[tokio::test]
async fn control_ui_without_origin_is_refused() {
    let gw = gateway().await;
    let (error, close) = rejected(gw.operator_opts(&[READ]).with_client("openclaw-control-ui", "ui")).await;
    assert_policy_reject(&error, &close, ORIGIN_NOT_ALLOWED, "CONTROL_UI_ORIGIN_NOT_ALLOWED");
    assert_eq!(details(&error)["reason"], "origin missing or invalid");
}

#[tokio::test]
async fn webchat_without_origin_is_refused() {
    let gw = gateway().await;
    let (error, close) = rejected(gw.operator_opts(&[READ]).with_client("webchat", "webchat")).await;
    assert_policy_reject(&error, &close, ORIGIN_NOT_ALLOWED, "CONTROL_UI_ORIGIN_NOT_ALLOWED");
    assert_eq!(details(&error)["reason"], "origin missing or invalid");
}

#[tokio::test]
async fn node_without_device_identity_is_refused() {
    let gw = gateway().await;
    let opts = ConnectOptions::new(gw.url()).with_token(gw.token.clone()).with_client("node-host", "node").with_role("node");
    let (error, close) = rejected(opts).await;
    assert_eq!(error.code.as_str(), "NOT_PAIRED");
    assert_eq!(error.message, "device identity required");
    assert_eq!(details(&error)["code"], "DEVICE_IDENTITY_REQUIRED");
    assert_eq!(close, (1008, "device identity required".to_string()));
}

// ---- shared secret auth -----------------------------------------------------------------

#[tokio::test]
async fn wrong_token_is_refused_with_token_mismatch() {
    let gw = gateway().await;
    let mut opts = gw.operator_opts(&[READ]);
    opts.token = Some("not-the-token".into());
    let (error, close) = rejected(opts).await;
    assert_policy_reject(&error, &close, TOKEN_MISMATCH, "AUTH_TOKEN_MISMATCH");
    let d = details(&error);
    assert_eq!(d["authReason"], "token_mismatch");
    assert_eq!(d["canRetryWithDeviceToken"], false);
    assert_eq!(d["recommendedNextStep"], "update_auth_credentials");
}

#[tokio::test]
async fn missing_token_is_refused_with_token_missing() {
    let gw = gateway().await;
    let mut opts = gw.operator_opts(&[READ]);
    opts.token = None;
    let (error, close) = rejected(opts).await;
    assert_policy_reject(
        &error,
        &close,
        "unauthorized: gateway token missing (use this gateway's gateway.auth.token or pair the device)",
        "AUTH_TOKEN_MISSING",
    );
    assert_eq!(details(&error)["authReason"], "token_missing");
    assert_eq!(details(&error)["recommendedNextStep"], "update_auth_configuration");
}

async fn password_gateway() -> TestGateway {
    TestGateway::start_with(TestGatewayOptions { transport: TRANSPORT, password: Some("correct horse".into()), ..Default::default() })
        .await
        .expect("start gateway")
}

fn password_opts(gw: &TestGateway, password: Option<&str>) -> ConnectOptions {
    let mut opts = ConnectOptions::new(gw.url()).with_scopes(&[READ]).with_request_timeout(WAIT);
    opts.password = password.map(str::to_string);
    opts
}

#[tokio::test]
async fn password_mode_accepts_the_right_password() {
    let gw = password_gateway().await;
    let (client, hello) = connect(password_opts(&gw, Some("correct horse"))).await;
    assert_eq!(hello.auth.method.as_deref(), Some("password"));
    assert_eq!(auth_scopes(&hello), [READ]);
    assert_health(&client).await;
}

#[tokio::test]
async fn password_mode_refuses_a_wrong_password() {
    let gw = password_gateway().await;
    let (error, close) = rejected(password_opts(&gw, Some("wrong horse"))).await;
    assert_policy_reject(
        &error,
        &close,
        "unauthorized: gateway password mismatch (use this gateway's gateway.auth.password)",
        "AUTH_PASSWORD_MISMATCH",
    );
    assert_eq!(details(&error)["authReason"], "password_mismatch");
    assert_eq!(details(&error)["recommendedNextStep"], "update_auth_credentials");
}

#[tokio::test]
async fn password_mode_refuses_a_missing_password() {
    let gw = password_gateway().await;
    let (error, close) = rejected(password_opts(&gw, None)).await;
    assert_policy_reject(
        &error,
        &close,
        "unauthorized: gateway password missing (use this gateway's gateway.auth.password)",
        "AUTH_PASSWORD_MISSING",
    );
    assert_eq!(details(&error)["authReason"], "password_missing");
    assert_eq!(details(&error)["recommendedNextStep"], "update_auth_configuration");
}

// ---- failed-auth rate limit ---------------------------------------------------------------

#[tokio::test]
async fn rate_limit_locks_out_even_the_right_token_after_max_attempts() {
    let gw = gateway_with(json!({"gateway": {"auth": {"rateLimit": {
        "exemptLoopback": false, "maxAttempts": 3, "windowMs": 60000, "lockoutMs": 300000
    }}}}))
    .await;
    // Connected before the lockout: keeps working.
    let (earlier, _) = connect(gw.operator_opts(&[READ])).await;
    let mut wrong = gw.operator_opts(&[READ]);
    wrong.token = Some("guess".into());
    for attempt in 1..=3 {
        let (error, _) = rejected(wrong.clone()).await;
        assert_eq!(details(&error)["code"], "AUTH_TOKEN_MISMATCH", "attempt {attempt}");
    }
    let (error, close) = rejected(gw.operator_opts(&[READ])).await;
    let message = "unauthorized: too many failed authentication attempts (retry later)";
    assert_policy_reject(&error, &close, message, "AUTH_RATE_LIMITED");
    assert_eq!(error.retryable, Some(true));
    let retry = error.retry_after_ms.expect("retryAfterMs");
    assert!(retry > 290_000 && retry <= 300_000, "retryAfterMs {retry} should be about the 5 min lockout");
    assert_eq!(details(&error)["authReason"], "rate_limited");
    assert_eq!(details(&error)["recommendedNextStep"], "wait_then_retry");
    assert_health(&earlier).await;
}

#[tokio::test]
async fn loopback_is_exempt_from_the_rate_limit_by_default() {
    let gw = gateway().await;
    let mut wrong = gw.operator_opts(&[READ]);
    wrong.token = Some("guess".into());
    for attempt in 1..=20 {
        let (error, _) = rejected(wrong.clone()).await;
        assert_eq!(details(&error)["code"], "AUTH_TOKEN_MISMATCH", "attempt {attempt}");
    }
    let (client, _) = connect(gw.operator_opts(&[READ])).await;
    assert_health(&client).await;
}

// ---- device identity and pairing --------------------------------------------------------

#[tokio::test]
async fn loopback_device_is_auto_approved_and_gets_a_device_token() {
    let gw = gateway().await;
    let identity = DeviceIdentity::generate();
    let (_client, hello) = connect(gw.operator_opts(&[READ, WRITE]).with_device(identity.clone())).await;
    let token = hello.auth.device_token.as_deref().expect("hello-ok.auth.deviceToken");
    assert!(!token.is_empty());
    assert_eq!(hello.auth.role, "operator");
    assert_eq!(auth_scopes(&hello), [READ, WRITE]);

    let admin = gw.admin().await.unwrap();
    let list = admin.request("device.pair.list", json!({})).await.unwrap();
    let paired = list["paired"].as_array().unwrap();
    assert!(paired.iter().any(|d| d["deviceId"] == identity.device_id()), "device not paired: {list}");
    assert!(list["pending"].as_array().unwrap().is_empty(), "auto-approval leaves no pending request: {list}");
}

#[tokio::test]
async fn device_token_alone_reconnects_and_keeps_the_token() {
    let gw = gateway().await;
    let identity = DeviceIdentity::generate();
    let (first, hello) = connect(gw.operator_opts(&[READ, WRITE]).with_device(identity.clone())).await;
    let token = hello.auth.device_token.clone().expect("device token");
    drop(first);

    let opts = ConnectOptions::new(gw.url())
        .with_device(identity)
        .with_device_token(token.clone())
        .with_scopes(&[READ, WRITE])
        .with_request_timeout(WAIT);
    assert!(opts.token.is_none());
    let (client, again) = connect(opts).await;
    assert_eq!(again.auth.device_token.as_deref(), Some(token.as_str()));
    assert_eq!(auth_scopes(&again), [READ, WRITE]);
    client.request("status", json!({})).await.expect("device-token session is served");
}

#[tokio::test]
async fn device_needs_pairing_when_local_auto_approve_is_off() {
    let gw = gateway_with(json!({"gateway": {"nodes": {"pairing": {"autoApproveLocal": false}}}})).await;
    let identity = DeviceIdentity::generate();
    let (error, close) = rejected(gw.operator_opts(&[READ]).with_device(identity.clone())).await;
    assert_eq!(error.code.as_str(), "NOT_PAIRED");
    assert_eq!(error.message, "pairing required: device is not approved yet");
    let d = details(&error);
    assert_eq!(d["code"], "PAIRING_REQUIRED");
    assert_eq!(d["reason"], "not-paired");
    assert_eq!(d["deviceId"], identity.device_id());
    assert_eq!(d["requestedRole"], "operator");
    let request_id = d["requestId"].as_str().expect("requestId");
    assert!(!request_id.is_empty());
    assert_eq!(close.0, 1008);
    assert!(close.1.contains(&format!("(requestId: {request_id})")), "close reason {:?}", close.1);
    assert!(close.1.starts_with("pairing required: device is not approved yet"), "close reason {:?}", close.1);

    // The request is pending for an operator to approve.
    let admin = gw.admin().await.unwrap();
    let list = admin.request("device.pair.list", json!({})).await.unwrap();
    assert!(
        list["pending"].as_array().unwrap().iter().any(|r| r["requestId"] == request_id),
        "pending request {request_id} not listed: {list}"
    );
}

#[tokio::test]
async fn wrong_device_token_without_shared_token_is_refused() {
    let gw = gateway().await;
    let identity = DeviceIdentity::generate();
    let (_paired, hello) = connect(gw.operator_opts(&[READ]).with_device(identity.clone())).await;
    assert!(hello.auth.device_token.is_some());

    let opts = ConnectOptions::new(gw.url())
        .with_device(identity)
        .with_device_token("not-the-device-token")
        .with_scopes(&[READ])
        .with_request_timeout(WAIT);
    let (error, close) = rejected(opts).await;
    assert_policy_reject(&error, &close, "unauthorized: device token mismatch (rotate/reissue device token)", "AUTH_DEVICE_TOKEN_MISMATCH");
    assert_eq!(details(&error)["authReason"], "device_token_mismatch");
}

// ---- device signature failures (hand-built connects) ----------------------------------------

#[tokio::test]
async fn device_signature_over_other_data_is_invalid() {
    let gw = gateway().await;
    let identity = DeviceIdentity::generate();
    let signer = identity.clone();
    let (res, close) = raw_device_connect(&gw, &identity, |_, _, params| {
        params["device"]["signature"] = json!(signer.sign("v3|something|else"));
    })
    .await;
    assert_device_reject(&res, &close, "device signature invalid", "DEVICE_AUTH_SIGNATURE_INVALID");
}

#[tokio::test]
async fn device_nonce_not_matching_the_challenge_is_refused() {
    let gw = gateway().await;
    let identity = DeviceIdentity::generate();
    let (res, close) = raw_device_connect(&gw, &identity, |challenge, opts, params| {
        // A correctly signed connect, but for another challenge.
        let other = ConnectChallenge { nonce: "some-other-nonce".into(), ts: challenge.ts, extra: Default::default() };
        *params = serde_json::to_value(opts.connect_params(&other)).unwrap();
    })
    .await;
    assert_device_reject(&res, &close, "device nonce mismatch", "DEVICE_AUTH_NONCE_MISMATCH");
}

#[tokio::test]
async fn device_connect_without_nonce_is_refused() {
    let gw = gateway().await;
    let identity = DeviceIdentity::generate();
    let (res, close) = raw_device_connect(&gw, &identity, |_, _, params| {
        params["device"].as_object_mut().unwrap().remove("nonce");
    })
    .await;
    assert_device_reject(&res, &close, "device nonce required", "DEVICE_AUTH_NONCE_REQUIRED");
}

#[tokio::test]
async fn device_signature_ten_minutes_old_is_expired() {
    let gw = gateway().await;
    let identity = DeviceIdentity::generate();
    let (res, close) = raw_device_connect(&gw, &identity, |challenge, opts, params| {
        // Signed properly over the real nonce, but with signedAt 10 minutes ago.
        let old = ConnectChallenge { nonce: challenge.nonce.clone(), ts: now_ms() - 10 * 60 * 1000, extra: Default::default() };
        *params = serde_json::to_value(opts.connect_params(&old)).unwrap();
    })
    .await;
    assert_device_reject(&res, &close, "device signature expired", "DEVICE_AUTH_SIGNATURE_EXPIRED");
}

#[tokio::test]
async fn device_id_not_matching_the_key_is_refused() {
    let gw = gateway().await;
    let identity = DeviceIdentity::generate();
    let (res, close) = raw_device_connect(&gw, &identity, |_, _, params| {
        params["device"]["id"] = json!(DeviceIdentity::generate().device_id());
    })
    .await;
    assert_device_reject(&res, &close, "device identity mismatch", "DEVICE_AUTH_DEVICE_ID_MISMATCH");
}

#[tokio::test]
async fn garbage_device_public_key_is_refused() {
    let gw = gateway().await;
    let identity = DeviceIdentity::generate();
    let (res, close) = raw_device_connect(&gw, &identity, |_, _, params| {
        params["device"]["publicKey"] = json!("this-is-not-a-key");
    })
    .await;
    assert_device_reject(&res, &close, "device public key invalid", "DEVICE_AUTH_PUBLIC_KEY_INVALID");
}

#[tokio::test]
async fn v2_signed_device_connect_is_accepted() {
    let gw = gateway().await;
    let identity = DeviceIdentity::generate();
    let signer = identity.clone();
    let (res, close) = raw_device_connect(&gw, &identity, |challenge, opts, params| {
        let device_id = signer.device_id();
        let v2 = signed_fields(opts, &device_id, challenge).v2_payload();
        assert!(v2.starts_with("v2|"));
        params["device"]["signature"] = json!(signer.sign(&v2));
    })
    .await;
    assert!(res.ok, "v2 signature refused: {res:?}");
    assert!(close.is_none());
    let hello = res.payload.unwrap();
    assert_eq!(hello["type"], "hello-ok");
    assert!(hello["auth"]["deviceToken"].as_str().is_some_and(|t| !t.is_empty()), "{}", hello["auth"]);
}

// ---- protocol negotiation -------------------------------------------------------------------

fn assert_protocol_mismatch(error: &ErrorShape, close: &(u16, String), min: u32, max: u32) {
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert_eq!(error.message, "protocol mismatch");
    let d = details(error);
    assert_eq!(d["code"], "PROTOCOL_MISMATCH");
    assert_eq!(d["expectedProtocol"], 4);
    assert_eq!(d["clientMinProtocol"], min);
    assert_eq!(d["clientMaxProtocol"], max);
    assert_eq!(close, &(1002, "protocol mismatch".to_string()));
}

#[tokio::test]
async fn operator_on_protocol_3_is_refused() {
    let gw = gateway().await;
    let (error, close) = rejected(gw.operator_opts(&[READ]).with_protocol(3, 3)).await;
    assert_protocol_mismatch(&error, &close, 3, 3);
}

#[tokio::test]
async fn node_on_protocol_3_is_accepted_as_legacy_node() {
    let gw = gateway().await;
    let (node, hello) = connect(node_opts(&gw, DeviceIdentity::generate()).with_protocol(3, 3)).await;
    assert_eq!(hello.auth.role, "node");
    // hello-ok reports the server's protocol constant.
    assert_eq!(hello.protocol, 4);
    assert_health(&node).await;
}

#[tokio::test]
async fn protocol_range_above_4_is_refused_for_operators_and_nodes() {
    let gw = gateway().await;
    let (error, close) = rejected(gw.operator_opts(&[READ]).with_protocol(5, 6)).await;
    assert_protocol_mismatch(&error, &close, 5, 6);
    let (error, close) = rejected(node_opts(&gw, DeviceIdentity::generate()).with_protocol(5, 6)).await;
    assert_protocol_mismatch(&error, &close, 5, 6);
}

// ---- roles and scopes -------------------------------------------------------------------------

#[tokio::test]
async fn read_only_operator_lacks_write_scope_for_voicewake_set() {
    let gw = gateway().await;
    let (client, _) = connect(gw.operator_opts(&[READ])).await;
    let e = call_err(&client, "voicewake.set", json!({"triggers": ["hey"]})).await;
    assert_eq!(e.code.as_str(), "FORBIDDEN");
    assert_eq!(e.message, "missing scope: operator.write");
    assert_eq!(details(&e), &json!({"code": "MISSING_SCOPE", "missingScope": "operator.write", "requiredScopes": ["operator.write"]}));
    // Nothing changed.
    let triggers = client.request("voicewake.get", json!({})).await.unwrap();
    assert_eq!(triggers["triggers"], json!(["openclaw", "claude", "computer"]));
}

#[tokio::test]
async fn unknown_method_without_admin_is_missing_admin_scope() {
    let gw = gateway().await;
    let (client, _) = connect(gw.operator_opts(&[READ, WRITE])).await;
    let e = call_err(&client, "foo.bar", json!({})).await;
    assert_eq!(e.code.as_str(), "FORBIDDEN");
    assert_eq!(e.message, "missing scope: operator.admin");
    assert_eq!(details(&e), &json!({"code": "MISSING_SCOPE", "missingScope": "operator.admin", "requiredScopes": ["operator.admin"]}));
}

#[tokio::test]
async fn unknown_method_as_admin_is_unknown_method() {
    let gw = gateway().await;
    let admin = gw.admin().await.unwrap();
    let e = call_err(&admin, "foo.bar", json!({})).await;
    assert_eq!(e.code.as_str(), "INVALID_REQUEST");
    assert_eq!(e.message, "unknown method: foo.bar");
    assert_ne!(e.retryable, Some(true));
}

#[tokio::test]
async fn node_calling_an_operator_method_is_unauthorized_role() {
    let gw = gateway().await;
    let (node, _) = connect(node_opts(&gw, DeviceIdentity::generate())).await;
    let e = call_err(&node, "status", json!({})).await;
    assert_eq!(e.code.as_str(), "INVALID_REQUEST");
    assert_eq!(e.message, "unauthorized role: node");
}

#[tokio::test]
async fn operator_calling_a_node_method_is_unauthorized_role() {
    let gw = gateway().await;
    let admin = gw.admin().await.unwrap();
    let e = call_err(&admin, "node.invoke.result", json!({"id": "x", "nodeId": "y", "ok": true})).await;
    assert_eq!(e.code.as_str(), "INVALID_REQUEST");
    assert_eq!(e.message, "unauthorized role: operator");
}

#[tokio::test]
async fn invalid_role_is_refused() {
    let gw = gateway().await;
    let (error, close) = rejected(gw.operator_opts(&[READ]).with_role("superuser")).await;
    assert_eq!(error.code.as_str(), "INVALID_REQUEST");
    assert_eq!(error.message, "invalid role");
    assert_eq!(close, (1008, "invalid role".to_string()));
}
