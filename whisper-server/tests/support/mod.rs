//! Shared by the integration tests; each test binary uses a part of it.
#![allow(unreachable_pub, dead_code)]

pub mod images;
pub mod nats;
pub mod people;
pub mod process;
pub mod resilient;
pub mod server;
