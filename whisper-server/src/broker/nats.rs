//! Room events between nodes over NATS core pub/sub.
//!
//! Every node publishes its events (stored messages and other timeline
//! events, read receipts, typing, its users per room, heartbeats) as JSON on the cluster's subject (`--nats-subject`) and
//! hands the other nodes' events to its hub. NATS core delivery is at most
//! once, and loses events only around a broken link: after a reconnect, or
//! when this node reads too slowly, the hub is told ([`Hub::link_lost`]) and
//! catches up from the shared store and the other nodes' rosters.

use std::borrow::Cow;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use whisper_core::broker::{Broker, BrokerError, Hub, NodeEvent, UserAction};
use whisper_core::codec::PresenceUser;
use whisper_core::model::{DisplayName, Event, Message, PrincipalKind, RoomName, Seq, UserId};

/// A connection to NATS shared by the node's publishers.
#[derive(Clone)]
pub struct NatsBroker {
    client: async_nats::Client,
    /// The subject every node of the cluster publishes on and listens to.
    subject: String,
    /// The hub to tell when events may have been lost.
    hub: Arc<OnceLock<Hub>>,
}

impl std::fmt::Debug for NatsBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBroker").field("state", &self.client.connection_state()).finish()
    }
}

impl NatsBroker {
    /// Connects to the NATS server at `url` (e.g. `nats://127.0.0.1:4222`).
    /// The client reconnects by itself if the connection drops later.
    pub async fn connect(url: &str, subject: &str) -> Result<NatsBroker, BrokerError> {
        let hub: Arc<OnceLock<Hub>> = Arc::default();
        let watcher = hub.clone();
        let was_disconnected = Arc::new(AtomicBool::new(false));
        let client = async_nats::ConnectOptions::new()
            .name("whisper-server")
            // Our own events are already delivered here: NATS need not send
            // them back for us to decode and drop.
            .no_echo()
            .retry_on_initial_connect()
            .event_callback(move |event| {
                let (hub, was_disconnected) = (watcher.clone(), was_disconnected.clone());
                async move { on_link_event(event, hub.get(), &was_disconnected) }
            })
            .connect(url)
            .await
            .map_err(|e| BrokerError(format!("connecting to NATS at {url}: {e}")))?;
        Ok(NatsBroker { client, subject: subject.to_owned(), hub })
    }
}

/// Events published while the link was down, or dropped because we read too
/// slowly, are lost to us: the hub catches up.
fn on_link_event(event: async_nats::Event, hub: Option<&Hub>, was_disconnected: &AtomicBool) {
    let lost = match event {
        async_nats::Event::Disconnected => {
            tracing::warn!("lost the link to NATS; reconnecting");
            was_disconnected.store(true, Ordering::Relaxed);
            false
        }
        async_nats::Event::Connected => {
            let again = was_disconnected.swap(false, Ordering::Relaxed);
            if again {
                tracing::info!("reconnected to NATS; catching up on what other nodes said meanwhile");
            }
            again
        }
        async_nats::Event::SlowConsumer(_) => {
            tracing::warn!("events from other nodes were dropped (read too slowly); catching up");
            true
        }
        other => {
            tracing::info!(event = %other, "NATS");
            false
        }
    };
    if lost && let Some(hub) = hub {
        hub.link_lost();
    }
}

/// What goes over the wire: the origin node and the event.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope<'a> {
    node: Cow<'a, str>,
    #[serde(flatten)]
    event: WireEvent<'a>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireEvent<'a> {
    Messages {
        messages: Cow<'a, [Message]>,
    },
    Events {
        events: Cow<'a, [Event]>,
    },
    Receipt {
        room: Cow<'a, RoomName>,
        user_id: UserId,
        seq: Seq,
    },
    Typing {
        room: Cow<'a, RoomName>,
        user_id: UserId,
        name: Cow<'a, DisplayName>,
        #[serde(default, skip_serializing_if = "PrincipalKind::is_guest")]
        principal: PrincipalKind,
    },
    Presence {
        room: Cow<'a, RoomName>,
        users: Cow<'a, [PresenceUser]>,
    },
    Heartbeat {
        #[serde(default)]
        synced: bool,
    },
    User {
        user_id: UserId,
        action: Cow<'a, UserAction>,
    },
    Hello,
}

impl WireEvent<'_> {
    fn as_node_event(&self) -> NodeEvent<'_> {
        match self {
            WireEvent::Messages { messages } => NodeEvent::Messages(messages),
            WireEvent::Events { events } => NodeEvent::Events(events),
            WireEvent::Receipt { room, user_id, seq } => NodeEvent::Receipt { room, user_id: *user_id, seq: *seq },
            WireEvent::Typing { room, user_id, name, principal } => {
                NodeEvent::Typing { room, user_id: *user_id, name, principal: *principal }
            }
            WireEvent::Presence { room, users } => NodeEvent::Presence { room, users },
            WireEvent::Heartbeat { synced } => NodeEvent::Heartbeat { synced: *synced },
            WireEvent::User { user_id, action } => NodeEvent::User { user_id: *user_id, action },
            WireEvent::Hello => NodeEvent::Hello,
        }
    }
}

