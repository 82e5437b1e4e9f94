//! SSRF guard for provider base URLs.
//!
//! A provider request carries an API key and goes wherever `baseUrl` says, so a config edit (or
//! a DNS answer) must not be able to aim it at cloud metadata (169.254.169.254), the LAN or other
//! internal services. Loopback is always allowed (local Ollama/llama.cpp); everything that is not
//! public internet needs `models.providers.<id>.allowPrivateNetwork: true`.
//!
//! Literal IPs are checked when the config is parsed; names are checked on every connection by
//! [`GuardedResolver`], so a name that later resolves to a private address is still refused.
//! Redirects are disabled on provider clients for the same reason. (Behind an HTTP proxy from
//! `HTTPS_PROXY`, the proxy resolves names and this check cannot see them.)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What kind of network an address is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    Loopback,
    /// Private, link-local, unique-local, CGNAT, unspecified, multicast, reserved or
    /// documentation ranges: anything that is neither loopback nor public internet.
    NonPublic,
    Public,
}

impl AddrClass {
    pub fn is_loopback(self) -> bool {
        self == AddrClass::Loopback
    }

    /// Refused unless the provider opts into private networks.
    pub fn is_refused_by_default(self) -> bool {
        self == AddrClass::NonPublic
    }
}

/// Classify an address (IPv4-mapped and NAT64 IPv6 addresses by their embedded IPv4).
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let [a, b, c, _] = ip.octets();
    if a == 127 {
        return AddrClass::Loopback;
    }
    let non_public = a == 0 // "this network"; 0.0.0.0 reaches local services on Linux
        || a == 10
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 168)
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 100 && (64..=127).contains(&b)) // CGNAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224; // multicast, reserved, broadcast
    if non_public {
        AddrClass::NonPublic
    } else {
        AddrClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    if ip == Ipv6Addr::LOCALHOST {
        return AddrClass::Loopback;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form (::a.b.c.d).
    if (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0]) || (s[0..6] == [0, 0, 0, 0, 0, 0] && s[6] != 0) {
        let [hi, lo] = [s[6], s[7]];
        return classify_v4(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8));
    }
    let non_public = ip.is_unspecified()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8); // documentation
    if non_public {
        AddrClass::NonPublic
    } else {
        AddrClass::Public
    }
}

/// A provider host resolved only to addresses the provider may not use.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{host} resolves to a private network address ({addr}); set \
     models.providers.{provider}.allowPrivateNetwork: true if that is intended"
)]
pub struct PrivateAddressRefused {
    pub provider: String,
    pub host: String,
    pub addr: IpAddr,
}

/// A DNS resolver that drops non-public addresses unless the provider allows them.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub provider: String,
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if guard.allow_private {
                return Ok(Box::new(resolved.into_iter()) as Addrs);
            }
            let (usable, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                resolved.into_iter().partition(|a| !classify(a.ip()).is_refused_by_default());
            if let (true, Some(first)) = (usable.is_empty(), refused.first()) {
                tracing::warn!(provider = %guard.provider, host = %host, addr = %first.ip(), "refusing a provider host on a private network");
                return Err(Box::new(PrivateAddressRefused { provider: guard.provider, host, addr: first.ip() }).into());
            }
            Ok(Box::new(usable.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddrClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn classifies_the_usual_suspects() {
        for s in ["127.0.0.1", "127.8.9.1", "::1"] {
            assert_eq!(class(s), AddrClass::Loopback, "{s}");
        }
        for s in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "fd00::1",
            "fe80::1",
            "::",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "fd00:ec2::254",
        ] {
            assert_eq!(class(s), AddrClass::NonPublic, "{s}");
        }
        for s in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert_eq!(class(s), AddrClass::Public, "{s}");
        }
        assert_eq!(class("::ffff:127.0.0.1"), AddrClass::Loopback);
    }

    #[tokio::test]
    async fn resolver_refuses_names_that_resolve_privately_and_keeps_loopback() {
        let guard = GuardedResolver { provider: "p".into(), allow_private: false };
        let addrs: Vec<_> = guard.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
        // A literal private address given as a name goes through lookup_host unchanged.
        let err = match guard.resolve("10.1.2.3".parse().unwrap()).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("10.1.2.3 was allowed"),
        };
        assert!(err.contains("models.providers.p.allowPrivateNetwork"), "{err}");
        let open = GuardedResolver { provider: "p".into(), allow_private: true };
        assert_eq!(open.resolve("10.1.2.3".parse().unwrap()).await.unwrap().count(), 1);
    }
}
