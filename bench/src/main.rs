//! `brewlink-bench`: measures the built BrewLink server from the outside (devices over TLS, HTTP,
//! SSE, `/proc`), each figure next to a baseline measured in the same run on the same machine, and
//! prints one table and writes `results.json`. Run it through `.ci/bench` (release build, at most
//! 15 minutes) or `.ci/bench --quick` (at most 3 minutes).

mod device;
mod ingest;
mod machine;
mod raw;
mod report;
mod server;
mod web;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, atomic::AtomicU64},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::{
    ingest::Timing,
    machine::Machine,
    report::{Percentiles, Report},
    server::{Server, Store},
};

#[derive(Debug, Parser)]
#[command(about = "BrewLink's benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// How big the run is.
    #[arg(long, value_enum, default_value_t = Size::Full)]
    size: Size,
    /// The `brewlink` binary to measure.
    #[arg(long, default_value = "target/release/brewlink")]
    server: PathBuf,
    /// The built site (with `pkg/`) the server serves.
    #[arg(long, default_value = "target/site")]
    site_root: PathBuf,
    /// The PostgreSQL server for the PostgreSQL figures (a database is made and dropped on it).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// The stores to run on: the first gets every measurement, the others the ingest run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres"
    )]
    stores: Vec<Store>,
    /// Where the results go.
    #[arg(long, default_value = "target/bench/results.json")]
    out: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Runs the raw baseline broker (used by the benchmark itself).
    #[command(hide = true)]
    RawBroker(raw::RawBrokerArgs),
}

/// The full run (at most 15 minutes), the quick one (at most 3) and the smallest one, which only
/// checks that every measurement works (the test command runs it against the debug build).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Size {
    Full,
    Quick,
    Smoke,
}

/// The counts and times of a run.
struct Plan {
    limit: Duration,
    /// Device counts of the ingest scaling runs, smallest first; `headline` is among them.
    scaling: &'static [usize],
    headline: usize,
    timing: Timing,
    idle_devices: usize,
    round_trips: usize,
    live_events: usize,
    page_seconds: u32,
}

impl Size {
    fn plan(self) -> Plan {
        match self {
            Self::Full => Plan {
                limit: Duration::from_secs(15 * 60),
                scaling: &[100, 1000, 10_000],
                headline: 1000,
                timing: Timing {
                    warmup: Duration::from_secs(3),
                    measure: Duration::from_secs(15),
                },
                idle_devices: 10_000,
                round_trips: 2000,
                live_events: 1000,
                page_seconds: 10,
            },
            Self::Quick => Plan {
                limit: Duration::from_secs(3 * 60),
                scaling: &[100, 1000],
                headline: 1000,
                timing: Timing {
                    warmup: Duration::from_secs(2),
                    measure: Duration::from_secs(5),
                },
                idle_devices: 1000,
                round_trips: 500,
                live_events: 250,
                page_seconds: 4,
            },
            Self::Smoke => Plan {
                limit: Duration::from_secs(3 * 60),
                scaling: &[5, 20],
                headline: 20,
                timing: Timing {
                    warmup: Duration::from_secs(1),
                    measure: Duration::from_secs(2),
                },
                idle_devices: 20,
                round_trips: 50,
                live_events: 30,
                page_seconds: 2,
            },
        }
    }
}

/// Time between two samples of the live-latency device.
const LIVE_INTERVAL: Duration = Duration::from_millis(20);
/// Devices on the account whose device list is rendered.
const LISTED_DEVICES: usize = 10;
/// Subscribers to the raw broker's telemetry, each for a share of the devices (one alone could not
/// take what the broker forwarded).
const RAW_SUBSCRIBERS: usize = 4;
/// Concurrent connections of the page load test.
const PAGE_CONNECTIONS: u32 = 16;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    if let Some(Sub::RawBroker(args)) = cli.command {
        return runtime.block_on(raw::serve(args));
    }
    raise_descriptor_limit();
    let plan = cli.size.plan();
    runtime.block_on(async {
        tokio::time::timeout(plan.limit, bench(&cli, &plan))
            .await
            .with_context(|| format!("the benchmark took longer than {:?}", plan.limit))?
    })
}

