//! Waiting for a gateway to become usable.

use std::time::{Duration, Instant};

use pincer_client::{ClientError, ConnectOptions, GatewayClient};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::SupportError;

/// Options for one quick probe: short timeouts so a starting gateway is retried often, and
/// a short close grace because a starting gateway may answer `UNAVAILABLE` and keep the socket.
pub fn probe_options(url: &str, token: &str) -> ConnectOptions {
    let mut o = ConnectOptions::operator(url, token, &["operator.read"]);
    o.connect_timeout = Duration::from_secs(2);
    o.challenge_timeout = Duration::from_secs(5);
    o.request_timeout = Duration::from_secs(5);
    o.reject_close_grace = Duration::from_millis(50);
    o
}

/// One attempt: connect as a token-only `cli` operator and call `health`.
pub async fn probe_health(url: &str, token: &str) -> Result<(), ClientError> {
    let (client, _) = GatewayClient::connect(probe_options(url, token)).await?;
    client.request("health", json!({})).await?;
    Ok(())
}

/// Poll `probe_health` every `every` until it succeeds; returns the time it took.
pub async fn wait_for_health(url: &str, token: &str, timeout: Duration) -> Result<Duration, SupportError> {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < timeout {
        match probe_health(url, token).await {
            Ok(()) => return Ok(started.elapsed()),
            Err(e) => last = Some(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(SupportError::Timeout { what: format!("health on {url} (last error: {})", last.unwrap_or_default()), secs: timeout.as_secs_f64() })
}

/// Minimal HTTP/1.1 GET over plain TCP (loopback readiness URLs only): status and body.
pub async fn http_get(url: &str, timeout: Duration) -> Result<(u16, String), SupportError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| SupportError::Other(format!("only http:// URLs are supported: {url}")))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let fetch = async {
        let mut tcp = tokio::net::TcpStream::connect(host).await?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: */*\r\n\r\n");
        tcp.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        tcp.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| SupportError::Timeout { what: format!("GET {url}"), secs: timeout.as_secs_f64() })??;
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| SupportError::Other(format!("no HTTP status from {url}")))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// A readiness answer counts when it is 2xx and does not say `"ready": false`.
pub fn is_ready(status: u16, body: &str) -> bool {
    if !(200..300).contains(&status) {
        return false;
    }
    match serde_json::from_str::<serde_json::Value>(body.trim()) {
        Ok(v) => v.get("ready").and_then(|r| r.as_bool()).unwrap_or(true),
        // Chunked or non-JSON bodies: the status alone decides.
        Err(_) => !body.contains("\"ready\":false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_rules() {
        assert!(is_ready(200, r#"{"ready":true,"failing":[]}"#));
        assert!(!is_ready(200, r#"{"ready":false,"failing":["startup-sidecars"]}"#));
        assert!(!is_ready(503, r#"{"ready":true}"#));
        assert!(is_ready(200, "ok"));
        assert!(!is_ready(200, "1f\r\n{\"ready\":false}\r\n0\r\n"));
    }
}
