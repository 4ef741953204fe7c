//! The ingest pipeline: telemetry and status messages are decoded, checked and written in batches
//! (one transaction per batch: up to [`BATCH_MAX`] messages or [`BATCH_WAIT`], whichever comes
//! first). QoS 1 messages are acknowledged only after their batch committed, so the broker redelivers
//! whatever a crash interrupted; a sample delivered twice is stored once. Bad payloads are counted,
//! recorded with the device and the reason, acknowledged (a redelivery would not mend them) and never
//! stop the pipeline. While the store refuses a batch the pipeline retries it with back-off and says
//! so ([`IngestState::Failing`]): `/readyz` answers 503, `/metrics` counts the failures, and the admin
//! site shows the cause.

use std::{sync::Arc, time::Duration};

use app::model::telemetry::LiveEvent;
use chrono::{DateTime, Utc};
use rumqttc::{AsyncClient, Publish};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::decode::{self, BadPayload, TopicKind};
use crate::{
    errors::ErrorTracker,
    inspector::Inspector,
    live::LiveHub,
    observability::{KindLabel, Metrics},
    store::{
        Store, StoreError,
        telemetry::{DeviceErrorRecord, IngestBatch, NewSample, StatusReport},
    },
};

/// Whether the pipeline can write to the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum IngestState {
    /// The latest batch was written (or none has come yet).
    #[default]
    Writing,
    /// The oldest batch cannot be written; the pipeline retries it while newer messages wait.
    Failing {
        since: DateTime<Utc>,
        /// The store's latest answer.
        error: String,
        /// Failed attempts so far.
        attempts: u64,
    },
}

/// Most messages in one batch.
pub const BATCH_MAX: usize = 500;
/// Longest a message waits for its batch to fill.
pub const BATCH_WAIT: Duration = Duration::from_millis(20);

/// What the pipeline writes to and tells.
#[derive(Clone)]
pub struct IngestContext {
    pub store: Store,
    pub live: LiveHub,
    pub metrics: Arc<Metrics>,
    /// Where refused payloads and store failures are counted for the admin site.
    pub errors: ErrorTracker,
    /// Where every device message goes for the message inspector.
    pub inspector: Inspector,
}

/// Takes messages from the bridge until shutdown, writing them in batches and reporting whether it can.
pub async fn run(
    mut messages: mpsc::Receiver<Publish>,
    client: AsyncClient,
    context: IngestContext,
    state: watch::Sender<IngestState>,
    shutdown: CancellationToken,
) {
    let health = Health {
        state,
        context: &context,
    };
    // Ends when the bridge stops and drops its sender, after writing what it had already received.
    while let Some(first) = messages.recv().await {
        let started = Instant::now();
        let mut batch = vec![first];
        let deadline = started + BATCH_WAIT;
        while batch.len() < BATCH_MAX {
            match tokio::time::timeout_at(deadline, messages.recv()).await {
                Ok(Some(message)) => batch.push(message),
                _ => break,
            }
        }
        if !write(&batch, &context, &health, &shutdown).await {
            return;
        }
        // Not awaited: if the client's queue were full, waiting here could stall the bridge, which
        // waits for this pipeline. An ack that cannot be queued means a redelivery later (logged
        // once per batch: when the connection is gone, every ack of the batch fails alike).
        let unacknowledged = batch
            .iter()
            .filter_map(|message| client.try_ack(message).err())
            .fold((0usize, None), |(count, _), error| (count + 1, Some(error)));
        if let (count, Some(error)) = unacknowledged {
            tracing::warn!(%error, count, "could not acknowledge stored messages; they come again");
        }
        let seconds = started.elapsed().as_secs_f64();
        context.metrics.ingest_batch_seconds.observe(seconds);
        context.metrics.ingest_batch_last_seconds.set(seconds);
        context
            .metrics
            .ingest_queue_depth
            .set(i64::try_from(messages.len()).unwrap_or(i64::MAX));
    }
}

fn reject(
    errors: &mut Vec<DeviceErrorRecord>,
    context: &IngestContext,
    device_id: &str,
    message: &Publish,
    bad: BadPayload,
) {
    errors.push(refusal(context, device_id, message, bad));
}

/// Counts a payload a device sent that could not be used (error tracker, metrics, log) and returns
/// the record to keep in its device's error list.
pub(super) fn refusal(
    context: &IngestContext,
    device_id: &str,
    message: &Publish,
    bad: BadPayload,
) -> DeviceErrorRecord {
    context.errors.record(
        &format!("device.{}", bad.kind),
        format!("device:{device_id}"),
        format!(
            "{} bytes on {}: {}",
            message.payload.len(),
            message.topic,
            bad.reason
        ),
    );
    context
        .metrics
        .payloads_rejected
        .get_or_create(&KindLabel {
            kind: bad.kind.to_string(),
        })
        .inc();
    tracing::info!(device_id, topic = %message.topic, kind = bad.kind, reason = %bad.reason, "device payload refused");
    DeviceErrorRecord {
        device_id: device_id.to_string(),
        kind: bad.kind.to_string(),
        reason: bad.reason,
        topic: message.topic.clone(),
        size: message.payload.len(),
        at: Utc::now(),
    }
}

