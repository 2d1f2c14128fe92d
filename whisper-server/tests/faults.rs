//! Faults, judged by the history checker: the whisper-server process is
//! killed with SIGKILL in the middle of a load and started again on the same
//! data, on SQLite and on PostgreSQL. Clients reconnect with their tokens,
//! resend what was not acked with the same `client_id`s and recover with
//! `since_seq`; in the end nothing acked may be lost, nothing stored twice or
//! out of thin air, and every subscriber must have every message, in order.
//!
//! Loopback only; each test is bounded (a few hundred messages, a deadline).

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use whisper_core::model::{Entry, RoomName};
use whisper_core::testing::history::HistoryChecker;

use support::process::{ServerProcess, args, free_addr, stored_log};
use support::resilient::{History, Resilient, settle};

/// The server on `addr` over the data in `data_dir` (and PostgreSQL, if given).
async fn start(addr: SocketAddr, data_dir: &Path, database_url: Option<&str>) -> ServerProcess {
    let mut argv = args(["--data-dir".as_ref(), data_dir.as_os_str()]);
    if let Some(url) = database_url {
        argv.extend(args(["--database-url", url]));
    }
    ServerProcess::start(addr, &argv).await
}

/// SIGKILLs per run, spread evenly over the load.
const KILLS: u64 = 5;

/// Runs resilient clients over two rooms, kills the server with SIGKILL
/// [`KILLS`] times while they send, restarts it each time on the same data,
/// and checks the history.
async fn kill9_mid_load(data_dir: &Path, database_url: Option<&str>) {
    const CLIENTS: usize = 8;
    const EACH: u64 = 75;
    let rooms = [RoomName::parse("faults/a").unwrap(), RoomName::parse("faults/b").unwrap()];
    let addr = free_addr();
    let mut server = start(addr, data_dir, database_url).await;

    let history: History = Arc::new(std::sync::Mutex::new(HistoryChecker::default()));
    let (addr_tx, addr_rx) = watch::channel(addr);
    let (done_tx, done_rx) = watch::channel(false);
    let finished = Arc::new(AtomicUsize::new(0));
    let connected = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let client = Resilient::new(&format!("c{i}"), &rooms[i % 2], EACH, Duration::from_millis(5), &history)
            .counting_connections(&connected);
        tasks.push(tokio::spawn(client.run(addr_rx.clone(), finished.clone(), done_rx.clone())));
    }

    // The crashes while messages flow. Before each, every client is
    // connected to the current server, so each crash hits all of them.
    let deadline = Instant::now() + Duration::from_secs(90);
    // Each message unacked at some crash, once (a client that reconnected
    // but had not yet resent when the next crash came holds the same ones).
    let mut in_flight_at_crashes = std::collections::HashSet::new();
    let total = CLIENTS as u64 * EACH;
    for crash in 0..KILLS {
        let kill_at = total * (crash + 1) / (KILLS + 2);
        let lives = (crash + 1) as u32;
        while acked(&history) < kill_at || connected.load(Ordering::SeqCst) < lives * CLIENTS as u32 {
            assert!(Instant::now() < deadline, "the load stalled before the crash");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill9();
        // Every client sees its connection fail well within this; what is
        // still unacked then must be sent again.
        tokio::time::sleep(Duration::from_millis(200)).await;
        in_flight_at_crashes.extend(history.lock().unwrap().pending());
        server = start(addr, data_dir, database_url).await;
        let _ = addr_tx.send(addr);
    }
    let lives = (KILLS + 1) as u32;
    while finished.load(Ordering::SeqCst) < CLIENTS || connected.load(Ordering::SeqCst) < lives * CLIENTS as u32 {
        assert!(Instant::now() < deadline, "clients did not get every message acked: {}", report(&history, &[]));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut stored = Vec::new();
    for room in &rooms {
        stored.extend(stored_log(server.addr, room).await);
    }
    settle(&history, &stored, Duration::from_secs(20)).await;
    done_tx.send(true).expect("clients listen");
    let mut reconnects = 0;
    for t in tasks {
        reconnects += t.await.expect("client task").connections;
    }

    let report = report(&history, &stored);
    let in_flight = in_flight_at_crashes.len();
    eprintln!("after {KILLS} SIGKILLs ({reconnects} connections, {in_flight} in flight): {report}");
    assert!(report.passed(), "{report}");
    assert!(report.stored_events > 0, "reactions rode along with the messages: {report}");
    assert_eq!(report.sent, CLIENTS as u64 * EACH);
    assert_eq!(report.acked, report.sent, "every message acked in the end: {report}");
    assert_eq!(report.stored, report.sent, "each stored once: {report}");
    // The crashes hit messages in flight, and those were sent again: most
    // of them. Not each one: an ack the dead server wrote may still be read
    // after the crash was counted (a starved client reads late), and that
    // message needed no resend. That none was lost or stored twice is
    // asserted above.
    let resent = {
        let history = history.lock().unwrap();
        in_flight_at_crashes.iter().filter(|(user, id)| history.attempts(*user, id) >= 2).count()
    };
    assert!(in_flight > 0, "the crashes hit messages in flight: {report}");
    assert!(resent * 2 >= in_flight, "messages in flight at a crash were sent again: {resent} of {in_flight}");
    assert!(reconnects >= lives * CLIENTS as u32, "every client reconnected after each crash: {reconnects}");
}

fn acked(history: &History) -> u64 {
    history.lock().unwrap().acked_so_far()
}

fn report(history: &History, stored: &[Entry]) -> whisper_core::testing::history::CheckReport {
    history.lock().unwrap().check_log(stored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_nothing_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    kill9_mid_load(dir.path(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_nothing_on_postgres() {
    let Some(db) = whisper_store::testing::pg::fresh_database().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    kill9_mid_load(dir.path(), Some(db.url())).await;
}
