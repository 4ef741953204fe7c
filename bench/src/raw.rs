//! The baselines: the broker BrewLink embeds (rmqtt, same version, same listener limits) run on its own
//! with no hooks and no storage, a plain subscriber taking the devices' telemetry, and two plain MQTT
//! clients answering each other.

use std::{
    net::SocketAddr,
    num::NonZeroU16,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use rmqtt::{context::ServerContext, net::Builder, server::MqttServer};
use rumqttc::{Event, MqttOptions, Packet, QoS};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tokio_util::sync::CancellationToken;

use crate::{device, machine::Process, server::free_port};

/// Where the raw broker finds its TLS files (BrewLink's broker certificate and platform CA).
#[derive(Debug, Clone, clap::Args)]
pub struct RawBrokerArgs {
    #[arg(long)]
    pub plain_port: u16,
    #[arg(long)]
    pub tls_port: u16,
    /// Folder with `broker.pem`, `broker.key` and `ca.pem`.
    #[arg(long)]
    pub pki: PathBuf,
}

/// Runs the raw broker until the process is killed (the `raw-broker` subcommand).
pub async fn serve(args: RawBrokerArgs) -> anyhow::Result<()> {
    let context = ServerContext::new().busy_check_enable(false).build().await;
    let file = |name: &str| Some(args.pki.join(name).to_string_lossy().to_string());
    // The same limits as BrewLink's listeners (server/src/broker/mod.rs), anonymous allowed.
    let listener = |port: u16| {
        Builder::new()
            .name("raw")
            .laddr(SocketAddr::from(([127, 0, 0, 1], port)))
            .reuseaddr(Some(true))
            .nodelay(true)
            .allow_anonymous(true)
            .max_packet_size(256 * 1024)
            .max_handshaking_limit(200)
            .max_mqueue_len(100_000)
            .max_inflight(NonZeroU16::new(256).unwrap_or(NonZeroU16::MIN))
    };
    let plain = listener(args.plain_port).bind()?.tcp()?;
    let tls = listener(args.tls_port)
        .tls_cert(file("broker.pem"))
        .tls_key(file("broker.key"))
        .tls_client_ca_certs(file("ca.pem"))
        .tls_cross_certificate(true)
        .bind()?
        .tls()?;
    let server = MqttServer::new(context)
        .listener_by_id(plain, 1)
        .listener_by_id(tls, 2)
        .build();
    println!("raw broker listening");
    server.run().await?;
    Ok(())
}

/// A raw broker process.
pub struct RawBroker {
    child: Child,
    pub plain: SocketAddr,
    pub tls: SocketAddr,
    pub process: Process,
}

impl RawBroker {
    /// Starts `brewlink-bench raw-broker` with the TLS files in `pki`.
    pub async fn start(pki: &Path) -> anyhow::Result<Self> {
        let plain = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let tls = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut child = Command::new(std::env::current_exe()?)
            .arg("raw-broker")
            .args(["--plain-port", &plain.port().to_string()])
            .args(["--tls-port", &tls.port().to_string()])
            .arg("--pki")
            .arg(pki)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().context("raw broker stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .context("the raw broker did not start")??
            .unwrap_or_default();
        if line != "raw broker listening" {
            bail!("the raw broker did not start: {line}");
        }
        let process = Process::new(child.id().context("raw broker pid")?);
        Ok(Self {
            child,
            plain,
            tls,
            process,
        })
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn plain_options(id: &str, addr: SocketAddr) -> MqttOptions {
    let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    // A subscriber's SUBSCRIBE names hundreds of topics.
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(256)
        .set_max_packet_size(1 << 20, 1 << 20);
    options
}

/// A plain subscriber to the telemetry of these devices, counting what it receives until `stop`.
/// At QoS 0: the broker's fan-out without an acknowledgement per message (tried at QoS 1, a
/// subscriber's window held it to a fraction of what the broker accepted from the devices).
pub async fn subscribe(
    addr: SocketAddr,
    number: usize,
    devices: Vec<String>,
    received: Arc<AtomicU64>,
    ready: tokio::sync::oneshot::Sender<()>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let id = format!("raw-subscriber-{number}");
    let (client, mut events) = device::client(plain_options(&id, addr), 1024);
    device::connect(&mut events).await?;
    let filters = devices.iter().map(|device| {
        rumqttc::SubscribeFilter::new(format!("devices/{device}/telemetry"), QoS::AtMostOnce)
    });
    client.subscribe_many(filters).await?;
    let mut ready = Some(ready);
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => break,
            event = events.poll() => event?,
        };
        match event {
            Event::Incoming(Packet::SubAck(_)) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            }
            Event::Incoming(Packet::Publish(_)) => {
                received.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Request/reply between two plain MQTT clients on the raw broker, QoS 1 each way, one at a time:
/// the round trip of each of `count` requests.
pub async fn mqtt_round_trips(addr: SocketAddr, count: usize) -> anyhow::Result<Vec<Duration>> {
    let stop = CancellationToken::new();
    let (responder, mut responder_events) =
        device::client(plain_options("raw-responder", addr), 64);
    device::connect(&mut responder_events).await?;
    responder.subscribe("rtt/request", QoS::AtLeastOnce).await?;
    let (subscribed, ready) = tokio::sync::oneshot::channel();
    let echo = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut subscribed = Some(subscribed);
            loop {
                let event = tokio::select! {
                    () = stop.cancelled() => break,
                    event = responder_events.poll() => event,
                };
                match event {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(subscribed) = subscribed.take() {
                            let _ = subscribed.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(message))) => {
                        let _ = responder
                            .publish("rtt/reply", QoS::AtLeastOnce, false, message.payload)
                            .await;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        })
    };
    ready.await.context("the responder subscribed")?;

    let (requester, mut events) = device::client(plain_options("raw-requester", addr), 64);
    device::connect(&mut events).await?;
    requester.subscribe("rtt/reply", QoS::AtLeastOnce).await?;
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = events.poll().await? {
            break;
        }
    }
    let mut times = Vec::with_capacity(count);
    for n in 0..count {
        let payload = n.to_le_bytes().to_vec();
        let sent = Instant::now();
        requester
            .publish("rtt/request", QoS::AtLeastOnce, false, payload.clone())
            .await?;
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.poll())
                .await
                .context("no reply within 10 s")??;
            if let Event::Incoming(Packet::Publish(message)) = event
                && message.payload.as_ref() == payload.as_slice()
            {
                times.push(sent.elapsed());
                break;
            }
        }
    }
    stop.cancel();
    let _ = echo.await;
    Ok(times)
}
