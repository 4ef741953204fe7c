//! The device protocol end to end: devices (the simulator, or raw MQTT clients over TLS) publish,
//! the bridge ingests, and the API shows status, history, live events and command round trips.

mod common;

use std::time::Duration;

use brewlink::simulator::{self, Tuning};
use common::{TestApp, TestDatabase, mqtt::TestClient, sse::SseStream, test_config};
use proto::{Message, v1};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "whirlpool-2026";

async fn owner(app: &TestApp, email: &str) -> String {
    app.create_user(email, PASSWORD, brewlink::auth::Role::Brewer)
        .await;
    app.token(email, PASSWORD).await
}

/// Polls until `check` holds for the device's status, at most 15 s.
async fn wait_status(
    app: &TestApp,
    token: &str,
    id: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, status) = app
            .get_json(token, &format!("/api/v1/devices/{id}/status"))
            .await;
        if check(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never matched: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_simulator_reports_and_every_command_kind_round_trips() {
    let app = TestApp::spawn().await;
    let token = owner(&app, "sim@example.com").await;
    let (_, files) = app.register_device(&token, "Simulated").await;
    let id = files.id.clone();
    let shutdown = CancellationToken::new();
    let tuning = Tuning {
        interval: Duration::from_millis(200),
        speed: 20.0,
    };
    let simulation = tokio::spawn(simulator::run(
        vec![app.bundle(&token, &id).await],
        tuning,
        None,
        shutdown.clone(),
    ));

    let status = wait_status(&app, &token, &id, |status| {
        status["online"] == true && !status["latest"].is_null()
    })
    .await;
    assert_eq!(status["firmware"], "brewlink-simulator 1.0");
    assert_eq!(status["capabilities"]["gpio_pins"], 16);
    assert!(status["latest"]["mash_temp_c"].is_number(), "{status}");

    // Live events over SSE, authorized like every route.
    let mut live = SseStream::new(
        app.script()
            .get(app.url(&format!("/api/v1/devices/{id}/live")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    );
    let first = live.next_event("status").await;
    assert_eq!(first["status"]["online"], true);
    let telemetry = live.next_event("telemetry").await;
    assert_eq!(telemetry["device_id"], id.as_str());

    let base = format!("/api/v1/devices/{id}");
    let (code, pin) = app
        .send_json(
            &token,
            reqwest::Method::PUT,
            &format!("{base}/gpio/3"),
            Some(json!({ "value": true, "mode": "output" })),
        )
        .await;
    assert_eq!(
        (code, &pin),
        (200, &json!({ "pin": 3, "value": true, "mode": "output" }))
    );
    let (_, pin) = app.get_json(&token, &format!("{base}/gpio/3")).await;
    assert_eq!(pin["value"], true, "the device remembers");
    let (code, refused) = app.get_json(&token, &format!("{base}/gpio/99")).await;
    assert_eq!(
        (code, refused["code"].as_str()),
        (422, Some("device_refused"))
    );

    let (code, clock) = app
        .send_json(
            &token,
            reqwest::Method::PUT,
            &format!("{base}/rtc"),
            Some(json!({ "time": "2030-01-01T00:00:00Z" })),
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        clock["time"].as_str().unwrap().starts_with("2030-01-01"),
        "{clock}"
    );
    let (_, clock) = app.get_json(&token, &format!("{base}/rtc")).await;
    assert!(
        clock["time"].as_str().unwrap().starts_with("2030-01-01"),
        "{clock}"
    );

    let (_, network) = app.get_json(&token, &format!("{base}/network")).await;
    assert!(
        network["mac"].as_str().unwrap().starts_with("02:00:"),
        "{network}"
    );
    assert_eq!(network["ip"], "127.0.0.1");

    let (_, echo) = app
        .send_json(
            &token,
            reqwest::Method::POST,
            &format!("{base}/uart"),
            Some(json!({ "data": "hello" })),
        )
        .await;
    assert_eq!(echo["text"], "hello");
    let (_, echo) = app
        .send_json(
            &token,
            reqwest::Method::POST,
            &format!("{base}/uart"),
            Some(json!({ "data": "68 69", "encoding": "hex" })),
        )
        .await;
    assert_eq!(
        (echo["text"].as_str(), echo["hex"].as_str()),
        (Some("hi"), Some("6869"))
    );
    let (code, _) = app
        .send_json(
            &token,
            reqwest::Method::POST,
            &format!("{base}/uart"),
            Some(json!({ "data": "zz", "encoding": "hex" })),
        )
        .await;
    assert_eq!(code, 422);

    let command = live.next_event("command").await;
    assert_eq!(command["command"]["kind"], "gpio_set");

    let (code, ack) = app
        .send_json(
            &token,
            reqwest::Method::POST,
            &format!("{base}/reset"),
            None,
        )
        .await;
    assert_eq!((code, ack), (200, json!({})));
    // After the reboot it comes back by itself, with a fresh uptime.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, _) = app.get_json(&token, &format!("{base}/network")).await;
    assert!(
        code == 200 || code == 409 || code == 504,
        "during a reboot: {code}"
    );
    let (_, pin) = loop {
        let answer = app.get_json(&token, &format!("{base}/gpio/3")).await;
        if answer.0 == 200 {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(pin["pin"], 3);

    let (_, history) = app
        .get_json(&token, &format!("{base}/commands?limit=100"))
        .await;
    let kinds: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "gpio_set",
        "gpio_get",
        "rtc_set",
        "rtc_get",
        "network_get",
        "uart_write",
        "reset",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let latest = &history["items"][0];
    assert_eq!(latest["outcome"], "ok");
    assert!(
        latest["latency_ms"].is_number() && latest["actor"].as_str().unwrap().starts_with("user:")
    );

    let (_, series) = app
        .get_json(&token, &format!("{base}/telemetry?bucket=1"))
        .await;
    let buckets = series["buckets"].as_array().unwrap();
    assert!(!buckets.is_empty(), "{series}");
    assert!(
        buckets[0]["readings"]["mash_temp_c"]["avg"].is_number(),
        "{series}"
    );

    // The simulator says goodbye when stopped: offline, and commands are refused at once.
    shutdown.cancel();
    simulation.await.unwrap();
    wait_status(&app, &token, &id, |status| status["online"] == false).await;
    let (code, offline) = app.get_json(&token, &format!("{base}/network")).await;
    assert_eq!(
        (code, offline["code"].as_str()),
        (409, Some("device_offline"))
    );
    let (_, history) = app.get_json(&token, &format!("{base}/commands")).await;
    assert_eq!(history["items"][0]["outcome"], "offline");
    app.stop().await;
}

fn sample(seq: u64, time_ms: i64, mash: f32) -> Vec<u8> {
    v1::Telemetry {
        seq,
        time_ms,
        readings: Some(v1::Readings {
            mash_temp_c: Some(mash),
            ..Default::default()
        }),
    }
    .encode_to_vec()
}

#[tokio::test]
async fn a_silent_device_times_out_with_504() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.mqtt.command_timeout_ms = 300;
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let token = owner(&app, "silent@example.com").await;
    let (_, files) = app.register_device(&token, "Silent").await;
    let _device = app.online_device(&files).await;
    wait_status(&app, &token, &files.id, |status| status["online"] == true).await;
    let started = std::time::Instant::now();
    let (code, problem) = app
        .get_json(&token, &format!("/api/v1/devices/{}/network", files.id))
        .await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (504, Some("device_timeout"))
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let (_, history) = app
        .get_json(&token, &format!("/api/v1/devices/{}/commands", files.id))
        .await;
    assert_eq!(history["items"][0]["outcome"], "timeout");
    app.stop().await;
}

#[tokio::test]
async fn a_refused_program_event_is_kept_with_the_other_refused_payloads() {
    let app = TestApp::spawn().await;
    let token = owner(&app, "program@example.com").await;
    let (_, files) = app.register_device(&token, "Kettle").await;
    let device = app.online_device(&files).await;
    let topic = format!("devices/{}/program", files.id);
    device
        .publish(&topic, b"\xff\xfe not protobuf", false)
        .await;
    let store = app.store().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let errors = loop {
        let errors = store.device_errors(&files.id, 10).await.unwrap();
        if !errors.is_empty() || std::time::Instant::now() > deadline {
            break errors;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].topic, topic);
    assert_eq!(errors[0].kind, "undecodable");
    app.stop().await;
}

#[tokio::test]
async fn duplicates_are_stored_once_and_bad_payloads_never_stop_the_pipeline() {
    let app = TestApp::spawn().await;
    let token = owner(&app, "dup@example.com").await;
    let (_, files) = app.register_device(&token, "Raw").await;
    let device = app.online_device(&files).await;
    let topic = format!("devices/{}/telemetry", files.id);
    let now = chrono::Utc::now().timestamp_millis();
    device.publish(&topic, &sample(1, now, 20.0), false).await;
    device.publish(&topic, &sample(1, now, 20.0), false).await;
    device
        .publish(&topic, b"\xff\xfe not protobuf", false)
        .await;
    device.publish(&topic, &sample(2, now, 900.0), false).await;
    device.publish(&topic, &vec![0u8; 20_000], false).await;
    device
        .publish(&topic, &sample(3, now + 1, 21.0), false)
        .await;
    wait_status(&app, &token, &files.id, |status| {
        status["latest"]["seq"] == 3
    })
    .await;

    let from = chrono::DateTime::from_timestamp_millis(now - 1000)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let path = format!(
        "/api/v1/devices/{}/telemetry?from={}&bucket=3600",
        files.id,
        from.replace('+', "%2B")
    );
    let (_, series) = app.get_json(&token, &path).await;
    assert_eq!(
        series["buckets"][0]["samples"], 2,
        "seq 1 once, seq 3; the bad ones not at all: {series}"
    );

    let errors = app
        .store()
        .await
        .device_errors(&files.id, 10)
        .await
        .unwrap();
    let kinds: Vec<&str> = errors.iter().map(|error| error.kind.as_str()).collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    for kind in ["undecodable", "out_of_range", "oversize"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(
        errors
            .iter()
            .any(|error| error.reason.contains("mash_temp_c"))
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"brewlink_payloads_rejected_total{kind="undecodable"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("brewlink_telemetry_duplicates_total 1"),
        "{metrics}"
    );

    // A packet over the device limit (20 KiB) closes the connection; nothing of it is kept.
    let mut device = device;
    device.publish(&topic, &vec![0u8; 30_000], false).await;
    assert!(
        device.dropped_within(Duration::from_secs(5)).await,
        "a 30 kB packet is refused"
    );
    assert_eq!(
        app.store()
            .await
            .device_errors(&files.id, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    app.stop().await;
}

#[tokio::test]
async fn history_downsamples_into_buckets_and_exports_csv() {
    let app = TestApp::spawn().await;
    let token = owner(&app, "hist@example.com").await;
    let (_, files) = app.register_device(&token, "History").await;
    let device = app.online_device(&files).await;
    let topic = format!("devices/{}/telemetry", files.id);
    // 60 samples, one a second, over a minute that started on a whole minute.
    let base = (chrono::Utc::now().timestamp_millis() / 60_000 - 2) * 60_000;
    for i in 0..60i64 {
        device
            .publish(
                &topic,
                &sample(i as u64 + 1, base + i * 1000, 60.0 + i as f32),
                false,
            )
            .await;
    }
    wait_status(&app, &token, &files.id, |status| {
        status["latest"]["seq"] == 60
    })
    .await;

    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let path = format!(
        "/api/v1/devices/{}/telemetry?from={}&to={}&bucket=10",
        files.id,
        time(base),
        time(base + 60_000)
    );
    let (code, series) = app.get_json(&token, &path).await;
    assert_eq!(code, 200);
    let buckets = series["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 6, "{series}");
    for (n, bucket) in buckets.iter().enumerate() {
        assert_eq!(bucket["samples"], 10);
        let stats = &bucket["readings"]["mash_temp_c"];
        let first = 60.0 + 10.0 * n as f64;
        assert_eq!(
            (stats["min"].as_f64(), stats["max"].as_f64()),
            (Some(first), Some(first + 9.0))
        );
        assert!((stats["avg"].as_f64().unwrap() - (first + 4.5)).abs() < 1e-9);
    }

    let csv = app
        .script()
        .get(app.url(&path))
        .bearer_auth(&token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0]
            .starts_with("bucket_start,samples,mash_temp_c_avg,mash_temp_c_min,mash_temp_c_max")
    );
    assert_eq!(lines.len(), 7);
    assert!(lines[1].contains(",10,64.5,60,69,"), "{}", lines[1]);

    let (code, _) = app
        .get_json(
            &token,
            &format!("/api/v1/devices/{}/telemetry?from=yesterday", files.id),
        )
        .await;
    assert_eq!(code, 422);
    let (code, _) = app
        .get_json(
            &token,
            &format!("{}&bucket=0", path.split("&bucket").next().unwrap()),
        )
        .await;
    assert_eq!(code, 422);
    app.stop().await;
}

#[tokio::test]
async fn a_server_restart_mid_stream_loses_nothing() {
    // The external broker (Mosquitto at 127.0.0.1:1883) keeps the bridge's persistent session while
    // the server is down; devices publish to it directly here.
    let broker = std::env::var("BREWLINK_TEST_MOSQUITTO_URL")
        .unwrap_or_else(|_| "mqtt://127.0.0.1:1883".to_string());
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.mqtt.external_url = broker.clone();
    config.mqtt.bridge_client_id = format!("brewlink-restart-{}", uuid_like());
    let app = TestApp::spawn_with(config.clone(), data_dir, database).await;
    app.wait_ready().await;
    let token = owner(&app, "restart@example.com").await;
    let (_, files) = app.register_device(&token, "Steady").await;
    let topic = format!("devices/{}/telemetry", files.id);

    let endpoint = brewlink::bridge::BrokerEndpoint::from_url(&broker).unwrap();
    let mut options = rumqttc::MqttOptions::new(
        format!("device-{}", uuid_like()),
        endpoint.host,
        endpoint.port,
    );
    options
        .set_clean_session(false)
        .set_keep_alive(Duration::from_secs(5));
    let device = TestClient::connect(options)
        .await
        .expect("the device reaches Mosquitto");
    let now = chrono::Utc::now().timestamp_millis();
    // The first sample proves the bridge is subscribed before the stream starts.
    device.publish(&topic, &sample(1, now, 20.0), false).await;
    wait_status(&app, &token, &files.id, |status| {
        status["latest"]["seq"] == 1
    })
    .await;

    for seq in 2..=100u64 {
        device
            .publish(&topic, &sample(seq, now + seq as i64, 20.0), false)
            .await;
    }
    let (_, data_dir, database) = app.stop().await;
    for seq in 101..=300u64 {
        device
            .publish(&topic, &sample(seq, now + seq as i64, 20.0), false)
            .await;
    }

    // The same database and data folder.
    let app = TestApp::spawn_with(config, data_dir, database).await;
    wait_status(&app, &token_again(&app).await, &files.id, |status| {
        status["latest"]["seq"] == 300
    })
    .await;
    let token = token_again(&app).await;
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let (from, to) = (time(now - 1000), time(now + 60_000));
    let path = format!(
        "/api/v1/devices/{}/telemetry?from={from}&to={to}&bucket=3600",
        files.id
    );
    let (_, series) = app.get_json(&token, &path).await;
    let stored: u64 = series["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bucket| bucket["samples"].as_u64().unwrap())
        .sum();
    assert_eq!(stored, 300, "every sample once: {series}");
    app.stop().await;
}

async fn token_again(app: &TestApp) -> String {
    app.token("restart@example.com", PASSWORD).await
}

fn uuid_like() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(unix)]
#[tokio::test]
async fn the_simulate_command_registers_and_runs_devices() {
    let app = TestApp::spawn().await;
    let token = owner(&app, "count@example.com").await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_brewlink"))
        .args([
            "simulate",
            "--count",
            "2",
            "--interval",
            "0.2",
            "--email",
            "count@example.com",
        ])
        .args(["--server", &app.url("")])
        .env("BREWLINK_SIMULATOR_PASSWORD", PASSWORD)
        .env("BREWLINK_LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let ids = loop {
        let (_, devices) = app.get_json(&token, "/api/v1/devices").await;
        let ids: Vec<String> = devices["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect();
        if ids.len() == 2 {
            break ids;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "devices were not registered: {devices}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for id in &ids {
        wait_status(&app, &token, id, |status| {
            status["online"] == true && !status["latest"].is_null()
        })
        .await;
    }
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("stops on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit}");
    for id in &ids {
        wait_status(&app, &token, id, |status| status["online"] == false).await;
    }

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_brewlink"))
        .args(["simulate", "--count", "1"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--count needs --email and --password")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_live_stream_ends_when_its_token_is_revoked() {
    let app = TestApp::spawn().await;
    let token = owner(&app, "revoke-live@example.com").await;
    let (_, files) = app.register_device(&token, "Watched").await;
    let mut live = SseStream::new(
        app.script()
            .get(app.url(&format!("/api/v1/devices/{}/live", files.id)))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    );
    live.next_event("status").await;
    let (_, tokens) = app.get_json(&token, "/api/v1/auth/tokens").await;
    let token_id = tokens["items"][0]["id"].as_str().unwrap().to_string();
    let (code, _) = app
        .send_json(
            &token,
            reqwest::Method::DELETE,
            &format!("/api/v1/auth/tokens/{token_id}"),
            None,
        )
        .await;
    assert_eq!(code, 204);
    // The stream closes at its next check (every 10 s).
    assert!(
        live.ends_within(Duration::from_secs(20)).await,
        "the stream went on after the token was revoked"
    );
    app.stop().await;
}

/// The samples the API holds for a device since `from_ms`, in one bucket.
async fn stored_samples(app: &TestApp, token: &str, id: &str, from_ms: i64) -> u64 {
    let from = chrono::DateTime::from_timestamp_millis(from_ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let path = format!(
        "/api/v1/devices/{id}/telemetry?from={}&bucket=3600",
        from.replace('+', "%2B")
    );
    let (code, series) = app.get_json(token, &path).await;
    assert_eq!(code, 200, "{series}");
    series["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bucket| bucket["samples"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn telemetry_of_many_devices_in_one_batch_is_stored() {
    // One batch holds the messages of several devices: the store looks them all up at once (the
    // lookup PostgreSQL once refused, storing nothing).
    let app = TestApp::spawn().await;
    let token = owner(&app, "many@example.com").await;
    let now = chrono::Utc::now().timestamp_millis();
    let mut devices = Vec::new();
    for n in 0..6 {
        let (_, files) = app.register_device(&token, &format!("Fermenter {n}")).await;
        let client = TestClient::connect(common::mqtt::device(app.mqtt_tls_addr.unwrap(), &files))
            .await
            .unwrap();
        devices.push((files, client));
    }
    let publishes = devices.iter().map(|(files, client)| async move {
        let topic = format!("devices/{}/telemetry", files.id);
        for seq in 1..=5u64 {
            client
                .publish(&topic, &sample(seq, now + seq as i64, 60.0), false)
                .await;
        }
    });
    futures::future::join_all(publishes).await;
    for (files, _) in &devices {
        wait_status(&app, &token, &files.id, |status| {
            status["latest"]["seq"] == 5
        })
        .await;
        assert_eq!(stored_samples(&app, &token, &files.id, now - 1000).await, 5);
    }
    app.stop().await;
}

#[tokio::test]
async fn ingest_that_cannot_write_is_reported_and_catches_up_when_the_store_does() {
    let app = TestApp::spawn().await;
    app.wait_ready().await;
    let token = owner(&app, "outage@example.com").await;
    app.create_user("ops@example.com", PASSWORD, brewlink::auth::Role::Staff)
        .await;
    let staff = app.admin_token("ops@example.com", PASSWORD).await;
    let (_, files) = app.register_device(&token, "Kettle").await;
    let device = app.online_device(&files).await;
    wait_status(&app, &token, &files.id, |status| status["online"] == true).await;

    // The telemetry table goes away (as a failing disk or a broken migration would make it).
    use sqlx::{Connection, Executor};
    let mut database = sqlx::AnyConnection::connect(&app.database.url)
        .await
        .unwrap();
    database
        .execute("ALTER TABLE telemetry RENAME TO telemetry_away")
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let topic = format!("devices/{}/telemetry", files.id);
    device.publish(&topic, &sample(1, now, 64.0), false).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let ready = loop {
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        if response.status() == 503 {
            break response.json::<Value>().await.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "never unready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ready["ingest"]["ok"], false, "{ready}");
    assert_eq!(
        (
            ready["database"]["ok"].clone(),
            ready["broker"]["ok"].clone()
        ),
        (json!(true), json!(true))
    );
    assert!(
        ready["ingest"]["detail"]
            .as_str()
            .unwrap()
            .contains("telemetry"),
        "the cause is named: {ready}"
    );
    let metrics = app.metrics().await;
    assert!(metrics.contains("brewlink_ingest_failing 1"), "{metrics}");
    assert!(
        !metrics.contains("brewlink_ingest_failures_total 0"),
        "{metrics}"
    );
    let (_, broker) = app.get_json(&staff, "/api/v1/admin/broker").await;
    assert!(broker["ingest_failing_since"].is_string(), "{broker}");
    assert!(broker["ingest_failures"].as_u64().unwrap() >= 1, "{broker}");
    // The error tracker writes its groups once a second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let group = loop {
        let (_, errors) = app.get_json(&staff, "/api/v1/admin/errors").await;
        let found = errors["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|group| group["kind"] == "server.ingest_store")
            .cloned();
        if let Some(group) = found {
            break group;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no error group: {errors}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        group["example"].as_str().unwrap().contains("telemetry"),
        "{group}"
    );

    // The table is back: the retried batch is written, nothing was lost, and the server is ready.
    database
        .execute("ALTER TABLE telemetry_away RENAME TO telemetry")
        .await
        .unwrap();
    database.close().await.unwrap();
    app.wait_ready().await;
    wait_status(&app, &token, &files.id, |status| {
        status["latest"]["seq"] == 1
    })
    .await;
    assert_eq!(stored_samples(&app, &token, &files.id, now - 1000).await, 1);
    let (_, broker) = app.get_json(&staff, "/api/v1/admin/broker").await;
    assert!(broker["ingest_failing_since"].is_null(), "{broker}");
    let metrics = app.metrics().await;
    assert!(metrics.contains("brewlink_ingest_failing 0"), "{metrics}");
    app.stop().await;
}

#[tokio::test]
async fn a_message_the_store_refuses_is_kept_as_an_error_and_the_rest_is_stored() {
    let app = TestApp::spawn().await;
    app.wait_ready().await;
    let token = owner(&app, "refused@example.com").await;
    let (_, files) = app.register_device(&token, "Kettle").await;
    let device = app.online_device(&files).await;

    // The database refuses one sample's values, as a constraint an operator added would.
    use sqlx::{Connection, Executor};
    let mut database = sqlx::AnyConnection::connect(&app.database.url)
        .await
        .unwrap();
    let refuse: &[&str] = match common::Db::from_env() {
        common::Db::Sqlite => &[
            "CREATE TRIGGER refuse_seq_2 BEFORE INSERT ON telemetry WHEN NEW.seq = 2 \
              BEGIN SELECT RAISE(ABORT, 'seq 2 is refused'); END",
        ],
        common::Db::Postgres => &[
            "CREATE FUNCTION refuse_seq_2() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.seq = 2 THEN RAISE EXCEPTION 'seq 2 is refused' USING ERRCODE = 'check_violation'; \
             END IF; RETURN NEW; END $$",
            "CREATE TRIGGER refuse_seq_2 BEFORE INSERT ON telemetry FOR EACH ROW \
             EXECUTE FUNCTION refuse_seq_2()",
        ],
    };
    for statement in refuse {
        database.execute(*statement).await.unwrap();
    }
    database.close().await.unwrap();

    let now = chrono::Utc::now().timestamp_millis();
    let topic = format!("devices/{}/telemetry", files.id);
    for seq in 1..=3 {
        device
            .publish(&topic, &sample(seq, now + seq as i64, 64.0), false)
            .await;
    }
    wait_status(&app, &token, &files.id, |status| {
        status["latest"]["seq"] == 3
    })
    .await;
    assert_eq!(stored_samples(&app, &token, &files.id, now - 1000).await, 2);
    let errors = app
        .store()
        .await
        .device_errors(&files.id, 10)
        .await
        .unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].kind, "unstorable");
    assert_eq!(errors[0].topic, topic);
    assert!(errors[0].reason.contains("seq 2 is refused"), "{errors:?}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"brewlink_payloads_rejected_total{kind="unstorable"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("brewlink_ingest_failing 0"), "{metrics}");
    app.wait_ready().await;
    app.stop().await;
}

/// The embedded broker acknowledges a device's telemetry only once it is stored: while the store
/// cannot write, the device gets no acknowledgement; past the broker's limit it is disconnected
/// without one and sends the messages again; nothing acknowledged is ever missing.
#[tokio::test]
async fn telemetry_is_acknowledged_to_the_device_only_once_stored() {
    let app = TestApp::spawn().await;
    app.wait_ready().await;
    let token = owner(&app, "acked@example.com").await;
    let (_, files) = app.register_device(&token, "Fermenter").await;

    // A device that counts its acknowledgements and, like firmware, reconnects and sends again
    // whatever was not acknowledged.
    let device = common::mqtt::TrackedDevice::start(common::mqtt::device(
        app.mqtt_tls_addr.unwrap(),
        &files,
    ));
    async fn until(what: &str, check: impl Fn() -> bool, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while !check() {
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    until(
        "connected",
        || device.connects() == 1,
        Duration::from_secs(10),
    )
    .await;

    // Another writer holds the database: the pipeline cannot store anything meanwhile.
    use sqlx::{Connection, Executor};
    let mut holder = sqlx::AnyConnection::connect(&app.database.url)
        .await
        .unwrap();
    let hold: &[&str] = match common::Db::from_env() {
        common::Db::Sqlite => &["BEGIN IMMEDIATE"],
        common::Db::Postgres => &["BEGIN", "LOCK TABLE telemetry IN EXCLUSIVE MODE"],
    };
    for statement in hold {
        holder.execute(*statement).await.unwrap();
    }
    let now = chrono::Utc::now().timestamp_millis();
    let topic = format!("devices/{}/telemetry", files.id);
    for seq in 1..=20u64 {
        assert!(
            device
                .publish(&topic, seq, sample(seq, now + seq as i64, 66.0))
                .await
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(device.acks(), 0, "acknowledged but not stored");
    assert_eq!(stored_samples(&app, &token, &files.id, now - 1000).await, 0);
    // Past the limit the broker disconnects the device without an acknowledgement; it comes back.
    until(
        "disconnected and back",
        || device.connects() >= 2,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(device.acks(), 0, "acknowledged but not stored");
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains("brewlink_broker_store_refused_total 0"),
        "{metrics}"
    );
    holder.execute("COMMIT").await.unwrap();
    holder.close().await.unwrap();

    // The database is free: everything is stored once and acknowledged.
    until(
        "all acknowledged",
        || device.acks() >= 20,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        stored_samples(&app, &token, &files.id, now - 1000).await,
        20
    );
    assert!(
        app.metrics()
            .await
            .contains("brewlink_broker_messages_dropped_total 0"),
        "the broker dropped nothing"
    );
    device.stop();
    app.stop().await;
}

/// A Mosquitto command-line client (Eclipse Mosquitto's, not ours) connected as the device over TLS
/// with its certificate files in `dir`.
fn mosquitto_client(
    program: &str,
    app: &TestApp,
    dir: &std::path::Path,
    id: &str,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command
        .args(["-h", "localhost", "-p"])
        .arg(app.mqtt_tls_addr.unwrap().port().to_string())
        .arg("--cafile")
        .arg(dir.join("ca.pem"))
        .arg("--cert")
        .arg(dir.join("cert.pem"))
        .arg("--key")
        .arg(dir.join("key.pem"))
        .args(["-i", id]);
    command
}

/// Runs `mosquitto_sub` as the device with a persistent session (clean session off) subscribed to its
/// commands at QoS 1, for `seconds`; returns what it received, one hex payload a line.
async fn mosquitto_sub_commands(
    app: &TestApp,
    dir: &std::path::Path,
    id: &str,
    seconds: u32,
) -> String {
    let output = mosquitto_client("mosquitto_sub", app, dir, id)
        .args(["-c", "-q", "1", "-F", "%x", "-W"])
        .arg(seconds.to_string())
        .arg("-t")
        .arg(format!("devices/{id}/cmd"))
        .output()
        .await
        .expect("mosquitto_sub runs (the test command installs mosquitto-clients)");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[tokio::test]
async fn a_timed_out_command_never_reaches_the_device_later() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.mqtt.command_timeout_ms = 500;
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let token = owner(&app, "late@example.com").await;
    let (_, files) = app.register_device(&token, "Heater").await;
    let id = files.id.clone();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for (name, pem) in [
        ("ca.pem", &files.ca),
        ("cert.pem", &files.cert),
        ("key.pem", &files.key),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    let status = v1::Status {
        online: true,
        report_interval_s: 60,
        firmware: "third-party".into(),
        ..Default::default()
    };
    std::fs::write(dir.join("status.bin"), status.encode_to_vec()).unwrap();
    let published = mosquitto_client("mosquitto_pub", &app, dir, &id)
        .args(["-q", "1", "-r", "-t"])
        .arg(format!("devices/{id}/status"))
        .arg("-f")
        .arg(dir.join("status.bin"))
        .status()
        .await
        .unwrap();
    assert!(published.success(), "mosquitto_pub published the status");
    wait_status(&app, &token, &id, |status| status["online"] == true).await;

    // The device subscribes with a persistent session, then drops off the network.
    assert_eq!(
        mosquitto_sub_commands(&app, dir, &id, 2).await,
        "",
        "no command yet"
    );
    let started = std::time::Instant::now();
    let (code, problem) = app
        .get_json(&token, &format!("/api/v1/devices/{id}/gpio/3"))
        .await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (504, Some("device_timeout")),
        "{problem}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    // Back online with its session: the broker must not hand it the command its caller gave up on.
    assert_eq!(
        mosquitto_sub_commands(&app, dir, &id, 3).await,
        "",
        "the timed-out command reached the device later"
    );
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains("brewlink_broker_messages_dropped_total 0"),
        "the expired command is counted as dropped: {metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn command_reads_from_another_site_are_refused() {
    // Reading a pin, the clock or the network info sends a command to the device: a link on another
    // site must not make the brewer's browser send one with its cookie.
    let app = TestApp::spawn().await;
    let browser = app.browser();
    app.signup(&browser, "csrf-read@example.com", PASSWORD)
        .await;
    let token = app.token("csrf-read@example.com", PASSWORD).await;
    let (_, files) = app.register_device(&token, "Kettle").await;
    let base = format!("/api/v1/devices/{}", files.id);
    for path in ["/gpio/3", "/rtc", "/network"] {
        for (name, value) in [
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://evil.example"),
        ] {
            let forged = browser
                .get(app.url(&format!("{base}{path}")))
                .header(name, value)
                .send()
                .await
                .unwrap();
            assert_eq!(forged.status(), 403, "{path} with {name}: {value}");
            assert_eq!(forged.json::<Value>().await.unwrap()["code"], "csrf_failed");
        }
        // From the site's own pages the command goes out (the device is offline here).
        let own = browser
            .get(app.url(&format!("{base}{path}")))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        assert_eq!(
            own.json::<Value>().await.unwrap()["code"],
            "device_offline",
            "{path}"
        );
        // A script with its token is not a browser: no check.
        let (_, scripted) = app.get_json(&token, &format!("{base}{path}")).await;
        assert_eq!(scripted["code"], "device_offline", "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn live_streams_per_credential_are_capped() {
    let app = TestApp::spawn().await;
    let token = owner(&app, "streams@example.com").await;
    let (_, files) = app.register_device(&token, "Kettle").await;
    let path = format!("/api/v1/devices/{}/live", files.id);
    let open = || app.script().get(app.url(&path)).bearer_auth(&token).send();
    let mut streams = Vec::new();
    for n in 0..10 {
        let response = open().await.unwrap();
        assert_eq!(response.status(), 200, "stream {n}");
        streams.push(response);
    }
    let refused = open().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["code"],
        "too_many_streams"
    );
    // Another token of the same account has turns of its own.
    let other = app.token("streams@example.com", PASSWORD).await;
    let response = app
        .script()
        .get(app.url(&path))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A closed stream frees its turn (the server notices when it next writes: the 15 s keep-alive at
    // the latest).
    drop(streams.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    loop {
        let response = open().await.unwrap();
        if response.status() == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the turn was not freed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn telemetry_and_audit_entries_past_their_retention_are_deleted() {
    use sqlx::Connection;
    let app = TestApp::spawn().await;
    let token = owner(&app, "retention@example.com").await;
    let (_, files) = app.register_device(&token, "Fermenter").await;
    let id = files.id.clone();
    let (_, data_dir, database) = app.stop().await;

    // Samples and audit entries from three days and from one hour ago.
    let now = chrono::Utc::now().timestamp_millis();
    let (old, recent) = (now - 3 * 24 * 3600 * 1000, now - 3600 * 1000);
    {
        let mut db = sqlx::AnyConnection::connect(&database.url).await.unwrap();
        for (seq, at) in [(1i64, old), (2, recent)] {
            sqlx::query(
                "INSERT INTO telemetry (device_id, seq, time_ms, received_at_ms) VALUES ($1, $2, $3, $3)",
            )
            .bind(&id)
            .bind(seq)
            .bind(at)
            .execute(&mut db)
            .await
            .unwrap();
            sqlx::query("INSERT INTO audit_log (at_ms, actor, action) VALUES ($1, 'system', $2)")
                .bind(at)
                .bind(format!("test.retention_{seq}"))
                .execute(&mut db)
                .await
                .unwrap();
        }
    }

    let mut config = test_config(data_dir.path(), &database.url);
    config.data.telemetry_retention_days = 1;
    config.data.audit_retention_days = 1;
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let mut db = sqlx::AnyConnection::connect(&app.database.url)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let samples: Vec<i64> =
            sqlx::query_scalar("SELECT seq FROM telemetry WHERE device_id = $1 ORDER BY seq")
                .bind(&id)
                .fetch_all(&mut db)
                .await
                .unwrap();
        let actions: Vec<String> = sqlx::query_scalar(
            "SELECT action FROM audit_log WHERE action LIKE 'test.retention%' ORDER BY action",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
        if samples == [2] && actions == ["test.retention_2"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "kept {samples:?} and {actions:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_flooding_device_is_held_to_its_rate_and_the_others_are_not() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.devices.messages_per_second = 2;
    config.devices.message_burst = 10;
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let token = owner(&app, "flood@example.com").await;
    let (_, flooder) = app.register_device(&token, "Flooder").await;
    let (_, quiet) = app.register_device(&token, "Quiet").await;
    let (mut flooding, calm) = (
        app.online_device(&flooder).await,
        app.online_device(&quiet).await,
    );
    let now = chrono::Utc::now().timestamp_millis();
    let topic = format!("devices/{}/telemetry", flooder.id);
    for seq in 1..=200u64 {
        flooding
            .publish(&topic, &sample(seq, now + seq as i64, 20.0), false)
            .await;
    }
    let topic = format!("devices/{}/telemetry", quiet.id);
    for seq in 1..=5u64 {
        calm.publish(&topic, &sample(seq, now + seq as i64, 20.0), false)
            .await;
    }
    wait_status(&app, &token, &quiet.id, |status| {
        status["latest"]["seq"] == 5
    })
    .await;
    let stored = |id: String| {
        let store = app.store();
        async move {
            let store = store.await;
            let from = chrono::Utc::now() - chrono::Duration::hours(1);
            let buckets = store
                .telemetry_buckets(
                    &id,
                    from,
                    chrono::Utc::now() + chrono::Duration::hours(1),
                    7_200_000,
                )
                .await
                .unwrap();
            buckets.iter().map(|bucket| bucket.samples).sum::<u64>()
        }
    };
    let (flooded, calmed) = (
        stored(flooder.id.clone()).await,
        stored(quiet.id.clone()).await,
    );
    assert_eq!(calmed, 5, "the quiet device loses nothing");
    // The burst (the status took one), and what the rate refilled meanwhile: far from 200. Over its
    // rate, this MQTT 3.1.1 device is disconnected without an acknowledgement (3.1.1 has no refusing
    // one): whatever it was told arrived is stored.
    assert!(flooding.dropped_within(Duration::from_secs(10)).await);
    assert!((5..=40).contains(&flooded), "{flooded} of 200 stored");
    let acknowledged = flooding.acknowledged() as u64;
    assert!(
        acknowledged <= flooded,
        "{acknowledged} acknowledged, {flooded} stored"
    );
    let metrics = app.metrics().await;
    let refused: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("brewlink_broker_rate_limited_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    assert!(refused >= 1, "{refused} refused, counted: {metrics}");
    app.stop().await;
}

/// A PostgreSQL server of the test's own (so stopping it touches no other test), on a free port.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// The PostgreSQL binaries of this machine (Debian keeps them out of PATH).
    fn program(name: &str) -> std::path::PathBuf {
        let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|versions| {
                versions
                    .filter_map(|entry| entry.ok())
                    .map(|entry| entry.path().join("bin").join(name))
                    .filter(|path| path.exists())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found.pop().unwrap_or_else(|| name.into())
    }

    /// Runs a PostgreSQL program as the `postgres` user when the tests run as root (PostgreSQL
    /// refuses to run as root).
    fn command(name: &str) -> std::process::Command {
        let program = Self::program(name);
        if running_as_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            std::process::Command::new(program)
        }
    }

    fn init() -> Self {
        let dir = tempfile::tempdir().unwrap();
        if running_as_root() {
            let status = std::process::Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let status = Self::command("initdb")
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(dir.path().join("data"))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb");
        Self {
            dir,
            port: common::free_port(),
        }
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let status = Self::command("pg_ctl")
            .args(["start", "-w", "-D"])
            .arg(self.dir.path().join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl start");
    }

    fn stop(&self) {
        let status = Self::command("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-D"])
            .arg(self.dir.path().join("data"))
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl stop");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Self::command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.starts_with(b"0\n"))
}

/// PostgreSQL stopped for 5 s under a device's stream: `/readyz` says so within 2 s, `/healthz`
/// answers, nothing is acknowledged meanwhile, and once the database is back every sample is stored
/// once.
/// (Past the broker's 10 s limit the device is disconnected; rumqttc then drops its unacknowledged
/// messages when the broker reports no session, which this test's device model cannot track yet.)
#[tokio::test]
async fn postgres_stopped_mid_stream_loses_nothing() {
    use std::sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    };
    let outage = Duration::from_secs(5);
    let postgres = PrivatePostgres::init();
    postgres.start();
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(data_dir.path(), &postgres.url());
    config.database.max_connections = 4;
    let app = TestApp::spawn_with(config, data_dir, TestDatabase::existing(postgres.url())).await;
    app.wait_ready().await;
    let token = owner(&app, "outage-pg@example.com").await;
    let (_, files) = app.register_device(&token, "Steady").await;

    // A device sending 20 samples a second that reconnects like firmware and keeps track of which
    // samples were acknowledged, to send the others again.
    let device = common::mqtt::TrackedDevice::start(common::mqtt::device(
        app.mqtt_tls_addr.unwrap(),
        &files,
    ));
    let stop = CancellationToken::new();
    let sent = Arc::new(AtomicU64::new(0));
    let now = chrono::Utc::now().timestamp_millis();
    let topic = format!("devices/{}/telemetry", files.id);
    let publisher = tokio::spawn({
        let (sent, stop, topic, device) =
            (sent.clone(), stop.clone(), topic.clone(), device.clone());
        async move {
            let mut seq = 0u64;
            while !stop.is_cancelled() {
                seq += 1;
                if !device
                    .publish(&topic, seq, sample(seq, now + seq as i64, 66.0))
                    .await
                {
                    return;
                }
                sent.store(seq, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let started = tokio::time::Instant::now();
    while device.acks() < 20 {
        assert!(started.elapsed() < Duration::from_secs(20), "no stream");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    postgres.stop();
    let stopped = tokio::time::Instant::now();
    // HTTP answers, and says the database is gone, within 2 s.
    loop {
        let response = tokio::time::timeout(
            Duration::from_secs(2),
            app.client.get(app.url("/readyz")).send(),
        )
        .await
        .expect("/readyz answers while the database is down")
        .unwrap();
        if response.status() == 503 {
            let ready: Value = response.json().await.unwrap();
            assert_eq!(ready["database"]["ok"], false, "{ready}");
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(2),
            "still ready {:?} after the database stopped",
            stopped.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let healthz = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200, "the process is alive");
    // Nothing is acknowledged while nothing can be stored (a batch in commit as the database went
    // may still be).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let acknowledged_early = device.acks();
    tokio::time::sleep(outage.saturating_sub(stopped.elapsed())).await;
    assert_eq!(
        device.acks(),
        acknowledged_early,
        "acknowledged while the database was down"
    );

    postgres.start();
    app.wait_ready().await;
    stop.cancel();
    let _ = publisher.await;
    let sent = sent.load(Ordering::SeqCst);
    // What the device was not told had arrived it sends again (over a long outage the broker
    // disconnected it without acknowledgements); every sample ends up stored once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    device.stop();
    let acknowledged = device.acknowledged();
    let device = app.online_device(&files).await;
    for seq in (1..=sent).filter(|seq| !acknowledged.contains(seq)) {
        device
            .publish(&topic, &sample(seq, now + seq as i64, 66.0), false)
            .await;
    }
    let started = tokio::time::Instant::now();
    loop {
        let stored = stored_samples(&app, &token, &files.id, now - 1000).await;
        if stored == sent {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            use sqlx::Connection as _;
            let mut database = sqlx::AnyConnection::connect(&app.database.url)
                .await
                .unwrap();
            let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM telemetry")
                .fetch_all(&mut database)
                .await
                .unwrap();
            let missing: Vec<u64> = (1..=sent)
                .filter(|seq| !seqs.contains(&(*seq as i64)))
                .collect();
            let acked: Vec<&u64> = missing
                .iter()
                .filter(|seq| acknowledged.contains(seq))
                .collect();
            panic!(
                "{stored} of {sent} samples stored; missing {missing:?}, of them acknowledged {acked:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    app.stop().await;
    drop(postgres);
}

#[tokio::test]
async fn each_device_is_stored_in_the_order_it_reported_whatever_the_writers() {
    // Several lanes write at once (as on PostgreSQL); a device's status reports, handed in faster
    // than they are written, must still end with the last one it sent.
    use brewlink::ingest::{Ack, Ingest, IngestContext};
    let app = TestApp::spawn().await;
    let token = owner(&app, "order@example.com").await;
    let mut ids = Vec::new();
    // Seven devices over four lanes: handed out in turn rather than by device, a device's reports
    // would land in every lane.
    for n in 0..7 {
        let (_, files) = app.register_device(&token, &format!("Kettle {n}")).await;
        ids.push(files.id);
    }
    let store = app.store().await;
    let context = IngestContext {
        store: store.clone(),
        live: brewlink::live::LiveHub::new(),
        metrics: std::sync::Arc::new(brewlink::observability::Metrics::new()),
        errors: brewlink::errors::ErrorTracker::default(),
        inspector: brewlink::inspector::Inspector::new(),
    };
    let ingest = Ingest::start(context, 4, CancellationToken::new());
    let inlet = ingest.inlet();
    const REPORTS: u32 = 100;
    for uptime_s in 1..=REPORTS {
        for id in &ids {
            let status = v1::Status {
                online: true,
                uptime_s: u64::from(uptime_s),
                firmware: format!("build-{uptime_s}"),
                ..Default::default()
            };
            let message = rumqttc::Publish::new(
                format!("devices/{id}/status"),
                rumqttc::QoS::AtLeastOnce,
                status.encode_to_vec(),
            );
            assert!(inlet.submit(message, Ack::Nobody).await);
        }
    }
    drop(inlet);
    ingest.stop().await;
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let statuses = store.device_statuses(&ids).await.unwrap();
    assert_eq!(statuses.len(), ids.len());
    for status in statuses {
        assert_eq!(
            (status.firmware.as_str(), status.uptime_s),
            (format!("build-{REPORTS}").as_str(), u64::from(REPORTS)),
            "{}",
            status.device_id
        );
    }
    app.stop().await;
}
