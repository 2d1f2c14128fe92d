//! PostgreSQL stopped with `pg_ctlcluster … stop -m immediate` in the middle
//! of a load, then started again: senders get `storage_unavailable`, nothing
//! acked is lost, and the same server process recovers by itself.
//!
//! This stops the machine's shared PostgreSQL for about a second, so it is a
//! test binary of its own with a single test (cargo runs test binaries one at
//! a time), and a guard starts PostgreSQL again however the test ends.
//! Without `pg_ctlcluster` (not a Debian-style PostgreSQL) it says it
//! skipped, except under `CI=true`, where that is a failure.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use whisper_core::model::RoomName;
use whisper_core::testing::history::HistoryChecker;

use support::process::stored_log;
use support::resilient::{History, Resilient, settle};
use support::server::start_with;

/// The local cluster, as `pg_ctlcluster` names it: (version, "main").
fn cluster() -> Option<String> {
    let versions = std::fs::read_dir("/etc/postgresql").ok()?;
    let version = versions.filter_map(|e| e.ok()?.file_name().into_string().ok()).max()?;
    let ok = Command::new("pg_ctlcluster").arg("--help").output().is_ok();
    ok.then_some(version)
}

fn pg_ctl(version: &str, action: &[&str]) -> bool {
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, "main"])
        .args(action)
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts PostgreSQL again when dropped, whatever happened.
struct Restart(String);

impl Drop for Restart {
    fn drop(&mut self) {
        if !pg_ctl(&self.0, &["start"]) {
            // Already running (the test restarted it), or really broken:
            // `status` tells which, and a broken one must be loud.
            assert!(pg_ctl(&self.0, &["status"]), "could not start PostgreSQL {} again", self.0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_load_loses_nothing_and_the_server_recovers() {
    let Some(version) = cluster() else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "pg_ctlcluster is needed under CI=true");
        eprintln!("skipped: no pg_ctlcluster here");
        return;
    };
    let Some(db) = whisper_store::testing::pg::fresh_database().await else { return };
    let server = start_with(|c| {
        c.database_url = Some(db.url().to_owned());
        c.messages_per_second = 100_000;
        c.message_burst = 100_000;
    })
    .await;

    const CLIENTS: usize = 4;
    const EACH: u64 = 80;
    let room = RoomName::parse("outage").unwrap();
    let history: History = Arc::new(std::sync::Mutex::new(HistoryChecker::default()));
    let (_addr_tx, addr_rx) = watch::channel(server.addr);
    let (done_tx, done_rx) = watch::channel(false);
    let finished = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let client = Resilient::new(&format!("o{i}"), &room, EACH, Duration::from_millis(5), &history);
        tasks.push(tokio::spawn(client.run(addr_rx.clone(), finished.clone(), done_rx.clone())));
    }

    let deadline = Instant::now() + Duration::from_secs(90);
    while history.lock().unwrap().acked_so_far() < CLIENTS as u64 * EACH / 4 {
        assert!(Instant::now() < deadline, "the load stalled before the outage");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    {
        let _restart = Restart(version.clone());
        assert!(pg_ctl(&version, &["stop", "-m", "immediate"]), "pg_ctlcluster stop");
        // Sending goes on against a store that is gone.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    } // PostgreSQL starts again here.

    while finished.load(Ordering::SeqCst) < CLIENTS {
        assert!(Instant::now() < deadline, "the server did not recover: {}", history.lock().unwrap().check_log(&[]));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stored = stored_log(server.addr, &room).await;
    settle(&history, &stored, Duration::from_secs(20)).await;
    done_tx.send(true).expect("clients listen");
    let (mut refused, mut unavailable) = (0, 0);
    for t in tasks {
        let stats = t.await.expect("client task");
        refused += stats.refused;
        unavailable += stats.unavailable;
    }

    let report = history.lock().unwrap().check_log(&stored);
    eprintln!("PostgreSQL stopped for 1.5 s ({refused} refusals): {report}");
    assert!(report.passed(), "{report}");
    assert!(report.stored_events > 0, "reactions rode along with the messages: {report}");
    assert!(unavailable > 0, "senders were told the store was unavailable while it was down");
    assert_eq!(refused, unavailable, "every refusal said storage_unavailable");
    assert_eq!(report.acked, CLIENTS as u64 * EACH, "every message acked once PostgreSQL was back: {report}");
    assert_eq!(report.stored, report.acked);
    let (status, _) = support::server::http_get(server.addr, "/readyz", &[]).await;
    assert_eq!(status, 200, "ready again without a restart");
    server.stop().await;
}
