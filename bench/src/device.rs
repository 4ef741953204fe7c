//! The load: devices as real MQTT clients over TLS with the certificates BrewLink issued them.

use std::{
    collections::{HashMap, VecDeque},
    io::Read,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use proto::{Message, v1};
use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration, Transport,
};
use tokio_util::sync::CancellationToken;

/// A device's identity, from the bundle zip BrewLink serves.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub id: String,
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Bundle {
    /// Reads `ca.pem`, `device.pem`, `device.key` and the client id of `settings.json`.
    pub fn from_zip(bytes: &[u8]) -> anyhow::Result<Self> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).context("bundle zip")?;
        let mut read = |name: &str| -> anyhow::Result<String> {
            let mut text = String::new();
            zip.by_name(name)
                .with_context(|| format!("{name} in the bundle"))?
                .read_to_string(&mut text)?;
            Ok(text)
        };
        let settings: serde_json::Value = serde_json::from_str(&read("settings.json")?)?;
        let Some(id) = settings["client_id"].as_str() else {
            bail!("settings.json has no client_id");
        };
        Ok(Self {
            id: id.to_string(),
            ca_pem: read("ca.pem")?,
            cert_pem: read("device.pem")?,
            key_pem: read("device.key")?,
        })
    }

    pub fn topic(&self, name: &str) -> String {
        format!("devices/{}/{name}", self.id)
    }

    /// Options for connecting to `addr` over TLS with this device's certificate.
    pub fn options(&self, addr: SocketAddr, window: u16) -> MqttOptions {
        let mut options = MqttOptions::new(self.id.clone(), "localhost", addr.port());
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_inflight(window.max(1));
        options.set_transport(Transport::Tls(TlsConfiguration::Simple {
            ca: self.ca_pem.as_bytes().to_vec(),
            alpn: None,
            client_auth: Some((
                self.cert_pem.as_bytes().to_vec(),
                self.key_pem.as_bytes().to_vec(),
            )),
        }));
        options
    }
}

/// A client with Nagle's algorithm off, as a controller sending small packets would have it: the
/// round trips measure the server, not a 40 ms delayed ACK on the client's side.
pub fn client(options: MqttOptions, capacity: usize) -> (AsyncClient, EventLoop) {
    let (client, mut events) = AsyncClient::new(options, capacity);
    events.network_options.set_tcp_nodelay(true);
    (client, events)
}

/// A telemetry sample as a brewing controller sends it.
pub fn sample(seq: u64) -> Vec<u8> {
    let temperature = 60.0 + (seq % 100) as f32 / 10.0;
    v1::Telemetry {
        seq,
        time_ms: chrono::Utc::now().timestamp_millis(),
        readings: Some(v1::Readings {
            mash_temp_c: Some(temperature),
            setpoint_c: Some(66.0),
            heater_pct: Some(40.0),
            pump_on: Some(true),
            gravity_sg: Some(1.050),
            volume_l: Some(20.0),
            ..Default::default()
        }),
    }
    .encode_to_vec()
}

/// Polls until the broker accepts the connection.
pub async fn connect(events: &mut EventLoop) -> anyhow::Result<()> {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.poll()).await {
            Err(_) => bail!("no CONNACK within 60 s"),
            Ok(Err(error)) => bail!("connect failed: {error}"),
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => return Ok(()),
            Ok(Ok(_)) => {}
        }
    }
}

/// What one publishing device ended with.
#[derive(Debug, Default)]
pub struct Published {
    /// Sequence numbers the broker acknowledged.
    pub acked: Vec<u64>,
    /// Why the connection ended early, if it did.
    pub error: Option<String>,
}

