//! The JSON API: history, rooms, readiness.

use std::time::Duration;

use hyper::HeaderMap;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};
use whisper_core::chat::ReadError;
use whisper_core::codec::{EventsPage, HistoryPage, HttpErrorCode};
use whisper_core::limits::MAX_HISTORY_PAGE_BYTES;
use whisper_core::model::{Entry, Principal, RoomName, Seq};
use whisper_core::store::{DEFAULT_PAGE, LogPage, MAX_PAGE, ReadRange, StoreError};

use super::query::param;
use super::response::{Body, error, json};
use crate::state::AppState;

/// `GET /v1/chat/messages?room=&before_seq=&after_seq=&limit=`, oldest first.
pub async fn messages(headers: &HeaderMap, query: Option<&str>, state: &AppState) -> Response<Body> {
    let (room, range) = match history_query(query) {
        Ok(parsed) => parsed,
        Err(problem) => return error(HttpErrorCode::InvalidRequest, problem),
    };
    let reader = match reader(headers, query, state).await {
        Ok(reader) => reader,
        Err(response) => return response,
    };
    let Some(_turn) = state.store_read_turn().await else { return busy() };
    match state.chat.history(reader.as_ref(), &room, range).await {
        Err(ReadError::Denied(denied)) => error(HttpErrorCode::Forbidden, denied.reason()),
        Err(ReadError::Store(e)) => store_error(&e),
        Ok(page) => {
            let (data, has_more) =
                within_bytes(page.messages, page.has_more, range.from_newest(), MAX_HISTORY_PAGE_BYTES);
            json(StatusCode::OK, &HistoryPage { kind: "messages".into(), room, data: data.into(), has_more })
        }
    }
}

/// Who reads, for the application's policy (protocol.md §14): resolved
/// only when there is a policy to ask, so that reads without one cost no
/// session lookup.
pub(super) async fn reader(
    headers: &HeaderMap,
    query: Option<&str>,
    state: &AppState,
) -> Result<Option<Principal>, Response<Body>> {
    // Always asked: a private room is read by its members only (protocol.md
    // §15). Without a credential this costs nothing.
    match crate::accounts::caller(state, headers, param(query, "token")).await {
        Ok(caller) => Ok(caller.map(|c| c.principal())),
        Err(crate::accounts::Refused::Invalid(why)) => Err(error(HttpErrorCode::Unauthorized, why)),
        Err(crate::accounts::Refused::Store(e)) => Err(store_error(&e)),
    }
}

/// A page (of messages, or log entries) cut to at most `max` bytes encoded
/// (protocol.md §11), keeping the end it was read from: the newest of a
/// page taken from the newest end, the oldest of a page read forward. A page
/// that was cut has `has_more`, since what was cut lies in the direction
/// read; it keeps at least one item, however long, so that paging goes on.
fn within_bytes<T: serde::Serialize>(
    mut messages: Vec<T>,
    has_more: bool,
    from_newest: bool,
    max: usize,
) -> (Vec<T>, bool) {
    let mut total = 0;
    let mut keep = 0;
    let order: Box<dyn Iterator<Item = &T>> =
        if from_newest { Box::new(messages.iter().rev()) } else { Box::new(messages.iter()) };
    for message in order {
        total += encoded_len(message);
        if keep > 0 && total > max {
            break;
        }
        keep += 1;
    }
    if keep == messages.len() {
        return (messages, has_more);
    }
    if from_newest {
        messages.drain(..messages.len() - keep);
    } else {
        messages.truncate(keep);
    }
    (messages, true)
}

/// `GET /v1/chat/events?room=&after_seq=&limit=`: the room's log after
/// `after_seq`, oldest first (protocol.md §13), capped in bytes like history.
pub async fn events(headers: &HeaderMap, query: Option<&str>, state: &AppState) -> Response<Body> {
    let (room, after, limit) = match events_query(query) {
        Ok(parsed) => parsed,
        Err(problem) => return error(HttpErrorCode::InvalidRequest, problem),
    };
    let reader = match reader(headers, query, state).await {
        Ok(reader) => reader,
        Err(response) => return response,
    };
    match state.chat.may_read(reader.as_ref(), &room).await {
        Ok(()) => {}
        Err(ReadError::Denied(denied)) => return error(HttpErrorCode::Forbidden, denied.reason()),
        Err(ReadError::Store(e)) => return store_error(&e),
    }
    let Some(_turn) = state.store_read_turn().await else { return busy() };
    match state.chat.store().log(&room, after, limit).await {
        Ok(LogPage { entries, has_more }) => {
            let (entries, has_more) = within_bytes(entries, has_more, false, MAX_HISTORY_PAGE_BYTES);
            let next_after_seq = entries.last().map_or(after, Entry::seq);
            let page = EventsPage { kind: "events".into(), room, data: entries.into(), has_more, next_after_seq };
            json(StatusCode::OK, &page)
        }
        Err(e) => store_error(&e),
    }
}

fn events_query(query: Option<&str>) -> Result<(RoomName, Seq, usize), String> {
    let room = match param(query, "room") {
        None => return Err("room: is required".into()),
        Some(r) => RoomName::parse(&r).map_err(|e| format!("room: {e}"))?,
    };
    let after = seq_param(query, "after_seq")?.unwrap_or(Seq::ZERO);
    Ok((room, after, page_limit(query)?))
}

