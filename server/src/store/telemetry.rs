//! Telemetry (a time series per device), last known status, commands and device-side errors.

use std::collections::{BTreeMap, HashSet};

use app::model::telemetry::{
    Bucket, Capabilities, CommandRecord, DeviceStatus, NetworkInfo, Stats, TelemetryPoint,
};
use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{Backend, NullableDouble, Store, StoreError, from_millis, to_millis};

/// The readings stored in their own columns, in [`TelemetryPoint`] order.
pub const READINGS: [&str; 9] = [
    "mash_temp_c",
    "boil_temp_c",
    "fermenter_temp_c",
    "setpoint_c",
    "heater_pct",
    "pump_on",
    "gravity_sg",
    "pressure_kpa",
    "volume_l",
];

/// Refused payloads kept per device (the newest).
pub const ERRORS_KEPT_PER_DEVICE: i64 = 1000;

/// A sample to store.
#[derive(Debug, Clone)]
pub struct NewSample {
    pub device_id: String,
    pub point: TelemetryPoint,
    pub received_at: DateTime<Utc>,
}

/// A status report to store.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub device_id: String,
    pub online: bool,
    pub firmware: String,
    pub network: NetworkInfo,
    pub uptime_s: u64,
    pub report_interval_s: u32,
    pub capabilities: Capabilities,
    pub at: DateTime<Utc>,
    /// Replayed by the broker as a retained message (not news from the device): it does not count as
    /// the device being heard from.
    pub retained: bool,
}

/// A payload a device sent that could not be used.
#[derive(Debug, Clone)]
pub struct DeviceErrorRecord {
    pub device_id: String,
    pub kind: String,
    pub reason: String,
    pub topic: String,
    pub size: usize,
    pub at: DateTime<Utc>,
}

/// What one ingest batch writes, in one transaction.
#[derive(Debug, Default)]
pub struct IngestBatch {
    pub samples: Vec<NewSample>,
    pub statuses: Vec<StatusReport>,
    pub errors: Vec<DeviceErrorRecord>,
}

/// How many samples a batch stored (duplicates are not stored again).
#[derive(Debug, Default, PartialEq)]
pub struct IngestOutcome {
    pub stored: u64,
    pub duplicates: u64,
}

fn extra_json(point: &TelemetryPoint) -> Option<String> {
    (!point.valves.is_empty() || !point.extra.is_empty())
        .then(|| serde_json::json!({ "valves": point.valves, "extra": point.extra }).to_string())
}

/// Samples one statement inserts: 14 parameters each, well below the most a statement may have
/// (32,766 on SQLite, 65,535 on PostgreSQL).
const SAMPLES_PER_STATEMENT: usize = 500;
/// Parameters of one telemetry row in [`insert_samples`].
const SAMPLE_COLUMNS: usize = 14;