/// Connects (holding a `connecting` permit meanwhile), waits at `connected` for the others, then
/// publishes QoS 1 telemetry on `topic`, keeping `window` messages in flight (the next goes out as
/// one is acknowledged), until `stop`; then waits up to `drain` for what is still in flight.
/// Sequence numbers start after `first_seq`. Every acknowledgement counts into `acked`.
#[allow(clippy::too_many_arguments)]
pub async fn publish(
    options: MqttOptions,
    topic: String,
    window: u16,
    first_seq: u64,
    connecting: Arc<tokio::sync::Semaphore>,
    connected: Arc<tokio::sync::Barrier>,
    acked: Arc<AtomicU64>,
    stop: CancellationToken,
    drain: Duration,
) -> Published {
    let mut result = Published::default();
    let (client, mut events) = client(options, usize::from(window) + 8);
    let turn = connecting.acquire().await;
    let outcome = connect(&mut events).await;
    drop(turn);
    if let Err(error) = outcome {
        result.error = Some(error.to_string());
        connected.wait().await;
        return result;
    }
    connected.wait().await;
    let mut next_seq = first_seq + 1;
    let mut unsent = VecDeque::new();
    let mut by_packet: HashMap<u16, u64> = HashMap::new();
    let send = |next_seq: &mut u64, unsent: &mut VecDeque<u64>| {
        let seq = *next_seq;
        *next_seq += 1;
        unsent.push_back(seq);
        client.try_publish(&topic, QoS::AtLeastOnce, false, sample(seq))
    };
    for _ in 0..window {
        if let Err(error) = send(&mut next_seq, &mut unsent) {
            result.error = Some(error.to_string());
            return result;
        }
    }
    let mut deadline = None;
    loop {
        let event = tokio::select! {
            () = stop.cancelled(), if deadline.is_none() => {
                deadline = Some(tokio::time::Instant::now() + drain);
                continue;
            }
            () = sleep_until(deadline) => break,
            event = events.poll() => event,
        };
        match event {
            Ok(Event::Outgoing(Outgoing::Publish(packet))) => {
                if let Some(seq) = unsent.pop_front() {
                    by_packet.insert(packet, seq);
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                if let Some(seq) = by_packet.remove(&ack.pkid) {
                    result.acked.push(seq);
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                if deadline.is_none() {
                    if let Err(error) = send(&mut next_seq, &mut unsent) {
                        result.error = Some(error.to_string());
                        break;
                    }
                } else if by_packet.is_empty() && unsent.is_empty() {
                    break;
                }
            }
            Ok(_) => {}
            Err(error) => {
                result.error = Some(error.to_string());
                break;
            }
        }
    }
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_secs(1), events.poll()).await;
    result
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}

/// Keeps a device connected (and idle) until `stop`; `connected` is counted once it is in.
pub async fn stay_connected(
    options: MqttOptions,
    connecting: Arc<tokio::sync::Semaphore>,
    connected: Arc<AtomicU64>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (client, mut events) = client(options, 4);
    let turn = connecting.acquire().await;
    connect(&mut events).await?;
    drop(turn);
    connected.fetch_add(1, Ordering::Relaxed);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            event = events.poll() => { event?; }
        }
    }
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_secs(1), events.poll()).await;
    Ok(())
}

/// A device's birth message: online, with GPIO pins.
fn online() -> Vec<u8> {
    v1::Status {
        online: true,
        firmware: "brewlink-bench 1.0".to_string(),
        report_interval_s: 60,
        capabilities: Some(v1::Capabilities {
            gpio_pins: 16,
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// A device that says it is online, then answers GPIO commands at once, as fast as it can, until
/// `stop`. `ready` fires once its birth message is stored and it is subscribed.
pub async fn answer_commands(
    bundle: Bundle,
    addr: SocketAddr,
    ready: tokio::sync::oneshot::Sender<()>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (client, mut events) = client(bundle.options(addr, 16), 64);
    connect(&mut events).await?;
    client
        .subscribe(bundle.topic("cmd"), QoS::AtLeastOnce)
        .await?;
    // BrewLink acknowledges a status once it is stored: ready after both acknowledgements.
    client
        .publish(bundle.topic("status"), QoS::AtLeastOnce, true, online())
        .await?;
    let mut ready = Some(ready);
    let mut awaited = 2;
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => break,
            event = events.poll() => event?,
        };
        match event {
            Event::Incoming(Packet::SubAck(_) | Packet::PubAck(_)) if awaited > 0 => {
                awaited -= 1;
                if awaited == 0
                    && let Some(ready) = ready.take()
                {
                    let _ = ready.send(());
                }
            }
            Event::Incoming(Packet::Publish(message)) => {
                let Ok(command) = v1::Command::decode(message.payload.as_ref()) else {
                    continue;
                };
                let result = match command.body {
                    Some(v1::command::Body::GpioSet(set)) => {
                        v1::reply::Result::Gpio(v1::GpioState {
                            pin: set.pin,
                            value: set.value,
                            mode: set.mode,
                        })
                    }
                    _ => v1::reply::Result::Ack(v1::Ack {}),
                };
                let reply = v1::Reply {
                    request_id: command.request_id,
                    result: Some(result),
                };
                client
                    .publish(
                        command.reply_topic,
                        QoS::AtLeastOnce,
                        false,
                        reply.encode_to_vec(),
                    )
                    .await?;
            }
            _ => {}
        }
    }
    Ok(())
}
