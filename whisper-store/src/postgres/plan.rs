//! The pure part of committing a group, apart from the database so that it
//! is tested without one: which messages of the group are new (a resend of a
//! stored message, or a second copy within the group, is not), how many each
//! room gets, and, once the statement has returned each room's new
//! `last_seq`, which seq each message took.
//!
//! The arithmetic: a room with `count` new messages in the group has its
//! `last_seq` raised by `count`, atomically, by the statement; its `k`-th new
//! message (1-based, in input order) then has seq `last_seq - count + k`, and
//! the statement stores it as `last_seq - back` with `back = count - k`.

use std::collections::{BTreeMap, HashMap};

use whisper_core::model::{ClientId, Message, NewMessage, RoomName, Seq, UserId};
use whisper_core::store::StoreError;

use super::rows::{from_millis, to_millis};

/// Where one input message of a group ends up.
#[derive(Debug)]
enum Slot {
    /// Already stored (a resend): its original.
    Known(Box<Message>),
    /// The group's `i`-th new message.
    New(usize),
}

/// A room's share of a group's new messages.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct RoomPlan {
    /// How many new messages the group adds to the room.
    pub(super) count: i64,
    /// The `created_at` (Unix milliseconds) of the last of them.
    pub(super) last_created_at: i64,
}

/// A group, planned: its new messages, numbered within their rooms, and
/// where each input message's answer comes from.
#[derive(Debug)]
pub(super) struct GroupPlan<'a> {
    /// One entry per batch, one slot per input message.
    slots: Vec<Vec<Slot>>,
    /// The new messages, in input order, each with its 1-based ordinal among
    /// its room's new messages.
    fresh: Vec<(&'a NewMessage, i64)>,
    /// Every room with new messages, in name order: the order in which the
    /// statement locks their rows, the same on every node, so two
    /// transactions never deadlock on them.
    rooms: BTreeMap<&'a RoomName, RoomPlan>,
}

impl<'a> GroupPlan<'a> {
    /// Plans `batches`, given the originals already stored (`known`, by
    /// `(user_id, client_id)`): a message whose key is known gets its
    /// original, a later copy of a key new in this group gets the first
    /// copy's message, and every other message is new.
    pub(super) fn new(batches: &[&'a [NewMessage]], known: &HashMap<(UserId, ClientId), Message>) -> Self {
        let mut slots: Vec<Vec<Slot>> = Vec::with_capacity(batches.len());
        let mut fresh: Vec<(&NewMessage, i64)> = Vec::new();
        let mut fresh_by_key: HashMap<(UserId, &ClientId), usize> = HashMap::new();
        let mut rooms: BTreeMap<&RoomName, RoomPlan> = BTreeMap::new();
        for batch in batches {
            let mut batch_slots = Vec::with_capacity(batch.len());
            for new in batch.iter() {
                if let Some(client_id) = &new.client_id {
                    if !known.is_empty()
                        && let Some(original) = known.get(&(new.user_id, client_id.clone()))
                    {
                        batch_slots.push(Slot::Known(Box::new(original.clone())));
                        continue;
                    }
                    if let Some(&i) = fresh_by_key.get(&(new.user_id, client_id)) {
                        batch_slots.push(Slot::New(i));
                        continue;
                    }
                    fresh_by_key.insert((new.user_id, client_id), fresh.len());
                }
                let plan = rooms.entry(&new.room).or_default();
                plan.count += 1;
                plan.last_created_at = to_millis(new.created_at);
                batch_slots.push(Slot::New(fresh.len()));
                fresh.push((new, plan.count));
            }
            slots.push(batch_slots);
        }
        GroupPlan { slots, fresh, rooms }
    }

    /// Whether the group stores nothing new (every message a resend).
    pub(super) fn is_empty(&self) -> bool {
        self.fresh.is_empty()
    }

    /// The rooms with new messages, in name order, with their shares.
    pub(super) fn rooms(&self) -> &BTreeMap<&'a RoomName, RoomPlan> {
        &self.rooms
    }

