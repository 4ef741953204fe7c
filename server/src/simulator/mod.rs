//! A device simulator: a real MQTT client over TLS with a downloaded certificate bundle that behaves
//! like a brewing controller — temperatures that follow the setpoint with heater dynamics, a pump,
//! gravity falling during fermentation, virtual GPIO pins and clock, a UART that echoes, network info,
//! a reset that reconnects, brew programs run step by step with progress events, and a birth message
//! with a last will. Its firmware calls itself `brewlink-simulator`, so nobody mistakes it for hardware.

mod device;

use std::{io::Read, time::Duration};

use app::model::device::ConnectionSettings;
use tokio_util::sync::CancellationToken;

pub use device::{SimulatedDevice, Tuning};

/// What a bundle holds.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub settings: ConnectionSettings,
}

/// The simulator could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("the bundle is not usable: {0}")]
    Bundle(String),
    #[error("cannot reach the BrewLink server: {0}")]
    Server(String),
}

impl Bundle {
    /// Reads a bundle zip as downloaded from BrewLink.
    pub fn from_zip(bytes: &[u8]) -> Result<Self, SimulatorError> {
        let bad = |reason: String| SimulatorError::Bundle(reason);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|error| bad(error.to_string()))?;
        let mut read = |name: &str| -> Result<String, SimulatorError> {
            let mut text = String::new();
            zip.by_name(name)
                .map_err(|_| {
                    bad(format!(
                        "{name} is missing (a bundle made from a CSR has no key)"
                    ))
                })?
                .take(1024 * 1024)
                .read_to_string(&mut text)
                .map_err(|error| bad(format!("{name}: {error}")))?;
            Ok(text)
        };
        let settings = serde_json::from_str(&read("settings.json")?)
            .map_err(|error| bad(format!("settings.json: {error}")))?;
        Ok(Self {
            ca_pem: read("ca.pem")?,
            cert_pem: read("device.pem")?,
            key_pem: read("device.key")?,
            settings,
        })
    }
}

/// Registers `count` devices for an account through the API and returns their bundles.
pub async fn register_devices(
    server: &str,
    email: &str,
    password: &str,
    count: u32,
) -> Result<Vec<Bundle>, SimulatorError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let failed = |error: reqwest::Error| SimulatorError::Server(error.to_string());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(failed)?;
    let server = server.trim_end_matches('/');
    let token: serde_json::Value = http
        .post(format!("{server}/api/v1/auth/tokens"))
        .json(&serde_json::json!({ "email": email, "password": password, "label": "simulator" }))
        .send()
        .await
        .map_err(failed)?
        .error_for_status()
        .map_err(failed)?
        .json()
        .await
        .map_err(failed)?;
    let token = token["token"]
        .as_str()
        .ok_or_else(|| SimulatorError::Server("no token in the answer".to_string()))?;
    let mut bundles = Vec::new();
    for n in 1..=count {
        let device: serde_json::Value = http
            .post(format!("{server}/api/v1/devices"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "name": format!("Simulated kettle {n}"), "model": "brewlink-simulator" }))
            .send()
            .await
            .map_err(failed)?
            .error_for_status()
            .map_err(failed)?
            .json()
            .await
            .map_err(failed)?;
        let id = device["device"]["id"].as_str().unwrap_or_default();
        let zip = http
            .get(format!("{server}/api/v1/devices/{id}/bundle"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(failed)?
            .error_for_status()
            .map_err(failed)?
            .bytes()
            .await
            .map_err(failed)?;
        bundles.push(Bundle::from_zip(&zip)?);
    }
    Ok(bundles)
}

/// Runs devices until shutdown; each reconnects by itself when the connection drops.
pub async fn run(
    bundles: Vec<Bundle>,
    tuning: Tuning,
    host: Option<String>,
    shutdown: CancellationToken,
) {
    let mut tasks = Vec::new();
    for bundle in bundles {
        let device = SimulatedDevice::new(bundle, tuning.clone(), host.clone());
        tasks.push(tokio::spawn(device.run(shutdown.clone())));
    }
    for task in tasks {
        let _ = task.await;
    }
}
