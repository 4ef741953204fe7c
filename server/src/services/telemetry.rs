//! What devices report: last known status, downsampled history, live events, command history.

use std::fmt::Write as _;

use app::model::telemetry::{CommandRecord, DeviceError, DeviceStatus, LiveEvent, Series};
use chrono::{DateTime, Duration, Utc};
use tokio::sync::broadcast;

use super::{ServiceError, Services};
use crate::{
    auth::{Actor, Credential},
    store::telemetry::READINGS,
};

/// Most buckets one history answer holds.
const MAX_BUCKETS: i64 = 10_000;
/// Buckets aimed for when the caller names no bucket size.
const AUTO_BUCKETS: i64 = 500;

/// The longest bucket: the longest range one request covers (366 days), in seconds.
pub const MAX_BUCKET_S: u64 = 366 * 24 * 3600;

/// A history request: `[from, to)` (default: the last hour), buckets of `bucket_s` seconds (default: about
/// 500 buckets).
#[derive(Debug, Clone, Default)]
pub struct SeriesQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub bucket_s: Option<u64>,
}

/// An open live stream: the device's status now, its events from now on, and the stream's turn
/// (held as long as the stream lives).
pub struct LiveSubscription {
    pub status: DeviceStatus,
    pub receiver: broadcast::Receiver<LiveEvent>,
    pub turn: crate::live::StreamTurn,
}

