//! The conformance suite: what every [`Store`] must do, written once and run
//! against every backend: memory here, SQLite and PostgreSQL in
//! `whisper-store`, the file store of `examples/`.
//!
//! Each check takes a fresh, empty store and panics with a readable message on
//! the first violation. The list of checks lives in one place, the `@list` arm
//! of [`store_conformance_tests!`](crate::store_conformance_tests), from which
//! [`CHECKS`], [`run_all`] and the generated tests all derive. Generate one
//! `#[tokio::test]` per check, so that one failure does not hide the others:
//!
//! ```text
//! whisper_core::store_conformance_tests!(async { Arc::new(MyStore::open().await) });
//! // A factory that may find no backend (a database not running) yields an
//! // Option; a `None` skips the test.
//! whisper_core::store_conformance_tests!(maybe async { MyStore::connect().await.ok().map(Arc::new) });
//! ```

mod files;
mod membership;
mod search;
mod timeline;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    Applied, LogPage, MAX_PAGE, MAX_ROOMS_PAGE, MemberRoomsPage, NewRoom, Page, ReadMark, ReadRange, ReadState,
    RoomInfo, RoomsPage, Search, SearchPage, Store, StoreError,
};
use crate::model::{
    Access, ClientId, DisplayName, Entry, Epoch, Event, ExternalId, Message, MessageId, NewEvent, NewMessage,
    Principal, PrincipalKind, RoomName, Seq, Standing, UserId,
};

/// Generates one `#[tokio::test]` per conformance check. `$factory` is an
/// expression evaluating to a future of an `Arc<dyn Store>` (or of an `Arc` of
/// a concrete store); it is evaluated once per test. With `maybe`, the future
/// yields an `Option` of one, and a test whose factory gives `None` returns
/// at once (for a backend that is not there; the factory says so). The
/// calling crate needs `tokio` with the `macros` and `rt-multi-thread`
/// features.
#[macro_export]
macro_rules! store_conformance_tests {
    // The checks, in the order `run_all` runs them: the only list.
    (@list [$($args:tt)*]) => {
        $crate::store_conformance_tests!($($args)*;
            seqs_gap_free_per_room,
            concurrent_appends_gap_free,
            idempotent_resend,
            paging_exact_at_edges,
            rooms_isolated,
            limits_honoured,
            content_round_trips,
            authors_kind_round_trips,
            created_at_truncated_to_millis,
            cancelled_appends_resent_stored_once,
            ping_ready_and_leaves_no_trace,
            rooms_paged_by_name,
            rooms_page_empty_store,
            rooms_page_limits_honoured,
            read_state_starts_empty,
            read_marks_clamped_and_monotonic,
            unread_counts_others_after_the_mark,
            read_state_per_user_and_room,
            room_reads_highest_first,
            edits_take_the_next_seq,
            only_the_author_edits_or_deletes,
            events_on_missing_or_deleted_refused,
            delete_erases_and_keeps_a_tombstone,
            reactions_one_per_user_and_emoji,
            event_resend_returns_the_original,
            replies_and_lookup,
            log_pages_across_kinds,
            unread_skips_events_and_deleted,
            concurrent_events_gap_free,
            creating_a_room_logs_its_members,
            a_room_is_created_once,
            membership_changes_are_log_entries,
            membership_refusals_store_nothing,
            moderators_delete_others_messages,
            retitle_changes_the_profile,
            member_rooms_paged_by_name,
            membership_resend_returns_the_original,
            search_finds_words_newest_first,
            search_pages_follow_the_cursor,
            search_follows_edits_and_deletes,
            search_keeps_to_rooms_the_reader_may_read,
            attachments_round_trip,
            deleting_a_message_drops_its_files,
            unposted_files_are_swept_after_the_cutoff
        );
    };
    (@names; $($check:ident),*) => {
        /// Every check, by name, in the order [`run_all`] runs them.
        pub const CHECKS: &[&str] = &[$(stringify!($check)),*];
    };
    (@run $factory:ident; $($check:ident),*) => {
        $( $check($factory().await).await; )*
    };
    (@each $factory:expr; $($check:ident),*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let store: ::std::sync::Arc<dyn $crate::store::Store> = $factory.await;
                $crate::store::conformance::$check(store).await;
            }
        )*
    };
    (@each_maybe $factory:expr; $($check:ident),*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let Some(store) = $factory.await else { return };
                let store: ::std::sync::Arc<dyn $crate::store::Store> = store;
                $crate::store::conformance::$check(store).await;
            }
        )*
    };
    (maybe $factory:expr) => {
        $crate::store_conformance_tests!(@list [@each_maybe $factory]);
    };
    ($factory:expr) => {
        $crate::store_conformance_tests!(@list [@each $factory]);
    };
}

crate::store_conformance_tests!(@list [@names]);

