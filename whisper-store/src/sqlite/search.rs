//! Search (protocol.md §16) over the FTS5 index that schema version 7
//! keeps: a [`SearchQuery`] as an FTS5 expression, and the query that walks
//! the index newest first, keeping to rooms the reader may read.

use std::fmt::Write as _;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use whisper_core::model::{RoomName, SearchQuery, Seq, UserId};
use whisper_core::store::{Search, SearchCursor, SearchPage};

use super::rows::{Decoder, add_reactions, corrupt, get_u64};

/// Matches newest first, from the index's row ids down: `CROSS JOIN` keeps
/// the index the outer loop, so a page stops after `?5` rows however many
/// messages match. A room is searched when the reader may read it, the
/// rule of `Access::may_enter`: public (visibility 0) and not banned
/// (standing -1), or a member (standing 1–3). `?4` keeps to one room.
const SEARCH: &str = "SELECT m.room, m.seq, m.id, m.user_id, m.name, coalesce(m.edited_content, m.content),
            m.client_id, m.created_at, m.reply_to, m.edited_at, m.deleted, m.principal, m.external_id, m.attachments,
            d.doc
     FROM search_words w
     CROSS JOIN search_docs d ON d.doc = w.rowid
     CROSS JOIN messages m ON m.room = d.room AND m.seq = d.seq
     CROSS JOIN rooms r ON r.name = d.room
     LEFT JOIN room_members rm ON rm.room = d.room AND rm.user_id = ?3
     WHERE search_words MATCH ?1 AND w.rowid < ?2 AND (?4 IS NULL OR d.room = ?4)
       AND CASE WHEN r.visibility = 0 THEN coalesce(rm.standing, 0) >= 0 ELSE coalesce(rm.standing, 0) > 0 END
     ORDER BY w.rowid DESC LIMIT ?5";

/// Gives a new message its search position.
const INSERT_DOC: &str = "INSERT INTO search_docs (room, seq) VALUES (?1, ?2)";
/// A message's search position and current text (`NULL` once deleted).
const SELECT_DOC: &str = "SELECT d.doc, CASE WHEN m.deleted THEN NULL ELSE coalesce(m.edited_content, m.content) END
     FROM search_docs d JOIN messages m ON m.room = d.room AND m.seq = d.seq WHERE d.room = ?1 AND d.seq = ?2";
const INSERT_WORDS: &str = "INSERT INTO search_words (rowid, body) VALUES (?1, ?2)";
const DELETE_WORDS: &str = "DELETE FROM search_words WHERE rowid = ?1";

/// The index changes a group of writes makes, applied after every request's
/// savepoint and before the group's COMMIT: in the same transaction, so
/// the index never disagrees with what a read shows.
///
/// Not in the savepoints, and not by trigger: FTS5 writes out its pending
/// terms whenever a savepoint (a trigger's statement included) is released,
/// which made a segment per message and cut ingest fivefold (measured:
/// 100k → 20k messages/s at 64 × 100, docs/performance.md). Queued here, a
/// group's terms go in as one segment.
#[derive(Debug, Default)]
pub(super) struct Reindex {
    /// New messages: `(room, seq, text)`.
    posted: Vec<(RoomName, Seq, Arc<str>)>,
    /// Messages edited or deleted: indexed again from their current text.
    changed: Vec<(RoomName, Seq)>,
}

/// How far a [`Reindex`] had got: what a request's rollback returns it to.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mark(usize, usize);

impl Reindex {
    pub(super) fn posted(&mut self, room: &RoomName, seq: Seq, text: &Arc<str>) {
        self.posted.push((room.clone(), seq, text.clone()));
    }

    pub(super) fn changed(&mut self, room: &RoomName, seq: Seq) {
        self.changed.push((room.clone(), seq));
    }

    pub(super) fn mark(&self) -> Mark {
        Mark(self.posted.len(), self.changed.len())
    }

    /// Forgets what was queued after `mark` (its request was rolled back).
    pub(super) fn rewind(&mut self, mark: Mark) {
        self.posted.truncate(mark.0);
        self.changed.truncate(mark.1);
    }

