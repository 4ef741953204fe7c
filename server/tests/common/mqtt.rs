//! Real MQTT clients for tests: connect (plain or TLS with a client certificate), then watch what the
//! broker sends.

use std::{net::SocketAddr, time::Duration};

use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, LastWill, MqttOptions, Packet, Publish, QoS,
    SubscribeReasonCode, TlsConfiguration, Transport,
};
use tokio::sync::mpsc;

/// PEM files of a device (as in its bundle).
#[derive(Debug, Clone)]
pub struct DeviceFiles {
    pub id: String,
    pub ca: String,
    pub cert: String,
    pub key: String,
}

/// What the broker said.
#[derive(Debug)]
pub enum Seen {
    Publish(Publish),
    SubAck(Vec<SubscribeReasonCode>),
    Disconnected(String),
}

/// A connected client whose event loop runs in the background.
pub struct TestClient {
    pub client: AsyncClient,
    events: mpsc::UnboundedReceiver<Seen>,
    acknowledged: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Options for a device connecting over TLS with a client certificate.
pub fn device_options(
    addr: SocketAddr,
    client_id: &str,
    ca: &str,
    cert: &str,
    key: &str,
) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, "localhost", addr.port());
    // rumqttc would refuse to send more than 10 KiB; the tests send oversize payloads on purpose.
    options
        .set_keep_alive(Duration::from_secs(5))
        .set_clean_session(true)
        .set_max_packet_size(1 << 20, 1 << 20);
    options.set_transport(Transport::Tls(TlsConfiguration::Simple {
        ca: ca.as_bytes().to_vec(),
        alpn: None,
        client_auth: Some((cert.as_bytes().to_vec(), key.as_bytes().to_vec())),
    }));
    options
}

/// Options for a device from its files.
pub fn device(addr: SocketAddr, files: &DeviceFiles) -> MqttOptions {
    device_options(addr, &files.id, &files.ca, &files.cert, &files.key)
}

/// Options for a device presenting a certificate with its CN from a CA of its own (not the platform's).
pub fn foreign_ca_device(addr: SocketAddr, files: &DeviceFiles) -> MqttOptions {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, files.id.as_str());
    let certificate = params.self_signed(&key).unwrap();
    device_options(
        addr,
        &files.id,
        &files.ca,
        &certificate.pem(),
        &key.serialize_pem(),
    )
}

/// Options with a last will.
pub fn with_will(mut options: MqttOptions, topic: &str) -> MqttOptions {
    options.set_last_will(LastWill::new(topic, "gone", QoS::AtLeastOnce, false));
    options
}

/// Options for a user-and-password client on a plain listener.
pub fn password_options(
    addr: SocketAddr,
    client_id: &str,
    username: &str,
    password: &str,
) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
    options
        .set_keep_alive(Duration::from_secs(5))
        .set_credentials(username, password);
    options
}

