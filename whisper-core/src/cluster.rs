//! A node's part in a cluster: the task that says hello, publishes the
//! node's rosters when they change (all of them after a hello, ending with a
//! `synced` heartbeat), sends heartbeats and forgets nodes that went silent.
//! It runs only for a [`Chat`](crate::Chat) made with a broker; a lone node
//! has no such task.

use std::sync::Arc;

use tokio::time::{Instant, MissedTickBehavior};

use crate::broker::{Broker, NodeEvent};
use crate::hub::Hub;
use crate::limits::Limits;

/// Runs until aborted (when the node's `Chat` is dropped).
pub(crate) async fn run(hub: Hub, broker: Arc<dyn Broker>, node: String, limits: Arc<Limits>) {
    hub.join_cluster();
    let mut heartbeat = tokio::time::interval(limits.peer_heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let beat = tokio::select! {
            _ = heartbeat.tick() => true,
            _ = hub.cluster_work_ready() => false,
        };
        let work = hub.take_cluster_work();
        let mut ok = true;
        if work.hello {
            ok &= publish(&*broker, &node, NodeEvent::Hello).await;
        }
        for (room, users) in &work.rosters {
            ok &= publish(&*broker, &node, NodeEvent::Presence { room, users }).await;
        }
        // A heartbeat right after republishing everything (for our hello or
        // another node's) ends it: the others drop whatever of ours it did
        // not renew.
        if beat || work.all {
            ok &= publish(&*broker, &node, NodeEvent::Heartbeat { synced: work.all }).await;
        }
        if beat && let Some(deadline) = Instant::now().checked_sub(limits.peer_timeout) {
            hub.expire_peers(deadline);
        }
        if !ok {
            // The broker is unreachable: say hello once it is back, without
            // spinning meanwhile.
            hub.owe_hello();
            tokio::time::sleep(limits.peer_heartbeat).await;
        }
        if !work.rosters.is_empty() {
            // Coalesce a burst of joins into one roster per room per interval.
            tokio::time::sleep(limits.presence_interval).await;
        }
    }
}

async fn publish(broker: &dyn Broker, node: &str, event: NodeEvent<'_>) -> bool {
    match broker.publish(node, &event).await {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, "could not tell the other nodes; will say hello again");
            false
        }
    }
}
