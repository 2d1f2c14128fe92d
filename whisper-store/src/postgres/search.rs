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
/// or a member (standing 1–3). `$2` keeps to one room.
fn search_sql(query: &str, before: i64, fetch: i64) -> String {
    let query = query.replace('\'', "''");
    format!(
        "SELECT m.room, m.seq, m.id, m.user_id::text, m.name, \
                coalesce(m.edited_content, m.content), m.client_id, m.created_at, m.reply_to, m.edited_at, \
                m.deleted, m.principal, m.external_id, m.doc \
         FROM messages m \
         JOIN rooms r ON r.name = m.room \
         LEFT JOIN room_members rm ON rm.room = m.room AND rm.user_id = $1::text::uuid \
         WHERE m.search_words @@ websearch_to_tsquery('simple', '{query}') AND m.doc < {before} \
           AND ($2::text IS NULL OR m.room = $2::text) \
           AND CASE WHEN r.visibility = 0 THEN coalesce(rm.standing, 0) >= 0 ELSE coalesce(rm.standing, 0) > 0 END \
         ORDER BY m.doc DESC LIMIT {fetch}"
    )
}

/// The standing reactions of the messages at `(room, seq)` pairs, in the
/// order they were made: one probe of the primary key per message.
const REACTIONS_SQL: &str = "SELECT x.i, r.emoji, r.user_id::text \
     FROM UNNEST($1::text[], $2::int8[]) WITH ORDINALITY AS x(room, seq, i) \
     JOIN reactions r ON r.room = x.room AND r.target_seq = x.seq \
     ORDER BY x.i, r.seq";

impl PostgresStore {
    pub(super) async fn search_messages(&self, search: &Search) -> Result<SearchPage, StoreError> {
        let limit = search.limit();
        let query = search.query.to_string();
        let before = search.before.map_or(i64::MAX, |c| i64::try_from(c.0).unwrap_or(i64::MAX));
        let reader = search.reader.map(|u: UserId| u.to_string());
        let room = search.room.as_ref().map(|r| r.as_str());
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        // An unnamed statement, planned for its words each time.
        let sql = search_sql(&query, before, fetch);
        let rows = self.query_planned_each_time(&sql, &[&reader, &room], &[Type::TEXT, Type::TEXT]).await?;
        let more = rows.len() > limit;
        let mut page = SearchPage::default();
        for row in rows.iter().take(limit) {
            page.messages.push(decode_message(row)?);
            let doc: i64 = row.try_get(13).map_err(|e| decode_error(&e))?;
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
