//! Search (protocol.md §16) over the `search_words` tsvector and its GIN
//! index (schema version 7): newest first by `doc`, keeping to rooms the
//! reader may read.

use whisper_core::model::{Reactions, UserId};
use whisper_core::store::{Search, SearchCursor, SearchPage, StoreError};

use super::PostgresStore;
use super::rows::{decode_error, decode_message, decode_reactor};
use tokio_postgres::types::Type;

/// The search, with what decides its plan written into it: the query's
/// canonical form ([`SearchQuery`](whisper_core::model::SearchQuery)'s
/// `Display`), which `websearch_to_tsquery` reads as meant (words, quoted
/// phrases, `-` exclusions), the cursor and the limit. As parameters,
/// PostgreSQL planned it generically, without knowing how common the words
/// are, and took a common word's every match to sort them (400 ms over
/// 100,000 messages) where walking the newest rows finds a page in 0.4 ms.
/// A query's canonical form holds letters, digits, spaces, `"` and `-`
/// only, so it is a safe literal; `'` is doubled all the same.
///
/// A room is searched when the reader (`$1`) may read it, the rule of
/// `Access::may_enter`: public (visibility 0) and not banned (standing -1),
/// or a member (standing 1–3). `$2` keeps to one room. `from..before` is
/// the slice of `doc`s searched.
fn search_sql(query: &str, from: i64, before: i64, fetch: i64) -> String {
    let query = query.replace('\'', "''");
    format!(
        "SELECT m.room, m.seq, m.id, m.user_id::text, m.name, \
                coalesce(m.edited_content, m.content), m.client_id, m.created_at, m.reply_to, m.edited_at, \
                m.deleted, m.principal, m.external_id, m.attachments, m.doc \
         FROM messages m \
         JOIN rooms r ON r.name = m.room \
         LEFT JOIN room_members rm ON rm.room = m.room AND rm.user_id = $1::text::uuid \
         WHERE m.search_words @@ websearch_to_tsquery('simple', '{query}') AND m.doc >= {from} AND m.doc < {before} \
           AND ($2::text IS NULL OR m.room = $2::text) \
           AND CASE WHEN r.visibility = 0 THEN coalesce(rm.standing, 0) >= 0 ELSE coalesce(rm.standing, 0) > 0 END \
         ORDER BY m.doc DESC LIMIT {fetch}"
    )
}

/// How many of the newest messages a search looks through first.
///
/// For a word in one message of 100 to 1,000, PostgreSQL's planner reads
/// every match from the GIN index's bitmap and sorts them (the backward walk
/// of `messages_by_doc` looks dearer to it): 1,000–10,000 heap rows for a
/// page of 20, p99 98 ms over a million messages. Bounded to the newest
/// slice first, the bitmap fetches only that slice's matches, and a word
/// too rare to fill the page there is rare enough for the bitmap over the
/// rest to be cheap.
const NEWEST_SLICE: i64 = 50_000;

/// The head of the search order: one past the newest `doc`.
const HEAD_SQL: &str = "SELECT coalesce(max(doc), 0) + 1 FROM messages";

/// The standing reactions of the messages at `(room, seq)` pairs, in the
/// order they were made: one probe of the primary key per message.
const REACTIONS_SQL: &str = "SELECT x.i, r.emoji, r.user_id::text \
     FROM UNNEST($1::text[], $2::int8[]) WITH ORDINALITY AS x(room, seq, i) \
     JOIN reactions r ON r.room = x.room AND r.target_seq = x.seq \
     ORDER BY x.i, r.seq";

impl PostgresStore {
    pub(super) async fn search_messages(&self, search: &Search) -> Result<SearchPage, StoreError> {
        self.search_sliced(search, NEWEST_SLICE).await
    }

