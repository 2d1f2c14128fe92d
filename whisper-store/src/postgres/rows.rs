//! Rows and messages: decoding `messages` and `rooms` rows (checked, so bad
//! data is an error, never a wrong message) and the integer forms of times,
//! seqs and epochs that the tables store.

use time::OffsetDateTime;
use tokio_postgres::Row;
use whisper_core::model::{
    Change, ClientId, DisplayName, Emoji, Epoch, Event, ExternalId, Message, MessageId, PrincipalKind, RoomName,
    RoomProfile, RoomTitle, Seq, Topic, UserId, Visibility,
};
use whisper_core::store::{RoomInfo, StoreError};

use super::error::describe;

pub(super) fn decode_error(e: &tokio_postgres::Error) -> StoreError {
    StoreError::Internal(format!("unexpected data from PostgreSQL: {}", describe(e)))
}

pub(super) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("stored {what} {value:?} is invalid"))
}

/// Reads a message from columns `room, seq, id, user_id::text, name,
/// content, client_id, created_at, reply_to, edited_at, deleted, principal,
/// external_id, attachments` (its reactions are read apart).
pub(super) fn decode_message(row: &Row) -> Result<Message, StoreError> {
    let text = |i: usize| row.try_get::<_, &str>(i).map_err(|e| decode_error(&e));
    let room = text(0)?;
    let seq: i64 = row.try_get(1).map_err(|e| decode_error(&e))?;
    let id = text(2)?;
    let user = text(3)?;
    let name = text(4)?;
    let content = text(5)?;
    let client_id: Option<&str> = row.try_get(6).map_err(|e| decode_error(&e))?;
    let created_at: i64 = row.try_get(7).map_err(|e| decode_error(&e))?;
    let reply_to: Option<&str> = row.try_get(8).map_err(|e| decode_error(&e))?;
    let edited_at: Option<i64> = row.try_get(9).map_err(|e| decode_error(&e))?;
    let deleted: bool = row.try_get(10).map_err(|e| decode_error(&e))?;
    let principal: i16 = row.try_get(11).map_err(|e| decode_error(&e))?;
    let external_id: Option<&str> = row.try_get(12).map_err(|e| decode_error(&e))?;
    let attachments: Option<&str> = row.try_get(13).map_err(|e| decode_error(&e))?;
    Ok(Message {
        id: MessageId::parse(id).map_err(|_| corrupt("message id", id))?,
        room: RoomName::parse(room).map_err(|_| corrupt("room name", room))?,
        seq: Seq(u64::try_from(seq).map_err(|_| corrupt("seq", &seq.to_string()))?),
        user_id: UserId::parse(user).map_err(|_| corrupt("user id", user))?,
        name: DisplayName::parse(name).map_err(|_| corrupt("display name", name))?,
        principal: PrincipalKind::from_code(principal.into()),
        external_id: external_id.map(|x| ExternalId::parse(x).map_err(|_| corrupt("external id", x))).transpose()?,
        content: content.into(),
        client_id: client_id.map(|c| ClientId::parse(c).map_err(|_| corrupt("client id", c))).transpose()?,
        created_at: from_millis(created_at)?,
        reply_to: reply_to.map(|r| MessageId::parse(r).map_err(|_| corrupt("reply_to", r))).transpose()?,
        edited_at: edited_at.map(from_millis).transpose()?,
        deleted,
        reactions: Vec::new(),
        attachments: match attachments {
            Some(json) => serde_json::from_str(json).map_err(|_| corrupt("attachments", json))?,
            None => Vec::new(),
        },
    })
}

