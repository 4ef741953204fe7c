//! Store tests, each run against SQLite and PostgreSQL.

mod common;

use brewlink::store::{Backend, Store, audit::NewAuditEvent};
use chrono::{TimeZone, Utc};
use common::{Db, TestDatabase};

async fn fresh_store(db: Db) -> (Store, TestDatabase, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(db, dir.path()).await;
    let store = Store::connect(&database.url, 4).await.unwrap();
    store.migrate().await.unwrap();
    (store, database, dir)
}

fn event(n: usize) -> NewAuditEvent {
    NewAuditEvent {
        actor: format!("user:{n}"),
        action: "test.happened".to_string(),
        subject: format!("device:{n}"),
        detail: serde_json::json!({ "n": n, "text": "naïve ☕ 'quoted'" }),
        source_ip: n.is_multiple_of(2).then(|| "127.0.0.1".to_string()),
    }
}

#[tokio::test]
async fn audit_log_round_trips_and_pages() {
    let db = Db::from_env();
    let (store, database, _dir) = fresh_store(db).await;
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0).unwrap();
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(store.audit_record(&event(n), at).await.unwrap());
    }
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids increase: {ids:?}"
    );

    let first = store
        .audit_search(&brewlink::store::audit::AuditQuery::default(), None, 3)
        .await
        .unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|e| e.actor.as_str())
            .collect::<Vec<_>>(),
        ["user:6", "user:5", "user:4"]
    );
    assert_eq!(first.items[0].at, at);
    assert_eq!(
        first.items[0].detail,
        serde_json::json!({ "n": 6, "text": "naïve ☕ 'quoted'" })
    );
    assert_eq!(first.items[0].source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(first.items[1].source_ip, None);

    let second = store
        .audit_search(
            &brewlink::store::audit::AuditQuery::default(),
            first.next_before,
            3,
        )
        .await
        .unwrap();
    assert_eq!(second.items.len(), 3);
    let third = store
        .audit_search(
            &brewlink::store::audit::AuditQuery::default(),
            second.next_before,
            3,
        )
        .await
        .unwrap();
    assert_eq!(
        third
            .items
            .iter()
            .map(|e| e.actor.as_str())
            .collect::<Vec<_>>(),
        ["user:0"]
    );
    assert_eq!(third.next_before, None, "the last page says so");

    store.close().await;
    drop(database);
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let db = Db::from_env();
    let (store, database, _dir) = fresh_store(db).await;
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    let reopened = Store::connect(&database.url, 1).await.unwrap();
    reopened.migrate().await.unwrap();
    assert_eq!(
        reopened
            .audit_search(&brewlink::store::audit::AuditQuery::default(), None, 10)
            .await
            .unwrap()
            .items,
        vec![]
    );
    assert_eq!(
        reopened.backend(),
        if db == Db::Sqlite {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    );
    reopened.close().await;
    store.close().await;
    drop(database);
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    let (store, _database, dir) = fresh_store(Db::Sqlite).await;
    store.close().await;
    let url = format!("sqlite://{}", dir.path().join("brewlink.db").display());
    let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn unsupported_database_urls_are_refused_clearly() {
    let error = Store::connect("mysql://root@127.0.0.1/test", 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("sqlite://") && error.contains("postgres://"),
        "{error}"
    );
}

#[tokio::test]
async fn an_ended_session_is_never_written_back() {
    let db = Db::from_env();
    let (store, database, _dir) = fresh_store(db).await;
    let far = i64::MAX / 2;
    assert!(store.session_create("s1", None, "{}", far).await.unwrap());
    assert!(
        !store.session_create("s1", None, "{}", far).await.unwrap(),
        "ids are unique"
    );
    assert!(
        store
            .session_save("s1", None, "{\"a\":1}", far)
            .await
            .unwrap()
    );
    assert_eq!(
        store.session_load("s1", 0).await.unwrap(),
        Some(("{\"a\":1}".to_string(), far))
    );
    store.session_delete("s1").await.unwrap();
    // A request that loaded the session before it ended saves it afterwards: nothing comes back.
    assert!(
        !store
            .session_save("s1", None, "{\"a\":2}", far)
            .await
            .unwrap()
    );
    assert_eq!(store.session_load("s1", 0).await.unwrap(), None);
    store.close().await;
    drop(database);
}

#[tokio::test]
async fn latest_and_last_seen_only_move_forward() {
    let db = Db::from_env();
    use app::model::telemetry::TelemetryPoint;
    use brewlink::store::telemetry::{IngestBatch, NewSample, StatusReport};
    use chrono::Duration;
    let (store, database, _dir) = fresh_store(db).await;
    let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let sample = |seq: u64, at| NewSample {
        device_id: "d1".into(),
        point: TelemetryPoint {
            seq,
            time: at,
            mash_temp_c: Some(seq as f64),
            ..Default::default()
        },
        received_at: at,
    };
    let status = |online: bool, retained: bool, at| StatusReport {
        device_id: "d1".into(),
        online,
        firmware: "1.0".into(),
        network: Default::default(),
        uptime_s: 1,
        report_interval_s: 10,
        capabilities: Default::default(),
        at,
        retained,
    };
    let ingest = |samples: Vec<NewSample>, statuses: Vec<StatusReport>| {
        let store = store.clone();
        async move {
            store
                .ingest(&IngestBatch {
                    samples,
                    statuses,
                    errors: vec![],
                })
                .await
                .unwrap()
        }
    };
    let seen = || async { store.device_status("d1").await.unwrap().unwrap().0 };

    ingest(vec![sample(5, t0)], vec![]).await;
    assert_eq!(seen().await.latest.unwrap().seq, 5);
    // A new but older sample (out of order) is news, not the latest.
    ingest(vec![sample(3, t0 + Duration::seconds(1))], vec![]).await;
    let now = seen().await;
    assert_eq!(
        (now.latest.unwrap().seq, now.last_seen),
        (5, Some(t0 + Duration::seconds(1)))
    );
    // The same sample again is neither.
    let outcome = ingest(vec![sample(5, t0 + Duration::seconds(9))], vec![]).await;
    assert_eq!(outcome.duplicates, 1);
    assert_eq!(seen().await.last_seen, Some(t0 + Duration::seconds(1)));
    // A retained status replayed by the broker is not the device speaking; a live one is.
    ingest(vec![], vec![status(true, true, t0 + Duration::seconds(20))]).await;
    let now = seen().await;
    assert_eq!(
        (now.reported_online, now.last_seen),
        (true, Some(t0 + Duration::seconds(1)))
    );
    ingest(
        vec![],
        vec![status(true, false, t0 + Duration::seconds(30))],
    )
    .await;
    assert_eq!(seen().await.last_seen, Some(t0 + Duration::seconds(30)));
    store.close().await;
    drop(database);
}

/// A batch is written with one statement: a sample in it twice, or stored before, counts as a
/// duplicate and is stored once; the latest sample is the newest of those stored.
#[tokio::test]
async fn one_batch_stores_each_sample_once() {
    let db = Db::from_env();
    use app::model::telemetry::TelemetryPoint;
    use brewlink::store::telemetry::{IngestBatch, NewSample};
    let (store, database, _dir) = fresh_store(db).await;
    let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let sample = |device: &str, seq: u64| NewSample {
        device_id: device.into(),
        point: TelemetryPoint {
            seq,
            time: t0 + chrono::Duration::seconds(seq as i64),
            mash_temp_c: Some(seq as f64),
            ..Default::default()
        },
        received_at: t0,
    };
    let batch = |samples| IngestBatch {
        samples,
        ..Default::default()
    };
    let first = store.ingest(&batch(vec![sample("d1", 5)])).await.unwrap();
    assert_eq!((first.stored, first.duplicates), (1, 0));
    let samples = vec![
        sample("d1", 7),
        sample("d2", 1),
        sample("d1", 5),
        sample("d1", 7),
        sample("d1", 6),
    ];
    let outcome = store.ingest(&batch(samples)).await.unwrap();
    assert_eq!((outcome.stored, outcome.duplicates), (3, 2));
    let buckets = store
        .telemetry_buckets("d1", t0, t0 + chrono::Duration::seconds(10), 1000)
        .await
        .unwrap();
    assert_eq!(
        buckets.iter().map(|b| b.samples).sum::<u64>(),
        3,
        "{buckets:?}"
    );
    let statuses = store.device_statuses(&["d1", "d2", "d3"]).await.unwrap();
    let mut latest: Vec<(String, u64)> = statuses
        .into_iter()
        .map(|status| (status.device_id, status.latest.unwrap().seq))
        .collect();
    latest.sort();
    assert_eq!(latest, [("d1".to_string(), 7), ("d2".to_string(), 1)]);
    store.close().await;
    drop(database);
}

/// A reading a device leaves out is stored as missing, and one it sends later in the same column is
/// stored as sent: on PostgreSQL a statement is prepared with the parameter types of its first use.
#[tokio::test]
async fn missing_and_present_readings_share_a_statement() {
    let db = Db::from_env();
    use app::model::telemetry::TelemetryPoint;
    use brewlink::store::telemetry::{IngestBatch, NewSample};
    let (store, database, _dir) = fresh_store(db).await;
    let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let bare = TelemetryPoint {
        seq: 1,
        time: t0,
        ..Default::default()
    };
    let full = TelemetryPoint {
        seq: 2,
        time: t0 + chrono::Duration::seconds(1),
        mash_temp_c: Some(66.5),
        boil_temp_c: Some(99.5),
        fermenter_temp_c: Some(19.5),
        setpoint_c: Some(67.0),
        heater_pct: Some(40.0),
        pump_on: Some(true),
        gravity_sg: Some(1.050),
        pressure_kpa: Some(101.3),
        volume_l: Some(23.0),
        ..Default::default()
    };
    // One batch is one transaction on one connection: the second insert reuses the first's statement.
    let outcome = store
        .ingest(&IngestBatch {
            samples: [bare, full]
                .into_iter()
                .map(|point| NewSample {
                    device_id: "d1".into(),
                    received_at: point.time,
                    point,
                })
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(outcome.stored, 2);
    let buckets = store
        .telemetry_buckets("d1", t0, t0 + chrono::Duration::seconds(2), 1000)
        .await
        .unwrap();
    assert_eq!(buckets.len(), 2);
    assert!(buckets[0].readings.is_empty(), "{:?}", buckets[0]);
    let boil = &buckets[1].readings["boil_temp_c"];
    assert_eq!((boil.min, boil.max), (99.5, 99.5));
    assert_eq!(buckets[1].readings.len(), 9, "{:?}", buckets[1]);

    // The same for gravity readings, on a single connection so that both updates share a statement.
    let single = Store::connect(&database.url, 1).await.unwrap();
    for (og, fg) in [(None, Some(1.010)), (Some(1.050), Some(1.010))] {
        assert!(
            !single
                .brew_session_set_measured("no-such-session", og, fg)
                .await
                .unwrap()
        );
    }
    single.close().await;
    store.close().await;
    drop(database);
}

#[tokio::test]
async fn only_the_newest_device_errors_are_kept() {
    let db = Db::from_env();
    use brewlink::store::telemetry::{DeviceErrorRecord, ERRORS_KEPT_PER_DEVICE, IngestBatch};
    let (store, database, _dir) = fresh_store(db).await;
    let error = |n: i64| DeviceErrorRecord {
        device_id: "noisy".into(),
        kind: "undecodable".into(),
        reason: format!("error {n}"),
        topic: "devices/noisy/telemetry".into(),
        size: 3,
        at: Utc::now(),
    };
    let errors = (0..ERRORS_KEPT_PER_DEVICE + 3).map(error).collect();
    store
        .ingest(&IngestBatch {
            samples: vec![],
            statuses: vec![],
            errors,
        })
        .await
        .unwrap();
    let kept = store.device_errors("noisy", 500).await.unwrap();
    assert_eq!(
        kept[0].reason,
        format!("error {}", ERRORS_KEPT_PER_DEVICE + 2),
        "newest first"
    );
    // device_errors answers at most 500 at a time: look at the whole table directly.
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(&database.url).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM device_errors")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let oldest: String = sqlx::query_scalar("SELECT reason FROM device_errors ORDER BY id LIMIT 1")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    assert_eq!(count, ERRORS_KEPT_PER_DEVICE);
    assert_eq!(oldest, "error 3", "the three oldest went");
    store.close().await;
    drop(database);
}

/// The admin site's queries: search with LIKE wildcards taken literally, the last-staff guard, the
/// fleet's liveness and filters, audit filters, and error groups adding up.
#[tokio::test]
async fn admin_queries_work() {
    let db = Db::from_env();
    use app::model::account::Role;
    use brewlink::store::{
        audit::AuditQuery,
        devices::{FleetQuery, NewCertificate},
        errors::ErrorOccurrences,
        telemetry::{IngestBatch, StatusReport},
        users::{NewUser, StaffChange},
    };
    let (store, database, _dir) = fresh_store(db).await;
    let now = Utc::now();
    for (id, email, role) in [
        ("u1", "boss@example.com", Role::Staff),
        ("u2", "under_score@example.com", Role::Brewer),
        ("u3", "percent%@example.com", Role::Brewer),
    ] {
        let user = NewUser {
            id,
            email,
            name: "",
            password_hash: "x",
            role,
        };
        store.user_insert(&user, now).await.unwrap();
    }
    let found = store.users_search("_", None, 10).await.unwrap();
    assert_eq!(found.items.len(), 1, "_ is a character, not a wildcard");
    assert_eq!(found.items[0].0.id, "u2");
    let found = store.users_search("%", None, 10).await.unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(
        store
            .users_search("", None, 2)
            .await
            .unwrap()
            .next_after
            .as_deref(),
        Some("u2")
    );

    assert_eq!(
        store.user_set_role("u1", Role::Brewer, now).await.unwrap(),
        StaffChange::LastStaff
    );
    assert_eq!(
        store.user_disable("u1", now).await.unwrap(),
        StaffChange::LastStaff
    );
    assert_eq!(
        store.user_disable("nobody", now).await.unwrap(),
        StaffChange::NoSuchUser
    );
    assert_eq!(
        store.user_set_role("u2", Role::Staff, now).await.unwrap(),
        StaffChange::Done
    );
    assert_eq!(
        store.user_disable("u1", now).await.unwrap(),
        StaffChange::Done
    );
    assert_eq!(
        store.user_set_role("u2", Role::Brewer, now).await.unwrap(),
        StaffChange::LastStaff,
        "a disabled staff account does not count"
    );

    let certificate = NewCertificate {
        serial: "0a",
        cert_pem: "pem",
        sealed_key: None,
        issued_at: now,
        expires_at: now + chrono::Duration::days(365),
    };
    store
        .device_insert("d1", "u2", "Kettle", "K1", &certificate, 10, now)
        .await
        .unwrap();
    let second = NewCertificate {
        serial: "0b",
        ..certificate.clone()
    };
    store
        .device_insert("d2", "u3", "Fermenter", "F1", &second, 10, now)
        .await
        .unwrap();
    let batch = IngestBatch {
        statuses: vec![StatusReport {
            device_id: "d1".into(),
            online: true,
            firmware: "1.2".into(),
            network: Default::default(),
            uptime_s: 1,
            report_interval_s: 2,
            capabilities: Default::default(),
            at: now,
            retained: false,
        }],
        ..IngestBatch::default()
    };
    store.ingest(&batch).await.unwrap();
    let fleet = |online: Option<bool>, text: &'static str| FleetQuery {
        text,
        online,
        limit: 10,
        ..FleetQuery::default()
    };
    let (rows, _) = store.fleet(&fleet(Some(true), ""), now).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].device.id.as_str(), rows[0].firmware.as_str()),
        ("d1", "1.2")
    );
    assert_eq!(rows[0].owner_email, "under_score@example.com");
    let later = now + chrono::Duration::seconds(16);
    let (rows, _) = store.fleet(&fleet(Some(true), ""), later).await.unwrap();
    assert!(
        rows.is_empty(),
        "silent longer than 15 s (3 × 2 s, at least 15 s): offline"
    );
    let (rows, _) = store.fleet(&fleet(Some(false), ""), now).await.unwrap();
    assert_eq!(rows[0].device.id, "d2");
    let (rows, _) = store.fleet(&fleet(None, "PERCENT%"), now).await.unwrap();
    assert_eq!(rows[0].device.id, "d2", "found by the owner's email");
    let revoked = store.certificates_revoke("d1", now).await.unwrap().unwrap();
    assert_eq!(revoked, ["0a"]);
    assert_eq!(store.certificates_revoke("nope", now).await.unwrap(), None);

    for (actor, action, subject) in [
        ("user:u1", "auth.login", "user:u1"),
        ("anonymous", "auth.login_failed", "user:u2"),
        ("user:u2", "device.command", "device:d1"),
        ("user:u2", "authz.other", ""),
    ] {
        let event = NewAuditEvent {
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            detail: serde_json::json!({}),
            source_ip: None,
        };
        store.audit_record(&event, now).await.unwrap();
    }
    let actions = |query: AuditQuery<'static>| {
        let store = store.clone();
        async move {
            store
                .audit_search(&query, None, 10)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|event| event.action)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        actions(AuditQuery {
            kind: Some("auth"),
            ..AuditQuery::default()
        })
        .await,
        ["auth.login_failed", "auth.login"],
        "a family, not a prefix of other names"
    );
    assert_eq!(
        actions(AuditQuery {
            user_id: Some("u2"),
            ..AuditQuery::default()
        })
        .await,
        ["authz.other", "device.command", "auth.login_failed"]
    );
    assert_eq!(
        actions(AuditQuery {
            device_id: Some("d1"),
            kind: Some("device.command"),
            ..AuditQuery::default()
        })
        .await,
        ["device.command"]
    );
    assert!(
        actions(AuditQuery {
            from: Some(now + chrono::Duration::seconds(1)),
            ..AuditQuery::default()
        })
        .await
        .is_empty()
    );

    let occurrence = |count, example: &str| ErrorOccurrences {
        kind: "device.undecodable".into(),
        count,
        first_seen: now,
        last_seen: now,
        subject: "device:d1".into(),
        example: example.into(),
    };
    store
        .error_groups_add(&[occurrence(2, "first")])
        .await
        .unwrap();
    store
        .error_groups_add(&[occurrence(3, "latest")])
        .await
        .unwrap();
    let groups = store.error_groups(None, 50).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!((groups[0].count, groups[0].example.as_str()), (5, "latest"));
    store.close().await;
    drop(database);
}

