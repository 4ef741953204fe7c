//! The bridge: the server's own MQTT client (rumqttc). It connects to whichever broker is in use — the
//! embedded one or an external one — with a persistent session and manual acknowledgements, reconnects
//! with backoff, and reports its state for `/readyz`, `/metrics` and the admin site. Device telemetry
//! and status go to the ingest pipeline ([`crate::ingest`]) — from an external broker only: the
//! embedded broker hands them to the pipeline itself, so that a device's message is acknowledged only
//! once it is stored — replies to waiting commands ([`commands`]), program progress to the live hub.
//!
//! On an external broker every instance subscribes to every device topic (no shared subscription):
//! each one can serve the live streams of its own browsers, and storage is idempotent per
//! (device, seq).

pub mod commands;
pub mod decode;

use std::time::Duration;

use app::model::{admin::Direction, telemetry::LiveEvent};
use chrono::{DateTime, Utc};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS, Transport};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use commands::CommandBus;
use decode::TopicKind;

use crate::{
    backoff::Backoff,
    ingest::{self, Ack, IngestContext, IngestInlet},
    store::telemetry::IngestBatch,
};

/// The device data the bridge subscribes to when it takes it from the broker.
const DATA_SUBSCRIPTIONS: [&str; 2] = ["devices/+/telemetry", "devices/+/status"];
/// What the bridge always subscribes to.
const SUBSCRIPTIONS: [&str; 2] = ["devices/+/reply/#", "devices/+/program"];
/// Program progress messages waiting to be recorded (each is a transaction of its own).
const PROGRESS_QUEUE: usize = 1_000;
/// Requests to the MQTT client waiting for its event loop.
const REQUEST_QUEUE: usize = 10_000;
/// Largest packet between the bridge and the broker, both ways: a brew program of a large recipe is
/// far bigger than anything a device sends (`mqtt.max_packet_size` bounds those).
pub const BRIDGE_MAX_PACKET_SIZE: u32 = 256 * 1024;

/// Where and how the bridge connects.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerEndpoint {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// An external broker URL could not be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EndpointError {
    #[error(
        "mqtt.external_url is not a URL ({0}); expected e.g. mqtt://user:password@127.0.0.1:1883"
    )]
    Malformed(String),
    #[error("mqtt.external_url must start with mqtt:// or mqtts://, not {0}://")]
    Scheme(String),
    #[error("mqtt.external_url names no host")]
    NoHost,
}

impl BrokerEndpoint {
    /// Parses `mqtt://[user[:password]@]host[:port]` (default port 1883) or `mqtts://…` (default 8883).
    pub fn from_url(text: &str) -> Result<Self, EndpointError> {
        let url =
            url::Url::parse(text).map_err(|error| EndpointError::Malformed(error.to_string()))?;
        let tls = match url.scheme() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            other => return Err(EndpointError::Scheme(other.to_string())),
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or(EndpointError::NoHost)?;
        let decode = |text: &str| {
            url::form_urlencoded::parse(format!("x={text}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
        };
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: url.port().unwrap_or(if tls { 8883 } else { 1883 }),
            tls,
            username: (!url.username().is_empty()).then(|| decode(url.username())),
            password: url.password().map(decode),
        })
    }
}

/// The bridge's connection state.
#[derive(Debug, Clone, PartialEq)]
pub enum BridgeState {
    /// Not connected yet.
    Connecting,
    /// Connected since the given time.
    Connected { since: DateTime<Utc> },
    /// The connection failed or dropped; the bridge retries.
    Disconnected { since: DateTime<Utc>, error: String },
}

/// A running bridge: its client, its state and its pipelines.
pub struct Bridge {
    client: AsyncClient,
    state: watch::Receiver<BridgeState>,
    commands: CommandBus,
    task: JoinHandle<()>,
    progress: JoinHandle<()>,
}

