//! The platform's public-key infrastructure: the CA that vouches for devices, the broker's server
//! certificate, device certificates (ECDSA P-256, CN = device id, client-auth only), CSR signing, and
//! the certificate revocation list that an external broker reads.

mod sealed;

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime};

pub use sealed::KeySealer;

use crate::startup::write_private_file;

/// A PKI operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read or write {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the CA certificate or key in {path} is unusable: {reason}")]
    BadCa { path: PathBuf, reason: String },
    #[error("the certificate signing request is not usable: {0}")]
    BadCsr(String),
    #[error("certificate error: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("the key secret is unusable: {0}")]
    Secret(String),
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::File {
        path: path.to_path_buf(),
        source,
    }
}

/// Where the CA comes from and what certificates look like.
#[derive(Debug, Clone)]
pub struct PkiSettings {
    /// The folder for the CA (when generated), the broker certificate and the CRL.
    pub dir: PathBuf,
    /// A CA certificate and key to load instead of generating one.
    pub ca_cert: Option<PathBuf>,
    pub ca_key: Option<PathBuf>,
    /// Lifetime of device certificates, days.
    pub device_cert_days: u32,
    /// The secret that seals device private keys at rest (hex, 32 bytes); `None`: a file in `dir`.
    pub key_secret: Option<String>,
}

/// A certificate just issued to a device.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// Lower-case hex, no leading zeros (as brokers print it).
    pub serial: String,
    pub cert_pem: String,
    /// The private key, when the server made it (not for a CSR).
    pub key_pem: Option<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// The loaded CA and what it signs.
pub struct Pki {
    settings: PkiSettings,
    ca_cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
    sealer: KeySealer,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.settings.dir)
            .finish_non_exhaustive()
    }
}

/// A random positive serial whose hex form has no leading zero.
fn new_serial() -> (SerialNumber, String) {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = 0x10 | (bytes[0] & 0x6f);
    (SerialNumber::from_slice(&bytes), hex::encode(bytes))
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(file_error(path))
}

impl Pki {
    /// Loads the configured CA, or the one in `dir`, or creates one there on first start.
    pub fn load_or_create(settings: PkiSettings) -> Result<Self, PkiError> {
        std::fs::create_dir_all(&settings.dir).map_err(file_error(&settings.dir))?;
        let (cert_path, key_path) = match (&settings.ca_cert, &settings.ca_key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            _ => (settings.dir.join("ca.pem"), settings.dir.join("ca.key")),
        };
        if settings.ca_cert.is_none() && !cert_path.exists() {
            create_ca(&cert_path, &key_path)?;
        }
        let ca_cert_pem = read(&cert_path)?;
        let bad = |reason: String| PkiError::BadCa {
            path: cert_path.clone(),
            reason,
        };
        let key = KeyPair::from_pem(&read(&key_path)?).map_err(|error| bad(error.to_string()))?;
        let issuer =
            Issuer::from_ca_cert_pem(&ca_cert_pem, key).map_err(|error| bad(error.to_string()))?;
        let sealer = KeySealer::load_or_create(
            settings.key_secret.as_deref(),
            &settings.dir.join("key-secret"),
        )?;
        Ok(Self {
            settings,
            ca_cert_pem,
            issuer,
            sealer,
        })
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// Where the CA certificate is, for listeners that read files.
    pub fn ca_path(&self) -> PathBuf {
        self.settings
            .ca_cert
            .clone()
            .unwrap_or_else(|| self.settings.dir.join("ca.pem"))
    }

    /// Seals and opens device private keys at rest.
    pub fn sealer(&self) -> &KeySealer {
        &self.sealer
    }

    /// The broker's server certificate and key files for these host names and addresses; issued anew
    /// when missing, for other names, or within 30 days of expiry.
    pub fn broker_certificate(&self, names: &[String]) -> Result<(PathBuf, PathBuf), PkiError> {
        let cert_path = self.settings.dir.join("broker.pem");
        let key_path = self.settings.dir.join("broker.key");
        // Beside the certificate: its expiry (Unix seconds) and names, one per line.
        let about_path = self.settings.dir.join("broker.about");
        let about = std::fs::read_to_string(&about_path).unwrap_or_default();
        let (expires, current_names) = about.split_once('\n').unwrap_or_default();
        let expiring = expires
            .parse::<i64>()
            .ok()
            .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
            .is_none_or(|end| end < OffsetDateTime::now_utc() + Duration::days(30));
        if current_names != names.join("\n")
            || expiring
            || !key_path.exists()
            || !cert_path.exists()
        {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let mut params = CertificateParams::new(names.to_vec())?;
            params.distinguished_name = name("BrewLink MQTT broker");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            let (serial, _) = new_serial();
            params.serial_number = Some(serial);
            params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
            params.not_after = OffsetDateTime::now_utc() + Duration::days(397);
            let cert = params.signed_by(&key, &self.issuer)?;
            write_private_file(&key_path, key.serialize_pem().as_bytes())
                .map_err(file_error(&key_path))?;
            std::fs::write(&cert_path, cert.pem()).map_err(file_error(&cert_path))?;
            let about = format!(
                "{}\n{}",
                params.not_after.unix_timestamp(),
                names.join("\n")
            );
            std::fs::write(&about_path, about).map_err(file_error(&about_path))?;
        }
        Ok((cert_path, key_path))
    }

    /// A new key and certificate for a device.
    pub fn issue_device(&self, device_id: &str) -> Result<IssuedCertificate, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut issued = self.sign_device(device_id, &key)?;
        issued.key_pem = Some(key.serialize_pem());
        Ok(issued)
    }