/// A sample number as stored (a BIGINT column).
fn seq_column(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Inserts `samples` with one statement, skipping those already stored; returns the (device, seq)
/// of the rows it inserted. One statement instead of one per sample: a round trip to PostgreSQL
/// and a statement step on SQLite per batch, not per sample.
async fn insert_samples(
    connection: &mut sqlx::AnyConnection,
    backend: Backend,
    samples: &[NewSample],
) -> Result<HashSet<(String, i64)>, StoreError> {
    let sql = format!(
        "INSERT INTO telemetry (device_id, seq, time_ms, received_at_ms, mash_temp_c, boil_temp_c, \
         fermenter_temp_c, setpoint_c, heater_pct, pump_on, gravity_sg, pressure_kpa, volume_l, extra) \
         VALUES {} ON CONFLICT (device_id, seq) DO NOTHING RETURNING device_id, seq",
        super::value_rows(backend, samples.len(), SAMPLE_COLUMNS)
    );
    let mut query = sqlx::query(&sql);
    for sample in samples {
        let point = &sample.point;
        query = query
            .bind(&sample.device_id)
            .bind(seq_column(point.seq))
            .bind(to_millis(point.time))
            .bind(to_millis(sample.received_at))
            .bind(NullableDouble(point.mash_temp_c))
            .bind(NullableDouble(point.boil_temp_c))
            .bind(NullableDouble(point.fermenter_temp_c))
            .bind(NullableDouble(point.setpoint_c))
            .bind(NullableDouble(point.heater_pct))
            .bind(point.pump_on.map(i64::from))
            .bind(NullableDouble(point.gravity_sg))
            .bind(NullableDouble(point.pressure_kpa))
            .bind(NullableDouble(point.volume_l))
            .bind(extra_json(point));
    }
    query
        .fetch_all(connection)
        .await?
        .iter()
        .map(|row| -> Result<(String, i64), StoreError> { Ok((row.try_get(0)?, row.try_get(1)?)) })
        .collect()
}

/// The columns [`status_of`] reads.
const STATUS_SELECT: &str = "SELECT device_id, online, firmware, mac, ip, subnet, gateway, uptime_s, \
     report_interval_s, capabilities, status_at_ms, last_seen_ms, latest FROM device_status";

/// A `device_status` row: the status, and when the device last reported it.
fn status_of(row: &AnyRow) -> Result<(DeviceStatus, Option<DateTime<Utc>>), StoreError> {
    let capabilities: String = row.try_get("capabilities")?;
    let latest: Option<String> = row.try_get("latest")?;
    let status = DeviceStatus {
        device_id: row.try_get("device_id")?,
        online: row.try_get::<i64, _>("online")? == 1,
        reported_online: row.try_get::<i64, _>("online")? == 1,
        last_seen: row
            .try_get::<Option<i64>, _>("last_seen_ms")?
            .map(from_millis),
        firmware: row.try_get("firmware")?,
        network: NetworkInfo {
            mac: row.try_get("mac")?,
            ip: row.try_get("ip")?,
            subnet: row.try_get("subnet")?,
            gateway: row.try_get("gateway")?,
        },
        uptime_s: u64::try_from(row.try_get::<i64, _>("uptime_s")?).unwrap_or_default(),
        report_interval_s: u32::try_from(row.try_get::<i64, _>("report_interval_s")?)
            .unwrap_or_default(),
        capabilities: serde_json::from_str(&capabilities).unwrap_or_default(),
        latest: latest.and_then(|latest| serde_json::from_str(&latest).ok()),
    };
    let status_at = row
        .try_get::<Option<i64>, _>("status_at_ms")?
        .map(from_millis);
    Ok((status, status_at))
}

/// Moves each device's last seen time to its sample's arrival, and its latest sample forward to it
/// when newer: one statement for the devices of a batch (one sample each).
async fn update_latest(
    connection: &mut sqlx::AnyConnection,
    backend: Backend,
    newest: &[&NewSample],
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO device_status (device_id, last_seen_ms, latest, latest_seq) VALUES {} \
         ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms, \
         latest = CASE WHEN device_status.latest_seq IS NULL OR excluded.latest_seq > device_status.latest_seq \
           THEN excluded.latest ELSE device_status.latest END, \
         latest_seq = CASE WHEN device_status.latest_seq IS NULL OR excluded.latest_seq > device_status.latest_seq \
           THEN excluded.latest_seq ELSE device_status.latest_seq END",
        super::value_rows(backend, newest.len(), 4)
    );
    let mut query = sqlx::query(&sql);
    for sample in newest {
        query = query
            .bind(&sample.device_id)
            .bind(to_millis(sample.received_at))
            .bind(serde_json::to_string(&sample.point).unwrap_or_default())
            .bind(seq_column(sample.point.seq));
    }
    query.execute(connection).await?;
    Ok(())
}

