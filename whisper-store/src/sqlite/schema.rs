//! The file's schema and how a file is opened for writing: the pragmas that
//! make an acknowledged append durable, and the migrations, versioned by
//! `PRAGMA user_version`, that bring any older file up to date.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use whisper_core::store::StoreError;

use super::error::store_error;

/// How long a statement waits for a lock held by another connection before
/// failing with `Unavailable`.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, one step per version (see the module docs). Never edit a
/// released step: add a new one.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    //
    // `messages` is clustered by (room, seq) (WITHOUT ROWID): appending is an
    // insert at the end of the room's range, and a page of history is one
    // contiguous range scan. Ids and user ids are stored as their canonical
    // text so the file reads well in the `sqlite3` shell. `created_at` is
    // Unix milliseconds: a message's time is truncated to milliseconds, so it
    // round-trips exactly. The partial unique index enforces idempotent resend
    // (protocol.md §7) and finds the original of a resend.
    //
    // `rooms` holds each room's head, so a room's latest seq is one lookup and
    // rooms are listed without scanning messages. No foreign key from
    // `messages` to `rooms`: the writer maintains both in one transaction and
    // a per-insert check would only cost time.
    "CREATE TABLE rooms (
        name            TEXT    NOT NULL PRIMARY KEY,
        last_seq        INTEGER NOT NULL,
        epoch           INTEGER NOT NULL,
        last_message_at INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE messages (
        room       TEXT    NOT NULL,
        seq        INTEGER NOT NULL,
        id         TEXT    NOT NULL,
        user_id    TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        content    TEXT    NOT NULL,
        client_id  TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX messages_by_client_id ON messages (user_id, client_id) WHERE client_id IS NOT NULL;",
    // Version 2: read watermarks (protocol.md §12), one row per (user, room)
    // that ever marked anything. A v1 file gains the table and keeps every
    // message as it was.
    "CREATE TABLE read_marks (
        user_id  TEXT    NOT NULL,
        room     TEXT    NOT NULL,
        read_seq INTEGER NOT NULL,
        PRIMARY KEY (user_id, room)
    ) WITHOUT ROWID;",
    // Version 3: the timeline (protocol.md §13). Edits, deletes and
    // reactions are rows of `events`, clustered by (room, seq) like
    // messages and in the same seq space (the writer takes both from the
    // room's head). A message row keeps the text as posted in `content`
    // and its current state beside it: `edited_content` and `edited_at`
    // after an edit, `deleted` (with every text of it erased) after a
    // delete. `reactions` holds the standing reactions, one row per
    // (message, emoji, user), `seq` being the event that made it, so a page
    // of history gets its reactions with one range scan. `messages_by_id`
    // finds an event's target (ULIDs grow, so inserts land at its right
    // edge); `events_by_target` finds the edits a delete must erase;
    // `read_marks_by_room` gives a joining reader the room's highest marks.
    //
    // A v1 or v2 file gains the columns (NULL, and `deleted` 0: as posted)
    // and the tables, and keeps every message as it was.
    "ALTER TABLE messages ADD COLUMN reply_to TEXT;
    ALTER TABLE messages ADD COLUMN edited_content TEXT;
    ALTER TABLE messages ADD COLUMN edited_at INTEGER;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    CREATE UNIQUE INDEX messages_by_id ON messages (room, id);
    CREATE TABLE events (
        room       TEXT    NOT NULL,
        seq        INTEGER NOT NULL,
        id         TEXT    NOT NULL,
        target     TEXT    NOT NULL,
        user_id    TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        kind       TEXT    NOT NULL,
        content    TEXT,
        emoji      TEXT,
        reacted    INTEGER,
        count      INTEGER,
        client_id  TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX events_by_client_id ON events (user_id, client_id) WHERE client_id IS NOT NULL;
    CREATE INDEX events_by_target ON events (room, target);
    CREATE INDEX read_marks_by_room ON read_marks (room, read_seq);
    CREATE TABLE reactions (
        room       TEXT    NOT NULL,
        target_seq INTEGER NOT NULL,
        emoji      TEXT    NOT NULL,
        user_id    TEXT    NOT NULL,
        seq        INTEGER NOT NULL,
        PRIMARY KEY (room, target_seq, emoji, user_id)
    ) WITHOUT ROWID;",
    // Version 4: accounts and their sign-in sessions (protocol.md §14).
    // `email` and `name_key` are the lower-cased email and name, unique, so
    // that neither can be registered twice in another case. A session is
    // found by the SHA-256 of its token: the token itself is never stored.
    "CREATE TABLE accounts (
        user_id       TEXT    NOT NULL PRIMARY KEY,
        email         TEXT    NOT NULL UNIQUE,
        name          TEXT    NOT NULL,
        name_key      TEXT    NOT NULL UNIQUE,
        password_hash TEXT    NOT NULL,
        created_at    INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE auth_sessions (
        id           TEXT    NOT NULL PRIMARY KEY,
        token_hash   BLOB    NOT NULL UNIQUE,
        user_id      TEXT    NOT NULL REFERENCES accounts (user_id) ON DELETE CASCADE,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        user_agent   TEXT
    ) WITHOUT ROWID;
    CREATE INDEX auth_sessions_by_user ON auth_sessions (user_id);",
    // Version 5: who posted each message beyond its id (protocol.md §14):
    // the kind of identity (0 guest, 1 account, 2 bot, 3 external; every
    // earlier message was a guest's) and an external author's own id. A
    // constant default: SQLite adds the columns without rewriting a row.
    "ALTER TABLE messages ADD COLUMN principal INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN external_id TEXT;",
    // Version 6: rooms with members (protocol.md §15). A room's kind (0
    // public, 1 private, 2 direct), title and topic live on its head row;
    // every earlier room is public, untitled. `room_members` holds each
    // user's standing in a room (the role's rank 1–3, or -1 banned; a
    // stranger has no row): `access` is one primary-key lookup,
    // `rooms_by_member` lists a user's rooms from an index range, and
    // `public_rooms` lets `GET /v1/rooms` page public rooms without
    // stepping over private ones. A membership or title event keeps its
    // change as JSON in `detail` (its `target` is '').
    "ALTER TABLE rooms ADD COLUMN visibility INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rooms ADD COLUMN title TEXT;
    ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT '';
    CREATE INDEX public_rooms ON rooms (name) WHERE visibility = 0;
    ALTER TABLE events ADD COLUMN detail TEXT;
    CREATE TABLE room_members (
        room     TEXT    NOT NULL,
        user_id  TEXT    NOT NULL,
        name     TEXT    NOT NULL,
        standing INTEGER NOT NULL,
        PRIMARY KEY (room, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX rooms_by_member ON room_members (user_id, room) WHERE standing > 0;",
    // Version 7: search (protocol.md §16). `search_words` is an FTS5 index
    // of every message's current text; it keeps no copy of the text
    // (contentless) and its rows can be deleted. FTS5 wants integer row
    // ids and messages are clustered by (room, seq), so `search_docs` gives
    // each message one: assigned as messages are stored, so walking the
    // index by descending row id is newest first. The writer changes both
    // in the transaction of the write, after the requests' savepoints (see
    // `search::Reindex`). The tokenizer is `unicode61` with its default
    // categories (letters, digits, private use) and diacritics kept: the
    // words of `whisper_core::model::words`.
    //
    // A file from before gains the index of its messages, oldest first.
    "CREATE TABLE search_docs (
        doc  INTEGER PRIMARY KEY,
        room TEXT    NOT NULL,
        seq  INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX search_docs_by_message ON search_docs (room, seq);
    CREATE VIRTUAL TABLE search_words USING fts5(
        body, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0'
    );
    INSERT INTO search_docs (room, seq) SELECT room, seq FROM messages ORDER BY created_at, id;
    INSERT INTO search_words (rowid, body)
        SELECT d.doc, coalesce(m.edited_content, m.content)
        FROM search_docs d JOIN messages m ON m.room = d.room AND m.seq = d.seq
        WHERE m.deleted = 0;",
    // 8: files (protocol.md §17). A message keeps its attachments' metadata
    // as JSON (immutable, read with the message, so no join per read);
    // `message_files` says which live messages carry which file, for who
    // may read it; `refs` counts them, so the files nothing references are
    // a range of one partial index for the sweep. The bytes live outside
    // the database (a `FileStore`).
    "ALTER TABLE messages ADD COLUMN attachments TEXT;
    CREATE TABLE files (
        id           TEXT    PRIMARY KEY,
        uploader     TEXT    NOT NULL,
        name         TEXT    NOT NULL,
        type         TEXT    NOT NULL,
        size         INTEGER NOT NULL,
        width        INTEGER,
        height       INTEGER,
        thumb_width  INTEGER,
        thumb_height INTEGER,
        thumb_type   TEXT,
        thumb_size   INTEGER,
        uploaded_at  INTEGER NOT NULL,
        posted       INTEGER NOT NULL DEFAULT 0,
        refs         INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX files_unreferenced ON files (posted, uploaded_at) WHERE refs = 0;
    CREATE TABLE message_files (
        file TEXT    NOT NULL,
        room TEXT    NOT NULL,
        seq  INTEGER NOT NULL,
        PRIMARY KEY (file, room, seq)
    ) WITHOUT ROWID;
    CREATE INDEX message_files_by_message ON message_files (room, seq);",
];

/// Opens the write connection: WAL, `synchronous=FULL`, schema up to date.
pub(super) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut conn = Connection::open(path).map_err(store_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(store_error)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(store_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!("{}: SQLite cannot use WAL here (got {mode})", path.display())));
    }
    conn.execute_batch(
        // FULL: a commit syncs the WAL, so an ack survives a power cut, not
        // just a crash of the process (NORMAL would).
        "PRAGMA synchronous = FULL;
         -- Checkpoint every ~40 MiB of WAL rather than SQLite's 4 MiB: the
         -- pages every commit rewrites (b-tree interiors, room heads, the
         -- tails of busy rooms) are copied into the file once per checkpoint,
         -- not once per few commits, and the WAL's blocks are reused rather
         -- than reallocated. Measured: about 3x shorter commits under load
         -- (benches/benches/ingest_sqlite.rs).
         PRAGMA wal_autocheckpoint = 10000;
         -- After a checkpoint, shrink a WAL that a burst grew past 64 MiB.
         PRAGMA journal_size_limit = 67108864;
         -- A request's savepoint keeps the pages it changes in a
         -- sub-journal, which SQLite spills to a temporary file past 64 KiB
         -- (a batch of 100 messages). In memory it is at most a few hundred
         -- KiB per request.
         PRAGMA temp_store = MEMORY;
         -- 32 MiB of page cache for the writer: the tails of the hot rooms
         -- and of the client id index stay in memory.
         PRAGMA cache_size = -32768;",
    )
    .map_err(store_error)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Applies the missing [`MIGRATIONS`] in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // IMMEDIATE: two processes opening a fresh file at once do not both
    // migrate it; the second sees the first one's version.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_error)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(store_error)?;
    let from = usize::try_from(version).ok().filter(|v| *v <= MIGRATIONS.len()).ok_or_else(|| {
        StoreError::Internal(format!(
            "database schema version {version} is not one this server knows (1..={}); is it from a newer version?",
            MIGRATIONS.len()
        ))
    })?;
    if from == MIGRATIONS.len() {
        return Ok(());
    }
    for step in &MIGRATIONS[from..] {
        tx.execute_batch(step).map_err(store_error)?;
    }
    // `user_version` lives in the file header and is part of the transaction.
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64).map_err(store_error)?;
    tx.commit().map_err(store_error)?;
    tracing::info!(from, to = MIGRATIONS.len(), "SQLite schema migrated");
    Ok(())
}
