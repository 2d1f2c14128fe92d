//! The tables, their migrations (versioned in `whisper_migrations`, run
//! under an advisory lock so several nodes may start at once), and the
//! administration of whole databases that tests and benchmarks use.

use std::str::FromStr;

use deadpool_postgres::Object;
use time::OffsetDateTime;
use tokio_postgres::NoTls;
use whisper_core::store::StoreError;

use super::CONNECT_TIMEOUT;
use super::error::{bounded, classify};
use super::rows::{decode_error, to_millis};

/// Key of the advisory lock that serialises migrations across nodes.
const MIGRATION_LOCK: i64 = 0x5768_6973_7065_7231; // "Whisper1"

/// The migrations, in order: `(version, SQL)`. Never edit one that shipped;
/// add the next version instead.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        r#"
    CREATE TABLE rooms (
        name            TEXT COLLATE "C" PRIMARY KEY,
        last_seq        BIGINT NOT NULL CHECK (last_seq >= 0),
        epoch           BIGINT NOT NULL,
        last_message_at BIGINT
    );
    CREATE TABLE messages (
        room       TEXT COLLATE "C" NOT NULL,
        seq        BIGINT NOT NULL,
        id         TEXT NOT NULL,
        user_id    UUID NOT NULL,
        name       TEXT NOT NULL,
        content    TEXT NOT NULL,
        client_id  TEXT,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (room, seq),
        UNIQUE (user_id, client_id)
    );
    "#,
    ),
    (
        2,
        // Read watermarks (protocol.md §12), one row per (user, room) that ever
        // marked anything; v1 data is untouched.
        r#"
    CREATE TABLE read_marks (
        user_id  UUID NOT NULL,
        room     TEXT COLLATE "C" NOT NULL,
        read_seq BIGINT NOT NULL CHECK (read_seq > 0),
        PRIMARY KEY (user_id, room)
    );
    "#,
    ),
    (
        3,
        // The timeline (protocol.md §13): edits, deletes and reactions in
        // `events`, in the same seq space as messages (both take their seq
        // from the room's row, locked until commit). A message keeps the
        // text as posted in `content` and its current state beside it;
        // `reactions` holds the standing reactions, `seq` being the event
        // that made each. v1 and v2 rows gain NULLs and `deleted = false`:
        // as posted.
        r#"
    ALTER TABLE messages ADD COLUMN reply_to TEXT,
        ADD COLUMN edited_content TEXT,
        ADD COLUMN edited_at BIGINT,
        ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false;
    CREATE UNIQUE INDEX messages_by_id ON messages (room, id);
    CREATE TABLE events (
        room       TEXT COLLATE "C" NOT NULL,
        seq        BIGINT NOT NULL,
        id         TEXT NOT NULL,
        target     TEXT NOT NULL,
        user_id    UUID NOT NULL,
        name       TEXT NOT NULL,
        kind       TEXT NOT NULL,
        content    TEXT,
        emoji      TEXT,
        reacted    BOOLEAN,
        count      BIGINT,
        client_id  TEXT,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (room, seq),
        UNIQUE (user_id, client_id)
    );
    CREATE INDEX events_by_target ON events (room, target);
    CREATE INDEX read_marks_by_room ON read_marks (room, read_seq DESC);
    CREATE TABLE reactions (
        room       TEXT COLLATE "C" NOT NULL,
        target_seq BIGINT NOT NULL,
        emoji      TEXT NOT NULL,
        user_id    UUID NOT NULL,
        seq        BIGINT NOT NULL,
        PRIMARY KEY (room, target_seq, emoji, user_id)
    );
    "#,
    ),
    // Accounts and their sign-in sessions (protocol.md §14), as in SQLite's
    // version 4: lower-cased email and name unique; sessions found by the
    // SHA-256 of their token, never by the token.
    (
        4,
        r#"
    CREATE TABLE accounts (
        user_id       UUID PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        name_key      TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at    BIGINT NOT NULL
    );
    CREATE TABLE auth_sessions (
        id           TEXT PRIMARY KEY,
        token_hash   BYTEA NOT NULL UNIQUE,
        user_id      UUID NOT NULL REFERENCES accounts (user_id) ON DELETE CASCADE,
        created_at   BIGINT NOT NULL,
        last_used_at BIGINT NOT NULL,
        expires_at   BIGINT NOT NULL,
        user_agent   TEXT
    );
    CREATE INDEX auth_sessions_by_user ON auth_sessions (user_id);
    "#,
    ),
    // Who posted each message beyond its id, as in SQLite's version 5: the
    // kind of identity (0 guest, the kind of every earlier message; 1
    // account, 2 bot, 3 external) and an external author's own id. A
    // constant default: PostgreSQL adds the columns without a rewrite.
    (
        5,
        r#"
    ALTER TABLE messages ADD COLUMN principal SMALLINT NOT NULL DEFAULT 0,
                         ADD COLUMN external_id TEXT;
    "#,
    ),
    // Rooms with members (protocol.md §15), as in SQLite's version 6: a
    // room's kind (0 public, 1 private, 2 direct), title and topic on its
    // row; each user's standing in `room_members` (the role's rank 1–3, -1
    // banned; a stranger has no row), read by primary key; a user's rooms
    // from `rooms_by_member`; public rooms paged from `public_rooms`
    // without stepping over private ones. A membership or title event
    // keeps its change as JSON in `detail` (its `target` is '').
    (
        6,
        r#"
    ALTER TABLE rooms ADD COLUMN visibility SMALLINT NOT NULL DEFAULT 0,
                      ADD COLUMN title TEXT,
                      ADD COLUMN topic TEXT NOT NULL DEFAULT '';
    CREATE INDEX public_rooms ON rooms (name) WHERE visibility = 0;
    ALTER TABLE events ADD COLUMN detail TEXT;
    CREATE TABLE room_members (
        room     TEXT COLLATE "C" NOT NULL,
        user_id  UUID NOT NULL,
        name     TEXT NOT NULL,
        standing SMALLINT NOT NULL,
        PRIMARY KEY (room, user_id)
    );
    CREATE INDEX rooms_by_member ON room_members (user_id, room) WHERE standing > 0;
    "#,
    ),
    // Search (protocol.md §16). `search_words` is a message's current
    // text as a tsvector, NULL once deleted, written with the message and
    // by every edit and delete, in their transaction. The writer hands
    // PostgreSQL the words core sees (`whisper_core::model::index_text`:
    // lower-cased, one space apart), so the `simple` configuration indexes
    // the same words on every locale. `doc` numbers messages in the order
    // stored: a search walks matches by descending `doc`, newest first.
    // Earlier messages are numbered in the order of their ids and indexed
    // by PostgreSQL's own parser. The GIN index takes new entries into its
    // pending list, which every search reads through: 512 kB rather than
    // the default 4 MB keeps that read under a millisecond (measured: a
    // search for a word nobody wrote took 13 ms over a full 4 MB list),
    // at the price of merging the list into the index eight times as often.
    (
        7,
        r#"
    ALTER TABLE messages ADD COLUMN doc BIGINT GENERATED BY DEFAULT AS IDENTITY,
                         ADD COLUMN search_words tsvector;
    UPDATE messages m SET doc = o.doc,
        search_words = CASE WHEN m.deleted THEN NULL
                            ELSE to_tsvector('simple', lower(coalesce(m.edited_content, m.content))) END
        FROM (SELECT room, seq, row_number() OVER (ORDER BY id) AS doc FROM messages) o
        WHERE m.room = o.room AND m.seq = o.seq;
    SELECT setval(pg_get_serial_sequence('messages', 'doc'), coalesce(max(doc), 0) + 1, false) FROM messages;
    CREATE UNIQUE INDEX messages_by_doc ON messages (doc);
    CREATE INDEX messages_search ON messages USING gin (search_words) WITH (gin_pending_list_limit = 512);
    "#,
    ),
    // Files (protocol.md §17). A message keeps its attachments' metadata
    // as JSON text (immutable, read with the message); `message_files` says
    // which live messages carry which file, for who may read it; `refs`
    // counts them, so the files nothing references are a range of one
    // partial index for the sweep. `file_chunks` holds the bytes when the
    // server keeps files in PostgreSQL (`PostgresFiles`): 256 KiB a row,
    // stored uncompressed (images and archives are compressed already).
    (
        8,
        r#"
    ALTER TABLE messages ADD COLUMN attachments TEXT;
    CREATE TABLE files (
        id           TEXT    PRIMARY KEY,
        uploader     UUID    NOT NULL,
        name         TEXT    NOT NULL,
        type         TEXT    NOT NULL,
        size         BIGINT  NOT NULL,
        width        INTEGER,
        height       INTEGER,
        thumb_width  INTEGER,
        thumb_height INTEGER,
        thumb_type   TEXT,
        thumb_size   BIGINT,
        uploaded_at  BIGINT  NOT NULL,
        posted       BOOLEAN NOT NULL DEFAULT false,
        refs         INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX files_unreferenced ON files (posted, uploaded_at) WHERE refs = 0;
    CREATE TABLE message_files (
        file TEXT   NOT NULL,
        room TEXT   NOT NULL,
        seq  BIGINT NOT NULL,
        PRIMARY KEY (file, room, seq)
    );
    CREATE INDEX message_files_by_message ON message_files (room, seq);
    CREATE TABLE file_chunks (
        key  TEXT    NOT NULL,
        n    INTEGER NOT NULL,
        data BYTEA   NOT NULL,
        PRIMARY KEY (key, n)
    );
    ALTER TABLE file_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
    "#,
    ),
];

