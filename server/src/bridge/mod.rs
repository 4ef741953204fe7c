//! The bridge: the server's own MQTT client (rumqttc). It connects to whichever broker is in use — the
//! embedded one or an external one — with a persistent session, reconnects with backoff, and reports its
//! state for `/readyz`, `/metrics` and the admin site.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Transport};
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::observability::Metrics;

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

/// A running bridge: its client and its state.
pub struct Bridge {
    client: AsyncClient,
    state: watch::Receiver<BridgeState>,
    task: JoinHandle<()>,
}

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Bridge {
    /// Starts connecting in the background; returns at once.
    pub fn start(
        endpoint: &BrokerEndpoint,
        client_id: &str,
        max_packet_size: usize,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> Self {
        let mut options = MqttOptions::new(client_id, endpoint.host.clone(), endpoint.port);
        options
            .set_clean_session(false)
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(max_packet_size, max_packet_size);
        if let (Some(username), password) = (&endpoint.username, &endpoint.password) {
            options.set_credentials(username.clone(), password.clone().unwrap_or_default());
        }
        if endpoint.tls {
            options.set_transport(Transport::tls_with_default_config());
        }
        let (client, event_loop) = AsyncClient::new(options, 1024);
        let (state_tx, state) = watch::channel(BridgeState::Connecting);
        let task = tokio::spawn(run(event_loop, state_tx, metrics, shutdown));
        Self {
            client,
            state,
            task,
        }
    }

    /// The current connection state.
    pub fn state(&self) -> BridgeState {
        self.state.borrow().clone()
    }

    /// A receiver that always sees the latest state.
    pub fn state_receiver(&self) -> watch::Receiver<BridgeState> {
        self.state.clone()
    }

    /// Waits until the bridge is connected, at most `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut state = self.state.clone();
        tokio::time::timeout(
            timeout,
            state.wait_for(|state| matches!(state, BridgeState::Connected { .. })),
        )
        .await
        .is_ok_and(|result| result.is_ok())
    }

    /// Disconnects cleanly and waits for the connection task to end (at most two seconds).
    pub async fn stop(self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.client.disconnect()).await;
        let abort = self.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// Drives the connection: rumqttc reconnects on the next poll after an error; we pace the attempts.
async fn run(
    mut event_loop: EventLoop,
    state: watch::Sender<BridgeState>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(250);
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
                backoff = Duration::from_millis(250);
                metrics.bridge_connected.set(1);
                metrics.bridge_connects.inc();
                state.send_replace(BridgeState::Connected { since: Utc::now() });
            }
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
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
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
