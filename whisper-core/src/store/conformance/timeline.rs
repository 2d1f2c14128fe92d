//! The conformance checks of the timeline (protocol.md §13): edits,
//! deletes, reactions and replies take the room's seqs like messages, are
//! checked against their target atomically, and leave every message's
//! current state right.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{append, draft, fill, room};
use crate::model::{
    Change, ClientId, DisplayName, Emoji, Entry, Event, Message, MessageId, NewEvent, Request, RoomName, Seq, UserId,
};
use crate::store::{Applied, EventRefusal, MAX_PAGE, ReadRange, ReadState, Store};

pub(super) fn event(
    room: &RoomName,
    target: MessageId,
    user: UserId,
    request: Request,
    client_id: Option<&str>,
) -> NewEvent {
    NewEvent::now(
        room.clone(),
        Some(target),
        user,
        DisplayName::parse("tester").expect("valid name"),
        request,
        client_id.map(|c| ClientId::parse(c).expect("valid client id")),
    )
}

fn edit(content: &str) -> Request {
    Request::Edit { content: Arc::from(content) }
}

fn react(emoji: &str, on: bool) -> Request {
    Request::React { emoji: Emoji::parse(emoji).expect("valid emoji"), on }
}

pub(super) async fn stored(store: &dyn Store, new: NewEvent) -> Event {
    match store.apply(new).await.expect("apply succeeds") {
        Applied::Stored(event) => event,
        other => panic!("expected the event stored, got {other:?}"),
    }
}

async fn current(store: &dyn Store, room: &RoomName, id: MessageId) -> Message {
    store.message(room, id).await.expect("message").expect("the message exists")
}

pub(super) async fn whole_log(store: &dyn Store, room: &RoomName) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    loop {
        let after = out.last().map_or(Seq::ZERO, Entry::seq);
        let page = store.log(room, after, MAX_PAGE).await.expect("log");
        let done = !page.has_more || page.entries.is_empty();
        out.extend(page.entries);
        if done {
            return out;
        }
    }
}

/// An edit by the author takes the room's next seq, and the message's
/// current state (in `message` and in history pages) is the new text with
/// `edited_at`; the log keeps the message as posted and the edit after it.
pub async fn edits_take_the_next_seq(store: Arc<dyn Store>) {
    let lobby = room("tl-edit");
    let ada = UserId::random();
    let posted = append(&*store, vec![draft(&lobby, ada, "helo", None)]).await.remove(0);
    let e = stored(&*store, event(&lobby, posted.id, ada, edit("hello"), None)).await;
    assert_eq!(e.seq, Seq(2), "an edit takes the next seq");
    assert_eq!(e.target, Some(posted.id));
    assert_eq!(e.change, Change::Edit { content: Arc::from("hello") });
    assert_eq!(store.room(&lobby).await.expect("room").last_seq, Seq(2), "the head counts events");
    let next = append(&*store, vec![draft(&lobby, ada, "next", None)]).await.remove(0);
    assert_eq!(next.seq, Seq(3), "a message after an event takes the seq after it");
    let now = current(&*store, &lobby, posted.id).await;
    assert_eq!(now.content.as_ref(), "hello");
    assert_eq!(now.edited_at, Some(e.created_at));
    assert_eq!(now.seq, Seq(1), "a message keeps the seq it was posted at");
    let page = store.read(&lobby, ReadRange::latest(10)).await.expect("read");
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_ref()).collect();
    assert_eq!(contents, ["hello", "next"], "history holds messages only, in their current state");
    let log = whole_log(&*store, &lobby).await;
    assert_eq!(log.iter().map(|e| e.seq().0).collect::<Vec<_>>(), [1, 2, 3], "the log is gap-free");
    match &log[0] {
        Entry::Message(m) => assert_eq!(m.content.as_ref(), "helo", "the log keeps the message as posted"),
        other => panic!("expected the message first, got {other:?}"),
    }
    assert_eq!(log[1], Entry::Event(e), "the edit is in the log");
}

/// Only a message's author edits or deletes it; a refusal stores nothing.
pub async fn only_the_author_edits_or_deletes(store: Arc<dyn Store>) {
    let lobby = room("tl-author");
    let (ada, bob) = (UserId::random(), UserId::random());
    let posted = append(&*store, vec![draft(&lobby, ada, "mine", None)]).await.remove(0);
    for request in [edit("yours now"), Request::Delete] {
        let answer = store.apply(event(&lobby, posted.id, bob, request, Some("bob-1"))).await.expect("apply");
        assert_eq!(answer, Applied::Refused(EventRefusal::NotAuthor));
    }
    assert_eq!(store.room(&lobby).await.expect("room").last_seq, Seq(1), "a refusal takes no seq");
    let now = current(&*store, &lobby, posted.id).await;
    assert_eq!((now.content.as_ref(), now.edited_at, now.deleted), ("mine", None, false));
    // The refused client id was not used up: a later event may carry it.
    let reaction = stored(&*store, event(&lobby, posted.id, bob, react("👍", true), Some("bob-1"))).await;
    assert_eq!(reaction.seq, Seq(2), "anyone may react");
}

