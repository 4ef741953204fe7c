//! The server under test: the built `brewlink` binary, started on free loopback ports with a fresh
//! database, driven only through its public interfaces (HTTP API, MQTT over TLS, its own database
//! for counting what was stored).

use std::{
    collections::{HashMap, HashSet},
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use sqlx::{Connection, Row};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::{device::Bundle, machine::Process};

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Store {
    Sqlite,
    Postgres,
}

impl Store {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A port nobody listens on now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running `brewlink serve`.
pub struct Server {
    child: Child,
    pub dir: tempfile::TempDir,
    pub http: SocketAddr,
    pub tls: SocketAddr,
    database_url: String,
    postgres_database: Option<String>,
    client: reqwest::Client,
    pub process: Process,
}

/// A signed-up account with an API token.
pub struct Account {
    pub email: String,
    pub password: String,
    pub token: String,
}

impl Server {
    /// Starts the binary at `binary` and waits until it says it serves.
    pub async fn start(
        binary: &Path,
        site_root: &Path,
        store: Store,
        postgres: &str,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (database_url, postgres_database) = match store {
            Store::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                ),
                None,
            ),
            Store::Postgres => {
                let name = format!("brewlink_bench_{}", std::process::id());
                let mut admin = admin_connection(postgres).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&mut admin)
                    .await?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await?;
                (format!("{postgres}/{name}"), Some(name))
            }
        };
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let tls = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut command = Command::new(binary);
        for (key, _) in std::env::vars() {
            if key.starts_with("BREWLINK_") || key == "DATABASE_URL" || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        let mut child = command
            .arg("serve")
            .env("BREWLINK_DATA_DIR", dir.path())
            .env("BREWLINK_DATABASE_URL", &database_url)
            .env("BREWLINK_HTTP_ADDR", http.to_string())
            .env("BREWLINK_HTTP_SITE_ROOT", site_root)
            .env("BREWLINK_MQTT_PORT", free_port()?.to_string())
            .env("BREWLINK_MQTT_TLS_HOST", "127.0.0.1")
            .env("BREWLINK_MQTT_TLS_PORT", tls.port().to_string())
            // The benchmark measures throughput, not the per-device limits.
            .env("BREWLINK_DEVICES_PER_USER", "1000000")
            .env("BREWLINK_DEVICES_MESSAGES_PER_SECOND", "1000000")
            .env("BREWLINK_DEVICES_MESSAGE_BURST", "1000000")
            .env("BREWLINK_HTTP_SIGNUPS_PER_ADDRESS", "1000")
            .env("BREWLINK_LOG_LEVEL", "warn,rmqtt=error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut lines = BufReader::new(child.stdout.take().context("server stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("the server did not start within 60 s")??
            .unwrap_or_default();
        if !line.starts_with("BrewLink is serving") {
            bail!("the server did not start: {line}");
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let process = Process::new(child.id().context("server pid")?);
        Ok(Self {
            child,
            dir,
            http,
            tls,
            database_url,
            postgres_database,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            process,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Signs up an account and makes it an API token.
    pub async fn account(&self, email: &str) -> anyhow::Result<Account> {
        let password = "bench-password-1".to_string();
        let response = self
            .client
            .post(self.url("/api/v1/auth/signup"))
            .json(&serde_json::json!({ "email": email, "password": password, "name": "Bench" }))
            .send()
            .await?;
        if response.status() != 201 {
            bail!("signup answered {}", response.status());
        }
        let token: serde_json::Value = self
            .client
            .post(self.url("/api/v1/auth/tokens"))
            .json(&serde_json::json!({ "email": email, "password": password, "label": "bench" }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(Account {
            email: email.to_string(),
            password,
            token: token["token"].as_str().context("token")?.to_string(),
        })
    }

    /// Registers `count` devices through the API (a few at once) and downloads their bundles.
    pub async fn register(&self, account: &Account, count: usize) -> anyhow::Result<Vec<Bundle>> {
        futures::stream::iter(0..count)
            .map(|n| self.register_one(account, n))
            .buffered(8)
            .try_collect()
            .await
    }

    async fn register_one(&self, account: &Account, n: usize) -> anyhow::Result<Bundle> {
        let device: serde_json::Value = self
            .client
            .post(self.url("/api/v1/devices"))
            .bearer_auth(&account.token)
            .json(&serde_json::json!({ "name": format!("Bench kettle {n}"), "model": "bench" }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = device["device"]["id"].as_str().context("device id")?;
        let zip = self
            .client
            .get(self.url(&format!("/api/v1/devices/{id}/bundle")))
            .bearer_auth(&account.token)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        Bundle::from_zip(&zip)
    }

    /// Figures of `/metrics` whose names start with `prefix` (histogram sums and counts included).
    pub async fn metrics(&self, prefix: &str) -> anyhow::Result<HashMap<String, f64>> {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|line| line.starts_with(prefix))
            .filter_map(|line| {
                let (name, value) = line.rsplit_once(' ')?;
                Some((name.to_string(), value.parse().ok()?))
            })
            .collect())
    }

    /// The folder with the broker's certificate and the platform CA.
    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// Of the sequence numbers each device had acknowledged, how many are not in the database.
    pub async fn missing(&self, acked: &HashMap<String, Vec<u64>>) -> anyhow::Result<u64> {
        let mut stored: HashMap<String, HashSet<u64>> = HashMap::new();
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect(&self.database_url)
            .await
            .with_context(|| format!("reading back {}", self.database_url))?;
        let mut rows = sqlx::query("SELECT device_id, seq FROM telemetry").fetch(&mut db);
        while let Some(row) = rows.try_next().await? {
            let device: String = row.try_get(0)?;
            let seq: i64 = row.try_get(1)?;
            stored
                .entry(device)
                .or_default()
                .insert(u64::try_from(seq).unwrap_or_default());
        }
        let mut missing = 0;
        for (device, seqs) in acked {
            let present = stored.get(device);
            missing += seqs
                .iter()
                .filter(|seq| !present.is_some_and(|set| set.contains(seq)))
                .count() as u64;
        }
        Ok(missing)
    }

    /// Sends SIGTERM and waits for the process to end; drops the PostgreSQL database.
    pub async fn stop(mut self, postgres: &str) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) with a pid of our own child and a valid signal number.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        if let Some(name) = &self.postgres_database {
            let mut admin = admin_connection(postgres).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await?;
        }
        Ok(())
    }
}

/// A connection to PostgreSQL's maintenance database, for making and dropping databases.
async fn admin_connection(server: &str) -> anyhow::Result<sqlx::postgres::PgConnection> {
    sqlx::postgres::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .with_context(|| format!("connecting to PostgreSQL at {server}"))
}
