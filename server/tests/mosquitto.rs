//! The generated Mosquitto configuration enforces the same device rules: a real Mosquitto, started on
//! free ports with the files from `brewlink broker-config mosquitto`, and real device clients over TLS.

mod common;

use std::{
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{
    TestApp, free_port,
    mqtt::{self, TestClient},
};

const PASSWORD: &str = "hop-stand-2026";
const BRIDGE_PASSWORD: &str = "bridge-secret-for-tests";

/// A Mosquitto process, stopped when dropped.
struct Mosquitto {
    child: Child,
}

impl Mosquitto {
    async fn start(conf: &Path, port: u16) -> Self {
        let binary = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .unwrap_or("mosquitto");
        let child = Command::new(binary)
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (the test command installs it)");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "mosquitto did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn mosquitto_with_the_generated_configuration_enforces_the_device_rules() {
    let app = TestApp::spawn().await;
    app.create_user("mq@example.com", PASSWORD, brewlink::auth::Role::Brewer)
        .await;
    let token = app.token("mq@example.com", PASSWORD).await;
    let (_, files) = app.register_device(&token, "On Mosquitto").await;

    let (tls_port, bridge_port) = (free_port(), free_port());
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_brewlink"))
        .args(["broker-config", "mosquitto", "--out"])
        .arg(out.path())
        .env("BREWLINK_DATA_DIR", app.data_dir.path())
        .env("BREWLINK_DATABASE_URL", &app.database.url)
        .env("BREWLINK_MQTT_TLS_HOST", "127.0.0.1")
        .env("BREWLINK_MQTT_TLS_PORT", tls_port.to_string())
        .env("BREWLINK_MQTT_PORT", bridge_port.to_string())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let conf = out.path().join("mosquitto.conf");
    // Mosquitto has one packet limit for every listener: the bridge's brew programs must fit.
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains(&format!(
            "max_packet_size {}\n",
            brewlink::bridge::BRIDGE_MAX_PACKET_SIZE
        )),
        "{text}"
    );
    let status = Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(out.path().join("mosquitto.passwd"))
        .args(["brewlink-bridge", BRIDGE_PASSWORD])
        .status()
        .expect("mosquitto_passwd is installed");
    assert!(status.success());
    // Running as root, Mosquitto would switch to its own user, which cannot read the test's files.
    if running_as_root() {
        let text = std::fs::read_to_string(&conf).unwrap();
        std::fs::write(&conf, format!("user root\n{text}")).unwrap();
    }

    let tls: SocketAddr = format!("127.0.0.1:{tls_port}").parse().unwrap();
    let bridge: SocketAddr = format!("127.0.0.1:{bridge_port}").parse().unwrap();
    let mut mosquitto = Mosquitto::start(&conf, tls_port).await;
    let watcher = || async {
        TestClient::connect(mqtt::password_options(
            bridge,
            "watcher",
            "brewlink-bridge",
            BRIDGE_PASSWORD,
        ))
        .await
        .expect("the bridge account connects to Mosquitto")
    };
    let wrong = mqtt::password_options(bridge, "intruder", "brewlink-bridge", "wrong");
    assert!(
        TestClient::connect(wrong).await.is_err(),
        "a wrong bridge password is refused"
    );

    mqtt::check_device_topic_rules(mqtt::device(tls, &files), &files.id, watcher().await).await;

    // Without a certificate, or with one from another CA: refused.
    let options = mqtt::foreign_ca_device(tls, &files);
    assert!(TestClient::connect(options).await.is_err(), "foreign CA");

    // Rotation revokes the old certificate; Mosquitto reads the new revocation list when it restarts.
    let new = app.rotate(&token, &files).await;
    drop(mosquitto);
    mosquitto = Mosquitto::start(&conf, tls_port).await;
    assert!(
        TestClient::connect(mqtt::device(tls, &files))
            .await
            .is_err(),
        "the revoked certificate is refused"
    );
    mqtt::check_device_topic_rules(mqtt::device(tls, &new), &files.id, watcher().await).await;

    // While BrewLink is away, its bridge session keeps every acknowledged message for it — more than
    // Mosquitto's default queue of 1,000 per client.
    let away = |clean: bool| {
        let mut options =
            mqtt::password_options(bridge, "brewlink-away", "brewlink-bridge", BRIDGE_PASSWORD);
        options.set_clean_session(clean);
        options
    };
    let telemetry = format!("devices/{}/telemetry", files.id);
    let mut session = TestClient::connect(away(false)).await.unwrap();
    session.subscribe(&telemetry).await;
    session.client.disconnect().await.unwrap();
    session.dropped_within(Duration::from_secs(5)).await;
    drop(session);
    const BACKLOG: usize = 3_000;
    let device = TestClient::connect(mqtt::device(tls, &new)).await.unwrap();
    for seq in 0..BACKLOG {
        device.publish(&telemetry, &seq.to_be_bytes(), false).await;
    }
    let mut back = TestClient::connect(away(false)).await.unwrap();
    let mut received = 0;
    while received < BACKLOG {
        match back.next(Duration::from_secs(10)).await {
            Some(mqtt::Seen::Publish(_)) => received += 1,
            Some(_) => {}
            None => break,
        }
    }
    assert_eq!(received, BACKLOG, "the whole backlog was kept");
    drop(mosquitto);
    app.stop().await;
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta) == 0)
        .unwrap_or(false)
}
