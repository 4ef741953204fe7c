//! The audit log: who did what, when, from where. Append-only.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, from_millis, to_millis};

/// An entry to append to the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEvent {
    /// Who acted: a user id, `system`, or a device id, as `kind:id` (e.g. `user:42`, `system`).
    pub actor: String,
    /// What happened, a stable dotted name (e.g. `server.started`, `device.registered`).
    pub action: String,
    /// What it happened to, as `kind:id`; empty when nothing in particular.
    pub subject: String,
    /// Details as a JSON object.
    pub detail: serde_json::Value,
    /// The client address, when the action came over the network.
    pub source_ip: Option<String>,
}

/// An entry of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: serde_json::Value,
    pub source_ip: Option<String>,
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    /// Pass as `before` to read the next page; `None` on the last page.
    pub next_before: Option<i64>,
}

impl Store {
    /// Appends an entry and returns its id.
    pub async fn audit_record(
        &self,
        event: &NewAuditEvent,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query(
            "INSERT INTO audit_log (at_ms, actor, action, subject, detail, source_ip) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(to_millis(at))
        .bind(&event.actor)
        .bind(&event.action)
        .bind(&event.subject)
        .bind(event.detail.to_string())
        .bind(event.source_ip.as_deref())
        .fetch_one(self.pool())
        .await?
        .try_get::<i64, _>("id")?;
        Ok(id)
    }

    /// Entries older than `before` (all when `None`), newest first, at most `limit` (1 to 500).
    pub async fn audit_list(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        let limit = i64::from(limit.clamp(1, 500));
        let rows = sqlx::query(
            "SELECT id, at_ms, actor, action, subject, detail, source_ip FROM audit_log \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows
            .iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(AuditEvent {
                    id: row.try_get("id")?,
                    at: from_millis(row.try_get("at_ms")?),
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    subject: row.try_get("subject")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                    source_ip: row.try_get("source_ip")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let next_before = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|event| event.id)
        } else {
            None
        };
        Ok(AuditPage { items, next_before })
    }
}