/// The JSON payload of `node`'s event.
fn encode(node: &str, event: &NodeEvent<'_>) -> Result<Vec<u8>, BrokerError> {
    let event = match *event {
        NodeEvent::Messages(messages) => WireEvent::Messages { messages: Cow::Borrowed(messages) },
        NodeEvent::Events(events) => WireEvent::Events { events: Cow::Borrowed(events) },
        NodeEvent::Receipt { room, user_id, seq } => WireEvent::Receipt { room: Cow::Borrowed(room), user_id, seq },
        NodeEvent::Typing { room, user_id, name, principal } => {
            WireEvent::Typing { room: Cow::Borrowed(room), user_id, name: Cow::Borrowed(name), principal }
        }
        NodeEvent::Presence { room, users } => {
            WireEvent::Presence { room: Cow::Borrowed(room), users: Cow::Borrowed(users) }
        }
        NodeEvent::Heartbeat { synced } => WireEvent::Heartbeat { synced },
        NodeEvent::User { user_id, action } => WireEvent::User { user_id, action: Cow::Borrowed(action) },
        NodeEvent::Hello => WireEvent::Hello,
    };
    serde_json::to_vec(&Envelope { node: Cow::Borrowed(node), event })
        .map_err(|e| BrokerError(format!("encoding an event: {e}")))
}

#[async_trait]
impl Broker for NatsBroker {
    async fn attach(&self, node: &str, hub: Hub) -> Result<(), BrokerError> {
        let _ = self.hub.set(hub.clone());
        let subject = self.subject.clone();
        let mut events = self
            .client
            .subscribe(subject.clone())
            .await
            .map_err(|e| BrokerError(format!("subscribing to {subject}: {e}")))?;
        let node = node.to_owned();
        tokio::spawn(async move {
            while let Some(message) = events.next().await {
                let envelope: Envelope<'_> = match serde_json::from_slice(&message.payload) {
                    Ok(envelope) => envelope,
                    Err(e) => {
                        tracing::warn!(error = %e, %subject, "an unreadable event; ignored");
                        continue;
                    }
                };
                if envelope.node == node {
                    continue; // our own (another connection with our id?), already delivered here
                }
                envelope.event.as_node_event().apply(&hub, &envelope.node);
            }
            tracing::warn!("the NATS subscription ended: no more events from other nodes");
        });
        // The subscription is registered with the server before we say we are attached.
        self.client.flush().await.map_err(|e| BrokerError(format!("NATS flush: {e}")))?;
        Ok(())
    }

    async fn publish(&self, node: &str, event: &NodeEvent<'_>) -> Result<(), BrokerError> {
        let payload = encode(node, event)?;
        self.client
            .publish(self.subject.clone(), payload.into())
            .await
            .map_err(|e| BrokerError(format!("publishing: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use whisper_core::model::{Emoji, MessageId, NewEvent, Request};

    fn events_of(room: &RoomName, user: UserId) -> Vec<Event> {
        let name = DisplayName::parse("Ada").unwrap();
        let react = Request::React { emoji: Emoji::parse("👍").unwrap(), on: true };
        let edit = Request::Edit { content: "fixed".into() };
        let target = MessageId::generate();
        vec![
            NewEvent::now(room.clone(), Some(target), user, name.clone(), edit, None).stored_at(Seq(2), 0),
            NewEvent::now(room.clone(), Some(target), user, name, react, None).stored_at(Seq(3), 1),
        ]
    }

    #[test]
    fn every_event_survives_the_wire() {
        let room = RoomName::lobby();
        let users = [PresenceUser::guest(UserId::random(), DisplayName::parse("Ada").unwrap())];
        let events = [
            NodeEvent::Presence { room: &room, users: &users },
            NodeEvent::Heartbeat { synced: true },
            NodeEvent::Heartbeat { synced: false },
            NodeEvent::Hello,
            NodeEvent::User { user_id: users[0].user_id, action: &UserAction::Revoke { session: "s1".into() } },
            NodeEvent::Typing {
                room: &room,
                user_id: users[0].user_id,
                name: &users[0].name,
                principal: PrincipalKind::Account,
            },
            NodeEvent::Receipt { room: &room, user_id: users[0].user_id, seq: Seq(7) },
            NodeEvent::Events(&events_of(&room, users[0].user_id)),
        ];
        for event in events {
            let payload = encode("node-a", &event).unwrap();
            let envelope: Envelope<'_> = serde_json::from_slice(&payload).unwrap();
            assert_eq!(envelope.node, "node-a");
            assert_eq!(envelope.event.as_node_event(), event, "{}", String::from_utf8_lossy(&payload));
        }
    }
}
