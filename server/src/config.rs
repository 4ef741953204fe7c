//! Typed configuration: a default for everything, an optional TOML file, then `BREWLINK_*` environment
//! variables (`BREWLINK_<SECTION>_<KEY>`, e.g. `BREWLINK_HTTP_ADDR`, `BREWLINK_MQTT_PORT`). `DATABASE_URL`
//! is honoured too, below `BREWLINK_DATABASE_URL`.

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// The whole configuration of one server instance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub data: DataConfig,
    pub database: DatabaseConfig,
    pub mqtt: MqttConfig,
    pub devices: DevicesConfig,
    pub pki: PkiConfig,
    pub log: LogConfig,
}

/// Limits on devices.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesConfig {
    /// Most devices one account may register.
    pub per_user: u32,
    /// Messages per second each device may publish on average; more are refused and counted.
    pub messages_per_second: u32,
    /// Messages a device may publish at once above its average (a burst after reconnecting).
    pub message_burst: u32,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        Self {
            per_user: 100,
            messages_per_second: 100,
            message_burst: 1000,
        }
    }
}

/// The web server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address and port the web app and the JSON API listen on (port 0: any free port).
    pub addr: SocketAddr,
    /// Folder with the built browser assets (`pkg/` with wasm, JS and CSS), as made by cargo-leptos.
    pub site_root: PathBuf,
    /// The address people use, e.g. `https://brew.example.com` behind a TLS proxy. Empty: the site is
    /// served as is over plain HTTP. An `https://` URL makes cookies Secure and `__Host-` prefixed.
    pub public_url: String,
    /// Most password hashes and checks running at once (argon2id takes 19 MiB each).
    pub password_hashes_at_once: usize,
    /// How long a request waits for a password hashing turn before `503 busy`, milliseconds.
    pub password_hash_wait_ms: u64,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client. Empty:
    /// the client is whoever connects, and `X-Forwarded-For` is ignored.
    pub trusted_proxies: Vec<String>,
    /// Most accounts one client address may create within 15 minutes (then `429 too_many_attempts`).
    pub signups_per_address: u32,
    /// Bearer token a Prometheus scraper sends for `/metrics`. Empty: `/metrics` answers only
    /// clients on this machine.
    pub metrics_token: String,
}

/// Where the server keeps its files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Folder for the SQLite database, the broker's credentials and certificates. Created when missing.
    pub dir: PathBuf,
    /// Telemetry older than this many days is deleted (checked hourly); 0 keeps it forever.
    pub telemetry_retention_days: u32,
    /// Audit log entries older than this many days are deleted (checked hourly); 0 keeps them forever.
    pub audit_retention_days: u32,
}

/// The database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://user@host/db` for PostgreSQL; `sqlite://path` for a SQLite file; empty for
    /// `brewlink.db` in the data folder.
    pub url: String,
    /// Connections of the main pool (pages, API, CLI); ingest and the embedded broker's connect
    /// checks have a few of their own.
    pub max_connections: u32,
}

/// MQTT: the embedded broker and the bridge that connects the server to the broker in use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// An external broker for the bridge, e.g. `mqtt://user:password@127.0.0.1:1883` (or
    /// `mqtts://` for TLS). Empty: run the embedded broker inside this process.
    pub external_url: String,
    /// Address of the embedded broker's plain listener (the bridge and local tools; keep it on loopback).
    pub host: IpAddr,
    /// Port of the embedded broker's plain listener (0: any free port).
    pub port: u16,
    /// Address of the embedded broker's TLS listener for devices.
    pub tls_host: IpAddr,
    /// Port of the embedded broker's TLS listener for devices (0: any free port).
    pub tls_port: u16,
    /// Largest MQTT packet accepted from a device, bytes.
    pub max_packet_size: u32,
    /// Client id prefix of this instance's bridge; instances of one deployment need distinct ids.
    pub bridge_client_id: String,
    /// The broker's host name as devices reach it (written into their connection settings).
    pub public_host: String,
    /// How long a command waits for the device's reply, milliseconds.
    pub command_timeout_ms: u64,
    /// How long a client may take for its TLS handshake, and again for its MQTT CONNECT, before the
    /// embedded broker closes the connection, milliseconds.
    pub connect_timeout_ms: u64,
    /// Most clients in their connect-time checks at once on each embedded broker listener; the rest
    /// wait, and are refused (server unavailable) once they waited longer than connect_timeout_ms.
    pub max_connecting: usize,
}