/// Runs the migrations not yet applied, under an advisory lock held until
/// the transaction ends, so nodes starting together migrate once.
pub(super) async fn migrate(client: &mut Object, schema: Option<&str>) -> Result<(), StoreError> {
    let latest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    let tx = client.transaction().await.map_err(|e| classify(&e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(|e| classify(&e))?;
    // `IF NOT EXISTS` on an existing table is a NOTICE that the driver logs
    // at INFO on every start; this transaction keeps only warnings.
    tx.batch_execute("SET LOCAL client_min_messages = warning").await.map_err(|e| classify(&e))?;
    if let Some(schema) = schema {
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await.map_err(|e| classify(&e))?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS whisper_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await
    .map_err(|e| classify(&e))?;
    let current: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM whisper_migrations", &[])
        .await
        .map_err(|e| classify(&e))?
        .try_get(0)
        .map_err(|e| decode_error(&e))?;
    if current > latest {
        // A newer server migrated this database; an older one must not write
        // to a schema it does not know.
        return Err(StoreError::Internal(format!(
            "the database is at schema version {current}, newer than this server's {latest}"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).await.map_err(|e| classify(&e))?;
        tx.execute(
            "INSERT INTO whisper_migrations (version, applied_at) VALUES ($1, $2)",
            &[version, &to_millis(OffsetDateTime::now_utc())],
        )
        .await
        .map_err(|e| classify(&e))?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    tx.commit().await.map_err(|e| classify(&e))
}

/// Runs one administrative statement on its own connection to `url`.
pub(super) async fn admin(url: &str, sql: &str) -> Result<(), StoreError> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| StoreError::Internal(format!("invalid database URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    bounded(async {
        let (client, connection) = config.connect(NoTls).await.map_err(|e| classify(&e))?;
        let driver = tokio::spawn(connection);
        let result = client.batch_execute(sql).await.map_err(|e| classify(&e));
        drop(client);
        // The connection ends once the client is gone; its own error, if
        // any, adds nothing to the statement's.
        let _ = driver.await;
        result
    })
    .await
}

/// `url` with its database replaced by `name`.
pub(super) fn with_database(url: &str, name: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        // A `key=value` string: a later key overrides an earlier one.
        return format!("{url} dbname={name}");
    };
    let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
    let authority_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..authority_end])
}

/// Checks that `name` is a plain lowercase identifier, safe to splice into
/// SQL between double quotes.
pub(super) fn identifier(name: &str) -> Result<&str, StoreError> {
    let mut bytes = name.bytes();
    let valid = name.len() <= 63
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(name)
    } else {
        Err(StoreError::Internal(format!("{name:?} is not a valid name: use [a-z_][a-z0-9_]*, at most 63 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_in_urls() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(
            with_database("postgres://u@h:5432/test?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgresql://u@h", "x"), "postgresql://u@h/x");
        assert_eq!(with_database("postgres://u@h?application_name=a", "x"), "postgres://u@h/x?application_name=a");
        assert_eq!(with_database("host=h user=u dbname=test", "x"), "host=h user=u dbname=test dbname=x");
    }

    #[test]
    fn identifiers() {
        assert!(identifier("whisper_test_0af3").is_ok());
        assert!(identifier("_x").is_ok());
        for bad in ["", "1abc", "Abc", "a-b", "a\"b", "a b", &"a".repeat(64)] {
            assert!(identifier(bad).is_err(), "{bad:?}");
        }
    }
}
