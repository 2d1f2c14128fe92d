//! Test doubles shared by the workspace's tests (feature `test-util`), each
//! written once: a store that fails as a broken database does, and a TCP
//! proxy a test can cut or stall.

mod failing_store;
mod proxy;

pub use failing_store::FailingStore;
pub use proxy::{Mode, Proxy};
