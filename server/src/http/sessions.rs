//! Signing in and out of web sessions, and the one-time "flash" a form post leaves for the next page.

use app::model::flash::Flash;
use axum::http::StatusCode;
use tower_sessions::Session;

use super::Problem;
use crate::auth::session_store::USER_ID_KEY;

const FLASH_KEY: &str = "flash";

fn session_problem(error: tower_sessions::session::Error) -> Problem {
    tracing::error!(%error, "session store error");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "Something went wrong on our side. It has been logged.",
    )
}

/// Signs a user in: a fresh session id (so an id planted before login is worthless), then the user.
pub async fn sign_in(session: &Session, user_id: &str) -> Result<(), Problem> {
    session.cycle_id().await.map_err(session_problem)?;
    session
        .insert(USER_ID_KEY, user_id)
        .await
        .map_err(session_problem)
}

/// Ends the session entirely.
pub async fn sign_out(session: &Session) -> Result<(), Problem> {
    session.flush().await.map_err(session_problem)
}

/// Leaves a flash for the next page.
pub async fn set_flash(session: &Session, flash: &Flash) -> Result<(), Problem> {
    session
        .insert(FLASH_KEY, flash)
        .await
        .map_err(session_problem)
}

/// Takes the flash, if any (it is shown once).
pub async fn take_flash(session: &Session) -> Result<Option<Flash>, Problem> {
    session
        .remove::<Flash>(FLASH_KEY)
        .await
        .map_err(session_problem)
}
