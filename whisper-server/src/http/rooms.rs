//! Rooms with members over HTTP (protocol.md §15): the room list, creating
//! private and public rooms, opening a direct room, a room's members, and
//! every membership and title change. Each is one call of the core's
//! [`Chat`](whisper_core::Chat) room API, so the server answers what an
//! embedding application would; this module only resolves who the caller
//! and the named users are, and turns answers into JSON.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde::Deserialize;
use whisper_core::codec::{HttpErrorCode, Person, RoomDetail, RoomList, RoomSummary};
use whisper_core::model::{
    DisplayName, MAX_REASON_CHARS, Member, MemberAsk, Principal, Request as Asked, Role, RoomName, RoomTitle, Topic,
    UserId, Visibility,
};
use whisper_core::rooms::{RoomError, RoomSpec};
use whisper_core::store::{DEFAULT_ROOMS_PAGE, MAX_MEMBERS_PAGE, MAX_ROOMS_PAGE, RoomInfo, member_of};

use super::api::store_error;
use super::query::{decode_path, param};
use super::response::{Body, error, json};
use crate::accounts::{Caller, Refused};
use crate::state::AppState;

/// The most bytes a rooms request's body may have.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Who the request says it is; `None` without a credential.
async fn caller(headers: &HeaderMap, query: Option<&str>, state: &AppState) -> Result<Option<Caller>, Response<Body>> {
    match crate::accounts::caller(state, headers, param(query, "token")).await {
        Ok(caller) => Ok(caller),
        Err(Refused::Invalid(why)) => Err(error(HttpErrorCode::Unauthorized, why)),
        Err(Refused::Store(e)) => Err(store_error(&e)),
    }
}

/// The caller as a principal, or 401.
pub(super) async fn principal(
    headers: &HeaderMap,
    query: Option<&str>,
    state: &AppState,
) -> Result<Principal, Response<Body>> {
    match caller(headers, query, state).await? {
        Some(caller) => Ok(caller.principal()),
        None => Err(error(HttpErrorCode::Unauthorized, "sign in first")),
    }
}

/// A state-changing request from a browser page of another site is
/// refused before its cookie counts (as for accounts).
pub(super) fn foreign(headers: &HeaderMap, state: &AppState) -> Option<Response<Body>> {
    let has_origin = headers.get(hyper::header::ORIGIN).is_some();
    (has_origin && !super::upgrade::origin_allowed(headers, &state.config))
        .then(|| error(HttpErrorCode::Forbidden, "this Origin may not change rooms here"))
}

async fn body<T: for<'de> Deserialize<'de>>(req: Request<Incoming>) -> Result<T, Response<Body>> {
    let bytes = match http_body_util::Limited::new(req.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Err(error(
                HttpErrorCode::InvalidRequest,
                format!("the body must be at most {MAX_BODY_BYTES} bytes"),
            ));
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| error(HttpErrorCode::InvalidRequest, format!("the body: {e}")))
}

fn room_error(e: RoomError) -> Response<Body> {
    match e {
        RoomError::Invalid(why) => error(HttpErrorCode::InvalidRequest, why),
        RoomError::Forbidden(why) => error(HttpErrorCode::Forbidden, why),
        RoomError::Conflict(why) => error(HttpErrorCode::Conflict, why),
        RoomError::Denied(denied) => error(HttpErrorCode::Forbidden, denied.reason()),
        RoomError::Store(e) => store_error(&e),
    }
}

/// A user id of the request, or the problem with it.
fn user_param(raw: &str, what: &str) -> Result<UserId, String> {
    UserId::parse(raw).map_err(|_| format!("{what}: not a user id"))
}

/// 400 `invalid_request` for a problem with the request.
fn invalid(problem: String) -> Response<Body> {
    error(HttpErrorCode::InvalidRequest, problem)
}

/// The account of `user` as a (user, name) pair, or 404.
async fn account(state: &AppState, user: UserId, what: &str) -> Result<(UserId, DisplayName), Response<Body>> {
    let Some(accounts) = &state.accounts else {
        return Err(error(HttpErrorCode::NotFound, "this server keeps no accounts"));
    };
    match accounts.store.account(user).await {
        Ok(Some(account)) => Ok((account.user_id, account.name)),
        Ok(None) => Err(error(HttpErrorCode::NotFound, format!("{what}: no account {user}"))),
        Err(e) => Err(store_error(&e)),
    }
}

