//! The table and `results.json`.

use std::{collections::BTreeMap, path::Path, time::Duration};

use anyhow::bail;

use crate::{ingest::IngestRun, machine::Machine};

/// The figures of one run, by key.
pub struct Report {
    machine: Machine,
    values: BTreeMap<String, f64>,
}

/// The 50th and 99th percentiles of some durations.
pub struct Percentiles {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Percentiles {
    pub fn of(mut times: Vec<Duration>) -> Self {
        times.sort_unstable();
        let at = |share: f64| {
            let index = ((times.len() as f64 * share).ceil() as usize).saturating_sub(1);
            times
                .get(index.min(times.len().saturating_sub(1)))
                .map_or(f64::NAN, |time| time.as_secs_f64() * 1000.0)
        };
        Self {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
        }
    }
}

/// One row of the table: key, what it is, its target (empty for a baseline), and the key of the
/// baseline it stands next to.
const ROWS: &[(&str, &str, &str, &str)] = &[
    (
        "ingest_sqlite_msg_s",
        "telemetry stored/s, SQLite, ingest_devices devices over TLS",
        ">= 50000",
        "raw_broker_msg_s",
    ),
    (
        "ingest_postgres_msg_s",
        "telemetry stored/s, PostgreSQL, same load",
        ">= 30000",
        "raw_broker_msg_s",
    ),
    (
        "raw_broker_msg_s",
        "same publishers, raw broker, no storage: QoS 1 messages acknowledged/s",
        "",
        "",
    ),
    (
        "raw_delivered_msg_s",
        "of those, received by 4 plain QoS 0 subscribers/s",
        "",
        "",
    ),
    (
        "ingest_ratio",
        "ingest rate on the first store / raw_broker_msg_s",
        ">= 0.5",
        "",
    ),
    (
        "ingest_devices",
        "devices in the headline ingest runs",
        "",
        "",
    ),
    (
        "ingest_lost",
        "acknowledged to a device but not in the database",
        "0",
        "",
    ),
    (
        "ingest_load_cores",
        "cores the load generator used during SQLite ingest",
        "",
        "",
    ),
    (
        "ingest_server_cores",
        "cores the server used during SQLite ingest",
        "",
        "",
    ),
    (
        "rtt_p50_ms",
        "HTTP PUT gpio -> device -> reply -> HTTP answer, p50",
        "<= 1",
        "raw_mqtt_rtt_p50_ms",
    ),
    ("rtt_p99_ms", "the same, p99", "<= 5", "raw_mqtt_rtt_p99_ms"),
    (
        "raw_mqtt_rtt_p50_ms",
        "request/reply between two plain MQTT clients, p50",
        "",
        "",
    ),
    (
        "live_p50_ms",
        "device publish -> SSE event at the client, p50",
        "",
        "",
    ),
    ("live_p99_ms", "the same, p99", "<= 20", ""),
    (
        "rss_idle_mb",
        "server resident memory after start, MiB",
        "<= 64",
        "",
    ),
    (
        "rss_per_device_kb",
        "server memory per connected idle device, KiB",
        "<= 10",
        "raw_rss_per_device_kb",
    ),
    (
        "ssr_req_s",
        "signed-in device list page (10 devices), requests/s",
        ">= 5000",
        "api_devices_req_s",
    ),
    ("home_req_s", "anonymous home page, requests/s", "", ""),
    (
        "api_devices_req_s",
        "the same list from the JSON API, requests/s",
        "",
        "",
    ),
    (
        "wasm_gz_kib",
        "browser bundle (wasm + JS) gzipped, KiB",
        "<= 300",
        "",
    ),
    (
        "scaling",
        "ingest rate at the most devices / at the fewest",
        ">= 1",
        "",
    ),
];

impl Report {
    pub fn new(machine: Machine) -> Self {
        Self {
            machine,
            values: BTreeMap::new(),
        }
    }

    pub fn set(&mut self, key: &str, value: f64) {
        self.values.insert(key.to_string(), value);
    }

    pub fn get(&self, key: &str) -> f64 {
        self.values.get(key).copied().unwrap_or(f64::NAN)
    }

    pub fn set_percentiles(&mut self, prefix: &str, percentiles: &Percentiles) {
        self.set(&format!("{prefix}_p50_ms"), percentiles.p50_ms);
        self.set(&format!("{prefix}_p99_ms"), percentiles.p99_ms);
    }

    /// Records the devices a run lost on the way; a run in which nothing was counted is an error.
    pub fn check_run(&mut self, name: &str, run: &IngestRun) -> anyhow::Result<()> {
        if run.failed > 0 {
            eprintln!(
                "{name}: {} devices failed ({})",
                run.failed,
                run.first_error.as_deref().unwrap_or("")
            );
            let failed = self.values.get("failed_devices").copied().unwrap_or(0.0);
            self.set("failed_devices", failed + run.failed as f64);
        }
        if run.rate <= 0.0 {
            bail!("{name}: nothing was counted");
        }
        Ok(())
    }

    /// The table, with the machine and the date above it.
    pub fn print(&self) {
        let machine = &self.machine;
        println!(
            "BrewLink benchmarks, {}: {} cores ({}), {:.1} GiB memory",
            machine.date, machine.cores, machine.cpu, machine.memory_gib
        );
        println!("| key | what | value | target | baseline |");
        println!("|---|---|---|---|---|");
        for (key, what, target, baseline) in ROWS {
            let baseline = if baseline.is_empty() {
                String::new()
            } else {
                format!("{} ({baseline})", number(self.get(baseline)))
            };
            println!(
                "| `{key}` | {what} | {} | {target} | {baseline} |",
                number(self.get(key))
            );
        }
        let scaling: Vec<String> = self
            .values
            .iter()
            .filter_map(|(key, value)| {
                let devices = key.strip_prefix("scaling_")?.strip_suffix("_msg_s")?;
                Some((devices.parse::<u64>().ok()?, *value))
            })
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .map(|(devices, rate)| format!("{devices} devices: {} msg/s", number(rate)))
            .collect();
        println!("ingest on SQLite by devices: {}", scaling.join(", "));
    }

    /// Writes every figure (numbers) and the machine to `path`.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut json = serde_json::Map::new();
        json.insert("machine".to_string(), serde_json::to_value(&self.machine)?);
        for (key, value) in &self.values {
            json.insert(key.clone(), serde_json::json!(round(*value)));
        }
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")?;
        Ok(())
    }
}

/// Three significant digits are all a benchmark on a shared machine can claim.
fn round(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let digits = 3 - value.abs().log10().ceil() as i32;
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

fn number(value: f64) -> String {
    if value.is_nan() {
        return "-".to_string();
    }
    let value = round(value);
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}
