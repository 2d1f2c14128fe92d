//! `GET /v1/search?q=&room=&limit=&before=` (protocol.md §16): what
//! [`Chat::search`](whisper_core::Chat::search) finds, as JSON. The
//! permissions are core's; this file reads the query and maps the answer.

use hyper::{HeaderMap, Response, StatusCode};
use whisper_core::codec::{HttpErrorCode, SearchHit, SearchResults};
use whisper_core::model::RoomName;
use whisper_core::search::{SearchAsk, SearchError};
use whisper_core::store::{MAX_SEARCH_PAGE, SearchCursor};

use super::api::{busy, reader, store_error};
use super::query::param;
use super::response::{Body, error, json};
use crate::state::AppState;

/// `GET /v1/search`: a page of messages the caller may read that match
/// `q`, newest first, each with where the words are (`marks`).
pub async fn search(headers: &HeaderMap, query: Option<&str>, state: &AppState) -> Response<Body> {
    let ask = match search_query(query) {
        Ok(ask) => ask,
        Err(problem) => return error(HttpErrorCode::InvalidRequest, problem),
    };
    let reader = match reader(headers, query, state).await {
        Ok(reader) => reader,
        Err(response) => return response,
    };
    let Some(_turn) = state.store_read_turn().await else { return busy() };
    match state.chat.search(reader.as_ref(), ask).await {
        Ok(found) => {
            let results = found.hits.into_iter().map(|(message, marks)| SearchHit { message, marks }).collect();
            json(StatusCode::OK, &SearchResults { results, next: found.next.map(|c| c.0.to_string()) })
        }
        Err(SearchError::Query(why)) => error(HttpErrorCode::InvalidRequest, format!("q: {why}")),
        Err(SearchError::Denied(denied)) => error(HttpErrorCode::Forbidden, denied.reason()),
        Err(SearchError::Store(e)) => store_error(&e),
    }
}

/// The search a query string asks for, or the problem with it (`field:
/// problem`). `q` itself is parsed by core, whose errors say what to fix.
fn search_query(query: Option<&str>) -> Result<SearchAsk, String> {
    let text = param(query, "q").ok_or("q: is required: the words to search for")?;
    let room = param(query, "room").map(|r| RoomName::parse(&r).map_err(|e| format!("room: {e}"))).transpose()?;
    let before = param(query, "before")
        .map(|b| b.parse::<u64>().map(SearchCursor).map_err(|_| "before: must be the `next` of a search".to_owned()))
        .transpose()?;
    let limit = param(query, "limit")
        .map(|v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_SEARCH_PAGE).contains(n))
                .ok_or_else(|| format!("limit: must be an integer from 1 to {MAX_SEARCH_PAGE}"))
        })
        .transpose()?;
    Ok(SearchAsk { text, room, before, limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_search_from_the_query_string() {
        let ask = search_query(Some("q=deploy%20friday&room=dev&limit=5&before=42")).expect("valid");
        assert_eq!(ask.text, "deploy friday");
        assert_eq!(ask.room.as_ref().map(RoomName::as_str), Some("dev"));
        assert_eq!((ask.limit, ask.before), (Some(5), Some(SearchCursor(42))));
        assert!(search_query(None).unwrap_err().starts_with("q:"));
        assert!(search_query(Some("q=x&limit=0")).unwrap_err().starts_with("limit:"));
        assert!(search_query(Some("q=x&limit=101")).unwrap_err().starts_with("limit:"));
        assert!(search_query(Some("q=x&before=abc")).unwrap_err().starts_with("before:"));
        assert!(search_query(Some("q=x&room=")).unwrap_err().starts_with("room:"));
    }
}
