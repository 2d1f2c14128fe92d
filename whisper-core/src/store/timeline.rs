//! One room's timeline held in memory: its log (messages and events in
//! seq order) and every message's current state, with the rules of
//! [`Store::apply`](super::Store::apply). The [`MemoryStore`](super::MemoryStore)
//! is a map of these; a store that keeps its index in memory and its data
//! elsewhere (the file store of `examples/`) can use one too, so the rules
//! live in one place.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use super::{Applied, EventRefusal, LogPage, Page, ReadRange, RoomInfo, clamp};
use crate::model::{
    Change, Emoji, Entry, Epoch, Event, Message, MessageId, NewEvent, Reactions, Request, RoomName, Seq, UserId,
};

/// Why [`RoomTimeline::check`] found nothing to store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotStored {
    /// A reaction already as asked.
    Unchanged,
    /// Refused.
    Refused(EventRefusal),
}

impl From<NotStored> for Applied {
    fn from(not: NotStored) -> Applied {
        match not {
            NotStored::Unchanged => Applied::Unchanged,
            NotStored::Refused(why) => Applied::Refused(why),
        }
    }
}

/// A room's log and current state. Not synchronised: its owner locks.
#[derive(Debug)]
pub struct RoomTimeline {
    epoch: Epoch,
    /// The log: `entries[i]` has `seq = i + 1`.
    entries: Vec<Entry>,
    /// Every message in its current state, by seq.
    messages: BTreeMap<Seq, Message>,
    by_id: HashMap<MessageId, Seq>,
    /// A message's standing reactions, by its seq, in the order made.
    reactors: HashMap<Seq, Vec<(Emoji, UserId)>>,
}

impl RoomTimeline {
    /// An empty room with history id `epoch`.
    pub fn new(epoch: Epoch) -> Self {
        RoomTimeline {
            epoch,
            entries: Vec::new(),
            messages: BTreeMap::new(),
            by_id: HashMap::new(),
            reactors: HashMap::new(),
        }
    }

    /// The room's history id.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The last seq, message or event (`Seq::ZERO` when empty).
    pub fn head(&self) -> Seq {
        Seq(self.entries.len() as u64)
    }

    /// The entry at `seq`, as the log holds it.
    pub fn entry(&self, seq: Seq) -> Option<&Entry> {
        self.entries.get(usize::try_from(seq.0).ok()?.checked_sub(1)?)
    }

    /// Adds a stored message, which must take the next seq.
    pub fn push_message(&mut self, message: Message) -> Result<(), String> {
        if message.seq != self.head().next() {
            return Err(format!("message at {} in {}, expected {}", message.seq, message.room, self.head().next()));
        }
        self.by_id.insert(message.id, message.seq);
        self.messages.insert(message.seq, message.clone());
        self.entries.push(Entry::Message(message));
        Ok(())
    }

    /// What `new` would become, checked against its target: the event to
    /// store at the next seq, or the answer when nothing is to be stored
    /// ([`NotStored`]). Changes nothing: store the event, then
    /// [`commit_event`](Self::commit_event) it.
    pub fn check(&self, new: NewEvent) -> Result<Event, NotStored> {
        let refused = NotStored::Refused(EventRefusal::NotFound);
        let target_seq = *self.by_id.get(&new.target).ok_or(refused)?;
        let target = self.messages.get(&target_seq).ok_or(refused)?;
        if target.deleted {
            return Err(refused);
        }
        let mut count = 0;
        match &new.request {
            Request::Edit { .. } | Request::Delete if target.user_id != new.user_id => {
                return Err(NotStored::Refused(EventRefusal::NotAuthor));
            }
            Request::Edit { .. } | Request::Delete => {}
            Request::React { emoji, on } => {
                let standing = self.reactors.get(&target_seq).map_or(&[][..], Vec::as_slice);
                let others = standing.iter().filter(|(e, u)| e == emoji && *u != new.user_id).count();
                let had = standing.iter().any(|(e, u)| e == emoji && *u == new.user_id);
                if had == *on {
                    return Err(NotStored::Unchanged);
                }
                count = (others + usize::from(*on)) as u32;
            }
        }
        Ok(new.stored_at(self.head().next(), count))
    }

