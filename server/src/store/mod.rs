//! All SQL lives here, one file per entity. One binary serves SQLite (the default, a file in the data
//! folder, WAL mode) and PostgreSQL, chosen at run time by the database URL. Queries are written once
//! with `$1`-style parameters, which both dialects accept; times are stored as Unix milliseconds
//! (BIGINT) so that both dialects index and compare them the same way.

pub mod audit;
pub mod brew_sessions;
pub mod devices;
pub mod errors;
pub mod login_failures;
pub mod recipes;
pub mod sessions;
pub mod telemetry;
pub mod tokens;
pub mod users;

use std::{str::FromStr, time::Duration};

use sqlx::{
    AnyPool, Executor, Row,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// The name used in logs and status pages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL: use sqlite://path or postgres://user@host/database")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("a row with the same unique value exists")]
    Conflict,
}

impl StoreError {
    /// Whether the database refused the values themselves (a constraint, a value it cannot hold), so
    /// that writing the same data again would fail again. Anything else (unreachable, busy, out of
    /// space, a table missing) may pass on a later try.
    pub fn is_refusal_of_data(&self) -> bool {
        match self {
            Self::Conflict => true,
            Self::Database(sqlx::Error::Encode(_)) => true,
            Self::Database(sqlx::Error::Database(error)) => {
                let Some(code) = error.code() else {
                    return false;
                };
                if error
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some()
                {
                    // SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation).
                    code.starts_with("22") || code.starts_with("23")
                } else {
                    // SQLite's primary result codes TOOBIG, CONSTRAINT, MISMATCH and RANGE.
                    code.parse::<u32>()
                        .is_ok_and(|code| matches!(code & 0xff, 18 | 19 | 20 | 25))
                }
            }
            _ => false,
        }
    }

    /// Whether the database could not be reached or is shutting down (as opposed to refusing a
    /// query): callers answer "unavailable, try again" rather than "internal error".
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => true,
            Self::Database(sqlx::Error::Database(error)) => error
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some_and(|error| {
                    // Connection exceptions and an administrator's shutdown.
                    error.code().starts_with("08") || error.code().starts_with("57P")
                }),
            _ => false,
        }
    }

    /// Turns a unique-constraint violation into [`StoreError::Conflict`].
    pub(crate) fn from_write(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(database) if database.is_unique_violation() => Self::Conflict,
            _ => Self::Database(error),
        }
    }
}

