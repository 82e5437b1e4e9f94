//! Browser `Origin` checks: a web page on another origin must not be able to drive a
//! gateway listening on localhost. Non-browser clients send no `Origin` and pass.
//!
//! DNS rebinding: a page on `http://evil.example:18789` whose name is re-pointed at 127.0.0.1
//! is, to the browser, same-origin with the gateway: its `Origin` host equals the `Host` it
//! sends. So "same origin" only counts when the `Host` is one a rebinding page cannot produce:
//! a loopback name or address, a private IP literal (an IP typed in the address bar cannot be
//! re-pointed), or the host of an origin listed in `gateway.controlUi.allowedOrigins`.

use std::net::IpAddr;

/// Origins of Pincer's own desktop shell (Tauri webviews) on each platform.
const APP_ORIGINS: &[&str] = &["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"];

/// The outcome of checking a browser connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginCheck {
    Allowed,
    /// The origin is neither listed, nor Pincer's app, nor the gateway's own.
    OriginNotAllowed,
    /// The page claims to be same-origin (or `"*"` is configured) but the `Host` it reached
    /// the gateway by is not a trusted one: the DNS-rebinding shape.
    HostNotAllowed,
}

fn host_of(origin: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = origin.split_once("://")?;
    let host = rest.split('/').next()?;
    Some((scheme, host))
}

/// The name or address of a `host[:port]` (IPv6 in brackets), lower-cased, without the port
/// or a trailing dot.
fn hostname(authority: &str) -> String {
    let authority = authority.trim();
    let name = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => match authority.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => authority,
        },
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn is_private_or_loopback(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
    }
}

/// Whether a browser that reached the gateway as `host_header` cannot be a rebound page.
pub fn host_trusted(host_header: &str, allowed: &[String]) -> bool {
    let name = hostname(host_header);
    if name.is_empty() {
        return false;
    }
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return is_private_or_loopback(ip);
    }
    allowed.iter().filter_map(|a| host_of(a.trim())).any(|(_, host)| hostname(host) == name)
}

/// Whether a browser at `origin` may open a socket to this gateway reached as `host`
/// (the request's `Host` header): listed in `gateway.controlUi.allowedOrigins`, Pincer's own
/// app, or same host and port as long as that host is trusted ([`host_trusted`]). `"*"`
/// allows any origin, still only through a trusted host.
pub fn check_origin(origin: &str, host_header: Option<&str>, allowed: &[String]) -> OriginCheck {
    let origin = origin.trim().trim_end_matches('/');
    if origin.is_empty() || origin == "null" {
        return OriginCheck::OriginNotAllowed;
    }
    // A browser never lets a page forge its Origin, so a listed origin is safe whatever Host
    // it used (a UI served from one name may talk to a gateway under another).
    let listed = allowed.iter().any(|a| a != "*" && a.trim_end_matches('/').eq_ignore_ascii_case(origin));
    if listed || APP_ORIGINS.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return OriginCheck::Allowed;
    }
    let Some(host) = host_header else {
        return OriginCheck::OriginNotAllowed;
    };
    let wildcard = allowed.iter().any(|a| a == "*");
    let same_origin = host_of(origin)
        .is_some_and(|(scheme, origin_host)| matches!(scheme, "http" | "https") && origin_host.eq_ignore_ascii_case(host.trim()));
    if !wildcard && !same_origin {
        return OriginCheck::OriginNotAllowed;
    }
    if !host_trusted(host, allowed) {
        return OriginCheck::HostNotAllowed;
    }
    OriginCheck::Allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_pages_and_the_app_are_allowed() {
        assert_eq!(check_origin("http://127.0.0.1:18789", Some("127.0.0.1:18789"), &[]), OriginCheck::Allowed);
        assert_eq!(check_origin("http://localhost:18789", Some("localhost:18789"), &[]), OriginCheck::Allowed);
        assert_eq!(check_origin("http://[::1]:18789", Some("[::1]:18789"), &[]), OriginCheck::Allowed);
        assert_eq!(check_origin("http://192.168.1.10:18789", Some("192.168.1.10:18789"), &[]), OriginCheck::Allowed);
        assert_eq!(check_origin("tauri://localhost", Some("127.0.0.1:18789"), &[]), OriginCheck::Allowed);
        let listed = ["https://ops.example.com".to_string()];
        assert_eq!(check_origin("https://ops.example.com", Some("127.0.0.1:18789"), &listed), OriginCheck::Allowed);
        // The listed origin's host is trusted as a Host too (a proxy that keeps Host).
        assert_eq!(check_origin("https://ops.example.com", Some("ops.example.com"), &listed), OriginCheck::Allowed);
    }

    #[test]
    fn other_origins_are_refused() {
        assert_eq!(check_origin("http://evil.example", Some("127.0.0.1:18789"), &[]), OriginCheck::OriginNotAllowed);
        assert_eq!(check_origin("http://127.0.0.1:8080", Some("127.0.0.1:18789"), &[]), OriginCheck::OriginNotAllowed);
        assert_eq!(check_origin("null", Some("127.0.0.1:18789"), &[]), OriginCheck::OriginNotAllowed);
        assert_eq!(check_origin("file://", Some("127.0.0.1:18789"), &[]), OriginCheck::OriginNotAllowed);
        assert_eq!(check_origin("http://localhost:18789", None, &[]), OriginCheck::OriginNotAllowed);
    }

    #[test]
    fn a_rebound_page_is_refused_by_its_host() {
        // evil.example re-pointed at 127.0.0.1: Origin and Host agree, the Host is not ours.
        assert_eq!(check_origin("http://evil.example:18789", Some("evil.example:18789"), &[]), OriginCheck::HostNotAllowed);
        // "*" allows any origin, but not through an untrusted Host.
        let any = ["*".to_string()];
        assert_eq!(check_origin("http://evil.example:18789", Some("evil.example:18789"), &any), OriginCheck::HostNotAllowed);
        assert_eq!(check_origin("http://evil.example", Some("127.0.0.1:18789"), &any), OriginCheck::Allowed);
        // Public IP literals are not private ones.
        assert_eq!(check_origin("http://203.0.113.5:18789", Some("203.0.113.5:18789"), &[]), OriginCheck::HostNotAllowed);
    }

    #[test]
    fn trusted_hosts() {
        for host in ["127.0.0.1:1", "localhost", "LOCALHOST.:80", "app.localhost:5", "[::1]:9", "10.1.2.3", "[fd00::1]:1", "100.64.0.1"] {
            assert!(host_trusted(host, &[]), "{host}");
        }
        for host in ["evil.example:18789", "", "8.8.8.8", "localhost.evil.example", "[2001:db8::1]:1"] {
            assert!(!host_trusted(host, &[]), "{host}");
        }
        assert!(host_trusted("gw.example.com:443", &["https://gw.example.com".to_string()]));
        assert!(!host_trusted("gw.example.com", &["*".to_string()]));
    }
}
