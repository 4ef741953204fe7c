//! Web sessions (see `auth::session_store`).

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Inserts a new session; `false` when the id is taken.
    pub async fn session_create(
        &self,
        id: &str,
        user_id: Option<&str>,
        data: &str,
        expires_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO sessions (id, user_id, data, expires_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(user_id)
        .bind(data)
        .bind(expires_at_ms)
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Updates an existing session; `false` when it no longer exists (ended by logout, a password
    /// change or a disabled account — a request still holding it must not bring it back).
    pub async fn session_save(
        &self,
        id: &str,
        user_id: Option<&str>,
        data: &str,
        expires_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE sessions SET user_id = $2, data = $3, expires_at_ms = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(user_id)
        .bind(data)
        .bind(expires_at_ms)
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// A session's data and expiry (Unix ms), unless it has expired.
    pub async fn session_load(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT data, expires_at_ms FROM sessions WHERE id = $1 AND expires_at_ms > $2",
        )
        .bind(id)
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| Ok((row.try_get("data")?, row.try_get("expires_at_ms")?)))
            .transpose()
    }

    /// Ends one session.
    pub async fn session_delete(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of a user except `keep`; returns how many ended.
    pub async fn sessions_delete_of_user(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
    }

    /// A user's unexpired sessions as (stored id, expiry in Unix ms), the latest expiry first.
    pub async fn sessions_of_user(
        &self,
        user_id: &str,
        now_ms: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, expires_at_ms FROM sessions WHERE user_id = $1 AND expires_at_ms > $2 \
             ORDER BY expires_at_ms DESC LIMIT 500",
        )
        .bind(user_id)
        .bind(now_ms)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// Removes expired sessions; returns how many.
    pub async fn sessions_delete_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
    }
}