/// A store together with what must outlive it (a temporary directory, a
/// throwaway database), dropped in that order: the store first. For
/// factories whose store lives somewhere that must be cleaned up after it.
#[derive(Debug)]
pub struct Guarded<S, G> {
    store: S,
    _guard: G,
}

impl<S: Store, G: Debug + Send + Sync + 'static> Guarded<S, G> {
    /// `store`, keeping `guard` alive until after it is dropped.
    pub fn new(store: S, guard: G) -> Self {
        Guarded { store, _guard: guard }
    }
}

#[async_trait]
impl<S: Store, G: Debug + Send + Sync + 'static> Store for Guarded<S, G> {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        self.store.append(batch).await
    }
    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError> {
        self.store.read(room, range).await
    }
    async fn apply(&self, event: NewEvent) -> Result<Applied, StoreError> {
        self.store.apply(event).await
    }
    async fn message(&self, room: &RoomName, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.store.message(room, id).await
    }
    async fn log(&self, room: &RoomName, after: Seq, limit: usize) -> Result<LogPage, StoreError> {
        self.store.log(room, after, limit).await
    }
    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        self.store.room(room).await
    }
    async fn room_reads(&self, room: &RoomName, limit: usize) -> Result<Vec<(UserId, Seq)>, StoreError> {
        self.store.room_reads(room, limit).await
    }
    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError> {
        self.store.rooms_page(after, limit).await
    }
    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        self.store.mark_read(user, room, seq).await
    }
    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError> {
        self.store.read_state(user, room).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }
    async fn create_room(&self, room: NewRoom) -> Result<Option<Vec<Event>>, StoreError> {
        self.store.create_room(room).await
    }
    async fn access(&self, room: &RoomName, user: UserId) -> Result<Access, StoreError> {
        self.store.access(room, user).await
    }
    async fn members(
        &self,
        room: &RoomName,
        banned: bool,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, DisplayName, Standing)>, StoreError> {
        self.store.members(room, banned, after, limit).await
    }
    async fn member_rooms(
        &self,
        user: UserId,
        after: Option<&RoomName>,
        limit: usize,
    ) -> Result<MemberRoomsPage, StoreError> {
        self.store.member_rooms(user, after, limit).await
    }
    async fn search(&self, search: &Search) -> Result<SearchPage, StoreError> {
        self.store.search(search).await
    }
    async fn add_file(&self, file: crate::model::FileRecord) -> Result<(), StoreError> {
        self.store.add_file(file).await
    }
    async fn file(&self, id: crate::model::FileId) -> Result<Option<crate::model::PostedFile>, StoreError> {
        self.store.file(id).await
    }
    async fn sweep_files(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<crate::model::FileRecord>, StoreError> {
        self.store.sweep_files(before, limit).await
    }
}

/// Runs every check, each on a fresh store from `factory`.
pub async fn run_all<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    crate::store_conformance_tests!(@list [@run factory]);
}

pub use files::*;
pub use membership::*;
pub use search::*;
pub use timeline::*;

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("test room names are valid")
}

fn draft(room_name: &RoomName, user: UserId, content: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage::now(
        room_name.clone(),
        user,
        DisplayName::parse("tester").expect("valid name"),
        content,
        client_id.map(|c| ClientId::parse(c).expect("valid client id")),
    )
}

async fn append(store: &dyn Store, batch: Vec<NewMessage>) -> Vec<Message> {
    let n = batch.len();
    let stored = store.append(batch).await.expect("append succeeds");
    assert_eq!(stored.len(), n, "append returns one message per input");
    stored
}

async fn fill(store: &dyn Store, room_name: &RoomName, n: usize) {
    let user = UserId::random();
    let mut left = n;
    while left > 0 {
        let k = left.min(100);
        let batch = (0..k).map(|i| draft(room_name, user, &format!("m{}", n - left + i + 1), None)).collect();
        append(store, batch).await;
        left -= k;
    }
}

fn seqs(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.seq.0).collect()
}

/// A healthy store is ready (`ping` is what `/readyz` asks, and it checks
/// that the store can write), before and after appends; whatever `ping`
/// writes to find out leaves no trace in any room's history.
pub async fn ping_ready_and_leaves_no_trace(store: Arc<dyn Store>) {
    store.ping().await.expect("a fresh store is ready");
    assert!(store.rooms().await.expect("rooms").is_empty(), "ping creates no room");
    let lobby = room("lobby");
    append(&*store, vec![draft(&lobby, UserId::random(), "hello", None)]).await;
    for _ in 0..3 {
        store.ping().await.expect("a store that just wrote is ready");
    }
    let rooms = store.rooms().await.expect("rooms");
    assert_eq!(rooms.len(), 1, "ping creates no room: {rooms:?}");
    assert_eq!(rooms[0].last_seq, Seq(1), "ping stores no message");
}

