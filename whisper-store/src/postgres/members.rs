//! Rooms with members in PostgreSQL (protocol.md §15).
//!
//! A membership or title change runs in the event's transaction and locks
//! the room's row first (`FOR UPDATE`), so two changes of one room (two
//! owners leaving at once) are decided one after the other, each on what
//! the other left; it then takes the next seq from that row like any event.
//! A creation is one `INSERT … ON CONFLICT DO NOTHING` of the room's row:
//! two nodes creating one direct room at once meet on its primary key, and
//! the loser stores nothing.

use deadpool_postgres::Transaction;
use whisper_core::model::{Access, Change, DisplayName, Event, NewEvent, Request, Role, RoomName, Standing, UserId};
use whisper_core::store::rules::{self, RoomFacts};
use whisper_core::store::{Applied, MemberRoomsPage, NewRoom, RoomInfo, StoreError};

use super::PostgresStore;
use super::rows::{corrupt, decode_error, decode_profile, decode_room, to_i64, to_millis};
use super::timeline::Failure;

const SELECT_STANDING: &str = "SELECT standing FROM room_members WHERE room = $1 AND user_id = $2::text::uuid";

fn standing_from(code: i16) -> Result<Standing, StoreError> {
    Standing::from_code(i64::from(code)).ok_or_else(|| corrupt("standing", &code.to_string()))
}

async fn standing_in(tx: &Transaction<'_>, room: &RoomName, user: UserId) -> Result<Standing, Failure> {
    let row = tx.query_opt(&tx.prepare_cached(SELECT_STANDING).await?, &[&room.as_str(), &user.to_string()]).await?;
    Ok(match row {
        Some(row) => standing_from(row.try_get(0)?)?,
        None => Standing::Stranger,
    })
}

/// What `user` may do in `room`, read inside a transaction.
pub(super) async fn access_in(tx: &Transaction<'_>, room: &RoomName, user: UserId) -> Result<Access, Failure> {
    let row = tx.query_opt("SELECT visibility, title, topic FROM rooms WHERE name = $1", &[&room.as_str()]).await?;
    let profile = row.map(|row| decode_profile(&row, 0)).transpose()?.unwrap_or_default();
    Ok(Access { visibility: profile.visibility, standing: standing_in(tx, room, user).await? })
}

/// A membership or title change, decided and stored in `tx` (committed here).
pub(super) async fn apply_room_change(tx: Transaction<'_>, new: &NewEvent) -> Result<Applied, Failure> {
    let room = new.room.as_str();
    let row = tx
        .query_opt(
            &tx.prepare_cached("SELECT visibility, title, topic FROM rooms WHERE name = $1 FOR UPDATE").await?,
            &[&room],
        )
        .await?;
    let Some(row) = row else { return Ok(Applied::Refused(rules::no_room(new))) };
    let profile = decode_profile(&row, 0)?;
    let subject = match &new.request {
        Request::Member { member, .. } => *member,
        _ => new.user_id,
    };
    let counts = tx
        .query_one(
            &tx.prepare_cached(
                "SELECT count(*) FILTER (WHERE standing = 3), count(*) FILTER (WHERE standing > 0) \
                 FROM room_members WHERE room = $1",
            )
            .await?,
            &[&room],
        )
        .await?;
    let (owners, members): (i64, i64) = (counts.try_get(0)?, counts.try_get(1)?);
    let facts = RoomFacts {
        profile,
        actor: standing_in(&tx, &new.room, new.user_id).await?,
        subject: standing_in(&tx, &new.room, subject).await?,
        owners: owners as u64,
        members: members as u64,
    };
    let change = match rules::decide(&new.request, new.user_id, &facts) {
        Ok(change) => change,
        Err(why) => return Ok(Applied::Refused(why)),
    };
    let head = tx
        .query_one(
            &tx.prepare_cached("UPDATE rooms SET last_seq = last_seq + 1 WHERE name = $1 RETURNING last_seq").await?,
            &[&room],
        )
        .await?;
    let seq: i64 = head.try_get(0)?;
    let seq = u64::try_from(seq).map_err(|_| StoreError::Internal(format!("room {room} returned seq {seq}")))?;
    let mut event = new.clone().stored_as(whisper_core::model::Seq(seq), change);
    event.created_at = super::rows::from_millis(to_millis(event.created_at))?;
    store_room_event(&tx, &event).await?;
    tx.commit().await?;
    Ok(Applied::Stored(event))
}

