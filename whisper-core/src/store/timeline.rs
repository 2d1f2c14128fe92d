//! One room's timeline held in memory: its log (messages and events in
//! seq order) and every message's current state, with the rules of
//! [`Store::apply`](super::Store::apply). The [`MemoryStore`](super::MemoryStore)
//! is a map of these; a store that keeps its index in memory and its data
//! elsewhere (the file store of `examples/`) can use one too, so the rules
//! live in one place.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use super::rules::{self, RoomFacts};
use super::{Applied, EventRefusal, LogPage, NewRoom, Page, ReadRange, RoomInfo, clamp, members_limit};
use crate::model::{
    Access, Change, DisplayName, Emoji, Entry, Epoch, Event, Message, MessageId, NewEvent, Reactions, Request, Role,
    RoomName, RoomProfile, Seq, Standing, UserId,
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
    /// Its kind, title and topic.
    profile: RoomProfile,
    /// Members and the banned (a stranger has no entry), by user id.
    standings: BTreeMap<UserId, (DisplayName, Standing)>,
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
            profile: RoomProfile::default(),
            standings: BTreeMap::new(),
        }
    }

    /// Starts an empty room with its first events ([`NewRoom::events`]);
    /// `None` if it has a log already.
    pub fn create(&mut self, room: &NewRoom) -> Option<Vec<Event>> {
        if self.head() > Seq::ZERO {
            return None;
        }
        let events = room.events();
        for event in &events {
            self.commit_room_event(event.clone());
        }
        Some(events)
    }

    /// What `user` may do here.
    pub fn access(&self, user: UserId) -> Access {
        Access { visibility: self.profile.visibility, standing: self.standing(user) }
    }

    /// What a reader without an identity may do here.
    pub fn stranger_access(&self) -> Access {
        Access { visibility: self.profile.visibility, standing: Standing::Stranger }
    }

    fn standing(&self, user: UserId) -> Standing {
        self.standings.get(&user).map_or(Standing::Stranger, |(_, s)| *s)
    }

    /// What the rules of [`rules::decide`] need to know.
    pub fn facts(&self, actor: UserId, subject: UserId) -> RoomFacts {
        let roles = self.standings.values().filter_map(|(_, s)| s.role());
        let (mut owners, mut members) = (0, 0);
        for role in roles {
            members += 1;
            owners += u64::from(role == Role::Owner);
        }
        RoomFacts {
            profile: self.profile.clone(),
            actor: self.standing(actor),
            subject: self.standing(subject),
            owners,
            members,
        }
    }

    /// Members (or the banned) by user id after `after`.
    pub fn members(&self, banned: bool, after: Option<UserId>, limit: usize) -> Vec<(UserId, DisplayName, Standing)> {
        let lo = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.standings
            .range((lo, Bound::Unbounded))
            .filter(|(_, (_, s))| (*s == Standing::Banned) == banned)
            .take(members_limit(limit))
            .map(|(u, (n, s))| (*u, n.clone(), *s))
            .collect()
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
        let change = match &new.request {
            Request::Member { member, .. } => self.decide(&new, *member)?,
            Request::Retitle { .. } => self.decide(&new, new.user_id)?,
            Request::Edit { content } => {
                if self.target_of(&new)?.1.user_id != new.user_id {
                    return Err(NotStored::Refused(EventRefusal::NotAuthor));
                }
                Change::Edit { content: content.clone() }
            }
            Request::Delete => {
                let author = self.target_of(&new)?.1.user_id;
                if !rules::may_delete(new.user_id, author, self.standing(new.user_id)) {
                    return Err(NotStored::Refused(EventRefusal::NotAuthor));
                }
                Change::Delete
            }
            Request::React { emoji, on } => {
                let (target_seq, _) = self.target_of(&new)?;
                let standing = self.reactors.get(&target_seq).map_or(&[][..], Vec::as_slice);
                let others = standing.iter().filter(|(e, u)| e == emoji && *u != new.user_id).count();
                let had = standing.iter().any(|(e, u)| e == emoji && *u == new.user_id);
                if had == *on {
                    return Err(NotStored::Unchanged);
                }
                Change::Reaction { emoji: emoji.clone(), on: *on, count: (others + usize::from(*on)) as u32 }
            }
        };
        Ok(new.stored_as(self.head().next(), change))
    }

    /// A membership or title change, as the rules decide it here.
    fn decide(&self, new: &NewEvent, subject: UserId) -> Result<Change, NotStored> {
        let facts = self.facts(new.user_id, subject);
        rules::decide(&new.request, new.user_id, &facts).map_err(NotStored::Refused)
    }

    /// The message an edit, delete or reaction targets, if it may be changed.
    fn target_of(&self, new: &NewEvent) -> Result<(Seq, &Message), NotStored> {
        let refused = NotStored::Refused(EventRefusal::NotFound);
        let target_seq = *new.target.and_then(|t| self.by_id.get(&t)).ok_or(refused)?;
        let target = self.messages.get(&target_seq).ok_or(refused)?;
        if target.deleted {
            return Err(refused);
        }
        Ok((target_seq, target))
    }

    /// Adds a stored event, which must take the next seq and target a
    /// message of the room, and applies it to the target's current state
    /// (a delete also erases the text of the posted message and its edits
    /// in the log).
    pub fn commit_event(&mut self, event: Event) -> Result<(), String> {
        if event.seq != self.head().next() {
            return Err(format!("event at {} in {}, expected {}", event.seq, event.room, self.head().next()));
        }
        let Some(target_id) = event.target else {
            self.commit_room_event(event);
            return Ok(());
        };
        let target_seq = *self.by_id.get(&target_id).ok_or_else(|| format!("event {} targets nothing", event.seq))?;
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
                        Entry::Event(e) if e.target == Some(target_id) => {
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
            Change::Member { .. } | Change::Room { .. } => return Err(format!("event {} has a target", event.seq)),
        }
        self.entries.push(Entry::Event(event));
        Ok(())
    }

    /// Applies a `member` or `room` event (no target) and logs it.
    fn commit_room_event(&mut self, event: Event) {
        match &event.change {
            Change::Room { visibility, title, topic, .. } => {
                self.profile = RoomProfile { visibility: *visibility, title: title.clone(), topic: topic.clone() };
            }
            Change::Member { member_name, .. } => {
                if let Some((user, standing)) = rules::standing_after(&event.change) {
                    if standing == Standing::Stranger {
                        self.standings.remove(&user);
                    } else {
                        self.standings.insert(user, (member_name.clone(), standing));
                    }
                }
            }
            Change::Edit { .. } | Change::Delete | Change::Reaction { .. } => {}
        }
        self.entries.push(Entry::Event(event));
    }

    /// The message at `seq`, in its current state.
    pub fn message_at(&self, seq: Seq) -> Option<&Message> {
        self.messages.get(&seq)
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
            profile: self.profile.clone(),
        }
    }

    /// The log, in order: what a store that rewrites its data writes.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}