/// An event whose target is not a message of the room (another room's, an
/// unknown id) or is deleted is `NotFound` and stores nothing.
pub async fn events_on_missing_or_deleted_refused(store: Arc<dyn Store>) {
    let (lobby, other) = (room("tl-missing"), room("tl-missing-other"));
    let ada = UserId::random();
    let posted = append(&*store, vec![draft(&lobby, ada, "here", None)]).await.remove(0);
    append(&*store, vec![draft(&other, ada, "there", None)]).await;
    let unknown = MessageId::generate();
    for (room_name, target) in [(&lobby, unknown), (&other, posted.id), (&room("tl-nowhere"), posted.id)] {
        for request in [edit("x"), Request::Delete, react("👍", true)] {
            let answer = store.apply(event(room_name, target, ada, request, None)).await.expect("apply");
            assert_eq!(answer, Applied::Refused(EventRefusal::NotFound), "{room_name} {target}");
        }
    }
    stored(&*store, event(&lobby, posted.id, ada, Request::Delete, None)).await;
    for request in [edit("back"), Request::Delete, react("👍", true)] {
        let answer = store.apply(event(&lobby, posted.id, ada, request, None)).await.expect("apply");
        assert_eq!(answer, Applied::Refused(EventRefusal::NotFound), "a deleted message takes no event");
    }
    assert_eq!(store.room(&lobby).await.expect("room").last_seq, Seq(2), "only the delete was stored");
    assert_eq!(store.room(&other).await.expect("room").last_seq, Seq(1));
    assert!(store.rooms().await.expect("rooms").iter().all(|r| r.name.as_str() != "tl-nowhere"), "no room created");
}

/// A delete erases the text everywhere the store keeps it (the message,
/// its edits in the log, its reactions) and keeps a tombstone at its seq.
pub async fn delete_erases_and_keeps_a_tombstone(store: Arc<dyn Store>) {
    let lobby = room("tl-delete");
    let (ada, bob) = (UserId::random(), UserId::random());
    let posted = append(&*store, vec![draft(&lobby, ada, "secret", None)]).await.remove(0);
    stored(&*store, event(&lobby, posted.id, ada, edit("more secret"), None)).await;
    stored(&*store, event(&lobby, posted.id, bob, react("😮", true), None)).await;
    let delete = stored(&*store, event(&lobby, posted.id, ada, Request::Delete, Some("del-1"))).await;
    assert_eq!((delete.seq, &delete.change), (Seq(4), &Change::Delete));
    let now = current(&*store, &lobby, posted.id).await;
    assert!(now.deleted, "a tombstone stays");
    assert_eq!(now.content.as_ref(), "", "the text is erased");
    assert!(now.reactions.is_empty(), "its reactions go with it");
    assert_eq!(now.edited_at, None);
    let page = store.read(&lobby, ReadRange::latest(10)).await.expect("read");
    assert_eq!(page.messages.len(), 1, "history still shows the tombstone");
    assert!(page.messages[0].deleted);
    for entry in whole_log(&*store, &lobby).await {
        match entry {
            Entry::Message(m) => assert!(m.deleted && m.content.is_empty(), "the posted text is erased: {m:?}"),
            Entry::Event(Event { change: Change::Edit { content }, .. }) => {
                assert!(content.is_empty(), "the edit's text is erased: {content:?}");
            }
            Entry::Event(_) => {}
        }
    }
}

