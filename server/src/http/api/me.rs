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
#[utoipa::path(
    get,
    path = "/me",
    tag = "me",
    operation_id = "show_me",
    responses((status = 200, description = "The caller's account", body = User, example = json!({"id": "0193a5f2-7c1e-7d10-9a52-1b2c3d4e5f60", "email": "ada@example.com", "name": "Ada", "role": "brewer", "units": "metric", "disabled": false, "created_at": "2026-11-22T10:00:00Z"})))
)]
pub async fn show(State(state): State<AppState>, actor: Actor) -> Result<Json<User>, Problem> {
    Ok(Json(state.services.me(&actor).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ProfileBody {
    name: Option<String>,
    email: Option<String>,
    /// `metric` or `imperial`: how recipes show amounts.
    units: Option<String>,
    /// The account's password: required when `email` changes.
    current_password: Option<String>,
}

/// `PATCH /me`: changes name, email and/or units; changing the email takes the password.
#[utoipa::path(
    patch,
    path = "/me",
    tag = "me",
    operation_id = "update_me",
    request_body(content = ProfileBody, example = json!({"name": "Ada L.", "units": "imperial"})),
    responses(
        (status = 200, description = "The changed account", body = User, example = json!({"id": "0193a5f2-7c1e-7d10-9a52-1b2c3d4e5f60", "email": "ada@example.com", "name": "Ada", "role": "brewer", "units": "metric", "disabled": false, "created_at": "2026-11-22T10:00:00Z"})),
        (status = 422, description = "`validation_failed`: a field is wrong, `fields.current_password`: the email changes and the password is missing or wrong, or `fields.email`: an account with this email exists already", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: too many wrong passwords; wait for `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
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
        current_password: body.current_password,
    };
    Ok(Json(
        state.services.update_me(&actor, change, &origin).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// `POST /me/password`: changes the password; every other session and every API token of the user
/// ends.
#[utoipa::path(
    post,
    path = "/me/password",
    tag = "me",
    operation_id = "change_password",
    request_body(content = PasswordBody, example = json!({"current_password": "correct horse battery", "new_password": "a longer passphrase now"})),
    responses(
    (status = 204, description = "Changed; every other session and every API token of the account has ended"),
    (status = 429, description = "`too_many_attempts`: too many wrong passwords; wait for `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait"))),
)
)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeleteBody {
    password: String,
}

/// `DELETE /me`: deletes the account after checking the password.
#[utoipa::path(
    delete,
    path = "/me",
    tag = "me",
    operation_id = "delete_me",
    request_body(content = DeleteBody, example = json!({"password": "correct horse battery"})),
    responses(
    (status = 204, description = "The account, its devices and recipes are deleted"),
    (status = 429, description = "`too_many_attempts`: too many wrong passwords; wait for `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait"))),
)
)]
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
