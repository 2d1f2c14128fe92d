//! Room events between nodes over NATS core pub/sub.
//!
//! Every node publishes its events (stored messages, typing) as JSON on the
//! cluster's subject (`--nats-subject`) and hands the other nodes' events to
//! its hub. NATS core delivery
//! is at most once: a node that misses an event sees the next message's seq
//! jump and reads the missing ones from the shared store, so the broker may
//! lose or reorder events without losing messages.

use std::borrow::Cow;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use whisper_core::broker::{Broker, BrokerError, RoomEvent};
use whisper_core::hub::Hub;
use whisper_core::model::{DisplayName, Message, RoomName, UserId};

/// A connection to NATS shared by the node's publishers.
#[derive(Clone)]
pub struct NatsBroker {
    client: async_nats::Client,
    /// The subject every node of the cluster publishes on and listens to.
    subject: String,
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
        let client = async_nats::ConnectOptions::new()
            .name("whisper-server")
            .retry_on_initial_connect()
            .connect(url)
            .await
            .map_err(|e| BrokerError(format!("connecting to NATS at {url}: {e}")))?;
        Ok(NatsBroker { client, subject: subject.to_owned() })
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
    Messages { messages: Cow<'a, [Message]> },
    Typing { room: Cow<'a, RoomName>, user_id: UserId, name: Cow<'a, DisplayName> },
}

#[async_trait]
impl Broker for NatsBroker {
    async fn attach(&self, node: &str, hub: Hub) -> Result<(), BrokerError> {
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
                    continue; // our own, already delivered here
                }
                match &envelope.event {
                    WireEvent::Messages { messages } => RoomEvent::Messages(messages).apply(&hub),
                    WireEvent::Typing { room, user_id, name } => {
                        RoomEvent::Typing { room, user_id: *user_id, name }.apply(&hub)
                    }
                }
            }
            tracing::warn!("the NATS subscription ended: no more events from other nodes");
        });
        // The subscription is registered with the server before we say we are attached.
        self.client.flush().await.map_err(|e| BrokerError(format!("NATS flush: {e}")))?;
        Ok(())
    }

    async fn publish(&self, node: &str, event: &RoomEvent<'_>) -> Result<(), BrokerError> {
        let event = match *event {
            RoomEvent::Messages(messages) => WireEvent::Messages { messages: Cow::Borrowed(messages) },
            RoomEvent::Typing { room, user_id, name } => {
                WireEvent::Typing { room: Cow::Borrowed(room), user_id, name: Cow::Borrowed(name) }
            }
        };
        let payload = serde_json::to_vec(&Envelope { node: Cow::Borrowed(node), event })
            .map_err(|e| BrokerError(format!("encoding an event: {e}")))?;
        self.client
            .publish(self.subject.clone(), payload.into())
            .await
            .map_err(|e| BrokerError(format!("publishing: {e}")))
    }
}