/// What the bridge does with device telemetry and status.
pub enum DeviceData {
    /// Subscribes to it and hands it to the pipeline (an external broker).
    Subscribe(IngestInlet),
    /// Leaves it alone: the embedded broker hands it to the pipeline itself.
    Leave,
}

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Bridge {
    /// Starts connecting in the background; returns at once.
    pub fn start(
        endpoint: &BrokerEndpoint,
        client_id: &str,
        data: DeviceData,
        context: IngestContext,
        shutdown: CancellationToken,
    ) -> Self {
        let mut options = MqttOptions::new(client_id, endpoint.host.clone(), endpoint.port);
        options
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(
                BRIDGE_MAX_PACKET_SIZE as usize,
                BRIDGE_MAX_PACKET_SIZE as usize,
            );
        if let (Some(username), password) = (&endpoint.username, &endpoint.password) {
            options.set_credentials(username.clone(), password.clone().unwrap_or_default());
        }
        if endpoint.tls {
            options.set_transport(Transport::tls_with_default_config());
        }
        // Requests (acks, subscriptions, commands) wait here for the event loop. Acks are bounded by the
        // broker's in-flight window, so this never fills in practice; if it did, nothing waits on it.
        let (client, mut event_loop) = AsyncClient::new(options, REQUEST_QUEUE);
        // A command goes out at once, not after the broker's delayed ACK of the previous packet.
        event_loop.network_options.set_tcp_nodelay(true);
        let (state_tx, state) = watch::channel(BridgeState::Connecting);
        let commands = CommandBus::new(client.clone(), state.clone(), context.inspector.clone());
        let (to_progress, progress_messages) = mpsc::channel(PROGRESS_QUEUE);
        let progress = tokio::spawn(record_progress(
            progress_messages,
            client.clone(),
            context.clone(),
        ));
        let router = Router {
            client: client.clone(),
            data,
            to_progress,
            commands: commands.clone(),
            context,
        };
        let task = tokio::spawn(run(event_loop, state_tx, router, shutdown));
        Self {
            client,
            state,
            commands,
            task,
            progress,
        }
    }

    /// Sends commands to devices and waits for their replies.
    pub fn commands(&self) -> CommandBus {
        self.commands.clone()
    }

    /// A receiver that always sees the latest state.
    pub fn state_receiver(&self) -> watch::Receiver<BridgeState> {
        self.state.clone()
    }

    /// Disconnects cleanly and waits for the connection and progress tasks to end (at most two
    /// seconds).
    pub async fn stop(self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.client.disconnect()).await;
        for task in [self.task, self.progress] {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// Where incoming messages go.
struct Router {
    client: AsyncClient,
    data: DeviceData,
    to_progress: mpsc::Sender<Publish>,
    commands: CommandBus,
    context: IngestContext,
}

impl Router {
    /// Subscribes to the device topics (again after every connect: a new session has none).
    fn subscribe(&self) {
        let data: &[&str] = match self.data {
            DeviceData::Subscribe(_) => &DATA_SUBSCRIPTIONS,
            DeviceData::Leave => &[],
        };
        for &topic in SUBSCRIPTIONS.iter().chain(data) {
            // Never await the client here: only this task drains its queue.
            if let Err(error) = self.client.try_subscribe(topic, QoS::AtLeastOnce) {
                tracing::warn!(%error, topic, "bridge could not subscribe");
            }
        }
    }

    async fn route(&self, message: Publish) {
        let parsed = decode::parse_topic(&message.topic).map(|(id, kind)| (id.to_string(), kind));
        if let (Some((_, TopicKind::Telemetry | TopicKind::Status)), DeviceData::Subscribe(inlet)) =
            (&parsed, &self.data)
        {
            // Waits when the pipeline is full: the broker then holds messages back. The pipeline
            // shows it to the message inspector and acknowledges it once stored.
            if !inlet
                .submit(message, Ack::Bridge(self.client.clone()))
                .await
            {
                tracing::debug!("ingest pipeline stopped");
            }
            return;
        }
        if let Some((device_id, _)) = &parsed {
            self.context.inspector.observe(
                device_id,
                Direction::FromDevice,
                &message.topic,
                &message.payload,
                message.retain,
            );
        }
        match parsed {
            Some((_, TopicKind::Telemetry | TopicKind::Status)) => {
                tracing::debug!(topic = %message.topic, "device data the embedded broker takes");
            }
            Some((device_id, TopicKind::Reply)) => {
                if let Err(reason) = self.commands.complete(&device_id, &message.payload) {
                    tracing::info!(device_id, reason, "undecodable command reply");
                    self.context.errors.record(
                        "device.undecodable",
                        format!("device:{device_id}"),
                        format!(
                            "{} bytes on {}: {reason}",
                            message.payload.len(),
                            message.topic
                        ),
                    );
                }
            }
            Some((_, TopicKind::Program)) => {
                // Off this loop: recording takes a transaction per message, which must not delay
                // telemetry and command replies. Waits when that queue is full, like ingest.
                if self.to_progress.send(message).await.is_err() {
                    tracing::debug!("progress recorder stopped");
                }
                return;
            }
            None => tracing::debug!(topic = %message.topic, "message on an unexpected topic"),
        }
        if let Err(error) = self.client.try_ack(&message) {
            tracing::warn!(%error, "could not acknowledge a message");
        }
    }
}

/// Records brew program progress, one message at a time, then acknowledges it; refused events are
/// recorded with the device like refused telemetry.
async fn record_progress(
    mut messages: mpsc::Receiver<Publish>,
    client: AsyncClient,
    context: IngestContext,
) {
    while let Some(message) = messages.recv().await {
        if let Some((device_id, _)) = decode::parse_topic(&message.topic) {
            let device_id = device_id.to_string();
            record_program_event(&context, device_id, &message).await;
        }
        if let Err(error) = client.try_ack(&message) {
            tracing::warn!(%error, "could not acknowledge a program event");
        }
    }
}

async fn record_program_event(context: &IngestContext, device_id: String, message: &Publish) {
    match decode::program_event(&message.payload) {
        Ok(event) => {
            match crate::services::brew_sessions::record_progress(
                &context.store,
                &device_id,
                &event,
            )
            .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(device_id, program_id = %event.program_id, "progress of no session of ours")
                }
                Err(error) => {
                    tracing::error!(%error, "could not record program progress");
                    context.errors.record(
                        "server.ingest_store",
                        format!("device:{device_id}"),
                        format!("cannot record program progress: {error}"),
                    );
                }
            }
            let event = serde_json::json!({
                "program_id": event.program_id,
                "kind": event.kind().as_str_name(),
                "step_index": event.step_index,
                "remaining_s": event.remaining_s,
                "time_ms": event.time_ms,
                "message": event.message,
            });
            context
                .live
                .publish(LiveEvent::Program { device_id, event });
        }
        Err(bad) => {
            let batch = IngestBatch {
                errors: vec![ingest::refusal_record(context, &device_id, message, bad)],
                ..IngestBatch::default()
            };
            if let Err(error) = context.store.ingest(&batch).await {
                tracing::warn!(%error, device_id, "cannot record a refused program event");
            }
        }
    }
}

