//! Devices end to end: registration over HTTP, then real MQTT clients over TLS with the issued
//! certificates against the embedded broker.

mod common;

use std::{io::Read, time::Duration};

use common::{
    TestApp,
    mqtt::{self, TestClient},
};
use rcgen::{CertificateParams, DnType, KeyPair};
use serde_json::{Value, json};

const PASSWORD: &str = "brew-day-2026";

async fn brewer(app: &TestApp, email: &str) -> String {
    app.create_user(email, PASSWORD, brewlink::auth::Role::Brewer)
        .await;
    app.token(email, PASSWORD).await
}

#[tokio::test]
async fn registration_answers_credentials_and_the_bundle_has_every_file() {
    let app = TestApp::spawn().await;
    let token = brewer(&app, "reg@example.com").await;
    let (credentials, files) = app.register_device(&token, "Kettle").await;
    let device = &credentials["device"];
    assert_eq!(device["name"], "Kettle");
    assert_eq!(device["certificate"]["key_in_bundle"], true);
    assert!(files.cert.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(files.key.contains("PRIVATE KEY"));
    assert_eq!(credentials["settings"]["client_id"], device["id"]);
    assert_eq!(
        credentials["settings"]["tls_port"],
        app.mqtt_tls_addr.unwrap().port()
    );
    assert_eq!(
        credentials["settings"]["topics"]["telemetry"],
        format!("devices/{}/telemetry", files.id)
    );

    let response = app
        .script()
        .get(app.url(&format!("/api/v1/devices/{}/bundle", files.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut read = |name: &str| {
        let mut text = String::new();
        zip.by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    assert_eq!(read("ca.pem"), files.ca);
    assert_eq!(read("device.pem"), files.cert);
    assert_eq!(read("device.key"), files.key, "the same key, unsealed");
    let settings: Value = serde_json::from_str(&read("settings.json")).unwrap();
    assert_eq!(settings["client_id"], files.id.as_str());
    assert!(read("README.txt").contains("mosquitto_pub"));

    let listed: Value = app
        .script()
        .get(app.url("/api/v1/devices"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    let renamed = app
        .script()
        .patch(app.url(&format!("/api/v1/devices/{}", files.id)))
        .bearer_auth(&token)
        .json(&json!({ "name": "Mash tun" }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.json::<Value>().await.unwrap()["name"], "Mash tun");

    let invalid = app
        .script()
        .post(app.url("/api/v1/devices"))
        .bearer_auth(&token)
        .json(&json!({ "name": "", "model": "x".repeat(101) }))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let problem: Value = invalid.json().await.unwrap();
    assert!(
        problem["fields"]["name"].is_string() && problem["fields"]["model"].is_string(),
        "{problem}"
    );

    let actions: Vec<String> = app
        .store()
        .await
        .audit_search(&brewlink::store::audit::AuditQuery::default(), None, 50)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|event| event.action)
        .collect();
    assert!(
        actions.contains(&"device.registered".to_string())
            && actions.contains(&"device.updated".to_string())
    );
    app.stop().await;
}

#[tokio::test]
async fn a_device_touches_only_its_own_topics_on_the_embedded_broker() {
    let app = TestApp::spawn().await;
    let token = brewer(&app, "acl@example.com").await;
    let (_, files) = app.register_device(&token, "Fermenter").await;
    let watcher = app.watcher("acl-watcher").await;
    let answers = mqtt::check_device_topic_rules(
        mqtt::device(app.mqtt_tls_addr.unwrap(), &files),
        &files.id,
        watcher,
    )
    .await;
    // The embedded broker refuses each foreign filter outright ($SYS included).
    assert!(
        answers
            .iter()
            .all(|answer| *answer == rumqttc::SubscribeReasonCode::Failure),
        "{answers:?}"
    );

    // No retained commands, no shared subscriptions even of its own topics.
    let mut watcher = app.watcher("acl-watcher-2").await;
    watcher.subscribe("#").await;
    let mut device = TestClient::connect(mqtt::device(app.mqtt_tls_addr.unwrap(), &files))
        .await
        .unwrap();
    let shared = format!("$share/g/devices/{}/cmd", files.id);
    assert_eq!(
        device.subscribe(&shared).await,
        rumqttc::SubscribeReasonCode::Failure
    );
    let cmd = format!("devices/{}/cmd", files.id);
    let status = format!("devices/{}/status", files.id);
    device.publish(&cmd, b"retained", true).await;
    device.publish(&status, b"online", true).await;
    let seen = watcher.publishes_until(&status).await;
    assert!(
        seen.iter().all(|publish| publish.topic != cmd),
        "a retained command is refused"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_broker_refuses_devices_without_a_valid_identity() {
    let app = TestApp::spawn().await;
    let token = brewer(&app, "refuse@example.com").await;
    let (_, files) = app.register_device(&token, "Boiler").await;
    let (_, other) = app.register_device(&token, "Other").await;
    let addr = app.mqtt_tls_addr.unwrap();

    // No client certificate: the TLS handshake fails.
    let mut anonymous = rumqttc::MqttOptions::new(files.id.as_str(), "localhost", addr.port());
    anonymous.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Simple {
        ca: files.ca.as_bytes().to_vec(),
        alpn: None,
        client_auth: None,
    }));
    assert!(
        TestClient::connect(anonymous).await.is_err(),
        "no certificate"
    );

    // A certificate from another CA, with the right CN.
    let options = mqtt::foreign_ca_device(addr, &files);
    assert!(TestClient::connect(options).await.is_err(), "foreign CA");

    // Its own certificate but another client id (another device's).
    let options = mqtt::device_options(addr, &other.id, &files.ca, &files.cert, &files.key);
    assert!(
        TestClient::connect(options).await.is_err(),
        "client id != CN"
    );

    // A last will on a foreign topic.
    let options = mqtt::with_will(mqtt::device(addr, &files), "devices/someone-else/status");
    assert!(
        TestClient::connect(options).await.is_err(),
        "foreign last will"
    );
    let options = mqtt::with_will(
        mqtt::device(addr, &files),
        &format!("devices/{}/status", files.id),
    );
    assert!(TestClient::connect(options).await.is_ok(), "own last will");

    // A revoked certificate: rotation replaces it.
    let new = app.rotate(&token, &files).await;
    assert!(
        TestClient::connect(mqtt::device(addr, &files))
            .await
            .is_err(),
        "the old certificate is revoked"
    );
    assert!(
        TestClient::connect(mqtt::device(addr, &new)).await.is_ok(),
        "the new one works"
    );

    // An unregistered device.
    let deleted = app
        .script()
        .delete(app.url(&format!("/api/v1/devices/{}", files.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(
        TestClient::connect(mqtt::device(addr, &new)).await.is_err(),
        "unregistered"
    );
    let crl = std::fs::read_to_string(app.data_dir.path().join("pki/crl.pem")).unwrap();
    assert!(crl.contains("BEGIN X509 CRL"));
    app.stop().await;
}

#[tokio::test]
async fn revocation_drops_a_live_connection_within_seconds() {
    let app = TestApp::spawn().await;
    let token = brewer(&app, "live@example.com").await;
    let (_, files) = app.register_device(&token, "Live").await;
    let mut device = TestClient::connect(mqtt::device(app.mqtt_tls_addr.unwrap(), &files))
        .await
        .unwrap();
    assert!(
        !device.dropped_within(Duration::from_millis(300)).await,
        "connected and staying"
    );
    let response = app
        .script()
        .delete(app.url(&format!("/api/v1/devices/{}", files.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        device.dropped_within(Duration::from_secs(5)).await,
        "dropped after revocation"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_csr_keeps_the_private_key_on_the_device() {
    let app = TestApp::spawn().await;
    let token = brewer(&app, "csr@example.com").await;
    let (_, files) = app.register_device(&token, "Own key").await;
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "whatever the device claims");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let url = app.url(&format!("/api/v1/devices/{}/csr", files.id));
    let signed = app
        .script()
        .post(&url)
        .bearer_auth(&token)
        .body(csr)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let signed: Value = signed.json().await.unwrap();
    assert_eq!(
        signed["key_pem"],
        Value::Null,
        "the server never sees the key"
    );
    assert_eq!(signed["device"]["certificate"]["key_in_bundle"], false);
    let options = mqtt::device_options(
        app.mqtt_tls_addr.unwrap(),
        &files.id,
        &files.ca,
        signed["cert_pem"].as_str().unwrap(),
        &key.serialize_pem(),
    );
    assert!(
        TestClient::connect(options).await.is_ok(),
        "the CSR certificate names the device"
    );

    let garbage = app
        .script()
        .post(&url)
        .bearer_auth(&token)
        .body("not a csr")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 422);
    assert!(garbage.json::<Value>().await.unwrap()["fields"]["csr"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn other_users_cannot_see_or_touch_a_device() {
    let app = TestApp::spawn().await;
    let owner = brewer(&app, "own@example.com").await;
    let other = brewer(&app, "oth@example.com").await;
    let (_, files) = app.register_device(&owner, "Private").await;
    for (method, path) in [
        (
            reqwest::Method::GET,
            format!("/api/v1/devices/{}", files.id),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/devices/{}/bundle", files.id),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/devices/{}/certificate/rotate", files.id),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/devices/{}", files.id),
        ),
    ] {
        let response = app
            .script()
            .request(method.clone(), app.url(&path))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    let listed: Value = app
        .script()
        .get(app.url("/api/v1/devices"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn the_device_pages_register_and_unregister_without_javascript() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    app.signup(&browser, "pages@example.com", PASSWORD).await;
    let registered = browser
        .post(app.url("/devices"))
        .form(&[("name", "Kettle"), ("model", "K1")])
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 303);
    let location = registered.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(location.starts_with("/devices/"), "{location}");
    let page = browser
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Device registered.") && page.contains("mosquitto_pub"),
        "{page}"
    );

    let unconfirmed = browser
        .post(app.url(&format!("{location}/unregister")))
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(unconfirmed.headers()["location"], location.as_str());
    let page = browser
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Tick the box to confirm"),
        "still registered, and told why"
    );

    let confirmed = browser
        .post(app.url(&format!("{location}/unregister")))
        .form(&[("confirm", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.headers()["location"], "/devices");
    let list = browser
        .get(app.url("/devices"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("Device unregistered") && list.contains("No devices yet"),
        "{list}"
    );
    let gone = browser.get(app.url(&location)).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn a_configured_ca_signs_devices_and_a_generated_one_keeps_its_key_private() {
    // The generated CA: its key is readable by the owner only.
    let app = TestApp::spawn().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["pki/ca.key", "pki/broker.key", "pki/key-secret"] {
            let mode = std::fs::metadata(app.data_dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
    app.stop().await;

    // A CA made elsewhere, configured by path.
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "Brewery CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = params.self_signed(&ca_key).unwrap();
    std::fs::write(ca_dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(ca_dir.path().join("ca.key"), ca_key.serialize_pem()).unwrap();

    let data_dir = tempfile::tempdir().unwrap();
    let database = common::TestDatabase::fresh(data_dir.path()).await;
    let mut config = common::test_config(data_dir.path(), &database.url);
    // A data folder the server makes itself: only its owner may enter it.
    config.data.dir = data_dir.path().join("made-by-the-server");
    config.pki.ca_cert = ca_dir.path().join("ca.pem").display().to_string();
    config.pki.ca_key = ca_dir.path().join("ca.key").display().to_string();
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let token = brewer(&app, "ca@example.com").await;
    let (credentials, files) = app.register_device(&token, "Configured").await;
    assert_eq!(
        credentials["ca_pem"],
        ca.pem(),
        "devices get the configured CA"
    );
    let made = app.data_dir.path().join("made-by-the-server");
    assert!(
        made.join("pki").exists() && !made.join("pki/ca.key").exists(),
        "no CA is generated"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let folder = std::fs::metadata(&made).unwrap().permissions().mode();
        assert_eq!(folder & 0o777, 0o700, "the data folder is private");
    }
    assert!(
        TestClient::connect(mqtt::device(app.mqtt_tls_addr.unwrap(), &files))
            .await
            .is_ok()
    );

    // Rotation and unregistration are audited.
    let rotate = format!("/api/v1/devices/{}/certificate/rotate", files.id);
    assert_eq!(
        app.script()
            .post(app.url(&rotate))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let delete = format!("/api/v1/devices/{}", files.id);
    assert_eq!(
        app.script()
            .delete(app.url(&delete))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let audit = app
        .store()
        .await
        .audit_search(&brewlink::store::audit::AuditQuery::default(), None, 50)
        .await
        .unwrap()
        .items;
    for action in [
        "device.registered",
        "device.certificate_rotated",
        "device.unregistered",
    ] {
        let event = audit
            .iter()
            .find(|event| event.action == action)
            .unwrap_or_else(|| panic!("{action}"));
        assert_eq!(event.subject, format!("device:{}", files.id));
        assert_eq!(event.source_ip.as_deref(), Some("127.0.0.1"), "from where");
    }
    app.stop().await;
}

#[tokio::test]
async fn simultaneous_rotations_leave_one_valid_certificate() {
    let app = TestApp::spawn().await;
    let token = brewer(&app, "race@example.com").await;
    let (_, files) = app.register_device(&token, "Raced").await;
    let url = app.url(&format!("/api/v1/devices/{}/certificate/rotate", files.id));
    let rotations = (0..8).map(|_| {
        let request = app.script().post(&url).bearer_auth(&token);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures::future::join_all(rotations).await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&app.database.url)
        .await
        .unwrap();
    let valid: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM device_certificates WHERE device_id = $1 AND revoked_at_ms IS NULL",
    )
    .bind(&files.id)
    .fetch_one(&mut connection)
    .await
    .unwrap();
    assert_eq!(valid, 1, "exactly one certificate stays valid");
    connection.close().await.unwrap();
    app.stop().await;
}

/// How many rows each table holds about a device, and how many of its certificates keep a key.
async fn left_behind(app: &TestApp, device_id: &str) -> Vec<(String, i64)> {
    use sqlx::Connection;
    let mut db = sqlx::AnyConnection::connect(&app.database.url)
        .await
        .unwrap();
    let mut counts = Vec::new();
    for (name, query) in [
        (
            "telemetry",
            "SELECT COUNT(*) FROM telemetry WHERE device_id = $1",
        ),
        (
            "device_status",
            "SELECT COUNT(*) FROM device_status WHERE device_id = $1",
        ),
        (
            "commands",
            "SELECT COUNT(*) FROM commands WHERE device_id = $1",
        ),
        (
            "device_errors",
            "SELECT COUNT(*) FROM device_errors WHERE device_id = $1",
        ),
        (
            "sealed keys",
            "SELECT COUNT(*) FROM device_certificates WHERE device_id = $1 AND sealed_key IS NOT NULL",
        ),
    ] {
        let count: i64 = sqlx::query_scalar(query)
            .bind(device_id)
            .fetch_one(&mut db)
            .await
            .unwrap();
        counts.push((name.to_string(), count));
    }
    counts
}

#[tokio::test]
async fn a_deleted_device_leaves_no_data_and_revoked_keys_are_erased() {
    use proto::Message as _;
    let app = TestApp::spawn().await;
    let token = brewer(&app, "erase@example.com").await;
    let (_, files) = app.register_device(&token, "Kettle").await;
    let device = app.online_device(&files).await;
    let sample = proto::v1::Telemetry {
        seq: 1,
        time_ms: chrono::Utc::now().timestamp_millis(),
        ..Default::default()
    };
    let topic = format!("devices/{}/telemetry", files.id);
    device.publish(&topic, &sample.encode_to_vec(), false).await;
    device.publish(&topic, b"\xff not protobuf", false).await;
    let (code, _) = app
        .get_json(&token, &format!("/api/v1/devices/{}/network", files.id))
        .await;
    // Answered or not (timeout, offline), the command is recorded.
    assert!(
        [200, 409, 422, 504].contains(&code),
        "a command was tried: {code}"
    );
    // Wait until everything reached the database.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let counts = left_behind(&app, &files.id).await;
        if counts.iter().all(|(_, count)| *count > 0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{counts:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(device);

    // Rotating revokes the old certificate: its key goes, the new one's stays (for the bundle).
    app.rotate(&token, &files).await;
    let counts = left_behind(&app, &files.id).await;
    assert!(
        counts.contains(&("sealed keys".to_string(), 1)),
        "{counts:?}"
    );

    let (code, _) = app
        .send_json(
            &token,
            reqwest::Method::DELETE,
            &format!("/api/v1/devices/{}", files.id),
            None,
        )
        .await;
    assert_eq!(code, 204);
    let counts = left_behind(&app, &files.id).await;
    assert!(
        counts.iter().all(|(_, count)| *count == 0),
        "left behind: {counts:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_account_registers_at_most_its_quota_of_devices() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = common::TestDatabase::fresh(data_dir.path()).await;
    let mut config = common::test_config(data_dir.path(), &database.url);
    config.devices.per_user = 2;
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let token = brewer(&app, "quota@example.com").await;
    let (_, first) = app.register_device(&token, "One").await;
    app.register_device(&token, "Two").await;
    // Several at once cannot share the last place either.
    let attempts = (0..4).map(|n| {
        app.send_json(
            &token,
            reqwest::Method::POST,
            "/api/v1/devices",
            Some(json!({ "name": format!("Extra {n}"), "model": "X" })),
        )
    });
    for (code, problem) in futures::future::join_all(attempts).await {
        assert_eq!(
            (code, problem["code"].as_str()),
            (409, Some("device_quota")),
            "{problem}"
        );
    }
    let (code, _) = app
        .send_json(
            &token,
            reqwest::Method::DELETE,
            &format!("/api/v1/devices/{}", first.id),
            None,
        )
        .await;
    assert_eq!(code, 204);
    app.register_device(&token, "Three").await;
    // Another account has its own quota.
    let other = brewer(&app, "quota2@example.com").await;
    app.register_device(&other, "Theirs").await;
    app.stop().await;
}
