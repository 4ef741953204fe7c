//! User accounts.

use app::model::{
    account::{Role, User},
    recipe::Units,
};
use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{Store, StoreError, contains_pattern, from_millis, to_millis};

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

const COLUMNS: &str = "id, email, name, password_hash, role, disabled_at_ms, created_at_ms, units";

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
            units: Units::parse(&row.try_get::<String, _>("units")?).unwrap_or_default(),
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
            "INSERT INTO users (id, email, email_key, name, name_key, password_hash, role, created_at_ms, \
             updated_at_ms) VALUES ($1, $2, $3, $4, $8, $5, $6, $7, $7)",
        )
        .bind(new.id)
        .bind(new.email)
        .bind(email_key(new.email))
        .bind(new.name)
        .bind(new.password_hash)
        .bind(new.role.as_str())
        .bind(to_millis(at))
        .bind(super::search_key(new.name))
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

    /// Changes name, email and units; [`StoreError::Conflict`] when the email is taken. `false`: no such
    /// user.
    pub async fn user_update_profile(
        &self,
        id: &str,
        name: &str,
        email: &str,
        units: Units,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE users SET name = $2, email = $3, email_key = $4, updated_at_ms = $5, units = $6, \
             name_key = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(email)
        .bind(email_key(email))
        .bind(to_millis(at))
        .bind(units.as_str())
        .bind(super::search_key(name))
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

/// One page of users for the admin site.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPage {
    /// Users with how many devices each has.
    pub items: Vec<(User, u64)>,
    pub next_after: Option<String>,
}

/// Why a guarded change of a staff account did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffChange {
    Done,
    NoSuchUser,
    /// It would leave no enabled staff account.
    LastStaff,
}

/// Enabled staff accounts other than `$1`.
const OTHER_ACTIVE_STAFF: &str =
    "(SELECT COUNT(*) FROM users WHERE role = 'staff' AND disabled_at_ms IS NULL AND id <> $1)";

impl Store {
    /// Users whose email or name contains `query` (all when empty), with ids after `after`, at most
    /// `limit` (1 to 500), oldest first.
    pub async fn users_search(
        &self,
        query: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<UserPage, StoreError> {
        let limit = i64::from(limit.clamp(1, 500));
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, (SELECT COUNT(*) FROM devices d WHERE d.owner_id = users.id) AS device_count \
             FROM users WHERE ($1 = '' OR id > $1) \
             AND ($2 = '%%' OR email_key LIKE $2 ESCAPE '\\' OR name_key LIKE $2 ESCAPE '\\') \
             ORDER BY id LIMIT $3"
        ))
        .bind(after.unwrap_or(""))
        .bind(contains_pattern(query))
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows
            .iter()
            .map(|row| {
                let devices: i64 = row.try_get("device_count")?;
                Ok((user_record(row)?.user, u64::try_from(devices).unwrap_or(0)))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let next_after = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|(user, _)| user.id.clone())
        } else {
            None
        };
        Ok(UserPage { items, next_after })
    }

    /// Sets a user's role; refuses to demote the last enabled staff account.
    pub async fn user_set_role(
        &self,
        id: &str,
        role: Role,
        at: DateTime<Utc>,
    ) -> Result<StaffChange, StoreError> {
        self.guarded_staff_change(
            id,
            &format!(
                "UPDATE users SET role = $3, updated_at_ms = $2 WHERE id = $1 \
                 AND ($3 = 'staff' OR role <> 'staff' OR disabled_at_ms IS NOT NULL OR {OTHER_ACTIVE_STAFF} > 0)"
            ),
            Some(role.as_str()),
            at,
        )
        .await
    }

    /// Disables an account (from `at` on); refuses to disable the last enabled staff account.
    pub async fn user_disable(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<StaffChange, StoreError> {
        self.guarded_staff_change(
            id,
            &format!(
                "UPDATE users SET disabled_at_ms = COALESCE(disabled_at_ms, $2), updated_at_ms = $2 WHERE id = $1 \
                 AND (role <> 'staff' OR disabled_at_ms IS NOT NULL OR {OTHER_ACTIVE_STAFF} > 0)"
            ),
            None,
            at,
        )
        .await
    }

    /// Runs an update of one user (`$1` id, `$2` time, `$3` the new role if any) whose condition counts
    /// the staff.
    /// On PostgreSQL two such updates could each count the other's row as staff and both pass, so they
    /// take one advisory lock in turn; SQLite runs one write at a time anyway.
    async fn guarded_staff_change(
        &self,
        id: &str,
        update: &str,
        role: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<StaffChange, StoreError> {
        let mut transaction = self.pool().begin().await?;
        if self.backend() == super::Backend::Postgres {
            // Selects a constant: the Any driver cannot decode the function's `void`.
            sqlx::query(
                "SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7262737)) AS advisory",
            )
            .execute(&mut *transaction)
            .await?;
        }
        let mut query = sqlx::query(update).bind(id).bind(to_millis(at));
        if let Some(role) = role {
            query = query.bind(role);
        }
        let changed = query.execute(&mut *transaction).await?.rows_affected();
        let outcome = if changed == 1 {
            StaffChange::Done
        } else {
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *transaction)
                .await?;
            if exists.is_some() {
                StaffChange::LastStaff
            } else {
                StaffChange::NoSuchUser
            }
        };
        transaction.commit().await?;
        Ok(outcome)
    }
}