/// Reports the pipeline's failures and recoveries: state, metrics, error tracker, log.
struct Health<'a> {
    state: watch::Sender<IngestState>,
    context: &'a IngestContext,
}

impl Health<'_> {
    /// An attempt to look up or write a batch of `messages` failed.
    fn failed(&self, what: &str, messages: usize, error: &StoreError) {
        let cause = format!("cannot {what} ({messages} messages): {error}");
        tracing::error!(%error, messages, "ingest: cannot {what}; retrying");
        self.context.metrics.ingest_failures.inc();
        self.context.metrics.ingest_failing.set(1);
        self.context
            .errors
            .record("server.ingest_store", "ingest", cause.clone());
        self.state.send_modify(|state| match state {
            IngestState::Failing {
                error, attempts, ..
            } => {
                *error = cause;
                *attempts += 1;
            }
            IngestState::Writing => {
                *state = IngestState::Failing {
                    since: Utc::now(),
                    error: cause,
                    attempts: 1,
                };
            }
        });
    }

    /// A batch was written.
    fn written(&self) {
        if matches!(*self.state.borrow(), IngestState::Failing { .. }) {
            tracing::info!("ingest: writing again");
            self.context.metrics.ingest_failing.set(0);
            self.state.send_replace(IngestState::Writing);
        }
    }
}

/// Decodes a batch and commits it, retrying while the store refuses it. `false`: shut down before the
/// batch was written (its messages stay unacknowledged and will be delivered again).
async fn write(
    messages: &[Publish],
    context: &IngestContext,
    health: &Health<'_>,
    shutdown: &CancellationToken,
) -> bool {
    let received_at = Utc::now();
    let mut ids: Vec<&str> = messages
        .iter()
        .filter_map(|message| decode::parse_topic(&message.topic).map(|(id, _)| id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut backoff = Duration::from_millis(100);
    let known = loop {
        match context.store.devices_existing(&ids).await {
            Ok(known) => break known,
            Err(error) => {
                health.failed("look up the batch's devices", messages.len(), &error);
                if !pause(shutdown, &mut backoff).await {
                    return false;
                }
            }
        }
    };

    let mut batch = IngestBatch::default();
    for message in messages {
        let Some((device_id, kind)) = decode::parse_topic(&message.topic) else {
            continue;
        };
        if !known.iter().any(|id| id == device_id) {
            let bad = BadPayload {
                kind: "unknown_device",
                reason: "no such registered device".to_string(),
            };
            reject(&mut batch.errors, context, device_id, message, bad);
            continue;
        }
        match kind {
            TopicKind::Telemetry => match decode::telemetry(&message.payload, received_at) {
                Ok(point) => batch.samples.push(NewSample {
                    device_id: device_id.to_string(),
                    point,
                    received_at,
                }),
                Err(bad) => reject(&mut batch.errors, context, device_id, message, bad),
            },
            TopicKind::Status => match decode::status(&message.payload) {
                Ok(status) => batch.statuses.push(StatusReport {
                    device_id: device_id.to_string(),
                    online: status.online,
                    firmware: status.firmware,
                    network: status.network,
                    uptime_s: status.uptime_s,
                    report_interval_s: status.report_interval_s,
                    capabilities: status.capabilities,
                    at: received_at,
                    // Replayed to a new subscription, not sent by the device just now.
                    retained: message.retain,
                }),
                Err(bad) => reject(&mut batch.errors, context, device_id, message, bad),
            },
            TopicKind::Reply | TopicKind::Program => {}
        }
    }

    let outcome = loop {
        match context.store.ingest(&batch).await {
            Ok(outcome) => break outcome,
            Err(error) => {
                health.failed("write the batch", messages.len(), &error);
                if !pause(shutdown, &mut backoff).await {
                    return false;
                }
            }
        }
    };
    health.written();
    context.metrics.ingest_batches.inc();
    context.metrics.telemetry_stored.inc_by(outcome.stored);
    context
        .metrics
        .telemetry_duplicates
        .inc_by(outcome.duplicates);

    for sample in batch.samples {
        context.live.publish(LiveEvent::Telemetry {
            device_id: sample.device_id,
            point: sample.point,
        });
    }
    for status in batch.statuses {
        if let Ok(Some((mut current, _))) = context.store.device_status(&status.device_id).await {
            current.refresh_online(Utc::now());
            context.live.publish(LiveEvent::Status {
                device_id: status.device_id,
                status: current,
            });
        }
    }
    true
}

/// Waits before a retry (doubling up to 5 s); `false` when shutting down instead.
async fn pause(shutdown: &CancellationToken, backoff: &mut Duration) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(*backoff) => {
            *backoff = (*backoff * 2).min(Duration::from_secs(5));
            true
        }
    }
}