    /// The new messages in input order, each with its `back`: how many of
    /// its room's new messages in this group come after it.
    pub(super) fn fresh(&self) -> impl Iterator<Item = (&'a NewMessage, i64)> + '_ {
        self.fresh.iter().map(|&(new, ordinal)| {
            let count = self.rooms.get(&new.room).map_or(ordinal, |p| p.count);
            (new, count - ordinal)
        })
    }

    /// Each batch's answer, given each room's `last_seq` after the
    /// statement (by room name): new messages take `last_seq - count +
    /// ordinal`, with `created_at` truncated to the milliseconds stored.
    /// Fails only on an impossible answer from the database (a room
    /// missing, a seq below 1).
    pub(super) fn settle(self, heads: &HashMap<String, i64>) -> Result<Vec<Vec<Message>>, StoreError> {
        let mut stored: Vec<Message> = Vec::with_capacity(self.fresh.len());
        for &(new, ordinal) in &self.fresh {
            let (Some(&last_seq), Some(plan)) = (heads.get(new.room.as_str()), self.rooms.get(&new.room)) else {
                return Err(StoreError::Internal(format!("no head returned for room {}", new.room)));
            };
            let seq = last_seq - plan.count + ordinal;
            let seq = u64::try_from(seq)
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| StoreError::Internal(format!("room {} returned impossible seq {seq}", new.room)))?;
            let mut message = new.clone().stored_at(Seq(seq));
            message.created_at = from_millis(to_millis(new.created_at))?;
            stored.push(message);
        }
        Ok(self
            .slots
            .into_iter()
            .map(|batch| {
                batch
                    .into_iter()
                    .map(|slot| match slot {
                        Slot::Known(message) => *message,
                        Slot::New(i) => stored[i].clone(),
                    })
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;
    use whisper_core::model::DisplayName;

    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).expect("valid room")
    }

    fn draft(room: &RoomName, user: UserId, client_id: Option<&str>) -> NewMessage {
        NewMessage::now(
            room.clone(),
            user,
            DisplayName::parse("tester").expect("valid name"),
            "hi",
            client_id.map(|c| ClientId::parse(c).expect("valid client id")),
        )
    }

    fn heads(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
        pairs.iter().map(|(name, seq)| (name.to_string(), *seq)).collect()
    }

    fn seqs(batches: &[Vec<Message>]) -> Vec<Vec<u64>> {
        batches.iter().map(|b| b.iter().map(|m| m.seq.0).collect()).collect()
    }

    #[test]
    fn seqs_count_back_from_the_returned_head_per_room() {
        let (a, b) = (room("a"), room("b"));
        let user = UserId::random();
        let first = [draft(&a, user, None), draft(&b, user, None), draft(&a, user, None)];
        let second = [draft(&a, user, None)];
        let plan = GroupPlan::new(&[&first, &second], &HashMap::new());
        assert_eq!(plan.rooms().get(&a).map(|p| p.count), Some(3));
        assert_eq!(plan.rooms().get(&b).map(|p| p.count), Some(1));
        let backs: Vec<i64> = plan.fresh().map(|(_, back)| back).collect();
        assert_eq!(backs, [2, 0, 1, 0], "back = how many of the room's new messages follow");
        // The statement raised a from 10 to 13 and created b at 1.
        let answers = plan.settle(&heads(&[("a", 13), ("b", 1)])).expect("settles");
        assert_eq!(seqs(&answers), [vec![11, 1, 12], vec![13]]);
    }

    #[test]
    fn rooms_are_planned_in_name_order() {
        let user = UserId::random();
        let batch = [draft(&room("zeta"), user, None), draft(&room("alpha"), user, None)];
        let plan = GroupPlan::new(&[&batch], &HashMap::new());
        let names: Vec<&str> = plan.rooms().keys().map(|r| r.as_str()).collect();
        assert_eq!(names, ["alpha", "zeta"]);
    }

    #[test]
    fn duplicates_within_a_group_become_the_first_copy() {
        let lobby = room("lobby");
        let (ada, bob) = (UserId::random(), UserId::random());
        let first = [draft(&lobby, ada, Some("c1")), draft(&lobby, ada, Some("c1"))];
        // Another request of the group resends c1; bob's c1 is another message.
        let second = [draft(&lobby, ada, Some("c1")), draft(&lobby, bob, Some("c1"))];
        let plan = GroupPlan::new(&[&first, &second], &HashMap::new());
        assert_eq!(plan.rooms().get(&lobby).map(|p| p.count), Some(2), "ada's c1 once, bob's c1 once");
        let answers = plan.settle(&heads(&[("lobby", 2)])).expect("settles");
        assert_eq!(seqs(&answers), [vec![1, 1], vec![1, 2]]);
        assert_eq!(answers[0][0].id, answers[1][0].id, "every copy answers with the first one's id");
        assert_ne!(answers[1][1].id, answers[0][0].id);
    }

    #[test]
    fn known_originals_take_no_seq() {
        let lobby = room("lobby");
        let ada = UserId::random();
        let original = draft(&room("elsewhere"), ada, Some("c1")).stored_at(Seq(7));
        let known = HashMap::from([((ada, ClientId::parse("c1").expect("id")), original.clone())]);
        let batch = [draft(&lobby, ada, Some("c1")), draft(&lobby, ada, Some("c2"))];
        let plan = GroupPlan::new(&[&batch], &known);
        assert_eq!(plan.rooms().get(&lobby).map(|p| p.count), Some(1));
        let answers = plan.settle(&heads(&[("lobby", 4)])).expect("settles");
        assert_eq!(answers[0][0], original, "a resend answers with the original, room and seq included");
        assert_eq!(answers[0][1].seq, Seq(4));
    }

    #[test]
    fn all_resends_store_nothing() {
        let lobby = room("lobby");
        let ada = UserId::random();
        let original = draft(&lobby, ada, Some("c1")).stored_at(Seq(1));
        let known = HashMap::from([((ada, ClientId::parse("c1").expect("id")), original.clone())]);
        let batch = [draft(&lobby, ada, Some("c1"))];
        let plan = GroupPlan::new(&[&batch], &known);
        assert!(plan.is_empty());
        assert_eq!(plan.settle(&HashMap::new()).expect("settles"), [vec![original]]);
    }

    #[test]
    fn created_at_is_truncated_to_milliseconds() {
        let lobby = room("lobby");
        let mut new = draft(&lobby, UserId::random(), None);
        new.created_at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("time");
        let batch = [new];
        let plan = GroupPlan::new(&[&batch], &HashMap::new());
        assert_eq!(plan.rooms().get(&lobby).map(|p| p.last_created_at), Some(1_700_000_000_123));
        let answers = plan.settle(&heads(&[("lobby", 1)])).expect("settles");
        assert_eq!(answers[0][0].created_at.unix_timestamp_nanos(), 1_700_000_000_123_000_000);
    }

    #[test]
    fn an_impossible_answer_is_an_error_not_a_seq() {
        let lobby = room("lobby");
        let batch = [draft(&lobby, UserId::random(), None)];
        let missing = GroupPlan::new(&[&batch], &HashMap::new()).settle(&HashMap::new());
        assert!(matches!(missing, Err(StoreError::Internal(_))));
        let below_one = GroupPlan::new(&[&batch], &HashMap::new()).settle(&heads(&[("lobby", 0)]));
        assert!(matches!(below_one, Err(StoreError::Internal(_))));
    }
}
