//! The ingest pipeline: device telemetry and status messages, handed in by the embedded broker as they
//! arrive or by the bridge from an external broker, are decoded, checked and written in batches: one
//! transaction for whatever arrived while the previous one was written (at most [`BATCH_MAX`]
//! messages), so a lone message is written at once and a crowd shares its commits. Devices are spread
//! over [`writers`] lanes, each writing its own batches: one on SQLite (it takes one writer at a time),
//! several on PostgreSQL, so one batch's commit does not hold up the next. A device always goes to the
//! same lane, so its messages are stored in the order they came.
//! A message is acknowledged only after its batch committed — by the embedded broker to the device,
//! or by the bridge to the external broker — so whatever a crash or an overload interrupted is sent
//! again; a sample delivered twice is stored once. Bad payloads are counted,
//! recorded with the device and the reason, acknowledged (a redelivery would not mend them) and never
//! stop the pipeline. While the store cannot take a batch (unreachable, busy, a table missing) the
//! pipeline retries it with back-off and says so ([`IngestState::Failing`]): `/readyz` answers 503,
//! `/metrics` counts the failures, and the admin site shows the cause. A message whose values the store
//! refuses (a constraint, a value it cannot hold) is kept as a device error of kind `unstorable`
//! instead, and the rest of its batch is written.

use std::{
    hash::{BuildHasher, BuildHasherDefault, DefaultHasher},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use app::model::{admin::Direction, telemetry::LiveEvent};
use chrono::{DateTime, Utc};
use rumqttc::{AsyncClient, Publish};
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use crate::{
    bridge::decode::{self, BadPayload, TopicKind},
    errors::ErrorTracker,
    inspector::Inspector,
    live::LiveHub,
    observability::{KindLabel, Metrics},
    store::{
        Backend, Store, StoreError,
        telemetry::{DeviceErrorRecord, IngestBatch, IngestOutcome, NewSample, StatusReport},
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
/// Messages waiting for the pipeline, all lanes together; whoever hands in more waits (the bridge
/// stops reading from the broker, the embedded broker holds back the device's acknowledgement).
const QUEUE: usize = 10_000;
/// Lanes on PostgreSQL: enough that one batch's commit overlaps with the next batches.
const POSTGRES_WRITERS: usize = 4;

/// How many lanes write at once on `backend`: one on SQLite, [`POSTGRES_WRITERS`] on PostgreSQL.
/// The pipeline's store should have a pool of its own with this many connections: a SQLite
/// connection keeps its page cache only while no other connection writes, so a writer that always
/// gets the same connection reads the pages it wrote last time from memory.
pub fn writers(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => POSTGRES_WRITERS,
    }
}

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

/// Who is told once a message is stored (or refused for good).
pub enum Ack {
    /// The bridge's client acknowledges it to the broker, which then forgets it.
    Bridge(AsyncClient),
    /// The embedded broker, which acknowledges it to the device when told.
    Broker(oneshot::Sender<()>),
    /// Nobody waits: a last will, published by the broker itself.
    Nobody,
}

/// A device message for the pipeline, and who to tell once it is stored.
struct Incoming {
    message: Publish,
    ack: Ack,
}

/// Where device telemetry and status messages enter the pipeline. Cheap to clone; once the pipeline
/// has stopped, nothing enters.
#[derive(Clone)]
pub struct IngestInlet {
    lanes: Arc<[mpsc::WeakSender<Incoming>]>,
    inspector: Inspector,
}

impl std::fmt::Debug for IngestInlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestInlet").finish_non_exhaustive()
    }
}

impl IngestInlet {
    /// Hands a message to the pipeline (and to the message inspector), waiting while the pipeline's
    /// queue is full. `false`: the pipeline has stopped; nobody will be told.
    pub async fn submit(&self, message: Publish, ack: Ack) -> bool {
        let mut lane = 0;
        if let Some((device_id, _)) = decode::parse_topic(&message.topic) {
            self.inspector.observe(
                device_id,
                Direction::FromDevice,
                &message.topic,
                &message.payload,
                message.retain,
            );
            lane = lane_of(device_id, self.lanes.len());
        }
        let Some(sender) = self.lanes.get(lane).and_then(mpsc::WeakSender::upgrade) else {
            return false;
        };
        sender.send(Incoming { message, ack }).await.is_ok()
    }
}

