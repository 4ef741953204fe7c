//! `/api/v1/auth/*`: signup, login, logout, API tokens.

use app::model::{
    account::{ApiToken, CreatedToken, Role, User},
    page::Page,
};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use tower_sessions::Session;

use super::PageQuery;
use crate::{
    auth::Actor,
    http::{
        AppState, Problem,
        identity::ClientOrigin,
        problem::{ApiJson, ApiPath, ApiQuery},
        sessions,
    },
    services::accounts::NewAccount,
};

#[derive(Debug, Deserialize)]
pub struct SignupBody {
    email: String,
    password: String,
    name: Option<String>,
}

/// `POST /auth/signup`: creates a brewer account and signs it in.
pub async fn signup(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<(StatusCode, Json<User>), Problem> {
    let account = NewAccount {
        email: body.email,
        password: body.password,
        name: body.name,
    };
    let user = state
        .services
        .create_account(&actor, account, Role::Brewer, &origin)
        .await?;
    sessions::sign_in(&session, &user.id).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Debug, Deserialize)]
pub struct LoginBody {
    email: String,
    password: String,
}

/// `POST /auth/login`: starts a web session (a new session id).
pub async fn login(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<User>, Problem> {
    let user = state
        .services
        .login(&body.email, &body.password, &origin)
        .await?;
    sessions::sign_in(&session, &user.id).await?;
    Ok(Json(user))
}

/// `POST /auth/logout`: ends the session.
pub async fn logout(session: Session) -> Result<StatusCode, Problem> {
    sessions::sign_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct CreateTokenBody {
    email: String,
    password: String,
    label: String,
}

/// `POST /auth/tokens`: a new API token for the account with this email and password.
pub async fn create_token(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), Problem> {
    let token = state
        .services
        .create_token(&body.email, &body.password, &body.label, &origin)
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// `GET /auth/tokens`: the caller's tokens.
pub async fn list_tokens(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ApiToken>>, Problem> {
    let tokens = state
        .services
        .list_tokens(&actor, page.cursor.as_deref(), page.limit())
        .await?;
    Ok(Json(Page {
        items: tokens.items,
        next_cursor: tokens.next_after,
    }))
}

/// `DELETE /auth/tokens/{id}`: revokes one of the caller's tokens.
pub async fn revoke_token(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    state.services.revoke_token(&actor, &id, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
