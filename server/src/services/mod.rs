//! The operations the web UI, server functions, the JSON API and the CLI all call. Each receives the
//! [`Actor`](crate::auth::Actor) and decides authorization here, once, for every caller.

pub mod accounts;
pub mod admin;
pub mod brew_sessions;
pub mod commands;
pub mod devices;
pub mod recipes;
pub mod telemetry;
pub mod tokens;

use std::{collections::BTreeMap, net::IpAddr, sync::Arc, time::Duration};

use crate::{
    auth::{Actor, Denied},
    errors::ErrorTracker,
    store::{Store, StoreError, audit::NewAuditEvent},
};

/// Where a request came from, for throttling and the audit log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    pub ip: Option<IpAddr>,
}

/// Why an operation did not happen. The HTTP layer maps each to a status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("not allowed")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("some fields are invalid")]
    Validation(BTreeMap<String, String>),
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("too many attempts; try again in {} s", retry_after.as_secs())]
    TooManyAttempts { retry_after: Duration },
    #[error("{limit} live streams are open with this credential already")]
    TooManyStreams { limit: usize },
    #[error("the device is offline")]
    DeviceOffline,
    #[error("the device did not answer in time")]
    DeviceTimeout,
    #[error("the device refused: {0}")]
    DeviceRefused(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("the server is busy; try again in {} s", retry_after.as_secs())]
    Busy { retry_after: Duration },
    #[error("internal error")]
    Internal(String),
}

impl From<Denied> for ServiceError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Unauthenticated => Self::Unauthenticated,
            Denied::Forbidden => Self::Forbidden,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store error");
        if error.is_unavailable() {
            Self::Unavailable("the database is not answering".to_string())
        } else {
            Self::Internal(error.to_string())
        }
    }
}

impl ServiceError {
    /// A validation error of one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(BTreeMap::from([(field.into(), message.into())]))
    }

    /// Validation errors by field, or `Ok` when there are none.
    pub fn check_fields<K: Into<String>>(errors: BTreeMap<K, String>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self::Validation(
                errors
                    .into_iter()
                    .map(|(field, message)| (field.into(), message))
                    .collect(),
            ))
        }
    }
}

/// The services, with what they share.
#[derive(Debug, Clone)]
pub struct Services {
    pub store: Store,
    /// Where server errors and device problems are counted for the admin site.
    pub errors: ErrorTracker,
    devices: Option<Arc<devices::DeviceSupport>>,
    hash_limit: HashLimit,
    /// Most public signups per client address within the throttle window.
    signup_limit: u32,
}

impl Services {
    /// Services over a store; device operations also need [`Services::with_devices`].
    pub fn new(store: Store) -> Self {
        Self {
            store,
            errors: ErrorTracker::default(),
            devices: None,
            hash_limit: HashLimit::default(),
            signup_limit: 10,
        }
    }

    /// Allows this many public signups per client address within the throttle window (15 min).
    pub fn with_signup_limit(self, signup_limit: u32) -> Self {
        Self {
            signup_limit,
            ..self
        }
    }

    /// Bounds password hashing with this limit instead of the default one.
    pub fn with_hash_limit(self, hash_limit: HashLimit) -> Self {
        Self { hash_limit, ..self }
    }

    /// Counts errors into this tracker (the one the broker and the bridge use) instead of its own.
    pub fn with_errors(self, errors: ErrorTracker) -> Self {
        Self { errors, ..self }
    }

    /// Adds what device operations need: the PKI, the broker, and the address devices connect to.
    pub fn with_devices(self, support: devices::DeviceSupport) -> Self {
        Self {
            devices: Some(Arc::new(support)),
            ..self
        }
    }

    /// Appends to the audit log; a failure is logged, never lost silently, and does not undo the action.
    pub(crate) async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        subject: String,
        detail: serde_json::Value,
        origin: &Origin,
    ) {
        let event = NewAuditEvent {
            actor: actor.audit_name(),
            action: action.to_string(),
            subject,
            detail,
            source_ip: origin.ip.map(|ip| ip.to_string()),
        };
        if let Err(error) = self.store.audit_record(&event, chrono::Utc::now()).await {
            tracing::error!(%error, action, "could not write the audit log");
        }
    }
}

/// Bounds password hashing (argon2id: 19 MiB and tens of milliseconds of a core each): at most
/// `at_once` hashes or checks run together; a request waits at most `wait` for a turn, then is told to
/// come back (`503` with `Retry-After`).
#[derive(Debug, Clone)]
pub struct HashLimit {
    slots: Arc<tokio::sync::Semaphore>,
    wait: Duration,
}

impl HashLimit {
    /// At most `at_once` (at least 1) at a time, each waiting at most `wait` for its turn.
    pub fn new(at_once: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(tokio::sync::Semaphore::new(at_once.max(1))),
            wait,
        }
    }
}

impl Default for HashLimit {
    /// 4 at once, 10 s of waiting.
    fn default() -> Self {
        Self::new(4, Duration::from_secs(10))
    }
}

/// What a request that found no hashing turn is told to wait, seconds.
const HASH_RETRY_AFTER: Duration = Duration::from_secs(5);

impl Services {
    /// Runs a password hash or check off the async threads within the [`HashLimit`]. The turn is held
    /// until the work ends, even if the request that asked is gone meanwhile.
    pub(crate) async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let limit = &self.hash_limit;
        let Ok(Ok(turn)) =
            tokio::time::timeout(limit.wait, limit.slots.clone().acquire_owned()).await
        else {
            self.errors.record(
                "server.hashing_busy",
                "passwords",
                format!(
                    "a password check waited {} ms for one of the hashing turns and was refused",
                    limit.wait.as_millis()
                ),
            );
            return Err(ServiceError::Busy {
                retry_after: HASH_RETRY_AFTER,
            });
        };
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(turn);
            result
        })
        .await
        .map_err(|error| ServiceError::Internal(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_unavailable_not_an_internal_error() {
        let away = ServiceError::from(StoreError::Database(sqlx::Error::PoolTimedOut));
        assert!(matches!(away, ServiceError::Unavailable(_)), "{away:?}");
        let problem = crate::http::Problem::from(away);
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (503, "unavailable")
        );
        let broken = ServiceError::from(StoreError::Database(sqlx::Error::RowNotFound));
        assert!(matches!(broken, ServiceError::Internal(_)), "{broken:?}");
    }
}