/// Reads an event from columns `room, seq, id, target, user_id::text, name,
/// kind, content, emoji, reacted, count, client_id, created_at`, starting at
/// column `at`.
pub(super) fn decode_event(row: &Row, at: usize) -> Result<Event, StoreError> {
    let text = |i: usize| row.try_get::<_, &str>(at + i).map_err(|e| decode_error(&e));
    let maybe = |i: usize| row.try_get::<_, Option<&str>>(at + i).map_err(|e| decode_error(&e));
    let int = |i: usize| row.try_get::<_, i64>(at + i).map_err(|e| decode_error(&e));
    let (room, id, target, user, name, kind) = (text(0)?, text(2)?, text(3)?, text(4)?, text(5)?, text(6)?);
    let seq = int(1)?;
    let change = match kind {
        "edit" => Change::Edit { content: maybe(7)?.unwrap_or_default().into() },
        "delete" => Change::Delete,
        "reaction" => {
            let emoji = maybe(8)?.unwrap_or_default();
            let on: Option<bool> = row.try_get(at + 9).map_err(|e| decode_error(&e))?;
            let count: Option<i64> = row.try_get(at + 10).map_err(|e| decode_error(&e))?;
            Change::Reaction {
                emoji: Emoji::parse(emoji).map_err(|_| corrupt("emoji", emoji))?,
                on: on.unwrap_or(false),
                count: count.and_then(|c| u32::try_from(c).ok()).ok_or_else(|| corrupt("count", "?"))?,
            }
        }
        "member" | "room" => {
            let detail = maybe(13)?.unwrap_or_default();
            serde_json::from_str(detail).map_err(|_| corrupt("event detail", detail))?
        }
        other => return Err(corrupt("event kind", other)),
    };
    let client_id = maybe(11)?;
    Ok(Event {
        seq: Seq(u64::try_from(seq).map_err(|_| corrupt("seq", &seq.to_string()))?),
        id: MessageId::parse(id).map_err(|_| corrupt("event id", id))?,
        room: RoomName::parse(room).map_err(|_| corrupt("room name", room))?,
        target: match target {
            // A membership or title event has no target.
            "" => None,
            t => Some(MessageId::parse(t).map_err(|_| corrupt("target", t))?),
        },
        user_id: UserId::parse(user).map_err(|_| corrupt("user id", user))?,
        name: DisplayName::parse(name).map_err(|_| corrupt("display name", name))?,
        change,
        client_id: client_id.map(|c| ClientId::parse(c).map_err(|_| corrupt("client id", c))).transpose()?,
        created_at: from_millis(int(12)?)?,
    })
}

/// Reads a standing reaction's `emoji, user_id::text` from columns `at`
/// and `at + 1`.
pub(super) fn decode_reactor(row: &Row, at: usize) -> Result<(Emoji, UserId), StoreError> {
    let emoji: &str = row.try_get(at).map_err(|e| decode_error(&e))?;
    let user: &str = row.try_get(at + 1).map_err(|e| decode_error(&e))?;
    Ok((
        Emoji::parse(emoji).map_err(|_| corrupt("emoji", emoji))?,
        UserId::parse(user).map_err(|_| corrupt("user id", user))?,
    ))
}

/// Reads `visibility, title, topic` starting at column `at`.
pub(super) fn decode_profile(row: &Row, at: usize) -> Result<RoomProfile, StoreError> {
    let code: i16 = row.try_get(at).map_err(|e| decode_error(&e))?;
    let title: Option<&str> = row.try_get(at + 1).map_err(|e| decode_error(&e))?;
    let topic: &str = row.try_get(at + 2).map_err(|e| decode_error(&e))?;
    Ok(RoomProfile {
        visibility: u8::try_from(code)
            .ok()
            .and_then(Visibility::from_code)
            .ok_or_else(|| corrupt("visibility", &code.to_string()))?,
        title: title.map(|t| RoomTitle::parse(t).map_err(|_| corrupt("title", t))).transpose()?,
        topic: Topic::parse(topic).map_err(|_| corrupt("topic", topic))?,
    })
}

/// Reads a `rooms` row: name, last_seq, epoch, last_message_at, visibility,
/// title, topic.
pub(super) fn decode_room(row: &Row) -> Result<RoomInfo, StoreError> {
    let name: &str = row.try_get(0).map_err(|e| decode_error(&e))?;
    let last_seq: i64 = row.try_get(1).map_err(|e| decode_error(&e))?;
    let epoch: i64 = row.try_get(2).map_err(|e| decode_error(&e))?;
    let last_message_at: Option<i64> = row.try_get(3).map_err(|e| decode_error(&e))?;
    Ok(RoomInfo {
        name: RoomName::parse(name).map_err(|_| corrupt("room name", name))?,
        last_seq: Seq(u64::try_from(last_seq).map_err(|_| corrupt("last_seq", &last_seq.to_string()))?),
        epoch: Epoch(u64::try_from(epoch).map_err(|_| corrupt("epoch", &epoch.to_string()))?),
        last_message_at: last_message_at.map(from_millis).transpose()?,
        profile: decode_profile(row, 4)?,
    })
}

/// Unix milliseconds, rounding down (messages carry whole milliseconds).
pub(super) fn to_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).unwrap_or(i64::MAX)
}

pub(super) fn from_millis(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| corrupt("timestamp", &ms.to_string()))
}

/// Seqs and epochs are `u64` in the model and `BIGINT` here; a bound beyond
/// `i64::MAX` means "beyond everything".
pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip() {
        let now = whisper_core::model::now_millis();
        assert_eq!(from_millis(to_millis(now)), Ok(now));
        let before_1970 = OffsetDateTime::from_unix_timestamp_nanos(-1_500_000).unwrap_or(now);
        assert_eq!(to_millis(before_1970), -2);
    }
}