    /// A certificate for a key the device made itself (its CSR). The CSR's signature is checked; its
    /// subject and extensions are ignored: the certificate names the device and allows client auth only.
    pub fn sign_csr(&self, device_id: &str, csr_pem: &str) -> Result<IssuedCertificate, PkiError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|error| PkiError::BadCsr(error.to_string()))?;
        self.sign_device(device_id, &csr.public_key)
    }

    fn sign_device(
        &self,
        device_id: &str,
        key: &impl rcgen::PublicKeyData,
    ) -> Result<IssuedCertificate, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(device_id);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let (serial_number, serial) = new_serial();
        params.serial_number = Some(serial_number);
        let not_before = OffsetDateTime::now_utc() - Duration::minutes(5);
        let not_after =
            not_before + Duration::days(i64::from(self.settings.device_cert_days.max(1)));
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(key, &self.issuer)?;
        Ok(IssuedCertificate {
            serial,
            cert_pem: cert.pem(),
            key_pem: None,
            not_before,
            not_after,
        })
    }

    /// Writes the CRL (PEM) listing these revoked serials; returns its path.
    pub fn write_crl(&self, revoked: &[(String, OffsetDateTime)]) -> Result<PathBuf, PkiError> {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now,
            // The server rewrites it daily; brokers refuse every client once it is past this.
            next_update: now + Duration::days(30),
            crl_number: SerialNumber::from(u64::try_from(now.unix_timestamp()).unwrap_or_default()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .filter_map(|(serial, at)| {
                    Some(RevokedCertParams {
                        serial_number: SerialNumber::from_slice(
                            &hex::decode(pad_even(serial)).ok()?,
                        ),
                        revocation_time: *at,
                        reason_code: Some(RevocationReason::Superseded),
                        invalidity_date: None,
                    })
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer)?;
        let path = self.settings.dir.join("crl.pem");
        // Written beside and renamed over, so a broker never reads half a file.
        let partial = self.settings.dir.join(format!(
            "crl.pem.{}",
            hex::encode(rand::random::<[u8; 4]>())
        ));
        std::fs::write(&partial, crl.pem()?).map_err(file_error(&partial))?;
        std::fs::rename(&partial, &path).map_err(file_error(&path))?;
        Ok(path)
    }
}

fn pad_even(hex: &str) -> String {
    if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex.to_string()
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "BrewLink");
    name.push(DnType::CommonName, common_name);
    name
}

fn create_ca(cert_path: &Path, key_path: &Path) -> Result<(), PkiError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name("BrewLink platform CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let (serial, _) = new_serial();
    params.serial_number = Some(serial);
    params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    let cert = params.self_signed(&key)?;
    write_private_file(key_path, key.serialize_pem().as_bytes()).map_err(file_error(key_path))?;
    std::fs::write(cert_path, cert.pem()).map_err(file_error(cert_path))?;
    tracing::info!(path = %cert_path.display(), "created the platform CA");
    Ok(())
}
