//! `Application::build(config)` opens the store, starts the embedded broker (unless an external one is
//! configured), starts the bridge and binds HTTP — every port may be 0 — and reports what it bound.
//! The binary and the tests start the server exactly this way.

use std::{
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    bridge::{Bridge, BrokerEndpoint, DeviceData, EndpointError},
    broker::{BrokerError, BrokerSettings, EmbeddedBroker, TlsListener},
    config::Config,
    errors::ErrorTracker,
    http::{self, AppState},
    ingest::{self, Ingest, IngestContext},
    inspector::Inspector,
    live::LiveHub,
    monitor::BrokerMonitor,
    observability::Metrics,
    pki::Pki,
    services::{
        HashLimit, Services,
        devices::{DeviceSupport, write_revocation_list},
    },
    store::{Store, StoreError, audit::NewAuditEvent},
};

/// The server could not start. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "cannot create the data folder {path}: {source}. Set data.dir (BREWLINK_DATA_DIR) to a writable folder"
    )]
    DataDir { path: PathBuf, source: io::Error },
    #[error("cannot read or write {path}: {source}")]
    DataFile { path: PathBuf, source: io::Error },
    #[error("cannot open the database: {0}. Check database.url (BREWLINK_DATABASE_URL)")]
    Store(#[from] StoreError),
    #[error(
        "cannot listen for HTTP on {addr}: {source}. Set http.addr (BREWLINK_HTTP_ADDR) to a free address, e.g. 127.0.0.1:3100"
    )]
    HttpBind { addr: SocketAddr, source: io::Error },
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    ExternalBroker(#[from] EndpointError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("certificates: {0}")]
    Pki(#[from] crate::pki::PkiError),
    #[error("cannot write the certificate revocation list: {0}")]
    RevocationList(crate::services::ServiceError),
}

/// A built server, bound to its ports, ready to run.
pub struct Application {
    http_listener: TcpListener,
    http_addr: SocketAddr,
    router: axum::Router,
    store: Store,
    broker: Option<EmbeddedBroker>,
    bridge: Bridge,
    ingest: Ingest,
    /// The ingest pipeline's own pool (see [`ingest::writers`]).
    ingest_store: Store,
    shutdown: CancellationToken,
}

/// The file in the data folder that holds the bridge's password for the embedded broker.
const BRIDGE_PASSWORD_FILE: &str = "mqtt-bridge-password";
/// The bridge's user name on the embedded broker.
pub const BRIDGE_USERNAME: &str = "brewlink-bridge";
/// After a stop signal the process ends within this time, stopped in order or not.
pub const STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Database connections of the embedded broker's connect-time checks, apart from the main pool.
const CONNECT_CHECK_CONNECTIONS: u32 = 2;

impl Application {
    /// Opens and migrates the store, starts the broker and the bridge, binds HTTP.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        // Both rustls back ends are linked (the broker brings aws-lc-rs, QUIC brings ring): pick one.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        crate::descriptors::raise_limit();
        let data_dir = &config.data.dir;
        // Only its owner may enter the data folder: it holds keys, secrets and the SQLite database.
        create_private_dir(data_dir).map_err(|source| StartupError::DataDir {
            path: data_dir.clone(),
            source,
        })?;

        let store = Store::connect(&config.database_url(), config.database.max_connections).await?;
        store.migrate().await?;

        let metrics = Arc::new(Metrics::new());
        let errors = ErrorTracker::default();
        let inspector = Inspector::new();
        let shutdown = CancellationToken::new();
        let pki = Arc::new(Pki::load_or_create(config.pki_settings())?);
        let live = LiveHub::new();
        let writers = ingest::writers(store.backend());
        let ingest_store =
            Store::connect(&config.database_url(), u32::try_from(writers).unwrap_or(1)).await?;
        let context = IngestContext {
            store: ingest_store.clone(),
            live: live.clone(),
            metrics: metrics.clone(),
            errors: errors.clone(),
            inspector: inspector.clone(),
        };
        let ingest = Ingest::start(context.clone(), writers, shutdown.clone());

        let (broker, endpoint) = if config.embedded_broker() {
            let password = bridge_password(data_dir)?;
            let (broker_cert, broker_key) = pki.broker_certificate(&config.pki.broker_names)?;
            let broker = EmbeddedBroker::start(
                BrokerSettings {
                    plain_addr: SocketAddr::new(config.mqtt.host, config.mqtt.port),
                    bridge_username: BRIDGE_USERNAME.to_string(),
                    bridge_password: password.clone(),
                    max_packet_size: config.mqtt.max_packet_size,
                    connect_timeout: std::time::Duration::from_millis(
                        config.mqtt.connect_timeout_ms.max(1),
                    ),
                    max_connecting: config.mqtt.max_connecting,
                    messages_per_second: config.devices.messages_per_second,
                    message_burst: config.devices.message_burst,
                    tls: TlsListener {
                        addr: SocketAddr::new(config.mqtt.tls_host, config.mqtt.tls_port),
                        cert: broker_cert,
                        key: broker_key,
                        client_ca: pki.ca_path(),
                    },
                    // A crowd of connects queues for these; each waits as long as a connect may take.
                    store: Store::connect_waiting(
                        &config.database_url(),
                        CONNECT_CHECK_CONNECTIONS,
                        std::time::Duration::from_millis(config.mqtt.connect_timeout_ms.max(1)),
                    )
                    .await?,
                    errors: errors.clone(),
                    ingest: ingest.inlet(),
                },
                metrics.clone(),
            )
            .await?;
            let endpoint = BrokerEndpoint {
                host: broker.plain_addr().ip().to_string(),
                port: broker.plain_addr().port(),
                tls: false,
                username: Some(BRIDGE_USERNAME.to_string()),
                password: Some(password),
            };
            (Some(broker), endpoint)
        } else {
            (None, BrokerEndpoint::from_url(&config.mqtt.external_url)?)
        };
        let data = if broker.is_some() {
            DeviceData::Leave
        } else {
            DeviceData::Subscribe(ingest.inlet())
        };
        let bridge = Bridge::start(
            &endpoint,
            &config.mqtt.bridge_client_id,
            data,
            context,
            shutdown.clone(),
        );

        let monitor = BrokerMonitor::new(
            metrics.clone(),
            broker.as_ref().map(EmbeddedBroker::handle),
            bridge.state_receiver(),
            ingest.state_receiver(),
        );
        let services = Services::new(store.clone())
            .with_errors(errors.clone())
            .with_signup_limit(config.http.signups_per_address)
            .with_hash_limit(HashLimit::new(
                config.http.password_hashes_at_once,
                std::time::Duration::from_millis(config.http.password_hash_wait_ms),
            ))
            .with_devices(DeviceSupport {
                pki: pki.clone(),
                broker: broker.as_ref().map(EmbeddedBroker::handle),
                public_host: config.mqtt.public_host.clone(),
                tls_port: broker
                    .as_ref()
                    .map_or(config.mqtt.tls_port, |broker| broker.tls_addr().port()),
                commands: bridge.commands(),
                command_timeout: std::time::Duration::from_millis(
                    config.mqtt.command_timeout_ms.max(1),
                ),
                live: live.clone(),
                metrics: metrics.clone(),
                monitor: monitor.clone(),
                inspector,
                per_user: config.devices.per_user,
            });
        write_revocation_list(&store, &pki)
            .await
            .map_err(StartupError::RevocationList)?;

        let http_listener = TcpListener::bind(config.http.addr)
            .await
            .map_err(|source| StartupError::HttpBind {
                addr: config.http.addr,
                source,
            })?;
        let http_addr = http_listener
            .local_addr()
            .map_err(|source| StartupError::HttpBind {
                addr: config.http.addr,
                source,
            })?;
        let leptos_options = LeptosOptions::builder()
            .output_name("brewlink")
            .site_root(config.http.site_root.to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .site_addr(http_addr)
            .build();
        let router = http::router(AppState {
            leptos_options,
            store: store.clone(),
            metrics,
            bridge: bridge.state_receiver(),
            monitor: monitor.clone(),
            services: services.clone(),
            session_cookie: if config.https() {
                "__Host-brewlink_session"
            } else {
                "brewlink_session"
            }
            .to_string(),
            public_origin: config.public_origin()?,
            trusted_proxies: config.trusted_proxies()?.into(),
            metrics_token: Some(config.http.metrics_token.clone())
                .filter(|token| !token.is_empty()),
            secure_cookies: config.https(),
        });
        tokio::spawn(housekeeping(
            store.clone(),
            Retention::of(&config),
            shutdown.clone(),
        ));
        tokio::spawn(monitor.clone().run(shutdown.clone()));
        tokio::spawn(errors.run_flusher(store.clone(), shutdown.clone()));
        tokio::spawn(refresh_revocation_list(
            store.clone(),
            pki.clone(),
            shutdown.clone(),
        ));

        let mqtt = broker
            .as_ref()
            .map(|broker| broker.plain_addr().to_string());
        let started = NewAuditEvent {
            actor: "system".to_string(),
            action: "server.started".to_string(),
            subject: String::new(),
            detail: serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "http": http_addr.to_string(),
                "database": store.backend().name(),
                "embedded_broker": mqtt,
            }),
            source_ip: None,
        };
        store.audit_record(&started, chrono::Utc::now()).await?;

        Ok(Self {
            http_listener,
            http_addr,
            router,
            store,
            broker,
            bridge,
            ingest,
            ingest_store,
            shutdown,
        })
    }

    /// The address HTTP is bound to.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The embedded broker's plain listener, when the embedded broker runs.
    pub fn mqtt_addr(&self) -> Option<SocketAddr> {
        self.broker.as_ref().map(EmbeddedBroker::plain_addr)
    }

    /// The embedded broker's TLS listener for devices, when the embedded broker runs.
    pub fn mqtt_tls_addr(&self) -> Option<SocketAddr> {
        self.broker.as_ref().map(EmbeddedBroker::tls_addr)
    }

    /// Cancel this token to stop the server gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then stops HTTP (open requests get a short
    /// grace period), the bridge, the broker, the ingest pipeline and the store, in that order.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let Self {
            http_listener,
            router,
            store,
            broker,
            bridge,
            ingest,
            ingest_store,
            shutdown,
            ..
        } = self;
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        // Server-sent events are small writes, each to go out as it happens.
        let http_listener = axum::serve::ListenerExt::tap_io(http_listener, |tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        let serve = axum::serve(http_listener, service).with_graceful_shutdown({
            let shutdown = shutdown.clone();
            async move { shutdown.cancelled().await }
        });
        let serve = tokio::spawn(serve.into_future());
        shutdown.cancelled().await;
        let abort = serve.abort_handle();
        let result = match tokio::time::timeout(http::SHUTDOWN_GRACE, serve).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(io::Error::other(join_error)),
            Err(_) => {
                tracing::info!("open HTTP connections closed after the grace period");
                abort.abort();
                Ok(())
            }
        };
        bridge.stop().await;
        if let Some(broker) = broker {
            broker.stop().await;
        }
        ingest.stop().await;
        ingest_store.close().await;
        store.close().await;
        tracing::info!("stopped");
        result
    }
}

