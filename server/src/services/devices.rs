//! Devices: registration with a certificate, the bundle a device needs to connect, CSR signing,
//! rotation, renaming and unregistering. Revoking a certificate updates the revocation list and drops
//! the device from the embedded broker at once.

use std::{collections::BTreeMap, io::Write, sync::Arc};

use app::model::device::{ConnectionSettings, Device, DeviceCredentials, DeviceDetail, Topics};
use chrono::{DateTime, Utc};

use super::{Origin, ServiceError, Services};
use crate::{
    auth::Actor,
    broker::BrokerHandle,
    pki::{IssuedCertificate, Pki, PkiError},
    store::devices::{DevicePage, NewCertificate},
};

/// Longest device name and model, in characters.
const TEXT_MAX_CHARS: usize = 100;

/// What device operations need besides the store.
pub struct DeviceSupport {
    pub pki: Arc<Pki>,
    /// The embedded broker (to drop revoked devices); `None` with an external broker, which reads the CRL.
    pub broker: Option<BrokerHandle>,
    /// The broker's host name as devices reach it.
    pub public_host: String,
    /// The broker's TLS port.
    pub tls_port: u16,
    /// Sends commands to devices over the bridge.
    pub commands: crate::bridge::commands::CommandBus,
    /// How long a command waits for its reply.
    pub command_timeout: std::time::Duration,
    /// Where command events go for live streams.
    pub live: crate::live::LiveHub,
    pub metrics: Arc<crate::observability::Metrics>,
    /// Broker and bridge figures for the admin site.
    pub monitor: crate::monitor::BrokerMonitor,
    /// Decoded device traffic for the admin site's message inspector.
    pub inspector: crate::inspector::Inspector,
    /// Most devices one account may register.
    pub per_user: u32,
}

impl std::fmt::Debug for DeviceSupport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSupport")
            .field("public_host", &self.public_host)
            .field("tls_port", &self.tls_port)
            .finish()
    }
}

/// What a brewer may change of a device; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct DeviceChange {
    pub name: Option<String>,
    pub model: Option<String>,
}

/// A zip file to download.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

impl From<PkiError> for ServiceError {
    fn from(error: PkiError) -> Self {
        match error {
            PkiError::BadCsr(reason) => ServiceError::field("csr", reason),
            other => {
                tracing::error!(error = %other, "PKI error");
                ServiceError::Internal(other.to_string())
            }
        }
    }
}

fn to_utc(time: time::OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(time.unix_timestamp(), time.nanosecond()).unwrap_or_default()
}

fn check_text(
    field: &'static str,
    label: &str,
    text: &str,
    errors: &mut BTreeMap<&'static str, String>,
) {
    if text.is_empty() {
        errors.insert(field, format!("Enter the device's {label}."));
    } else if text.chars().count() > TEXT_MAX_CHARS {
        errors.insert(field, format!("Use at most {TEXT_MAX_CHARS} characters."));
    } else if text.chars().any(char::is_control) {
        errors.insert(
            field,
            "Use letters, digits and punctuation only.".to_string(),
        );
    }
}

impl Services {
    pub(crate) fn device_support(&self) -> Result<&DeviceSupport, ServiceError> {
        self.devices
            .as_deref()
            .ok_or_else(|| ServiceError::Internal("device support is not configured".to_string()))
    }

