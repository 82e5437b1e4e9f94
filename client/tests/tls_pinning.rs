//! `wss://` with a pinned certificate fingerprint (`ConnectOptions::tls_fingerprint`): a
//! self-signed gateway is accepted only when its SHA-256 matches.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

mod common;

use std::sync::Arc;

use pincer_client::{ClientError, ConnectOptions, GatewayClient};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A TLS WebSocket gateway with a fresh self-signed certificate; serves one connection.
async fn tls_gateway() -> (String, String, tokio::task::JoinHandle<()>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let fingerprint = hex::encode(Sha256::digest(der.as_ref()));
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("wss://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // A refused certificate ends the TLS handshake here; that is the test's point.
        let Ok(tls) = acceptor.accept(tcp).await else { return };
        let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
        use futures_util::{SinkExt, StreamExt};
        let send = |v: serde_json::Value| tokio_tungstenite::tungstenite::Message::text(v.to_string());
        ws.send(send(json!({"type":"event","event":"connect.challenge","payload":{"nonce":"n1","ts":pincer_protocol::now_ms()}})))
            .await
            .unwrap();
        while let Some(Ok(msg)) = ws.next().await {
            if let Ok(text) = msg.to_text() {
                let req: serde_json::Value = serde_json::from_str(text).unwrap();
                if req["method"] == "connect" {
                    ws.send(send(json!({"type":"res","id":req["id"],"ok":true,"payload":common::hello_ok("tls-1")}))).await.unwrap();
                }
            }
        }
    });
    (url, fingerprint, handle)
}

fn opts(url: &str) -> ConnectOptions {
    ConnectOptions::operator(url, "tok", &["operator.read"])
}

#[tokio::test]
async fn a_pinned_self_signed_gateway_is_accepted() {
    let (url, fingerprint, _server) = tls_gateway().await;
    // Colon-separated upper case, as `openssl x509 -fingerprint -sha256` prints it.
    let pretty: Vec<String> = fingerprint.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).to_uppercase()).collect();
    let mut o = opts(&url);
    o.tls_fingerprint = Some(pretty.join(":"));
    let (client, hello) = GatewayClient::connect(o).await.unwrap();
    assert_eq!(hello.server.conn_id, "tls-1");
    drop(client);
}

#[tokio::test]
async fn another_fingerprint_is_refused() {
    let (url, _fingerprint, _server) = tls_gateway().await;
    let mut o = opts(&url);
    o.tls_fingerprint = Some("00".repeat(32));
    let err = GatewayClient::connect(o).await.unwrap_err();
    assert!(err.to_string().contains("does not match the pinned fingerprint"), "{err}");
}

#[tokio::test]
async fn an_unpinned_self_signed_gateway_is_refused_by_the_trust_store() {
    let (url, _fingerprint, _server) = tls_gateway().await;
    let err = GatewayClient::connect(opts(&url)).await.unwrap_err();
    assert!(matches!(err, ClientError::Ws(_)), "{err:?}");
}

#[tokio::test]
async fn a_fingerprint_needs_wss_and_a_sha256() {
    let mut o = opts("ws://127.0.0.1:9");
    o.tls_fingerprint = Some("00".repeat(32));
    assert!(matches!(GatewayClient::connect(o).await.unwrap_err(), ClientError::InvalidUrl(m) if m.contains("needs a wss:// URL")));
    let mut o = opts("wss://127.0.0.1:9");
    o.tls_fingerprint = Some("abc".into());
    assert!(matches!(GatewayClient::connect(o).await.unwrap_err(), ClientError::InvalidUrl(m) if m.contains("not a SHA-256")));
}
