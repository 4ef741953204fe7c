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
    options
        .set_keep_alive(Duration::from_secs(5))
        .set_clean_session(true);
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
        tokio::spawn(async move {
            loop {
                match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let _ = sender.send(Seen::Publish(publish));
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
        Ok(Self { client, events })
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
/// watcher that sees every topic (the bridge account).
pub async fn check_device_topic_rules(
    device_options: MqttOptions,
    device_id: &str,
    mut watcher: TestClient,
) {
    assert_eq!(
        watcher.subscribe("devices/#").await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    let mut device = TestClient::connect(device_options)
        .await
        .expect("the device connects with its bundle");
    let own = format!("devices/{device_id}/telemetry");

    // Refused subscriptions: foreign device, wildcard across devices, everything, shared groups of others.
    for filter in [
        "devices/someone-else/cmd",
        "devices/+/telemetry",
        "#",
        "$share/g/devices/someone-else/#",
    ] {
        assert_eq!(
            device.subscribe(filter).await,
            SubscribeReasonCode::Failure,
            "subscribe {filter}"
        );
    }
    assert_eq!(
        device.subscribe(&format!("devices/{device_id}/cmd")).await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce),
        "its own command topic"
    );

    // A foreign publish never arrives; the own one (sent after it) does.
    device
        .publish("devices/someone-else/telemetry", b"forged", false)
        .await;
    device.publish("elsewhere", b"forged", false).await;
    device.publish(&own, b"mine", false).await;
    let seen = watcher.publishes_until(&own).await;
    let topics: Vec<&str> = seen.iter().map(|publish| publish.topic.as_str()).collect();
    assert_eq!(
        topics,
        [own.as_str()],
        "only the device's own topic gets through"
    );
}