/// Ten thousand devices need ten thousand sockets.
fn raise_descriptor_limit() {
    // SAFETY: getrlimit/setrlimit read and write the struct they are given.
    unsafe {
        let mut limit = std::mem::zeroed::<libc::rlimit>();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

async fn bench(cli: &Cli, plan: &Plan) -> anyhow::Result<()> {
    let started = Instant::now();
    let step = |what: &str| eprintln!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
    let Some((&primary, others)) = cli.stores.split_first() else {
        bail!("--stores names no store");
    };
    let mut report = Report::new(Machine::read());
    report.set("ingest_devices", plan.headline as f64);
    report.set("wasm_gz_kib", web::bundle_gz_kib(&cli.site_root)?);
    let mut lost = 0;

    step(&format!("starting BrewLink on {}", primary.name()));
    let server = Server::start(&cli.server, &cli.site_root, primary, &cli.postgres).await?;
    lost += everything(&server, primary, plan, &mut report, &step).await?;
    server.stop(&cli.postgres).await?;

    for &store in others {
        step(&format!("starting BrewLink on {}", store.name()));
        let server = Server::start(&cli.server, &cli.site_root, store, &cli.postgres).await?;
        let fleet = server.account("fleet@bench.example").await?;
        let bundles = server.register(&fleet, plan.headline).await?;
        step(&format!(
            "ingest on {}: {} devices",
            store.name(),
            plan.headline
        ));
        let result = ingest::run(
            server.tls,
            &bundles,
            plan.timing,
            1 << 32,
            server.process,
            None,
        )
        .await;
        report.check_run(&format!("{} ingest", store.name()), &result)?;
        report.set(&format!("ingest_{}_msg_s", store.name()), result.rate);
        lost += server.missing(&result.acked).await?;
        server.stop(&cli.postgres).await?;
    }
    report.set("ingest_lost", lost as f64);
    report.set("bench_seconds", started.elapsed().as_secs_f64());
    report.print();
    report.write(&cli.out)?;
    eprintln!("results written to {}", cli.out.display());
    Ok(())
}

/// Every measurement on one server, the raw broker's baselines included; returns the samples that
/// were acknowledged and not stored.
async fn everything(
    server: &Server,
    store: Store,
    plan: &Plan,
    report: &mut Report,
    step: &impl Fn(&str),
) -> anyhow::Result<u64> {
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.set("rss_idle_mb", server.process.rss_mib());

    let most = plan.scaling.iter().copied().max().unwrap_or(plan.headline);
    let wanted = most.max(plan.idle_devices);
    step(&format!("registering {wanted} devices through the API"));
    let fleet = server.account("fleet@bench.example").await?;
    let registering = Instant::now();
    let bundles = server.register(&fleet, wanted).await?;
    report.set(
        "register_devices_s",
        bundles.len() as f64 / registering.elapsed().as_secs_f64(),
    );

    step(&format!("connecting {} idle devices", plan.idle_devices));
    let (per_device, total) =
        memory_per_device(server.tls, server.process, &bundles[..plan.idle_devices]).await?;
    report.set("rss_per_device_kb", per_device);
    report.set("rss_devices_mb", total);

    let mut acked: HashMap<String, Vec<u64>> = HashMap::new();
    for (run, &count) in plan.scaling.iter().enumerate() {
        step(&format!("ingest on {}: {count} devices", store.name()));
        let before = server.metrics("brewlink_ingest_batch").await?;
        let result = ingest::run(
            server.tls,
            &bundles[..count],
            plan.timing,
            (run as u64 + 1) << 32,
            server.process,
            None,
        )
        .await;
        report.check_run(
            &format!("{} ingest, {count} devices", store.name()),
            &result,
        )?;
        report.set(&format!("scaling_{count}_msg_s"), result.rate);
        if count == plan.headline {
            // What the server saw: batches committed, their mean size and time.
            let after = server.metrics("brewlink_ingest_batch").await?;
            let delta = |key: &str| {
                after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
            };
            let batches = delta("brewlink_ingest_batches_total");
            report.set("ingest_batches", batches);
            let acked: usize = result.acked.values().map(Vec::len).sum();
            report.set("ingest_batch_size", acked as f64 / batches.max(1.0));
            report.set(
                "ingest_batch_ms",
                delta("brewlink_ingest_batch_seconds_sum") * 1000.0 / batches.max(1.0),
            );
            report.set(&format!("ingest_{}_msg_s", store.name()), result.rate);
            report.set("ingest_load_cores", result.load_cores);
            report.set("ingest_server_cores", result.server_cores);
        }
        for (device, seqs) in result.acked {
            acked.entry(device).or_default().extend(seqs);
        }
    }
    let fewest = report.get(&format!("scaling_{}_msg_s", plan.scaling[0]));
    let at_most = report.get(&format!("scaling_{most}_msg_s"));
    report.set("scaling", at_most / fewest.max(f64::MIN_POSITIVE));
    report.set(
        "ingest_acked",
        acked.values().map(Vec::len).sum::<usize>() as f64,
    );
    let lost = server.missing(&acked).await?;

    step("command round trips over HTTP");
    let (ready, is_ready) = tokio::sync::oneshot::channel();
    let responder_stop = tokio_util::sync::CancellationToken::new();
    let responder = tokio::spawn(device::answer_commands(
        bundles[0].clone(),
        server.tls,
        ready,
        responder_stop.clone(),
    ));
    is_ready.await.context("the responding device subscribed")?;
    let trips = command_round_trips(server, &fleet, &bundles[0].id, plan.round_trips).await?;
    report.set_percentiles("rtt", &Percentiles::of(trips));
    responder_stop.cancel();
    responder.await??;

    step("live events over SSE");
    let live =
        web::live_latencies(server, &fleet, &bundles[1], plan.live_events, LIVE_INTERVAL).await?;
    report.set_percentiles("live", &Percentiles::of(live));

    step("pages under load");
    let brewer = server.account("brewer@bench.example").await?;
    server.register(&brewer, LISTED_DEVICES).await?;
    let cookie = web::session_cookie(server, &brewer).await?;
    let signed_in = [("Cookie", cookie.as_str())];
    let devices_page = server.url("/devices");
    let last_device = format!("Bench kettle {}", LISTED_DEVICES - 1);
    web::check_page(&devices_page, &signed_in, &last_device).await?;
    let page = web::wrk(
        &devices_page,
        &signed_in,
        PAGE_CONNECTIONS,
        plan.page_seconds,
    )
    .await?;
    report.set("ssr_req_s", page.requests_per_second);
    report.set("ssr_load_cores", page.load_cores);
    let home = web::wrk(&server.url("/"), &[], PAGE_CONNECTIONS, plan.page_seconds).await?;
    report.set("home_req_s", home.requests_per_second);
    let bearer = format!("Bearer {}", brewer.token);
    let api = [("Authorization", bearer.as_str())];
    let api_list = server.url("/api/v1/devices");
    web::check_page(&api_list, &api, &last_device).await?;
    let listed = web::wrk(&api_list, &api, PAGE_CONNECTIONS, plan.page_seconds).await?;
    report.set("api_devices_req_s", listed.requests_per_second);

    step("baselines on the raw broker");
    let raw = raw::RawBroker::start(&server.pki()).await?;
    let (per_device, _) =
        memory_per_device(raw.tls, raw.process, &bundles[..plan.idle_devices]).await?;
    report.set("raw_rss_per_device_kb", per_device);
    let received = Arc::new(AtomicU64::new(0));
    let subscriber_stop = tokio_util::sync::CancellationToken::new();
    let mut subscribers = Vec::new();
    for n in 0..RAW_SUBSCRIBERS {
        let (subscribed, is_subscribed) = tokio::sync::oneshot::channel();
        let devices = bundles[..plan.headline]
            .iter()
            .skip(n)
            .step_by(RAW_SUBSCRIBERS)
            .map(|bundle| bundle.id.clone())
            .collect();
        let subscriber = tokio::spawn(raw::subscribe(
            raw.plain,
            n,
            devices,
            received.clone(),
            subscribed,
            subscriber_stop.clone(),
        ));
        if is_subscribed.await.is_err() {
            subscriber.await??;
            bail!("the raw subscriber ended before it subscribed");
        }
        subscribers.push(subscriber);
    }
    let result = ingest::run(
        raw.tls,
        &bundles[..plan.headline],
        plan.timing,
        0,
        raw.process,
        Some(received),
    )
    .await;
    report.check_run("raw broker", &result)?;
    // What the broker took in and acknowledged; what the subscribers (sharing the cores with the
    // publishers) got of it is the delivered rate.
    report.set("raw_broker_msg_s", result.acked_rate);
    report.set("raw_delivered_msg_s", result.rate);
    report.set("raw_load_cores", result.load_cores);
    subscriber_stop.cancel();
    for subscriber in subscribers {
        subscriber.await??;
    }
    let raw_trips = raw::mqtt_round_trips(raw.plain, plan.round_trips).await?;
    report.set_percentiles("raw_mqtt_rtt", &Percentiles::of(raw_trips));
    raw.stop().await;
    report.set(
        "ingest_ratio",
        report.get(&format!("ingest_{}_msg_s", store.name()))
            / report.get("raw_broker_msg_s").max(f64::MIN_POSITIVE),
    );
    Ok(lost)
}

/// Connects `bundles` (idle) to the broker at `addr` run by `process`: its memory per device, KiB,
/// and its memory with them all connected, MiB.
async fn memory_per_device(
    addr: std::net::SocketAddr,
    process: machine::Process,
    bundles: &[device::Bundle],
) -> anyhow::Result<(f64, f64)> {
    let before = process.rss_mib();
    let (stop, tasks, connected) = ingest::connect_idle(addr, bundles).await;
    if connected as usize != bundles.len() {
        bail!(
            "only {connected} of {} idle devices connected",
            bundles.len()
        );
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let with_devices = process.rss_mib();
    stop.cancel();
    for task in tasks {
        let _ = task.await;
    }
    let per_device = (with_devices - before.min(with_devices)) * 1024.0 / bundles.len() as f64;
    Ok((per_device, with_devices))
}

/// `PUT /api/v1/devices/{id}/gpio/{pin}` one after another, `count` times; each must answer 200.
async fn command_round_trips(
    server: &Server,
    account: &server::Account,
    device: &str,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = server.url(&format!("/api/v1/devices/{device}/gpio/3"));
    let mut times = Vec::with_capacity(count);
    for n in 0..count {
        let sent = Instant::now();
        let response = client
            .put(&url)
            .bearer_auth(&account.token)
            .json(&serde_json::json!({ "value": n % 2 == 0 }))
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        times.push(sent.elapsed());
        if status != 200 {
            bail!(
                "PUT {url} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    Ok(times)
}
