//! The JSON API: history, rooms, readiness.

use hyper::{Response, StatusCode};
use whisper_core::codec::{HistoryPage, HttpErrorCode, RoomList, RoomSummary};
use whisper_core::model::{RoomName, Seq};
use whisper_core::store::{DEFAULT_PAGE, MAX_PAGE, ReadRange, StoreError};

use super::query::param;
use super::response::{Body, error, json};
use crate::state::AppState;

/// `GET /v1/chat/messages?room=&before_seq=&after_seq=&limit=`, oldest first.
pub async fn messages(query: Option<&str>, state: &AppState) -> Response<Body> {
    let (room, range) = match history_query(query) {
        Ok(parsed) => parsed,
        Err(problem) => return error(HttpErrorCode::InvalidRequest, problem),
    };
    match state.chat.store().read(&room, range).await {
        Ok(page) => json(
            StatusCode::OK,
            &HistoryPage { kind: "messages".into(), room, data: page.messages.into(), has_more: page.has_more },
        ),
        Err(e) => store_error(&e),
    }
}

/// The room and range a history query asks for, or the problem with it
/// (`field: problem`). Defaults: `lobby`, the latest `DEFAULT_PAGE`.
fn history_query(query: Option<&str>) -> Result<(RoomName, ReadRange), String> {
    let room = match param(query, "room") {
        None => RoomName::lobby(),
        Some(r) => RoomName::parse(&r).map_err(|e| format!("room: {e}"))?,
    };
    let seq = |key: &str| -> Result<Option<Seq>, String> {
        param(query, key)
            .map(|v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n <= i64::MAX as u64)
                    .map(Seq)
                    .ok_or_else(|| format!("{key}: must be a non-negative integer"))
            })
            .transpose()
    };
    let before = seq("before_seq")?;
    let after = seq("after_seq")?;
    let limit = match param(query, "limit") {
        None => DEFAULT_PAGE,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| format!("limit: must be an integer from 1 to {MAX_PAGE}"))?,
    };
    let range = match (after, before) {
        (Some(a), Some(b)) => ReadRange::between(a, b, limit),
        (Some(a), None) => ReadRange::after(a, limit),
        (None, Some(b)) => ReadRange::before(b, limit),
        (None, None) => ReadRange::latest(limit),
    };
    Ok((room, range))
}

/// `GET /v1/rooms`: rooms with history, by name.
pub async fn rooms(state: &AppState) -> Response<Body> {
    match state.chat.store().rooms().await {
        Ok(rooms) => {
            let rooms = rooms
                .into_iter()
                .map(|r| RoomSummary {
                    online: state.chat.online(&r.name),
                    name: r.name,
                    last_seq: r.last_seq,
                    epoch: r.epoch,
                    last_message_at: r.last_message_at,
                })
                .collect();
            json(StatusCode::OK, &RoomList { rooms })
        }
        Err(e) => store_error(&e),
    }
}

/// `GET /readyz`: 200 when the store answers.
pub async fn ready(state: &AppState) -> Response<Body> {
    match state.chat.store().ping().await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({"status": "ready"})),
        Err(e) => store_error(&e),
    }
}

fn store_error(e: &StoreError) -> Response<Body> {
    tracing::warn!(error = %e, "store request failed");
    match e {
        StoreError::Unavailable(_) => error(HttpErrorCode::StorageUnavailable, "the store is unavailable; retry later"),
        StoreError::Internal(_) => error(HttpErrorCode::Internal, "internal error"),
    }
}
