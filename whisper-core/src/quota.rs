//! Write budgets and room-creation caps (protocol.md §10): how many bytes of
//! content and how many new rooms one user, and one client address, may
//! store per window. Shared by every session of a node (it lives in
//! [`Chat`](crate::Chat)), so one user's many connections, and one address's
//! many users, draw on one budget.
//!
//! A frame is charged whole, under one lock, when the session accepts it,
//! before the store sees it; a frame the store refuses is refunded, so an
//! outage does not eat anyone's budget. A new room is reserved when the
//! frame is charged (so concurrent frames cannot overshoot) and kept only if
//! the commit created it — stored a message with seq 1 there.
//!
//! Budgets are per node: in a cluster each node keeps its own tables.
//!
//! The tables are bounded ([`Quotas::max_tracked`]): idle keys (every window
//! over) go first, then the least-charged, so forgetting a key forgives
//! little.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};

use tokio::time::{Duration, Instant};

use crate::codec::{ErrorCode, Refusal};
use crate::limits::Quotas;
use crate::model::{Message, RoomName, Seq, UserId};

/// The node's budget tables.
#[derive(Debug)]
pub(crate) struct Budgets {
    quotas: Quotas,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    users: Table<UserId>,
    addresses: Table<IpAddr>,
    /// Rooms known to have history, so a post into one needs no store read
    /// to know it creates nothing.
    known_rooms: KnownRooms,
}

/// What a frame was charged, to refund what it did not use.
#[derive(Debug)]
pub(crate) struct Charge {
    user: UserId,
    address: Option<IpAddr>,
    bytes: u64,
    /// Rooms the frame may create, reserved.
    rooms: Vec<RoomName>,
    at: Instant,
}