/// `$first, $first+1, …`: `count` numbered parameters. (sqlx's `QueryBuilder` for `Any` writes
/// `?`, which PostgreSQL refuses.)
fn numbered(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `count` parameters for an `IN (…)` list that holds all of a statement's parameters. Numbered on
/// PostgreSQL; plain `?` on SQLite, where each numbered parameter bound costs a walk of the
/// statement's parameter list (sqlx asks each one's name), which grows with the square of the
/// list (a batch's devices are looked up with up to 500).
pub(crate) fn in_list(backend: Backend, count: usize) -> String {
    match backend {
        Backend::Sqlite => vec!["?"; count].join(", "),
        Backend::Postgres => numbered(1, count),
    }
}

/// `(…), (…), …`: `rows` tuples of `columns` parameters each, for a multi-row `VALUES` that holds
/// all of a statement's parameters; numbered or plain as in [`in_list`].
pub(crate) fn value_rows(backend: Backend, rows: usize, columns: usize) -> String {
    let row = |index: usize| match backend {
        Backend::Sqlite => format!("({})", vec!["?"; columns].join(", ")),
        Backend::Postgres => format!("({})", numbered(index * columns + 1, columns)),
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// `text` with the `LIKE` wildcards escaped, for patterns written with `ESCAPE '\'`.
pub(crate) fn like_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The lower-cased copy of a searched text, stored beside it (`*_key` columns). Lower-casing in Rust
/// rather than with SQL's `LOWER()`, which is ASCII-only on SQLite, makes search behave the same on
/// both databases.
pub(crate) fn search_key(text: &str) -> String {
    text.to_lowercase()
}

/// A `LIKE` pattern (with `ESCAPE '\'`) that finds `text` anywhere in a [`search_key`] column; `%%`
/// for an empty text.
pub(crate) fn contains_pattern(text: &str) -> String {
    format!("%{}%", like_escape(&search_key(text.trim())))
}

/// Longest a caller of the main pool waits for a database connection (while the database is away,
/// sqlx keeps trying to connect until then); past it an HTTP request is answered 503. Not shorter:
/// with 1.5 s, starting servers in parallel on a busy 2-core machine timed out opening SQLite.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite settings for telemetry ingest, where one commit touches a page of each device's
/// samples: a page cache that holds them (16 MiB per connection, filled only as pages are read),
/// and a WAL checkpoint every 10,000 pages (about 40 MiB) instead of 1,000, so a page written by
/// many commits is copied into the database once per checkpoint rather than after nearly every
/// commit. Measured in a simulation of the batch pattern with Python's sqlite3: 5,900 -> 33,000
/// rows/s with both, each alone far less.
const SQLITE_TUNING: &[&str] = &[
    "PRAGMA cache_size = -16384",
    "PRAGMA wal_autocheckpoint = 10000",
];

/// The database behind every service.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens a connection pool. For SQLite the file is created when missing and switched to WAL mode.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_waiting(url, max_connections, ACQUIRE_TIMEOUT).await
    }

    /// [`Store::connect`], with callers waiting up to `wait` for a connection.
    pub async fn connect_waiting(
        url: &str,
        max_connections: u32,
        wait: Duration,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(wait)
            // A SQLite connection is a file in this process: pinging it before each use would only
            // add a round trip to its worker thread. A PostgreSQL connection may have died.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; NORMAL sync is safe with WAL.
                        connection.execute("PRAGMA journal_mode = WAL").await?;
                        connection.execute("PRAGMA synchronous = NORMAL").await?;
                        for pragma in SQLITE_TUNING {
                            connection.execute(*pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, backend })
    }

    /// Applies the migrations of this backend's dialect that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        self.fill_search_keys().await
    }

    /// Gives rows written before the search keys existed theirs (see migration 0009).
    async fn fill_search_keys(&self) -> Result<(), StoreError> {
        let users = sqlx::query("SELECT id, name FROM users WHERE name_key IS NULL")
            .fetch_all(&self.pool)
            .await?;
        for row in users {
            let (id, name): (String, String) = (row.try_get("id")?, row.try_get("name")?);
            sqlx::query("UPDATE users SET name_key = $2 WHERE id = $1")
                .bind(id)
                .bind(search_key(&name))
                .execute(&self.pool)
                .await?;
        }
        let devices = sqlx::query("SELECT id, name, model FROM devices WHERE name_key IS NULL")
            .fetch_all(&self.pool)
            .await?;
        for row in devices {
            let (id, name, model): (String, String, String) = (
                row.try_get("id")?,
                row.try_get("name")?,
                row.try_get("model")?,
            );
            sqlx::query("UPDATE devices SET name_key = $2, model_key = $3 WHERE id = $1")
                .bind(id)
                .bind(search_key(&name))
                .bind(search_key(&model))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection; waits for the ones in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool, for the entity modules of this folder.
    fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Milliseconds since the Unix epoch, the store's time format.
pub(crate) fn to_millis(time: chrono::DateTime<chrono::Utc>) -> i64 {
    time.timestamp_millis()
}

/// The time a stored millisecond count stands for; out-of-range values clamp to the epoch.
pub(crate) fn from_millis(millis: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// A nullable `f64` to bind. sqlx 0.8.6's `Any` driver sends a missing `f64` as a missing `f32` (and
/// the reverse; launchbadge/sqlx#4284), so a PostgreSQL statement first run with a missing reading
/// expects a 4-byte value in that column ever after and refuses the next real one. This sends a
/// missing value under the type PostgreSQL expects; present values go through unchanged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NullableDouble(pub Option<f64>);

impl sqlx::Type<sqlx::Any> for NullableDouble {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <f64 as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for NullableDouble {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        match self.0 {
            Some(value) => <f64 as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&value, buf),
            // The driver maps a missing f32 to a missing f64 when it converts the arguments.
            None => <Option<f32> as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&None, buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_sqlite_connection_is_tuned_for_ingest() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("tuned.db").display()
        );
        let store = Store::connect(&url, 2).await.unwrap();
        // Two connections at once: the settings are per connection, so each must have them.
        let mut first = store.pool().acquire().await.unwrap();
        let mut second = store.pool().acquire().await.unwrap();
        for connection in [&mut first, &mut second] {
            let checkpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                .fetch_one(&mut **connection)
                .await
                .unwrap();
            let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(&mut **connection)
                .await
                .unwrap();
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **connection)
                .await
                .unwrap();
            assert_eq!(
                (checkpoint, cache, journal.as_str()),
                (10_000, -16_384, "wal")
            );
        }
    }
}
