//! What a store is asked when a reader searches ([`Store::search`](super::Store::search)),
//! and what it answers: a page of messages, newest first, with a cursor to
//! the next.

use crate::model::{Access, Message, RoomName, SearchQuery, Seq, UserId};

use super::RoomTimeline;

/// The most messages one search returns (protocol.md §16: `limit` max 100).
pub const MAX_SEARCH_PAGE: usize = 100;
/// The page size when a reader names none.
pub const DEFAULT_SEARCH_PAGE: usize = 20;

/// One search of the messages a reader may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    /// What to look for.
    pub query: SearchQuery,
    /// Who searches: only rooms they may read are searched ([`Access::may_enter`]:
    /// public rooms they are not banned from, and the rooms they are a member
    /// of). `None`, a reader without an identity: public rooms only.
    pub reader: Option<UserId>,
    /// Only this room, when given.
    pub room: Option<RoomName>,
    /// Only messages older than this position: the previous page's
    /// [`SearchPage::next`].
    pub before: Option<SearchCursor>,
    /// At most this many (within `1..=MAX_SEARCH_PAGE`).
    pub limit: usize,
}

impl Search {
    /// A search of everything `reader` may read, newest first.
    pub fn new(query: SearchQuery, reader: Option<UserId>) -> Self {
        Search { query, reader, room: None, before: None, limit: DEFAULT_SEARCH_PAGE }
    }

    /// The page size, within `1..=MAX_SEARCH_PAGE`.
    pub fn limit(&self) -> usize {
        self.limit.clamp(1, MAX_SEARCH_PAGE)
    }

    /// Whether a room of this access is searched: the rule every store's
    /// index query restates (and core checks again on every hit).
    pub fn may_read(&self, access: Access) -> bool {
        access.may_enter()
    }
}

/// A position in a store's search order: each stored message has one, later
/// messages higher ones, and a message keeps its position when edited. A
/// backend's own number (an index's row id), opaque to everyone else, which
/// the HTTP API passes through as a decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SearchCursor(pub u64);

/// A page of what a search found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchPage {
    /// Newest first (by [`SearchCursor`]), each in its current state: never a
    /// deleted message, and an edited one by its edited text.
    pub messages: Vec<Message>,
    /// The cursor of the next page, when more may match: the position of
    /// the last message of this one.
    pub next: Option<SearchCursor>,
}

impl SearchPage {
    /// A search answered by scanning: `posted` is every message in the
    /// order stored (a message's position is its index plus one), `room`
    /// finds a room's timeline. The in-memory stores' search, and the
    /// reference the indexes are checked against; a store with much
    /// history keeps a full-text index instead.
    pub fn scan<'a>(
        search: &Search,
        posted: &[(RoomName, Seq)],
        room: impl Fn(&RoomName) -> Option<&'a RoomTimeline>,
    ) -> SearchPage {
        let end = search.before.map_or(posted.len(), |c| usize::try_from(c.0).unwrap_or(usize::MAX).saturating_sub(1));
        let limit = search.limit();
        let mut page = SearchPage::default();
        for (i, (name, seq)) in posted[..end.min(posted.len())].iter().enumerate().rev() {
            if search.room.as_ref().is_some_and(|only| only != name) {
                continue;
            }
            let Some(log) = room(name) else { continue };
            let access = search.reader.map_or_else(|| log.stranger_access(), |u| log.access(u));
            let Some(message) = log.message_at(*seq).filter(|m| !m.deleted) else { continue };
            if !search.may_read(access) || !search.query.matches(&message.content) {
                continue;
            }
            if page.messages.len() == limit {
                // One more than the page: there is a next one.
                return page;
            }
            page.messages.push(message.clone());
            page.next = Some(SearchCursor(i as u64 + 1));
        }
        page.next = None;
        page
    }
}