/// The key of an address's budget: an IPv4 address, or the /64 an IPv6
/// address is in (one host's usual share; an IPv4-mapped one is IPv4).
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every change is a counter or an insert: a panic leaves nothing half done.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Budgets {
    pub(crate) fn new(quotas: Quotas) -> Self {
        Budgets { quotas, state: Mutex::new(State::default()) }
    }

    /// Of `rooms`, those not known to have history.
    pub(crate) fn unknown_rooms(&self, rooms: Vec<RoomName>) -> Vec<RoomName> {
        if !self.caps_rooms() {
            return Vec::new();
        }
        let state = lock(&self.state);
        rooms.into_iter().filter(|r| !state.known_rooms.contains(r)).collect()
    }

    /// Remembers that `room` has history.
    pub(crate) fn room_exists(&self, room: &RoomName) {
        if self.caps_rooms() {
            lock(&self.state).known_rooms.insert(room.clone(), self.quotas.max_tracked);
        }
    }

    /// Whether any budget is on (if none, frames are not even counted).
    fn enabled(&self) -> bool {
        let q = &self.quotas;
        self.caps_rooms()
            || [q.user_bytes_per_minute, q.user_bytes_per_day, q.address_bytes_per_minute, q.address_bytes_per_day]
                .iter()
                .any(|&n| n > 0)
    }

    /// Whether any room-creation cap is on (if not, rooms need not be tracked).
    pub(crate) fn caps_rooms(&self) -> bool {
        let q = &self.quotas;
        [q.user_rooms_per_hour, q.user_rooms_per_day, q.address_rooms_per_hour, q.address_rooms_per_day]
            .iter()
            .any(|&n| n > 0)
    }

    /// Charges a frame of `bytes` of content that may create `new_rooms`, or
    /// refuses it (charging nothing) with the first budget it would exceed.
    pub(crate) fn charge(
        &self,
        user: UserId,
        address: Option<IpAddr>,
        bytes: u64,
        new_rooms: Vec<RoomName>,
    ) -> Result<Charge, Refusal> {
        let q = &self.quotas;
        let now = Instant::now();
        let address = address.map(address_key);
        if !self.enabled() {
            return Ok(Charge { user, address, bytes: 0, rooms: Vec::new(), at: now });
        }
        let rooms = new_rooms.len() as u64;
        let user_budgets = [
            Budget { kind: Kind::Bytes, limit: q.user_bytes_per_minute, window: q.minute, label: "minute" },
            Budget { kind: Kind::Bytes, limit: q.user_bytes_per_day, window: q.day, label: "day" },
            Budget { kind: Kind::Rooms, limit: q.user_rooms_per_hour, window: q.hour, label: "hour" },
            Budget { kind: Kind::Rooms, limit: q.user_rooms_per_day, window: q.day, label: "day" },
        ];
        let address_budgets = [
            Budget { kind: Kind::Bytes, limit: q.address_bytes_per_minute, window: q.minute, label: "minute" },
            Budget { kind: Kind::Bytes, limit: q.address_bytes_per_day, window: q.day, label: "day" },
            Budget { kind: Kind::Rooms, limit: q.address_rooms_per_hour, window: q.hour, label: "hour" },
            Budget { kind: Kind::Rooms, limit: q.address_rooms_per_day, window: q.day, label: "day" },
        ];
        let mut state = lock(&self.state);
        let State { users, addresses, .. } = &mut *state;
        let user_usage = users.get(&user, now);
        check(&user_budgets, user_usage, now, bytes, rooms, "user")?;
        if let Some(key) = address {
            check(&address_budgets, addresses.get(&key, now), now, bytes, rooms, "address")?;
        }
        users.entry(user, now, q.max_tracked).charge(&user_budgets, now, bytes, rooms);
        if let Some(key) = address {
            addresses.entry(key, now, q.max_tracked).charge(&address_budgets, now, bytes, rooms);
        }
        Ok(Charge { user, address, bytes, rooms: new_rooms, at: now })
    }

    /// Gives back all of a frame the store refused.
    pub(crate) fn refund(&self, charge: Charge) {
        let rooms = charge.rooms.len() as u64;
        if charge.bytes > 0 || rooms > 0 {
            self.give_back(&charge, charge.bytes, rooms);
        }
    }

    /// Settles a frame the store committed: its rooms are known to exist
    /// now, and the reserved rooms it did not create (someone else's message
    /// came first) are given back.
    pub(crate) fn settle(&self, charge: Charge, stored: &[Message]) {
        if charge.rooms.is_empty() {
            // The usual frame, into rooms known to exist: nothing to settle.
            return;
        }
        let created = |room: &RoomName| stored.iter().any(|m| &m.room == room && m.seq == Seq(1));
        let unused = charge.rooms.iter().filter(|r| !created(r)).count() as u64;
        if unused > 0 {
            self.give_back(&charge, 0, unused);
        }
        {
            let mut state = lock(&self.state);
            for room in &charge.rooms {
                state.known_rooms.insert(room.clone(), self.quotas.max_tracked);
            }
        }
    }

    fn give_back(&self, charge: &Charge, bytes: u64, rooms: u64) {
        let mut state = lock(&self.state);
        if let Some(usage) = state.users.entries.get_mut(&charge.user) {
            usage.give_back(charge.at, bytes, rooms);
        }
        if let Some(key) = charge.address
            && let Some(usage) = state.addresses.entries.get_mut(&key)
        {
            usage.give_back(charge.at, bytes, rooms);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bytes,
    Rooms,
}

/// One budget: `limit` of `kind` per `window` (0: no limit).
struct Budget {
    kind: Kind,
    limit: u64,
    window: Duration,
    label: &'static str,
}

/// Refuses if charging `bytes` and `rooms` would take `usage` past a budget.
fn check(
    budgets: &[Budget],
    usage: Option<&Usage>,
    now: Instant,
    bytes: u64,
    rooms: u64,
    who: &str,
) -> Result<(), Refusal> {
    for (i, budget) in budgets.iter().enumerate() {
        let amount = if budget.kind == Kind::Bytes { bytes } else { rooms };
        if budget.limit == 0 || amount == 0 {
            continue;
        }
        let window = usage.map_or(Window::default(), |u| u.windows[i]);
        let used = window.used_at(now, budget.window);
        if used.saturating_add(amount) > budget.limit {
            let wait = window.start.map_or(budget.window, |s| (s + budget.window).saturating_duration_since(now));
            let what = match budget.kind {
                Kind::Bytes => format!("{} bytes of content", budget.limit),
                Kind::Rooms => format!("{} new rooms", budget.limit),
            };
            let message = format!(
                "write budget exceeded: at most {what} per {} per {who}; nothing was stored, retry in {} ms",
                budget.label,
                wait.as_millis().max(1)
            );
            return Err(Refusal::new(ErrorCode::RateLimited, message).retry_after(wait));
        }
    }
    Ok(())
}

/// One key's use of its four budgets, in the order of [`Budgets::charge`]'s
/// lists: bytes per short window, bytes per day, rooms per hour, rooms per day.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    windows: [Window; 4],
    /// When the last of its windows ends: idle (forgettable) after that.
    until: Option<Instant>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Window {
    start: Option<Instant>,
    used: u64,
}

impl Window {
    fn used_at(&self, now: Instant, length: Duration) -> u64 {
        match self.start {
            Some(start) if now < start + length => self.used,
            _ => 0,
        }
    }
}

impl Usage {
    fn charge(&mut self, budgets: &[Budget], now: Instant, bytes: u64, rooms: u64) {
        for (window, budget) in self.windows.iter_mut().zip(budgets) {
            let amount = if budget.kind == Kind::Bytes { bytes } else { rooms };
            if budget.limit == 0 || amount == 0 {
                continue;
            }
            let start = match window.start {
                Some(start) if now < start + budget.window => start,
                _ => {
                    *window = Window { start: Some(now), used: 0 };
                    now
                }
            };
            window.used = window.used.saturating_add(amount);
            let end = start + budget.window;
            self.until = Some(self.until.map_or(end, |u| u.max(end)));
        }
    }

    /// Takes `bytes` and `rooms` back from the windows charged at `at`
    /// (a window that has started again since owes nothing).
    fn give_back(&mut self, at: Instant, bytes: u64, rooms: u64) {
        for (i, window) in self.windows.iter_mut().enumerate() {
            let amount = if i < 2 { bytes } else { rooms };
            if window.start.is_some_and(|s| s <= at) {
                window.used = window.used.saturating_sub(amount);
            }
        }
    }

    fn weight(&self) -> u64 {
        // A room costs about as much as a long message.
        self.windows[1].used.saturating_add(self.windows[3].used.saturating_mul(4096))
    }
}

#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Usage>,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Table { entries: HashMap::new() }
    }
}

