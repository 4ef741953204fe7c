//! API tokens (hashed; see `auth::token`).

use app::model::account::{ApiToken, TokenScope};
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
    pub scope: TokenScope,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token found by its secret's hash.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub id: String,
    pub scope: TokenScope,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub owner: UserRecord,
}

/// A stored scope; an unknown name (written by a newer version) grants the least.
fn scope_of(name: &str) -> TokenScope {
    TokenScope::parse(name).unwrap_or(TokenScope::Read)
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
            "INSERT INTO api_tokens (id, user_id, label, token_hash, prefix, created_at_ms, scope, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.label)
        .bind(new.token_hash)
        .bind(new.prefix)
        .bind(to_millis(at))
        .bind(new.scope.as_str())
        .bind(new.expires_at.map(to_millis))
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
            "SELECT id, label, prefix, scope, created_at_ms, expires_at_ms, last_used_at_ms FROM api_tokens \
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
                    scope: scope_of(row.try_get("scope")?),
                    created_at: from_millis(row.try_get("created_at_ms")?),
                    expires_at: row
                        .try_get::<Option<i64>, _>("expires_at_ms")?
                        .map(from_millis),
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

    /// The token with this hash, with its owner.
    pub async fn token_owner(&self, token_hash: &str) -> Result<Option<TokenGrant>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, user_id, scope, expires_at_ms, last_used_at_ms FROM api_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let user_id: String = row.try_get("user_id")?;
        let Some(owner) = self.user_by_id(&user_id).await? else {
            return Ok(None);
        };
        Ok(Some(TokenGrant {
            id: row.try_get("id")?,
            scope: scope_of(row.try_get("scope")?),
            expires_at: row
                .try_get::<Option<i64>, _>("expires_at_ms")?
                .map(from_millis),
            last_used_at: row
                .try_get::<Option<i64>, _>("last_used_at_ms")?
                .map(from_millis),
            owner,
        }))
    }

    /// Deletes every token of a user; returns how many there were.
    pub async fn tokens_delete_of_user(&self, user_id: &str) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
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