/// Drives the connection: rumqttc reconnects on the next poll after an error; we pace the attempts.
async fn run(
    mut event_loop: EventLoop,
    state: watch::Sender<BridgeState>,
    router: Router,
    shutdown: CancellationToken,
) {
    let metrics = router.context.metrics.clone();
    let mut backoff = Backoff::new(Duration::from_millis(250), MAX_BACKOFF);
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => break,
            event = event_loop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                tracing::info!(
                    session_present = ack.session_present,
                    "bridge connected to the MQTT broker"
                );
                backoff.reset();
                metrics.bridge_connected.set(1);
                metrics.bridge_connects.inc();
                state.send_replace(BridgeState::Connected { since: Utc::now() });
                router.subscribe();
            }
            Ok(Event::Incoming(Packet::Publish(message))) => router.route(message).await,
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(error) => {
                let was_connected = matches!(*state.borrow(), BridgeState::Connected { .. });
                if was_connected {
                    tracing::warn!(%error, "bridge lost the MQTT broker; reconnecting");
                } else {
                    tracing::debug!(%error, "bridge could not reach the MQTT broker; retrying");
                }
                metrics.bridge_connected.set(0);
                state.send_replace(BridgeState::Disconnected {
                    since: Utc::now(),
                    error: error.to_string(),
                });
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
    }
    metrics.bridge_connected.set(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_external_broker_urls() {
        assert_eq!(
            BrokerEndpoint::from_url("mqtt://bridge:s%40cret@127.0.0.1:1884").unwrap(),
            BrokerEndpoint {
                host: "127.0.0.1".into(),
                port: 1884,
                tls: false,
                username: Some("bridge".into()),
                password: Some("s@cret".into()),
            }
        );
        let tls = BrokerEndpoint::from_url("mqtts://broker.example").unwrap();
        assert_eq!((tls.port, tls.tls, tls.username), (8883, true, None));
        assert!(matches!(
            BrokerEndpoint::from_url("http://x"),
            Err(EndpointError::Scheme(_))
        ));
        assert!(matches!(
            BrokerEndpoint::from_url("not a url"),
            Err(EndpointError::Malformed(_))
        ));
    }
}
