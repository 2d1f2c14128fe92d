//! Cross-node fan-out for whisper-core's [`Broker`](whisper_core::broker::Broker):
//! NATS (feature `nats`, `--nats-url`). Without it a server is a single node
//! with the in-process broker.

#[cfg(feature = "nats")]
mod nats;

#[cfg(feature = "nats")]
pub use nats::NatsBroker;
