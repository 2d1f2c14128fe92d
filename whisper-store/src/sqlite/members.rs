//! Rooms with members in SQLite (protocol.md §15): creating a room, a
//! membership or title change checked by the core's rules against the rows
//! its transaction reads, and the reads of standings, members and a user's
//! rooms. The writer calls the write side inside a request's savepoint.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use whisper_core::model::{
    Access, Change, DisplayName, Event, NewEvent, Role, RoomName, RoomProfile, RoomTitle, Seq, Standing, Topic, UserId,
    Visibility,
};
use whisper_core::store::rules::{self, RoomFacts};
use whisper_core::store::{Applied, MemberRoomsPage, NewRoom, RoomInfo};

use super::rows::{Head, corrupt, from_unix_millis, seq_param, unix_millis};
use super::writer::{INSERT_EVENT, Statements, head_mut};

/// A room's kind, title and topic.
const SELECT_PROFILE: &str = "SELECT visibility, title, topic FROM rooms WHERE name = ?1";
/// One user's standing in one room: a primary-key lookup.
const SELECT_STANDING: &str = "SELECT standing FROM room_members WHERE room = ?1 AND user_id = ?2";
/// Stores or changes a standing.
const UPSERT_STANDING: &str = "INSERT INTO room_members (room, user_id, name, standing) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (room, user_id) DO UPDATE SET name = excluded.name, standing = excluded.standing";
/// A page of a user's rooms: a range of `rooms_by_member`, each joined to
/// its head by primary key.
pub(super) const SELECT_MEMBER_ROOMS: &str =
    "SELECT r.name, r.last_seq, r.epoch, r.last_message_at, r.visibility, r.title, r.topic, m.standing
     FROM room_members m JOIN rooms r ON r.name = m.room
     WHERE m.user_id = ?1 AND m.standing > 0 AND m.room > ?2 ORDER BY m.room LIMIT ?3";

fn user_text(user: UserId) -> String {
    user.as_uuid().hyphenated().to_string()
}

/// Reads `visibility, title, topic` starting at column `first`.
pub(super) fn profile_from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<RoomProfile> {
    let code: i64 = row.get(first)?;
    let visibility = u8::try_from(code)
        .ok()
        .and_then(Visibility::from_code)
        .ok_or_else(|| corrupt(first, format!("visibility {code}")))?;
    let title = match row.get::<_, Option<String>>(first + 1)? {
        Some(t) => Some(RoomTitle::parse(&t).map_err(|e| corrupt(first + 1, e))?),
        None => None,
    };
    let topic = Topic::parse(row.get_ref(first + 2)?.as_str()?).map_err(|e| corrupt(first + 2, e))?;
    Ok(RoomProfile { visibility, title, topic })
}

fn standing_of(conn: &Connection, room: &RoomName, user: &str) -> rusqlite::Result<Standing> {
    let code: Option<i64> =
        conn.prepare_cached(SELECT_STANDING)?.query_row(params![room.as_str(), user], |row| row.get(0)).optional()?;
    match code {
        None => Ok(Standing::Stranger),
        Some(code) => Standing::from_code(code).ok_or_else(|| corrupt(0, format!("standing {code}"))),
    }
}

/// What `user` may do in `room` (reader side).
pub(super) fn access(conn: &Connection, room: &RoomName, user: UserId) -> rusqlite::Result<Access> {
    let profile = conn
        .prepare_cached(SELECT_PROFILE)?
        .query_row([room.as_str()], |row| profile_from_row(row, 0))
        .optional()?
        .unwrap_or_default();
    Ok(Access { visibility: profile.visibility, standing: standing_of(conn, room, &user_text(user))? })
}

/// Members (or the banned) of `room` by user id after `after`.
pub(super) fn members(
    conn: &Connection,
    room: &RoomName,
    banned: bool,
    after: Option<UserId>,
    limit: usize,
) -> rusqlite::Result<Vec<(UserId, DisplayName, Standing)>> {
    let sql = if banned {
        "SELECT user_id, name, standing FROM room_members
         WHERE room = ?1 AND user_id > ?2 AND standing < 0 ORDER BY user_id LIMIT ?3"
    } else {
        "SELECT user_id, name, standing FROM room_members
         WHERE room = ?1 AND user_id > ?2 AND standing > 0 ORDER BY user_id LIMIT ?3"
    };
    let after = after.map(user_text).unwrap_or_default();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![room.as_str(), after, limit], |row| {
        let user = UserId::parse(row.get_ref(0)?.as_str()?).map_err(|e| corrupt(0, e))?;
        let name = DisplayName::parse(row.get_ref(1)?.as_str()?).map_err(|e| corrupt(1, e))?;
        let code: i64 = row.get(2)?;
        let standing = Standing::from_code(code).ok_or_else(|| corrupt(2, format!("standing {code}")))?;
        Ok((user, name, standing))
    })?;
    rows.collect()
}

/// A page of the rooms `user` is a member of, by name after `after`.
pub(super) fn member_rooms(
    conn: &Connection,
    user: UserId,
    after: Option<&RoomName>,
    limit: usize,
) -> rusqlite::Result<MemberRoomsPage> {
    let after = after.map_or_else(String::new, |r| r.as_str().to_owned());
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(SELECT_MEMBER_ROOMS)?;
    let rows = stmt.query_map(params![user_text(user), after, fetch], |row| {
        let name = RoomName::parse(row.get_ref(0)?.as_str()?).map_err(|e| corrupt(0, e))?;
        let mut info = Head::from_row(row, 1)?.info(name);
        info.profile = profile_from_row(row, 4)?;
        let code: i64 = row.get(7)?;
        let role = u8::try_from(code).ok().and_then(Role::from_rank).ok_or_else(|| corrupt(7, "not a role"))?;
        Ok((info, role))
    })?;
    let mut rooms: Vec<(RoomInfo, Role)> = rows.collect::<rusqlite::Result<_>>()?;
    let has_more = rooms.len() > limit;
    rooms.truncate(limit);
    Ok(MemberRoomsPage { rooms, has_more })
}