/// Seqs start at 1 and grow by one per message, in input order within a batch.
pub async fn seqs_gap_free_per_room(store: Arc<dyn Store>) {
    let lobby = room("lobby");
    let user = UserId::random();
    let one = append(&*store, vec![draft(&lobby, user, "first", None)]).await;
    assert_eq!(one[0].seq, Seq(1), "the first message of a room has seq 1");
    let three = append(
        &*store,
        vec![draft(&lobby, user, "a", None), draft(&lobby, user, "b", None), draft(&lobby, user, "c", None)],
    )
    .await;
    assert_eq!(seqs(&three), [2, 3, 4], "a batch takes consecutive seqs in input order");
    assert_eq!(three[1].content.as_ref(), "b");
    let head = store.room(&lobby).await.expect("room");
    assert_eq!(head.last_seq, Seq(4));
    assert_ne!(head.epoch, Epoch(0), "a room with messages has a non-zero epoch");
    let again = append(&*store, vec![draft(&lobby, user, "d", None)]).await;
    assert_eq!(again[0].seq, Seq(5));
    assert_eq!(store.room(&lobby).await.expect("room").epoch, head.epoch, "the epoch stays while history does");
}

/// Many tasks appending at once to two rooms: each room's seqs are exactly
/// 1..=n with no gap and no duplicate, and each task sees its own appends in
/// increasing seq order (commit order).
pub async fn concurrent_appends_gap_free(store: Arc<dyn Store>) {
    const TASKS: usize = 16;
    const APPENDS: usize = 20;
    let rooms = [room("race-a"), room("race-b")];
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        let rooms = rooms.clone();
        handles.push(tokio::spawn(async move {
            let user = UserId::random();
            let mut mine: HashMap<RoomName, Vec<u64>> = HashMap::new();
            for i in 0..APPENDS {
                let target = &rooms[(t + i) % 2];
                let batch_len = 1 + (t + i) % 3;
                let batch = (0..batch_len)
                    .map(|j| draft(target, user, &format!("t{t} i{i} j{j}"), Some(&format!("t{t}-{i}-{j}"))))
                    .collect();
                let stored = store.append(batch).await.expect("concurrent append succeeds");
                mine.entry(target.clone()).or_default().extend(seqs(&stored));
            }
            mine
        }));
    }
    let mut expected: HashMap<RoomName, usize> = HashMap::new();
    for handle in handles {
        for (room_name, seen) in handle.await.expect("task does not panic") {
            assert!(
                seen.windows(2).all(|w| w[0] < w[1]),
                "one task's appends to {room_name} must get increasing seqs, got {seen:?}"
            );
            *expected.entry(room_name).or_default() += seen.len();
        }
    }
    for room_name in &rooms {
        let n = expected[room_name];
        let mut all = Vec::new();
        let mut after = Seq::ZERO;
        loop {
            let page = store.read(room_name, ReadRange::after(after, MAX_PAGE)).await.expect("read");
            if let Some(last) = page.messages.last() {
                after = last.seq;
            }
            all.extend(page.messages);
            if !page.has_more {
                break;
            }
        }
        let got = seqs(&all);
        let want: Vec<u64> = (1..=n as u64).collect();
        assert_eq!(got, want, "{room_name}: seqs must be exactly 1..={n}");
        let client_ids: BTreeSet<_> = all.iter().map(|m| m.client_id.clone()).collect();
        assert_eq!(client_ids.len(), n, "{room_name}: every message stored once");
        assert_eq!(store.room(room_name).await.expect("room").last_seq, Seq(n as u64));
    }
}

/// A resend with the same `(user_id, client_id)` returns the original id and
/// seq and stores nothing; another user may use the same client id.
pub async fn idempotent_resend(store: Arc<dyn Store>) {
    let lobby = room("lobby");
    let ada = UserId::random();
    let bob = UserId::random();
    let first = append(&*store, vec![draft(&lobby, ada, "hello", Some("c1"))]).await;
    let again = append(&*store, vec![draft(&lobby, ada, "hello", Some("c1"))]).await;
    assert_eq!(again[0].id, first[0].id, "a resend returns the original id");
    assert_eq!(again[0].seq, first[0].seq, "a resend returns the original seq");
    assert_eq!(again[0].created_at, first[0].created_at);

    // A batch mixing a resend and a new message stores only the new one.
    let mixed =
        append(&*store, vec![draft(&lobby, ada, "hello", Some("c1")), draft(&lobby, ada, "new", Some("c2"))]).await;
    assert_eq!(mixed[0].id, first[0].id);
    assert_eq!(mixed[1].seq, Seq(2), "the resend took no seq");

    // The same client id twice in one batch is stored once.
    let twice = append(&*store, vec![draft(&lobby, ada, "x", Some("c3")), draft(&lobby, ada, "x", Some("c3"))]).await;
    assert_eq!(twice[0].id, twice[1].id, "a duplicate within a batch is the same message");
    assert_eq!(twice[0].seq, Seq(3));

    // Client ids are per user.
    let bobs = append(&*store, vec![draft(&lobby, bob, "hi", Some("c1"))]).await;
    assert_ne!(bobs[0].id, first[0].id, "another user's c1 is another message");
    assert_eq!(bobs[0].seq, Seq(4));

    // A resend names the original even when sent to another room.
    let elsewhere = append(&*store, vec![draft(&room("other"), ada, "hello", Some("c1"))]).await;
    assert_eq!(elsewhere[0].id, first[0].id);
    assert_eq!(store.room(&room("other")).await.expect("room").last_seq, Seq::ZERO);

    let page = store.read(&lobby, ReadRange::latest(50)).await.expect("read");
    assert_eq!(seqs(&page.messages), [1, 2, 3, 4], "each message stored exactly once");
}

