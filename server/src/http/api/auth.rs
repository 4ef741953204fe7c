//! `/api/v1/auth/*`: signup, login, logout, API tokens.

use app::model::{
    account::{ApiToken, CreatedToken, Role, TokenScope, User},
    page::Page,
};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use tower_sessions::Session;

use super::{PageQuery, openapi::IdPath};
use crate::{
    auth::Actor,
    http::{
        AppState, Problem,
        identity::ClientOrigin,
        problem::{ApiJson, ApiPath, ApiQuery},
        sessions,
    },
    services::{accounts::NewAccount, tokens::TokenRequest},
};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignupBody {
    email: String,
    password: String,
    name: Option<String>,
}

/// `POST /auth/signup`: creates a brewer account and signs it in.
#[utoipa::path(
    post,
    path = "/auth/signup",
    tag = "auth",
    operation_id = "signup",
    security(()),
    request_body(content = SignupBody, example = json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"})),
    responses(
        (status = 201, description = "The new account, signed in (a session cookie is set)", body = User, example = json!({"id": "0193a5f2-7c1e-7d10-9a52-1b2c3d4e5f60", "email": "ada@example.com", "name": "Ada", "role": "brewer", "units": "metric", "disabled": false, "created_at": "2026-11-22T10:00:00Z"})),
        (status = 422, description = "`validation_failed`: a field is wrong, or `fields.email`: an account with this email exists already", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: this address created `http.signups_per_address` accounts within 15 minutes; wait for `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until a signup from this address is accepted again"))),
    )
)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    email: String,
    password: String,
}

/// `POST /auth/login`: starts a web session (a new session id).
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    operation_id = "login",
    security(()),
    request_body(content = LoginBody, example = json!({"email": "ada@example.com", "password": "correct horse battery"})),
    responses(
        (status = 200, description = "Signed in: the session cookie is set", body = User, example = json!({"id": "0193a5f2-7c1e-7d10-9a52-1b2c3d4e5f60", "email": "ada@example.com", "name": "Ada", "role": "brewer", "units": "metric", "disabled": false, "created_at": "2026-11-22T10:00:00Z"})),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: wait for `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
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
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    operation_id = "logout",
    security(()),
    responses((status = 204, description = "The session (if any) has ended"))
)]
pub async fn logout(session: Session) -> Result<StatusCode, Problem> {
    sessions::sign_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateTokenBody {
    email: String,
    password: String,
    label: String,
    /// What the token may do (default `full`; `admin` only for staff accounts).
    #[serde(default)]
    scope: TokenScope,
    /// Days until the token stops working (1 to 3650); leave out for no expiry.
    #[serde(default)]
    expires_in_days: Option<u32>,
}

/// `POST /auth/tokens`: a new API token for the account with this email and password.
#[utoipa::path(
    post,
    path = "/auth/tokens",
    tag = "auth",
    operation_id = "create_token",
    security(()),
    request_body(content = CreateTokenBody, example = json!({"email": "ada@example.com", "password": "correct horse battery", "label": "my phone", "scope": "devices", "expires_in_days": 90})),
    responses(
        (status = 201, description = "The token: its secret is shown only now", body = CreatedToken,
            example = json!({"id": "0193a5f2-9d3e-7b21-8c11-2a3b4c5d6e7f", "label": "my phone", "token": "blk_8J2kq0V3mZ7xR1tW5yN6pA4sD9fG2hL0", "scope": "devices", "created_at": "2026-11-22T10:00:00Z", "expires_at": "2027-02-20T10:00:00Z"})),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: wait for `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), Problem> {
    let token = state
        .services
        .create_token(
            &body.email,
            &body.password,
            &TokenRequest {
                label: body.label,
                scope: body.scope,
                expires_in_days: body.expires_in_days,
            },
            &origin,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// `GET /auth/tokens`: the caller's tokens.
#[utoipa::path(
    get,
    path = "/auth/tokens",
    tag = "auth",
    operation_id = "list_tokens",
    params(PageQuery),
    responses((status = 200, description = "The caller's tokens (without their secrets)", body = Page<ApiToken>))
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ApiToken>>, Problem> {
    let tokens = state
        .services
        .list_tokens(&actor, page.cursor(), page.limit()?)
        .await?;
    Ok(Json(Page {
        items: tokens.items,
        next_cursor: tokens.next_after,
    }))
}

/// `DELETE /auth/tokens/{id}`: revokes one of the caller's tokens.
#[utoipa::path(
    delete,
    path = "/auth/tokens/{id}",
    tag = "auth",
    operation_id = "revoke_token",
    params(IdPath),
    responses((status = 204, description = "Revoked: the token no longer works"))
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    state.services.revoke_token(&actor, &id, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
