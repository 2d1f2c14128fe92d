//! A store in process memory: the default for embedding and tests, and the
//! reference the other backends are checked against.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Page, ReadMark, ReadRange, ReadState, RoomInfo, RoomsPage, Store, StoreError};
use crate::model::{ClientId, Epoch, Message, NewMessage, RoomName, Seq, UserId};

/// Messages in memory. Lost when the process exits.
///
/// One `std::sync::Mutex` guards everything: every operation is short and
/// never awaits while holding it, so an async mutex would only add cost.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// By name, so that a page of rooms is a range of the map.
    rooms: BTreeMap<RoomName, RoomLog>,
    /// `(user, client id)` → where the original is, for idempotent resend.
    sent: HashMap<(UserId, ClientId), (RoomName, Seq)>,
    /// Read watermarks, by (user, room).
    read: HashMap<(UserId, RoomName), Seq>,
}

#[derive(Debug)]
struct RoomLog {
    epoch: Epoch,
    /// `messages[i]` has `seq = i + 1`.
    messages: Vec<Message>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.state.lock().map_err(|_| StoreError::Internal("memory store lock poisoned".into()))
    }
}

impl State {
    fn find(&self, room: &RoomName, seq: Seq) -> Option<&Message> {
        let log = self.rooms.get(room)?;
        log.messages.get(usize::try_from(seq.0).ok()?.checked_sub(1)?)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        let mut state = self.lock()?;
        let mut out = Vec::with_capacity(batch.len());
        for mut new in batch {
            // Whole milliseconds, as every store keeps them (`Store::append`).
            new.created_at = new.created_at.replace_millisecond(new.created_at.millisecond()).unwrap_or(new.created_at);
            if let Some(client_id) = &new.client_id {
                let key = (new.user_id, client_id.clone());
                if let Some((room, seq)) = state.sent.get(&key) {
                    let original = state
                        .find(room, *seq)
                        .cloned()
                        .ok_or_else(|| StoreError::Internal("client id points at nothing".into()))?;
                    out.push(original);
                    continue;
                }
            }
            let log = state
                .rooms
                .entry(new.room.clone())
                .or_insert_with(|| RoomLog { epoch: Epoch::fresh(), messages: Vec::new() });
            let seq = Seq(log.messages.len() as u64 + 1);
            let key = new.client_id.clone().map(|c| (new.user_id, c));
            let message = new.stored_at(seq);
            log.messages.push(message.clone());
            if let Some(key) = key {
                state.sent.insert(key, (message.room.clone(), seq));
            }
            out.push(message);
        }
        Ok(out)
    }

    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError> {
        let state = self.lock()?;
        let Some(log) = state.rooms.get(room) else {
            return Ok(Page { messages: Vec::new(), has_more: false });
        };
        let head = log.messages.len() as u64;
        // The window of seqs in range: (lo, hi) exclusive, as 0-based indexes.
        let lo = range.after_seq().map_or(0, |s| s.0.min(head)) as usize;
        let hi = range.before_seq().map_or(head + 1, |s| s.0.min(head + 1)) as usize;
        let window = if hi > lo + 1 { &log.messages[lo..hi - 1] } else { &[][..] };
        let limit = range.limit();
        let (slice, has_more) = if range.from_newest() {
            let start = window.len().saturating_sub(limit);
            (&window[start..], start > 0)
        } else {
            let end = window.len().min(limit);
            (&window[..end], end < window.len())
        };
        Ok(Page { messages: slice.to_vec(), has_more })
    }

    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        let state = self.lock()?;
        Ok(match state.rooms.get(room) {
            Some(log) => info(room, log),
            None => RoomInfo::empty(room.clone()),
        })
    }

    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError> {
        let state = self.lock()?;
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let rooms = state.rooms.range::<RoomName, _>((from, Bound::Unbounded));
        Ok(RoomsPage::first(rooms.map(|(name, log)| info(name, log)), limit))
    }

    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        let mut state = self.lock()?;
        let head = state.rooms.get(room).map_or(0, |log| log.messages.len() as u64);
        let seq = Seq(seq.0.min(head));
        let was = state.read.get(&(user, room.clone())).copied().unwrap_or(Seq::ZERO);
        if seq <= was {
            return Ok(ReadMark { read_seq: was, moved: false });
        }
        state.read.insert((user, room.clone()), seq);
        Ok(ReadMark { read_seq: seq, moved: true })
    }

    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError> {
        let state = self.lock()?;
        let read_seq = state.read.get(&(user, room.clone())).copied().unwrap_or(Seq::ZERO);
        let after = state.rooms.get(room).map_or(&[][..], |log| {
            log.messages.get(usize::try_from(read_seq.0).unwrap_or(usize::MAX)..).unwrap_or(&[])
        });
        let unread = after.iter().filter(|m| m.user_id != user).count() as u64;
        Ok(ReadState { read_seq, unread })
    }
}

fn info(name: &RoomName, log: &RoomLog) -> RoomInfo {
    RoomInfo {
        name: name.clone(),
        last_seq: Seq(log.messages.len() as u64),
        epoch: log.epoch,
        last_message_at: log.messages.last().map(|m| m.created_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_conformance_tests;

    store_conformance_tests!(async { std::sync::Arc::new(MemoryStore::new()) });
}
