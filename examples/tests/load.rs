//! The load generator against real servers on loopback: whisper-server (in
//! this process, SQLite in a temporary directory) and the baseline broadcast
//! server (its binary). Small loads, bounded in time; what is asserted is
//! that every stored message reached every subscriber exactly once, never
//! how fast.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use whisper_server::{Config, Server};

/// Runs the load generator with `args` and returns its JSON report.
fn loadgen(server: &str, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--server", server, "--json", "--duration", "1", "--drain", "5"])
        .args(args)
        .output()
        .expect("the load generator runs");
    assert!(output.status.success(), "loadgen failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("one JSON report")
}

fn n(report: &Value, field: &str) -> u64 {
    report[field].as_u64().unwrap_or_else(|| panic!("{field} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acked_message_reaches_every_whisper_subscriber_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = Config::new(addr, dir.path());
    config.messages_per_second = 10_000;
    config.message_burst = 10_000;
    config.lift_quotas();
    let server = Server::builder(config).build().await.expect("server");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(listener, async {
        let _ = stopped.await;
    }));

    let url = format!("ws://{addr}");
    let pid = std::process::id().to_string();
    let report = tokio::task::spawn_blocking(move || {
        loadgen(
            &url,
            &[
                "--connections",
                "20",
                "--rooms",
                "2",
                "--senders",
                "4",
                "--rate",
                "0",
                "--window",
                "4",
                "--server-pid",
                &pid,
                "--check",
            ],
        )
    })
    .await
    .expect("loadgen thread");

    assert_eq!(n(&report, "connected"), 20);
    assert_eq!(n(&report, "connect_errors"), 0);
    let sent = n(&report, "sent");
    assert!(sent >= 4, "each sender sent its window at least: {report}");
    assert_eq!(n(&report, "refused"), 0);
    // Every sent message was acked, and each of the 10 subscribers of its
    // room (senders included) got every acked one, once.
    assert_eq!(n(&report, "acked"), sent);
    assert_eq!(n(&report, "deliveries"), sent * 10);
    assert_eq!(n(&report, "lost"), 0);
    assert_eq!(n(&report, "duplicates"), 0);
    assert_eq!(n(&report, "dropped"), 0);
    assert_eq!(report["ack_us"]["count"].as_u64(), Some(sent));
    assert!(report["server_rss_kib"].as_u64().is_some_and(|kib| kib > 0), "server memory is read: {report}");
    // The history checker agrees, against the rooms' stored histories.
    let check = &report["check"];
    assert_eq!(n(check, "sent"), sent);
    assert_eq!(n(check, "stored"), sent);
    for fault in ["lost", "unexpected", "duplicated", "out_of_order", "gaps"] {
        assert_eq!(n(check, fault), 0, "{fault}: {check}");
    }

    let _ = stop.send(());
    running.await.expect("server task").expect("server stops cleanly");
}

/// The baseline server, on a port of its choosing.
struct Baseline(Child, String);

impl Baseline {
    fn start() -> Baseline {
        let mut child = Command::new(env!("CARGO_BIN_EXE_baseline_server"))
            .arg("127.0.0.1:0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the baseline server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("its address");
        let url = line.trim().rsplit(' ').next().expect("ws://…").to_string();
        Baseline(child, url)
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_baseline_delivers_every_message_across_processes_and_source_addresses() {
    let baseline = Baseline::start();
    // Two rooms in two worker processes, 30 sockets from 127.0.0.1-3.
    let report = loadgen(
        &baseline.1,
        &[
            "--protocol",
            "baseline",
            "--connections",
            "20",
            "--rooms",
            "2",
            "--senders",
            "4",
            "--rate",
            "400",
            "--idle",
            "10",
            "--processes",
            "2",
            "--per-source",
            "12",
        ],
    );
    assert_eq!(n(&report, "connected"), 30);
    assert_eq!(n(&report, "connect_errors"), 0);
    let sent = n(&report, "sent");
    assert!(sent > 0, "the senders sent: {report}");
    // Each room holds 10 of the 20 connections; idle ones get nothing.
    assert_eq!(n(&report, "deliveries"), sent * 10);
    assert_eq!(n(&report, "lost"), 0);
    assert_eq!(n(&report, "duplicates"), 0);
}