/// One reaction per (user, message, emoji): reacting twice or removing one
/// that is not there is `Unchanged` and stores nothing; each stored one
/// carries the count after it; the current state counts and lists users in
/// the order they reacted, emoji in the order first used.
pub async fn reactions_one_per_user_and_emoji(store: Arc<dyn Store>) {
    let lobby = room("tl-react");
    let users: Vec<UserId> = (0..12).map(|_| UserId::random()).collect();
    let posted = append(&*store, vec![draft(&lobby, users[0], "vote", None)]).await.remove(0);
    let first = stored(&*store, event(&lobby, posted.id, users[0], react("👍", true), None)).await;
    assert!(matches!(first.change, Change::Reaction { on: true, count: 1, .. }), "{first:?}");
    let again = store.apply(event(&lobby, posted.id, users[0], react("👍", true), None)).await.expect("apply");
    assert_eq!(again, Applied::Unchanged, "the same reaction twice is one");
    let absent = store.apply(event(&lobby, posted.id, users[1], react("👍", false), None)).await.expect("apply");
    assert_eq!(absent, Applied::Unchanged, "removing a reaction that is not there changes nothing");
    assert_eq!(store.room(&lobby).await.expect("room").last_seq, Seq(2), "no-ops take no seq");
    stored(&*store, event(&lobby, posted.id, users[0], react("🎉", true), None)).await;
    for user in &users[1..] {
        stored(&*store, event(&lobby, posted.id, *user, react("👍", true), None)).await;
    }
    let off = stored(&*store, event(&lobby, posted.id, users[1], react("👍", false), None)).await;
    assert!(matches!(off.change, Change::Reaction { on: false, count: 11, .. }), "{off:?}");
    let now = current(&*store, &lobby, posted.id).await;
    let summary: Vec<(&str, u32)> = now.reactions.iter().map(|r| (r.emoji.as_str(), r.count)).collect();
    assert_eq!(summary, [("👍", 11), ("🎉", 1)], "emoji in the order first used");
    let expected: Vec<UserId> = [users[0]].into_iter().chain(users[2..11].iter().copied()).collect();
    assert_eq!(now.reactions[0].users, expected, "the first ten users, in the order they reacted");
    let page = store.read(&lobby, ReadRange::latest(1)).await.expect("read");
    assert_eq!(page.messages[0].reactions, now.reactions, "history pages carry the same reactions");
    let last_off = stored(&*store, event(&lobby, posted.id, users[0], react("🎉", false), None)).await;
    assert!(matches!(last_off.change, Change::Reaction { on: false, count: 0, .. }));
    let now = current(&*store, &lobby, posted.id).await;
    assert_eq!(now.reactions.len(), 1, "an emoji nobody uses any more is gone");
}

/// An event resent with the same `(user, client_id)` returns the original
/// (same id and seq) and stores nothing, even after its target changed.
pub async fn event_resend_returns_the_original(store: Arc<dyn Store>) {
    let lobby = room("tl-resend");
    let ada = UserId::random();
    let posted = append(&*store, vec![draft(&lobby, ada, "typo", None)]).await.remove(0);
    let original = stored(&*store, event(&lobby, posted.id, ada, edit("fixed"), Some("e-1"))).await;
    let resent = stored(&*store, event(&lobby, posted.id, ada, edit("fixed"), Some("e-1"))).await;
    assert_eq!(resent, original, "a resend returns the original");
    stored(&*store, event(&lobby, posted.id, ada, Request::Delete, Some("d-1"))).await;
    let late = stored(&*store, event(&lobby, posted.id, ada, edit("fixed"), Some("e-1"))).await;
    assert_eq!((late.id, late.seq), (original.id, original.seq), "found even after the target was deleted");
    assert_eq!(store.room(&lobby).await.expect("room").last_seq, Seq(3), "resends take no seq");
    // Client ids are per user: another user's same id is another event.
    let bob = UserId::random();
    let theirs = append(&*store, vec![draft(&lobby, bob, "bob's", None)]).await.remove(0);
    let bobs = stored(&*store, event(&lobby, theirs.id, bob, edit("bob's!"), Some("e-1"))).await;
    assert_ne!(bobs.id, original.id);
}

/// A reply keeps the message it answers; `message` finds a message by id
/// in its own room only.
pub async fn replies_and_lookup(store: Arc<dyn Store>) {
    let (lobby, other) = (room("tl-reply"), room("tl-reply-other"));
    let ada = UserId::random();
    let question = append(&*store, vec![draft(&lobby, ada, "why?", None)]).await.remove(0);
    let mut answer = draft(&lobby, ada, "because", None);
    answer.reply_to = Some(question.id);
    let answer = append(&*store, vec![answer]).await.remove(0);
    assert_eq!(answer.reply_to, Some(question.id));
    assert_eq!(current(&*store, &lobby, answer.id).await, answer, "message() returns what append did");
    let page = store.read(&lobby, ReadRange::latest(10)).await.expect("read");
    assert_eq!(page.messages[1].reply_to, Some(question.id), "history keeps the reply");
    assert_eq!(store.message(&other, question.id).await.expect("message"), None, "not in another room");
    assert_eq!(store.message(&lobby, MessageId::generate()).await.expect("message"), None);
}

