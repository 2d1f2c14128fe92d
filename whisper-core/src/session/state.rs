//! The session's state and its answer to each client frame.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{BoxFuture, FusedFuture};
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, Sink, SinkExt, StreamExt};

use super::{Outgoing, SessionEnd, send_close};
use crate::chat::Chat;
use crate::codec::{
    AckStatus, ClientFrame, DecodeError, Draft, EncodedFrame, ErrorCode, FrameType, Refusal, ServerFrame,
};
use crate::hub::{Broadcast, Command, Delivery, Member, Outbox, OutboxClosed, Run};
use crate::limits::WireLimits;
use crate::model::{
    ClientId, DisplayName, Entry, Epoch, ExternalId, FileId, Message, NewEvent, NewMessage, Principal, PrincipalKind,
    Request, RoomName, Seq, UserId, now_millis,
};
use crate::policy::{Denied, Post};
use crate::rate::TokenBucket;
use crate::store::{Applied, EventRefusal, MAX_PAGE, StoreError};

/// Most messages in one replay frame, so a large recovery is several
/// moderate frames rather than one huge one.
const REPLAY_CHUNK: usize = 100;

/// Most receipts a join is told: the room's furthest readers.
const JOIN_RECEIPTS: usize = 20;

/// `F` is the server's shutdown, borrowed pinned from [`super::run`] (so
/// `Unpin`) and fused: polled by the run loop and by every blocked write, and
/// held by no allocation of its own.
pub(super) struct Session<O, F> {
    chat: Chat,
    member: Member,
    name: DisplayName,
    external_id: Option<ExternalId>,
    /// The client's address, for the per-address budgets.
    address: Option<IpAddr>,
    /// Joined rooms in join order; the first is where messages without a
    /// `room` go.
    rooms: Vec<Joined>,
    message_rate: TokenBucket,
    control_rate: TokenBucket,
    /// `join`, `leave` and `profile`: each may change presence, which every
    /// member of the room is told about, so they have a stricter bucket.
    presence_rate: TokenBucket,
    /// Frames refused in a row because the control-frame bucket was empty.
    limited_in_a_row: u32,
    /// The server's shutdown, raced by every write.
    pub(super) shutdown: F,
    /// `messages` frames handed to the store, oldest first; each is acked
    /// when it and every frame before it have committed.
    pub(super) posts: FuturesOrdered<BoxFuture<'static, Posted>>,
    out: O,
}

/// A `messages` frame the store has answered.
pub(super) struct Posted {
    client_ids: Vec<Option<ClientId>>,
    stored: Result<Vec<Message>, StoreError>,
}

/// How a refused frame is answered.
enum Answer {
    /// An `error` frame.
    Error,
    /// A `message_ids` error, for a `messages` frame.
    MessageIds(Vec<Option<ClientId>>),
    /// An `ack` error, for an `edit`, `delete` or `react`.
    Ack(ClientId),
}

impl Answer {
    fn for_client_id(client_id: Option<&ClientId>) -> Answer {
        client_id.map_or(Answer::Error, |c| Answer::Ack(c.clone()))
    }
}

struct Joined {
    room: RoomName,
    /// The highest seq this connection has been sent (or had before joining):
    /// live broadcasts at or below it are not sent again.
    sent_up_to: Seq,
}

type Step = Result<(), SessionEnd>;

impl<O: Sink<Outgoing> + Unpin, F: FusedFuture<Output = ()> + Unpin> Session<O, F> {
    #[allow(clippy::too_many_arguments)] // the parts of a Connection, taken apart
    pub(super) fn new(
        chat: Chat,
        user: UserId,
        kind: PrincipalKind,
        external_id: Option<ExternalId>,
        session: Option<Arc<str>>,
        name: Option<DisplayName>,
        address: Option<IpAddr>,
        out: O,
        shutdown: F,
    ) -> Self {
        let limits = chat.limits();
        let message_rate = TokenBucket::new(limits.messages_per_second, limits.message_burst);
        let control_rate = TokenBucket::new(limits.control_frames_per_second, limits.control_frame_burst);
        let presence_rate = TokenBucket::new(limits.presence_frames_per_second, limits.presence_frame_burst);
        let member = chat.hub().member_of(user, kind, session);
        let name = name.unwrap_or_else(|| DisplayName::guest(user));
        Session {
            chat,
            member,
            name,
            external_id,
            address,
            rooms: Vec::new(),
            message_rate,
            control_rate,
            presence_rate,
            limited_in_a_row: 0,
            shutdown,
            posts: FuturesOrdered::new(),
            out,
        }
    }

    /// Who this connection is, for the policy.
    fn principal(&self) -> Principal {
        Principal {
            user_id: self.member.user(),
            kind: self.member.kind(),
            name: self.name.clone(),
            external_id: self.external_id.clone(),
        }
    }

    pub(super) fn outbox(&self) -> Arc<Outbox> {
        self.member.outbox().clone()
    }

