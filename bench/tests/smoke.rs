//! The benchmark's smallest run against the debug build, on this test run's store
//! (`BREWLINK_TEST_STORE`): every measurement works and writes a number, and nothing acknowledged to
//! a device is missing from the database. Its figures are not checked (a debug build on a shared
//! machine says nothing about speed).

use std::{path::PathBuf, process::Command};

/// Every key the README's table shows.
const KEYS: &[&str] = &[
    "raw_broker_msg_s",
    "raw_delivered_msg_s",
    "ingest_ratio",
    "ingest_lost",
    "ingest_acked",
    "rtt_p50_ms",
    "rtt_p99_ms",
    "raw_mqtt_rtt_p50_ms",
    "live_p50_ms",
    "live_p99_ms",
    "rss_idle_mb",
    "rss_per_device_kb",
    "raw_rss_per_device_kb",
    "ssr_req_s",
    "home_req_s",
    "api_devices_req_s",
    "wasm_gz_kib",
    "scaling",
    "scaling_5_msg_s",
    "scaling_20_msg_s",
];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace folder")
        .to_path_buf()
}

#[test]
fn the_smallest_benchmark_measures_everything_and_loses_nothing() {
    let store = match std::env::var("BREWLINK_TEST_STORE").as_deref() {
        Ok("postgres") => "postgres",
        _ => "sqlite",
    };
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from);
    let server = target.join("debug/brewlink");
    assert!(
        server.exists(),
        "{} is built by `cargo leptos build` (the test command does it first)",
        server.display()
    );
    let out = tempfile::tempdir().unwrap();
    let results = out.path().join("results.json");
    let status = Command::new(env!("CARGO_BIN_EXE_brewlink-bench"))
        .args(["--size", "smoke", "--stores", store])
        .arg("--server")
        .arg(&server)
        .arg("--site-root")
        .arg(target.join("site"))
        .arg("--out")
        .arg(&results)
        .status()
        .unwrap();
    assert!(status.success(), "the benchmark failed: {status}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let ingest = format!("ingest_{store}_msg_s");
    for key in KEYS.iter().copied().chain([ingest.as_str()]) {
        let value = json[key].as_f64();
        assert!(
            value.is_some_and(|value| value.is_finite() && value >= 0.0),
            "{key} is {:?}",
            json[key]
        );
    }
    for key in [
        "rtt_p50_ms",
        "live_p50_ms",
        "ssr_req_s",
        "raw_broker_msg_s",
        "raw_delivered_msg_s",
        &ingest,
    ] {
        assert!(json[key].as_f64().unwrap() > 0.0, "{key} measured nothing");
    }
    assert!(json["ingest_acked"].as_f64().unwrap() > 0.0);
    assert_eq!(
        json["ingest_lost"].as_f64(),
        Some(0.0),
        "acknowledged samples are missing"
    );
    assert!(json["machine"]["cores"].as_u64().unwrap() >= 1);
}
