//! The `brewlink` command as a user runs it.

mod common;

use std::{process::Command, time::Duration};

fn brewlink() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brewlink"));
    // The tests' own environment must not leak into the command's configuration.
    for (key, _) in std::env::vars() {
        if key.starts_with("BREWLINK_") || key == "DATABASE_URL" || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command
}

#[test]
fn help_explains_the_commands_and_options() {
    let output = brewlink().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for word in ["serve", "migrate", "config", "--config", "BREWLINK_"] {
        assert!(help.contains(word), "--help mentions {word}:\n{help}");
    }
}

#[test]
fn config_print_shows_the_effective_configuration() {
    let output = brewlink()
        .args(["config", "print"])
        .env("BREWLINK_MQTT_PORT", "1884")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("port = 1884"), "{text}");
    assert!(
        text.contains("# Port of the embedded broker's plain listener"),
        "{text}"
    );
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let output = brewlink()
        .args(["config", "print"])
        .env("BREWLINK_MQTT_PORT", "99999")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8(output.stderr).unwrap();
    assert!(
        error.contains("brewlink: invalid configuration: mqtt.port (from BREWLINK_MQTT_PORT)"),
        "{error}"
    );
}

#[tokio::test]
async fn migrate_creates_and_updates_the_database() {
    // On SQLite the default database (brewlink.db in the data folder); on PostgreSQL a fresh database
    // named by BREWLINK_DATABASE_URL.
    let store = common::Db::from_env();
    let dir = tempfile::tempdir().unwrap();
    let database = common::TestDatabase::fresh(dir.path()).await;
    for _ in 0..2 {
        let mut command = brewlink();
        command.arg("migrate").env("BREWLINK_DATA_DIR", dir.path());
        if store == common::Db::Postgres {
            command.env("BREWLINK_DATABASE_URL", &database.url);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains(&format!("database is up to date ({})", store.name())),
            "{stdout}"
        );
    }
    assert_eq!(
        dir.path().join("brewlink.db").exists(),
        store == common::Db::Sqlite
    );
}

#[test]
fn a_taken_mqtt_port_names_the_port_and_the_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let output = brewlink()
        .arg("serve")
        .env("BREWLINK_DATA_DIR", dir.path())
        .env("BREWLINK_HTTP_ADDR", "127.0.0.1:0")
        .env("BREWLINK_MQTT_PORT", port.to_string())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8(output.stderr).unwrap();
    assert!(error.contains(&format!("MQTT port {port}")), "{error}");
    assert!(
        error.contains("BREWLINK_MQTT_PORT") && error.contains("BREWLINK_MQTT_EXTERNAL_URL"),
        "{error}"
    );
}

/// `brewlink serve` on free ports with its data in `dir`, once it says it serves.
#[cfg(unix)]
fn serving(dir: &std::path::Path) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let mut child = brewlink()
        .arg("serve")
        .env("BREWLINK_DATA_DIR", dir)
        .env("BREWLINK_HTTP_ADDR", "127.0.0.1:0")
        .env("BREWLINK_MQTT_PORT", "0")
        .env("BREWLINK_MQTT_TLS_PORT", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("BrewLink is serving http://127.0.0.1:"),
        "{line}"
    );
    child
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serving(dir.path());

    let stopped_at = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(5),
            "the server did not stop within 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(unix)]
#[test]
fn a_second_sigterm_ends_the_server_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serving(dir.path());
    // Two signals back to back: the second does not wait for the orderly stop.
    let pid = child.id().to_string();
    for _ in 0..2 {
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
    }
    let sent = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(sent.elapsed() < Duration::from_secs(5), "still running");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Either the orderly stop won the race (0) or the second signal ended it (1); never a hang.
    assert!(matches!(status.code(), Some(0 | 1)), "{status}");
}
