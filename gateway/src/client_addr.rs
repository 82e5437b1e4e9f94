//! Who is on the other end of a connection: the socket's address, or, when the socket is a
//! configured trusted proxy (`gateway.trustedProxies`, OpenClaw's key), the client address
//! that proxy reports.
//!
//! The rules are OpenClaw's (`resolveClientIp`): only a trusted proxy's `X-Forwarded-For` is
//! believed, and from it the right-most hop that is neither loopback nor itself a trusted
//! proxy (the left-most entries are whatever the client chose to send); `X-Real-IP` is used
//! only with `gateway.allowRealIpFallback`. Anyone else's forwarding headers are ignored for
//! the address, but still mark the connection as proxied, so it never counts as a local one.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// `gateway.trustedProxies` / `gateway.allowRealIpFallback`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyTrust {
    proxies: Vec<IpNet>,
    allow_real_ip_fallback: bool,
}

/// A `gateway.trustedProxies` entry that is neither an IP address nor a CIDR range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected an IP address or CIDR range (e.g. \"10.0.0.1\" or \"10.0.0.0/8\"), got {0:?}")]
pub struct BadProxyEntry(pub String);

/// Parse one `gateway.trustedProxies` entry.
pub fn parse_proxy_entry(entry: &str) -> Result<IpNet, BadProxyEntry> {
    let trimmed = entry.trim();
    IpNet::from_str(trimmed).or_else(|_| IpAddr::from_str(trimmed).map(IpNet::from)).map_err(|_| BadProxyEntry(entry.to_string()))
}

impl ProxyTrust {
    pub fn parse(entries: &[String], allow_real_ip_fallback: bool) -> Result<ProxyTrust, BadProxyEntry> {
        let proxies = entries.iter().map(|e| parse_proxy_entry(e)).collect::<Result<_, _>>()?;
        Ok(ProxyTrust { proxies, allow_real_ip_fallback })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|net| net.contains(&ip))
    }
}

/// The client a connection is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// The address failed logins are counted against.
    pub ip: IpAddr,
    /// The request carried proxy headers (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`): the
    /// socket is not the client, whatever its address.
    pub via_proxy: bool,
}

/// Whether a request carries any header a proxy adds.
pub fn has_proxy_headers(headers: &HeaderMap) -> bool {
    headers.keys().any(|name| {
        let name = name.as_str();
        name == "forwarded" || name == "x-real-ip" || name.starts_with("x-forwarded-")
    })
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80` or `::1`.
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    if let Ok(ip) = IpAddr::from_str(raw) {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = raw.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| IpAddr::from_str(ip).ok()).map(|ip| ip.to_canonical());
    }
    let (ip, _port) = raw.rsplit_once(':')?;
    std::net::Ipv4Addr::from_str(ip).ok().map(IpAddr::V4)
}

/// Attribute a connection from `socket` with these request headers.
pub fn resolve(socket: IpAddr, headers: &HeaderMap, trust: &ProxyTrust) -> ClientAddr {
    let socket = socket.to_canonical();
    let via_proxy = has_proxy_headers(headers);
    if !via_proxy || !trust.trusts(socket) {
        return ClientAddr { ip: socket, via_proxy };
    }
    let forwarded_for = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let from_chain = forwarded_for.split(',').rev().filter_map(parse_hop).find(|hop| !hop.is_loopback() && !trust.trusts(*hop));
    let from_real_ip = || {
        trust
            .allow_real_ip_fallback
            .then(|| headers.get("x-real-ip").and_then(|v| v.to_str().ok()).and_then(parse_hop))
            .flatten()
            .filter(|ip| !ip.is_loopback())
    };
    // A trusted proxy that names no usable client is counted as itself (never as local).
    let ip = from_chain.or_else(from_real_ip).unwrap_or(socket);
    ClientAddr { ip, via_proxy }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trust(entries: &[&str], real_ip: bool) -> ProxyTrust {
        ProxyTrust::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>(), real_ip).unwrap()
    }

    #[test]
    fn a_direct_client_is_its_socket_address() {
        let c = resolve(ip("127.0.0.1"), &HeaderMap::new(), &trust(&["127.0.0.1"], false));
        assert_eq!(c, ClientAddr { ip: ip("127.0.0.1"), via_proxy: false });
        // IPv4-mapped IPv6 sockets are the IPv4 address.
        let c = resolve(ip("::ffff:10.1.2.3"), &HeaderMap::new(), &ProxyTrust::default());
        assert_eq!(c.ip, ip("10.1.2.3"));
    }

    #[test]
    fn forwarding_headers_from_an_untrusted_socket_mark_the_connection_but_do_not_move_it() {
        for h in [
            headers(&[("x-forwarded-for", "203.0.113.9")]),
            headers(&[("x-real-ip", "203.0.113.9")]),
            headers(&[("forwarded", "for=203.0.113.9")]),
            headers(&[("x-forwarded-proto", "https")]),
        ] {
            let c = resolve(ip("127.0.0.1"), &h, &ProxyTrust::default());
            assert_eq!(c, ClientAddr { ip: ip("127.0.0.1"), via_proxy: true }, "{h:?}");
        }
    }

    #[test]
    fn a_trusted_proxy_reports_the_rightmost_untrusted_hop() {
        let t = trust(&["127.0.0.1", "10.0.0.0/8"], false);
        // The client may prepend anything; the proxy appends the real peer.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.2.3.4")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &t), ClientAddr { ip: ip("198.51.100.7"), via_proxy: true });
        // Several headers are one chain; ports and brackets are dropped.
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "198.51.100.8:4431")]);
        assert_eq!(resolve(ip("10.9.9.9"), &h, &t).ip, ip("198.51.100.8"));
        let h = headers(&[("x-forwarded-for", "[2001:db8::5]:443")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &t).ip, ip("2001:db8::5"));
    }

    #[test]
    fn x_real_ip_counts_only_when_allowed_and_an_empty_chain_stays_the_proxy() {
        let h = headers(&[("x-real-ip", "198.51.100.20")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trust(&["127.0.0.1"], false)).ip, ip("127.0.0.1"));
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trust(&["127.0.0.1"], true)).ip, ip("198.51.100.20"));
        let h = headers(&[("x-forwarded-for", "127.0.0.1, garbage")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trust(&["127.0.0.1"], false)), ClientAddr { ip: ip("127.0.0.1"), via_proxy: true });
    }

    #[test]
    fn proxy_entries_are_addresses_or_ranges() {
        assert!(parse_proxy_entry(" 10.0.0.1 ").is_ok());
        assert!(parse_proxy_entry("fd00::/8").is_ok());
        assert_eq!(parse_proxy_entry("proxy.local"), Err(BadProxyEntry("proxy.local".into())));
        assert_eq!(ProxyTrust::parse(&["10.0.0.1".into(), "10.0.0.0/33".into()], false).err(), Some(BadProxyEntry("10.0.0.0/33".into())));
    }
}