/// Stores a room's first events, its head row with its profile and its
/// members' standings; `None` when the room has a log already.
pub(super) fn create_room(
    conn: &Connection,
    stmts: &mut Statements<'_>,
    heads: &mut HashMap<RoomName, Head>,
    dirty: &mut HashMap<RoomName, Head>,
    undo: &mut Vec<(RoomName, Option<Head>)>,
    room: NewRoom,
) -> rusqlite::Result<Option<Vec<Event>>> {
    let head = head_mut(stmts.head(), heads, dirty, undo, &room.name)?;
    if head.last_seq > Seq::ZERO {
        return Ok(None);
    }
    let mut events = room.events();
    head.last_seq = Seq(events.len() as u64);
    let (epoch, created_at) = (head.epoch.0 as i64, unix_millis(room.created_at));
    conn.prepare_cached(
        "INSERT INTO rooms (name, last_seq, epoch, last_message_at, visibility, title, topic)
         VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
    )?
    .execute(params![
        room.name.as_str(),
        seq_param(head.last_seq),
        epoch,
        room.profile.visibility.code(),
        room.profile.title.as_ref().map(RoomTitle::as_str),
        room.profile.topic.as_str(),
    ])?;
    for event in &mut events {
        event.created_at = from_unix_millis(0, created_at)?;
        insert_room_event(conn, event)?;
        follow(conn, event)?;
    }
    Ok(Some(events))
}

/// A membership or title change: the room's facts as this transaction
/// reads them, the core's rules, then the event and the rows it changes.
pub(super) fn apply_room_change(
    conn: &Connection,
    stmts: &mut Statements<'_>,
    heads: &mut HashMap<RoomName, Head>,
    dirty: &mut HashMap<RoomName, Head>,
    undo: &mut Vec<(RoomName, Option<Head>)>,
    new: NewEvent,
) -> rusqlite::Result<Applied> {
    let profile = conn
        .prepare_cached(SELECT_PROFILE)?
        .query_row([new.room.as_str()], |row| profile_from_row(row, 0))
        .optional()?;
    let Some(profile) = profile else { return Ok(Applied::Refused(rules::no_room(&new))) };
    let actor = user_text(new.user_id);
    let subject = match &new.request {
        whisper_core::model::Request::Member { member, .. } => user_text(*member),
        _ => actor.clone(),
    };
    let (owners, members): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE standing = 3), count(*) FILTER (WHERE standing > 0)
             FROM room_members WHERE room = ?1",
        )?
        .query_row([new.room.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let facts = RoomFacts {
        profile,
        actor: standing_of(conn, &new.room, &actor)?,
        subject: standing_of(conn, &new.room, &subject)?,
        owners: owners as u64,
        members: members as u64,
    };
    let change = match rules::decide(&new.request, new.user_id, &facts) {
        Ok(change) => change,
        Err(why) => return Ok(Applied::Refused(why)),
    };
    let head = head_mut(stmts.head(), heads, dirty, undo, &new.room)?;
    let seq = head.last_seq.next();
    head.last_seq = seq;
    let created_at = unix_millis(new.created_at);
    let mut event = new.stored_as(seq, change);
    event.created_at = from_unix_millis(0, created_at)?;
    insert_room_event(conn, &event)?;
    follow(conn, &event)?;
    Ok(Applied::Stored(event))
}

/// Stores a `member` or `room` event: its change as JSON in `detail`.
fn insert_room_event(conn: &Connection, event: &Event) -> rusqlite::Result<()> {
    let detail = serde_json::to_string(&event.change).map_err(|e| corrupt(0, e))?;
    conn.prepare_cached(INSERT_EVENT)?.execute(params![
        event.room.as_str(),
        seq_param(event.seq),
        event.id.to_string(),
        "",
        user_text(event.user_id),
        event.name.as_str(),
        event.change.kind(),
        None::<&str>,
        None::<&str>,
        None::<i64>,
        None::<i64>,
        event.client_id.as_ref().map(whisper_core::model::ClientId::as_str),
        unix_millis(event.created_at),
        detail,
    ])?;
    Ok(())
}

/// Makes the rows say what a stored `member` or `room` event says.
fn follow(conn: &Connection, event: &Event) -> rusqlite::Result<()> {
    match &event.change {
        Change::Room { title, topic, created: false, .. } => {
            conn.prepare_cached("UPDATE rooms SET title = ?2, topic = ?3 WHERE name = ?1")?.execute(params![
                event.room.as_str(),
                title.as_ref().map(RoomTitle::as_str),
                topic.as_str()
            ])?;
        }
        Change::Member { member_name, .. } => {
            if let Some((user, standing)) = rules::standing_after(&event.change) {
                if standing == Standing::Stranger {
                    conn.prepare_cached("DELETE FROM room_members WHERE room = ?1 AND user_id = ?2")?
                        .execute(params![event.room.as_str(), user_text(user)])?;
                } else {
                    conn.prepare_cached(UPSERT_STANDING)?.execute(params![
                        event.room.as_str(),
                        user_text(user),
                        member_name.as_str(),
                        standing.code()
                    ])?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Decodes a `member` or `room` event's change from its `detail` column.
pub(super) fn decode_detail(column: usize, detail: &str) -> rusqlite::Result<Change> {
    serde_json::from_str(detail).map_err(|e| corrupt(column, e))
}
