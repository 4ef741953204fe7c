//! Devices and their certificates.

use app::model::{
    admin::FleetDevice,
    device::{Certificate, Device},
};
use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{Store, StoreError, from_millis, to_millis};

/// A certificate to store.
#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    pub serial: &'a str,
    pub cert_pem: &'a str,
    pub sealed_key: Option<&'a str>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The certificate in use, with its PEM and sealed key.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateRecord {
    pub info: Certificate,
    pub cert_pem: String,
    pub sealed_key: Option<String>,
}

/// What the broker needs to know of a certificate presented at connect.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateStatus {
    pub device_id: String,
    pub revoked: bool,
    /// Whether its device is still registered.
    pub device_exists: bool,
}

/// One page of devices.
#[derive(Debug, Clone, PartialEq)]
pub struct DevicePage {
    pub items: Vec<Device>,
    pub next_after: Option<String>,
}

const DEVICE_COLUMNS: &str = "d.id, d.owner_id, d.name, d.model, d.created_at_ms, \
    c.serial, c.issued_at_ms, c.expires_at_ms, c.sealed_key";

/// Devices with their newest unrevoked certificate.
const DEVICE_FROM: &str = "devices d LEFT JOIN device_certificates c ON c.serial = (\
    SELECT serial FROM device_certificates WHERE device_id = d.id AND revoked_at_ms IS NULL \
    ORDER BY issued_at_ms DESC, serial LIMIT 1)";

fn device(row: &AnyRow) -> Result<Device, sqlx::Error> {
    let serial: Option<String> = row.try_get("serial")?;
    let certificate = match serial {
        Some(serial) => Some(Certificate {
            serial,
            issued_at: from_millis(row.try_get("issued_at_ms")?),
            expires_at: from_millis(row.try_get("expires_at_ms")?),
            key_in_bundle: row.try_get::<Option<String>, _>("sealed_key")?.is_some(),
        }),
        None => None,
    };
    Ok(Device {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        model: row.try_get("model")?,
        created_at: from_millis(row.try_get("created_at_ms")?),
        certificate,
    })
}

/// Touches the device's row, which locks it (and on SQLite, the database) until the commit, so two
/// rotations cannot both keep a valid certificate and nothing is issued for a device just deleted;
/// then revokes its valid certificates. `None`: no such device; else the serials revoked.
async fn lock_and_revoke(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    device_id: &str,
    at: DateTime<Utc>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    let device = sqlx::query("UPDATE devices SET updated_at_ms = $2 WHERE id = $1")
        .bind(device_id)
        .bind(to_millis(at))
        .execute(&mut **transaction)
        .await?;
    if device.rows_affected() == 0 {
        return Ok(None);
    }
    revoke_valid(transaction, device_id, at).await.map(Some)
}

/// Revokes a device's valid certificates; returns their serials. A revoked certificate's sealed key
/// is erased with it: nothing may download it again.
async fn revoke_valid(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    device_id: &str,
    at: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE device_certificates SET revoked_at_ms = $2, sealed_key = NULL \
         WHERE device_id = $1 AND revoked_at_ms IS NULL RETURNING serial",
    )
    .bind(device_id)
    .bind(to_millis(at))
    .fetch_all(&mut **transaction)
    .await
}

/// What a device leaves behind besides its certificates: its readings, last status (with its home
/// network's addresses), commands and errors. Erased with the device.
const DEVICE_DATA_TABLES: [&str; 4] = ["telemetry", "device_status", "commands", "device_errors"];

