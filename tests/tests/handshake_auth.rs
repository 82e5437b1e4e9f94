//! The `connect` handshake and authentication over real sockets: challenge, `hello-ok`,
//! token-only clients (mirroring OpenClaw 2026.9.6's token-only connect matrix), shared
//! token / password auth, the failed-auth rate limit, browser origins, device identity and
//! pairing, device signature failures, protocol negotiation and method authorization.
//!
//! Expected messages and details are the real gateway's (see `openclaw-shapes.md` §10–§12 and
//! the captured `token-only-connect-matrix.jsonl`).
//!
//! The suite (`suites/handshake_auth.rs`) runs over a WebSocket and over the in-memory
//! transport; browser origins are HTTP headers, so those tests run over the WebSocket only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod websocket {
    const TRANSPORT: pincer_tests::Transport = pincer_tests::Transport::WebSocket;
    include!("suites/handshake_auth.rs");

    // ---- browser origins ------------------------------------------------------------------------

    #[tokio::test]
    async fn foreign_browser_origin_is_refused_for_any_client() {
        let gw = gateway().await;
        let (error, close) = rejected(gw.operator_opts(&[READ]).with_header("Origin", "http://evil.example")).await;
        assert_policy_reject(&error, &close, ORIGIN_NOT_ALLOWED, "CONTROL_UI_ORIGIN_NOT_ALLOWED");
        assert_eq!(details(&error)["reason"], "origin not allowed");
    }

    #[tokio::test]
    async fn same_origin_control_ui_is_accepted() {
        let gw = gateway().await;
        let origin = format!("http://127.0.0.1:{}", gw.addr.port());
        let opts = gw
            .operator_opts(&[READ, WRITE])
            .with_client("openclaw-control-ui", "ui")
            .with_device(DeviceIdentity::generate())
            .with_header("Origin", origin);
        let (client, hello) = connect(opts).await;
        assert_eq!(auth_scopes(&hello), [READ, WRITE]);
        assert!(hello.auth.device_token.is_some());
        assert_health(&client).await;
    }

    #[tokio::test]
    async fn allowed_origins_entry_is_accepted() {
        let gw = gateway_with(json!({"gateway": {"controlUi": {"allowedOrigins": ["https://control.example.com"]}}})).await;
        let opts = gw
            .operator_opts(&[READ])
            .with_client("openclaw-control-ui", "ui")
            .with_device(DeviceIdentity::generate())
            .with_header("Origin", "https://control.example.com");
        let (client, hello) = connect(opts).await;
        assert_eq!(auth_scopes(&hello), [READ]);
        assert_health(&client).await;
    }
}

mod in_memory {
    const TRANSPORT: pincer_tests::Transport = pincer_tests::Transport::InMemory;
    include!("suites/handshake_auth.rs");
}
