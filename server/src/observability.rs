//! Logs (tracing) and metrics (Prometheus text at `/metrics`).

use std::{io::IsTerminal, sync::atomic::AtomicU64};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram, info::Info},
    registry::Registry,
};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Installs the global log subscriber: human-readable on a terminal, JSON lines otherwise (or as configured).
/// `RUST_LOG` overrides the configured level. Calling it twice is harmless.
pub fn init_logging(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match config.format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init()
    };
    // An error only means a subscriber is already installed (e.g. several apps in one test process).
    drop(result);
}

/// Labels of the HTTP request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub status: u16,
}

/// The server's metrics, one registry per application instance.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests answered, by method and status.
    pub http_requests: Family<HttpLabels, Counter>,
    /// 1 while the bridge is connected to the broker.
    pub bridge_connected: Gauge,
    /// Times the bridge (re)connected to the broker.
    pub bridge_connects: Counter,
    /// Clients connected to the embedded broker, read at scrape time.
    pub broker_clients: Gauge,
    /// Subscriptions on the embedded broker, read at scrape time.
    pub broker_subscriptions: Gauge,
    /// Devices that completed a connect to the embedded broker's TLS listener.
    pub broker_device_connects: Counter,
    /// Device messages the embedded broker refused for exceeding the device's rate.
    pub broker_rate_limited: Counter,
    /// Device messages the embedded broker refused (disconnecting the device, no acknowledgement)
    /// because they could not be stored in time.
    pub broker_store_refused: Counter,
    /// File descriptors the process holds, read at scrape time.
    pub open_fds: Gauge,
    /// The process's soft limit on file descriptors.
    pub max_fds: Gauge,
    /// Messages the embedded broker received from clients.
    pub broker_received: Counter,
    /// Messages the embedded broker delivered to subscribers.
    pub broker_delivered: Counter,
    /// Messages the embedded broker accepted and then dropped (a full queue, an expired command);
    /// not those it refused on arrival.
    pub broker_dropped: Counter,
    /// Ingest batches committed.
    pub ingest_batches: Counter,
    /// Time from the first message of a batch arriving to its commit, seconds.
    pub ingest_batch_seconds: Histogram,
    /// The same time for the latest batch.
    pub ingest_batch_last_seconds: Gauge<f64, AtomicU64>,
    /// Messages waiting in the ingest queue after the latest batch.
    pub ingest_queue_depth: Gauge,
    /// Failed attempts to look up or write an ingest batch (each is retried).
    pub ingest_failures: Counter,
    /// 1 while the ingest pipeline cannot write and retries.
    pub ingest_failing: Gauge,
    /// Telemetry samples stored.
    pub telemetry_stored: Counter,
    /// Telemetry samples received again and not stored twice.
    pub telemetry_duplicates: Counter,
    /// Device payloads refused, by kind (undecodable, out_of_range, oversize, unknown_device).
    pub payloads_rejected: Family<KindLabel, Counter>,
    /// Commands sent to devices, by outcome.
    pub commands: Family<OutcomeLabel, Counter>,
}

/// A `kind` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

/// An `outcome` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("brewlink");
        registry.register(
            "build",
            "Version of the running server",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered",
            http_requests.clone(),
        );
        let bridge_connected = Gauge::default();
        registry.register(
            "bridge_connected",
            "1 while the bridge is connected to the broker",
            bridge_connected.clone(),
        );
        let bridge_connects = Counter::default();
        registry.register(
            "bridge_connects",
            "Times the bridge connected to the broker",
            bridge_connects.clone(),
        );
        let broker_clients = Gauge::default();
        registry.register(
            "broker_clients",
            "Clients connected to the embedded broker",
            broker_clients.clone(),
        );
        let broker_subscriptions = Gauge::default();
        registry.register(
            "broker_subscriptions",
            "Subscriptions on the embedded broker",
            broker_subscriptions.clone(),
        );
        let broker_device_connects = Counter::default();
        registry.register(
            "broker_device_connects",
            "Devices that completed a connect to the embedded broker",
            broker_device_connects.clone(),
        );
        let broker_rate_limited = Counter::default();
        registry.register(
            "broker_rate_limited",
            "Device messages refused for exceeding the device's rate",
            broker_rate_limited.clone(),
        );
        let broker_store_refused = Counter::default();
        registry.register(
            "broker_store_refused",
            "Device messages refused without acknowledgement because they could not be stored in time",
            broker_store_refused.clone(),
        );
        let open_fds = Gauge::default();
        registry.register(
            "process_open_fds",
            "File descriptors the process holds",
            open_fds.clone(),
        );
        let max_fds = Gauge::default();
        registry.register(
            "process_max_fds",
            "The process's soft limit on file descriptors",
            max_fds.clone(),
        );
        let broker_received = Counter::default();
        registry.register(
            "broker_messages_received",
            "Messages the embedded broker received",
            broker_received.clone(),
        );
        let broker_delivered = Counter::default();
        registry.register(
            "broker_messages_delivered",
            "Messages the embedded broker delivered",
            broker_delivered.clone(),
        );
        let broker_dropped = Counter::default();
        registry.register(
            "broker_messages_dropped",
            "Messages the embedded broker accepted and then dropped (a full queue, an expired command)",
            broker_dropped.clone(),
        );
        let ingest_batches = Counter::default();
        registry.register(
            "ingest_batches",
            "Ingest batches committed",
            ingest_batches.clone(),
        );
        let ingest_batch_seconds =
            Histogram::new([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]);
        registry.register(
            "ingest_batch_seconds",
            "Time from a batch's first message to its commit",
            ingest_batch_seconds.clone(),
        );
        let ingest_batch_last_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "ingest_batch_last_seconds",
            "Time from the latest batch's first message to its commit",
            ingest_batch_last_seconds.clone(),
        );
        let ingest_queue_depth = Gauge::default();
        registry.register(
            "ingest_queue_depth",
            "Messages waiting in the ingest queue",
            ingest_queue_depth.clone(),
        );
        let ingest_failures = Counter::default();
        registry.register(
            "ingest_failures",
            "Failed attempts to look up or write an ingest batch (each is retried)",
            ingest_failures.clone(),
        );
        let ingest_failing = Gauge::default();
        registry.register(
            "ingest_failing",
            "1 while the ingest pipeline cannot write and retries",
            ingest_failing.clone(),
        );
        let telemetry_stored = Counter::default();
        registry.register(
            "telemetry_stored",
            "Telemetry samples stored",
            telemetry_stored.clone(),
        );
        let telemetry_duplicates = Counter::default();
        registry.register(
            "telemetry_duplicates",
            "Telemetry samples received again",
            telemetry_duplicates.clone(),
        );
        let payloads_rejected = Family::<KindLabel, Counter>::default();
        registry.register(
            "payloads_rejected",
            "Device payloads refused, by kind",
            payloads_rejected.clone(),
        );
        let commands = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "commands",
            "Commands sent to devices, by outcome",
            commands.clone(),
        );
        Self {
            registry,
            ingest_batches,
            ingest_batch_seconds,
            ingest_batch_last_seconds,
            ingest_queue_depth,
            ingest_failures,
            ingest_failing,
            telemetry_stored,
            telemetry_duplicates,
            payloads_rejected,
            commands,
            http_requests,
            bridge_connected,
            bridge_connects,
            broker_clients,
            broker_subscriptions,
            broker_device_connects,
            broker_rate_limited,
            broker_store_refused,
            open_fds,
            max_fds,
            broker_received,
            broker_delivered,
            broker_dropped,
        }
    }

    /// The Prometheus/OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