    /// Adds a stored event, which must take the next seq and target a
    /// message of the room, and applies it to the target's current state
    /// (a delete also erases the text of the posted message and its edits
    /// in the log).
    pub fn commit_event(&mut self, event: Event) -> Result<(), String> {
        if event.seq != self.head().next() {
            return Err(format!("event at {} in {}, expected {}", event.seq, event.room, self.head().next()));
        }
        let target_seq =
            *self.by_id.get(&event.target).ok_or_else(|| format!("event {} targets nothing", event.seq))?;
        let target = self.messages.get_mut(&target_seq).ok_or_else(|| format!("no message at {target_seq}"))?;
        match &event.change {
            Change::Edit { content } => {
                target.content = content.clone();
                target.edited_at = Some(event.created_at);
            }
            Change::Delete => {
                target.tombstone();
                self.reactors.remove(&target_seq);
                for entry in &mut self.entries {
                    match entry {
                        Entry::Message(m) if m.seq == target_seq => m.tombstone(),
                        Entry::Event(e) if e.target == event.target => {
                            if let Change::Edit { content } = &mut e.change {
                                *content = Arc::from("");
                            }
                        }
                        _ => {}
                    }
                }
            }
            Change::Reaction { emoji, on, .. } => {
                let standing = self.reactors.entry(target_seq).or_default();
                standing.retain(|(e, u)| !(e == emoji && *u == event.user_id));
                if *on {
                    standing.push((emoji.clone(), event.user_id));
                }
                target.reactions = Reactions::tally(standing.iter().map(|(e, u)| (e, *u)));
            }
        }
        self.entries.push(Entry::Event(event));
        Ok(())
    }

    /// A message by id, in its current state.
    pub fn message(&self, id: MessageId) -> Option<&Message> {
        self.by_id.get(&id).and_then(|seq| self.messages.get(seq))
    }

    /// A page of history: messages in their current state.
    pub fn read(&self, range: ReadRange) -> Page {
        if let (Some(a), Some(b)) = (range.after_seq(), range.before_seq())
            && a >= b
        {
            return Page { messages: Vec::new(), has_more: false };
        }
        let lo = range.after_seq().map_or(Bound::Unbounded, Bound::Excluded);
        let hi = range.before_seq().map_or(Bound::Unbounded, Bound::Excluded);
        let window = self.messages.range((lo, hi)).map(|(_, m)| m);
        let limit = range.limit();
        let mut messages: Vec<Message> = if range.from_newest() {
            window.rev().take(limit + 1).cloned().collect()
        } else {
            window.take(limit + 1).cloned().collect()
        };
        let has_more = messages.len() > limit;
        messages.truncate(limit);
        if range.from_newest() {
            messages.reverse();
        }
        Page { messages, has_more }
    }

    /// The log after `after`.
    pub fn log(&self, after: Seq, limit: usize) -> LogPage {
        let from = usize::try_from(after.0).unwrap_or(usize::MAX).min(self.entries.len());
        let rest = &self.entries[from..];
        let take = rest.len().min(clamp(limit));
        LogPage { entries: rest[..take].to_vec(), has_more: take < rest.len() }
    }

    /// Messages by others than `user` after `read_seq`, deleted ones not counted.
    pub fn unread(&self, user: UserId, read_seq: Seq) -> u64 {
        self.messages
            .range((Bound::Excluded(read_seq), Bound::Unbounded))
            .filter(|(_, m)| m.user_id != user && !m.deleted)
            .count() as u64
    }

    /// The room's head as stores report it.
    pub fn info(&self, name: &RoomName) -> RoomInfo {
        RoomInfo {
            name: name.clone(),
            last_seq: self.head(),
            epoch: self.epoch,
            last_message_at: self.messages.last_key_value().map(|(_, m)| m.created_at),
        }
    }

    /// The log, in order: what a store that rewrites its data writes.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}
