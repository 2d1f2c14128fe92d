//! Who a request comes from. Behind a load balancer every TCP peer is the
//! balancer, so the address the per-IP limit counts must come from what the
//! balancer says: `X-Forwarded-For`, else `Forwarded: for=` (RFC 7239). Those
//! headers are believed only from the configured trusted proxies
//! (`--trusted-proxy`); from anyone else they are ignored, since a client
//! can write whatever it likes there (protocol.md §10).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use hyper::header::{FORWARDED, HeaderMap, HeaderName};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// An IP address or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as
    /// its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(u32::from(ip).into(), 32, self.prefix) == u32::from(net).into(),
            (IpAddr::V6(net), IpAddr::V6(ip)) => masked(u128::from(ip), 128, self.prefix) == u128::from(net),
            _ => false,
        }
    }
}

/// `bits` with all but the first `prefix` of its `width` bits cleared.
fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let keep = u32::from(width - prefix);
    (bits >> keep) << keep
}

/// Why an `--trusted-proxy` value is not an address or a CIDR block.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an IP address or CIDR block (e.g. 10.0.0.1, 10.0.0.0/8, 2001:db8::/32)")]
pub struct BadIpRange(String);

impl FromStr for IpRange {
    type Err = BadIpRange;

    fn from_str(s: &str) -> Result<IpRange, BadIpRange> {
        let bad = || BadIpRange(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let ip = addr.parse::<IpAddr>().map_err(|_| bad())?.to_canonical();
        let width = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(width);
        if prefix > width {
            return Err(bad());
        }
        let network = match ip {
            IpAddr::V4(v4) => IpAddr::V4((masked(u32::from(v4).into(), 32, prefix) as u32).into()),
            IpAddr::V6(v6) => IpAddr::V6(masked(u128::from(v6), 128, prefix).into()),
        };
        Ok(IpRange { network, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Whether `ip` is one of the trusted proxies.
pub fn is_trusted(ip: IpAddr, trusted: &[IpRange]) -> bool {
    trusted.iter().any(|range| range.contains(ip))
}

/// The address a request comes from: the TCP peer's, unless the peer is a
/// trusted proxy; then the last address of its forwarding chain that is not
/// itself a trusted proxy (walking from the right, the hop nearest to us,
/// since only what our own proxies appended can be believed). A trusted
/// peer whose header is missing, or malformed where it is read, is taken at
/// its word as the client (and a malformed header is logged).
pub fn client_addr(headers: &HeaderMap, peer: SocketAddr, trusted: &[IpRange]) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    if !is_trusted(peer_ip, trusted) {
        return peer_ip;
    }
    let chain: Vec<&str> = if headers.contains_key(X_FORWARDED_FOR) {
        list(headers, X_FORWARDED_FOR).collect()
    } else {
        list(headers, FORWARDED).filter_map(forwarded_for).collect()
    };
    for hop in chain.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(ip, trusted) => continue,
            Some(ip) => return ip,
            None => {
                tracing::info!(%peer, hop, "a trusted proxy forwarded a malformed client address; using the proxy's");
                return peer_ip;
            }
        }
    }
    // Every hop was one of ours (or there were none): the first one is it.
    chain.first().and_then(|hop| parse_hop(hop)).unwrap_or(peer_ip)
}

/// The comma-separated elements of every `name` header, in order.
fn list(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = &str> {
    headers.get_all(name).into_iter().map(|v| v.to_str().unwrap_or("?")).flat_map(|v| v.split(',')).map(str::trim)
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.1;proto=https`);
/// an element without one is malformed for our purpose.
fn forwarded_for(element: &str) -> Option<&str> {
    let found = element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| value.trim())
    });
    Some(found.unwrap_or("?"))
}

/// One hop's address: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`, quoted or not. `unknown` and obfuscated names
/// (`_hidden`) are not addresses.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip().to_canonical());
    }
    let bracketed = hop.strip_prefix('[')?.split(']').next()?;
    bracketed.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|s| s.parse().expect("a range")).collect()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn from(peer: &str, trusted: &[&str], pairs: &[(&'static str, &'static str)]) -> String {
        client_addr(&headers(pairs), peer.parse().unwrap(), &ranges(trusted)).to_string()
    }

    #[test]
    fn ranges_parse_and_contain() {
        let net: IpRange = "10.1.2.3/8".parse().unwrap();
        assert_eq!(net.to_string(), "10.0.0.0/8");
        assert!(net.contains("10.200.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.9".parse().unwrap()), "mapped IPv4 is IPv4");
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one: IpRange = "192.0.2.7".parse().unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()) && !one.contains("192.0.2.8".parse().unwrap()));
        let v6: IpRange = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()) && !v6.contains("2001:db9::1".parse().unwrap()));
        assert!("0.0.0.0/0".parse::<IpRange>().unwrap().contains("203.0.113.1".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "::/129", "example.com", "10.0.0.0/x", "10.0.0/8"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn forwarded_headers_are_ignored_from_an_untrusted_peer() {
        let spoof = [("x-forwarded-for", "198.51.100.9"), ("forwarded", "for=198.51.100.9")];
        assert_eq!(from("203.0.113.5:5000", &[], &spoof), "203.0.113.5");
        assert_eq!(from("203.0.113.5:5000", &["10.0.0.0/8"], &spoof), "203.0.113.5");
    }

    #[test]
    fn a_trusted_proxy_names_the_client_walking_from_the_right() {
        let lb = ["10.0.0.0/8"];
        assert_eq!(from("10.0.0.2:5000", &lb, &[("x-forwarded-for", "198.51.100.9")]), "198.51.100.9");
        // The client wrote the first entry; our balancer appended the real peer.
        assert_eq!(from("10.0.0.2:5000", &lb, &[("x-forwarded-for", "1.2.3.4, 198.51.100.9")]), "198.51.100.9");
        // Two hops of ours, in one header or several.
        assert_eq!(from("10.0.0.2:5000", &lb, &[("x-forwarded-for", "198.51.100.9, 10.0.0.3")]), "198.51.100.9");
        assert_eq!(
            from("10.0.0.2:5000", &lb, &[("x-forwarded-for", "198.51.100.9"), ("x-forwarded-for", "10.0.0.3")]),
            "198.51.100.9"
        );
        assert_eq!(from("10.0.0.2:5000", &lb, &[("x-forwarded-for", "[2001:db8::7]:443")]), "2001:db8::7");
        assert_eq!(from("10.0.0.2:5000", &lb, &[("x-forwarded-for", "198.51.100.9:61000")]), "198.51.100.9");
        // RFC 7239, when there is no X-Forwarded-For.
        let fwd = [("forwarded", r#"for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.2"#)];
        assert_eq!(from("10.0.0.2:5000", &lb, &fwd), "2001:db8:cafe::17");
        assert_eq!(from("[::ffff:10.0.0.2]:5000", &lb, &[("forwarded", "For=198.51.100.9")]), "198.51.100.9");
    }

    #[test]
    fn a_trusted_proxy_without_a_usable_header_is_the_client() {
        let lb = ["10.0.0.0/8"];
        assert_eq!(from("10.0.0.2:5000", &lb, &[]), "10.0.0.2");
        assert_eq!(from("10.0.0.2:5000", &lb, &[("x-forwarded-for", "not-an-ip")]), "10.0.0.2");
        assert_eq!(from("10.0.0.2:5000", &lb, &[("x-forwarded-for", "")]), "10.0.0.2");
        assert_eq!(from("10.0.0.2:5000", &lb, &[("forwarded", "for=unknown")]), "10.0.0.2");
        assert_eq!(from("10.0.0.2:5000", &lb, &[("forwarded", "proto=https")]), "10.0.0.2");
        // Only our own hops: the first of them.
        assert_eq!(from("10.0.0.2:5000", &lb, &[("x-forwarded-for", "10.0.0.9, 10.0.0.3")]), "10.0.0.9");
    }
}
