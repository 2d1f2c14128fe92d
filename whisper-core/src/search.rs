//! Searching messages (protocol.md §16): the [`Chat`] method the server's
//! `GET /v1/search` and an embedding application call, so both find the
//! same messages. The store searches its index over the rooms the chat's
//! rules let the reader read; each room a hit comes from is then put to the
//! application's policy (`read_history`), so a search never shows a message
//! that reading its room would not.

use std::collections::HashMap;

use crate::Chat;
use crate::chat::ReadError;
use crate::model::{Message, Principal, RoomName, SearchQuery, SearchQueryError, TextMark};
use crate::policy::Denied;
use crate::store::{Search, SearchCursor, StoreError};

/// What a reader asks [`Chat::search`] for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchAsk {
    /// What they typed.
    pub text: String,
    /// Only this room.
    pub room: Option<RoomName>,
    /// Only older than this: the previous page's [`Found::next`].
    pub before: Option<SearchCursor>,
    /// At most this many (`None`: [`DEFAULT_SEARCH_PAGE`](crate::store::DEFAULT_SEARCH_PAGE)).
    pub limit: Option<usize>,
}

/// A page of what a search found, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Each message with where the searched words are in it.
    pub hits: Vec<(Message, Vec<TextMark>)>,
    /// The `before` of the next page, when more may match. A page can hold
    /// fewer than `limit` (even none) and still have a next one: hits from
    /// rooms the application's policy keeps from the reader are left out.
    pub next: Option<SearchCursor>,
}

/// Why a search found nothing to show. Nothing about a room the reader may
/// not read is in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// What was typed cannot be searched (HTTP 400, with this message).
    #[error(transparent)]
    Query(#[from] SearchQueryError),
    /// `room` is one the reader may not read, or the policy refused the
    /// search (HTTP 403).
    #[error("{0}")]
    Denied(Denied),
    /// The store could not.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ReadError> for SearchError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Denied(why) => SearchError::Denied(why),
            ReadError::Store(e) => SearchError::Store(e),
        }
    }
}

impl Chat {
    /// Searches the messages `who` (`None`: a reader without an identity)
    /// may read: in public rooms they are not banned from and in the rooms
    /// they are a member of, or in `ask.room` alone.
    pub async fn search(&self, who: Option<&Principal>, ask: SearchAsk) -> Result<Found, SearchError> {
        let query = SearchQuery::parse(&ask.text)?;
        if let Some(policy) = self.policy() {
            policy.search(who, &query).await.map_err(SearchError::Denied)?;
        }
        if let Some(room) = &ask.room {
            self.may_read(who, room).await?;
        }
        let mut search = Search::new(query, who.map(|w| w.user_id));
        search.room = ask.room;
        search.before = ask.before;
        search.limit = ask.limit.unwrap_or(search.limit);
        let page = self.store().search(&search).await?;

        // The store kept to the rooms the chat's rules let the reader read
        // (its index query restates `Access::may_enter`, and the store
        // conformance suite holds every backend to it). The application's
        // rules are asked here, once per room a hit comes from.
        let mut readable: HashMap<RoomName, bool> = HashMap::new();
        let mut hits = Vec::with_capacity(page.messages.len());
        for message in page.messages {
            let allowed = match (self.policy(), readable.get(&message.room)) {
                (None, _) => true,
                (Some(_), Some(allowed)) => *allowed,
                (Some(policy), None) => {
                    let allowed = policy.read_history(who, &message.room).await.is_ok();
                    readable.insert(message.room.clone(), allowed);
                    allowed
                }
            };
            if allowed {
                let marks = search.query.marks(&message.content);
                hits.push((message, marks));
            }
        }
        Ok(Found { hits, next: page.next })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{DisplayName, NewMessage, UserId};
    use crate::policy::{Policy, Verdict};
    use crate::store::{MemoryStore, Store};

    /// An application that keeps `staff` to itself and lets nobody search
    /// for `secret`.
    #[derive(Debug)]
    struct House;

    #[async_trait::async_trait]
    impl Policy for House {
        async fn read_history(&self, _who: Option<&Principal>, room: &RoomName) -> Verdict {
            if room.as_str() == "staff" { Err(Denied::forbidden("staff only")) } else { Ok(()) }
        }
        async fn search(&self, _who: Option<&Principal>, query: &SearchQuery) -> Verdict {
            if query.to_string().contains("secret") { Err(Denied::forbidden("not that")) } else { Ok(()) }
        }
    }

    fn ask(text: &str) -> SearchAsk {
        SearchAsk { text: text.into(), ..SearchAsk::default() }
    }

    #[tokio::test]
    async fn the_policy_hides_rooms_and_refuses_searches() {
        let store = Arc::new(MemoryStore::new());
        let ada = UserId::random();
        let name = DisplayName::parse("Ada").expect("valid name");
        for room in ["lobby", "staff", "lobby"] {
            let room = RoomName::parse(room).expect("valid room");
            store
                .append(vec![NewMessage::now(room, ada, name.clone(), "plan a secret plan", None)])
                .await
                .expect("append");
        }
        let who = Principal::account(ada, name);
        let open = Chat::builder(store.clone()).build();
        assert_eq!(open.search(Some(&who), ask("plan")).await.expect("search").hits.len(), 3);

        let chat = Chat::builder(store).policy(Arc::new(House)).build();
        let found = chat.search(Some(&who), ask("PLAN")).await.expect("search");
        assert_eq!(found.hits.len(), 2, "staff's message is left out");
        assert!(found.hits.iter().all(|(m, _)| m.room.as_str() == "lobby"));
        let (_, marks) = &found.hits[0];
        assert_eq!(marks, &vec![TextMark { start: 0, end: 4 }, TextMark { start: 14, end: 18 }]);
        let staff = SearchAsk { room: Some(RoomName::parse("staff").expect("valid room")), ..ask("plan") };
        assert!(matches!(chat.search(Some(&who), staff).await, Err(SearchError::Denied(_))));
        assert!(matches!(chat.search(Some(&who), ask("secret")).await, Err(SearchError::Denied(_))));
        assert!(matches!(
            chat.search(None, ask("\"open")).await,
            Err(SearchError::Query(SearchQueryError::UnclosedQuote))
        ));
    }
}
