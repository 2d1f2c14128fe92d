//! Connection permits: how many TCP connections the server holds in all,
//! and how many each address holds, so that neither a crowd nor one address
//! can take every file descriptor the process has (protocol.md §10). Both
//! are claimed when a connection is accepted, before a byte of it is read,
//! so slow-header and idle keep-alive sockets count like WebSockets; an
//! upgraded WebSocket keeps its connection's permits. A permit gives its
//! slot back when dropped, however the connection ends.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::gauge::Gauge;

/// The key an address is counted under: an IPv4 address is itself (an
/// IPv4-mapped IPv6 address is its IPv4 one), an IPv6 address is its /64,
/// the block one subscriber usually gets whole: otherwise one host could
/// open its limit from each of its 2^64 addresses.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Open connections per address (by [`ip_key`]). A std `Mutex`: it is held
/// for a map update only, never across an await.
#[derive(Debug, Default)]
pub(crate) struct ConnectionsPerIp {
    table: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl ConnectionsPerIp {
    /// Claims one of `ip`'s `max` slots, if it has one left.
    pub(crate) fn claim(&self, ip: IpAddr, max: u32) -> Option<IpPermit> {
        let ip = ip_key(ip);
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let n = table.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpPermit { ip, table: self.table.clone() })
    }
}

/// A connection's claim on its address's connection allowance.
#[derive(Debug)]
pub struct IpPermit {
    ip: IpAddr,
    table: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = table.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

/// Every TCP connection the server holds: `max` for anyone, then `reserve`
/// more that only serve health checks and metrics, so that an orchestrator
/// still sees a full node.
#[derive(Debug)]
pub(crate) struct OpenConnections {
    open: Counted,
    reserved: Counted,
}

/// Which slot an accepted connection got.
#[derive(Debug)]
pub(crate) enum Slot {
    /// One of the `max`: the connection may ask for anything.
    Open(ConnectionSlot),
    /// One of the reserve: `/healthz`, `/readyz` and `/metrics` only, one
    /// request, then closed.
    Reserve(ConnectionSlot),
    /// None left: the connection is refused with 503.
    Full,
}

/// A count of connections held, with its cap.
#[derive(Debug)]
struct Counted {
    held: Arc<AtomicUsize>,
    max: usize,
    /// `whisper_tcp_connections`, shared by both counts.
    gauge: Gauge,
}

impl Counted {
    fn claim(&self) -> Option<ConnectionSlot> {
        self.held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max).then_some(n + 1)).ok()?;
        self.gauge.inc();
        Some(ConnectionSlot { held: self.held.clone(), gauge: self.gauge.clone() })
    }
}

impl OpenConnections {
    /// `gauge` follows the connections held.
    pub(crate) fn new(max: usize, reserve: usize, gauge: Gauge) -> OpenConnections {
        OpenConnections {
            open: Counted { held: Arc::default(), max, gauge: gauge.clone() },
            reserved: Counted { held: Arc::default(), max: reserve, gauge },
        }
    }

    /// Connections held now, reserve included.
    pub(crate) fn open(&self) -> usize {
        self.open.held.load(Ordering::Acquire) + self.reserved.held.load(Ordering::Acquire)
    }

    /// Claims a slot for a new connection: an open one while any is left,
    /// else one of the reserve.
    pub(crate) fn claim(&self) -> Slot {
        if let Some(slot) = self.open.claim() {
            Slot::Open(slot)
        } else if let Some(slot) = self.reserved.claim() {
            Slot::Reserve(slot)
        } else {
            Slot::Full
        }
    }
}

/// One connection's place under the global cap, given back when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    held: Arc<AtomicUsize>,
    gauge: Gauge,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.held.fetch_sub(1, Ordering::AcqRel);
        self.gauge.dec();
    }
}

/// What one accepted connection holds for its life: its place under the
/// global cap and, unless it comes from a trusted proxy, its address's
/// slot. Shared (`Arc`) by the HTTP connection and, once upgraded, its
/// WebSocket, so the slots go back when the last of them ends.
#[derive(Debug)]
pub struct ConnectionPermit {
    _slot: ConnectionSlot,
    /// `None` for a trusted proxy's connection: its WebSocket claims a slot
    /// for the client it forwards instead.
    pub(crate) ip: Option<IpPermit>,
}

impl ConnectionPermit {
    pub(crate) fn new(slot: ConnectionSlot, ip: Option<IpPermit>) -> ConnectionPermit {
        ConnectionPermit { _slot: slot, ip }
    }
}

/// What a WebSocket session holds for its life: its connection's permit
/// and, for a client forwarded by a trusted proxy, the client's own slot.
#[derive(Debug)]
pub struct SessionPermits {
    _connection: Arc<ConnectionPermit>,
    _client: Option<IpPermit>,
}

impl SessionPermits {
    pub(crate) fn new(connection: Arc<ConnectionPermit>, client: Option<IpPermit>) -> SessionPermits {
        SessionPermits { _connection: connection, _client: client }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_permit_gives_its_slot_back() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let table = ConnectionsPerIp::default();
        let first = table.claim(ip, 2).expect("first slot");
        let _second = table.claim(ip, 2).expect("second slot");
        assert!(table.claim(ip, 2).is_none(), "the third is over the limit");
        assert!(table.claim("127.0.0.2".parse().unwrap(), 2).is_some(), "another address has its own slots");
        drop(first);
        assert!(table.claim(ip, 2).is_some(), "the freed slot is claimable again");
    }

    #[test]
    fn ipv6_is_counted_by_its_64_and_mapped_ipv4_as_ipv4() {
        let key = |s: &str| ip_key(s.parse().unwrap()).to_string();
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"), "one /64, one key");
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"), "the next /64 is another");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::1"), "::");

        let table = ConnectionsPerIp::default();
        let _a = table.claim("2001:db8::1".parse().unwrap(), 2).expect("first of the /64");
        let _b = table.claim("2001:db8::2".parse().unwrap(), 2).expect("second of the /64");
        assert!(table.claim("2001:db8::3".parse().unwrap(), 2).is_none(), "a third address of the /64 is over");
        assert!(table.claim("2001:db8:0:1::3".parse().unwrap(), 2).is_some(), "another /64 has its own");
        let _v4 = table.claim("192.0.2.7".parse().unwrap(), 1).expect("the IPv4 address");
        assert!(table.claim("::ffff:192.0.2.7".parse().unwrap(), 1).is_none(), "its mapped form is the same");
    }

    #[test]
    fn the_reserve_comes_after_the_cap_and_slots_come_back() {
        let gauge = Gauge::default();
        let open = OpenConnections::new(2, 1, gauge.clone());
        let a = open.claim();
        let b = open.claim();
        assert!(matches!(a, Slot::Open(_)) && matches!(b, Slot::Open(_)));
        let r = open.claim();
        assert!(matches!(r, Slot::Reserve(_)), "{r:?}");
        assert!(matches!(open.claim(), Slot::Full));
        assert_eq!(open.open(), 3);
        assert_eq!(gauge.get(), 3);
        drop(a);
        assert!(matches!(open.claim(), Slot::Open(_)), "a freed slot is for anyone again");
        drop(r);
        drop(b);
        assert_eq!(open.open(), 0);
        assert_eq!(gauge.get(), 0);
    }
}
