//! Devices as the API and the pages show them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A registered brewing device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Device {
    /// Also the certificate's common name and the MQTT client id.
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub model: String,
    pub created_at: DateTime<Utc>,
    /// The certificate in use; `None` only while none is valid.
    pub certificate: Option<Certificate>,
}

/// A device certificate, without secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Certificate {
    /// Hex serial number.
    pub serial: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether the server made the key (and the bundle contains it) or the device keeps it (CSR).
    pub key_in_bundle: bool,
}

/// Where and how a device connects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectionSettings {
    /// The broker's host name as devices reach it.
    pub broker_host: String,
    /// The broker's TLS port.
    pub tls_port: u16,
    /// The MQTT client id to use: the certificate's CN.
    pub client_id: String,
    pub topics: Topics,
}

/// A device's topics (see the device protocol).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Topics {
    pub telemetry: String,
    pub status: String,
    pub command: String,
    pub reply_prefix: String,
    pub program: String,
}

impl Topics {
    /// The topics of a device.
    pub fn of(device_id: &str) -> Self {
        Self {
            telemetry: format!("devices/{device_id}/telemetry"),
            status: format!("devices/{device_id}/status"),
            command: format!("devices/{device_id}/cmd"),
            reply_prefix: format!("devices/{device_id}/reply/"),
            program: format!("devices/{device_id}/program"),
        }
    }
}

/// A device with what it needs to connect: answered at registration and rotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceCredentials {
    pub device: Device,
    /// The platform CA certificate (PEM): the device trusts the broker through it.
    pub ca_pem: String,
    /// The device certificate (PEM).
    pub cert_pem: String,
    /// The device's private key (PEM); absent when the device made its own key (CSR).
    pub key_pem: Option<String>,
    pub settings: ConnectionSettings,
}

/// A device with how it connects, for its page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceDetail {
    pub device: Device,
    pub settings: ConnectionSettings,
}
