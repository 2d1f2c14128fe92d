//! A store in process memory: the default for embedding and tests, and the
//! reference the other backends are checked against.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

use async_trait::async_trait;

use super::timeline::RoomTimeline;
use super::{
    Applied, LogPage, MemberRoomsPage, NewRoom, Page, ReadMark, ReadRange, ReadState, RoomInfo, RoomsPage, Search,
    SearchPage, Store, StoreError, rooms_limit, rules,
};
use crate::model::{
    Access, Change, ClientId, DisplayName, Entry, Epoch, Event, FileId, FileRecord, Message, MessageId, NewEvent,
    NewMessage, PostedFile, Role, RoomName, Seq, Standing, UserId, Visibility,
};

/// Rooms' logs in memory. Lost when the process exits.
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
    rooms: BTreeMap<RoomName, RoomTimeline>,
    /// `(user, client id)` → where a message is, for idempotent resend.
    sent: HashMap<(UserId, ClientId), (RoomName, Seq)>,
    /// The same for events, which have their own client ids.
    events_sent: HashMap<(UserId, ClientId), (RoomName, Seq)>,
    /// Read watermarks, by (user, room).
    read: HashMap<(UserId, RoomName), Seq>,
    /// Who is a member of what, by (user, room): the index of
    /// [`Store::member_rooms`].
    memberships: HashMap<UserId, BTreeMap<RoomName, Role>>,
    /// Every message in the order stored: a message's search position is
    /// its index here plus one.
    posted: Vec<(RoomName, Seq)>,
    /// Uploaded files, and the messages that carry each.
    files: HashMap<FileId, KeptFile>,
}

/// A file's record and what references it.
#[derive(Debug)]
struct KeptFile {
    record: FileRecord,
    /// Whether a message ever carried it (then it goes once nothing does).
    posted: bool,
    /// The live messages carrying it.
    carried_by: std::collections::BTreeSet<(RoomName, Seq)>,
}

