//! Connection storms and a killed server, against the real binaries: a server process and a
//! simulator process that registers its devices and then starts them all at once, as a power return
//! does to a street of controllers; and a server killed with SIGKILL under a device's stream.
//! `BREWLINK_STORM_DEVICES` sets the crowd (default 1,000; the long variant of the test command runs
//! 5,000 and 10,000).
#![cfg(unix)]

mod common;

use std::{
    net::SocketAddr,
    process::Stdio,
    time::{Duration, Instant},
};

use common::{Db, TestDatabase, free_port};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
};

const EMAIL: &str = "storm@example.com";
const PASSWORD: &str = "storm-password-1";
/// How long the whole crowd may take to connect, from the moment the simulator starts them.
const CONNECT_LIMIT: Duration = Duration::from_secs(90);
/// Descriptors the server holds apart from its device connections (database, bridge, listeners).
const DESCRIPTOR_OVERHEAD: u64 = 200;

fn devices() -> usize {
    std::env::var("BREWLINK_STORM_DEVICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000)
}

/// The `brewlink` binary with none of the tests' own configuration.
fn brewlink() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brewlink"));
    for (key, _) in std::env::vars() {
        if key.starts_with("BREWLINK_") || key == "DATABASE_URL" || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command.kill_on_drop(true);
    command
}

/// Where one server runs; it can be stopped and started again on the same ports and data.
struct Server {
    dir: tempfile::TempDir,
    database: TestDatabase,
    http: SocketAddr,
    mqtt_port: u16,
    tls_port: u16,
    child: Option<Child>,
    client: reqwest::Client,
}

impl Server {
    async fn new() -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let database = TestDatabase::create(Db::from_env(), dir.path()).await;
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], free_port())),
            mqtt_port: free_port(),
            tls_port: free_port(),
            dir,
            database,
            child: None,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    /// Starts `brewlink serve` and waits for it to say it serves.
    async fn start(&mut self) {
        let mut child = brewlink()
            .arg("serve")
            .env("BREWLINK_DATA_DIR", self.dir.path())
            .env("BREWLINK_DATABASE_URL", &self.database.url)
            .env("BREWLINK_HTTP_ADDR", self.http.to_string())
            .env("BREWLINK_MQTT_PORT", self.mqtt_port.to_string())
            .env("BREWLINK_MQTT_TLS_HOST", "127.0.0.1")
            .env("BREWLINK_MQTT_TLS_PORT", self.tls_port.to_string())
            .env("BREWLINK_DEVICES_PER_USER", "100000")
            // The kill test streams as fast as it can; the rate limit has tests of its own.
            .env("BREWLINK_DEVICES_MESSAGE_BURST", "100000")
            // Each silent socket is a warning of rmqtt's: only errors here.
            .env("BREWLINK_LOG_LEVEL", "warn,rmqtt=error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .unwrap_or_default();
        assert!(line.starts_with("BrewLink is serving"), "{line}");
        self.child = Some(child);
    }

    /// Sends SIGTERM and returns how long the process took to end, and whether it ended cleanly.
    async fn stop(&mut self) -> (Duration, bool) {
        let mut child = self.child.take().expect("running");
        let at = Instant::now();
        terminate(&child);
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("the server ends after SIGTERM")
            .unwrap();
        (at.elapsed(), status.success())
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// One figure of `/metrics` (0 when absent).
    async fn metric(&self, name: &str) -> u64 {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("/metrics answers during the storm")
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .map_or(0, |value| value as u64)
    }

    /// Waits until `/metrics` shows at least `count` connected devices; returns the time it took.
    async fn connected(&self, count: u64, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            // The bridge is a client too.
            let clients = self
                .metric("brewlink_broker_clients")
                .await
                .saturating_sub(1);
            if clients >= count {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "{clients} of {count} devices connected after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn signup(&self) {
        let response = self
            .client
            .post(self.url("/api/v1/auth/signup"))
            .json(&serde_json::json!({ "email": EMAIL, "password": PASSWORD, "name": "Storm" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
}

fn terminate(child: &Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Device connects once everybody is in, checked to show that no device reconnects in a loop: a
/// few retries in the crowd at most (a tenth of it), and hardly any over the next 10 s.
async fn settled_connects(server: &Server, count: usize) -> u64 {
    let count = count as u64;
    let connects = server.metric("brewlink_broker_device_connects_total").await;
    assert!(
        connects <= count + count / 10,
        "{connects} connects for {count} devices"
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let later = server.metric("brewlink_broker_device_connects_total").await;
    assert!(
        later <= connects + count / 100,
        "devices kept reconnecting: {connects} then {later} connects"
    );
    later
}

/// `brewlink simulate --count n`: registers `n` devices, then starts them all at once. Returns the
/// process and the moment it started its devices (its last "simulating device" line).
async fn simulate(server: &Server, count: usize, interval_s: &str) -> (Child, Instant) {
    let mut child = brewlink()
        .args(["simulate", "--count", &count.to_string()])
        .args([
            "--interval",
            interval_s,
            "--email",
            EMAIL,
            "--host",
            "127.0.0.1",
        ])
        .args(["--server", &server.url("")])
        .env("BREWLINK_SIMULATOR_PASSWORD", PASSWORD)
        .env("BREWLINK_LOG_LEVEL", "error")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut announced = 0;
    while announced < count {
        let line = tokio::time::timeout(Duration::from_secs(300), lines.next_line())
            .await
            .expect("the simulator registers its devices")
            .unwrap()
            .expect("the simulator runs");
        if line.starts_with("simulating device ") {
            announced += 1;
        }
    }
    (child, Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_connects_at_once_and_again_after_a_restart() {
    let count = devices();
    let mut server = Server::new().await;
    server.start().await;
    server.signup().await;

    let (mut simulator, started) = simulate(&server, count, "5").await;
    let first = server.connected(count as u64, CONNECT_LIMIT).await;
    let since_start = started.elapsed();
    eprintln!(
        "{count} devices connected {first:?} after the first check, {since_start:?} after start"
    );

    let later = settled_connects(&server, count).await;
    let descriptors = server.metric("brewlink_process_open_fds").await;
    eprintln!("{later} device connects, {descriptors} descriptors for {count} devices");
    assert!(
        descriptors <= count as u64 + DESCRIPTOR_OVERHEAD,
        "{descriptors} descriptors for {count} devices"
    );
    assert!(
        server.metric("brewlink_telemetry_stored_total").await >= count as u64,
        "every device's telemetry is stored"
    );

    // A restart under the crowd: the server stops in bounded time and the devices come back.
    let (took, clean) = server.stop().await;
    eprintln!("stopped in {took:?} with {count} devices connected");
    assert!(clean, "the server stopped in order");
    assert!(took < Duration::from_secs(12), "stop took {took:?}");
    server.start().await;
    let again = server.connected(count as u64, CONNECT_LIMIT).await;
    eprintln!("{count} devices back {again:?} after the restart");
    let connects = settled_connects(&server, count).await;
    eprintln!("{connects} device connects after the restart");
    let stored = server.metric("brewlink_telemetry_stored_total").await;
    assert!(stored > 0, "telemetry is stored after the restart");

    terminate(&simulator);
    let exit = tokio::time::timeout(Duration::from_secs(30), simulator.wait())
        .await
        .expect("the simulator stops")
        .unwrap();
    assert!(exit.success(), "{exit}");
    let (took, clean) = server.stop().await;
    assert!(clean && took < Duration::from_secs(12), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_are_closed_and_do_not_keep_devices_out() {
    let mut server = Server::new().await;
    server.start().await;
    server.signup().await;
    let tls = SocketAddr::from(([127, 0, 0, 1], server.tls_port));

    // 1,000 connections that never say a word, each opened again as soon as the server closes it,
    // until the devices are in; each reports the longest the server kept one of its sockets.
    let stop = tokio_util::sync::CancellationToken::new();
    let flood: Vec<_> = (0..1000)
        .map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut longest = Duration::ZERO;
                while !stop.is_cancelled() {
                    let Ok(mut socket) = tokio::net::TcpStream::connect(tls).await else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let opened = Instant::now();
                    let mut byte = [0u8; 1];
                    tokio::select! {
                        () = stop.cancelled() => break,
                        _ = socket.read(&mut byte) => longest = longest.max(opened.elapsed()),
                    }
                }
                longest
            })
        })
        .collect();

    let (mut simulator, _) = simulate(&server, 100, "1").await;
    server.connected(100, Duration::from_secs(60)).await;
    // At least one connect timeout has passed under the flood.
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.cancel();
    let mut longest = Duration::ZERO;
    for task in flood {
        longest = longest.max(task.await.unwrap());
    }
    eprintln!("the server kept a silent socket at most {longest:?}");
    assert!(
        longest >= Duration::from_secs(4) && longest < Duration::from_secs(8),
        "silent sockets are closed after the 5 s connect timeout, not {longest:?}"
    );

    // A CONNECT begun and never finished, on the plain listener: closed after the timeout too.
    use tokio::io::AsyncWriteExt;
    let plain = SocketAddr::from(([127, 0, 0, 1], server.mqtt_port));
    let mut slow = tokio::net::TcpStream::connect(plain).await.unwrap();
    // CONNECT, remaining length 16, protocol "MQTT" level 4: enough to tell the version, no more.
    slow.write_all(&[0x10, 16, 0, 4, b'M', b'Q', b'T', b'T', 4])
        .await
        .unwrap();
    let begun = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer))
        .await
        .expect("a stalled CONNECT is closed within the connect timeout");
    // At most a refusing CONNACK (packet type 2) before the close.
    assert!(answer.is_empty() || answer[0] >> 4 == 2, "{answer:?}");
    assert!(
        begun.elapsed() >= Duration::from_secs(4),
        "closed by the timeout, not at once: {:?}",
        begun.elapsed()
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    let descriptors = server.metric("brewlink_process_open_fds").await;
    assert!(
        descriptors <= 100 + DESCRIPTOR_OVERHEAD,
        "{descriptors} descriptors left for 100 devices"
    );

    terminate(&simulator);
    let _ = tokio::time::timeout(Duration::from_secs(30), simulator.wait()).await;
    let (took, clean) = server.stop().await;
    assert!(clean && took < Duration::from_secs(12), "{took:?}");
}

/// SIGKILL mid-stream on the embedded broker: every message the device was told had arrived is in
/// the database, and after a restart the device's resent rest is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_had_stored_all_it_acknowledged() {
    const SAMPLES: u64 = 5_000;
    let mut server = Server::new().await;
    server.start().await;
    server.signup().await;
    let token: serde_json::Value = server
        .client
        .post(server.url("/api/v1/auth/tokens"))
        .json(&serde_json::json!({ "email": EMAIL, "password": PASSWORD, "label": "kill" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let credentials: serde_json::Value = server
        .client
        .post(server.url("/api/v1/devices"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": "Kettle", "model": "BrewMaster 3000" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let files = common::mqtt::DeviceFiles {
        id: credentials["device"]["id"].as_str().unwrap().to_string(),
        ca: credentials["ca_pem"].as_str().unwrap().to_string(),
        cert: credentials["cert_pem"].as_str().unwrap().to_string(),
        key: credentials["key_pem"].as_str().unwrap().to_string(),
    };
    let topic = format!("devices/{}/telemetry", files.id);
    let tls = SocketAddr::from(([127, 0, 0, 1], server.tls_port));
    let now = chrono::Utc::now().timestamp_millis();
    let payload = move |seq: u64| {
        use proto::Message as _;
        proto::v1::Telemetry {
            seq,
            time_ms: now + seq as i64,
            readings: Some(proto::v1::Readings {
                mash_temp_c: Some(65.0),
                ..Default::default()
            }),
        }
        .encode_to_vec()
    };

    // The device streams as fast as the broker lets it, keeping track of each acknowledgement.
    let device = common::mqtt::TrackedDevice::start(common::mqtt::device(tls, &files));
    let publisher = tokio::spawn({
        let (device, topic) = (device.clone(), topic.clone());
        async move {
            for seq in 1..=SAMPLES {
                if !device.publish(&topic, seq, payload(seq)).await {
                    return;
                }
            }
        }
    });
    let started = Instant::now();
    while device.acknowledged().len() < 300 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the stream never got going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut child = server.child.take().unwrap();
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().await.unwrap();
    device.stop();
    publisher.abort();
    let acknowledged = device.acknowledged();
    assert!(
        (acknowledged.len() as u64) < SAMPLES,
        "killed mid-stream, not after it"
    );

    sqlx::any::install_default_drivers();
    let database_url = server.database.url.clone();
    let stored = || async {
        use sqlx::Connection as _;
        let mut database = sqlx::AnyConnection::connect(&database_url).await.unwrap();
        let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM telemetry WHERE device_id = $1")
            .bind(&files.id)
            .fetch_all(&mut database)
            .await
            .unwrap();
        database.close().await.unwrap();
        seqs.into_iter()
            .map(|seq| seq as u64)
            .collect::<std::collections::BTreeSet<u64>>()
    };
    let after_kill = stored().await;
    let lost: Vec<&u64> = acknowledged.difference(&after_kill).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged samples not stored, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(10)]
    );

    // Back up: the device sends what it was not told had arrived; each sample is stored once.
    server.start().await;
    let device = common::mqtt::TestClient::connect(common::mqtt::device(tls, &files))
        .await
        .expect("the device is let in again");
    let resend: Vec<u64> = (1..=SAMPLES)
        .filter(|seq| !acknowledged.contains(seq))
        .collect();
    for &seq in &resend {
        device.publish(&topic, &payload(seq), false).await;
    }
    let started = Instant::now();
    while device.acknowledged() < resend.len() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{} of {} resent samples acknowledged",
            device.acknowledged(),
            resend.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored().await.len() as u64, SAMPLES);
    let (took, clean) = server.stop().await;
    assert!(clean && took < Duration::from_secs(12), "{took:?}");
}
