//! The broker conformance suite over NATS: each node a [`NatsBroker`] of its
//! own, connected through a [`Proxy`] the check cuts to break its link, on a
//! subject of the test's own so that tests running at once stay apart.
//!
//! Needs NATS on 127.0.0.1:4222 (`WHISPER_TEST_NATS_URL`); without it the
//! tests say they skipped, except under `CI=true`.

#![cfg(feature = "nats")]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use whisper_core::broker::Broker;
use whisper_core::broker::conformance::BrokerCluster;
use whisper_core::testing::Proxy;
use whisper_server::broker::NatsBroker;

use support::nats::nats_addr;

/// One test's nodes on the local NATS, each through a proxy of its own.
#[derive(Debug)]
struct NatsCluster {
    nats: String,
    subject: String,
    links: Mutex<HashMap<String, Arc<Proxy>>>,
}

impl NatsCluster {
    fn link(&self, node: &str) -> Arc<Proxy> {
        self.links.lock().unwrap().get(node).cloned().expect("a node of this cluster")
    }
}

/// A cluster on a fresh subject, or `None` when NATS is not there.
async fn cluster() -> Option<NatsCluster> {
    let nats = nats_addr().await?;
    let subject = format!("whisper.test.{}", uuid::Uuid::new_v4().simple());
    Some(NatsCluster { nats, subject, links: Mutex::default() })
}

#[whisper_core::async_trait]
impl BrokerCluster for NatsCluster {
    async fn node(&self, name: &str) -> Arc<dyn Broker> {
        let proxy = Arc::new(Proxy::start(self.nats.clone()).await);
        let url = format!("nats://{}", proxy.addr());
        self.links.lock().unwrap().insert(name.to_owned(), proxy);
        Arc::new(NatsBroker::connect(&url, &self.subject).await.expect("connect to NATS through the proxy"))
    }

    async fn cut(&self, name: &str) {
        self.link(name).cut();
    }

    async fn restore(&self, name: &str) {
        self.link(name).restore();
    }
}

whisper_core::broker_conformance_tests!(maybe cluster());
