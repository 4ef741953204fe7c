//! Telemetry, last known status, history series and live events, as the API and pages show them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One sample from a device. Units are in the field names; absent readings were not measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TelemetryPoint {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub mash_temp_c: Option<f64>,
    pub boil_temp_c: Option<f64>,
    pub fermenter_temp_c: Option<f64>,
    pub setpoint_c: Option<f64>,
    pub heater_pct: Option<f64>,
    pub pump_on: Option<bool>,
    pub gravity_sg: Option<f64>,
    pub pressure_kpa: Option<f64>,
    pub volume_l: Option<f64>,
    /// Valve states by name; true is open.
    pub valves: BTreeMap<String, bool>,
    /// Further readings by name.
    pub extra: BTreeMap<String, f64>,
}

/// What a device can do, as it reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Capabilities {
    pub max_temp_c: f64,
    pub max_volume_l: f64,
    pub heater_w: f64,
    pub pump: bool,
    pub fermentation: bool,
    pub gpio_pins: u32,
    pub uart: bool,
}

/// A device's network settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NetworkInfo {
    pub mac: String,
    pub ip: String,
    pub subnet: String,
    pub gateway: String,
}

/// The last known status of a device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceStatus {
    pub device_id: String,
    /// Connected now: it said so (birth message, no last will since) and was heard from recently.
    pub online: bool,
    /// What the device last said about itself (its birth message, or its last will).
    pub reported_online: bool,
    /// When anything was last heard from it.
    pub last_seen: Option<DateTime<Utc>>,
    pub firmware: String,
    pub network: NetworkInfo,
    pub uptime_s: u64,
    /// How often it sends telemetry, seconds.
    pub report_interval_s: u32,
    pub capabilities: Capabilities,
    /// The latest sample.
    pub latest: Option<TelemetryPoint>,
}

impl DeviceStatus {
    /// How long a device may be silent and still count as online: three reporting intervals, at
    /// least 15 s (60 s when it reported no interval).
    pub fn liveness_window(&self) -> chrono::Duration {
        if self.report_interval_s == 0 {
            chrono::Duration::seconds(60)
        } else {
            chrono::Duration::seconds(i64::from(self.report_interval_s) * 3)
                .max(chrono::Duration::seconds(15))
        }
    }

    /// Recomputes `online` for the time `now`.
    pub fn refresh_online(&mut self, now: DateTime<Utc>) {
        self.online = self.reported_online
            && self
                .last_seen
                .is_some_and(|seen| now - seen <= self.liveness_window());
    }
}

/// Average, minimum and maximum of one reading within a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Stats {
    pub avg: f64,
    pub min: f64,
    pub max: f64,
}

/// The samples of one time bucket, downsampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub samples: u64,
    /// Reading name (as in [`TelemetryPoint`]) -> its statistics in this bucket.
    pub readings: BTreeMap<String, Stats>,
}

/// A downsampled telemetry history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Series {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket_s: u64,
    pub buckets: Vec<Bucket>,
}

/// A command sent to a device, as recorded in its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CommandRecord {
    pub id: String,
    pub device_id: String,
    /// Who sent it (`user:<id>`).
    pub actor: String,
    /// `gpio_get`, `gpio_set`, `rtc_get`, `rtc_set`, `network_get`, `reset`, `uart_write`, `program_*`.
    pub kind: String,
    pub request: serde_json::Value,
    /// `ok`, `error`, `timeout` or `offline`.
    pub outcome: String,
    pub result: Option<serde_json::Value>,
    pub latency_ms: Option<u64>,
    pub created_at: DateTime<Utc>,
}

/// What the live stream of a device carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    Telemetry {
        device_id: String,
        point: TelemetryPoint,
    },
    Status {
        device_id: String,
        status: DeviceStatus,
    },
    Command {
        device_id: String,
        command: CommandRecord,
    },
    Program {
        device_id: String,
        event: serde_json::Value,
    },
}

impl LiveEvent {
    /// The device the event is about.
    pub fn device_id(&self) -> &str {
        match self {
            Self::Telemetry { device_id, .. }
            | Self::Status { device_id, .. }
            | Self::Command { device_id, .. }
            | Self::Program { device_id, .. } => device_id,
        }
    }

    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Telemetry { .. } => "telemetry",
            Self::Status { .. } => "status",
            Self::Command { .. } => "command",
            Self::Program { .. } => "program",
        }
    }
}

/// A payload a device sent that was refused, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceError {
    /// `undecodable`, `out_of_range`, `oversize`, `unknown_device`.
    pub kind: String,
    pub reason: String,
    pub topic: String,
    /// Payload size, bytes.
    pub size: usize,
    pub at: DateTime<Utc>,
}
