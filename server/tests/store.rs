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

async fn audit_log_round_trips_and_pages(db: Db) {
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

    let first = store.audit_list(None, 3).await.unwrap();
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

    let second = store.audit_list(first.next_before, 3).await.unwrap();
    assert_eq!(second.items.len(), 3);
    let third = store.audit_list(second.next_before, 3).await.unwrap();
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
    database.drop_database().await;
}

async fn migrations_are_idempotent(db: Db) {
    let (store, database, _dir) = fresh_store(db).await;
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    let reopened = Store::connect(&database.url, 1).await.unwrap();
    reopened.migrate().await.unwrap();
    assert_eq!(reopened.audit_list(None, 10).await.unwrap().items, vec![]);
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
    database.drop_database().await;
}

#[tokio::test]
async fn sqlite_audit_log_round_trips_and_pages() {
    audit_log_round_trips_and_pages(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_audit_log_round_trips_and_pages() {
    audit_log_round_trips_and_pages(Db::Postgres).await;
}

#[tokio::test]
async fn sqlite_migrations_are_idempotent() {
    migrations_are_idempotent(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_migrations_are_idempotent() {
    migrations_are_idempotent(Db::Postgres).await;
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

async fn an_ended_session_is_never_written_back(db: Db) {
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
        store.session_load("s1", 0).await.unwrap().as_deref(),
        Some("{\"a\":1}")
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
    database.drop_database().await;
}

#[tokio::test]
async fn sqlite_an_ended_session_is_never_written_back() {
    an_ended_session_is_never_written_back(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_an_ended_session_is_never_written_back() {
    an_ended_session_is_never_written_back(Db::Postgres).await;
}

async fn latest_and_last_seen_only_move_forward(db: Db) {
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
    database.drop_database().await;
}

#[tokio::test]
async fn sqlite_latest_and_last_seen_only_move_forward() {
    latest_and_last_seen_only_move_forward(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_latest_and_last_seen_only_move_forward() {
    latest_and_last_seen_only_move_forward(Db::Postgres).await;
}

async fn only_the_newest_device_errors_are_kept(db: Db) {
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
    database.drop_database().await;
}

#[tokio::test]
async fn sqlite_only_the_newest_device_errors_are_kept() {
    only_the_newest_device_errors_are_kept(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_only_the_newest_device_errors_are_kept() {
    only_the_newest_device_errors_are_kept(Db::Postgres).await;
}