/// The name `user` has in `room` (its standing's row), else its account's.
async fn name_in(state: &AppState, room: &RoomName, user: UserId) -> Result<DisplayName, Response<Body>> {
    for banned in [false, true] {
        let rows = state.chat.store().members(room, banned, None, MAX_MEMBERS_PAGE).await;
        let rows = rows.map_err(|e| store_error(&e))?;
        if let Some((_, name, _)) = rows.into_iter().find(|(u, _, _)| *u == user) {
            return Ok(name);
        }
    }
    Ok(account(state, user, "user_id").await?.1)
}

/// A room as listed to `caller` (with its role, when a member).
async fn summary(state: &AppState, caller: Option<UserId>, info: RoomInfo, role: Option<Role>) -> RoomSummary {
    // A store that cannot tell a room's read state leaves it out of that
    // room's summary, as `joined` does, rather than fail the list.
    let read = match caller {
        Some(user) => state.chat.store().read_state(user, &info.name).await.ok(),
        None => None,
    };
    let peer = match (info.profile.visibility, caller) {
        (Visibility::Direct, Some(me)) => state
            .chat
            .store()
            .members(&info.name, false, None, 2)
            .await
            .ok()
            .and_then(|m| m.into_iter().find(|(u, _, _)| *u != me))
            .map(|(user_id, name, _)| Person { user_id, name }),
        _ => None,
    };
    RoomSummary {
        online: state.chat.online(&info.name),
        name: info.name,
        last_seq: info.last_seq,
        epoch: info.epoch,
        last_message_at: info.last_message_at,
        read_seq: read.map(|r| r.read_seq),
        unread: read.map(|r| r.unread),
        visibility: info.profile.visibility,
        title: info.profile.title,
        topic: info.profile.topic,
        role,
        peer,
    }
}

/// `GET /v1/rooms?limit=&after=`: public rooms and the caller's own, by
/// name. Two index range scans from the cursor (public rooms, the
/// caller's memberships) merged: a page costs the same with 10,000 rooms.
pub async fn list(headers: &HeaderMap, query: Option<&str>, state: &AppState) -> Response<Body> {
    let after = match param(query, "after").map(|a| RoomName::parse(&a)).transpose() {
        Ok(after) => after,
        Err(e) => return error(HttpErrorCode::InvalidRequest, format!("after: {e}")),
    };
    let limit = match param(query, "limit") {
        None => DEFAULT_ROOMS_PAGE,
        Some(v) => match v.parse::<usize>().ok().filter(|n| (1..=MAX_ROOMS_PAGE).contains(n)) {
            Some(n) => n,
            None => {
                return error(
                    HttpErrorCode::InvalidRequest,
                    format!("limit: must be an integer from 1 to {MAX_ROOMS_PAGE}"),
                );
            }
        },
    };
    let me = match caller(headers, query, state).await {
        Ok(caller) => caller.map(|c| c.user_id()),
        Err(response) => return response,
    };
    let Some(_turn) = state.store_read_turn().await else { return super::api::busy() };
    let store = state.chat.store();
    let public = match store.rooms_page(after.as_ref(), limit).await {
        Ok(page) => page,
        Err(e) => return store_error(&e),
    };
    let mine = match me {
        Some(user) => match store.member_rooms(user, after.as_ref(), limit).await {
            Ok(page) => page,
            Err(e) => return store_error(&e),
        },
        None => whisper_core::store::MemberRoomsPage { rooms: Vec::new(), has_more: false },
    };
    let mut merged: Vec<(RoomInfo, Option<Role>)> = mine.rooms.into_iter().map(|(r, role)| (r, Some(role))).collect();
    for room in public.rooms {
        if !merged.iter().any(|(r, _)| r.name == room.name) {
            merged.push((room, None));
        }
    }
    merged.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let has_more = public.has_more || mine.has_more || merged.len() > limit;
    merged.truncate(limit);
    let next = if has_more { merged.last().map(|(r, _)| r.name.clone()) } else { None };
    let mut rooms = Vec::with_capacity(merged.len());
    for (info, role) in merged {
        rooms.push(summary(state, me, info, role).await);
    }
    json(StatusCode::OK, &RoomList { rooms, has_more, next })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    visibility: Option<Visibility>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    members: Vec<String>,
}