    /// A device the actor may see (its owner, or staff); anything else is "not found".
    pub async fn device(&self, actor: &Actor, id: &str) -> Result<Device, ServiceError> {
        actor.require_user()?;
        match self.store.device_by_id(id).await? {
            Some(device) if actor.may_access_owned_by(&device.owner_id) => Ok(device),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// A device the actor owns, for what only its owner may do (its keys, its certificate, its name):
    /// staff see it but are refused; other users are told it does not exist.
    pub(crate) async fn owned_device(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Device, ServiceError> {
        let device = self.device(actor, id).await?;
        match actor {
            Actor::User(user) if user.id == device.owner_id => Ok(device),
            Actor::System => Ok(device),
            _ => Err(ServiceError::Forbidden),
        }
    }

    /// A device with its connection settings, for its page.
    pub async fn device_detail(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<DeviceDetail, ServiceError> {
        let device = self.device(actor, id).await?;
        Ok(DeviceDetail {
            settings: self.connection_settings(id)?,
            device,
        })
    }

    /// The caller's devices.
    pub async fn list_devices(
        &self,
        actor: &Actor,
        after: Option<&str>,
        limit: u32,
    ) -> Result<DevicePage, ServiceError> {
        let me = actor.require_user()?;
        Ok(self.store.devices_of_owner(&me.id, after, limit).await?)
    }

    /// Registers a device for the caller and issues its first certificate.
    pub async fn register_device(
        &self,
        actor: &Actor,
        name: &str,
        model: &str,
        origin: &Origin,
    ) -> Result<DeviceCredentials, ServiceError> {
        let me = actor.require_user()?;
        let support = self.device_support()?;
        let (name, model) = (name.trim(), model.trim());
        let mut errors = BTreeMap::new();
        check_text("name", "name", name, &mut errors);
        check_text("model", "model", model, &mut errors);
        ServiceError::check_fields(errors)?;
        let id = uuid::Uuid::now_v7().to_string();
        let issued = support.pki.issue_device(&id)?;
        let sealed = issued
            .key_pem
            .as_deref()
            .map(|key| {
                support
                    .pki
                    .sealer()
                    .seal(key, &key_owner(&id, &issued.serial))
            })
            .transpose()?;
        let certificate = new_certificate(&issued, sealed.as_deref());
        let quota = support.per_user;
        if !self
            .store
            .device_insert(&id, &me.id, name, model, &certificate, quota, Utc::now())
            .await?
        {
            return Err(ServiceError::Conflict {
                code: "device_quota",
                message: format!(
                    "An account may register at most {quota} devices; unregister one first."
                ),
            });
        }
        let detail = serde_json::json!({ "name": name, "model": model, "serial": issued.serial });
        self.audit(
            actor,
            "device.registered",
            format!("device:{id}"),
            detail,
            origin,
        )
        .await;
        self.credentials(&id, issued).await
    }

    /// Renames a device or changes its model.
    pub async fn update_device(
        &self,
        actor: &Actor,
        id: &str,
        change: DeviceChange,
        origin: &Origin,
    ) -> Result<Device, ServiceError> {
        let device = self.owned_device(actor, id).await?;
        let name = change
            .name
            .map_or(device.name.clone(), |name| name.trim().to_string());
        let model = change
            .model
            .map_or(device.model.clone(), |model| model.trim().to_string());
        let mut errors = BTreeMap::new();
        check_text("name", "name", &name, &mut errors);
        check_text("model", "model", &model, &mut errors);
        ServiceError::check_fields(errors)?;
        if !self
            .store
            .device_update(id, &name, &model, Utc::now())
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            actor,
            "device.updated",
            format!("device:{id}"),
            serde_json::json!({ "name": name, "model": model }),
            origin,
        )
        .await;
        self.device(actor, id).await
    }

    /// Unregisters a device: its certificates are revoked and it is disconnected.
    pub async fn unregister_device(
        &self,
        actor: &Actor,
        id: &str,
        origin: &Origin,
    ) -> Result<(), ServiceError> {
        self.owned_device(actor, id).await?;
        let revoked = self
            .store
            .device_delete(id, Utc::now())
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.after_revocation(id).await?;
        self.audit(
            actor,
            "device.unregistered",
            format!("device:{id}"),
            serde_json::json!({ "revoked": revoked }),
            origin,
        )
        .await;
        Ok(())
    }

    /// Unregisters every device of a user (before their account is deleted).
    pub(crate) async fn unregister_devices_of(
        &self,
        actor: &Actor,
        owner_id: &str,
        origin: &Origin,
    ) -> Result<(), ServiceError> {
        for id in self.store.device_ids_of_owner(owner_id).await? {
            self.unregister_device(actor, &id, origin).await?;
        }
        Ok(())
    }

    /// A new key and certificate for a device; the old certificate is revoked and the device disconnected.
    pub async fn rotate_certificate(
        &self,
        actor: &Actor,
        id: &str,
        origin: &Origin,
    ) -> Result<DeviceCredentials, ServiceError> {
        self.owned_device(actor, id).await?;
        let support = self.device_support()?;
        let issued = support.pki.issue_device(id)?;
        let sealed = issued
            .key_pem
            .as_deref()
            .map(|key| {
                support
                    .pki
                    .sealer()
                    .seal(key, &key_owner(id, &issued.serial))
            })
            .transpose()?;
        let revoked = self
            .store
            .certificate_replace(id, &new_certificate(&issued, sealed.as_deref()), Utc::now())
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.after_revocation(id).await?;
        let detail = serde_json::json!({ "serial": issued.serial, "revoked": revoked });
        self.audit(
            actor,
            "device.certificate_rotated",
            format!("device:{id}"),
            detail,
            origin,
        )
        .await;
        self.credentials(id, issued).await
    }

    /// Signs a certificate for a key the device made (its CSR, PEM); the old certificate is revoked.
    pub async fn sign_device_csr(
        &self,
        actor: &Actor,
        id: &str,
        csr_pem: &str,
        origin: &Origin,
    ) -> Result<DeviceCredentials, ServiceError> {
        self.owned_device(actor, id).await?;
        let support = self.device_support()?;
        if csr_pem.len() > 16 * 1024 {
            return Err(ServiceError::field(
                "csr",
                "The CSR is too large (16 KiB at most).",
            ));
        }
        let issued = support.pki.sign_csr(id, csr_pem)?;
        let revoked = self
            .store
            .certificate_replace(id, &new_certificate(&issued, None), Utc::now())
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.after_revocation(id).await?;
        let detail =
            serde_json::json!({ "serial": issued.serial, "revoked": revoked, "csr": true });
        self.audit(
            actor,
            "device.certificate_signed",
            format!("device:{id}"),
            detail,
            origin,
        )
        .await;
        self.credentials(id, issued).await
    }

    /// The zip a device needs: `ca.pem`, `device.pem`, `device.key` (when the server made the key),
    /// `settings.json` and a `README.txt`.
    pub async fn device_bundle(&self, actor: &Actor, id: &str) -> Result<Bundle, ServiceError> {
        let device = self.owned_device(actor, id).await?;
        let support = self.device_support()?;
        let current = self
            .store
            .certificate_current(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let key = current
            .sealed_key
            .as_deref()
            .map(|sealed| {
                support
                    .pki
                    .sealer()
                    .open(sealed, &key_owner(id, &current.info.serial))
            })
            .transpose()?;
        let settings = self.connection_settings(id)?;
        let bytes = zip_bundle(
            support.pki.ca_pem(),
            &current.cert_pem,
            key.as_deref(),
            &settings,
            &device,
        )
        .map_err(|error| ServiceError::Internal(error.to_string()))?;
        Ok(Bundle {
            file_name: format!("brewlink-device-{id}.zip"),
            bytes,
        })
    }

    fn connection_settings(&self, id: &str) -> Result<ConnectionSettings, ServiceError> {
        let support = self.device_support()?;
        Ok(ConnectionSettings {
            broker_host: support.public_host.clone(),
            tls_port: support.tls_port,
            client_id: id.to_string(),
            topics: Topics::of(id),
        })
    }

    async fn credentials(
        &self,
        id: &str,
        issued: IssuedCertificate,
    ) -> Result<DeviceCredentials, ServiceError> {
        let support = self.device_support()?;
        let device = self
            .store
            .device_by_id(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(DeviceCredentials {
            device,
            ca_pem: support.pki.ca_pem().to_string(),
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
            settings: self.connection_settings(id)?,
        })
    }

    /// After certificates were revoked: the device is disconnected, then the revocation list rewritten.
    /// The revocation itself is committed already, so a failure to write the file is logged (the daily
    /// rewrite repairs it), not reported as a failed revocation.
    pub(crate) async fn after_revocation(&self, device_id: &str) -> Result<(), ServiceError> {
        let support = self.device_support()?;
        if let Some(broker) = &support.broker {
            broker.disconnect(device_id).await;
        }
        if let Err(error) = write_revocation_list(&self.store, &support.pki).await {
            tracing::error!(%error, "could not rewrite the certificate revocation list");
        }
        Ok(())
    }
}

/// Writes the CRL file from the store (at start and after every revocation).
pub async fn write_revocation_list(
    store: &crate::store::Store,
    pki: &Pki,
) -> Result<(), ServiceError> {
    let revoked = store.certificates_revoked(Utc::now()).await?;
    let revoked: Vec<(String, time::OffsetDateTime)> = revoked
        .into_iter()
        .map(|(serial, at)| {
            let at = time::OffsetDateTime::from_unix_timestamp(at.timestamp())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            (serial, at)
        })
        .collect();
    pki.write_crl(&revoked)?;
    Ok(())
}

/// What a sealed device key is bound to: its device and its certificate.
fn key_owner(device_id: &str, serial: &str) -> String {
    format!("device:{device_id}/certificate:{serial}")
}

fn new_certificate<'a>(
    issued: &'a IssuedCertificate,
    sealed_key: Option<&'a str>,
) -> NewCertificate<'a> {
    NewCertificate {
        serial: &issued.serial,
        cert_pem: &issued.cert_pem,
        sealed_key,
        issued_at: to_utc(issued.not_before),
        expires_at: to_utc(issued.not_after),
    }
}

fn zip_bundle(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: Option<&str>,
    settings: &ConnectionSettings,
    device: &Device,
) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let private = options.unix_permissions(0o600);
    zip.start_file("ca.pem", options)?;
    zip.write_all(ca_pem.as_bytes())?;
    zip.start_file("device.pem", options)?;
    zip.write_all(cert_pem.as_bytes())?;
    if let Some(key) = key_pem {
        zip.start_file("device.key", private)?;
        zip.write_all(key.as_bytes())?;
    }
    zip.start_file("settings.json", options)?;
    zip.write_all(
        serde_json::to_string_pretty(settings)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    zip.start_file("README.txt", options)?;
    zip.write_all(readme(settings, device, key_pem.is_some()).as_bytes())?;
    Ok(zip.finish()?.into_inner())
}

fn readme(settings: &ConnectionSettings, device: &Device, with_key: bool) -> String {
    let key_line = if with_key {
        "device.key     the device's private key: keep it secret"
    } else {
        "(no key)       the device made its own key (CSR) and keeps it"
    };
    format!(
        "BrewLink device bundle for \"{name}\" ({model})\n\n\
         ca.pem         the BrewLink platform CA: the device trusts the broker through it\n\
         device.pem     the device's certificate (its common name is the device id)\n\
         {key_line}\n\
         settings.json  broker host, TLS port, client id and topics\n\n\
         Connect with MQTT over TLS to {host}:{port} with client id {id}.\n\
         The device may publish and subscribe only under devices/{id}/.\n\n\
         Try it with Mosquitto's client:\n\n  \
         mosquitto_pub -h {host} -p {port} --cafile ca.pem --cert device.pem --key device.key \\\n    \
         -i {id} -t {telemetry} -q 1 -m hello\n",
        name = device.name,
        model = device.model,
        host = settings.broker_host,
        port = settings.tls_port,
        id = settings.client_id,
        telemetry = settings.topics.telemetry,
    )
}