impl State {
    /// Keeps [`State::memberships`] in step with a stored event.
    fn index(&mut self, event: &Event) {
        if let Some((user, standing)) = rules::standing_after(&event.change) {
            let rooms = self.memberships.entry(user).or_default();
            match standing.role() {
                Some(role) => rooms.insert(event.room.clone(), role),
                None => rooms.remove(&event.room),
            };
        }
    }
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
                    let original = match state.rooms.get(room).and_then(|log| log.entry(*seq)) {
                        Some(Entry::Message(m)) => m.clone(),
                        _ => return Err(StoreError::Internal("client id points at nothing".into())),
                    };
                    out.push(original);
                    continue;
                }
            }
            let log = state.rooms.entry(new.room.clone()).or_insert_with(|| RoomTimeline::new(Epoch::fresh()));
            let key = new.client_id.clone().map(|c| (new.user_id, c));
            let message = new.stored_at(log.head().next());
            log.push_message(message.clone()).map_err(StoreError::Internal)?;
            state.posted.push((message.room.clone(), message.seq));
            for attachment in &message.attachments {
                if let Some(file) = state.files.get_mut(&attachment.id) {
                    file.posted = true;
                    file.carried_by.insert((message.room.clone(), message.seq));
                }
            }
            if let Some(key) = key {
                state.sent.insert(key, (message.room.clone(), message.seq));
            }
            out.push(message);
        }
        Ok(out)
    }

    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError> {
        let state = self.lock()?;
        Ok(state.rooms.get(room).map_or(Page { messages: Vec::new(), has_more: false }, |log| log.read(range)))
    }

    async fn apply(&self, mut event: NewEvent) -> Result<Applied, StoreError> {
        let mut state = self.lock()?;
        event.created_at =
            event.created_at.replace_millisecond(event.created_at.millisecond()).unwrap_or(event.created_at);
        let key = event.client_id.clone().map(|c| (event.user_id, c));
        if let Some(key) = &key
            && let Some((room, seq)) = state.events_sent.get(key)
        {
            return match state.rooms.get(room).and_then(|log| log.entry(*seq)) {
                Some(Entry::Event(e)) => Ok(Applied::Stored(e.clone())),
                _ => Err(StoreError::Internal("client id points at nothing".into())),
            };
        }
        let Some(log) = state.rooms.get_mut(&event.room) else {
            return Ok(Applied::Refused(rules::no_room(&event)));
        };
        let event = match log.check(event) {
            Ok(event) => event,
            Err(not_stored) => return Ok(not_stored.into()),
        };
        // A delete drops its message's files with its text.
        let dropped: Vec<(FileId, Seq)> = match (&event.change, event.target.and_then(|t| log.message(t))) {
            (Change::Delete, Some(target)) => target.attachments.iter().map(|a| (a.id, target.seq)).collect(),
            _ => Vec::new(),
        };
        log.commit_event(event.clone()).map_err(StoreError::Internal)?;
        for (id, seq) in dropped {
            if let Some(file) = state.files.get_mut(&id) {
                file.carried_by.remove(&(event.room.clone(), seq));
            }
        }
        state.index(&event);
        if let Some(key) = key {
            state.events_sent.insert(key, (event.room.clone(), event.seq));
        }
        Ok(Applied::Stored(event))
    }

    async fn message(&self, room: &RoomName, id: MessageId) -> Result<Option<Message>, StoreError> {
        let state = self.lock()?;
        Ok(state.rooms.get(room).and_then(|log| log.message(id)).cloned())
    }

    async fn log(&self, room: &RoomName, after: Seq, limit: usize) -> Result<LogPage, StoreError> {
        let state = self.lock()?;
        Ok(state.rooms.get(room).map_or(LogPage { entries: Vec::new(), has_more: false }, |log| log.log(after, limit)))
    }

    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        let state = self.lock()?;
        Ok(match state.rooms.get(room) {
            Some(log) => log.info(room),
            None => RoomInfo::empty(room.clone()),
        })
    }

    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError> {
        let state = self.lock()?;
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let rooms = state.rooms.range::<RoomName, _>((from, Bound::Unbounded));
        let public = rooms.map(|(name, log)| log.info(name)).filter(|r| r.profile.visibility == Visibility::Public);
        Ok(RoomsPage::first(public, limit))
    }

    async fn create_room(&self, mut room: NewRoom) -> Result<Option<Vec<Event>>, StoreError> {
        let mut state = self.lock()?;
        room.created_at = room.created_at.replace_millisecond(room.created_at.millisecond()).unwrap_or(room.created_at);
        let log = state.rooms.entry(room.name.clone()).or_insert_with(|| RoomTimeline::new(Epoch::fresh()));
        let Some(events) = log.create(&room) else { return Ok(None) };
        for event in &events {
            state.index(event);
        }
        Ok(Some(events))
    }

    async fn access(&self, room: &RoomName, user: UserId) -> Result<Access, StoreError> {
        let state = self.lock()?;
        Ok(state.rooms.get(room).map_or_else(Access::default, |log| log.access(user)))
    }

    async fn members(
        &self,
        room: &RoomName,
        banned: bool,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, DisplayName, Standing)>, StoreError> {
        let state = self.lock()?;
        Ok(state.rooms.get(room).map_or_else(Vec::new, |log| log.members(banned, after, limit)))
    }

    async fn member_rooms(
        &self,
        user: UserId,
        after: Option<&RoomName>,
        limit: usize,
    ) -> Result<MemberRoomsPage, StoreError> {
        let state = self.lock()?;
        let limit = rooms_limit(limit);
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mine = state.memberships.get(&user);
        let mut rooms: Vec<(RoomInfo, Role)> = mine
            .into_iter()
            .flat_map(|rooms| rooms.range::<RoomName, _>((from, Bound::Unbounded)))
            .take(limit + 1)
            .filter_map(|(room, role)| Some((state.rooms.get(room)?.info(room), *role)))
            .collect();
        let has_more = rooms.len() > limit;
        rooms.truncate(limit);
        Ok(MemberRoomsPage { rooms, has_more })
    }

    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        let mut state = self.lock()?;
        let head = state.rooms.get(room).map_or(Seq::ZERO, RoomTimeline::head);
        let seq = seq.min(head);
        let was = state.read.get(&(user, room.clone())).copied().unwrap_or(Seq::ZERO);
        if seq <= was {
            return Ok(ReadMark { read_seq: was, moved: false });
        }
        state.read.insert((user, room.clone()), seq);
        Ok(ReadMark { read_seq: seq, moved: true })
    }

    async fn room_reads(&self, room: &RoomName, limit: usize) -> Result<Vec<(UserId, Seq)>, StoreError> {
        let state = self.lock()?;
        Ok(highest_reads(state.read.iter().filter(|((_, r), _)| r == room).map(|((u, _), s)| (*u, *s)), limit))
    }

    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError> {
        let state = self.lock()?;
        let read_seq = state.read.get(&(user, room.clone())).copied().unwrap_or(Seq::ZERO);
        let unread = state.rooms.get(room).map_or(0, |log| log.unread(user, read_seq));
        Ok(ReadState { read_seq, unread })
    }

    async fn add_file(&self, file: FileRecord) -> Result<(), StoreError> {
        let mut state = self.lock()?;
        let kept = KeptFile { record: file, posted: false, carried_by: Default::default() };
        state.files.insert(kept.record.id(), kept);
        Ok(())
    }

    async fn file(&self, id: FileId) -> Result<Option<PostedFile>, StoreError> {
        let state = self.lock()?;
        Ok(state.files.get(&id).map(|file| {
            let mut rooms: Vec<RoomName> = file.carried_by.iter().map(|(room, _)| room.clone()).collect();
            rooms.dedup();
            PostedFile { record: file.record.clone(), rooms }
        }))
    }

    async fn sweep_files(
        &self,
        unposted_before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let mut state = self.lock()?;
        let mut swept: Vec<FileId> = state
            .files
            .values()
            .filter(|f| f.carried_by.is_empty() && (f.posted || f.record.uploaded_at < unposted_before))
            .map(|f| f.record.id())
            .collect();
        swept.sort();
        swept.truncate(limit.clamp(1, super::MAX_PAGE));
        Ok(swept.iter().filter_map(|id| state.files.remove(id)).map(|f| f.record).collect())
    }

    async fn search(&self, search: &Search) -> Result<SearchPage, StoreError> {
        let state = self.lock()?;
        Ok(SearchPage::scan(search, &state.posted, |room| state.rooms.get(room)))
    }
}

/// The `limit` highest `(user, read_seq)`, highest first, ties by user: for
/// stores that keep marks in a map.
pub fn highest_reads(reads: impl Iterator<Item = (UserId, Seq)>, limit: usize) -> Vec<(UserId, Seq)> {
    let mut reads: Vec<(UserId, Seq)> = reads.filter(|(_, s)| *s > Seq::ZERO).collect();
    reads.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    reads.truncate(super::clamp(limit));
    reads
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_conformance_tests;

    store_conformance_tests!(async { std::sync::Arc::new(MemoryStore::new()) });
}