/// `POST /v1/rooms {visibility?, name?, title, topic?, members?}`: a
/// private room (the default, named by the server) or an owned public room.
pub async fn create(req: Request<Incoming>, state: &AppState) -> Response<Body> {
    if let Some(refusal) = foreign(req.headers(), state) {
        return refusal;
    }
    let who = match principal(req.headers(), req.uri().query(), state).await {
        Ok(who) => who,
        Err(res) => return res,
    };
    let form: CreateBody = match body(req).await {
        Ok(form) => form,
        Err(res) => return res,
    };
    let visibility = form.visibility.unwrap_or(Visibility::Private);
    let name = match form.name.as_deref().map(RoomName::parse).transpose() {
        Ok(name) => name,
        Err(e) => return error(HttpErrorCode::InvalidRequest, format!("name: {e}")),
    };
    let title = match form.title.as_deref().map(RoomTitle::parse).transpose() {
        Ok(title) => title,
        Err(e) => return error(HttpErrorCode::InvalidRequest, format!("title: {e}")),
    };
    let topic = match Topic::parse(form.topic.as_deref().unwrap_or("")) {
        Ok(topic) => topic,
        Err(e) => return error(HttpErrorCode::InvalidRequest, format!("topic: {e}")),
    };
    if form.members.len() > whisper_core::rooms::MAX_INITIAL_MEMBERS {
        let max = whisper_core::rooms::MAX_INITIAL_MEMBERS;
        return error(HttpErrorCode::InvalidRequest, format!("members: at most {max}"));
    }
    let mut members = Vec::with_capacity(form.members.len());
    for (i, raw) in form.members.iter().enumerate() {
        let what = format!("members[{i}]");
        let user = match user_param(raw, &what).map_err(invalid) {
            Ok(user) => user,
            Err(res) => return res,
        };
        match account(state, user, &what).await {
            Ok(member) => members.push(member),
            Err(res) => return res,
        }
    }
    let spec = RoomSpec { visibility, name, title, topic, members };
    match state.chat.create_room(&who, spec).await {
        Ok(info) => {
            let room = summary(state, Some(who.user_id), info, Some(creator_role(visibility))).await;
            json(StatusCode::CREATED, &serde_json::json!({ "room": room }))
        }
        Err(e) => room_error(e),
    }
}