    /// Encodes `frame` before the write starts, so that the frame itself is
    /// not part of any session future's state (an ack's frame would make
    /// every connection's future bigger).
    fn send(&mut self, frame: ServerFrame<'_>) -> impl Future<Output = Step> + '_ {
        self.write(vec![frame.encode()])
    }

    /// Asks the transport to ping the client.
    pub(super) async fn ping(&mut self) -> Step {
        let ping = self.out.send(Outgoing::Ping);
        let ping = std::pin::pin!(async move { ping.await.map_err(|_| SessionEnd::WriteFailed) });
        guarded(ping, self.member.outbox(), &mut self.shutdown, self.chat.limits().write_timeout).await
    }

    /// Writes frames with one flush. Every write goes through here (or
    /// [`Self::ping`]), guarded: a client that stopped reading blocks the
    /// write, and must not hold the session, its memory or the server's
    /// shutdown hostage.
    async fn write(&mut self, frames: Vec<EncodedFrame>) -> Step {
        let out = &mut self.out;
        let write = std::pin::pin!(async move {
            for frame in frames {
                out.feed(Outgoing::Frame(frame)).await.map_err(|_| SessionEnd::WriteFailed)?;
            }
            out.flush().await.map_err(|_| SessionEnd::WriteFailed)
        });
        guarded(write, self.member.outbox(), &mut self.shutdown, self.chat.limits().write_timeout).await
    }

    /// A WebSocket ping from the client: it takes a control-frame token, and
    /// one that finds the bucket empty ends the connection (the transport
    /// answers every ping, so a flood costs the server a write each).
    pub(super) fn pinged(&mut self) -> Step {
        if self.control_rate.try_take(1) { Ok(()) } else { Err(SessionEnd::PingFlood) }
    }

    /// Takes a control-frame token, or refuses the frame (answered as
    /// `answer` says); past `flood_refusals` refusals in a row the
    /// connection is closed instead.
    async fn take_control_token(&mut self, answer: Answer) -> Result<bool, SessionEnd> {
        if self.control_rate.try_take(1) {
            self.limited_in_a_row = 0;
            return Ok(true);
        }
        self.limited_in_a_row += 1;
        if self.limited_in_a_row > self.chat.limits().flood_refusals {
            return Err(SessionEnd::Flooding);
        }
        let refusal = Refusal::new(ErrorCode::RateLimited, "too many frames; slow down")
            .retry_after(self.control_rate.wait_for(1));
        match answer {
            Answer::MessageIds(client_ids) => self.nack(client_ids, refusal).await?,
            Answer::Ack(client_id) => self.ack_refused(client_id, refusal).await?,
            Answer::Error => self.refuse(refusal).await?,
        }
        Ok(false)
    }

    async fn refuse(&mut self, refusal: Refusal) -> Step {
        self.settle_posts().await?;
        self.send(ServerFrame::Error(refusal)).await
    }

    /// Whether `messages` frames are waiting for the store.
    pub(super) fn posting(&self) -> bool {
        !self.posts.is_empty()
    }

    /// Whether the session may read another frame: not while it has as
    /// many frames in the store as it may (backpressure on the client).
    pub(super) fn may_read(&self) -> bool {
        self.posts.len() < self.chat.limits().max_posts_in_flight.max(1)
    }

    /// Acks every frame still in the store, in order, so that the answer
    /// to whatever the client sent next comes after them.
    async fn settle_posts(&mut self) -> Step {
        while let Some(posted) = self.posts.next().await {
            self.ack(posted).await?;
        }
        Ok(())
    }

    /// Lets the store finish what the client sent before leaving: the
    /// messages get stored and broadcast, even if no ack can be sent.
    pub(super) async fn abandon_posts(&mut self) {
        while self.posts.next().await.is_some() {}
    }

    /// Answers a `messages` frame the store has answered.
    pub(super) async fn ack(&mut self, posted: Posted) -> Step {
        let Posted { client_ids, stored } = posted;
        let frame = match stored {
            Ok(stored) => ServerFrame::MessageIds {
                status: AckStatus::Success,
                message_ids: stored.iter().map(|m| m.id).collect(),
                client_ids,
                error: None,
            },
            Err(e) => {
                tracing::warn!(error = %e, "messages not stored");
                ServerFrame::MessageIds {
                    status: AckStatus::Error,
                    message_ids: Vec::new(),
                    client_ids,
                    error: Some(store_refusal(&e)),
                }
            }
        };
        self.send(frame).await
    }

    /// Sends `welcome` (the token is not kept after it) and joins the first room.
    pub(super) async fn start(&mut self, token: Option<String>, room: Option<RoomName>) -> Step {
        let welcome = ServerFrame::Welcome {
            user_id: self.member.user(),
            token: token.unwrap_or_default().into(),
            server_id: self.chat.server_id().into(),
            limits: WireLimits::from(self.chat.limits()),
        }
        .encode();
        self.write(vec![welcome]).await?;
        match room {
            Some(room) => self.join(room, None, None).await,
            None => Ok(()),
        }
    }

    /// Leaves every room, closes the outbox, and sends the close frame.
    pub(super) async fn finish(&mut self, end: SessionEnd) {
        self.abandon_posts().await;
        for joined in std::mem::take(&mut self.rooms) {
            self.chat.hub().unsubscribe(&joined.room, &self.member);
        }
        self.member.outbox().close();
        send_close(&mut self.out, end, self.chat.limits().close_timeout).await;
    }

    /// Writes the hub's frames for this connection, then flushes once.
    pub(super) async fn write_deliveries(&mut self, batch: &mut Vec<Delivery>) -> Step {
        let mut frames = Vec::with_capacity(batch.len());
        for delivery in batch.drain(..) {
            let frame = match delivery {
                Delivery::Messages(broadcast) => self.live_frame(&broadcast),
                Delivery::Event { room, frame } => self.rooms.iter().any(|j| j.room == room).then_some(frame),
                Delivery::Command(command) => self.obey(command),
                Delivery::Notice(frame) => Some(frame),
            };
            frames.extend(frame);
        }
        self.write(frames).await
    }

    /// Does what the application asked (protocol.md §14); the frame to
    /// send for it, if any.
    fn obey(&mut self, command: Command) -> Option<EncodedFrame> {
        match command {
            Command::Rename(name) => {
                if name != self.name {
                    self.name = name;
                    self.chat.hub().rename(self.rooms.iter().map(|j| &j.room), &self.member, &self.name);
                }
                None
            }
            Command::Leave { room, reason } => {
                let i = self.rooms.iter().position(|j| j.room == room)?;
                self.rooms.remove(i);
                self.chat.hub().unsubscribe(&room, &self.member);
                Some(ServerFrame::Left { room, reason: reason.as_ref().into() }.encode())
            }
        }
    }

    /// The frame to send for a broadcast: the shared one, none if this
    /// connection left the room or has all of it, or (rarely: a broadcast that
    /// overlaps a replay) one re-encoded with only the new messages.
    fn live_frame(&mut self, broadcast: &Arc<Broadcast>) -> Option<EncodedFrame> {
        let joined = self.rooms.iter_mut().find(|j| j.room == broadcast.room)?;
        if broadcast.last_seq() <= joined.sent_up_to {
            return None;
        }
        let frame = if broadcast.first_seq() > joined.sent_up_to {
            broadcast.frame.clone()
        } else {
            broadcast.run.encode_after(&broadcast.room, joined.sent_up_to, None)
        };
        joined.sent_up_to = broadcast.last_seq();
        Some(frame)
    }

    /// Answers one text frame. `Err` ends the session.
    pub(super) async fn handle(&mut self, text: &str) -> Step {
        if text.len() > self.chat.limits().max_frame_bytes {
            return Err(SessionEnd::FrameTooLarge);
        }
        let frame = match ClientFrame::decode(text, self.chat.limits()) {
            Ok(frame) => frame,
            // A frame that does not decode costs a control-frame token like
            // any frame that is not `messages`: refusing it is work too.
            Err(e) => {
                let answer = match e.frame_type {
                    Some(FrameType::Messages) => Answer::MessageIds(e.client_ids.clone()),
                    Some(t) if t.is_acked() => Answer::for_client_id(e.client_ids.iter().flatten().next()),
                    _ => Answer::Error,
                };
                if !self.take_control_token(answer).await? {
                    return Ok(());
                }
                return self.refuse_decoded(e).await;
            }
        };
        // Frames that write (messages, and edits, deletes and reactions)
        // take message tokens instead: they are paced by the message rate.
        let writes = matches!(frame, ClientFrame::Messages { .. }) || frame.event_target().is_some();
        if !writes && !self.take_control_token(Answer::Error).await? {
            return Ok(());
        }
        let changes_presence =
            matches!(frame, ClientFrame::Join { .. } | ClientFrame::Leave { .. } | ClientFrame::Profile { .. });
        if changes_presence && !self.presence_rate.try_take(1) {
            let limits = self.chat.limits();
            let wait = self.presence_rate.wait_for(1);
            let message = format!(
                "at most {} join, leave and profile frames per second (burst {}); retry in {} ms",
                limits.presence_frames_per_second,
                limits.presence_frame_burst,
                wait.as_millis().max(1)
            );
            let mut refusal = Refusal::new(ErrorCode::RateLimited, message).retry_after(wait);
            if let ClientFrame::Join { room, .. } | ClientFrame::Leave { room } = &frame {
                refusal = refusal.in_room(room);
            }
            return self.refuse(refusal).await;
        }
        if !matches!(frame, ClientFrame::Messages { .. }) {
            // Answers go out in the order the frames came in.
            self.settle_posts().await?;
        }
        match frame {
            ClientFrame::Messages { data } => self.post(data).await,
            ClientFrame::Join { room, since_seq, epoch } => self.join(room, since_seq, epoch).await,
            ClientFrame::Leave { room } => self.leave(room).await,
            ClientFrame::Typing { room } => self.typing(room).await,
            ClientFrame::Profile { name } => Box::pin(self.profile(name)).await,
            ClientFrame::Read { room, seq } => self.read(room, seq).await,
            ClientFrame::Ping { id } => self.send(ServerFrame::Pong { id }).await,
            ClientFrame::Status { away } => {
                self.chat.hub().set_away(self.rooms.iter().map(|j| &j.room), &self.member, away);
                Ok(())
            }
            // Boxed: the store's answer is awaited here, and inline its
            // state would make every connection's future bigger.
            frame @ (ClientFrame::Edit { .. } | ClientFrame::Delete { .. } | ClientFrame::React { .. }) => {
                Box::pin(self.change(frame)).await
            }
        }
    }

    /// `profile`: a guest names itself; everyone else shows its stored
    /// profile's name (protocol.md §14).
    async fn profile(&mut self, name: DisplayName) -> Step {
        if !self.member.kind().names_itself() {
            let message = "this identity's name is its stored profile's; the connection cannot change it";
            return self.refuse(Refusal::new(ErrorCode::Forbidden, message)).await;
        }
        // The same name again changes nothing, so nobody is told.
        if name == self.name {
            return Ok(());
        }
        if let Some(policy) = self.chat.policy().cloned()
            && let Err(denied) = policy.rename(&self.principal(), &name).await
        {
            return self.refuse(denied.refusal()).await;
        }
        self.name = name;
        self.chat.hub().rename(self.rooms.iter().map(|j| &j.room), &self.member, &self.name);
        Ok(())
    }

    async fn refuse_decoded(&mut self, e: DecodeError) -> Step {
        match e.frame_type {
            Some(FrameType::Messages) => self.nack(e.client_ids, e.refusal).await,
            // An `edit`, `delete` or `react` whose client id could be read
            // is answered by an `ack`, so the client's outbox settles it.
            Some(t) if t.is_acked() => match e.client_ids.into_iter().flatten().next() {
                Some(client_id) => self.ack_refused(client_id, e.refusal).await,
                None => self.refuse(e.refusal).await,
            },
            _ => self.refuse(e.refusal).await,
        }
    }

    async fn ack_refused(&mut self, client_id: ClientId, refusal: Refusal) -> Step {
        self.settle_posts().await?;
        self.send(ServerFrame::Ack { client_id, status: AckStatus::Error, seq: None, id: None, error: Some(refusal) })
            .await
    }

    /// `edit`, `delete` or `react` (protocol.md §13): checked here for what
    /// the connection knows (joined room, rates, budgets), by the store for
    /// what only it knows (the target, its author, whether it is deleted),
    /// acked after the commit, broadcast by the chat.
    async fn change(&mut self, frame: ClientFrame) -> Step {
        let (room, target, request, client_id) = match frame {
            ClientFrame::Edit { room, id, content, client_id } => (room, id, Request::Edit { content }, client_id),
            ClientFrame::Delete { room, id, client_id } => (room, id, Request::Delete, client_id),
            ClientFrame::React { room, id, emoji, on, client_id } => {
                (room, id, Request::React { emoji, on }, client_id)
            }
            _ => return Ok(()),
        };
        if !self.rooms.iter().any(|j| j.room == room) {
            let refusal = Refusal::new(ErrorCode::NotFound, format!("not in room {room}")).in_room(&room);
            return self.ack_refused(client_id, refusal).await;
        }
        let mut request = request;
        if let Some(policy) = self.chat.policy().cloned() {
            let who = self.principal();
            let verdict = match &mut request {
                Request::Edit { content } => {
                    let verdict = policy.edit(&who, &room, target, content).await;
                    // What the policy made of it must keep the content rules.
                    verdict.and_then(|()| {
                        *content = crate::codec::validate_content(content, self.chat.limits())
                            .map_err(|(_, why)| Denied::invalid(format!("content {why}")))?;
                        Ok(())
                    })
                }
                Request::Delete => policy.delete(&who, &room, target).await,
                Request::React { emoji, on } => policy.react(&who, &room, target, emoji, *on).await,
                // Not a frame of a session: membership changes come through
                // `Chat::manage`, which asks the policy itself.
                Request::Member { .. } | Request::Retitle { .. } => Ok(()),
            };
            if let Err(denied) = verdict {
                return self.ack_refused(client_id, denied.refusal().in_room(&room)).await;
            }
        }
        // A change writes to the store as a message does: it takes a token
        // of the same bucket (and no control token) and is charged to the
        // same budgets.
        if !self.message_rate.try_take(1) {
            let wait = self.message_rate.wait_for(1);
            let refusal = Refusal::new(
                ErrorCode::RateLimited,
                format!("at most {} messages and changes per second", self.chat.limits().messages_per_second),
            )
            .retry_after(wait)
            .in_room(&room);
            return self.ack_refused(client_id, refusal).await;
        }
        let bytes = match &request {
            Request::Edit { content } => content.len() as u64,
            Request::React { emoji, .. } => emoji.as_str().len() as u64,
            Request::Delete | Request::Member { .. } | Request::Retitle { .. } => 0,
        };
        let charge = match self.chat.budgets().charge(self.member.user(), self.address, bytes, Vec::new()) {
            Ok(charge) => charge,
            Err(refusal) => return self.ack_refused(client_id, refusal.in_room(&room)).await,
        };
        let event = NewEvent::now(
            room.clone(),
            Some(target),
            self.member.user(),
            self.name.clone(),
            request,
            Some(client_id.clone()),
        );
        let applied = self.chat.apply(event).await;
        if !matches!(applied, Ok(Applied::Stored(_))) {
            self.chat.budgets().refund(charge);
        }
        let (seq, id, error) = match applied {
            Ok(Applied::Stored(event)) => (Some(event.seq), Some(event.id), None),
            Ok(Applied::Unchanged) => (None, None, None),
            Ok(Applied::Refused(EventRefusal::NotFound)) => {
                let message = format!("no message {target} in room {room}, or it was deleted");
                (None, None, Some(Refusal::new(ErrorCode::NotFound, message).in_room(&room)))
            }
            Ok(Applied::Refused(EventRefusal::NotAuthor)) => {
                let message = "only the author may edit a message, and only the author or a moderator delete it";
                (None, None, Some(Refusal::new(ErrorCode::Forbidden, message).in_room(&room)))
            }
            Ok(Applied::Refused(EventRefusal::Forbidden(why))) => {
                (None, None, Some(Refusal::new(ErrorCode::Forbidden, why).in_room(&room)))
            }
            Ok(Applied::Refused(EventRefusal::Conflict(why))) => {
                (None, None, Some(Refusal::new(ErrorCode::InvalidFrame, why).in_room(&room)))
            }
            Err(e) => {
                tracing::warn!(room = %room, error = %e, "event not stored");
                (None, None, Some(store_refusal(&e).in_room(&room)))
            }
        };
        let status = if error.is_some() { AckStatus::Error } else { AckStatus::Success };
        self.send(ServerFrame::Ack { client_id, status, seq, id, error }).await
    }

    /// Answers a `messages` frame that stored nothing.
    async fn nack(&mut self, client_ids: Vec<Option<ClientId>>, refusal: Refusal) -> Step {
        self.settle_posts().await?;
        self.send(ServerFrame::MessageIds {
            status: AckStatus::Error,
            message_ids: Vec::new(),
            client_ids,
            error: Some(refusal),
        })
        .await
    }

    async fn post(&mut self, drafts: Vec<Draft>) -> Step {
        let client_ids: Vec<Option<ClientId>> = drafts.iter().map(|d| d.client_id.clone()).collect();
        if !self.message_rate.try_take(drafts.len()) {
            let limits = self.chat.limits();
            let wait = self.message_rate.wait_for(drafts.len());
            let message = format!(
                "at most {} messages per second (burst {}); retry in {} ms",
                limits.messages_per_second,
                limits.message_burst,
                wait.as_millis().max(1)
            );
            return self.nack(client_ids, Refusal::new(ErrorCode::RateLimited, message).retry_after(wait)).await;
        }
        let me = self.member.user();
        let forbidden: Vec<String> = drafts
            .iter()
            .enumerate()
            .filter(|(_, d)| d.user_id.is_some_and(|u| u != me))
            .map(|(i, _)| format!("data[{i}].user_id: is not this connection's user"))
            .collect();
        if !forbidden.is_empty() {
            let refusal = Refusal {
                details: forbidden,
                ..Refusal::new(ErrorCode::Forbidden, "a connection may only send as its own user")
            };
            return self.nack(client_ids, refusal).await;
        }
        let default_room = self.rooms.first().map(|j| j.room.clone());
        let mut batch = Vec::with_capacity(drafts.len());
        let mut files_asked: Vec<Vec<FileId>> = Vec::with_capacity(drafts.len());
        let mut missing_room = Vec::new();
        let created_at = now_millis();
        for (i, draft) in drafts.into_iter().enumerate() {
            let Some(room) = draft.room.or_else(|| default_room.clone()) else {
                missing_room.push(format!("data[{i}].room: is required when the connection has joined no room"));
                continue;
            };
            let mut message = NewMessage::now(room, me, self.name.clone(), draft.content, draft.client_id);
            message.principal = self.member.kind();
            message.external_id = self.external_id.clone();
            message.created_at = created_at;
            message.reply_to = draft.reply_to;
            batch.push(message);
            files_asked.push(draft.attachments);
        }
        if !missing_room.is_empty() {
            let refusal = Refusal {
                details: missing_room,
                ..Refusal::new(ErrorCode::InvalidFrame, "the messages frame is invalid")
            };
            return self.nack(client_ids, refusal).await;
        }
        // A room this connection has not joined is checked as a join is:
        // nobody posts where they may not read (nor creates a room in the
        // server's spaces by first use).
        let mut unjoined: Vec<RoomName> = Vec::new();
        for message in &batch {
            if !self.rooms.iter().any(|j| j.room == message.room) && !unjoined.contains(&message.room) {
                unjoined.push(message.room.clone());
            }
        }
        for room in unjoined {
            match self.chat.user_access(me, &room).await {
                Ok(access) if access.may_enter() => {}
                Ok(access) => return self.nack(client_ids, no_entry(access, &room)).await,
                Err(e) => return self.nack(client_ids, store_refusal(&e)).await,
            }
        }
        if files_asked.iter().any(|ids| !ids.is_empty())
            && let Err(refusal) = Self::attach(&self.chat, me, &mut batch, &files_asked).await
        {
            return self.nack(client_ids, refusal).await;
        }
        if let Some(policy) = self.chat.policy().cloned()
            && let Err(refusal) = Self::police(&*policy, &self.principal(), &mut batch, self.chat.limits()).await
        {
            return self.nack(client_ids, refusal).await;
        }
        if batch.iter().any(|m| m.reply_to.is_some()) {
            // A reply must name a message of its own room. Messages are
            // never removed (a delete keeps a tombstone), so what is found
            // now is still there when the batch commits.
            let missing = match Self::missing_replies(&self.chat, &batch).await {
                Ok(missing) => missing,
                Err(e) => return self.nack(client_ids, store_refusal(&e)).await,
            };
            if !missing.is_empty() {
                let refusal = Refusal {
                    details: missing,
                    ..Refusal::new(ErrorCode::NotFound, "a reply names no message of its room")
                };
                return self.nack(client_ids, refusal).await;
            }
        }
        // Budgets last: a frame refused for anything else charges nothing.
        let bytes = batch.iter().map(|m| m.content.len() as u64).sum();
        let budgets = self.chat.budgets();
        let maybe_new = self.rooms_not_known(&batch);
        // Rooms nobody here knows are reserved as if new (the commit gives
        // back those it did not create), so a post needs no store read
        // unless the reservation is what refuses it.
        let charge = match budgets.charge(me, self.address, bytes, maybe_new.clone()) {
            Ok(charge) => charge,
            Err(refusal) if maybe_new.is_empty() => return self.nack(client_ids, refusal).await,
            Err(_) => {
                let new_rooms = match Self::rooms_without_history(&self.chat, maybe_new).await {
                    Ok(rooms) => rooms,
                    Err(e) => return self.nack(client_ids, store_refusal(&e)).await,
                };
                match self.chat.budgets().charge(me, self.address, bytes, new_rooms) {
                    Ok(charge) => charge,
                    Err(refusal) => return self.nack(client_ids, refusal).await,
                }
            }
        };
        // The run loop acks it once it (and every frame before it) commits.
        let chat = self.chat.clone();
        self.posts.push_back(Box::pin(async move {
            let stored = chat.post(batch).await;
            match &stored {
                Ok(messages) => chat.budgets().settle(charge, messages),
                // Nothing was stored: nothing is owed.
                Err(_) => chat.budgets().refund(charge),
            }
            Posted { client_ids, stored }
        }));
        Ok(())
    }

    /// Asks the policy about each message of a batch, in order, letting it
    /// reshape them; the first refusal refuses the frame, naming the message.
    async fn police(
        policy: &dyn crate::policy::Policy,
        who: &Principal,
        batch: &mut [NewMessage],
        limits: &crate::Limits,
    ) -> Result<(), Refusal> {
        for (i, message) in batch.iter_mut().enumerate() {
            let mut post = Post {
                room: message.room.clone(),
                content: message.content.clone(),
                reply_to: message.reply_to,
                attachments: message.attachments.clone(),
            };
            let files_alone = !message.attachments.is_empty();
            let reshaped = policy.post(who, &mut post).await.and_then(|()| {
                // What the policy made of it must keep the content rules
                // (empty text stays allowed beside files).
                if files_alone && post.content.trim().is_empty() {
                    return Ok(Arc::from(""));
                }
                crate::codec::validate_content(&post.content, limits)
                    .map_err(|(_, why)| Denied::invalid(format!("content {why}")))
            });
            match reshaped {
                Ok(content) => {
                    message.content = content;
                    message.reply_to = post.reply_to;
                }
                Err(denied) => {
                    let refusal = denied.refusal();
                    let detail = format!("data[{i}]: {}", denied.reason());
                    return Err(Refusal { details: vec![detail], ..refusal.in_room(&message.room) });
                }
            }
        }
        Ok(())
    }

    /// Puts each draft's files on its message, or refuses the frame at the
    /// first file that is not the sender's upload (protocol.md §17).
    async fn attach(chat: &Chat, me: UserId, batch: &mut [NewMessage], asked: &[Vec<FileId>]) -> Result<(), Refusal> {
        for (i, (message, ids)) in batch.iter_mut().zip(asked).enumerate() {
            if ids.is_empty() {
                continue;
            }
            match chat.attachments(me, ids).await {
                Ok(Ok(files)) => message.attachments = files,
                Ok(Err(not)) => {
                    return Err(Refusal {
                        details: vec![format!(
                            "data[{i}].attachments[{}]: no file {} uploaded by you",
                            not.index, not.id
                        )],
                        ..Refusal::new(ErrorCode::NotFound, "a message names a file you did not upload")
                    });
                }
                Err(e) => return Err(store_refusal(&e)),
            }
        }
        Ok(())
    }

    /// `data[i].reply_to` problems: replies naming no message of their room.
    async fn missing_replies(chat: &Chat, batch: &[NewMessage]) -> Result<Vec<String>, StoreError> {
        let mut missing = Vec::new();
        for (i, message) in batch.iter().enumerate() {
            let Some(target) = message.reply_to else { continue };
            if chat.store().message(&message.room, target).await?.is_none() {
                missing.push(format!("data[{i}].reply_to: no message {target} in room {}", message.room));
            }
        }
        Ok(missing)
    }

    /// The rooms of `batch` not known to have history (so posting may create
    /// them, protocol.md §10), asking, cheapest first: this session (a
    /// joined room whose head it has seen above 0), the budgets' cache of
    /// rooms known to exist, and the hub (rooms with subscribers here).
    fn rooms_not_known(&self, batch: &[NewMessage]) -> Vec<RoomName> {
        let budgets = self.chat.budgets();
        if !budgets.caps_rooms() {
            return Vec::new();
        }
        let mut rooms: Vec<RoomName> = Vec::new();
        for message in batch {
            let seen = self.rooms.iter().any(|j| j.room == message.room && j.sent_up_to > Seq::ZERO);
            if !seen && !rooms.contains(&message.room) {
                rooms.push(message.room.clone());
            }
        }
        if rooms.is_empty() {
            return rooms;
        }
        let mut unknown = budgets.unknown_rooms(rooms);
        unknown.retain(|room| {
            let live = self.chat.hub().has_history(room);
            if live {
                budgets.room_exists(room);
            }
            !live
        });
        unknown
    }

    /// Of `rooms`, those the store holds no history for. (Takes the chat,
    /// not `&self`: see [`Self::read_between`].)
    async fn rooms_without_history(chat: &Chat, rooms: Vec<RoomName>) -> Result<Vec<RoomName>, StoreError> {
        let mut new = Vec::new();
        for room in rooms {
            if chat.store().room(&room).await?.last_seq > Seq::ZERO {
                chat.budgets().room_exists(&room);
            } else {
                new.push(room);
            }
        }
        Ok(new)
    }

    /// Subscribes, then replays from the store what lies between `since_seq`
    /// and the subscription's start: the hub sends everything after that
    /// start live, so replay and live meet with no gap and no overlap.
    pub(super) async fn join(&mut self, room: RoomName, since: Option<Seq>, epoch: Option<Epoch>) -> Step {
        let rejoin = self.rooms.iter().any(|j| j.room == room);
        if !rejoin && self.rooms.len() >= self.chat.limits().max_rooms_per_connection {
            let message = format!("at most {} rooms per connection", self.chat.limits().max_rooms_per_connection);
            return self.refuse(Refusal::new(ErrorCode::TooLarge, message).in_room(&room)).await;
        }
        // The room's own rules first (protocol.md §15), then the policy's.
        match self.chat.user_access(self.member.user(), &room).await {
            Ok(access) if access.may_enter() => {}
            Ok(access) => return self.refuse(no_entry(access, &room)).await,
            Err(e) => return self.refuse(store_refusal(&e).in_room(&room)).await,
        }
        if let Some(policy) = self.chat.policy().cloned()
            && let Err(denied) = policy.join(&self.principal(), &room).await
        {
            return self.refuse(denied.refusal().in_room(&room)).await;
        }
        if rejoin {
            // Joining again restarts the subscription (e.g. to recover); the
            // room keeps its place, so the default room does not change.
            self.chat.hub().unsubscribe(&room, &self.member);
        }
        let subscribed = match self.chat.hub().subscribe(&room, &self.member, &self.name).await {
            Ok(s) => s,
            Err(e) => {
                self.rooms.retain(|j| j.room != room);
                return self.refuse(store_refusal(&e).in_room(&room)).await;
            }
        };
        let mut head = subscribed.seq;
        // Epoch 0 means "no history yet" on either side: nothing to compare.
        let same_history = epoch.is_none_or(|e| e == Epoch(0) || subscribed.epoch == Epoch(0) || e == subscribed.epoch);
        if let Some(since) = since
            && same_history
            && since > head
            && Self::stored_up_to(&self.chat, &room, since, epoch).await
        {
            // The client saw, on another node, messages this node has not
            // broadcast yet. They are stored: it has everything up to
            // `since`, and gets what follows live once this node catches up
            // (now, from the store, rather than at the room's next message).
            self.chat.hub().catch_up(&room);
            head = since;
        }
        let mut replay = Vec::new();
        let recovered = match since {
            Some(since) if same_history && since == head => true,
            Some(since) if same_history && since < head && head.0 - since.0 <= self.chat.limits().max_recover => {
                match Self::read_between(&self.chat, &room, since, head).await {
                    Ok(entries) => {
                        replay = entries;
                        true
                    }
                    Err(e) => {
                        tracing::warn!(room = %room, error = %e, "recovery read failed");
                        false
                    }
                }
            }
            // No since_seq, too far behind, another history, or a since_seq
            // beyond the head (a history that was reset): fetch over HTTP.
            _ => false,
        };
        match self.rooms.iter_mut().find(|j| j.room == room) {
            Some(joined) => joined.sent_up_to = head,
            None => self.rooms.push(Joined { room: room.clone(), sent_up_to: head }),
        }
        // A store that cannot tell the read state does not cost the join
        // (live messages and presence still work): `joined` then says
        // nothing of it rather than something made up.
        let read = match self.chat.store().read_state(self.member.user(), &room).await {
            Ok(read) => Some(read),
            Err(e) => {
                tracing::warn!(room = %room, error = %e, "read state unavailable");
                None
            }
        };
        let joined = ServerFrame::Joined {
            room: room.clone(),
            seq: head,
            epoch: subscribed.epoch,
            recovered,
            read_seq: read.map(|r| r.read_seq),
            unread: read.map(|r| r.unread),
        };
        self.send(joined).await?;
        // The log in seq order: runs of messages as `messages` frames, of
        // other events as `events` frames, each at most `REPLAY_CHUNK`.
        for mut run in Run::split(replay) {
            while run.len() > 0 {
                let rest = run.split_off(run.len().min(REPLAY_CHUNK));
                self.write(vec![run.encode_after(&room, Seq::ZERO, Some(true))]).await?;
                run = rest;
            }
        }
        // Who has read how far (protocol.md §12): the room's highest
        // watermarks of others, as receipts, so that a client shows what
        // was read at once, not only once they read again. A store that
        // cannot tell costs the join nothing.
        let me = self.member.user();
        match self.chat.store().room_reads(&room, JOIN_RECEIPTS).await {
            Ok(reads) => {
                let frames: Vec<EncodedFrame> = reads
                    .into_iter()
                    .filter(|(user, _)| *user != me)
                    .map(|(user_id, seq)| ServerFrame::Receipt { room: room.clone(), user_id, seq }.encode())
                    .collect();
                if !frames.is_empty() {
                    self.write(frames).await?;
                }
            }
            Err(e) => tracing::warn!(room = %room, error = %e, "read marks unavailable"),
        }
        Ok(())
    }

    /// Whether the store holds `room` up to `since` in the client's history
    /// (`epoch`), so that a `since` ahead of this node is real, not a history
    /// that was reset.
    async fn stored_up_to(chat: &Chat, room: &RoomName, since: Seq, epoch: Option<Epoch>) -> bool {
        match chat.store().room(room).await {
            Ok(info) => since <= info.last_seq && epoch.is_none_or(|e| e == Epoch(0) || e == info.epoch),
            Err(e) => {
                tracing::warn!(room = %room, error = %e, "could not read the room's head");
                false
            }
        }
    }

    /// Every log entry with `after < seq <= up_to`, oldest first. (Takes
    /// the store, not `&self`: the session holds futures that are `Send` but
    /// not `Sync`, so no `&Session` may live across an await.)
    async fn read_between(chat: &Chat, room: &RoomName, after: Seq, up_to: Seq) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        let mut cursor = after;
        while cursor < up_to {
            let page = chat.store().log(room, cursor, MAX_PAGE).await?;
            let Some(last) = page.entries.last() else { break };
            cursor = last.seq();
            out.extend(page.entries.into_iter().filter(|e| e.seq() <= up_to));
        }
        Ok(out)
    }

