//! Ingest runs: many devices publishing QoS 1 telemetry at once, counted by what comes back.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::{Barrier, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::{
    device::{self, Bundle},
    machine::{CpuMark, Process},
};

/// Devices connecting at once (the rest wait their turn, as the broker's own handshake cap would
/// make them).
const CONNECTING_AT_ONCE: usize = 100;
/// Messages in flight across all devices; each device keeps its share, 1 to 32.
const IN_FLIGHT: usize = 4000;
/// How long devices wait for the acknowledgements still due after the run.
const DRAIN: Duration = Duration::from_secs(15);

/// How long a run warms up and then measures.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub warmup: Duration,
    pub measure: Duration,
}

/// What an ingest run measured.
#[derive(Debug, Default)]
pub struct IngestRun {
    /// Messages per second over the measured window, by the chosen counter.
    pub rate: f64,
    /// Acknowledgements to the devices per second over the same window.
    pub acked_rate: f64,
    /// Cores the load generator (this process) and the broker's process kept busy meanwhile.
    pub load_cores: f64,
    pub server_cores: f64,
    /// Sequence numbers acknowledged to each device.
    pub acked: HashMap<String, Vec<u64>>,
    /// Devices whose connection failed or dropped, with the first reason.
    pub failed: usize,
    pub first_error: Option<String>,
}

/// Runs `bundles` against the broker at `addr` (TLS) for `timing`. The rate is taken from `counter`
/// when given (a subscriber's receipts), else from the devices' acknowledgements. Sequence numbers
/// start above `seq_base`, so runs on the same devices never collide.
pub async fn run(
    addr: SocketAddr,
    bundles: &[Bundle],
    timing: Timing,
    seq_base: u64,
    broker: Process,
    counter: Option<Arc<AtomicU64>>,
) -> IngestRun {
    let window = u16::try_from((IN_FLIGHT / bundles.len().max(1)).clamp(1, 32)).unwrap_or(1);
    let acked = Arc::new(AtomicU64::new(0));
    let counter = counter.unwrap_or_else(|| acked.clone());
    let connected = Arc::new(Barrier::new(bundles.len() + 1));
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let stop = CancellationToken::new();
    let tasks: Vec<_> = bundles
        .iter()
        .map(|bundle| {
            let options = bundle.options(addr, window);
            tokio::spawn(device::publish(
                options,
                bundle.topic("telemetry"),
                window,
                seq_base,
                connecting.clone(),
                connected.clone(),
                acked.clone(),
                stop.clone(),
                DRAIN,
            ))
        })
        .collect();
    connected.wait().await;
    tokio::time::sleep(timing.warmup).await;

    let this = Process::this();
    let (load_start, broker_start): (CpuMark, CpuMark) = (this.cpu(), broker.cpu());
    let (count_start, acked_start, started) = (
        counter.load(Ordering::Relaxed),
        acked.load(Ordering::Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(timing.measure).await;
    let (count_end, acked_end, elapsed) = (
        counter.load(Ordering::Relaxed),
        acked.load(Ordering::Relaxed),
        started.elapsed(),
    );
    let (load_end, broker_end) = (this.cpu(), broker.cpu());
    stop.cancel();

    let mut run = IngestRun {
        rate: (count_end - count_start) as f64 / elapsed.as_secs_f64(),
        acked_rate: (acked_end - acked_start) as f64 / elapsed.as_secs_f64(),
        load_cores: load_end.cores_since(&load_start),
        server_cores: broker_end.cores_since(&broker_start),
        ..IngestRun::default()
    };
    for (bundle, task) in bundles.iter().zip(tasks) {
        let published = task.await.unwrap_or_else(|error| device::Published {
            error: Some(error.to_string()),
            ..Default::default()
        });
        if let Some(error) = published.error {
            run.failed += 1;
            run.first_error.get_or_insert(error);
        }
        run.acked.insert(bundle.id.clone(), published.acked);
    }
    run
}

/// Connects `bundles` and keeps them idle until the returned token is cancelled; returns once all
/// are connected (or failed), with how many are in.
pub async fn connect_idle(
    addr: SocketAddr,
    bundles: &[Bundle],
) -> (
    CancellationToken,
    Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    u64,
) {
    let connected = Arc::new(AtomicU64::new(0));
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let stop = CancellationToken::new();
    let tasks: Vec<_> = bundles
        .iter()
        .map(|bundle| {
            tokio::spawn(device::stay_connected(
                bundle.options(addr, 1),
                connecting.clone(),
                connected.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while (connected.load(Ordering::Relaxed) as usize) < bundles.len()
        && Instant::now() < deadline
        && tasks.iter().any(|task| !task.is_finished())
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let count = connected.load(Ordering::Relaxed);
    (stop, tasks, count)
}
