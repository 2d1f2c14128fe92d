//! Test tools (feature `test-util`): what the tests of this workspace, the
//! load generator and the tests of an embedding application share, so that
//! each is written once.
//!
//! - [`history`] — the history checker: judges a run (a test, a load) by what
//!   was sent, acked and delivered against the stored history.
//! - [`inbound_channel`] and [`outgoing_channel`] — a session's transport
//!   over channels: drive [`session::run`](crate::session::run) as a server
//!   drives it over a WebSocket, with the client's side in your hands.
//! - [`FailingStore`] — a store that fails as a broken database does.
//! - [`Proxy`] — a TCP proxy a test can cut or stall, between a server and
//!   its database or broker.
//! - [`fanout`] — one room of a bare hub and its subscribers, for the
//!   fan-out benchmark.
//!
//! The conformance suites live beside what they check:
//! [`store::conformance`](crate::store::conformance) and
//! [`broker::conformance`](crate::broker::conformance).

mod channels;
mod failing_store;
pub mod fanout;
pub mod history;
mod proxy;

pub use channels::{ClientGone, inbound_channel, outgoing_channel};
pub use failing_store::FailingStore;
pub use proxy::{Mode, Proxy};
