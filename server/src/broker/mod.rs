//! The embedded MQTT broker (rmqtt), run inside the server process unless an external broker is
//! configured. Its auth and ACL hooks decide who may connect and which topics each client may touch.
//!
//! Listeners: a plain one on loopback for the server's own bridge (user name and password), and a TLS
//! one for devices (a client certificate from the platform CA; CN = device id = client id). Anonymous
//! clients are refused on every listener. A device's telemetry and status go straight from the hooks
//! to the ingest pipeline, and the device's acknowledgement waits until they are stored.

mod hooks;
pub mod mosquitto;
mod retain;

use std::{io, net::SocketAddr, num::NonZeroU16, sync::Arc, time::Duration};

use rmqtt::{context::ServerContext, net::Builder, server::MqttServer};
use tokio::task::JoinHandle;

use crate::observability::Metrics;

/// How long stopping the broker waits for its clients to be disconnected.
const DISCONNECT_ALL_WITHIN: Duration = Duration::from_secs(3);
/// Listener id of the plain (loopback) listener, as the hooks see it.
const LISTENER_PLAIN: u16 = 1;
/// Listener id of the TLS listener for devices.
const LISTENER_TLS: u16 = 2;

/// The TLS listener for devices.
#[derive(Debug, Clone)]
pub struct TlsListener {
    pub addr: SocketAddr,
    /// The broker's certificate chain and key (PEM files).
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    /// The CA whose certificates devices must present.
    pub client_ca: std::path::PathBuf,
}

/// What the embedded broker needs to start.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// Address of the plain listener (port 0: any free port).
    pub plain_addr: SocketAddr,
    /// The bridge's credentials on the plain listener.
    pub bridge_username: String,
    pub bridge_password: String,
    /// Largest packet accepted from a device, bytes (the bridge's listener takes
    /// [`crate::bridge::BRIDGE_MAX_PACKET_SIZE`]).
    pub max_packet_size: u32,
    /// How long a client may take for its TLS handshake, and again for its CONNECT.
    pub connect_timeout: Duration,
    /// Most clients in their connect-time checks at once, per listener.
    pub max_connecting: usize,
    /// Each device's average message rate, and the burst above it.
    pub messages_per_second: u32,
    pub message_burst: u32,
    /// The device listener.
    pub tls: TlsListener,
    /// Where devices and certificates are looked up at connect: a pool of its own, so that a
    /// connect never waits behind ingest writes.
    pub store: crate::store::Store,
    /// Where refused connections and ACL denials are counted for the admin site.
    pub errors: crate::errors::ErrorTracker,
    /// Where devices' telemetry and status go; each is acknowledged to its device once stored.
    pub ingest: crate::ingest::IngestInlet,
}

/// The embedded broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(
        "MQTT port {port} on {host} is already in use (is another MQTT broker such as Mosquitto running?). \
         Set {setting} (BREWLINK_{env}) to a free port, or use that broker instead of the embedded one \
         with mqtt.external_url (BREWLINK_MQTT_EXTERNAL_URL=mqtt://user:password@{host}:{port})",
        env = setting.replace('.', "_").to_uppercase()
    )]
    PortInUse {
        host: std::net::IpAddr,
        port: u16,
        setting: &'static str,
    },
    #[error("cannot start the MQTT listener on {addr}: {reason}. Check {setting}")]
    Listen {
        addr: SocketAddr,
        reason: String,
        setting: &'static str,
    },
}

/// A running embedded broker.
pub struct EmbeddedBroker {
    context: ServerContext,
    plain_addr: SocketAddr,
    tls_addr: SocketAddr,
    task: JoinHandle<()>,
}

/// A cheap handle for status and metrics.
#[derive(Clone)]
pub struct BrokerHandle {
    context: ServerContext,
}

impl EmbeddedBroker {
    /// Binds the listeners and starts accepting clients.
    pub async fn start(
        settings: BrokerSettings,
        metrics: Arc<Metrics>,
    ) -> Result<Self, BrokerError> {
        // The load-average check refuses CONNECT on a busy machine (e.g. a 2-core CI box): off.
        let context = ServerContext::new().busy_check_enable(false).build().await;
        *context.extends.retain_mut().await = Box::new(retain::InMemoryRetain::default());
        *context.extends.shared_subscription_mut().await = Box::new(hooks::RoundRobin::default());
        let rate = hooks::RateLimiter::new(settings.messages_per_second, settings.message_burst);
        hooks::register(
            &context,
            hooks::Policy::new(&settings),
            metrics,
            rate,
            settings.ingest.clone(),
        )
        .await;

        let plain_addr = settings.plain_addr;
        let plain_error =
            |error: rmqtt::Error| listen_error(plain_addr, "mqtt.port", &error.to_string());
        let mut plain = listener(&settings, plain_addr, crate::bridge::BRIDGE_MAX_PACKET_SIZE)
            .bind()
            .map_err(plain_error)?
            .tcp()
            .map_err(plain_error)?;
        let bound = plain.local_addr().map_err(plain_error)?;
        Arc::make_mut(&mut plain.cfg).laddr = bound;

        let tls = &settings.tls;
        let tls_error =
            |error: rmqtt::Error| listen_error(tls.addr, "mqtt.tls_port", &error.to_string());
        let path = |path: &std::path::Path| path.to_string_lossy().to_string();
        let mut devices = listener(&settings, tls.addr, settings.max_packet_size)
            .tls_cert(Some(path(&tls.cert)))
            .tls_key(Some(path(&tls.key)))
            .tls_client_ca_certs(Some(path(&tls.client_ca)))
            .tls_cross_certificate(true)
            .cert_cn_as_username(true)
            .collect_cert_info(true)
            .bind()
            .map_err(tls_error)?
            .tls()
            .map_err(tls_error)?;
        let tls_bound = devices.local_addr().map_err(tls_error)?;
        Arc::make_mut(&mut devices.cfg).laddr = tls_bound;

        let server = MqttServer::new(context.clone())
            .listener_by_id(plain, LISTENER_PLAIN)
            .listener_by_id(devices, LISTENER_TLS)
            .build();
        let task = tokio::spawn(async move {
            if let Err(error) = server.run().await {
                tracing::error!(%error, "the embedded MQTT broker stopped");
            }
        });
        tracing::info!(plain = %bound, tls = %tls_bound, "embedded MQTT broker listening");
        Ok(Self {
            context,
            plain_addr: bound,
            tls_addr: tls_bound,
            task,
        })
    }

