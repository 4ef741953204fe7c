//! Failed logins, counted per account and per client address for throttling.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, from_millis, to_millis};

impl Store {
    /// Records one attempt under each key; returns the rows' ids (to forget them if it succeeds).
    pub async fn login_failure_record(
        &self,
        keys: &[&str],
        at: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let mut ids = Vec::with_capacity(keys.len());
        for key in keys {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO login_failures (throttle_key, at_ms) VALUES ($1, $2) RETURNING id",
            )
            .bind(key)
            .bind(to_millis(at))
            .fetch_one(&mut *transaction)
            .await?;
            ids.push(id);
        }
        transaction.commit().await?;
        Ok(ids)
    }

    /// Forgets these attempts.
    pub async fn login_failures_delete(&self, ids: &[i64]) -> Result<(), StoreError> {
        for id in ids {
            sqlx::query("DELETE FROM login_failures WHERE id = $1")
                .bind(id)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// How many failures a key has since `since`, and when the oldest of them happened.
    pub async fn login_failures_since(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS failures, MIN(at_ms) AS oldest FROM login_failures \
             WHERE throttle_key = $1 AND at_ms > $2",
        )
        .bind(key)
        .bind(to_millis(since))
        .fetch_one(self.pool())
        .await?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok((row.try_get("failures")?, oldest.map(from_millis)))
    }

    /// Forgets a key's failures (after a successful login).
    pub async fn login_failures_clear(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Forgets a key's failures older than `before`.
    pub async fn login_failures_prune(
        &self,
        key: &str,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result =
            sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1 AND at_ms <= $2")
                .bind(key)
                .bind(to_millis(before))
                .execute(self.pool())
                .await?;
        Ok(result.rows_affected())
    }

    /// Forgets every failure older than `before` (they no longer count).
    pub async fn login_failures_prune_all(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM login_failures WHERE at_ms <= $1")
            .bind(to_millis(before))
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
    }
}
