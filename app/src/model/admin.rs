//! What the staff-only admin site and `/api/v1/admin/*` show: users, the fleet, broker and bridge
//! figures, the audit log, grouped errors and decoded MQTT traffic.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    account::{ApiToken, User},
    device::Device,
};

/// A user as the admin list shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AdminUser {
    #[serde(flatten)]
    pub user: User,
    /// Devices registered to the user.
    pub devices: u64,
}

/// Everything staff see of one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AdminUserDetail {
    pub user: User,
    pub devices: Vec<FleetDevice>,
    /// The user's open web sessions.
    pub sessions: Vec<SessionInfo>,
    /// The user's API tokens (never their secrets).
    pub tokens: Vec<ApiToken>,
}

/// An open web session, without anything that would let someone take it over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// The first characters of the stored (hashed) session id, to tell sessions apart.
    pub fingerprint: String,
    pub expires_at: DateTime<Utc>,
}

/// A device of the fleet, with its owner and liveness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FleetDevice {
    #[serde(flatten)]
    pub device: Device,
    pub owner_email: String,
    /// Connected now (it said so and was heard from recently).
    pub online: bool,
    pub last_seen: Option<DateTime<Utc>>,
    /// Firmware the device last reported; empty before its first status.
    pub firmware: String,
    /// Telemetry messages stored in the last minute.
    pub messages_last_minute: u64,
}

/// Which devices the fleet list shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FleetFilter {
    /// Matches device id, name, model or the owner's email (case-insensitive, part of it).
    pub query: Option<String>,
    /// Only devices that are (`true`) or are not (`false`) online.
    pub online: Option<bool>,
    /// Only the devices of this user.
    pub owner_id: Option<String>,
}

/// The broker's and the bridge's figures at one moment, with rates over the last second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BrokerSample {
    pub at: DateTime<Utc>,
    /// Clients connected to the embedded broker (`None` with an external broker).
    pub clients: Option<u64>,
    /// Subscriptions on the embedded broker (`None` with an external broker).
    pub subscriptions: Option<u64>,
    /// Messages per second the embedded broker received from clients.
    pub received_per_s: f64,
    /// Messages per second the embedded broker delivered to subscribers.
    pub delivered_per_s: f64,
    /// Messages per second the embedded broker dropped.
    pub dropped_per_s: f64,
    /// Telemetry samples per second the bridge stored.
    pub stored_per_s: f64,
    /// Messages waiting in the ingest queue.
    pub queue_depth: u64,
    /// The latest ingest batch's time from first message to commit, milliseconds.
    pub batch_latency_ms: f64,
}

/// Broker and bridge status for the admin site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BrokerStatus {
    /// `embedded` or `external`.
    pub broker: String,
    /// `connected`, `connecting` or `disconnected`.
    pub bridge_state: String,
    /// When the bridge's state last changed.
    pub bridge_since: Option<DateTime<Utc>>,
    /// Why the bridge is disconnected, when it is.
    pub bridge_error: Option<String>,
    /// Times the bridge (re)connected since the server started.
    pub bridge_connects: u64,
    /// Since when the ingest pipeline cannot write to the database (it retries); `None` while it writes.
    pub ingest_failing_since: Option<DateTime<Utc>>,
    /// The database's latest answer while ingest fails.
    pub ingest_error: Option<String>,
    /// Failed attempts to write ingest batches since the server started.
    pub ingest_failures: u64,
    /// Totals since the server started.
    pub received_total: u64,
    pub delivered_total: u64,
    pub dropped_total: u64,
    pub stored_total: u64,
    /// The latest sample.
    pub now: BrokerSample,
    /// One sample per second, oldest first (the last five minutes at most).
    pub history: Vec<BrokerSample>,
}

/// An entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who acted: `user:<id>`, `device:<id>`, `anonymous` or `system`.
    pub actor: String,
    /// What happened, a stable dotted name (e.g. `auth.login`, `device.command`).
    pub action: String,
    /// What it happened to, as `kind:id`; empty when nothing in particular.
    pub subject: String,
    pub detail: serde_json::Value,
    /// The client's address, when the action came over the network.
    pub source_ip: Option<String>,
}

/// Which audit entries to show; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditFilter {
    /// Entries by or about this user.
    pub user_id: Option<String>,
    /// Entries about this device.
    pub device_id: Option<String>,
    /// An action (`auth.login`) or a family of them (`auth`, `device`).
    pub kind: Option<String>,
    /// From this time on (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
}

/// Errors of one kind, grouped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorGroup {
    /// A stable name, e.g. `device.undecodable`, `device.acl_denied`, `device.command_timeout`,
    /// `server.http_5xx`.
    pub kind: String,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// What the latest one was about (`device:<id>`, a route), when known.
    pub subject: String,
    /// The latest one, described without secrets.
    pub example: String,
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Device to server.
    FromDevice,
    /// Server to device.
    ToDevice,
}

/// One MQTT message of a device, decoded for the message inspector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InspectedMessage {
    pub at: DateTime<Utc>,
    pub device_id: String,
    pub direction: Direction,
    pub topic: String,
    /// The payload's size in bytes.
    pub size: u64,
    pub retained: bool,
    /// The protobuf message decoded into its fields (`{"Ok": text}`), or why it could not be
    /// (`{"Err": reason}`).
    #[cfg_attr(
        feature = "ssr",
        schema(value_type = Object, example = json!({"Ok": "Telemetry { seq: 7, mash_temp_c: 66.5 }"}))
    )]
    pub decoded: Result<String, String>,
}
