//! Web sessions (tower-sessions) kept in the store's database, so they survive restarts and are shared
//! by every server instance. The signed-in user's id is kept in its own column, which lets a password
//! change or a disabled account end that user's other sessions at once. Only a SHA-256 of each session
//! id is stored — as the row's key, and nowhere in its data — so reading the database (or a backup)
//! does not hand out live sessions.

use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store::{Error, Result},
};

use crate::store::Store;

/// The session key holding the signed-in user's id.
pub const USER_ID_KEY: &str = "user_id";

/// A tower-sessions store over [`Store`].
#[derive(Debug, Clone)]
pub struct DbSessionStore {
    store: Store,
}

impl DbSessionStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// What a row's `data` holds: the session's values, without its id (the row is keyed by the id's
/// hash; the id comes back from the cookie at load).
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    data: std::collections::HashMap<String, serde_json::Value>,
}

fn encode(record: &Record) -> Result<(String, Option<String>, i64)> {
    let stored = Stored {
        data: record.data.clone(),
    };
    let data = serde_json::to_string(&stored).map_err(|error| Error::Encode(error.to_string()))?;
    let user_id = record
        .data
        .get(USER_ID_KEY)
        .and_then(|value| value.as_str())
        .map(str::to_string);
    let expires_at_ms = (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64;
    Ok((data, user_id, expires_at_ms))
}

/// The stored form of a session id (what `sessions.id` holds).
pub fn key(id: &Id) -> String {
    crate::auth::token::hash(&id.to_string())
}

fn backend(error: impl std::fmt::Display) -> Error {
    Error::Backend(error.to_string())
}

#[async_trait::async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        loop {
            let (data, user_id, expires_at_ms) = encode(record)?;
            let created = self
                .store
                .session_create(&key(&record.id), user_id.as_deref(), &data, expires_at_ms)
                .await
                .map_err(backend)?;
            if created {
                return Ok(());
            }
            // 128 random bits collided: astronomically unlikely, but draw again.
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let (data, user_id, expires_at_ms) = encode(record)?;
        // A session ended meanwhile (logout, password change, disabled account) stays ended: a request
        // still holding it writes nothing back.
        self.store
            .session_save(&key(&record.id), user_id.as_deref(), &data, expires_at_ms)
            .await
            .map(|_still_there| ())
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let Some((data, expires_at_ms)) = self
            .store
            .session_load(&key(id), now_ms)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let stored: Stored =
            serde_json::from_str(&data).map_err(|error| Error::Decode(error.to_string()))?;
        let expiry_date =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_at_ms) * 1_000_000)
                .map_err(|error| Error::Decode(error.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data: stored.data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.store.session_delete(&key(id)).await.map_err(backend)
    }
}