/// Rewrites the revocation list every day, so brokers never see it past its next-update date.
async fn refresh_revocation_list(store: Store, pki: Arc<Pki>, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
    interval.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        if let Err(error) = write_revocation_list(&store, &pki).await {
            tracing::error!(%error, "could not rewrite the certificate revocation list");
        }
    }
}

/// How long telemetry and audit entries are kept; `None`: forever.
#[derive(Debug, Clone, Copy)]
struct Retention {
    telemetry: Option<chrono::Duration>,
    audit: Option<chrono::Duration>,
}

impl Retention {
    fn of(config: &Config) -> Self {
        let days = |days: u32| (days > 0).then(|| chrono::Duration::days(i64::from(days)));
        Self {
            telemetry: days(config.data.telemetry_retention_days),
            audit: days(config.data.audit_retention_days),
        }
    }
}

/// Every hour until shutdown (and once at start): deletes expired web sessions, login failures too
/// old to count, and telemetry and audit entries past their retention.
async fn housekeeping(store: Store, retention: Retention, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        let now = chrono::Utc::now();
        match store.sessions_delete_expired(now.timestamp_millis()).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "expired sessions removed"),
            Err(error) => tracing::warn!(%error, "could not remove expired sessions"),
        }
        let window = chrono::Duration::from_std(crate::services::accounts::FAILURE_WINDOW)
            .unwrap_or_default();
        if let Err(error) = store.login_failures_prune_all(now - window).await {
            tracing::warn!(%error, "could not remove old login failures");
        }
        if let Some(keep) = retention.telemetry {
            match store.telemetry_delete_before(now - keep).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "telemetry past its retention deleted"),
                Err(error) => tracing::warn!(%error, "could not delete old telemetry"),
            }
        }
        if let Some(keep) = retention.audit {
            match store.audit_delete_before(now - keep).await {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(removed, "audit entries past their retention deleted")
                }
                Err(error) => tracing::warn!(%error, "could not delete old audit entries"),
            }
        }
    }
}

/// The bridge's password for the embedded broker: made once, kept in the data folder (mode 0600).
fn bridge_password(data_dir: &Path) -> Result<String, StartupError> {
    let path = data_dir.join(BRIDGE_PASSWORD_FILE);
    let file_error = |source| StartupError::DataFile {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(file_error(error)),
    }
    let password = hex::encode(rand::random::<[u8; 32]>());
    write_private_file(&path, password.as_bytes()).map_err(file_error)?;
    Ok(password)
}

/// Writes a file only its owner may read (an existing file's mode is tightened too).
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Creates a folder only its owner may enter (the data folder holds keys, secrets and the database).
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(())
}