/// Certificates: the platform CA and what it issues.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PkiConfig {
    /// PEM file of an existing CA certificate; empty: `pki/ca.pem` in the data folder, created on first start.
    pub ca_cert: String,
    /// PEM file of that CA's private key; empty: `pki/ca.key` in the data folder.
    pub ca_key: String,
    /// Lifetime of device certificates, days.
    pub device_cert_days: u32,
    /// Host names and IP addresses in the broker's server certificate.
    pub broker_names: Vec<String>,
    /// Secret sealing device private keys at rest (64 hex digits); empty: `pki/key-secret` in the data
    /// folder. Instances sharing one database need the same secret.
    pub key_secret: String,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Filter in `RUST_LOG` syntax, e.g. `info` or `brewlink=debug,info`. `RUST_LOG` wins when set.
    pub level: String,
    /// `auto` (human on a terminal, JSON otherwise), `human` or `json`.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Human,
    Json,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000),
            site_root: PathBuf::from("target/site"),
            public_url: String::new(),
            password_hashes_at_once: 4,
            password_hash_wait_ms: 10_000,
            trusted_proxies: Vec::new(),
            signups_per_address: 10,
            metrics_token: String::new(),
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("data"),
            telemetry_retention_days: 0,
            audit_retention_days: 0,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: 10,
        }
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            external_url: String::new(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 1883,
            tls_host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            tls_port: 8883,
            // The largest valid device payload is 16 KiB; room for the topic and headers.
            max_packet_size: 20 * 1024,
            bridge_client_id: "brewlink-bridge".to_string(),
            public_host: "localhost".to_string(),
            command_timeout_ms: 5000,
            connect_timeout_ms: 5000,
            max_connecting: 200,
        }
    }
}

impl Default for PkiConfig {
    fn default() -> Self {
        Self {
            ca_cert: String::new(),
            ca_key: String::new(),
            device_cert_days: 825,
            broker_names: vec!["localhost".to_string(), "127.0.0.1".to_string()],
            key_secret: String::new(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info,rmqtt=warn,rmqtt_net=warn".to_string(),
            format: LogFormat::Auto,
        }
    }
}

/// The configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The sections of the file; an environment variable `BREWLINK_<SECTION>_<KEY>` sets `<section>.<key>`.
const SECTIONS: [&str; 7] = ["http", "data", "database", "mqtt", "devices", "pki", "log"];

impl Config {
    /// Defaults, then the TOML file (when given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::MissingFile(file.to_path_buf()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            )
            .merge(Env::prefixed("BREWLINK_").filter_map(|key| {
                let key = key.as_str().to_ascii_lowercase();
                let (section, rest) = key.split_once('_')?;
                SECTIONS
                    .contains(&section)
                    .then(|| format!("{section}.{rest}").into())
            }));
        figment
            .extract()
            .map_err(|error| ConfigError::Invalid(describe(error)))
    }

