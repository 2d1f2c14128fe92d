//! Shared by the integration tests; each test binary uses a part of it.
#![allow(unreachable_pub, dead_code)]

pub mod pg;
pub mod process;
pub mod proxy;
pub mod resilient;
pub mod server;