/// Every kind of page, at and around its edges.
pub async fn paging_exact_at_edges(store: Arc<dyn Store>) {
    let lobby = room("lobby");
    fill(&*store, &lobby, 30).await;
    let read = |range: ReadRange| {
        let store = store.clone();
        let lobby = lobby.clone();
        async move {
            let page = store.read(&lobby, range).await.expect("read");
            (seqs(&page.messages), page.has_more)
        }
    };
    let span = |a: u64, b: u64| (a..=b).collect::<Vec<u64>>();
    assert_eq!(read(ReadRange::latest(10)).await, (span(21, 30), true), "latest 10");
    assert_eq!(read(ReadRange::latest(30)).await, (span(1, 30), false), "latest exactly all");
    assert_eq!(read(ReadRange::latest(100)).await, (span(1, 30), false), "latest more than all");
    assert_eq!(read(ReadRange::before(Seq(21), 10)).await, (span(11, 20), true), "before 21");
    assert_eq!(read(ReadRange::before(Seq(11), 10)).await, (span(1, 10), false), "before 11: exactly the first page");
    assert_eq!(read(ReadRange::before(Seq(5), 10)).await, (span(1, 4), false), "before 5");
    assert_eq!(read(ReadRange::before(Seq(1), 10)).await, (vec![], false), "before the first");
    assert_eq!(read(ReadRange::before(Seq(1000), 5)).await, (span(26, 30), true), "before beyond the head");
    assert_eq!(read(ReadRange::after(Seq(0), 10)).await, (span(1, 10), true), "after 0");
    assert_eq!(read(ReadRange::after(Seq(20), 10)).await, (span(21, 30), false), "after 20: exactly the last page");
    assert_eq!(read(ReadRange::after(Seq(25), 10)).await, (span(26, 30), false), "after 25");
    assert_eq!(read(ReadRange::after(Seq(30), 10)).await, (vec![], false), "after the head");
    assert_eq!(read(ReadRange::after(Seq(99), 10)).await, (vec![], false), "after beyond the head");
    assert_eq!(read(ReadRange::between(Seq(5), Seq(9), 10)).await, (span(6, 8), false), "between 5 and 9");
    assert_eq!(read(ReadRange::between(Seq(5), Seq(20), 3)).await, (span(6, 8), true), "between, limited");
    assert_eq!(read(ReadRange::between(Seq(5), Seq(6), 3)).await, (vec![], false), "between adjacent seqs");
    assert_eq!(read(ReadRange::after(Seq(0), 1)).await, (span(1, 1), true), "limit 1");
    let empty = store.read(&room("nobody-here"), ReadRange::latest(10)).await.expect("read");
    assert!(empty.messages.is_empty() && !empty.has_more, "a room with no messages reads empty");
}

/// Rooms have their own seqs and never see each other's messages.
pub async fn rooms_isolated(store: Arc<dyn Store>) {
    let (a, b, c) = (room("acme/general"), room("acme/random"), room("lobby"));
    let user = UserId::random();
    append(&*store, vec![draft(&a, user, "a1", None), draft(&b, user, "b1", None), draft(&a, user, "a2", None)]).await;
    append(&*store, vec![draft(&b, user, "b2", None)]).await;
    let pa = store.read(&a, ReadRange::latest(50)).await.expect("read a");
    let pb = store.read(&b, ReadRange::latest(50)).await.expect("read b");
    assert_eq!(seqs(&pa.messages), [1, 2]);
    assert_eq!(seqs(&pb.messages), [1, 2]);
    assert!(pa.messages.iter().all(|m| m.room == a && m.content.starts_with('a')));
    assert!(pb.messages.iter().all(|m| m.room == b && m.content.starts_with('b')));
    let rooms = store.rooms().await.expect("rooms");
    let names: Vec<&str> = rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["acme/general", "acme/random"], "rooms() lists rooms with messages, by name");
    assert!(rooms.iter().all(|r| r.last_seq == Seq(2) && r.epoch != Epoch(0) && r.last_message_at.is_some()));
    let empty = store.room(&c).await.expect("room");
    assert_eq!((empty.last_seq, empty.epoch, empty.last_message_at), (Seq::ZERO, Epoch(0), None));
}

