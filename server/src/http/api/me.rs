//! `/api/v1/me`: the caller's own account.

use app::model::account::User;
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use tower_sessions::Session;

use crate::{
    auth::{Actor, Credential},
    http::{AppState, Problem, identity::ClientOrigin, problem::ApiJson},
    services::accounts::ProfileChange,
};

/// `GET /me`.
pub async fn show(State(state): State<AppState>, actor: Actor) -> Result<Json<User>, Problem> {
    Ok(Json(state.services.me(&actor).await?))
}

#[derive(Debug, Deserialize)]
pub struct ProfileBody {
    name: Option<String>,
    email: Option<String>,
    /// `metric` or `imperial`: how recipes show amounts.
    units: Option<String>,
}

/// `PATCH /me`: changes name, email and/or units.
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<Json<User>, Problem> {
    let change = ProfileChange {
        name: body.name,
        email: body.email,
        units: body.units,
    };
    Ok(Json(
        state.services.update_me(&actor, change, &origin).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// `POST /me/password`: changes the password; every other session of the user ends.
pub async fn change_password(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<StatusCode, Problem> {
    let keep = matches!(&actor, Actor::User(user) if user.credential == Credential::Session)
        .then(|| session.id().as_ref().map(crate::auth::session_store::key))
        .flatten();
    state
        .services
        .change_password(
            &actor,
            &body.current_password,
            &body.new_password,
            keep.as_deref(),
            &origin,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct DeleteBody {
    password: String,
}

/// `DELETE /me`: deletes the account after checking the password.
pub async fn delete(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    ApiJson(body): ApiJson<DeleteBody>,
) -> Result<StatusCode, Problem> {
    state
        .services
        .delete_me(&actor, &body.password, &origin)
        .await?;
    let _ = session.flush().await;
    Ok(StatusCode::NO_CONTENT)
}