/// The lane of `device_id` among `lanes`: the same one for as long as the process runs.
fn lane_of(device_id: &str, lanes: usize) -> usize {
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(device_id);
    usize::try_from(hash % u64::try_from(lanes.max(1)).unwrap_or(1)).unwrap_or(0)
}

/// Messages waiting in every lane that is still open.
fn queued(lanes: &[mpsc::WeakSender<Incoming>]) -> usize {
    lanes
        .iter()
        .filter_map(mpsc::WeakSender::upgrade)
        .map(|lane| lane.max_capacity() - lane.capacity())
        .sum()
}

/// The running pipeline.
pub struct Ingest {
    senders: Vec<mpsc::Sender<Incoming>>,
    lanes: Arc<[mpsc::WeakSender<Incoming>]>,
    inspector: Inspector,
    state: watch::Receiver<IngestState>,
    tasks: Vec<JoinHandle<()>>,
}

impl Ingest {
    /// Starts the pipeline with `writers` lanes (see [`writers`]); it writes until [`Ingest::stop`]
    /// (or, while the store fails, until `shutdown`).
    pub fn start(context: IngestContext, writers: usize, shutdown: CancellationToken) -> Self {
        let writers = writers.max(1);
        let (state_tx, state) = watch::channel(IngestState::Writing);
        let failing = Arc::new(FailingLanes {
            state: state_tx,
            lanes: AtomicUsize::new(0),
        });
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..writers)
            .map(|_| mpsc::channel((QUEUE / writers).max(BATCH_MAX)))
            .unzip();
        let lanes: Arc<[_]> = senders.iter().map(mpsc::Sender::downgrade).collect();
        let tasks = receivers
            .into_iter()
            .map(|messages| {
                let lane = Lane {
                    messages,
                    all: lanes.clone(),
                    context: context.clone(),
                    failing: failing.clone(),
                    shutdown: shutdown.clone(),
                };
                tokio::spawn(lane.run())
            })
            .collect();
        Self {
            senders,
            lanes,
            inspector: context.inspector,
            state,
            tasks,
        }
    }

    /// Where messages enter.
    pub fn inlet(&self) -> IngestInlet {
        IngestInlet {
            lanes: self.lanes.clone(),
            inspector: self.inspector.clone(),
        }
    }

    /// A receiver that always sees whether the pipeline can write.
    pub fn state_receiver(&self) -> watch::Receiver<IngestState> {
        self.state.clone()
    }

    /// Takes no more messages, writes those already taken and ends (at most two seconds; what is not
    /// written by then stays unacknowledged and comes again).
    pub async fn stop(self) {
        drop(self.senders);
        let aborts: Vec<_> = self.tasks.iter().map(JoinHandle::abort_handle).collect();
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(Duration::from_secs(2), all)
            .await
            .is_err()
        {
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
    }
}

/// One lane: the messages of its devices, written batch after batch.
struct Lane {
    messages: mpsc::Receiver<Incoming>,
    /// Every lane, to report how many messages wait.
    all: Arc<[mpsc::WeakSender<Incoming>]>,
    context: IngestContext,
    failing: Arc<FailingLanes>,
    shutdown: CancellationToken,
}

