//! The running application over real HTTP and MQTT: pages, operational endpoints, the embedded
//! broker's doors, restart and shutdown.

mod common;

use std::time::Duration;

use common::{Db, TestApp, TestDatabase, test_config};
use rumqttc::{AsyncClient, ConnectReturnCode, Event, MqttOptions, Packet};

#[tokio::test]
async fn home_page_is_rendered_on_the_server() {
    let _one_at_a_time = common::PAGE_RENDERS.lock().await;
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Your brewery, connected."), "{html}");
    assert!(html.contains("Quick ABV calculator"));
    assert!(
        html.contains("/pkg/brewlink.js"),
        "the page loads the hydration script"
    );
    assert!(html.contains("<title>BrewLink</title>"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn answers_carry_security_headers_and_pages_are_not_cached() {
    let _one_at_a_time = common::PAGE_RENDERS.lock().await;
    let app = TestApp::spawn().await;
    for path in ["/", "/login", "/api/v1/me", "/healthz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        if path.starts_with("/api") || path == "/healthz" {
            assert!(policy.contains("script-src 'none'"), "{path}: {policy}");
        }
    }
    // A page runs only the scripts that carry this answer's nonce (and what they load): its own
    // hydration scripts. Each answer has a nonce of its own.
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let response = app.client.get(app.url("/login")).send().await.unwrap();
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("no script nonce: {policy}"))
            .to_string();
        assert!(
            policy.contains("'strict-dynamic' 'wasm-unsafe-eval'"),
            "{policy}"
        );
        let html = response.text().await.unwrap();
        let tags: Vec<&str> = html
            .split("<script")
            .skip(1)
            .map(|rest| rest.split('>').next().unwrap_or_default())
            .collect();
        assert!(!tags.is_empty(), "{html}");
        for tag in tags {
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "a script without this answer's nonce: <script{tag}>"
            );
        }
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1]);
    let asset = app
        .client
        .get(app.url("/pkg/brewlink.wasm"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        asset
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "static assets may be cached"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_pages_are_404_and_unknown_api_routes_are_problems() {
    let _one_at_a_time = common::PAGE_RENDERS.lock().await;
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("Page not found"));

    let api = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["status"], 404);
    app.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    app.wait_ready().await;
    let ready: serde_json::Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["database"]["detail"], Db::from_env().name());

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("brewlink_bridge_connected 1"), "{text}");
    assert!(
        text.contains("brewlink_broker_clients 1"),
        "the bridge is the one client:\n{text}"
    );
    assert!(
        text.contains(r#"brewlink_http_requests_total{method="GET",status="200"}"#),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics text ends with EOF"
    );
    app.stop().await;
}

/// Connects an MQTT client to the embedded broker's plain listener and returns the CONNACK code.
async fn connect(
    app: &TestApp,
    client_id: &str,
    credentials: Option<(&str, &str)>,
) -> ConnectReturnCode {
    let addr = app.mqtt_addr.expect("embedded broker");
    let mut options = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
    if let Some((username, password)) = credentials {
        options.set_credentials(username, password);
    }
    let (client, mut event_loop) = AsyncClient::new(options, 10);
    let code = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match event_loop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => return ack.code,
                Ok(_) => {}
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => return code,
                Err(error) => panic!("unexpected MQTT error: {error}"),
            }
        }
    })
    .await
    .expect("the broker answers CONNECT");
    let _ = client.disconnect().await;
    code
}

#[tokio::test]
async fn broker_refuses_anonymous_and_wrong_passwords_and_accepts_the_bridge_account() {
    let app = TestApp::spawn().await;
    assert_eq!(
        connect(&app, "anon", None).await,
        ConnectReturnCode::NotAuthorized
    );
    assert_eq!(
        connect(&app, "guess", Some(("brewlink-bridge", "wrong"))).await,
        ConnectReturnCode::NotAuthorized
    );
    let password =
        std::fs::read_to_string(app.data_dir.path().join("mqtt-bridge-password")).unwrap();
    assert_eq!(
        connect(&app, "ops-tool", Some(("brewlink-bridge", password.trim()))).await,
        ConnectReturnCode::Success
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.data_dir.path().join("mqtt-bridge-password"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the password file is private");
    }
    app.stop().await;
}

#[tokio::test]
async fn second_start_reuses_the_data_folder() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let config = test_config(data_dir.path(), &database.url);
    let first = TestApp::spawn_with(config.clone(), data_dir, database).await;
    first.wait_ready().await;
    let password =
        std::fs::read_to_string(first.data_dir.path().join("mqtt-bridge-password")).unwrap();
    let (_, data_dir, database) = first.stop().await;

    let second = TestApp::spawn_with(config, data_dir, database).await;
    second.wait_ready().await;
    let again =
        std::fs::read_to_string(second.data_dir.path().join("mqtt-bridge-password")).unwrap();
    assert_eq!(password, again, "the bridge keeps its credentials");
    let starts = second
        .store()
        .await
        .audit_search(&brewlink::store::audit::AuditQuery::default(), None, 10)
        .await
        .unwrap();
    let started: Vec<_> = starts
        .items
        .iter()
        .filter(|event| event.action == "server.started")
        .collect();
    assert_eq!(started.len(), 2, "both starts are in the same database");
    second.stop().await;
}

