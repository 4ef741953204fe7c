//! User accounts.

use app::model::account::{Role, User};
use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{Store, StoreError, from_millis, to_millis};

/// A stored user, with what only the server sees.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
}

/// A user to insert.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
}

const COLUMNS: &str = "id, email, name, password_hash, role, disabled_at_ms, created_at_ms";

fn user_record(row: &AnyRow) -> Result<UserRecord, sqlx::Error> {
    let role: String = row.try_get("role")?;
    let disabled_at: Option<i64> = row.try_get("disabled_at_ms")?;
    Ok(UserRecord {
        user: User {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            role: Role::parse(&role).unwrap_or(Role::Brewer),
            disabled: disabled_at.is_some(),
            created_at: from_millis(row.try_get("created_at_ms")?),
        },
        password_hash: row.try_get("password_hash")?,
    })
}

/// Emails are unique without regard to case.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Store {
    /// Inserts a user; [`StoreError::Conflict`] when the email is taken.
    pub async fn user_insert(
        &self,
        new: &NewUser<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, email, email_key, name, password_hash, role, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(new.id)
        .bind(new.email)
        .bind(email_key(new.email))
        .bind(new.name)
        .bind(new.password_hash)
        .bind(new.role.as_str())
        .bind(to_millis(at))
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// A user by id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(user_record).transpose()?)
    }

    /// A user by email, in any case.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE email_key = $1"))
            .bind(email_key(email))
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(user_record).transpose()?)
    }

    /// Changes name and email; [`StoreError::Conflict`] when the email is taken. `false`: no such user.
    pub async fn user_update_profile(
        &self,
        id: &str,
        name: &str,
        email: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE users SET name = $2, email = $3, email_key = $4, updated_at_ms = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(email)
        .bind(email_key(email))
        .bind(to_millis(at))
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(result.rows_affected() == 1)
    }

    /// Replaces a user's password hash. `false`: no such user.
    pub async fn user_set_password(
        &self,
        id: &str,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at_ms = $3 WHERE id = $1")
                .bind(id)
                .bind(password_hash)
                .bind(to_millis(at))
                .execute(self.pool())
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Disables (with the time) or enables (`None`) an account. `false`: no such user.
    pub async fn user_set_disabled(
        &self,
        id: &str,
        disabled_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE users SET disabled_at_ms = $2 WHERE id = $1")
            .bind(id)
            .bind(disabled_at.map(to_millis))
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Deletes a user with their tokens and sessions. `false`: no such user.
    pub async fn user_delete(&self, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() == 1)
    }
}