    async fn leave(&mut self, room: RoomName) -> Step {
        let Some(i) = self.rooms.iter().position(|j| j.room == room) else {
            return self.refuse(Refusal::new(ErrorCode::NotFound, format!("not in room {room}")).in_room(&room)).await;
        };
        self.rooms.remove(i);
        self.chat.hub().unsubscribe(&room, &self.member);
        Ok(())
    }

    /// `read` (protocol.md §12): moves the watermark; no ack. Only in a
    /// joined room, so a connection learns and changes nothing of a room it
    /// is not in.
    async fn read(&mut self, room: RoomName, seq: Seq) -> Step {
        if !self.rooms.iter().any(|j| j.room == room) {
            return self.refuse(Refusal::new(ErrorCode::NotFound, format!("not in room {room}")).in_room(&room)).await;
        }
        match self.chat.mark_read(self.member.user(), &room, seq).await {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(room = %room, error = %e, "read mark not stored");
                self.refuse(store_refusal(&e).in_room(&room)).await
            }
        }
    }

    async fn typing(&mut self, room: RoomName) -> Step {
        if !self.rooms.iter().any(|j| j.room == room) {
            return self.refuse(Refusal::new(ErrorCode::NotFound, format!("not in room {room}")).in_room(&room)).await;
        }
        if let Some(policy) = self.chat.policy().cloned()
            && let Err(denied) = policy.typing(&self.principal(), &room).await
        {
            return self.refuse(denied.refusal().in_room(&room)).await;
        }
        self.chat.typing(&room, &self.principal()).await;
        Ok(())
    }
}