    /// Writes the queued changes, and empties the queue.
    pub(super) fn apply(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if self.posted.is_empty() && self.changed.is_empty() {
            return Ok(());
        }
        let mut insert_doc = conn.prepare_cached(INSERT_DOC)?;
        let mut insert_words = conn.prepare_cached(INSERT_WORDS)?;
        for (room, seq, text) in self.posted.drain(..) {
            insert_doc.execute(params![room.as_str(), super::rows::seq_param(seq)])?;
            insert_words.execute(params![conn.last_insert_rowid(), &*text])?;
        }
        let mut select_doc = conn.prepare_cached(SELECT_DOC)?;
        let mut delete_words = conn.prepare_cached(DELETE_WORDS)?;
        for (room, seq) in self.changed.drain(..) {
            let found: Option<(i64, Option<String>)> = select_doc
                .query_row(params![room.as_str(), super::rows::seq_param(seq)], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            // Deleting a row id not in the index is a no-op, so the same
            // message changed twice in a group is simply indexed again.
            if let Some((doc, text)) = found {
                delete_words.execute([doc])?;
                if let Some(text) = text {
                    insert_words.execute(params![doc, text])?;
                }
            }
        }
        Ok(())
    }
}

/// `query` in FTS5's syntax: each term a quoted string (a phrase when it
/// has more than one word), all of those to find, then `NOT` each to leave
/// out. A term's words are letters and digits only, so nothing in them
/// needs escaping and the expression always parses.
pub(super) fn fts5_expression(query: &SearchQuery) -> String {
    let mut expression = String::from("(");
    let quoted = |words: &[Box<str>]| format!("\"{}\"", words.join(" "));
    for (i, term) in query.terms().iter().filter(|t| !t.excluded).enumerate() {
        if i > 0 {
            expression.push_str(" AND ");
        }
        expression.push_str(&quoted(&term.words));
    }
    expression.push(')');
    for term in query.terms().iter().filter(|t| t.excluded) {
        let _ = write!(expression, " NOT {}", quoted(&term.words));
    }
    expression
}

pub(super) fn search(conn: &Connection, search: &Search) -> rusqlite::Result<SearchPage> {
    let limit = search.limit();
    let before = search.before.map_or(i64::MAX, |c| i64::try_from(c.0).unwrap_or(i64::MAX));
    let reader = search.reader.map(|u: UserId| u.as_uuid().hyphenated().to_string());
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    // The message rows and their reactions from one snapshot.
    let snapshot = conn.unchecked_transaction()?;
    let mut page = SearchPage::default();
    let mut more = false;
    {
        let mut stmt = conn.prepare_cached(SEARCH)?;
        let expression = fts5_expression(&search.query);
        let room = search.room.as_ref().map(RoomName::as_str);
        let mut rows = stmt.query(params![expression, before, reader, room, fetch])?;
        let mut decoder: Option<Decoder> = None;
        while let Some(row) = rows.next()? {
            if page.messages.len() == limit {
                // One more than the page: there is a next one.
                more = true;
                break;
            }
            let decoder = match &mut decoder {
                Some(decoder) => decoder,
                None => {
                    let room = RoomName::parse(row.get_ref(0)?.as_str()?).map_err(|e| corrupt(0, e))?;
                    decoder.insert(Decoder::new(room))
                }
            };
            page.messages.push(decoder.decode(row)?);
            page.next = Some(SearchCursor(get_u64(row, 14)?));
        }
    }
    if !more {
        page.next = None;
    }
    // Hits come from many rooms: each one's reactions by its own key range.
    for message in &mut page.messages {
        add_reactions(conn, std::slice::from_mut(message))?;
    }
    snapshot.commit()?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index is the outer loop and each of its rows finds the rest by
    /// primary key: a page costs its `limit` rows of the index, never a
    /// scan of messages or rooms.
    #[test]
    fn a_search_walks_the_index_newest_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = super::super::schema::open_writer(&dir.path().join("whisper.db")).expect("open");
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {SEARCH}")).expect("plan");
        let plan: Vec<String> = stmt
            .query_map(params!["\"x\"", 1, "u", "lobby", 5], |row| row.get(3))
            .expect("plan rows")
            .collect::<Result<_, _>>()
            .expect("plan");
        eprintln!("{}", plan.join("\n"));
        assert!(plan[0].starts_with("SCAN w VIRTUAL TABLE INDEX"), "{plan:?}");
        assert!(plan.iter().filter(|step| step.starts_with("SCAN")).count() == 1, "{plan:?}");
        assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "no sort: {plan:?}");
        for table in
            ["d USING INTEGER PRIMARY KEY", "m USING PRIMARY KEY", "r USING PRIMARY KEY", "rm USING PRIMARY KEY"]
        {
            assert!(plan.iter().any(|step| step.contains(table)), "{table}: {plan:?}");
        }
    }

    #[test]
    fn queries_become_fts5_expressions() {
        let query = SearchQuery::parse(r#"Deploy "friday night" -staging -"dry run""#).expect("valid search");
        assert_eq!(fts5_expression(&query), r#"("deploy" AND "friday night") NOT "staging" NOT "dry run""#);
    }
}
