//! The two_sessions example: Ada's greeting reaches Bob and Ada through one
//! in-process chat, and is stored once.

use std::sync::Arc;

use whisper_core::Chat;
use whisper_core::model::{RoomName, Seq};
use whisper_core::store::{MemoryStore, ReadRange};

// An example cannot be imported: the test compiles its source as a module.
#[path = "../examples/two_sessions.rs"]
#[allow(dead_code)] // its `main`
mod two_sessions;

#[tokio::test]
async fn the_greeting_reaches_both_sessions_and_is_stored_once() {
    let chat = Chat::builder(Arc::new(MemoryStore::new())).build();
    let (to_ada, to_bob) =
        tokio::time::timeout(std::time::Duration::from_secs(10), two_sessions::converse(&chat)).await.expect("in time");
    for (who, got) in [("Bob", &to_bob), ("Ada", &to_ada)] {
        assert_eq!(got.len(), 1, "{who} gets the one message");
        assert_eq!(got[0].content.as_ref(), "Hello, Bob!", "{who}");
        assert_eq!(got[0].name.as_str(), "Ada", "{who}: the sender's name");
        assert_eq!(got[0].seq, Seq(1));
    }
    assert_eq!(to_ada[0].id, to_bob[0].id, "one message, seen by both");
    let page = chat.store().read(&RoomName::lobby(), ReadRange::latest(10)).await.expect("read");
    assert_eq!(page.messages.len(), 1, "stored once");
}