impl Store {
    /// Deletes telemetry sampled before `before`, device by device (so each delete walks the
    /// (device, time) index); returns how many samples went.
    pub async fn telemetry_delete_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let devices: Vec<String> = sqlx::query_scalar("SELECT id FROM devices")
            .fetch_all(self.pool())
            .await?;
        let mut deleted = 0;
        for device in devices {
            deleted += sqlx::query("DELETE FROM telemetry WHERE device_id = $1 AND time_ms < $2")
                .bind(device)
                .bind(to_millis(before))
                .execute(self.pool())
                .await?
                .rows_affected();
        }
        Ok(deleted)
    }

    /// Which of these ids are registered devices.
    pub async fn devices_existing(&self, ids: &[&str]) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id FROM devices WHERE id IN ({})",
            super::in_list(self.backend(), ids.len())
        );
        let mut query = sqlx::query_scalar(&sql);
        for id in ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Writes a batch in one transaction: samples (a sample already stored is skipped), the devices'
    /// last seen time and latest sample, status reports, and errors.
    pub async fn ingest(&self, batch: &IngestBatch) -> Result<IngestOutcome, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let mut outcome = IngestOutcome::default();
        let mut latest: BTreeMap<&str, &NewSample> = BTreeMap::new();
        for chunk in batch.samples.chunks(SAMPLES_PER_STATEMENT) {
            let mut inserted = insert_samples(&mut transaction, self.backend(), chunk).await?;
            for sample in chunk {
                let key = (sample.device_id.clone(), seq_column(sample.point.seq));
                // Delivered again (before, or earlier in this batch): neither news from the device
                // nor a newer reading.
                if !inserted.remove(&key) {
                    outcome.duplicates += 1;
                    continue;
                }
                outcome.stored += 1;
                let newest = latest.entry(&sample.device_id).or_insert(sample);
                if sample.point.seq > newest.point.seq {
                    *newest = sample;
                }
            }
        }
        let latest: Vec<&NewSample> = latest.into_values().collect();
        for chunk in latest.chunks(SAMPLES_PER_STATEMENT) {
            update_latest(&mut transaction, self.backend(), chunk).await?;
        }
        for status in &batch.statuses {
            sqlx::query(
                "INSERT INTO device_status (device_id, online, firmware, mac, ip, subnet, gateway, uptime_s, \
                 report_interval_s, capabilities, status_at_ms, last_seen_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (device_id) DO UPDATE SET online = excluded.online, firmware = excluded.firmware, \
                 mac = excluded.mac, ip = excluded.ip, subnet = excluded.subnet, gateway = excluded.gateway, \
                 uptime_s = excluded.uptime_s, report_interval_s = excluded.report_interval_s, \
                 capabilities = excluded.capabilities, status_at_ms = excluded.status_at_ms, \
                 last_seen_ms = COALESCE(excluded.last_seen_ms, device_status.last_seen_ms)",
            )
            .bind(&status.device_id)
            .bind(i64::from(status.online))
            .bind(&status.firmware)
            .bind(&status.network.mac)
            .bind(&status.network.ip)
            .bind(&status.network.subnet)
            .bind(&status.network.gateway)
            .bind(i64::try_from(status.uptime_s).unwrap_or(i64::MAX))
            .bind(i64::from(status.report_interval_s))
            .bind(serde_json::to_string(&status.capabilities).unwrap_or_default())
            .bind(to_millis(status.at))
            .bind((!status.retained).then(|| to_millis(status.at)))
            .execute(&mut *transaction)
            .await?;
        }
        for error in &batch.errors {
            sqlx::query(
                "INSERT INTO device_errors (device_id, kind, reason, topic, size, at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&error.device_id)
            .bind(&error.kind)
            .bind(&error.reason)
            .bind(&error.topic)
            .bind(i64::try_from(error.size).unwrap_or(i64::MAX))
            .bind(to_millis(error.at))
            .execute(&mut *transaction)
            .await?;
        }
        // Keep the newest errors of each device only: a misbehaving device must not fill the database.
        let mut noisy: Vec<&str> = batch
            .errors
            .iter()
            .map(|error| error.device_id.as_str())
            .collect();
        noisy.sort_unstable();
        noisy.dedup();
        for device_id in noisy {
            sqlx::query(
                "DELETE FROM device_errors WHERE device_id = $1 AND id <= \
                 (SELECT id FROM device_errors WHERE device_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .bind(device_id)
            .bind(ERRORS_KEPT_PER_DEVICE)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(outcome)
    }

    /// A device's last known status; `online` is what it last reported, before the liveness check.
    pub async fn device_status(
        &self,
        device_id: &str,
    ) -> Result<Option<(DeviceStatus, Option<DateTime<Utc>>)>, StoreError> {
        let row = sqlx::query(&format!("{STATUS_SELECT} WHERE device_id = $1"))
            .bind(device_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(status_of).transpose()
    }

    /// The last known status of each of these devices that has one (in no particular order), with
    /// one query.
    pub async fn device_statuses(
        &self,
        device_ids: &[&str],
    ) -> Result<Vec<DeviceStatus>, StoreError> {
        if device_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{STATUS_SELECT} WHERE device_id IN ({})",
            super::in_list(self.backend(), device_ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in device_ids {
            query = query.bind(*id);
        }
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| status_of(row).map(|(status, _)| status))
            .collect()
    }

    /// A device's samples in `[from, to)`, downsampled into buckets of `bucket_ms`.
    pub async fn telemetry_buckets(
        &self,
        device_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_ms: i64,
    ) -> Result<Vec<Bucket>, StoreError> {
        let stats: String = READINGS
            .iter()
            .map(|reading| {
                format!(
                    ", AVG(CAST({reading} AS DOUBLE PRECISION)) AS {reading}_avg, \
                     MIN(CAST({reading} AS DOUBLE PRECISION)) AS {reading}_min, \
                     MAX(CAST({reading} AS DOUBLE PRECISION)) AS {reading}_max"
                )
            })
            .collect();
        let sql = format!(
            "SELECT (time_ms / $3) * $3 AS bucket, COUNT(*) AS samples{stats} FROM telemetry \
             WHERE device_id = $1 AND time_ms >= $2 AND time_ms < $4 GROUP BY (time_ms / $3) ORDER BY bucket"
        );
        let rows = sqlx::query(&sql)
            .bind(device_id)
            .bind(to_millis(from))
            .bind(bucket_ms.max(1))
            .bind(to_millis(to))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(bucket)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Records a command as sent (outcome pending).
    pub async fn command_insert(&self, record: &CommandRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO commands (id, device_id, actor, kind, request, outcome, result, latency_ms, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&record.id)
        .bind(&record.device_id)
        .bind(&record.actor)
        .bind(&record.kind)
        .bind(record.request.to_string())
        .bind(&record.outcome)
        .bind(record.result.as_ref().map(ToString::to_string))
        .bind(record.latency_ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)))
        .bind(to_millis(record.created_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a command's outcome.
    pub async fn command_finish(
        &self,
        id: &str,
        outcome: &str,
        result: Option<&serde_json::Value>,
        latency_ms: u64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE commands SET outcome = $2, result = $3, latency_ms = $4 WHERE id = $1")
            .bind(id)
            .bind(outcome)
            .bind(result.map(ToString::to_string))
            .bind(i64::try_from(latency_ms).unwrap_or(i64::MAX))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A device's commands, newest first, with ids before `before`, at most `limit` (1 to 500).
    pub async fn commands_of_device(
        &self,
        device_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<CommandRecord>, Option<String>), StoreError> {
        let limit = i64::from(limit.clamp(1, 500));
        let rows = sqlx::query(
            "SELECT id, device_id, actor, kind, request, outcome, result, latency_ms, created_at_ms FROM commands \
             WHERE device_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(device_id)
        .bind(before.unwrap_or(""))
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows.iter().map(command).collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|command| command.id.clone())
        } else {
            None
        };
        Ok((items, next))
    }

    /// The errors recorded for a device, newest first.
    pub async fn device_errors(
        &self,
        device_id: &str,
        limit: u32,
    ) -> Result<Vec<DeviceErrorRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT device_id, kind, reason, topic, size, at_ms FROM device_errors WHERE device_id = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(device_id)
        .bind(i64::from(limit.clamp(1, 500)))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeviceErrorRecord {
                    device_id: row.try_get("device_id")?,
                    kind: row.try_get("kind")?,
                    reason: row.try_get("reason")?,
                    topic: row.try_get("topic")?,
                    size: usize::try_from(row.try_get::<i64, _>("size")?).unwrap_or_default(),
                    at: from_millis(row.try_get("at_ms")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

fn bucket(row: &AnyRow) -> Result<Bucket, sqlx::Error> {
    let mut readings = BTreeMap::new();
    for reading in READINGS {
        let avg: Option<f64> = row.try_get(format!("{reading}_avg").as_str())?;
        let min: Option<f64> = row.try_get(format!("{reading}_min").as_str())?;
        let max: Option<f64> = row.try_get(format!("{reading}_max").as_str())?;
        if let (Some(avg), Some(min), Some(max)) = (avg, min, max) {
            readings.insert(reading.to_string(), Stats { avg, min, max });
        }
    }
    Ok(Bucket {
        start: from_millis(row.try_get("bucket")?),
        samples: u64::try_from(row.try_get::<i64, _>("samples")?).unwrap_or_default(),
        readings,
    })
}

fn command(row: &AnyRow) -> Result<CommandRecord, sqlx::Error> {
    let request: String = row.try_get("request")?;
    let result: Option<String> = row.try_get("result")?;
    Ok(CommandRecord {
        id: row.try_get("id")?,
        device_id: row.try_get("device_id")?,
        actor: row.try_get("actor")?,
        kind: row.try_get("kind")?,
        request: serde_json::from_str(&request).unwrap_or_default(),
        outcome: row.try_get("outcome")?,
        result: result.and_then(|result| serde_json::from_str(&result).ok()),
        latency_ms: row
            .try_get::<Option<i64>, _>("latency_ms")?
            .and_then(|ms| u64::try_from(ms).ok()),
        created_at: from_millis(row.try_get("created_at_ms")?),
    })
}