impl Services {
    /// A device's last known status, with `online` as of now (never heard from: offline).
    pub async fn device_status(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<DeviceStatus, ServiceError> {
        self.device(actor, id).await?;
        self.current_status(id).await
    }

    /// A device's status now (its last report, online only while it keeps reporting), for a caller
    /// already allowed to see the device.
    pub(super) async fn current_status(&self, id: &str) -> Result<DeviceStatus, ServiceError> {
        let mut status = self
            .store
            .device_status(id)
            .await?
            .map(|(status, _)| status)
            .unwrap_or_else(|| DeviceStatus {
                device_id: id.to_string(),
                ..DeviceStatus::default()
            });
        status.refresh_online(Utc::now());
        Ok(status)
    }

    /// The status of each of the caller's devices (the first 500), in the order of their list:
    /// two queries, whatever the number of devices.
    pub async fn device_statuses(&self, actor: &Actor) -> Result<Vec<DeviceStatus>, ServiceError> {
        let devices = self.list_devices(actor, None, 500).await?.items;
        let ids: Vec<&str> = devices.iter().map(|device| device.id.as_str()).collect();
        let mut known = self.store.device_statuses(&ids).await?;
        let now = Utc::now();
        Ok(devices
            .iter()
            .map(|device| {
                let mut status = known
                    .iter()
                    .position(|status| status.device_id == device.id)
                    .map(|at| known.swap_remove(at))
                    .unwrap_or_else(|| DeviceStatus {
                        device_id: device.id.clone(),
                        ..DeviceStatus::default()
                    });
                status.refresh_online(now);
                status
            })
            .collect())
    }

    /// A device's telemetry history, downsampled (average, minimum and maximum per bucket).
    pub async fn telemetry_series(
        &self,
        actor: &Actor,
        id: &str,
        query: SeriesQuery,
    ) -> Result<Series, ServiceError> {
        self.device(actor, id).await?;
        let to = query.to.unwrap_or_else(Utc::now);
        let from = query.from.unwrap_or(to - Duration::hours(1));
        if from >= to {
            return Err(ServiceError::field("from", "must be before to"));
        }
        if to - from > Duration::days(366) {
            return Err(ServiceError::field(
                "from",
                "ask for at most 366 days at a time",
            ));
        }
        let span_ms = (to - from).num_milliseconds();
        let bucket_ms = match query.bucket_s {
            Some(0) => return Err(ServiceError::field("bucket", "must be at least 1 second")),
            Some(seconds) if seconds > MAX_BUCKET_S => {
                return Err(ServiceError::field("bucket", "must be at most 366 days"));
            }
            Some(seconds) => i64::try_from(seconds * 1000).unwrap_or(i64::MAX),
            None => ((span_ms / AUTO_BUCKETS).max(1000) + 999) / 1000 * 1000,
        };
        if span_ms / bucket_ms > MAX_BUCKETS {
            return Err(ServiceError::field(
                "bucket",
                format!("too small for this range: at most {MAX_BUCKETS} buckets"),
            ));
        }
        let buckets = self
            .store
            .telemetry_buckets(id, from, to, bucket_ms)
            .await?;
        Ok(Series {
            from,
            to,
            bucket_s: u64::try_from(bucket_ms / 1000).unwrap_or_default(),
            buckets,
        })
    }

    /// Live events of a device from now on, and its current status to start with. A credential (a
    /// web session, whose stored key is `session_key`, or an API token) holds at most
    /// [`STREAMS_PER_CREDENTIAL`](crate::live::STREAMS_PER_CREDENTIAL) streams at once.
    pub async fn live_events(
        &self,
        actor: &Actor,
        id: &str,
        session_key: Option<&str>,
    ) -> Result<LiveSubscription, ServiceError> {
        let status = self.device_status(actor, id).await?;
        let me = actor.require_user()?;
        let credential = match (&me.credential, session_key) {
            (Credential::Token { id, .. }, _) => format!("token:{id}"),
            (Credential::Session, Some(key)) => format!("session:{key}"),
            (Credential::Session, None) => format!("user:{}", me.id),
        };
        let live = &self.device_support()?.live;
        let turn = live
            .open_stream(&credential)
            .ok_or(ServiceError::TooManyStreams {
                limit: crate::live::STREAMS_PER_CREDENTIAL,
            })?;
        Ok(LiveSubscription {
            status,
            receiver: live.subscribe(id),
            turn,
        })
    }

    /// The caller as they are now, if the credential a stream was opened with (this web session, if by
    /// cookie) still exists and the account is still enabled; `None` otherwise.
    pub async fn caller_now(&self, actor: &Actor, session_id: Option<&str>) -> Option<Actor> {
        let Actor::User(user) = actor else {
            return None;
        };
        let credential_valid = match &user.credential {
            Credential::Token { id, .. } => self.store.token_exists(id).await.unwrap_or(false),
            Credential::Session => match session_id {
                Some(id) => self
                    .store
                    .session_load(id, Utc::now().timestamp_millis())
                    .await
                    .is_ok_and(|data| data.is_some()),
                None => false,
            },
        };
        if !credential_valid {
            return None;
        }
        self.actor_for_session(&user.id)
            .await
            .ok()
            .filter(|now| *now != Actor::Anonymous)
    }

    /// Whether a live stream opened by `actor` may go on: its credential still holds and the device is
    /// still the caller's to see.
    pub async fn may_keep_streaming(
        &self,
        actor: &Actor,
        session_id: Option<&str>,
        device_id: &str,
    ) -> bool {
        match self.caller_now(actor, session_id).await {
            Some(now) => self.device(&now, device_id).await.is_ok(),
            None => false,
        }
    }

    /// The payloads of a device that were refused, newest first.
    pub async fn device_errors(
        &self,
        actor: &Actor,
        id: &str,
        limit: u32,
    ) -> Result<Vec<DeviceError>, ServiceError> {
        self.device(actor, id).await?;
        let errors = self.store.device_errors(id, limit).await?;
        Ok(errors
            .into_iter()
            .map(|error| DeviceError {
                kind: error.kind,
                reason: error.reason,
                topic: error.topic,
                size: error.size,
                at: error.at,
            })
            .collect())
    }

    /// The commands sent to a device, newest first.
    pub async fn command_history(
        &self,
        actor: &Actor,
        id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<CommandRecord>, Option<String>), ServiceError> {
        self.device(actor, id).await?;
        Ok(self.store.commands_of_device(id, before, limit).await?)
    }
}

/// One row per bucket: its start, the sample count, then average, minimum and maximum of each reading.
pub fn series_csv(series: &Series) -> String {
    let mut out = String::from("bucket_start,samples");
    for reading in READINGS {
        let _ = write!(out, ",{reading}_avg,{reading}_min,{reading}_max");
    }
    out.push('\n');
    for bucket in &series.buckets {
        let _ = write!(out, "{},{}", bucket.start.to_rfc3339(), bucket.samples);
        for reading in READINGS {
            match bucket.readings.get(reading) {
                Some(stats) => {
                    let _ = write!(out, ",{},{},{}", stats.avg, stats.min, stats.max);
                }
                None => out.push_str(",,,"),
            }
        }
        out.push('\n');
    }
    out
}