    /// The database URL in use: the configured one, or the SQLite file in the data folder.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data.dir.join("brewlink.db").display()
            )
        } else {
            self.database.url.clone()
        }
    }

    /// The origin (`scheme://host[:port]`) of `http.public_url`, when set.
    pub fn public_origin(&self) -> Result<Option<String>, ConfigError> {
        if self.http.public_url.is_empty() {
            return Ok(None);
        }
        let url = url::Url::parse(&self.http.public_url)
            .map_err(|error| ConfigError::Invalid(format!("http.public_url: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid(
                "http.public_url must start with http:// or https://".to_string(),
            ));
        }
        Ok(Some(url.origin().ascii_serialization()))
    }

    /// `http.trusted_proxies` as address ranges (a plain address is a range of one).
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.http
            .trusted_proxies
            .iter()
            .map(|text| {
                let text = text.trim();
                text.parse::<ipnet::IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError::Invalid(format!(
                            "http.trusted_proxies: {text:?} is neither an IP address nor a CIDR range like 10.0.0.0/8"
                        ))
                    })
            })
            .collect()
    }

    /// Whether the site is served over HTTPS (cookies are then Secure and `__Host-` prefixed).
    pub fn https(&self) -> bool {
        self.http.public_url.starts_with("https://")
    }

    /// Where certificates live and how they are made.
    pub fn pki_settings(&self) -> crate::pki::PkiSettings {
        let path = |text: &str| (!text.is_empty()).then(|| std::path::PathBuf::from(text));
        crate::pki::PkiSettings {
            dir: self.data.dir.join("pki"),
            ca_cert: path(&self.pki.ca_cert),
            ca_key: path(&self.pki.ca_key),
            device_cert_days: self.pki.device_cert_days,
            key_secret: (!self.pki.key_secret.is_empty()).then(|| self.pki.key_secret.clone()),
        }
    }

    /// Whether the embedded broker runs in this process.
    pub fn embedded_broker(&self) -> bool {
        self.mqtt.external_url.is_empty()
    }

    /// The configuration with its secrets replaced by `<redacted>`, for printing: the key secret and
    /// the passwords inside URLs.
    pub fn redacted(&self) -> Self {
        let hide_password = |text: &str| match url::Url::parse(text) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("redacted"));
                url.to_string()
            }
            _ => text.to_string(),
        };
        let mut config = self.clone();
        config.database.url = hide_password(&config.database.url);
        config.mqtt.external_url = hide_password(&config.mqtt.external_url);
        for secret in [&mut config.pki.key_secret, &mut config.http.metrics_token] {
            if !secret.is_empty() {
                *secret = "<redacted>".to_string();
            }
        }
        config
    }

    /// The effective configuration as a TOML file, every key explained by a comment (secrets redacted).
    pub fn to_commented_toml(&self) -> String {
        let value = match toml::Value::try_from(self.redacted()) {
            Ok(value) => value,
            Err(error) => {
                return format!("# the configuration cannot be printed as TOML: {error}\n");
            }
        };
        let mut out = String::from(
            "# BrewLink configuration. Every key has a default; set only what you change.\n\
             # Each key can also be set by the environment: BREWLINK_<SECTION>_<KEY>, e.g. BREWLINK_HTTP_ADDR.\n",
        );
        let Some(sections) = value.as_table() else {
            return out;
        };
        for section in SECTIONS {
            let Some(table) = sections.get(section).and_then(toml::Value::as_table) else {
                continue;
            };
            let _ = write!(out, "\n[{section}]\n");
            for (key, value) in table {
                for line in key_doc(section, key).lines() {
                    let _ = writeln!(out, "# {line}");
                }
                let _ = writeln!(out, "{key} = {value}");
            }
        }
        out
    }
}

