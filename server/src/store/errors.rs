//! Errors grouped by kind (see `crate::errors`).

use app::model::admin::ErrorGroup;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, from_millis, to_millis};

/// Occurrences of one kind of error to add to its group.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorOccurrences {
    pub kind: String,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub subject: String,
    pub example: String,
}

impl Store {
    /// Adds occurrences to their groups, creating groups on first sight, in one transaction.
    pub async fn error_groups_add(&self, groups: &[ErrorOccurrences]) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        for group in groups {
            sqlx::query(
                "INSERT INTO error_groups (kind, count, first_seen_ms, last_seen_ms, subject, example) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind) DO UPDATE SET \
                 count = error_groups.count + excluded.count, last_seen_ms = excluded.last_seen_ms, \
                 subject = excluded.subject, example = excluded.example",
            )
            .bind(&group.kind)
            .bind(i64::try_from(group.count).unwrap_or(i64::MAX))
            .bind(to_millis(group.first_seen))
            .bind(to_millis(group.last_seen))
            .bind(&group.subject)
            .bind(&group.example)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// One page of groups, the most recently seen first, after the group `after` (its last-seen
    /// time and kind, as [`ErrorGroupKey`] gives them).
    pub async fn error_groups(
        &self,
        after: Option<&ErrorGroupKey>,
        limit: u32,
    ) -> Result<Vec<ErrorGroup>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, count, first_seen_ms, last_seen_ms, subject, example FROM error_groups \
             WHERE last_seen_ms < $1 OR (last_seen_ms = $1 AND kind > $2) \
             ORDER BY last_seen_ms DESC, kind LIMIT $3",
        )
        .bind(after.map_or(i64::MAX, |key| key.last_seen_ms))
        .bind(after.map_or("", |key| key.kind.as_str()))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ErrorGroup {
                    kind: row.try_get("kind")?,
                    count: u64::try_from(row.try_get::<i64, _>("count")?).unwrap_or(0),
                    first_seen: from_millis(row.try_get("first_seen_ms")?),
                    last_seen: from_millis(row.try_get("last_seen_ms")?),
                    subject: row.try_get("subject")?,
                    example: row.try_get("example")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

/// Where a page of error groups starts: the last group of the previous page.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorGroupKey {
    pub last_seen_ms: i64,
    pub kind: String,
}

impl ErrorGroupKey {
    /// The key of a group.
    pub fn of(group: &ErrorGroup) -> Self {
        Self {
            last_seen_ms: to_millis(group.last_seen),
            kind: group.kind.clone(),
        }
    }

    /// The key as a page cursor: `{last_seen_ms}.{kind}`.
    pub fn cursor(&self) -> String {
        format!("{}.{}", self.last_seen_ms, self.kind)
    }

    /// A cursor made by [`Self::cursor`], or `None`.
    pub fn parse(cursor: &str) -> Option<Self> {
        let (millis, kind) = cursor.split_once('.')?;
        Some(Self {
            last_seen_ms: millis.parse().ok()?,
            kind: kind.to_string(),
        })
    }
}