/// Pages never exceed their limit nor [`MAX_PAGE`], and a full batch of a
/// hundred messages is stored whole.
pub async fn limits_honoured(store: Arc<dyn Store>) {
    let lobby = room("lobby");
    fill(&*store, &lobby, MAX_PAGE + 20).await;
    let page = store.read(&lobby, ReadRange::latest(10_000)).await.expect("read");
    assert_eq!(page.messages.len(), MAX_PAGE, "a page is at most MAX_PAGE long");
    assert!(page.has_more);
    assert_eq!(page.messages[0].seq, Seq(21));
    let forward = store.read(&lobby, ReadRange::after(Seq::ZERO, usize::MAX)).await.expect("read");
    assert_eq!(forward.messages.len(), MAX_PAGE);
    assert_eq!(forward.messages.last().map(|m| m.seq), Some(Seq(MAX_PAGE as u64)));
    let zero = store.read(&lobby, ReadRange::latest(0)).await.expect("read");
    assert_eq!(zero.messages.len(), 1, "a limit of 0 is raised to 1");
}

/// Everything about a message reads back exactly as it was stored.
pub async fn content_round_trips(store: Arc<dyn Store>) {
    let lobby = room("lobby");
    let user = UserId::random();
    let long = "é".repeat(4000);
    let contents = [
        "Hello, world!",
        "<img src=x onerror=alert(1)>",
        "multi\nline\ttext",
        "emoji 🦀 and 'quotes' \"double\"",
        &long,
    ];
    let batch: Vec<NewMessage> =
        contents.iter().enumerate().map(|(i, c)| draft(&lobby, user, c, Some(&format!("rt-{i}")))).collect();
    let stored = append(&*store, batch.clone()).await;
    let page = store.read(&lobby, ReadRange::latest(50)).await.expect("read");
    assert_eq!(page.messages, stored, "what is read is what append returned");
    for (new, got) in batch.into_iter().zip(&page.messages) {
        let want = new.stored_at(got.seq);
        assert_eq!(&want, got, "every field round-trips");
    }
}

/// Who posted a message is kept with it: the kind of identity (a guest's
/// stays a guest's, so none can pass for an account) and an external
/// author's own id, through `read`, `message`, the log and a resend.
pub async fn authors_kind_round_trips(store: Arc<dyn Store>) {
    let lobby = room("authors");
    let name = DisplayName::parse("author").expect("valid name");
    let app_id = ExternalId::parse("tenant-7|user:42").expect("valid external id");
    let authors = [
        Principal::guest(UserId::random(), None),
        Principal::account(UserId::random(), name.clone()),
        Principal::bot(UserId::random(), name.clone()),
        Principal::external(app_id.clone(), name),
    ];
    let batch: Vec<NewMessage> = authors
        .iter()
        .enumerate()
        .map(|(i, who)| draft(&lobby, who.user_id, "hi", Some(&format!("by-{i}"))).by(who))
        .collect();
    let stored = append(&*store, batch.clone()).await;
    let kinds: Vec<PrincipalKind> = stored.iter().map(|m| m.principal).collect();
    let want = [PrincipalKind::Guest, PrincipalKind::Account, PrincipalKind::Bot, PrincipalKind::External];
    assert_eq!(kinds, want, "append returns each author's kind");
    assert_eq!(stored[3].external_id.as_ref(), Some(&app_id), "and an external author's own id");
    assert_eq!(stored[3].user_id, app_id.user_id(), "stored under the user id derived from it");
    assert!(stored[..3].iter().all(|m| m.external_id.is_none()), "only an external author has an external id");
    let page = store.read(&lobby, ReadRange::latest(10)).await.expect("read");
    assert_eq!(page.messages, stored, "read returns the same authors");
    let one = store.message(&lobby, stored[3].id).await.expect("message").expect("stored");
    assert_eq!(one, stored[3], "so does a lookup by id");
    let log = store.log(&lobby, Seq::ZERO, 10).await.expect("log");
    let logged: Vec<&Message> = log
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Message(m) => Some(m),
            Entry::Event(_) => None,
        })
        .collect();
    assert_eq!(logged, stored.iter().collect::<Vec<_>>(), "and the log");
    let again = append(&*store, batch).await;
    assert_eq!(again, stored, "a resend answers the original, author and all");
}

