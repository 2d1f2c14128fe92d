//! The binary as a person meets it: `--help`, and a mistake in the
//! configuration reported as one readable line with a failing exit status.

use std::process::Command;

fn whisper_server(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_whisper-server"))
        .args(args)
        // As on a developer's machine: a configuration error still must not
        // come out as a backtrace.
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LOG", "off")
        .output()
        .expect("whisper-server runs")
}

#[test]
fn help_lists_the_options_of_every_deployment() {
    let out = whisper_server(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in ["--bind", "--data-dir", "--database-url", "--nats-url", "--secret", "--web-dir"] {
        assert!(help.contains(option), "--help mentions {option}:\n{help}");
    }
}

#[test]
fn an_address_in_use_is_one_line_and_exit_status_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let out = whisper_server(&["--bind", &addr, "--data-dir", data_dir]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line:\n{stderr}");
    assert!(stderr.starts_with(&format!("whisper-server: binding {addr}: ")), "{stderr}");
    assert!(stderr.to_lowercase().contains("in use"), "says why: {stderr}");
}

#[test]
fn an_unknown_option_is_refused_with_a_hint() {
    let out = whisper_server(&["--nats", "nats://127.0.0.1:4222"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("--nats-url"), "suggests the right option: {stderr}");
}

#[test]
fn a_weak_or_empty_secret_stops_the_server_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let base = ["--bind", "127.0.0.1:0", "--data-dir", data_dir];
    let runs: [(&[&str], Option<&str>); 4] = [
        (&["--secret", ""], None),
        (&["--secret", "a"], None),
        (&["--secret", "passwordpasswordpasswordpassword"], None),
        // One missing export in a deployment script: the variable is set, empty.
        (&[], Some("")),
    ];
    for (args, env) in runs {
        let mut command = Command::new(env!("CARGO_BIN_EXE_whisper-server"));
        command.args(base).args(args).env("RUST_LOG", "off").env_remove("WHISPER_SECRET");
        if let Some(value) = env {
            command.env("WHISPER_SECRET", value);
        }
        let out = command.output().expect("whisper-server runs");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?} {env:?} is refused: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line:\n{stderr}");
        assert!(stderr.contains("secret"), "says what is wrong: {stderr}");
        assert!(stderr.contains("openssl rand -hex 32"), "says how to fix it: {stderr}");
    }
    assert!(!dir.path().join("secret").exists(), "a refused secret is not replaced by a generated one");
}
