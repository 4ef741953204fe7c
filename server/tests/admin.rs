//! The admin site for staff, driven as staff drive it: over the JSON API with a token, through the web
//! pages with a browser session, with real devices on the embedded broker.

mod common;

use std::time::Duration;

use brewlink::{
    auth::Role,
    simulator::{self, Tuning},
};
use common::{TestApp, sse::SseStream};
use proto::{Message, v1};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "mash-tun-4242";

/// A staff member's token.
async fn staff(app: &TestApp) -> String {
    app.create_user("staff@example.com", PASSWORD, Role::Staff)
        .await;
    app.admin_token("staff@example.com", PASSWORD).await
}

/// A brewer's id and token.
async fn brewer(app: &TestApp, email: &str) -> (String, String) {
    let id = app.create_user(email, PASSWORD, Role::Brewer).await;
    (id, app.token(email, PASSWORD).await)
}

/// Polls `path` until `check` holds, at most 15 s.
async fn wait_for(app: &TestApp, token: &str, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (code, body) = app.get_json(token, path).await;
        if code == 200 && check(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never matched: {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn staff_find_users_and_a_disabled_user_loses_access_at_once() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let (hop_id, hop_token) = brewer(&app, "hop.grower@example.com").await;
    brewer(&app, "malt@example.com").await;
    app.register_device(&hop_token, "Kettle").await;
    // The brewer is also signed in in a browser.
    let browser = app.browser();
    assert_eq!(
        app.login(&browser, "hop.grower@example.com", PASSWORD)
            .await
            .status(),
        200
    );

    let (code, page) = app.get_json(&staff, "/api/v1/admin/users?query=HOP").await;
    assert_eq!(code, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "search is by part of the email, any case");
    assert_eq!(items[0]["email"], "hop.grower@example.com");
    assert_eq!(items[0]["devices"], 1);

    // Paging through everyone: three users, two per page.
    let (_, first) = app.get_json(&staff, "/api/v1/admin/users?limit=2").await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, second) = app
        .get_json(
            &staff,
            &format!("/api/v1/admin/users?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());

    let (code, detail) = app
        .get_json(&staff, &format!("/api/v1/admin/users/{hop_id}"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(detail["devices"].as_array().unwrap().len(), 1);
    assert_eq!(detail["devices"][0]["name"], "Kettle");
    assert_eq!(detail["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(detail["tokens"].as_array().unwrap().len(), 1);
    assert!(
        !detail.to_string().contains(&hop_token),
        "no secret is shown"
    );

    let (code, user) = app
        .send_json(
            &staff,
            Method::PATCH,
            &format!("/api/v1/admin/users/{hop_id}"),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!((code, &user["disabled"]), (200, &json!(true)), "{user}");
    let (code, _) = app.get_json(&hop_token, "/api/v1/me").await;
    assert_eq!(code, 401, "the token stops at once");
    let me = browser.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), 401, "the session ends at once");
    let (_, detail) = app
        .get_json(&staff, &format!("/api/v1/admin/users/{hop_id}"))
        .await;
    assert_eq!(detail["sessions"], json!([]));

    let (code, _) = app
        .send_json(
            &staff,
            Method::PATCH,
            &format!("/api/v1/admin/users/{hop_id}"),
            Some(json!({ "disabled": false })),
        )
        .await;
    assert_eq!(code, 200);
    let (code, _) = app.get_json(&hop_token, "/api/v1/me").await;
    assert_eq!(code, 401, "enabled again, the old token stays ended");

    let (_, audit) = app
        .get_json(
            &staff,
            &format!("/api/v1/admin/audit?user_id={hop_id}&kind=admin"),
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["admin.user_enabled", "admin.user_disabled"]);
    app.stop().await;
}

#[tokio::test]
async fn the_last_enabled_staff_account_cannot_be_demoted_or_disabled() {
    let app = TestApp::spawn().await;
    let staff_token = staff(&app).await;
    let (_, me) = app.get_json(&staff_token, "/api/v1/me").await;
    let staff_id = me["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/admin/users/{staff_id}");
    for change in [json!({ "role": "brewer" }), json!({ "disabled": true })] {
        let (code, problem) = app
            .send_json(&staff_token, Method::PATCH, &path, Some(change))
            .await;
        assert_eq!((code, problem["code"].as_str()), (409, Some("last_staff")));
    }
    let (code, problem) = app
        .send_json(&staff_token, Method::PATCH, &path, Some(json!({})))
        .await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (422, Some("validation_failed"))
    );

    // With a second staff member, the first may step down.
    let (second_id, _) = brewer(&app, "second@example.com").await;
    let (code, user) = app
        .send_json(
            &staff_token,
            Method::PATCH,
            &format!("/api/v1/admin/users/{second_id}"),
            Some(json!({ "role": "staff" })),
        )
        .await;
    assert_eq!((code, &user["role"]), (200, &json!("staff")));
    let (code, user) = app
        .send_json(
            &staff_token,
            Method::PATCH,
            &path,
            Some(json!({ "role": "brewer" })),
        )
        .await;
    assert_eq!((code, &user["role"]), (200, &json!("brewer")));
    let (code, _) = app.get_json(&staff_token, "/api/v1/admin/users").await;
    assert_eq!(code, 403, "a brewer now");
    app.stop().await;
}

#[tokio::test]
async fn the_fleet_is_searchable_and_staff_can_disconnect_and_revoke() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let (_, alice) = brewer(&app, "alice@example.com").await;
    let (bob_id, bob) = brewer(&app, "bob@example.com").await;
    let (_, online_files) = app.register_device(&alice, "Fermenter").await;
    let (_, idle_files) = app.register_device(&bob, "Kettle").await;
    let mut device = app.online_device(&online_files).await;
    let online_id = online_files.id.clone();

    let fleet = wait_for(&app, &staff, "/api/v1/admin/devices?online=true", |page| {
        page["items"]
            .as_array()
            .is_some_and(|items| items.len() == 1)
    })
    .await;
    let row = &fleet["items"][0];
    assert_eq!(row["id"], online_id.as_str());
    assert_eq!(row["owner_email"], "alice@example.com");
    assert_eq!(row["firmware"], "raw");
    assert!(row["last_seen"].is_string());

    let (_, offline) = app
        .get_json(&staff, "/api/v1/admin/devices?online=false")
        .await;
    assert_eq!(offline["items"][0]["id"], idle_files.id.as_str());
    let (_, by_owner) = app
        .get_json(&staff, &format!("/api/v1/admin/devices?owner_id={bob_id}"))
        .await;
    assert_eq!(by_owner["items"].as_array().unwrap().len(), 1);
    let (_, by_email) = app
        .get_json(&staff, "/api/v1/admin/devices?query=ALICE%40")
        .await;
    assert_eq!(by_email["items"][0]["name"], "Fermenter");
    let (_, by_name) = app
        .get_json(&staff, "/api/v1/admin/devices?query=kett")
        .await;
    assert_eq!(by_name["items"][0]["id"], idle_files.id.as_str());

    // Telemetry shows up as the device's message rate.
    let sample = v1::Telemetry {
        seq: 1,
        time_ms: chrono::Utc::now().timestamp_millis(),
        readings: Some(v1::Readings {
            mash_temp_c: Some(66.0),
            ..Default::default()
        }),
    };
    device
        .publish(
            &format!("devices/{online_id}/telemetry"),
            &sample.encode_to_vec(),
            false,
        )
        .await;
    wait_for(&app, &staff, "/api/v1/admin/devices?online=true", |page| {
        page["items"][0]["messages_last_minute"] == 1
    })
    .await;

    let (code, answer) = app
        .send_json(
            &staff,
            Method::POST,
            &format!("/api/v1/admin/devices/{online_id}/disconnect"),
            None,
        )
        .await;
    assert_eq!((code, &answer), (200, &json!({ "was_connected": true })));
    assert!(
        device.dropped_within(Duration::from_secs(5)).await,
        "the broker dropped the device"
    );

    let (code, answer) = app
        .send_json(
            &staff,
            Method::POST,
            &format!("/api/v1/admin/devices/{online_id}/revoke"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["revoked"].as_array().unwrap().len(), 1);
    let again = common::mqtt::TestClient::connect(common::mqtt::device(
        app.mqtt_tls_addr.unwrap(),
        &online_files,
    ))
    .await;
    assert!(again.is_err(), "a revoked certificate no longer connects");
    let (_, device_info) = app
        .get_json(&alice, &format!("/api/v1/devices/{online_id}"))
        .await;
    assert!(device_info["certificate"].is_null(), "{device_info}");

    let (_, audit) = app
        .get_json(
            &staff,
            &format!("/api/v1/admin/audit?device_id={online_id}&kind=admin"),
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["admin.certificate_revoked", "admin.device_disconnected"]
    );
    let (code, _) = app
        .send_json(
            &staff,
            Method::POST,
            "/api/v1/admin/devices/no-such-device/revoke",
            None,
        )
        .await;
    assert_eq!(code, 404);
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_filters_pages_and_exports_csv() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let (brewer_id, brewer_token) = brewer(&app, "audited@example.com").await;
    let started = chrono::Utc::now();
    let browser = app.browser();
    assert_eq!(
        app.login(&browser, "audited@example.com", "wrong-password-1")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.login(&browser, "audited@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    let (_, files) = app.register_device(&brewer_token, "Audited kettle").await;

    let (code, logins) = app
        .get_json(
            &staff,
            &format!("/api/v1/admin/audit?kind=auth&user_id={brewer_id}"),
        )
        .await;
    assert_eq!(code, 200);
    let entries = logins["items"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"auth.login"), "{actions:?}");
    assert!(actions.contains(&"auth.login_failed"), "{actions:?}");
    assert!(
        entries
            .iter()
            .all(|entry| entry["source_ip"] == "127.0.0.1")
    );

    let (_, device) = app
        .get_json(
            &staff,
            &format!("/api/v1/admin/audit?device_id={}", files.id),
        )
        .await;
    assert_eq!(device["items"][0]["action"], "device.registered");

    // A time range: nothing before the test started, everything after.
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (_, later) = app
        .get_json(
            &staff,
            &format!("/api/v1/admin/audit?from={}", urlencode(&future)),
        )
        .await;
    assert_eq!(later["items"], json!([]));
    let (_, recent) = app
        .get_json(
            &staff,
            &format!(
                "/api/v1/admin/audit?from={}&limit=2",
                urlencode(&started.to_rfc3339())
            ),
        )
        .await;
    assert_eq!(recent["items"].as_array().unwrap().len(), 2);
    let cursor = recent["next_cursor"].as_str().unwrap();
    let (_, older) = app
        .get_json(
            &staff,
            &format!(
                "/api/v1/admin/audit?from={}&limit=2&cursor={cursor}",
                urlencode(&started.to_rfc3339())
            ),
        )
        .await;
    assert!(
        older["items"][0]["id"].as_i64() < recent["items"][1]["id"].as_i64(),
        "the next page is older"
    );

    let (code, problem) = app
        .get_json(&staff, "/api/v1/admin/audit?from=yesterday")
        .await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (422, Some("validation_failed"))
    );

    let csv = app
        .script()
        .get(app.url(&format!(
            "/api/v1/admin/audit?user_id={brewer_id}&format=csv"
        )))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("id,at,actor,action,subject,source_ip,detail")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.iter().any(|row| row.contains("auth.login_failed")),
        "{text}"
    );
    let (_, all) = app
        .get_json(&staff, &format!("/api/v1/admin/audit?user_id={brewer_id}"))
        .await;
    assert_eq!(
        rows.len(),
        all["items"].as_array().unwrap().len(),
        "the CSV holds every entry by or about the user: {text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_audited_action_appears_in_the_audit_log() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let browser = app.browser();
    let user = app
        .signup(&browser, "everything@example.com", PASSWORD)
        .await;
    let user_id = user["id"].as_str().unwrap().to_string();
    app.login(&app.browser(), "everything@example.com", "not-the-password")
        .await;
    app.login(&app.browser(), "everything@example.com", PASSWORD)
        .await;
    let token = app.token("everything@example.com", PASSWORD).await;
    let (_, tokens) = app.get_json(&token, "/api/v1/auth/tokens").await;
    let token_id = tokens["items"][0]["id"].as_str().unwrap().to_string();
    let second = app.token("everything@example.com", PASSWORD).await;
    let (_, files) = app.register_device(&second, "Audited").await;
    let id = files.id.clone();
    app.rotate(&second, &files).await;
    app.get_json(&second, &format!("/api/v1/devices/{id}/network"))
        .await;
    app.send_json(
        &second,
        Method::PATCH,
        &format!("/api/v1/devices/{id}"),
        Some(json!({ "name": "Renamed" })),
    )
    .await;
    app.send_json(
        &staff,
        Method::POST,
        &format!("/api/v1/admin/devices/{id}/revoke"),
        None,
    )
    .await;
    app.send_json(
        &staff,
        Method::PATCH,
        &format!("/api/v1/admin/users/{user_id}"),
        Some(json!({ "role": "staff" })),
    )
    .await;
    app.send_json(
        &second,
        Method::DELETE,
        &format!("/api/v1/auth/tokens/{token_id}"),
        None,
    )
    .await;
    app.send_json(
        &second,
        Method::DELETE,
        &format!("/api/v1/devices/{id}"),
        None,
    )
    .await;

    let (_, by_user) = app
        .get_json(
            &staff,
            &format!("/api/v1/admin/audit?user_id={user_id}&limit=100"),
        )
        .await;
    let (_, by_device) = app
        .get_json(
            &staff,
            &format!("/api/v1/admin/audit?device_id={id}&limit=100"),
        )
        .await;
    let mut actions: Vec<String> = [&by_user, &by_device]
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap().iter())
        .map(|entry| entry["action"].as_str().unwrap().to_string())
        .collect();
    actions.sort();
    actions.dedup();
    for expected in [
        "account.created",
        "auth.login",
        "auth.login_failed",
        "token.created",
        "token.revoked",
        "device.registered",
        "device.certificate_rotated",
        "device.command",
        "device.updated",
        "device.unregistered",
        "admin.certificate_revoked",
        "admin.role_changed",
    ] {
        assert!(
            actions.iter().any(|action| action == expected),
            "{expected} missing: {actions:?}"
        );
    }
    let command = by_device["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["action"] == "device.command")
        .unwrap();
    assert_eq!(command["actor"], format!("user:{user_id}"));
    assert_eq!(command["detail"]["outcome"], "offline");
    assert_eq!(command["source_ip"], "127.0.0.1");
    app.stop().await;
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn device_problems_are_grouped_by_kind() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = common::TestDatabase::fresh(data_dir.path()).await;
    let mut config = common::test_config(data_dir.path(), &database.url);
    config.mqtt.command_timeout_ms = 300;
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let staff = staff(&app).await;
    let (_, brewer) = brewer(&app, "noisy@example.com").await;
    let (_, files) = app.register_device(&brewer, "Noisy").await;
    let id = files.id.clone();
    let device = app.online_device(&files).await;

    for _ in 0..2 {
        device
            .publish(
                &format!("devices/{id}/telemetry"),
                &[0xff, 0xff, 0xff],
                false,
            )
            .await;
    }
    device
        .publish("devices/someone-else/telemetry", b"x", false)
        .await;
    // Online but never answering: the command times out.
    wait_for(
        &app,
        &brewer,
        &format!("/api/v1/devices/{id}/status"),
        |status| status["online"] == true,
    )
    .await;
    let (code, _) = app
        .get_json(&brewer, &format!("/api/v1/devices/{id}/rtc"))
        .await;
    assert_eq!(code, 504);

    let groups = wait_for(&app, &staff, "/api/v1/admin/errors", |page| {
        let kinds: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|group| group["kind"].as_str())
            .collect();
        [
            "device.undecodable",
            "device.acl_denied",
            "device.command_timeout",
        ]
        .iter()
        .all(|kind| kinds.contains(kind))
    })
    .await;
    let group = |kind: &str| {
        groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|group| group["kind"] == kind)
            .unwrap()
            .clone()
    };
    let undecodable = group("device.undecodable");
    assert_eq!(undecodable["count"], 2);
    assert_eq!(undecodable["subject"], format!("device:{id}"));
    assert!(
        undecodable["example"].as_str().unwrap().contains("3 bytes"),
        "{undecodable}"
    );
    assert!(undecodable["first_seen"].as_str() <= undecodable["last_seen"].as_str());
    let acl = group("device.acl_denied");
    assert!(
        acl["example"]
            .as_str()
            .unwrap()
            .contains("devices/someone-else/telemetry"),
        "{acl}"
    );
    assert!(
        group("device.command_timeout")["example"]
            .as_str()
            .unwrap()
            .contains("rtc")
    );
    app.stop().await;
}

#[tokio::test]
async fn the_inspector_shows_a_simulators_traffic_decoded_both_ways() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let (_, brewer) = brewer(&app, "sim-owner@example.com").await;
    let (_, files) = app.register_device(&brewer, "Simulated").await;
    let id = files.id.clone();
    let mut inspector = SseStream::new(
        app.script()
            .get(app.url(&format!("/api/v1/admin/devices/{id}/inspect")))
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap(),
    );
    let shutdown = CancellationToken::new();
    let simulation = tokio::spawn(simulator::run(
        vec![app.bundle(&brewer, &id).await],
        Tuning {
            interval: Duration::from_millis(200),
            speed: 20.0,
        },
        None,
        shutdown.clone(),
    ));

    let telemetry = inspector
        .next_matching("message", |message| {
            message["topic"] == format!("devices/{id}/telemetry")
        })
        .await;
    assert_eq!(telemetry["direction"], "from_device");
    assert_eq!(telemetry["device_id"], id.as_str());
    assert!(telemetry["size"].as_u64().unwrap() > 0);
    let decoded = telemetry["decoded"]["Ok"].as_str().unwrap();
    assert!(
        decoded.contains("seq:") && decoded.contains("mash_temp_c"),
        "{decoded}"
    );

    wait_for(
        &app,
        &brewer,
        &format!("/api/v1/devices/{id}/status"),
        |status| status["online"] == true,
    )
    .await;
    let (code, _) = app
        .get_json(&brewer, &format!("/api/v1/devices/{id}/network"))
        .await;
    assert_eq!(code, 200);
    let command = inspector
        .next_matching("message", |message| message["direction"] == "to_device")
        .await;
    assert_eq!(command["topic"], format!("devices/{id}/cmd"));
    let decoded = command["decoded"]["Ok"].as_str().unwrap();
    assert!(decoded.contains("NetworkGet"), "{decoded}");
    let reply = inspector
        .next_matching("message", |message| {
            message["topic"]
                .as_str()
                .is_some_and(|topic| topic.starts_with(&format!("devices/{id}/reply/")))
        })
        .await;
    assert!(
        reply["decoded"]["Ok"].as_str().unwrap().contains("mac"),
        "{reply}"
    );

    // Undecodable traffic is shown with the reason, not hidden.
    let device = app.online_device(&files).await;
    device
        .publish(&format!("devices/{id}/program"), &[0xff, 0x01], false)
        .await;
    let bad = inspector
        .next_matching("message", |message| {
            message["topic"] == format!("devices/{id}/program")
        })
        .await;
    assert!(
        bad["decoded"]["Err"]
            .as_str()
            .unwrap()
            .contains("undecodable"),
        "{bad}"
    );
    shutdown.cancel();
    let _ = simulation.await;
    app.stop().await;
}

#[tokio::test]
async fn broker_and_bridge_figures_are_live_and_on_metrics() {
    let app = TestApp::spawn().await;
    let staff = staff(&app).await;
    let (_, brewer) = brewer(&app, "figures@example.com").await;
    let (_, files) = app.register_device(&brewer, "Counted").await;
    let _device = app.online_device(&files).await;
    let status = wait_for(&app, &staff, "/api/v1/admin/broker", |status| {
        status["now"]["clients"].as_u64() >= Some(2)
            && status["history"].as_array().unwrap().len() >= 2
    })
    .await;
    assert_eq!(status["broker"], "embedded");
    assert_eq!(status["bridge_state"], "connected");
    assert!(status["bridge_connects"].as_u64() >= Some(1));
    assert!(
        status["now"]["subscriptions"].as_u64() >= Some(2),
        "the bridge's two (replies, program progress; the broker hands telemetry and status to ingest itself): {status}"
    );
    assert!(status["received_total"].as_u64() >= Some(1), "{status}");
    let metrics = app.metrics().await;
    for name in [
        "brewlink_broker_subscriptions",
        "brewlink_ingest_queue_depth",
        "brewlink_ingest_batch_last_seconds",
        "brewlink_broker_messages_dropped_total",
        "brewlink_bridge_connects_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    app.stop().await;
}

#[tokio::test]
async fn admin_pages_are_for_staff_only() {
    let app = TestApp::spawn().await;
    app.create_user("staff@example.com", PASSWORD, Role::Staff)
        .await;
    brewer(&app, "curious@example.com").await;
    let pages = [
        "/admin",
        "/admin/users",
        "/admin/devices",
        "/admin/audit",
        "/admin/errors",
        "/admin/inspector",
    ];
    let anonymous = app.browser();
    let brewer_browser = app.browser();
    app.login(&brewer_browser, "curious@example.com", PASSWORD)
        .await;
    let staff_browser = app.browser();
    app.login(&staff_browser, "staff@example.com", PASSWORD)
        .await;
    for page in pages {
        // A browser asks for HTML, and is then redirected (not just told where to go).
        let response = anonymous
            .get(app.url(page))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_redirection(),
            "{page} anonymous: {}",
            response.status()
        );
        assert_eq!(response.headers()["location"], "/login", "{page}");
        let response = brewer_browser.get(app.url(page)).send().await.unwrap();
        assert_eq!(response.status(), 403, "{page} as a brewer");
        let response = staff_browser.get(app.url(page)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{page} as staff");
    }
    let users = staff_browser
        .get(app.url("/admin/users?query=curious"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        users.contains("curious@example.com"),
        "the list is rendered on the server"
    );
    // The form buttons are staff-only too.
    let (curious_id, _) = {
        let store = app.store().await;
        let record = store
            .user_by_email("curious@example.com")
            .await
            .unwrap()
            .unwrap();
        store.close().await;
        (record.user.id, ())
    };
    let response = brewer_browser
        .post(app.url(&format!("/admin/users/{curious_id}/promote")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let store = app.store().await;
    let record = store
        .user_by_email("curious@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.user.role,
        Role::Brewer,
        "a brewer cannot promote themselves"
    );
    store.close().await;
    app.stop().await;
}