/// Every store keeps `created_at` to whole milliseconds (truncating), so
/// what `append` returns is what `read` returns later, and the room's
/// `last_message_at` is the same instant.
pub async fn created_at_truncated_to_millis(store: Arc<dyn Store>) {
    let lobby = room("lobby");
    let user = UserId::random();
    let mut new = draft(&lobby, user, "precise", Some("t1"));
    let whole = OffsetDateTime::from_unix_timestamp(1_764_000_000).expect("valid time");
    new.created_at = whole + Duration::from_nanos(123_456_789);
    let want = whole + Duration::from_millis(123);
    let stored = append(&*store, vec![new]).await;
    assert_eq!(stored[0].created_at, want, "append returns created_at truncated to milliseconds");
    let page = store.read(&lobby, ReadRange::latest(10)).await.expect("read");
    assert_eq!(page.messages, stored, "read returns what append returned");
    let head = store.room(&lobby).await.expect("room");
    assert_eq!(head.last_message_at, Some(want), "last_message_at is the same instant");
    let again = append(&*store, vec![draft(&lobby, user, "precise", Some("t1"))]).await;
    assert_eq!(again[0].created_at, want, "a resend returns the stored time");
}

/// Appends whose callers give up at various points (the task running them
/// is aborted), then resent with the same client ids: whatever was stored
/// was stored whole, the resend stores the rest, and every message is stored
/// exactly once with gap-free seqs. Nothing is ever half stored.
pub async fn cancelled_appends_resent_stored_once(store: Arc<dyn Store>) {
    const ROUNDS: usize = 12;
    const BATCH: usize = 3;
    let lobby = room("lobby");
    let user = UserId::random();
    let batch = |round: usize, task: usize| -> Vec<NewMessage> {
        (0..BATCH)
            .map(|j| draft(&lobby, user, &format!("r{round} t{task} m{j}"), Some(&format!("x{round}-{task}-{j}"))))
            .collect()
    };
    let mut sent = Vec::new();
    for round in 0..ROUNDS {
        let tasks: Vec<_> = (0..2)
            .map(|task| {
                let (store, batch) = (store.clone(), batch(round, task));
                sent.push((round, task));
                tokio::spawn(async move { store.append(batch).await })
            })
            .collect();
        // Give up after nothing, a few scheduler turns, or a little while.
        match round % 4 {
            0 => {}
            1 => tokio::task::yield_now().await,
            2 => {
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
            }
            _ => tokio::time::sleep(Duration::from_micros(200 * round as u64)).await,
        }
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            // Finished or cancelled; an append that finished must have worked.
            if let Ok(outcome) = task.await {
                let stored = outcome.expect("an append that completed succeeded");
                assert_eq!(stored.len(), BATCH);
            }
        }
    }
    for &(round, task) in &sent {
        let want = batch(round, task);
        let stored = append(&*store, want.clone()).await;
        for (new, got) in want.iter().zip(&stored) {
            assert_eq!(got.client_id, new.client_id, "a resend answers each message in order");
            assert_eq!(got.content, new.content);
        }
    }
    let mut all = Vec::new();
    let mut after = Seq::ZERO;
    loop {
        let page = store.read(&lobby, ReadRange::after(after, MAX_PAGE)).await.expect("read");
        if let Some(last) = page.messages.last() {
            after = last.seq;
        }
        all.extend(page.messages);
        if !page.has_more {
            break;
        }
    }
    let n = sent.len() * BATCH;
    assert_eq!(seqs(&all), (1..=n as u64).collect::<Vec<u64>>(), "seqs are exactly 1..={n}: nothing half stored");
    let client_ids: BTreeSet<_> = all.iter().map(|m| m.client_id.clone()).collect();
    assert_eq!(client_ids.len(), n, "every message stored exactly once");
    // A batch is stored whole and in one go: its messages take consecutive seqs.
    let batch_of =
        |m: &Message| m.client_id.as_ref().and_then(|c| c.as_str().rsplit_once('-')).map(|(b, _)| b.to_owned());
    for chunk in all.chunks(BATCH) {
        let first = batch_of(&chunk[0]);
        assert!(chunk.iter().all(|m| batch_of(m) == first), "a batch's messages take consecutive seqs: {first:?}");
    }
}

fn names(page: &RoomsPage) -> Vec<String> {
    page.rooms.iter().map(|r| r.name.to_string()).collect()
}

