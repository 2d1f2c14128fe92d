//! Connection permits: how many WebSockets each address has open, so one
//! address cannot take every socket the server has (protocol.md §10). A
//! permit is held for the life of a connection and gives its slot back when
//! dropped, however the connection ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open connections per address. A std `Mutex`: it is held for a map update
/// only, never across an await.
#[derive(Debug, Default)]
pub(crate) struct ConnectionsPerIp {
    table: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl ConnectionsPerIp {
    /// Claims one of `ip`'s `max` slots, if it has one left.
    pub(crate) fn claim(&self, ip: IpAddr, max: u32) -> Option<IpPermit> {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let n = table.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpPermit { ip, table: self.table.clone() })
    }
}

/// A WebSocket connection's claim on its address's connection allowance.
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
}