/// Names each bad key with where its value came from, e.g.
/// `mqtt.port (from BREWLINK_MQTT_PORT): invalid value …, expected u16`.
fn describe(errors: figment::Error) -> String {
    errors
        .into_iter()
        .map(|error| {
            let key = error.path.join(".").to_ascii_lowercase();
            let origin = match &error.metadata {
                Some(metadata) if metadata.name.contains("BREWLINK_") => {
                    format!(
                        " (from BREWLINK_{})",
                        key.replace('.', "_").to_ascii_uppercase()
                    )
                }
                Some(metadata) => match &metadata.source {
                    Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
                    _ => format!(" (from {})", metadata.name),
                },
                None => String::new(),
            };
            format!("{key}{origin}: {}", error.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a key means; the same text as the field's doc comment above.
fn key_doc(section: &str, key: &str) -> &'static str {
    match (section, key) {
        ("http", "addr") => {
            "Address and port the web app and the JSON API listen on (port 0: any free port)."
        }
        ("http", "site_root") => {
            "Folder with the built browser assets (pkg/ with wasm, JS and CSS), as made by cargo-leptos."
        }
        ("http", "public_url") => {
            "The address people use, e.g. https://brew.example.com behind a TLS proxy. Empty: served as is\n\
             over plain HTTP. An https:// URL makes cookies Secure and __Host- prefixed."
        }
        ("http", "password_hashes_at_once") => {
            "Most password hashes and checks running at once (argon2id takes 19 MiB each)."
        }
        ("http", "password_hash_wait_ms") => {
            "How long a request waits for a password hashing turn before 503 busy, milliseconds."
        }
        ("http", "trusted_proxies") => {
            "Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client. Empty:\n\
             the client is whoever connects, and X-Forwarded-For is ignored."
        }
        ("http", "signups_per_address") => {
            "Most accounts one client address may create within 15 minutes (then 429 too_many_attempts)."
        }
        ("http", "metrics_token") => {
            "Bearer token a Prometheus scraper sends for /metrics. Empty: /metrics answers only\n\
             clients on this machine."
        }
        ("data", "dir") => {
            "Folder for the SQLite database, the broker's credentials and certificates. Created when missing."
        }
        ("data", "telemetry_retention_days") => {
            "Telemetry older than this many days is deleted (checked hourly); 0 keeps it forever."
        }
        ("data", "audit_retention_days") => {
            "Audit log entries older than this many days are deleted (checked hourly); 0 keeps them forever."
        }
        ("database", "url") => {
            "postgres://user@host/db for PostgreSQL; sqlite://path for a SQLite file;\n\
             empty for brewlink.db in the data folder. DATABASE_URL is read too."
        }
        ("database", "max_connections") => {
            "Connections of the main pool (pages, API, CLI). Ingest writes through 1 more (SQLite)\n\
             or 4 (PostgreSQL), the embedded broker's connect checks through 2 more."
        }
        ("mqtt", "external_url") => {
            "An external broker for the bridge, e.g. mqtt://user:password@127.0.0.1:1883 (mqtts:// for TLS).\n\
             Empty: run the embedded broker inside this process."
        }
        ("mqtt", "host") => {
            "Address of the embedded broker's plain listener (the bridge and local tools; keep it on loopback)."
        }
        ("mqtt", "port") => "Port of the embedded broker's plain listener (0: any free port).",
        ("mqtt", "tls_host") => "Address of the embedded broker's TLS listener for devices.",
        ("mqtt", "tls_port") => {
            "Port of the embedded broker's TLS listener for devices (0: any free port)."
        }
        ("mqtt", "max_packet_size") => {
            "Largest MQTT packet accepted from a device, bytes (device payloads are at most 16 KiB)."
        }
        ("mqtt", "bridge_client_id") => {
            "Client id prefix of this instance's bridge; instances of one deployment need distinct ids."
        }
        ("mqtt", "public_host") => {
            "The broker's host name as devices reach it (written into their connection settings)."
        }
        ("mqtt", "command_timeout_ms") => {
            "How long a command waits for the device's reply, milliseconds."
        }
        ("mqtt", "connect_timeout_ms") => {
            "How long a client may take for its TLS handshake, and again for its MQTT CONNECT, before the\n\
             embedded broker closes the connection, milliseconds."
        }
        ("mqtt", "max_connecting") => {
            "Most clients in their connect-time checks at once on each embedded broker listener; the rest\n\
             wait, and are refused (server unavailable) once they waited longer than connect_timeout_ms."
        }
        ("devices", "per_user") => "Most devices one account may register.",
        ("devices", "messages_per_second") => {
            "Messages per second each device may publish on average; more are refused and counted."
        }
        ("devices", "message_burst") => {
            "Messages a device may publish at once above its average (a burst after reconnecting)."
        }
        ("pki", "ca_cert") => {
            "PEM file of an existing CA certificate; empty: pki/ca.pem in the data folder, created on first start."
        }
        ("pki", "ca_key") => {
            "PEM file of that CA's private key; empty: pki/ca.key in the data folder."
        }
        ("pki", "device_cert_days") => "Lifetime of device certificates, days.",
        ("pki", "broker_names") => {
            "Host names and IP addresses in the broker's server certificate."
        }
        ("pki", "key_secret") => {
            "Secret sealing device private keys at rest (64 hex digits); empty: pki/key-secret in the data\n\
             folder. Instances sharing one database need the same secret."
        }
        ("log", "level") => {
            "Filter in RUST_LOG syntax, e.g. info or brewlink=debug,info. RUST_LOG wins when set."
        }
        ("log", "format") => "auto (human on a terminal, JSON otherwise), human or json.",
        _ => "",
    }
}

#[cfg(test)]
// figment's Jail takes closures returning its (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn printed_configuration_reads_back_unchanged() {
        let printed = Config::default().to_commented_toml();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &printed).unwrap();
        figment::Jail::expect_with(|_| {
            assert_eq!(Config::load(Some(file.path())).unwrap(), Config::default());
            Ok(())
        });
        for section in SECTIONS {
            assert!(printed.contains(&format!("[{section}]")), "{printed}");
        }
        assert!(
            !printed.lines().any(|line| line == "# "),
            "every key is documented:\n{printed}"
        );
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "brewlink.toml",
                "[http]\naddr = \"127.0.0.1:4000\"\n[mqtt]\nport = 1999\n",
            )?;
            jail.set_env("BREWLINK_MQTT_PORT", "2883");
            jail.set_env("BREWLINK_MQTT_EXTERNAL_URL", "mqtt://127.0.0.1:1883");
            jail.set_env("DATABASE_URL", "postgres://ignored");
            jail.set_env(
                "BREWLINK_DATABASE_URL",
                "postgres://postgres@127.0.0.1/brewlink",
            );
            let config = Config::load(Some(Path::new("brewlink.toml"))).unwrap();
            assert_eq!(config.http.addr.port(), 4000);
            assert_eq!(config.mqtt.port, 2883);
            assert_eq!(config.mqtt.external_url, "mqtt://127.0.0.1:1883");
            assert!(!config.embedded_broker());
            assert_eq!(
                config.database_url(),
                "postgres://postgres@127.0.0.1/brewlink"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_values_and_unknown_keys_are_clear_errors() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BREWLINK_MQTT_PORT", "not-a-port");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(
                error.contains("mqtt.port (from BREWLINK_MQTT_PORT)"),
                "{error}"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[http]\nadress = \"x\"\n")?;
            let error = Config::load(Some(Path::new("bad.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("adress") && error.contains("bad.toml"),
                "{error}"
            );
            Ok(())
        });
        assert!(matches!(
            Config::load(Some(Path::new("/nonexistent/brewlink.toml"))),
            Err(ConfigError::MissingFile(_))
        ));
    }

    #[test]
    fn printing_hides_secrets() {
        let mut config = Config::default();
        config.database.url = "postgres://brewlink:db-secret@127.0.0.1/brewlink".to_string();
        config.mqtt.external_url = "mqtt://bridge:mqtt-secret@127.0.0.1:1883".to_string();
        config.pki.key_secret = "ab".repeat(32);
        let printed = config.to_commented_toml();
        for secret in ["db-secret", "mqtt-secret", &"ab".repeat(32)] {
            assert!(!printed.contains(secret), "{secret} in\n{printed}");
        }
        assert!(
            printed.contains("postgres://brewlink:redacted@127.0.0.1/brewlink"),
            "{printed}"
        );
    }

    #[test]
    fn default_database_is_sqlite_in_the_data_folder() {
        let config = Config::default();
        assert_eq!(config.database_url(), "sqlite://data/brewlink.db?mode=rwc");
        assert!(config.embedded_broker());
    }

    #[test]
    fn password_hashing_is_bounded_by_default() {
        let http = Config::default().http;
        assert_eq!(
            (http.password_hashes_at_once, http.password_hash_wait_ms),
            (4, 10_000),
            "as the README says"
        );
    }
}
