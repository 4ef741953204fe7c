//! Broker and bridge figures for the admin site: once a second the monitor reads the metrics (and the
//! embedded broker's clients and subscriptions), turns counters into rates, and keeps the last five
//! minutes of samples for the live charts. `/metrics` shows the same counters and gauges.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use app::model::admin::{BrokerSample, BrokerStatus};
use chrono::Utc;
use tokio::{sync::watch, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::{
    bridge::BridgeState, broker::BrokerHandle, ingest::IngestState, observability::Metrics,
};

/// Samples kept: five minutes at one a second.
const HISTORY: usize = 300;
/// Time between samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Counter readings of one moment.
#[derive(Debug, Clone, Copy)]
struct Totals {
    at: Instant,
    received: u64,
    delivered: u64,
    dropped: u64,
    stored: u64,
}

#[derive(Debug, Default)]
struct Samples {
    history: VecDeque<BrokerSample>,
    last: Option<Totals>,
    /// Whether the descriptor warning was logged and not yet cleared.
    warned_fds: bool,
}

/// Samples the broker and the bridge. Cheap to clone.
#[derive(Clone)]
pub struct BrokerMonitor {
    metrics: Arc<Metrics>,
    broker: Option<BrokerHandle>,
    bridge: watch::Receiver<BridgeState>,
    ingest: watch::Receiver<IngestState>,
    samples: Arc<Mutex<Samples>>,
}

impl std::fmt::Debug for BrokerMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerMonitor")
            .field("embedded", &self.broker.is_some())
            .finish()
    }
}

impl BrokerMonitor {
    pub fn new(
        metrics: Arc<Metrics>,
        broker: Option<BrokerHandle>,
        bridge: watch::Receiver<BridgeState>,
        ingest: watch::Receiver<IngestState>,
    ) -> Self {
        Self {
            metrics,
            broker,
            bridge,
            ingest,
            samples: Arc::default(),
        }
    }

    /// Whether the ingest pipeline can write now.
    pub fn ingest(&self) -> IngestState {
        self.ingest.borrow().clone()
    }

    /// Reads the descriptor counts and the embedded broker's clients and subscriptions into their
    /// gauges; returns the broker's figures.
    pub async fn refresh_gauges(&self) -> Option<(u64, u64)> {
        let open = crate::descriptors::open().unwrap_or(0);
        let limit = crate::descriptors::limit();
        self.metrics
            .open_fds
            .set(i64::try_from(open).unwrap_or(i64::MAX));
        self.metrics
            .max_fds
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
        let broker = self.broker.as_ref()?;
        let clients = broker.connected_clients().await;
        let subscriptions = broker.subscriptions().await;
        self.metrics.broker_clients.set(clients);
        self.metrics.broker_subscriptions.set(subscriptions);
        Some((
            u64::try_from(clients).unwrap_or(0),
            u64::try_from(subscriptions).unwrap_or(0),
        ))
    }

    /// Takes one sample.
    pub async fn sample(&self) {
        let broker = self.refresh_gauges().await;
        let metrics = &self.metrics;
        let (open_fds, max_fds) = (metrics.open_fds.get(), metrics.max_fds.get());
        let totals = Totals {
            at: Instant::now(),
            received: metrics.broker_received.get(),
            delivered: metrics.broker_delivered.get(),
            dropped: metrics.broker_dropped.get(),
            stored: metrics.telemetry_stored.get(),
        };
        let mut samples = self.lock();
        let rate = |now: u64, then: fn(&Totals) -> u64| match &samples.last {
            Some(last) => {
                let seconds = totals.at.duration_since(last.at).as_secs_f64();
                if seconds > 0.0 {
                    now.saturating_sub(then(last)) as f64 / seconds
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        let sample = BrokerSample {
            at: Utc::now(),
            clients: broker.map(|(clients, _)| clients),
            subscriptions: broker.map(|(_, subscriptions)| subscriptions),
            received_per_s: rate(totals.received, |t| t.received),
            delivered_per_s: rate(totals.delivered, |t| t.delivered),
            dropped_per_s: rate(totals.dropped, |t| t.dropped),
            stored_per_s: rate(totals.stored, |t| t.stored),
            queue_depth: u64::try_from(metrics.ingest_queue_depth.get()).unwrap_or(0),
            batch_latency_ms: metrics.ingest_batch_last_seconds.get() * 1000.0,
        };
        samples.last = Some(totals);
        let near = crate::descriptors::near_limit(
            u64::try_from(open_fds).unwrap_or(0),
            u64::try_from(max_fds).unwrap_or(u64::MAX),
        );
        if near && !samples.warned_fds {
            tracing::warn!(
                open_fds,
                max_fds,
                clients = broker.map(|(clients, _)| clients),
                "open file descriptors above 80% of the limit: raise it (ulimit -n, LimitNOFILE=)"
            );
        }
        samples.warned_fds = near;
        if samples.history.len() == HISTORY {
            samples.history.pop_front();
        }
        samples.history.push_back(sample);
    }

    /// Samples every second until shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            self.sample().await;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(SAMPLE_EVERY) => {}
            }
        }
    }

    /// The figures now, with the recent history.
    pub fn status(&self) -> BrokerStatus {
        let (bridge_state, bridge_since, bridge_error) = match &*self.bridge.borrow() {
            BridgeState::Connecting => ("connecting", None, None),
            BridgeState::Connected { since } => ("connected", Some(*since), None),
            BridgeState::Disconnected { since, error } => {
                ("disconnected", Some(*since), Some(error.clone()))
            }
        };
        let (ingest_failing_since, ingest_error) = match self.ingest() {
            IngestState::Writing => (None, None),
            IngestState::Failing { since, error, .. } => (Some(since), Some(error)),
        };
        let samples = self.lock();
        let history: Vec<BrokerSample> = samples.history.iter().cloned().collect();
        let metrics = &self.metrics;
        BrokerStatus {
            broker: if self.broker.is_some() {
                "embedded"
            } else {
                "external"
            }
            .to_string(),
            bridge_state: bridge_state.to_string(),
            bridge_since,
            bridge_error,
            bridge_connects: metrics.bridge_connects.get(),
            ingest_failing_since,
            ingest_error,
            ingest_failures: metrics.ingest_failures.get(),
            received_total: metrics.broker_received.get(),
            delivered_total: metrics.broker_delivered.get(),
            dropped_total: metrics.broker_dropped.get(),
            stored_total: metrics.telemetry_stored.get(),
            now: history.last().cloned().unwrap_or_default(),
            history,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Samples> {
        self.samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
