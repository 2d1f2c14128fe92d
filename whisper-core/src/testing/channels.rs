//! A session's transport over channels, written once for every test, example
//! and fuzz target that drives [`session::run`](crate::session::run) without
//! a socket.

use futures_util::{Sink, Stream};
use tokio::sync::mpsc;

use crate::session::{Inbound, Outgoing};

/// What the client sends: push frames into the sender; the session reads the
/// stream. Dropping the sender ends the stream, as a client leaving does.
pub fn inbound_channel() -> (mpsc::UnboundedSender<Inbound<String>>, impl Stream<Item = Inbound<String>> + Unpin) {
    let (tx, rx) = mpsc::unbounded_channel();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    (tx, Box::pin(stream))
}

/// What the session writes: it writes into the sink; read it from the
/// receiver. Once the receiver is dropped the sink fails with [`ClientGone`],
/// as a write to a closed socket does.
pub fn outgoing_channel() -> (impl Sink<Outgoing, Error = ClientGone> + Unpin, mpsc::UnboundedReceiver<Outgoing>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink =
        futures_util::sink::unfold(
            tx,
            |tx, out: Outgoing| async move { tx.send(out).map(|()| tx).map_err(|_| ClientGone) },
        );
    (Box::pin(sink), rx)
}

/// The client's end of an [`outgoing_channel`] was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the client is gone")]
pub struct ClientGone;