#[tokio::test]
async fn shutdown_is_quick_even_with_clients_connected() {
    let app = TestApp::spawn().await;
    app.wait_ready().await;
    let (took, ..) = app.stop().await;
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

#[tokio::test]
async fn external_broker_mode_runs_no_embedded_broker() {
    // A second app uses the first one's embedded broker as its "external" broker.
    let host = TestApp::spawn().await;
    let password =
        std::fs::read_to_string(host.data_dir.path().join("mqtt-bridge-password")).unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.mqtt.external_url = format!(
        "mqtt://brewlink-bridge:{}@{}",
        password.trim(),
        host.mqtt_addr.unwrap()
    );
    config.mqtt.bridge_client_id = "brewlink-bridge-2".to_string();
    let app = TestApp::spawn_with(config, data_dir, database).await;
    assert_eq!(app.mqtt_addr, None);
    app.wait_ready().await;
    app.stop().await;
    host.stop().await;
}

#[tokio::test]
async fn external_mosquitto_is_used_as_the_broker() {
    let url = std::env::var("BREWLINK_TEST_MOSQUITTO_URL")
        .unwrap_or_else(|_| "mqtt://127.0.0.1:1883".to_string());
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.mqtt.external_url = url;
    config.mqtt.bridge_client_id = format!("brewlink-test-{}", std::process::id());
    let app = TestApp::spawn_with(config, data_dir, database).await;
    app.wait_ready().await;
    let ready: serde_json::Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["broker"]["ok"], true, "{ready}");
    app.stop().await;
}

#[tokio::test]
async fn the_bridge_reconnects_when_its_broker_comes_back() {
    // The "external" broker is another app's embedded broker on a port chosen here, started later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        broker_dir.path().join("mqtt-bridge-password"),
        "shared-secret-for-test",
    )
    .unwrap();

    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.mqtt.external_url =
        format!("mqtt://brewlink-bridge:shared-secret-for-test@127.0.0.1:{port}");
    config.mqtt.bridge_client_id = "brewlink-bridge-reconnect".to_string();
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "no broker yet");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["broker"]["ok"], false);

    let broker_database = TestDatabase::fresh(broker_dir.path()).await;
    let mut broker_config = test_config(broker_dir.path(), &broker_database.url);
    broker_config.mqtt.port = port;
    let broker = TestApp::spawn_with(broker_config, broker_dir, broker_database).await;
    app.wait_ready().await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("brewlink_bridge_connects_total 1"),
        "{metrics}"
    );
    broker.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn nul_characters_are_refused_everywhere_as_client_errors() {
    // PostgreSQL cannot store U+0000; on both stores it is a clear 4xx, never a database error.
    let app = TestApp::spawn().await;
    let token = {
        app.create_user(
            "nul@example.com",
            "a-long-password",
            brewlink::auth::Role::Staff,
        )
        .await;
        app.admin_token("nul@example.com", "a-long-password").await
    };
    for (path, code) in [
        ("/api/v1/admin/devices?query=a%00b", "invalid_query"),
        ("/api/v1/auth/tokens?cursor=%00", "invalid_query"),
        ("/api/v1/devices/a%00b", "invalid_path"),
    ] {
        let (status, problem) = app.get_json(&token, path).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some(code)),
            "{path}: {problem}"
        );
    }
    let (status, problem) = app
        .send_json(
            &token,
            reqwest::Method::POST,
            "/api/v1/devices",
            Some(serde_json::json!({ "name": "Kettle\u{0}", "model": "K" })),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_body")),
        "{problem}"
    );
    let login = app
        .script()
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": "nul\u{0}@example.com", "password": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 422);
    // The six characters \u0000 are text like any other.
    let (status, device) = app
        .send_json(
            &token,
            reqwest::Method::POST,
            "/api/v1/devices",
            Some(serde_json::json!({ "name": r"Kettle \u0000", "model": "K" })),
        )
        .await;
    assert_eq!(status, 201, "{device}");
    assert_eq!(device["device"]["name"], r"Kettle \u0000");
    // Pages and forms (and server functions, which post forms).
    let page = app
        .client
        .get(app.url("/devices?query=%00"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    let form = app
        .browser()
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=nul%00%40example.com&password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_for_this_machine_or_a_scraper_with_the_token() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.http.trusted_proxies = vec!["127.0.0.1".to_string()];
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let get = |forwarded: Option<&str>, token: Option<&str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(address) = forwarded {
            request = request.header("x-forwarded-for", address);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(None, None).await, 200, "on this machine");
    assert_eq!(
        get(Some("203.0.113.1"), None).await,
        403,
        "through the proxy, from outside"
    );
    let (_, data_dir, database) = app.stop().await;

    let mut config = test_config(data_dir.path(), &database.url);
    config.http.metrics_token = "scrape-secret-2026".to_string();
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let get = |token: Option<&str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        get(None).await,
        403,
        "with a token configured, everyone needs it"
    );
    assert_eq!(get(Some("wrong")).await, 403);
    assert_eq!(get(Some("scrape-secret-2026")).await, 200);
    app.stop().await;
}