/// The log pages by seq across kinds, exactly at its edges.
pub async fn log_pages_across_kinds(store: Arc<dyn Store>) {
    let lobby = room("tl-log");
    let ada = UserId::random();
    fill(&*store, &lobby, 3).await;
    let first = store.read(&lobby, ReadRange::after(Seq::ZERO, 1)).await.expect("read").messages.remove(0);
    for i in 0..3 {
        stored(&*store, event(&lobby, first.id, ada, react(&format!("e{i}"), true), None)).await;
    }
    fill(&*store, &lobby, 2).await;
    let page = store.log(&lobby, Seq(2), 3).await.expect("log");
    assert_eq!(page.entries.iter().map(|e| e.seq().0).collect::<Vec<_>>(), [3, 4, 5]);
    assert!(matches!(page.entries[0], Entry::Message(_)) && matches!(page.entries[1], Entry::Event(_)));
    assert!(page.has_more);
    let end = store.log(&lobby, Seq(6), 10).await.expect("log");
    assert_eq!(end.entries.iter().map(|e| e.seq().0).collect::<Vec<_>>(), [7, 8]);
    assert!(!end.has_more);
    assert!(store.log(&lobby, Seq(8), 10).await.expect("log").entries.is_empty());
    assert!(store.log(&room("tl-log-none"), Seq::ZERO, 10).await.expect("log").entries.is_empty());
    // History pages count messages, not seqs: events between them do not
    // shorten a page.
    let latest = store.read(&lobby, ReadRange::latest(3)).await.expect("read");
    assert_eq!(latest.messages.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [3, 7, 8]);
    assert!(latest.has_more);
    let before = store.read(&lobby, ReadRange::before(Seq(7), 5)).await.expect("read");
    assert_eq!(before.messages.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(!before.has_more);
    let after = store.read(&lobby, ReadRange::after(Seq(3), 1)).await.expect("read");
    assert_eq!(after.messages.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [7]);
    assert!(after.has_more);
}

/// Unread counts messages by others after the watermark: not events, not
/// deleted messages; a mark may land on an event's seq.
pub async fn unread_skips_events_and_deleted(store: Arc<dyn Store>) {
    let lobby = room("tl-unread");
    let (reader, other) = (UserId::random(), UserId::random());
    let posted = append(
        &*store,
        vec![draft(&lobby, other, "1", None), draft(&lobby, other, "2", None), draft(&lobby, other, "3", None)],
    )
    .await;
    stored(&*store, event(&lobby, posted[0].id, other, edit("1!"), None)).await;
    stored(&*store, event(&lobby, posted[1].id, other, Request::Delete, None)).await;
    stored(&*store, event(&lobby, posted[2].id, reader, react("👀", true), None)).await;
    let state = store.read_state(reader, &lobby).await.expect("read state");
    assert_eq!(
        state,
        ReadState { read_seq: Seq::ZERO, unread: 2 },
        "edits and reactions are not unread; deleted is not"
    );
    let mark = store.mark_read(reader, &lobby, Seq(100)).await.expect("mark");
    assert_eq!(mark.read_seq, Seq(6), "clamped to the head, which counts events");
    assert_eq!(store.read_state(reader, &lobby).await.expect("read state").unread, 0);
}

/// Tasks appending messages and reacting at once: the room's log is exactly
/// 1..=n, every message and every stored event in it once.
pub async fn concurrent_events_gap_free(store: Arc<dyn Store>) {
    const TASKS: usize = 8;
    const ROUNDS: usize = 10;
    let lobby = room("tl-race");
    let target = append(&*store, vec![draft(&lobby, UserId::random(), "target", None)]).await.remove(0);
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        let lobby = lobby.clone();
        handles.push(tokio::spawn(async move {
            let user = UserId::random();
            let mut seqs = Vec::new();
            for r in 0..ROUNDS {
                if r % 2 == 0 {
                    let m = store.append(vec![draft(&lobby, user, &format!("t{t}r{r}"), None)]).await.expect("append");
                    seqs.push(m[0].seq);
                } else {
                    let e = stored(&*store, event(&lobby, target.id, user, react(&format!("r{r}"), true), None)).await;
                    seqs.push(e.seq);
                }
            }
            seqs
        }));
    }
    let mut all = BTreeSet::new();
    for handle in handles {
        let seqs = handle.await.expect("task");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "a task's writes commit in order: {seqs:?}");
        for seq in seqs {
            assert!(all.insert(seq), "seq {seq:?} given twice");
        }
    }
    let n = (TASKS * ROUNDS + 1) as u64;
    let log = whole_log(&*store, &lobby).await;
    assert_eq!(log.iter().map(|e| e.seq().0).collect::<Vec<_>>(), (1..=n).collect::<Vec<_>>());
    assert_eq!(store.room(&lobby).await.expect("room").last_seq, Seq(n));
    let reactions: u32 = current(&*store, &lobby, target.id).await.reactions.iter().map(|r| r.count).sum();
    assert_eq!(reactions as usize, TASKS * ROUNDS / 2);
}
