//! API tokens (hashed; see `auth::token`).

use app::model::account::ApiToken;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, from_millis, to_millis, users::UserRecord};

/// A token to insert.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub label: &'a str,
    pub token_hash: &'a str,
    pub prefix: &'a str,
}

/// One page of a user's tokens, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenPage {
    pub items: Vec<ApiToken>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next_after: Option<String>,
}

impl Store {
    pub async fn token_insert(
        &self,
        new: &NewToken<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, label, token_hash, prefix, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.label)
        .bind(new.token_hash)
        .bind(new.prefix)
        .bind(to_millis(at))
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// A user's tokens with ids after `after` (ids are time-ordered), at most `limit` (1 to 500).
    pub async fn tokens_of_user(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<TokenPage, StoreError> {
        let limit = i64::from(limit.clamp(1, 500));
        let rows = sqlx::query(
            "SELECT id, label, prefix, created_at_ms, last_used_at_ms FROM api_tokens \
             WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(user_id)
        .bind(after.unwrap_or(""))
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows
            .iter()
            .map(|row| {
                Ok(ApiToken {
                    id: row.try_get("id")?,
                    label: row.try_get("label")?,
                    prefix: row.try_get("prefix")?,
                    created_at: from_millis(row.try_get("created_at_ms")?),
                    last_used_at: row
                        .try_get::<Option<i64>, _>("last_used_at_ms")?
                        .map(from_millis),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let next_after = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|token| token.id.clone())
        } else {
            None
        };
        Ok(TokenPage { items, next_after })
    }

    /// Whether a token still exists (not revoked).
    pub async fn token_exists(&self, token_id: &str) -> Result<bool, StoreError> {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM api_tokens WHERE id = $1")
            .bind(token_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(found.is_some())
    }

    /// Deletes one of a user's tokens. `false`: the user has no such token.
    pub async fn token_delete(&self, user_id: &str, token_id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(token_id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The token with this hash (its id and when it was last used) and its owner.
    pub async fn token_owner(
        &self,
        token_hash: &str,
    ) -> Result<Option<(String, Option<DateTime<Utc>>, UserRecord)>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, user_id, last_used_at_ms FROM api_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let token_id: String = row.try_get("id")?;
        let user_id: String = row.try_get("user_id")?;
        let last_used = row
            .try_get::<Option<i64>, _>("last_used_at_ms")?
            .map(from_millis);
        Ok(self
            .user_by_id(&user_id)
            .await?
            .map(|user| (token_id, last_used, user)))
    }

    /// Records when a token was last used.
    pub async fn token_touch(&self, token_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at_ms = $2 WHERE id = $1")
            .bind(token_id)
            .bind(to_millis(at))
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