impl<K: Hash + Eq + Copy> Table<K> {
    fn get(&self, key: &K, now: Instant) -> Option<&Usage> {
        self.entries.get(key).filter(|u| u.until.is_some_and(|t| now < t))
    }

    /// The key's usage, making room for it if the table is full.
    fn entry(&mut self, key: K, now: Instant, max: usize) -> &mut Usage {
        if !self.entries.contains_key(&key) && self.entries.len() >= max.max(1) {
            self.entries.retain(|_, u| u.until.is_some_and(|t| now < t));
            if self.entries.len() >= max.max(1) {
                // Forget the least-charged eighth at once, so that this
                // happens once per many new keys, not on every one.
                let mut weights: Vec<u64> = self.entries.values().map(Usage::weight).collect();
                let cut = (weights.len() / 8).max(1);
                let (_, &mut threshold, _) = weights.select_nth_unstable(cut - 1);
                let mut left = cut;
                self.entries.retain(|_, u| {
                    let forget = left > 0 && u.weight() <= threshold;
                    left -= usize::from(forget);
                    !forget
                });
            }
        }
        self.entries.entry(key).or_default()
    }
}

/// A bounded set of rooms known to have history, oldest forgotten first.
#[derive(Debug, Default)]
struct KnownRooms {
    set: HashSet<RoomName>,
    order: VecDeque<RoomName>,
}

impl KnownRooms {
    fn contains(&self, room: &RoomName) -> bool {
        self.set.contains(room)
    }

    fn insert(&mut self, room: RoomName, max: usize) {
        if self.set.contains(&room) {
            return;
        }
        while self.order.len() >= max.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.set.insert(room.clone());
        self.order.push_back(room);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas() -> Quotas {
        Quotas {
            user_bytes_per_minute: 100,
            user_bytes_per_day: 1000,
            address_bytes_per_minute: 150,
            address_bytes_per_day: 0,
            user_rooms_per_hour: 2,
            user_rooms_per_day: 0,
            address_rooms_per_hour: 0,
            address_rooms_per_day: 0,
            ..Quotas::default()
        }
    }

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_over_its_minute_is_refused_until_the_window_ends() {
        let budgets = Budgets::new(quotas());
        let (user, ip) = (UserId::random(), Some("10.0.0.1".parse().unwrap()));
        budgets.charge(user, ip, 60, vec![]).unwrap();
        let refusal = budgets.charge(user, ip, 60, vec![]).unwrap_err();
        assert_eq!(refusal.code, ErrorCode::RateLimited);
        assert!(refusal.message.contains("per minute per user"), "{}", refusal.message);
        assert_eq!(refusal.retry_after_ms, Some(60_000));
        budgets.charge(user, ip, 40, vec![]).unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
        budgets.charge(user, ip, 60, vec![]).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn users_of_one_address_share_its_budget_and_a_refund_gives_it_back() {
        let budgets = Budgets::new(quotas());
        let ip = Some("10.0.0.1".parse().unwrap());
        let first = budgets.charge(UserId::random(), ip, 100, vec![]).unwrap();
        let refusal = budgets.charge(UserId::random(), ip, 60, vec![]).unwrap_err();
        assert!(refusal.message.contains("per address"), "{}", refusal.message);
        budgets.charge(UserId::random(), Some("10.0.0.2".parse().unwrap()), 60, vec![]).unwrap();
        budgets.refund(first);
        budgets.charge(UserId::random(), ip, 60, vec![]).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn rooms_are_reserved_then_kept_only_if_created() {
        let budgets = Budgets::new(quotas());
        let user = UserId::random();
        let a = budgets.charge(user, None, 1, vec![room("a")]).unwrap();
        let b = budgets.charge(user, None, 1, vec![room("b")]).unwrap();
        assert!(budgets.charge(user, None, 1, vec![room("c")]).is_err(), "two rooms reserved: the cap");
        budgets.settle(a, &[]);
        budgets.refund(b);
        assert_eq!(budgets.unknown_rooms(vec![room("a"), room("b")]), vec![room("b")]);
        budgets.charge(user, None, 1, vec![room("c"), room("d")]).unwrap();
    }

    #[test]
    fn ipv6_is_grouped_by_64() {
        let a: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(address_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn the_tables_stay_bounded() {
        let budgets = Budgets::new(Quotas { max_tracked: 64, ..quotas() });
        for i in 0..1000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            budgets.charge(UserId::random(), Some(ip), 1, vec![]).unwrap();
            budgets.room_exists(&room(&format!("r{i}")));
        }
        let state = lock(&budgets.state);
        assert!(state.users.entries.len() <= 64 && state.addresses.entries.len() <= 64);
        assert!(state.known_rooms.set.len() <= 64);
    }
}