/// A seq parameter (`before_seq`, `after_seq`), if given.
fn seq_param(query: Option<&str>, key: &str) -> Result<Option<Seq>, String> {
    param(query, key)
        .map(|v| {
            v.parse::<u64>()
                .ok()
                .filter(|n| *n <= i64::MAX as u64)
                .map(Seq)
                .ok_or_else(|| format!("{key}: must be a non-negative integer"))
        })
        .transpose()
}

/// A page's `limit`: `DEFAULT_PAGE` when not given, at most `MAX_PAGE`.
fn page_limit(query: Option<&str>) -> Result<usize, String> {
    match param(query, "limit") {
        None => Ok(DEFAULT_PAGE),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| format!("limit: must be an integer from 1 to {MAX_PAGE}")),
    }
}

/// The bytes `value` takes in a JSON body, counted without building it.
fn encoded_len(value: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serialising a message cannot fail; were it to, it would count as empty.
    let _ = serde_json::to_writer(&mut count, value);
    // The comma between elements.
    count.0 + 1
}

/// The room and range a history query asks for, or the problem with it
/// (`field: problem`). Defaults: `lobby`, the latest `DEFAULT_PAGE`.
fn history_query(query: Option<&str>) -> Result<(RoomName, ReadRange), String> {
    let room = match param(query, "room") {
        None => RoomName::lobby(),
        Some(r) => RoomName::parse(&r).map_err(|e| format!("room: {e}"))?,
    };
    let before = seq_param(query, "before_seq")?;
    let after = seq_param(query, "after_seq")?;
    let limit = page_limit(query)?;
    let range = match (after, before) {
        (Some(a), Some(b)) => ReadRange::between(a, b, limit),
        (Some(a), None) => ReadRange::after(a, limit),
        (None, Some(b)) => ReadRange::before(b, limit),
        (None, None) => ReadRange::latest(limit),
    };
    Ok((room, range))
}

/// 429 `rate_limited` for a read API request over its address's allowance,
/// with `Retry-After` in whole seconds (at least 1).
pub fn rate_limited(wait: Duration) -> Response<Body> {
    let secs = wait.as_secs_f64().ceil().clamp(1.0, 3600.0) as u64;
    let mut res = error(HttpErrorCode::RateLimited, format!("too many requests from this address; retry in {secs} s"));
    res.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    res
}

/// 503 for a read that found no turn at the store in time.
pub(crate) fn busy() -> Response<Body> {
    let mut res = error(HttpErrorCode::StorageUnavailable, "the store is busy with other reads; retry later");
    res.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

/// `GET /readyz`: 200 when the store answers.
pub async fn ready(state: &AppState) -> Response<Body> {
    match state.chat.store().ping().await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({"status": "ready"})),
        Err(e) => store_error(&e),
    }
}

pub(crate) fn store_error(e: &StoreError) -> Response<Body> {
    tracing::warn!(error = %e, "store request failed");
    match e {
        StoreError::Unavailable(_) => error(HttpErrorCode::StorageUnavailable, "the store is unavailable; retry later"),
        StoreError::Internal(_) => error(HttpErrorCode::Internal, "internal error"),
    }
}

#[cfg(test)]
mod tests {
    use whisper_core::model::{DisplayName, NewMessage, UserId};

    use super::*;
    use whisper_core::model::Message;
    use whisper_core::store::Page;

    fn cut(page: Page, from_newest: bool, max: usize) -> (Vec<Message>, bool) {
        within_bytes(page.messages, page.has_more, from_newest, max)
    }

    fn page(n: u64, content: &str, has_more: bool) -> Page {
        let user = UserId::random();
        let name = DisplayName::parse("ada").unwrap();
        let messages = (1..=n)
            .map(|s| NewMessage::now(RoomName::lobby(), user, name.clone(), content, None).stored_at(Seq(s)))
            .collect();
        Page { messages, has_more }
    }

    fn seqs(messages: &[Message]) -> Vec<u64> {
        messages.iter().map(|m| m.seq.0).collect()
    }

    #[test]
    fn a_page_within_the_cap_is_left_alone() {
        let (kept, more) = cut(page(5, "hi", false), true, 10_000);
        assert_eq!((seqs(&kept), more), (vec![1, 2, 3, 4, 5], false));
    }

    #[test]
    fn a_long_page_keeps_the_end_it_was_read_from() {
        // Room for three messages, not four (seq 10 takes a byte more than seq 1).
        let one = encoded_len(&page(1, &"x".repeat(100), false).messages[0]);
        let (kept, more) = cut(page(10, &"x".repeat(100), false), true, one * 3 + 10);
        assert_eq!((seqs(&kept), more), (vec![8, 9, 10], true), "from the newest end: the newest");
        let (kept, more) = cut(page(10, &"x".repeat(100), false), false, one * 3 + 10);
        assert_eq!((seqs(&kept), more), (vec![1, 2, 3], true), "read forward: the oldest");
    }

    #[test]
    fn one_message_always_passes() {
        let (kept, more) = cut(page(3, &"x".repeat(500), false), false, 10);
        assert_eq!((seqs(&kept), more), (vec![1], true));
    }
}