impl Lane {
    /// Takes messages until every inlet is gone, writing them in batches and reporting whether it
    /// can.
    async fn run(mut self) {
        let context = &self.context;
        let health = Health {
            lanes: &self.failing,
            failing: AtomicBool::new(false),
            context,
        };
        // Ends when the last sender is dropped, after writing what had already been handed in.
        while let Some(first) = self.messages.recv().await {
            let started = Instant::now();
            let mut batch = vec![first];
            while batch.len() < BATCH_MAX {
                match self.messages.try_recv() {
                    Ok(message) => batch.push(message),
                    Err(_) => break,
                }
            }
            if write(&batch, context, &health, &self.shutdown)
                .await
                .is_none()
            {
                return;
            }
            acknowledge(batch);
            let seconds = started.elapsed().as_secs_f64();
            context.metrics.ingest_batch_seconds.observe(seconds);
            context.metrics.ingest_batch_last_seconds.set(seconds);
            context
                .metrics
                .ingest_queue_depth
                .set(i64::try_from(queued(&self.all)).unwrap_or(i64::MAX));
        }
    }
}

/// Tells whoever waits for a stored batch's messages.
fn acknowledge(batch: Vec<Incoming>) {
    // Not awaited: if the client's queue were full, waiting here could stall the bridge, which
    // waits for this pipeline. An ack that cannot be queued means a redelivery later (logged
    // once per batch: when the connection is gone, every ack of the batch fails alike).
    let mut unacknowledged = (0usize, None);
    for Incoming { message, ack } in batch {
        match ack {
            Ack::Bridge(client) => {
                if let Err(error) = client.try_ack(&message) {
                    unacknowledged = (unacknowledged.0 + 1, Some(error));
                }
            }
            // The device may have gone meanwhile; then it sends the message again.
            Ack::Broker(stored) => drop(stored.send(())),
            Ack::Nobody => {}
        }
    }
    if let (count, Some(error)) = unacknowledged {
        tracing::warn!(%error, count, "could not acknowledge stored messages; they come again");
    }
}

fn reject(
    errors: &mut Vec<DeviceErrorRecord>,
    context: &IngestContext,
    device_id: &str,
    message: &Publish,
    bad: BadPayload,
) {
    errors.push(refusal_record(context, device_id, message, bad));
}

/// Counts a payload a device sent that could not be used (error tracker, metrics, log) and returns
/// the record to keep in its device's error list.
pub(crate) fn refusal_record(
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

/// The pipeline's state, shared by its lanes: failing while any lane fails.
struct FailingLanes {
    state: watch::Sender<IngestState>,
    /// Lanes whose latest attempt failed.
    lanes: AtomicUsize,
}

/// Reports one lane's failures and recoveries: state, metrics, error tracker, log.
struct Health<'a> {
    lanes: &'a FailingLanes,
    /// Whether this lane's latest attempt failed.
    failing: AtomicBool,
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
        if !self.failing.swap(true, Ordering::SeqCst) {
            self.lanes.lanes.fetch_add(1, Ordering::SeqCst);
        }
        self.lanes.state.send_modify(|state| match state {
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
        if self.failing.swap(false, Ordering::SeqCst)
            && self.lanes.lanes.fetch_sub(1, Ordering::SeqCst) == 1
        {
            tracing::info!("ingest: writing again");
            self.context.metrics.ingest_failing.set(0);
            self.lanes.state.send_replace(IngestState::Writing);
        }
    }
}

/// Decodes a batch and commits it, retrying while the store cannot take it. If the store refuses the
/// data itself, the messages are written one by one and each one it refuses is kept as a device error
/// (kind `unstorable`): one bad message must not hold up every device's telemetry. `None`: shut down
/// before the batch was written (its messages stay unacknowledged and will be delivered again).
async fn write(
    incoming: &[Incoming],
    context: &IngestContext,
    health: &Health<'_>,
    shutdown: &CancellationToken,
) -> Option<()> {
    let messages: Vec<&Publish> = incoming.iter().map(|incoming| &incoming.message).collect();
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
                    return None;
                }
            }
        }
    };

    let mut batch = IngestBatch::default();
    // The message each sample and status came from, in the same order.
    let mut sources = Sources::default();
    for &message in &messages {
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
                Ok(point) => {
                    batch.samples.push(NewSample {
                        device_id: device_id.to_string(),
                        point,
                        received_at,
                    });
                    sources.samples.push(message);
                }
                Err(bad) => reject(&mut batch.errors, context, device_id, message, bad),
            },
            TopicKind::Status => match decode::status(&message.payload) {
                Ok(status) => {
                    batch.statuses.push(StatusReport {
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
                    });
                    sources.statuses.push(message);
                }
                Err(bad) => reject(&mut batch.errors, context, device_id, message, bad),
            },
            TopicKind::Reply | TopicKind::Program => {}
        }
    }

    let outcome = match commit(&batch, messages.len(), context, health, shutdown).await? {
        Ok(outcome) => outcome,
        Err(refusal) => {
            tracing::warn!(%refusal, messages = messages.len(), "ingest: the store refused a batch; writing its messages one by one");
            let outcome;
            (batch, outcome) = one_by_one(batch, &sources, context, health, shutdown).await?;
            outcome
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
    Some(())
}

/// The messages a batch's samples and statuses came from.
#[derive(Default)]
struct Sources<'a> {
    samples: Vec<&'a Publish>,
    statuses: Vec<&'a Publish>,
}