/// Runs a write (or ping) racing what must not wait for it: the outbox
/// closing (a slow consumer cut off, or the connection closed), the server's
/// shutdown, and the write timeout.
///
/// The write is pinned by the caller and lent: moved in, it would take its
/// room in this future's state twice (as the argument and as the pinned
/// local), and so in every connection's.
async fn guarded<F: FusedFuture<Output = ()> + Unpin>(
    mut write: Pin<&mut impl Future<Output = Step>>,
    outbox: &Outbox,
    shutdown: &mut F,
    timeout: Duration,
) -> Step {
    // Most writes finish at once (the socket takes them): those register no
    // timer and poll no other branch, so a healthy connection's hot path
    // costs what it did before writes had a deadline.
    if let Some(written) = write.as_mut().now_or_never() {
        return written;
    }
    // The race is boxed: inline, its timer and waits would make every idle
    // connection's future bigger, for the rare write that blocks.
    Box::pin(async move {
        tokio::select! {
            biased;
            written = &mut write => written,
            closed = outbox.closed_wait() => Err(closed_end(closed)),
            () = shutdown, if !shutdown.is_terminated() => Err(SessionEnd::Shutdown),
            () = tokio::time::sleep(timeout) => Err(SessionEnd::WriteTimeout),
        }
    })
    .await
}

/// How a session ends when its outbox closed for `why`.
/// The refusal of a room `access` does not let in: the same words for a
/// private room one is not in and for one that does not exist.
fn no_entry(access: crate::model::Access, room: &RoomName) -> Refusal {
    let message =
        if access.standing == crate::model::Standing::Banned && access.visibility == crate::model::Visibility::Public {
            format!("banned from room {room}")
        } else {
            format!("not a member of room {room}")
        };
    Refusal::new(ErrorCode::Forbidden, message).in_room(room)
}

pub(super) fn closed_end(why: OutboxClosed) -> SessionEnd {
    match why {
        OutboxClosed::SlowConsumer => SessionEnd::SlowConsumer,
        OutboxClosed::Closed => SessionEnd::Shutdown,
        OutboxClosed::Revoked => SessionEnd::Revoked,
        OutboxClosed::Disconnected => SessionEnd::Disconnected,
    }
}

fn store_refusal(e: &StoreError) -> Refusal {
    match e {
        StoreError::Unavailable(_) => {
            Refusal::new(ErrorCode::StorageUnavailable, "the store is unavailable; nothing was stored, retry later")
        }
        StoreError::Internal(_) => Refusal::new(ErrorCode::Internal, "internal error; nothing was stored"),
    }
}
