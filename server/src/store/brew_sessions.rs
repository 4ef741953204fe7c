//! Brew sessions: a recipe snapshot and its compiled program, the progress events the device sends,
//! and the brewer's notes.

use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{NullableDouble, Store, StoreError, from_millis, to_millis};

/// A brew session as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: String,
    pub owner_id: String,
    pub device_id: String,
    pub recipe_id: Option<String>,
    /// The `RecipeBody` as JSON, as it was when the session started.
    pub recipe: String,
    /// The planned steps as JSON.
    pub steps: String,
    /// `running`, `paused`, `completed` or `aborted`.
    pub state: String,
    pub reason: String,
    pub measured_og: Option<f64>,
    pub measured_fg: Option<f64>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// A progress event of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEventRecord {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub step_index: u32,
    pub remaining_s: u32,
    pub message: String,
}

/// A brewer's note on a session.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub step_index: Option<u32>,
    pub text: String,
}

const COLUMNS: &str = "id, owner_id, device_id, recipe_id, recipe, steps, state, reason, measured_og, \
    measured_fg, started_at_ms, ended_at_ms";

fn session(row: &AnyRow) -> Result<SessionRecord, sqlx::Error> {
    Ok(SessionRecord {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        device_id: row.try_get("device_id")?,
        recipe_id: row.try_get("recipe_id")?,
        recipe: row.try_get("recipe")?,
        steps: row.try_get("steps")?,
        state: row.try_get("state")?,
        reason: row.try_get("reason")?,
        measured_og: row.try_get("measured_og")?,
        measured_fg: row.try_get("measured_fg")?,
        started_at: from_millis(row.try_get("started_at_ms")?),
        ended_at: row
            .try_get::<Option<i64>, _>("ended_at_ms")?
            .map(from_millis),
    })
}

fn small(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

/// Sessions that still run on their device.
const ACTIVE: &str = "state IN ('running', 'paused')";

impl Store {
    /// Stores a new session; [`StoreError::Conflict`] when the device already has an active one.
    pub async fn brew_session_insert(&self, record: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO brew_sessions (id, owner_id, device_id, recipe_id, recipe, steps, state, reason, \
             started_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&record.id)
        .bind(&record.owner_id)
        .bind(&record.device_id)
        .bind(record.recipe_id.as_deref())
        .bind(&record.recipe)
        .bind(&record.steps)
        .bind(&record.state)
        .bind(&record.reason)
        .bind(to_millis(record.started_at))
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// A session by id.
    pub async fn brew_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM brew_sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(session).transpose()?)
    }

    /// An owner's sessions, newest first, ids before `before`, at most `limit`.
    pub async fn brew_sessions_of_owner(
        &self,
        owner_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<SessionRecord>, Option<String>), StoreError> {
        let limit = i64::from(limit.clamp(1, 500));
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM brew_sessions WHERE owner_id = $1 AND ($2 = '' OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(owner_id)
        .bind(before.unwrap_or(""))
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows.iter().map(session).collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|record| record.id.clone())
        } else {
            None
        };
        Ok((items, next))
    }

    /// The session still running (or paused) on a device, if any.
    pub async fn brew_session_active_on(
        &self,
        device_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM brew_sessions WHERE device_id = $1 AND {ACTIVE} ORDER BY id DESC LIMIT 1"
        ))
        .bind(device_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(session).transpose()?)
    }

    /// Moves an active session to `state` (ending it when `ended_at` is given). `false`: no such active
    /// session.
    pub async fn brew_session_set_state(
        &self,
        id: &str,
        state: &str,
        reason: &str,
        ended_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(&format!(
            "UPDATE brew_sessions SET state = $2, reason = $3, ended_at_ms = $4 WHERE id = $1 AND {ACTIVE}"
        ))
        .bind(id)
        .bind(state)
        .bind(reason)
        .bind(ended_at.map(to_millis))
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records the measured original and final gravity. `false`: no such session.
    pub async fn brew_session_set_measured(
        &self,
        id: &str,
        og: Option<f64>,
        fg: Option<f64>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE brew_sessions SET measured_og = $2, measured_fg = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(NullableDouble(og))
        .bind(NullableDouble(fg))
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records a progress event of the active session `id` on `device_id`, and moves the session to
    /// `new_state` if given (ended at the event's time for `completed` and `aborted`). `false`: the
    /// device runs no such session (an old or foreign program id).
    pub async fn brew_session_event_add(
        &self,
        id: &str,
        device_id: &str,
        event: &SessionEventRecord,
        new_state: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        // Touching the row locks it until the commit (on SQLite, the whole database), so a session
        // ended meanwhile (abort from the API) is seen as ended here and never written back.
        let active = sqlx::query(&format!(
            "UPDATE brew_sessions SET state = state WHERE id = $1 AND device_id = $2 AND {ACTIVE}"
        ))
        .bind(id)
        .bind(device_id)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        if active == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO brew_session_events (session_id, at_ms, kind, step_index, remaining_s, message) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(to_millis(event.at))
        .bind(&event.kind)
        .bind(i64::from(event.step_index))
        .bind(i64::from(event.remaining_s))
        .bind(&event.message)
        .execute(&mut *transaction)
        .await?;
        if let Some(state) = new_state {
            let ended = matches!(state, "completed" | "aborted").then(|| to_millis(event.at));
            let reason = if state == "aborted" {
                event.message.as_str()
            } else {
                ""
            };
            sqlx::query(
                "UPDATE brew_sessions SET state = $2, reason = $3, ended_at_ms = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(state)
            .bind(reason)
            .bind(ended)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(true)
    }

    /// A session's progress events, oldest first (timer ticks are not stored).
    pub async fn brew_session_events(
        &self,
        id: &str,
    ) -> Result<Vec<SessionEventRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_ms, kind, step_index, remaining_s, message FROM brew_session_events \
             WHERE session_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SessionEventRecord {
                    at: from_millis(row.try_get("at_ms")?),
                    kind: row.try_get("kind")?,
                    step_index: small(row.try_get("step_index")?),
                    remaining_s: small(row.try_get("remaining_s")?),
                    message: row.try_get("message")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Adds a note; returns its id.
    pub async fn brew_session_note_add(
        &self,
        id: &str,
        at: DateTime<Utc>,
        step_index: Option<u32>,
        text: &str,
    ) -> Result<i64, StoreError> {
        let note_id = sqlx::query(
            "INSERT INTO brew_session_notes (session_id, at_ms, step_index, text) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(id)
        .bind(to_millis(at))
        .bind(step_index.map(i64::from))
        .bind(text)
        .fetch_one(self.pool())
        .await?
        .try_get::<i64, _>("id")?;
        Ok(note_id)
    }

    /// A session's notes, oldest first.
    pub async fn brew_session_notes(&self, id: &str) -> Result<Vec<NoteRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at_ms, step_index, text FROM brew_session_notes WHERE session_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(NoteRecord {
                    id: row.try_get("id")?,
                    at: from_millis(row.try_get("at_ms")?),
                    step_index: row.try_get::<Option<i64>, _>("step_index")?.map(small),
                    text: row.try_get("text")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