/// Writes `batch`, retrying with back-off while the store cannot take it. `Some(Err(_))`: the store
/// refused the data itself (not retried); `None`: shut down first.
async fn commit(
    batch: &IngestBatch,
    messages: usize,
    context: &IngestContext,
    health: &Health<'_>,
    shutdown: &CancellationToken,
) -> Option<Result<IngestOutcome, StoreError>> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match context.store.ingest(batch).await {
            Ok(outcome) => return Some(Ok(outcome)),
            Err(error) if error.is_refusal_of_data() => return Some(Err(error)),
            Err(error) => {
                health.failed("write the batch", messages, &error);
                if !pause(shutdown, &mut backoff).await {
                    return None;
                }
            }
        }
    }
}

/// Writes a refused batch's samples and statuses one by one, then its errors together with one for
/// each message the store refused. Returns what was written.
async fn one_by_one(
    batch: IngestBatch,
    sources: &Sources<'_>,
    context: &IngestContext,
    health: &Health<'_>,
    shutdown: &CancellationToken,
) -> Option<(IngestBatch, IngestOutcome)> {
    let mut written = IngestBatch::default();
    let mut outcome = IngestOutcome::default();
    let mut errors = batch.errors;
    let unstorable = |device_id: &str, message: &Publish, refusal: StoreError| {
        let bad = BadPayload {
            kind: "unstorable",
            reason: format!("the database refused it: {refusal}"),
        };
        refusal_record(context, device_id, message, bad)
    };
    for (sample, message) in batch.samples.into_iter().zip(&sources.samples) {
        let single = IngestBatch {
            samples: vec![sample],
            ..IngestBatch::default()
        };
        match commit(&single, 1, context, health, shutdown).await? {
            Ok(one) => {
                outcome.stored += one.stored;
                outcome.duplicates += one.duplicates;
                written.samples.extend(single.samples);
            }
            Err(refusal) => errors.push(unstorable(&single.samples[0].device_id, message, refusal)),
        }
    }
    for (status, message) in batch.statuses.into_iter().zip(&sources.statuses) {
        let single = IngestBatch {
            statuses: vec![status],
            ..IngestBatch::default()
        };
        match commit(&single, 1, context, health, shutdown).await? {
            Ok(_) => written.statuses.extend(single.statuses),
            Err(refusal) => {
                errors.push(unstorable(&single.statuses[0].device_id, message, refusal));
            }
        }
    }
    let errors = IngestBatch {
        errors,
        ..IngestBatch::default()
    };
    if let Err(refusal) = commit(&errors, errors.errors.len(), context, health, shutdown).await? {
        // Already counted and logged one by one; only the device's error list misses them.
        tracing::error!(%refusal, count = errors.errors.len(), "ingest: the store refused the batch's device errors");
    }
    Some((written, outcome))
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