impl TestClient {
    /// Connects; `Err` says why the broker or the TLS handshake refused.
    pub async fn connect(options: MqttOptions) -> Result<Self, String> {
        let (client, mut event_loop) = AsyncClient::new(options, 100);
        let connected = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(ack)))
                        if ack.code == ConnectReturnCode::Success =>
                    {
                        return Ok(());
                    }
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        return Err(format!("refused: {:?}", ack.code));
                    }
                    Ok(_) => {}
                    Err(error) => return Err(error.to_string()),
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err("no answer to CONNECT".to_string()));
        connected?;
        let (sender, events) = mpsc::unbounded_channel();
        let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let acks = acknowledged.clone();
        tokio::spawn(async move {
            loop {
                match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let _ = sender.send(Seen::Publish(publish));
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        let _ = sender.send(Seen::SubAck(ack.return_codes));
                    }
                    Ok(Event::Incoming(Packet::Disconnect)) => {
                        let _ = sender.send(Seen::Disconnected("DISCONNECT".to_string()));
                        return;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        let _ = sender.send(Seen::Disconnected(error.to_string()));
                        return;
                    }
                }
            }
        });
        Ok(Self {
            client,
            events,
            acknowledged,
        })
    }

    /// How many of its publishes the broker has acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Subscribes and returns the broker's answer for the filter.
    pub async fn subscribe(&mut self, filter: &str) -> SubscribeReasonCode {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .unwrap();
        loop {
            match self.next(Duration::from_secs(10)).await {
                Some(Seen::SubAck(codes)) => return codes[0],
                Some(Seen::Disconnected(reason)) => {
                    panic!("disconnected while subscribing: {reason}")
                }
                Some(Seen::Publish(_)) => {}
                None => panic!("no SUBACK for {filter}"),
            }
        }
    }

    /// Publishes with QoS 1.
    pub async fn publish(&self, topic: &str, payload: &[u8], retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
            .await
            .unwrap();
    }

    /// The next thing the broker sent, within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Seen> {
        tokio::time::timeout(timeout, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// Messages received until one arrives on `topic` (returned last); panics after 10 s.
    pub async fn publishes_until(&mut self, topic: &str) -> Vec<Publish> {
        let mut seen = Vec::new();
        loop {
            match self.next(Duration::from_secs(10)).await {
                Some(Seen::Publish(publish)) => {
                    let done = publish.topic == topic;
                    seen.push(publish);
                    if done {
                        return seen;
                    }
                }
                Some(Seen::SubAck(_)) => {}
                Some(Seen::Disconnected(reason)) => panic!("disconnected before {topic}: {reason}"),
                None => panic!(
                    "nothing on {topic} within 10 s; saw {:?}",
                    seen.iter().map(|p| &p.topic).collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Whether the broker drops this client within `timeout`.
    pub async fn dropped_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
            match self.next(left).await {
                Some(Seen::Disconnected(_)) => return true,
                Some(_) => {}
                None => return false,
            }
        }
        false
    }
}

/// The ACL rules every broker must enforce for a device, checked with a real device client and a
/// watcher that may use every topic (the bridge account): the device receives nothing from foreign
/// topics, whatever it subscribes to, and nothing it publishes outside its own topics gets through.
/// Returns the broker's answers to the forbidden subscriptions (brokers differ: some refuse them,
/// some accept them and deliver nothing).
pub async fn check_device_topic_rules(
    device_options: MqttOptions,
    device_id: &str,
    mut watcher: TestClient,
) -> Vec<SubscribeReasonCode> {
    assert_eq!(
        watcher.subscribe("#").await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    let mut device = TestClient::connect(device_options)
        .await
        .expect("the device connects with its bundle");
    let own_cmd = format!("devices/{device_id}/cmd");
    let own_telemetry = format!("devices/{device_id}/telemetry");

    let mut answers = Vec::new();
    for filter in [
        "devices/someone-else/cmd",
        "devices/+/telemetry",
        "#",
        "$share/g/devices/someone-else/#",
        "$SYS/#",
    ] {
        answers.push(device.subscribe(filter).await);
    }
    assert_eq!(
        device.subscribe(&own_cmd).await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce),
        "its own commands"
    );

    // Nothing from foreign topics reaches the device; its own command (sent last) does.
    watcher
        .publish("devices/someone-else/cmd", b"not for you", false)
        .await;
    watcher
        .publish("devices/someone-else/telemetry", b"not for you", false)
        .await;
    // A command within its deadline (the embedded broker discards commands past theirs).
    let command = proto::v1::Command {
        request_id: "for-you".into(),
        reply_topic: format!("devices/{device_id}/reply/for-you"),
        deadline_ms: u64::try_from(chrono::Utc::now().timestamp_millis() + 60_000).unwrap(),
        body: None,
    };
    watcher
        .publish(&own_cmd, &proto::Message::encode_to_vec(&command), false)
        .await;
    let received = device.publishes_until(&own_cmd).await;
    let topics: Vec<&str> = received
        .iter()
        .map(|publish| publish.topic.as_str())
        .collect();
    assert_eq!(
        topics,
        [own_cmd.as_str()],
        "the device receives only its own topics"
    );

    // A foreign publish never arrives; the own one (sent after it) does. (The watcher also sees what
    // it published itself above.)
    device
        .publish("devices/someone-else/status", b"forged", false)
        .await;
    device.publish("elsewhere", b"forged", false).await;
    device.publish(&own_telemetry, b"mine", false).await;
    let seen = watcher.publishes_until(&own_telemetry).await;
    let watcher_topics = [
        "devices/someone-else/cmd",
        "devices/someone-else/telemetry",
        own_cmd.as_str(),
    ];
    let topics: Vec<&str> = seen
        .iter()
        .map(|publish| publish.topic.as_str())
        .filter(|topic| !watcher_topics.contains(topic))
        .collect();
    assert_eq!(
        topics,
        [own_telemetry.as_str()],
        "only the device's own topic gets through"
    );
    answers
}

/// What a [`TrackedDevice`] knows of its samples.
#[derive(Default)]
struct Tracked {
    /// Samples handed to the client, in order, not yet written out.
    queued: std::collections::VecDeque<u64>,
    /// Packet id -> the sample it carries, until acknowledged.
    in_flight: std::collections::HashMap<u16, u64>,
    acknowledged: std::collections::BTreeSet<u64>,
    acks: usize,
    connects: usize,
}

/// A device publishing numbered samples at QoS 1 that, like firmware, reconnects after an error (a
/// persistent session: unacknowledged messages go again) and records which samples the broker
/// acknowledged.
#[derive(Clone)]
pub struct TrackedDevice {
    pub client: AsyncClient,
    tracked: std::sync::Arc<std::sync::Mutex<Tracked>>,
    stop: tokio_util::sync::CancellationToken,
}

impl TrackedDevice {
    /// Starts the device's event loop; it runs until [`TrackedDevice::stop`].
    pub fn start(mut options: MqttOptions) -> Self {
        options.set_clean_session(false);
        let (client, mut event_loop) = AsyncClient::new(options, 10);
        let device = Self {
            client,
            tracked: std::sync::Arc::default(),
            stop: tokio_util::sync::CancellationToken::new(),
        };
        let (tracked, stop) = (device.tracked.clone(), device.stop.clone());
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    () = stop.cancelled() => return,
                    event = event_loop.poll() => event,
                };
                let mut tracked = tracked.lock().unwrap();
                match event {
                    // A packet id still in flight is a resend after a reconnect, not a new sample.
                    Ok(Event::Outgoing(rumqttc::Outgoing::Publish(pkid))) => {
                        if !tracked.in_flight.contains_key(&pkid)
                            && let Some(seq) = tracked.queued.pop_front()
                        {
                            tracked.in_flight.insert(pkid, seq);
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        tracked.acks += 1;
                        if let Some(seq) = tracked.in_flight.remove(&ack.pkid) {
                            tracked.acknowledged.insert(seq);
                        }
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => tracked.connects += 1,
                    Ok(_) => {}
                    Err(_) => {
                        drop(tracked);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        device
    }

    /// Hands sample `seq` to the client; `false` once the client is gone.
    pub async fn publish(&self, topic: &str, seq: u64, payload: Vec<u8>) -> bool {
        self.tracked.lock().unwrap().queued.push_back(seq);
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .is_ok()
    }

    /// Acknowledgements received so far.
    pub fn acks(&self) -> usize {
        self.tracked.lock().unwrap().acks
    }

    /// Successful connects so far.
    pub fn connects(&self) -> usize {
        self.tracked.lock().unwrap().connects
    }

    /// The samples the broker acknowledged so far.
    pub fn acknowledged(&self) -> std::collections::BTreeSet<u64> {
        self.tracked.lock().unwrap().acknowledged.clone()
    }

    /// Ends the event loop (and with it the connection).
    pub fn stop(&self) {
        self.stop.cancel();
    }
}