fn creator_role(visibility: Visibility) -> Role {
    if visibility == Visibility::Direct { Role::Member } else { Role::Owner }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    user_id: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/dm {user_id}`: the direct room with that user, created (201)
/// if new, else found (200).
pub async fn direct(req: Request<Incoming>, state: &AppState) -> Response<Body> {
    if let Some(refusal) = foreign(req.headers(), state) {
        return refusal;
    }
    let who = match principal(req.headers(), req.uri().query(), state).await {
        Ok(who) => who,
        Err(res) => return res,
    };
    let form: UserBody = match body(req).await {
        Ok(form) => form,
        Err(res) => return res,
    };
    let user = match user_param(&form.user_id, "user_id").map_err(invalid) {
        Ok(user) => user,
        Err(res) => return res,
    };
    if user == who.user_id {
        return error(HttpErrorCode::InvalidRequest, "user_id: a direct conversation needs someone else");
    }
    let other = match account(state, user, "user_id").await {
        Ok(other) => other,
        Err(res) => return res,
    };
    match state.chat.direct_room(&who, other).await {
        Ok((info, created)) => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            let room = summary(state, Some(who.user_id), info, Some(Role::Member)).await;
            json(status, &serde_json::json!({ "room": room }))
        }
        Err(e) => room_error(e),
    }
}

/// `GET /v1/users?name=`: the account shown under `name` (any case), to
/// invite or message it. Signed-in callers only.
pub async fn user_by_name(headers: &HeaderMap, query: Option<&str>, state: &AppState) -> Response<Body> {
    let who = match principal(headers, query, state).await {
        Ok(who) => who,
        Err(res) => return res,
    };
    if who.kind.is_guest() {
        return error(HttpErrorCode::Forbidden, "sign in to look people up");
    }
    let Some(accounts) = &state.accounts else {
        return error(HttpErrorCode::NotFound, "this server keeps no accounts");
    };
    let name = match param(query, "name").as_deref().map(DisplayName::parse) {
        Some(Ok(name)) => name,
        Some(Err(e)) => return error(HttpErrorCode::InvalidRequest, format!("name: {e}")),
        None => return error(HttpErrorCode::InvalidRequest, "name: is required"),
    };
    match accounts.store.by_name(&name).await {
        Ok(Some(account)) => json(StatusCode::OK, &Person { user_id: account.user_id, name: account.name }),
        Ok(None) => error(HttpErrorCode::NotFound, format!("no account is called {name}")),
        Err(e) => store_error(&e),
    }
}

/// Everything under `/v1/rooms/{room}`: `rest` is the path after
/// `/v1/rooms/`, the room one segment (a `/` in its name written `%2F`).
pub async fn one(req: Request<Incoming>, rest: &str, state: &AppState) -> Response<Body> {
    let mut parts = rest.split('/');
    let room = match parts.next().and_then(decode_path).map(|r| RoomName::parse(&r)) {
        Some(Ok(room)) => room,
        Some(Err(e)) => return error(HttpErrorCode::InvalidRequest, format!("room: {e}")),
        None => return error(HttpErrorCode::InvalidRequest, "room: malformed percent-escape"),
    };
    let what: Vec<&str> = parts.collect();
    let method = req.method().clone();
    if method != Method::GET
        && let Some(refusal) = foreign(req.headers(), state)
    {
        return refusal;
    }
    match (&method, what.as_slice()) {
        (&Method::GET, []) => detail(req.headers(), req.uri().query(), &room, state).await,
        (&Method::PATCH, []) => retitle(req, &room, state).await,
        (&Method::POST, ["members"]) => with_user(req, &room, state, false).await,
        (&Method::POST, ["bans"]) => with_user(req, &room, state, true).await,
        (&Method::DELETE, ["members", user]) => remove(req, &room, user, state).await,
        (&Method::DELETE, ["bans", user]) => {
            let user = match user_param(user, "user").map_err(invalid) {
                Ok(user) => user,
                Err(res) => return res,
            };
            let name = match name_in(state, &room, user).await {
                Ok(name) => name,
                Err(res) => return res,
            };
            manage(req.headers(), req.uri().query(), &room, user, name, MemberAsk::Unban, state).await
        }
        (&Method::PATCH, ["members", user]) => set_role(req, &room, user, state).await,
        (_, [] | ["members" | "bans"] | ["members" | "bans", _]) => {
            error(HttpErrorCode::MethodNotAllowed, "that method is not allowed here")
        }
        _ => error(HttpErrorCode::NotFound, "no such endpoint"),
    }
}

/// `GET /v1/rooms/{room}`: the room, its members and, for its moderators,
/// the banned. A stranger to a private room gets the 403 a room that does
/// not exist gets.
async fn detail(headers: &HeaderMap, query: Option<&str>, room: &RoomName, state: &AppState) -> Response<Body> {
    let who = match caller(headers, query, state).await {
        Ok(caller) => caller.map(|c| c.principal()),
        Err(res) => return res,
    };
    if let Err(whisper_core::chat::ReadError::Denied(denied)) = state.chat.may_read(who.as_ref(), room).await {
        return error(HttpErrorCode::Forbidden, denied.reason());
    }
    let store = state.chat.store();
    let (info, access) = match (store.room(room).await, state.chat.access(who.as_ref(), room).await) {
        (Ok(info), Ok(access)) => (info, access),
        (Err(e), _) | (_, Err(e)) => return store_error(&e),
    };
    if info.last_seq == whisper_core::model::Seq::ZERO {
        return error(HttpErrorCode::NotFound, format!("no room {room}"));
    }
    let members = match store.members(room, false, None, MAX_MEMBERS_PAGE).await {
        Ok(rows) => rows.into_iter().filter_map(|(u, n, s)| member_of(u, n, s)).collect::<Vec<Member>>(),
        Err(e) => return store_error(&e),
    };
    let banned = if access.moderates() {
        match store.members(room, true, None, MAX_MEMBERS_PAGE).await {
            Ok(rows) => Some(rows.into_iter().map(|(user_id, name, _)| Person { user_id, name }).collect()),
            Err(e) => return store_error(&e),
        }
    } else {
        None
    };
    let me = who.as_ref().map(|w| w.user_id);
    let room = summary(state, me, info, access.standing.role()).await;
    json(StatusCode::OK, &RoomDetail { room, members, banned })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetitleBody {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    topic: Option<String>,
}

/// `PATCH /v1/rooms/{room} {title?, topic?}`.
async fn retitle(req: Request<Incoming>, room: &RoomName, state: &AppState) -> Response<Body> {
    let who = match principal(req.headers(), req.uri().query(), state).await {
        Ok(who) => who,
        Err(res) => return res,
    };
    let form: RetitleBody = match body(req).await {
        Ok(form) => form,
        Err(res) => return res,
    };
    if form.title.is_none() && form.topic.is_none() {
        return error(HttpErrorCode::InvalidRequest, "give a title, a topic or both");
    }
    let title = match form.title.as_deref().map(RoomTitle::parse).transpose() {
        Ok(title) => title,
        Err(e) => return error(HttpErrorCode::InvalidRequest, format!("title: {e}")),
    };
    let topic = match form.topic.as_deref().map(Topic::parse).transpose() {
        Ok(topic) => topic,
        Err(e) => return error(HttpErrorCode::InvalidRequest, format!("topic: {e}")),
    };
    answer(state.chat.manage(&who, room, Asked::Retitle { title, topic }).await)
}

fn answer(result: Result<whisper_core::model::Event, RoomError>) -> Response<Body> {
    match result {
        Ok(event) => json(StatusCode::OK, &serde_json::json!({ "event": event })),
        Err(e) => room_error(e),
    }
}

fn reason_of(raw: Option<String>) -> Result<Option<std::sync::Arc<str>>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let reason = raw.trim();
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(format!("reason: at most {MAX_REASON_CHARS} characters, no control characters"));
    }
    Ok((!reason.is_empty()).then(|| reason.into()))
}

/// An invite (of an account) or a ban (of anyone, by the name they have
/// in the room) of the user named in the body (`{user_id, reason?}`).
async fn with_user(req: Request<Incoming>, room: &RoomName, state: &AppState, ban: bool) -> Response<Body> {
    let (headers, query) = (req.headers().clone(), req.uri().query().map(str::to_owned));
    let form: UserBody = match body(req).await {
        Ok(form) => form,
        Err(res) => return res,
    };
    let (user, reason) =
        match (user_param(&form.user_id, "user_id").map_err(invalid), reason_of(form.reason).map_err(invalid)) {
            (Ok(user), Ok(reason)) => (user, reason),
            (Err(res), _) | (_, Err(res)) => return res,
        };
    let name = if ban { name_in(state, room, user).await } else { account(state, user, "user_id").await.map(|a| a.1) };
    let name = match name {
        Ok(name) => name,
        Err(res) => return res,
    };
    let ask = if ban { MemberAsk::Ban { reason } } else { MemberAsk::Invite };
    manage(&headers, query.as_deref(), room, user, name, ask, state).await
}

/// `DELETE /v1/rooms/{room}/members/{user}?reason=`: a kick, or leaving
/// when the user is the caller.
async fn remove(req: Request<Incoming>, room: &RoomName, user: &str, state: &AppState) -> Response<Body> {
    let user = match user_param(user, "user").map_err(invalid) {
        Ok(user) => user,
        Err(res) => return res,
    };
    let who = match principal(req.headers(), req.uri().query(), state).await {
        Ok(who) => who,
        Err(res) => return res,
    };
    if user == who.user_id {
        let leave = Asked::Member { member: user, member_name: who.name.clone(), ask: MemberAsk::Leave };
        return answer(state.chat.manage(&who, room, leave).await);
    }
    let reason = match reason_of(param(req.uri().query(), "reason")).map_err(invalid) {
        Ok(reason) => reason,
        Err(res) => return res,
    };
    let name = match name_in(state, room, user).await {
        Ok(name) => name,
        Err(res) => return res,
    };
    let kick = Asked::Member { member: user, member_name: name, ask: MemberAsk::Kick { reason } };
    answer(state.chat.manage(&who, room, kick).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Role,
}

/// `PATCH /v1/rooms/{room}/members/{user} {role}`.
async fn set_role(req: Request<Incoming>, room: &RoomName, user: &str, state: &AppState) -> Response<Body> {
    let user = match user_param(user, "user").map_err(invalid) {
        Ok(user) => user,
        Err(res) => return res,
    };
    let (headers, query) = (req.headers().clone(), req.uri().query().map(str::to_owned));
    let form: RoleBody = match body(req).await {
        Ok(form) => form,
        Err(res) => return res,
    };
    let name = match name_in(state, room, user).await {
        Ok(name) => name,
        Err(res) => return res,
    };
    manage(&headers, query.as_deref(), room, user, name, MemberAsk::Role(form.role), state).await
}

async fn manage(
    headers: &HeaderMap,
    query: Option<&str>,
    room: &RoomName,
    member: UserId,
    member_name: DisplayName,
    ask: MemberAsk,
    state: &AppState,
) -> Response<Body> {
    let who = match principal(headers, query, state).await {
        Ok(who) => who,
        Err(res) => return res,
    };
    answer(state.chat.manage(&who, room, Asked::Member { member, member_name, ask }).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(reason_of(Some("  spam ".into())).ok().flatten().as_deref(), Some("spam"));
        assert!(reason_of(Some("   ".into())).ok().flatten().is_none());
        assert!(reason_of(Some("x".repeat(201))).is_err());
    }
}