/// Search is case-insensitive beyond ASCII and takes LIKE's wildcards and escape literally, the same
/// on both stores (SQLite's `LOWER()` knows only ASCII, so the keys are lower-cased by the server), and
/// rows written before the keys existed are given theirs at the next migration.
#[tokio::test]
async fn search_is_unicode_case_insensitive_and_literal() {
    use app::model::account::Role;
    use brewlink::store::{
        devices::{FleetQuery, NewCertificate},
        recipes::NewRecipe,
        users::NewUser,
    };
    let (store, database, _dir) = fresh_store(Db::from_env()).await;
    let now = Utc::now();
    for (id, email, name) in [
        ("u1", "asa@example.com", "Åsa Öberg"),
        ("u2", "slash@example.com", r"Back\slash"),
        ("u3", "plain@example.com", "Backslash"),
    ] {
        let user = NewUser {
            id,
            email,
            name,
            password_hash: "x",
            role: Role::Brewer,
        };
        store.user_insert(&user, now).await.unwrap();
    }
    let users = |query: &'static str| {
        let store = store.clone();
        async move {
            let page = store.users_search(query, None, 10).await.unwrap();
            page.items
                .into_iter()
                .map(|(user, _)| user.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(users("ÅSA ÖB").await, ["u1"]);
    assert_eq!(users("öberg").await, ["u1"]);
    assert_eq!(users(r"k\s").await, ["u2"], "a backslash is a character");
    assert_eq!(users("backslash").await, ["u3"]);

    let certificate = NewCertificate {
        serial: "0a",
        cert_pem: "pem",
        sealed_key: None,
        issued_at: now,
        expires_at: now + chrono::Duration::days(365),
    };
    store
        .device_insert("d1", "u1", "GÄRBOTTICH", "Ñandú 2", &certificate, 10, now)
        .await
        .unwrap();
    let fleet = |text: &'static str| {
        let store = store.clone();
        async move {
            let query = FleetQuery {
                text,
                limit: 10,
                ..FleetQuery::default()
            };
            let (rows, _) = store.fleet(&query, now).await.unwrap();
            rows.into_iter()
                .map(|row| row.device.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(fleet("gärb").await, ["d1"]);
    assert_eq!(fleet("ÑANDÚ").await, ["d1"]);
    assert_eq!(fleet("nandu").await, Vec::<String>::new());
    assert!(
        store
            .device_update("d1", "Kühlschrank", "K1", now)
            .await
            .unwrap()
    );
    assert_eq!(
        fleet("KÜHL").await,
        ["d1"],
        "a rename is searched by its new name"
    );
    assert_eq!(fleet("gärb").await, Vec::<String>::new());

    let recipe = NewRecipe {
        id: "r1",
        owner_id: "u1",
        name: "Ölbier 100%",
        search_text: "Ölbier 100% Märzen",
        body: "{}",
    };
    store.recipes_insert(&[recipe], now).await.unwrap();
    for (query, hits) in [("ÖLBIER", 1), ("MÄRZEN", 1), ("0%", 1), ("1_0", 0)] {
        let (found, _) = store.recipes_of_owner("u1", query, None, 10).await.unwrap();
        assert_eq!(found.len(), hits, "{query}");
    }

    // Rows from before migration 0009 have no keys; the next migration gives them theirs.
    use sqlx::{Connection, Executor};
    let mut connection = sqlx::AnyConnection::connect(&database.url).await.unwrap();
    connection
        .execute("UPDATE users SET name_key = NULL")
        .await
        .unwrap();
    connection
        .execute("UPDATE devices SET name_key = NULL, model_key = NULL")
        .await
        .unwrap();
    connection.close().await.unwrap();
    assert_eq!(users("öberg").await, Vec::<String>::new());
    store.migrate().await.unwrap();
    assert_eq!(users("ÖBERG").await, ["u1"]);
    assert_eq!(fleet("KÜHL").await, ["d1"]);
    store.close().await;
    drop(database);
}