/// Rooms pages list rooms by name (byte order), each once: `after` is
/// exclusive and need not be a room, `has_more` says whether rooms follow,
/// and following the pages to the end lists every room. Each room's head is
/// the one [`Store::room`] reports.
pub async fn rooms_paged_by_name(store: Arc<dyn Store>) {
    let user = UserId::random();
    // Inserted out of order; in byte order '-' < '/' < '9' < 'a'.
    let wanted = ["zulu", "acme/alpha", "lobby", "acme/9", "acme/beta", "acme-x", "m"];
    for (i, name) in wanted.iter().enumerate() {
        let batch = (0..=i).map(|j| draft(&room(name), user, &format!("{name} {j}"), None)).collect();
        append(&*store, batch).await;
    }
    let mut sorted: Vec<String> = wanted.iter().map(|n| (*n).to_owned()).collect();
    sorted.sort();
    assert_eq!(sorted[..3], ["acme-x", "acme/9", "acme/alpha"], "byte order");

    let first = store.rooms_page(None, 3).await.expect("rooms page");
    assert_eq!(names(&first), sorted[..3], "the first page starts at the first room by name");
    assert!(first.has_more, "more rooms follow the first page");
    let second = store.rooms_page(Some(&first.rooms[2].name), 3).await.expect("rooms page");
    assert_eq!(names(&second), sorted[3..6], "the next page starts after the cursor");
    assert!(second.has_more);
    let third = store.rooms_page(Some(&second.rooms[2].name), 3).await.expect("rooms page");
    assert_eq!(names(&third), sorted[6..], "the last page holds the rest");
    assert!(!third.has_more, "nothing follows the last page");

    let exact = store.rooms_page(Some(&room("acme/beta")), 3).await.expect("rooms page");
    assert_eq!(names(&exact), sorted[4..], "a page that ends exactly at the last room");
    assert!(!exact.has_more, "has_more is false when the page ends exactly at the last room");
    let between = store.rooms_page(Some(&room("acme/b")), 1).await.expect("rooms page");
    assert_eq!(names(&between), ["acme/beta"], "a cursor that is not a room starts after where it would sort");
    let past = store.rooms_page(Some(&room("zz")), 10).await.expect("rooms page");
    assert!(past.rooms.is_empty() && !past.has_more, "a cursor past every room reads empty");

    for info in first.rooms.iter().chain(&second.rooms).chain(&third.rooms) {
        assert_eq!(info, &store.room(&info.name).await.expect("room"), "a page holds each room's head");
        assert!(info.last_seq > Seq::ZERO && info.epoch != Epoch(0) && info.last_message_at.is_some());
    }
    let all: Vec<String> = store.rooms().await.expect("rooms").iter().map(|r| r.name.to_string()).collect();
    assert_eq!(all, sorted, "rooms() follows the pages to the end");
}

/// A store with no messages has no rooms: an empty page, nothing more.
pub async fn rooms_page_empty_store(store: Arc<dyn Store>) {
    let page = store.rooms_page(None, 10).await.expect("rooms page");
    assert!(page.rooms.is_empty() && !page.has_more, "no rooms, nothing more");
    let page = store.rooms_page(Some(&room("lobby")), 10).await.expect("rooms page");
    assert!(page.rooms.is_empty() && !page.has_more);
    // A room only read from is not a room with messages.
    store.read(&room("lobby"), ReadRange::latest(10)).await.expect("read");
    assert!(store.rooms().await.expect("rooms").is_empty(), "reading creates no room");
}

/// A rooms page is never longer than its limit nor [`MAX_ROOMS_PAGE`], and a
/// limit of 0 is raised to 1.
pub async fn rooms_page_limits_honoured(store: Arc<dyn Store>) {
    let user = UserId::random();
    let n = MAX_ROOMS_PAGE + 20;
    let rooms: Vec<RoomName> = (0..n).map(|i| room(&format!("r{i:04}"))).collect();
    for chunk in rooms.chunks(100) {
        append(&*store, chunk.iter().map(|r| draft(r, user, "hi", None)).collect()).await;
    }
    let page = store.rooms_page(None, usize::MAX).await.expect("rooms page");
    assert_eq!(page.rooms.len(), MAX_ROOMS_PAGE, "a page is at most MAX_ROOMS_PAGE long");
    assert!(page.has_more);
    let rest = store.rooms_page(page.rooms.last().map(|r| &r.name), MAX_ROOMS_PAGE).await.expect("rooms page");
    assert_eq!(rest.rooms.len(), 20, "the rest of the rooms");
    assert_eq!(rest.rooms[0].name.as_str(), format!("r{MAX_ROOMS_PAGE:04}"));
    assert!(!rest.has_more);
    let zero = store.rooms_page(None, 0).await.expect("rooms page");
    assert_eq!(names(&zero), ["r0000"], "a limit of 0 is raised to 1");
    assert!(zero.has_more);
    assert_eq!(store.rooms().await.expect("rooms").len(), n, "rooms() lists them all, across pages");
}

/// Nobody has read anything in a room nobody marked: the watermark is 0, and
/// every message by others is unread (a room with no messages: nothing).
pub async fn read_state_starts_empty(store: Arc<dyn Store>) {
    let lobby = room("read-empty");
    let reader = UserId::random();
    assert_eq!(store.read_state(reader, &lobby).await.expect("read state"), ReadState::default());
    fill(&*store, &lobby, 3).await;
    let state = store.read_state(reader, &lobby).await.expect("read state");
    assert_eq!(state, ReadState { read_seq: Seq::ZERO, unread: 3 });
}

