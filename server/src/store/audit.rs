//! The audit log: who did what, when, from where. Append-only, until its retention ends.

use app::model::admin::AuditEntry;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, from_millis, like_escape, to_millis};

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

/// Which entries [`Store::audit_search`] returns; `None` parts match everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditQuery<'a> {
    /// Entries by or about this user.
    pub user_id: Option<&'a str>,
    /// Entries about this device.
    pub device_id: Option<&'a str>,
    /// An action (`auth.login`) or a family of them (`auth`).
    pub kind: Option<&'a str>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `before` to read the next page; `None` on the last page.
    pub next_before: Option<i64>,
}

impl Store {
    /// Deletes entries older than `before`; returns how many.
    pub async fn audit_delete_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM audit_log WHERE at_ms < $1")
            .bind(to_millis(before))
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
    }

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

    /// Entries matching `filter` with ids below `before` (all when `None`), newest first, at most
    /// `limit` (1 to 1000).
    pub async fn audit_search(
        &self,
        filter: &AuditQuery<'_>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        let limit = i64::from(limit.clamp(1, 1000));
        let family = filter.kind.map(|kind| format!("{}.%", like_escape(kind)));
        let rows = sqlx::query(
            "SELECT id, at_ms, actor, action, subject, detail, source_ip FROM audit_log \
             WHERE id < $1 AND ($2 = '' OR actor = $2 OR subject = $2) AND ($3 = '' OR subject = $3) \
             AND ($4 = '' OR action = $4 OR action LIKE $5 ESCAPE '\\') AND at_ms >= $6 AND at_ms < $7 \
             ORDER BY id DESC LIMIT $8",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(filter.user_id.map(|id| format!("user:{id}")).unwrap_or_default())
        .bind(filter.device_id.map(|id| format!("device:{id}")).unwrap_or_default())
        .bind(filter.kind.unwrap_or(""))
        .bind(family.unwrap_or_default())
        .bind(filter.from.map_or(i64::MIN, to_millis))
        .bind(filter.to.map_or(i64::MAX, to_millis))
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows
            .iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(AuditEntry {
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