async fn insert_certificate(
    executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
    device_id: &str,
    certificate: &NewCertificate<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO device_certificates (serial, device_id, cert_pem, sealed_key, issued_at_ms, expires_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(certificate.serial)
    .bind(device_id)
    .bind(certificate.cert_pem)
    .bind(certificate.sealed_key)
    .bind(to_millis(certificate.issued_at))
    .bind(to_millis(certificate.expires_at))
    .execute(executor)
    .await?;
    Ok(())
}

impl Store {
    /// Registers a device with its first certificate, in one transaction, unless its owner has
    /// `quota` devices already (`Ok(false)`). The owner's row is locked first, so parallel
    /// registrations cannot both take the last place.
    #[allow(clippy::too_many_arguments)]
    pub async fn device_insert(
        &self,
        id: &str,
        owner_id: &str,
        name: &str,
        model: &str,
        certificate: &NewCertificate<'_>,
        quota: u32,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        sqlx::query("UPDATE users SET updated_at_ms = updated_at_ms WHERE id = $1")
            .bind(owner_id)
            .execute(&mut *transaction)
            .await?;
        let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE owner_id = $1")
            .bind(owner_id)
            .fetch_one(&mut *transaction)
            .await?;
        if owned >= i64::from(quota) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO devices (id, owner_id, name, model, created_at_ms, updated_at_ms, name_key, model_key) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
        )
        .bind(id)
        .bind(owner_id)
        .bind(name)
        .bind(model)
        .bind(to_millis(at))
        .bind(super::search_key(name))
        .bind(super::search_key(model))
        .execute(&mut *transaction)
        .await
        .map_err(StoreError::from_write)?;
        insert_certificate(&mut *transaction, id, certificate).await?;
        transaction.commit().await?;
        Ok(true)
    }

    /// A device by id, whoever owns it (services check ownership).
    pub async fn device_by_id(&self, id: &str) -> Result<Option<Device>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM {DEVICE_FROM} WHERE d.id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(device).transpose()?)
    }

    /// An owner's devices with ids after `after`, oldest first, at most `limit` (1 to 500).
    pub async fn devices_of_owner(
        &self,
        owner_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<DevicePage, StoreError> {
        let limit = i64::from(limit.clamp(1, 500));
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM {DEVICE_FROM} WHERE d.owner_id = $1 AND d.id > $2 ORDER BY d.id LIMIT $3"
        ))
        .bind(owner_id)
        .bind(after.unwrap_or(""))
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows.iter().map(device).collect::<Result<Vec<_>, _>>()?;
        let next_after = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|device| device.id.clone())
        } else {
            None
        };
        Ok(DevicePage { items, next_after })
    }

    /// Ids of an owner's devices.
    pub async fn device_ids_of_owner(&self, owner_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM devices WHERE owner_id = $1 ORDER BY id")
                .bind(owner_id)
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// Renames a device and/or changes its model. `false`: no such device.
    pub async fn device_update(
        &self,
        id: &str,
        name: &str,
        model: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE devices SET name = $2, model = $3, updated_at_ms = $4, name_key = $5, model_key = $6 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(model)
        .bind(to_millis(at))
        .bind(super::search_key(name))
        .bind(super::search_key(model))
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Revokes every certificate of a device and removes the device with its data (the certificates
    /// stay listed as revoked, without their keys). Returns the serials revoked now. `None`: no such
    /// device.
    pub async fn device_delete(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let revoked = revoke_valid(&mut transaction, id, at).await?;
        let deleted = sqlx::query("DELETE FROM devices WHERE id = $1")
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        if deleted.rows_affected() == 0 {
            return Ok(None);
        }
        for table in DEVICE_DATA_TABLES {
            sqlx::query(&format!("DELETE FROM {table} WHERE device_id = $1"))
                .bind(id)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(Some(revoked))
    }

    /// Replaces a device's certificates with a new one: the old ones are revoked. Returns the serials
    /// revoked; `None` when the device no longer exists.
    pub async fn certificate_replace(
        &self,
        device_id: &str,
        certificate: &NewCertificate<'_>,
        at: DateTime<Utc>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let Some(revoked) = lock_and_revoke(&mut transaction, device_id, at).await? else {
            return Ok(None);
        };
        insert_certificate(&mut *transaction, device_id, certificate).await?;
        transaction.commit().await?;
        Ok(Some(revoked))
    }

    /// The certificate in use by a device, with its PEM and sealed key.
    pub async fn certificate_current(
        &self,
        device_id: &str,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT serial, cert_pem, sealed_key, issued_at_ms, expires_at_ms FROM device_certificates \
             WHERE device_id = $1 AND revoked_at_ms IS NULL ORDER BY issued_at_ms DESC, serial LIMIT 1",
        )
        .bind(device_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed_key: Option<String> = row.try_get("sealed_key")?;
        Ok(Some(CertificateRecord {
            info: Certificate {
                serial: row.try_get("serial")?,
                issued_at: from_millis(row.try_get("issued_at_ms")?),
                expires_at: from_millis(row.try_get("expires_at_ms")?),
                key_in_bundle: sealed_key.is_some(),
            },
            cert_pem: row.try_get("cert_pem")?,
            sealed_key,
        }))
    }

    /// What is known of the certificate with this serial.
    pub async fn certificate_status(
        &self,
        serial: &str,
    ) -> Result<Option<CertificateStatus>, StoreError> {
        let row = sqlx::query(
            "SELECT c.device_id, c.revoked_at_ms, d.id AS device FROM device_certificates c \
             LEFT JOIN devices d ON d.id = c.device_id WHERE c.serial = $1",
        )
        .bind(serial)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(CertificateStatus {
            device_id: row.try_get("device_id")?,
            revoked: row.try_get::<Option<i64>, _>("revoked_at_ms")?.is_some(),
            device_exists: row.try_get::<Option<String>, _>("device")?.is_some(),
        }))
    }

    /// Every revoked certificate that has not expired yet, for the revocation list.
    pub async fn certificates_revoked(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT serial, revoked_at_ms FROM device_certificates \
             WHERE revoked_at_ms IS NOT NULL AND expires_at_ms > $1 ORDER BY serial",
        )
        .bind(to_millis(now))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("serial")?,
                    from_millis(row.try_get("revoked_at_ms")?),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

/// Which devices [`Store::fleet`] returns.
#[derive(Debug, Clone, Default)]
pub struct FleetQuery<'a> {
    /// Part of the device id, name, model or owner's email (case-insensitive); empty: any.
    pub text: &'a str,
    pub online: Option<bool>,
    pub owner_id: Option<&'a str>,
    pub after: Option<&'a str>,
    pub limit: u32,
}

/// Whether a device is online at `$NOW`: it said so and was heard from within its liveness window
/// (three reporting intervals, at least 15 s; 60 s without one), as `DeviceStatus::liveness_window`.
const ONLINE_AT_NOW: &str = "CASE WHEN s.online = 1 AND s.last_seen_ms >= $NOW - CASE \
    WHEN s.report_interval_s = 0 THEN 60000 \
    WHEN s.report_interval_s < 5 THEN 15000 \
    ELSE s.report_interval_s * 3000 END THEN 1 ELSE 0 END";

impl Store {
    /// Every user's devices with owner and liveness, filtered, ordered by id, one page.
    pub async fn fleet(
        &self,
        query: &FleetQuery<'_>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<FleetDevice>, Option<String>), StoreError> {
        let limit = i64::from(query.limit.clamp(1, 500));
        let online = ONLINE_AT_NOW.replace("$NOW", "$6");
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS}, u.email AS owner_email, s.firmware, s.last_seen_ms, {online} AS live, \
             (SELECT COUNT(*) FROM telemetry t WHERE t.device_id = d.id AND t.time_ms >= $6 - 60000) AS recent \
             FROM {DEVICE_FROM} JOIN users u ON u.id = d.owner_id \
             LEFT JOIN device_status s ON s.device_id = d.id \
             WHERE ($1 = '' OR d.id > $1) \
             AND ($2 = '%%' OR d.id LIKE $2 ESCAPE '\\' OR d.name_key LIKE $2 ESCAPE '\\' \
                  OR d.model_key LIKE $2 ESCAPE '\\' OR u.email_key LIKE $2 ESCAPE '\\') \
             AND ($3 = '' OR d.owner_id = $3) \
             AND ($4 < 0 OR {online} = $4) \
             ORDER BY d.id LIMIT $5"
        ))
        .bind(query.after.unwrap_or(""))
        .bind(super::contains_pattern(query.text))
        .bind(query.owner_id.unwrap_or(""))
        .bind(query.online.map_or(-1_i64, i64::from))
        .bind(limit + 1)
        .bind(to_millis(now))
        .fetch_all(self.pool())
        .await?;
        let mut items = rows
            .iter()
            .map(|row| {
                Ok(FleetDevice {
                    device: device(row)?,
                    owner_email: row.try_get("owner_email")?,
                    online: row.try_get::<i64, _>("live")? == 1,
                    last_seen: row
                        .try_get::<Option<i64>, _>("last_seen_ms")?
                        .map(from_millis),
                    firmware: row
                        .try_get::<Option<String>, _>("firmware")?
                        .unwrap_or_default(),
                    messages_last_minute: u64::try_from(row.try_get::<i64, _>("recent")?)
                        .unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let next_after = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|row| row.device.id.clone())
        } else {
            None
        };
        Ok((items, next_after))
    }

    /// Revokes every valid certificate of a device (it keeps its registration and can be given a new
    /// one by rotation). `None`: no such device; else the serials revoked.
    pub async fn certificates_revoke(
        &self,
        device_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let Some(revoked) = lock_and_revoke(&mut transaction, device_id, at).await? else {
            return Ok(None);
        };
        transaction.commit().await?;
        Ok(Some(revoked))
    }
}