    /// The plain listener's address.
    pub fn plain_addr(&self) -> SocketAddr {
        self.plain_addr
    }

    /// The device (TLS) listener's address.
    pub fn tls_addr(&self) -> SocketAddr {
        self.tls_addr
    }

    /// A handle for status and metrics.
    pub fn handle(&self) -> BrokerHandle {
        BrokerHandle {
            context: self.context.clone(),
        }
    }

    /// Closes the listeners and disconnects every client, all at once and for at most
    /// [`DISCONNECT_ALL_WITHIN`] (a client that does not go by then goes with the process).
    pub async fn stop(self) {
        let handle = self.handle();
        self.task.abort();
        let _ = self.task.await;
        // Collect first, then kick: kicking while iterating the session map deadlocks.
        let clients: Vec<String> = {
            let shared = self.context.extends.shared().await;
            shared
                .iter()
                .map(|entry| entry.id().client_id.to_string())
                .collect()
        };
        let kicks = clients.iter().map(|client_id| handle.disconnect(client_id));
        if tokio::time::timeout(DISCONNECT_ALL_WITHIN, futures::future::join_all(kicks))
            .await
            .is_err()
        {
            tracing::warn!(
                clients = clients.len(),
                "not every MQTT client was disconnected in time"
            );
        }
    }
}

impl BrokerHandle {
    /// Clients connected now.
    pub async fn connected_clients(&self) -> i64 {
        self.context.connections.count() as i64
    }

    /// Subscriptions of every session now, as rmqtt counts them. (Not rmqtt's
    /// `subscriptions_count()`: it holds the session map's locks across awaits, and while clients
    /// connect and leave by the hundred that deadlocks every runtime thread.)
    pub async fn subscriptions(&self) -> i64 {
        self.context.stats.subscriptions.count() as i64
    }

    /// Disconnects a client and discards its session; `false` when it had none.
    pub async fn disconnect(&self, client_id: &str) -> bool {
        let id = rmqtt::types::Id::from(
            self.context.node.id(),
            rmqtt::types::ClientId::from(client_id.to_string()),
        );
        let mut entry = self.context.extends.shared().await.entry(id);
        if entry.session().is_none() {
            return false;
        }
        match entry.kick(true, true, true).await {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(%error, client_id, "could not disconnect MQTT client");
                false
            }
        }
    }
}

/// The listener settings every listener shares.
fn listener(settings: &BrokerSettings, addr: SocketAddr, max_packet_size: u32) -> Builder {
    Builder::new()
        .name("mqtt")
        .laddr(addr)
        .reuseaddr(Some(true))
        // Small packets go out at once: with Nagle's algorithm a reply waited for the peer's delayed
        // ACK, 40 ms per command round trip.
        .nodelay(true)
        .allow_anonymous(false)
        .max_packet_size(max_packet_size)
        // A silent or slow client is closed after this, in its TLS handshake and again before its
        // CONNECT; a CONNECT that waited this long for its checks is refused (server unavailable).
        .handshake_timeout(settings.connect_timeout)
        .max_handshaking_limit(settings.max_connecting.max(1))
        // rmqtt's defaults (queue 1000, inflight 16) lost QoS 1 messages under bursts.
        .max_mqueue_len(100_000)
        .max_inflight(NonZeroU16::new(256).unwrap_or(NonZeroU16::MIN))
        .message_expiry_interval(Duration::from_secs(24 * 3600))
        .session_expiry_interval(Duration::from_secs(24 * 3600))
        .max_session_expiry_interval(Duration::from_secs(7 * 24 * 3600))
}

/// A clear message for a listener that could not start, naming the setting to change.
fn listen_error(addr: SocketAddr, setting: &'static str, reason: &str) -> BrokerError {
    if std::net::TcpListener::bind(addr)
        .is_err_and(|error| error.kind() == io::ErrorKind::AddrInUse)
    {
        BrokerError::PortInUse {
            host: addr.ip(),
            port: addr.port(),
            setting,
        }
    } else {
        BrokerError::Listen {
            addr,
            reason: reason.to_string(),
            setting,
        }
    }
}