/// A mark above the head is clamped to it; a lower or equal one changes
/// nothing and says so; a mark in a room with no messages stays at 0.
pub async fn read_marks_clamped_and_monotonic(store: Arc<dyn Store>) {
    let lobby = room("read-marks");
    let reader = UserId::random();
    let nowhere = store.mark_read(reader, &lobby, Seq(5)).await.expect("mark");
    assert_eq!(nowhere, ReadMark { read_seq: Seq::ZERO, moved: false }, "no messages: nothing to read");
    fill(&*store, &lobby, 4).await;
    let two = store.mark_read(reader, &lobby, Seq(2)).await.expect("mark");
    assert_eq!(two, ReadMark { read_seq: Seq(2), moved: true });
    let back = store.mark_read(reader, &lobby, Seq(1)).await.expect("mark");
    assert_eq!(back, ReadMark { read_seq: Seq(2), moved: false }, "a lower seq never moves it back");
    let same = store.mark_read(reader, &lobby, Seq(2)).await.expect("mark");
    assert_eq!(same, ReadMark { read_seq: Seq(2), moved: false });
    let beyond = store.mark_read(reader, &lobby, Seq(1_000)).await.expect("mark");
    assert_eq!(beyond, ReadMark { read_seq: Seq(4), moved: true }, "clamped to the head");
    let state = store.read_state(reader, &lobby).await.expect("read state");
    assert_eq!(state, ReadState { read_seq: Seq(4), unread: 0 });
}

/// Unread counts the messages by others after the watermark: the reader's
/// own messages are not unread, before the mark or after it.
pub async fn unread_counts_others_after_the_mark(store: Arc<dyn Store>) {
    let lobby = room("read-unread");
    let (reader, other) = (UserId::random(), UserId::random());
    let batch = vec![
        draft(&lobby, other, "1", None),
        draft(&lobby, reader, "2", None),
        draft(&lobby, other, "3", None),
        draft(&lobby, reader, "4", None),
        draft(&lobby, other, "5", None),
    ];
    append(&*store, batch).await;
    assert_eq!(store.read_state(reader, &lobby).await.expect("read state").unread, 3);
    store.mark_read(reader, &lobby, Seq(3)).await.expect("mark");
    assert_eq!(store.read_state(reader, &lobby).await.expect("read state"), ReadState { read_seq: Seq(3), unread: 1 });
    assert_eq!(store.read_state(other, &lobby).await.expect("read state").unread, 2, "the other's own are not unread");
}

/// A watermark belongs to one user in one room.
pub async fn read_state_per_user_and_room(store: Arc<dyn Store>) {
    let (a, b) = (room("read-a"), room("read-b"));
    let (ada, bob) = (UserId::random(), UserId::random());
    fill(&*store, &a, 3).await;
    fill(&*store, &b, 3).await;
    store.mark_read(ada, &a, Seq(3)).await.expect("mark");
    assert_eq!(store.read_state(ada, &a).await.expect("read state").read_seq, Seq(3));
    assert_eq!(store.read_state(ada, &b).await.expect("read state"), ReadState { read_seq: Seq::ZERO, unread: 3 });
    assert_eq!(store.read_state(bob, &a).await.expect("read state"), ReadState { read_seq: Seq::ZERO, unread: 3 });
}

/// A room's read watermarks, highest first (ties by user id), at most the
/// limit, none from another room and none for a user who never marked.
pub async fn room_reads_highest_first(store: Arc<dyn Store>) {
    let (lobby, other) = (room("reads-a"), room("reads-b"));
    assert!(store.room_reads(&lobby, 10).await.expect("room reads").is_empty());
    fill(&*store, &lobby, 5).await;
    fill(&*store, &other, 5).await;
    let mut users: Vec<UserId> = (0..4).map(|_| UserId::random()).collect();
    users.sort();
    for (user, seq) in [(users[0], 2), (users[1], 5), (users[2], 5), (users[3], 3)] {
        store.mark_read(user, &lobby, Seq(seq)).await.expect("mark");
    }
    store.mark_read(users[0], &other, Seq(4)).await.expect("mark");
    let reads = store.room_reads(&lobby, 10).await.expect("room reads");
    let want = vec![(users[1], Seq(5)), (users[2], Seq(5)), (users[3], Seq(3)), (users[0], Seq(2))];
    assert_eq!(reads, want, "highest first, ties by user id");
    assert_eq!(store.room_reads(&lobby, 2).await.expect("room reads"), want[..2], "at most the limit");
    assert_eq!(store.room_reads(&other, 10).await.expect("room reads"), [(users[0], Seq(4))]);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn run_all_runs_every_check_on_a_fresh_store() {
        let made = AtomicUsize::new(0);
        run_all(|| {
            made.fetch_add(1, Ordering::Relaxed);
            async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }
        })
        .await;
        assert_eq!(made.load(Ordering::Relaxed), CHECKS.len(), "every check ran");
    }
}