    /// The search, through the newest `slice` messages first.
    async fn search_sliced(&self, search: &Search, slice: i64) -> Result<SearchPage, StoreError> {
        let limit = search.limit();
        let query = search.query.to_string();
        let before = search.before.map_or(i64::MAX, |c| i64::try_from(c.0).unwrap_or(i64::MAX));
        let reader = search.reader.map(|u: UserId| u.to_string());
        let room = search.room.as_ref().map(|r| r.as_str());
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        // Unnamed statements, planned for their words each time: the newest
        // slice, then (when it did not fill the page) the rest. Kept to one
        // room, a slice holds too few of its messages to fill a page: that
        // search goes through everything at once, and needs no head.
        let types = [Type::TEXT, Type::TEXT];
        let (from, before) = match (search.room.is_some(), search.before) {
            (true, _) => (0, before),
            (false, Some(_)) => (before.saturating_sub(slice).max(0), before),
            (false, None) => {
                let head = self.query(HEAD_SQL, &[]).await?;
                let head: i64 = head.first().map_or(Ok(1), |r| r.try_get(0)).map_err(|e| decode_error(&e))?;
                (head.saturating_sub(slice).max(0), head)
            }
        };
        let sql = search_sql(&query, from, before, fetch);
        let mut rows = self.query_planned_each_time(&sql, &[&reader, &room], &types).await?;
        if rows.len() <= limit && from > 0 {
            let rest = fetch - i64::try_from(rows.len()).unwrap_or(0);
            let sql = search_sql(&query, 0, from, rest);
            rows.extend(self.query_planned_each_time(&sql, &[&reader, &room], &types).await?);
        }
        let more = rows.len() > limit;
        let mut page = SearchPage::default();
        for row in rows.iter().take(limit) {
            page.messages.push(decode_message(row)?);
            let doc: i64 = row.try_get(14).map_err(|e| decode_error(&e))?;
            page.next = more.then(|| SearchCursor(u64::try_from(doc).unwrap_or(0)));
        }
        self.add_reactions_of_hits(&mut page).await?;
        Ok(page)
    }

    async fn add_reactions_of_hits(&self, page: &mut SearchPage) -> Result<(), StoreError> {
        if page.messages.is_empty() {
            return Ok(());
        }
        let rooms: Vec<&str> = page.messages.iter().map(|m| m.room.as_str()).collect();
        let seqs: Vec<i64> = page.messages.iter().map(|m| super::rows::to_i64(m.seq.0)).collect();
        let rows = self.query(REACTIONS_SQL, &[&rooms, &seqs]).await?;
        let mut standing = Vec::with_capacity(rows.len());
        for row in &rows {
            let i: i64 = row.try_get(0).map_err(|e| decode_error(&e))?;
            let (emoji, user) = decode_reactor(row, 1)?;
            standing.push((usize::try_from(i).unwrap_or(0), emoji, user));
        }
        for run in standing.chunk_by(|a, b| a.0 == b.0) {
            if let Some(message) = run[0].0.checked_sub(1).and_then(|i| page.messages.get_mut(i)) {
                message.reactions = Reactions::tally(run.iter().map(|(_, e, u)| (e, *u)));
            }
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    use whisper_core::model::{DisplayName, NewMessage, RoomName, SearchQuery, UserId};
    use whisper_core::store::{Search, Store};

    use super::*;

    /// Matches on both sides of the newest slice's edge come out as one
    /// order, newest first, paged without gaps or repeats.
    #[tokio::test]
    async fn a_search_crosses_the_newest_slice() {
        let Some(db) = crate::testing::pg::fresh_database().await else { return };
        let store = PostgresStore::connect(db.url()).await.expect("connect");
        let (lobby, ada) = (RoomName::lobby(), UserId::random());
        let name = DisplayName::parse("Ada").expect("valid name");
        let mut posted = Vec::new();
        for i in 0..30 {
            // "old" only in the first ten, "every" in all: the slice of 7 holds
            // no "old" and some "every".
            let text = if i < 10 { format!("old every {i}") } else { format!("every {i}") };
            posted.extend(
                store
                    .append(vec![NewMessage::now(lobby.clone(), ada, name.clone(), text.as_str(), None)])
                    .await
                    .expect("append"),
            );
        }
        for (word, want) in [("every", 30), ("old", 10)] {
            let mut ask = Search::new(SearchQuery::parse(word).expect("valid search"), None);
            ask.limit = 4;
            let mut seen = Vec::new();
            loop {
                let page = store.search_sliced(&ask, 7).await.expect("search");
                assert!(page.messages.len() <= 4);
                seen.extend(page.messages.iter().map(|m| m.id));
                match page.next {
                    Some(next) => ask.before = Some(next),
                    None => break,
                }
            }
            let newest_first: Vec<_> = posted.iter().rev().filter(|m| m.content.contains(word)).map(|m| m.id).collect();
            assert_eq!(seen.len(), want, "{word}");
            assert_eq!(seen, newest_first, "{word}: every match once, newest first");
        }
        drop(store);
        drop(db);
    }
}