/// Inserts a `member` or `room` event and makes the rows say what it says.
async fn store_room_event(tx: &Transaction<'_>, event: &Event) -> Result<(), Failure> {
    let detail = serde_json::to_string(&event.change)
        .map_err(|e| StoreError::Internal(format!("cannot encode an event: {e}")))?;
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO events (room, seq, id, target, user_id, name, kind, client_id, created_at, detail) \
             VALUES ($1, $2, $3, '', $4::text::uuid, $5, $6, $7, $8, $9)",
        )
        .await?,
        &[
            &event.room.as_str(),
            &to_i64(event.seq.0),
            &event.id.to_string(),
            &event.user_id.to_string(),
            &event.name.as_str(),
            &event.change.kind(),
            &event.client_id.as_ref().map(|c| c.as_str()),
            &to_millis(event.created_at),
            &detail,
        ],
    )
    .await?;
    match &event.change {
        Change::Room { title, topic, created: false, .. } => {
            tx.execute(
                &tx.prepare_cached("UPDATE rooms SET title = $2, topic = $3 WHERE name = $1").await?,
                &[&event.room.as_str(), &title.as_ref().map(|t| t.as_str()), &topic.as_str()],
            )
            .await?;
        }
        Change::Member { member_name, .. } => {
            if let Some((user, standing)) = rules::standing_after(&event.change) {
                if standing == Standing::Stranger {
                    tx.execute(
                        &tx.prepare_cached("DELETE FROM room_members WHERE room = $1 AND user_id = $2::text::uuid")
                            .await?,
                        &[&event.room.as_str(), &user.to_string()],
                    )
                    .await?;
                } else {
                    tx.execute(
                        &tx.prepare_cached(
                            "INSERT INTO room_members (room, user_id, name, standing) \
                             VALUES ($1, $2::text::uuid, $3, $4) \
                             ON CONFLICT (room, user_id) DO UPDATE SET name = excluded.name, standing = excluded.standing",
                        )
                        .await?,
                        &[&event.room.as_str(), &user.to_string(), &member_name.as_str(), &i16::from(standing.code())],
                    )
                    .await?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// One try at creating a room, in one transaction.
async fn create_once(client: &mut deadpool_postgres::Object, room: &NewRoom) -> Result<Option<Vec<Event>>, Failure> {
    let tx = client.transaction().await?;
    let mut events = room.events();
    let created_at = to_millis(room.created_at);
    let epoch = whisper_core::model::Epoch::fresh();
    let inserted = tx
        .query_opt(
            &tx.prepare_cached(
                "INSERT INTO rooms (name, last_seq, epoch, last_message_at, visibility, title, topic) \
                 VALUES ($1, $2, $3, NULL, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING name",
            )
            .await?,
            &[
                &room.name.as_str(),
                &(events.len() as i64),
                &to_i64(epoch.0),
                &i16::from(room.profile.visibility.code()),
                &room.profile.title.as_ref().map(|t| t.as_str()),
                &room.profile.topic.as_str(),
            ],
        )
        .await?;
    if inserted.is_none() {
        return Ok(None);
    }
    for event in &mut events {
        event.created_at = super::rows::from_millis(created_at)?;
        store_room_event(&tx, event).await?;
    }
    tx.commit().await?;
    Ok(Some(events))
}

impl PostgresStore {
    /// [`Store::create_room`](whisper_core::store::Store::create_room).
    pub(super) async fn create(&self, room: NewRoom) -> Result<Option<Vec<Event>>, StoreError> {
        let mut client = self.client().await?;
        match super::error::bounded_raw(create_once(&mut client, &room)).await {
            Some(Ok(created)) => Ok(created),
            Some(Err(Failure::Store(e))) => Err(e),
            Some(Err(Failure::Db(e))) => {
                let error = super::error::classify(&e);
                if matches!(error, StoreError::Unavailable(_)) {
                    super::error::discard(client);
                }
                Err(error)
            }
            None => {
                super::error::discard(client);
                Err(super::error::timed_out())
            }
        }
    }

    /// [`Store::access`](whisper_core::store::Store::access): two
    /// primary-key lookups in one statement.
    pub(super) async fn access_of(&self, room: &RoomName, user: UserId) -> Result<Access, StoreError> {
        let rows = self
            .query(
                "SELECT (SELECT visibility FROM rooms WHERE name = $1), \
                 (SELECT standing FROM room_members WHERE room = $1 AND user_id = $2::text::uuid)",
                &[&room.as_str(), &user.to_string()],
            )
            .await?;
        let row = rows.first().ok_or_else(|| StoreError::Internal("access query returned no row".into()))?;
        let visibility: Option<i16> = row.try_get(0).map_err(|e| decode_error(&e))?;
        let standing: Option<i16> = row.try_get(1).map_err(|e| decode_error(&e))?;
        let visibility = match visibility {
            Some(code) => u8::try_from(code)
                .ok()
                .and_then(whisper_core::model::Visibility::from_code)
                .ok_or_else(|| corrupt("visibility", &code.to_string()))?,
            None => Default::default(),
        };
        Ok(Access { visibility, standing: standing.map(standing_from).transpose()?.unwrap_or_default() })
    }

    /// [`Store::members`](whisper_core::store::Store::members).
    pub(super) async fn members_of(
        &self,
        room: &RoomName,
        banned: bool,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, DisplayName, Standing)>, StoreError> {
        let sql = if banned {
            "SELECT user_id::text, name, standing FROM room_members \
             WHERE room = $1 AND user_id > $2::text::uuid AND standing < 0 ORDER BY user_id LIMIT $3"
        } else {
            "SELECT user_id::text, name, standing FROM room_members \
             WHERE room = $1 AND user_id > $2::text::uuid AND standing > 0 ORDER BY user_id LIMIT $3"
        };
        let after = after.map_or_else(|| uuid::Uuid::nil().to_string(), |u| u.to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(sql, &[&room.as_str(), &after, &limit]).await?;
        rows.iter()
            .map(|row| {
                let user: &str = row.try_get(0).map_err(|e| decode_error(&e))?;
                let name: &str = row.try_get(1).map_err(|e| decode_error(&e))?;
                Ok((
                    UserId::parse(user).map_err(|_| corrupt("user id", user))?,
                    DisplayName::parse(name).map_err(|_| corrupt("display name", name))?,
                    standing_from(row.try_get(2).map_err(|e| decode_error(&e))?)?,
                ))
            })
            .collect()
    }

    /// [`Store::member_rooms`](whisper_core::store::Store::member_rooms): a
    /// range of `rooms_by_member`, each joined to its row by primary key.
    pub(super) async fn rooms_of(
        &self,
        user: UserId,
        after: Option<&RoomName>,
        limit: usize,
    ) -> Result<MemberRoomsPage, StoreError> {
        let after = after.map_or("", RoomName::as_str);
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        let rows = self
            .query(
                "SELECT r.name, r.last_seq, r.epoch, r.last_message_at, r.visibility, r.title, r.topic, m.standing \
                 FROM room_members m JOIN rooms r ON r.name = m.room \
                 WHERE m.user_id = $1::text::uuid AND m.standing > 0 AND m.room > $2 ORDER BY m.room LIMIT $3",
                &[&user.to_string(), &after, &fetch],
            )
            .await?;
        let has_more = rows.len() > limit;
        let rooms = rows
            .iter()
            .take(limit)
            .map(|row| {
                let info: RoomInfo = decode_room(row)?;
                let code: i16 = row.try_get(7).map_err(|e| decode_error(&e))?;
                let role = u8::try_from(code)
                    .ok()
                    .and_then(Role::from_rank)
                    .ok_or_else(|| corrupt("role", &code.to_string()))?;
                Ok((info, role))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(MemberRoomsPage { rooms, has_more })
    }
}
