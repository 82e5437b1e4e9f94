//! Browser `Origin` checks: a web page on another origin must not be able to drive a
//! gateway listening on localhost. Non-browser clients send no `Origin` and pass.

/// Origins of Pincer's own desktop shell (Tauri webviews) on each platform.
const APP_ORIGINS: &[&str] = &["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"];

fn host_of(origin: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = origin.split_once("://")?;
    let host = rest.split('/').next()?;
    Some((scheme, host))
}

/// Whether a browser at `origin` may open a socket to this gateway reached as `host`
/// (the request's `Host` header): same host and port, Pincer's own app, or listed in
/// `gateway.controlUi.allowedOrigins`.
pub fn origin_allowed(origin: &str, host_header: Option<&str>, allowed: &[String]) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    if origin.is_empty() || origin == "null" {
        return false;
    }
    if allowed.iter().any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    if APP_ORIGINS.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    match (host_of(origin), host_header) {
        (Some((scheme, origin_host)), Some(host)) => matches!(scheme, "http" | "https") && origin_host.eq_ignore_ascii_case(host.trim()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_pages_and_the_app_are_allowed() {
        assert!(origin_allowed("http://127.0.0.1:18789", Some("127.0.0.1:18789"), &[]));
        assert!(origin_allowed("tauri://localhost", Some("127.0.0.1:18789"), &[]));
        assert!(origin_allowed("https://ops.example.com", Some("127.0.0.1:18789"), &["https://ops.example.com".into()]));
    }

    #[test]
    fn other_origins_are_refused() {
        assert!(!origin_allowed("http://evil.example", Some("127.0.0.1:18789"), &[]));
        assert!(!origin_allowed("http://127.0.0.1:8080", Some("127.0.0.1:18789"), &[]));
        assert!(!origin_allowed("null", Some("127.0.0.1:18789"), &[]));
        assert!(!origin_allowed("file://", Some("127.0.0.1:18789"), &[]));
        assert!(!origin_allowed("http://localhost:18789", None, &[]));
    }
}
