//! The web pages' forms: plain HTML form posts, so they work before (and without) hydration. Each
//! handler calls the same service as the JSON API, leaves a flash (errors or a notice) in the session,
//! and redirects (post/redirect/get).

use std::collections::BTreeMap;

use app::model::{
    account::{Role, TokenScope},
    flash::Flash,
};
use axum::{
    Form, Router,
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
    routing::post,
};
use serde::Deserialize;
use tower_sessions::Session;

use super::{AppState, Problem, identity::ClientOrigin, sessions};
use crate::{
    auth::Actor,
    services::{
        ServiceError,
        accounts::{NewAccount, ProfileChange},
        devices::DeviceChange,
        tokens::TokenRequest,
    },
};

/// The form routes (GET of the same paths renders the pages).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signup", post(signup))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/account/profile", post(update_profile))
        .route("/account/password", post(change_password))
        .route("/account/tokens", post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
        .route("/account/delete", post(delete_account))
        .route("/devices", post(register_device))
        .route("/devices/{id}/rename", post(rename_device))
        .route("/devices/{id}/rotate", post(rotate_certificate))
        .route("/devices/{id}/unregister", post(unregister_device))
        .route("/recipes/import", post(import_recipes))
        .route("/recipes/{id}/clone", post(clone_recipe))
        .route("/recipes/{id}/delete", post(delete_recipe))
        .route("/recipes/{id}/start", post(start_session))
        .route("/sessions/{id}/notes", post(add_session_note))
        .route("/sessions/{id}/gravity", post(set_session_gravity))
        .route("/sessions/{id}/{action}", post(control_session))
        .route("/admin/users/{id}/{change}", post(admin_change_user))
        .route("/admin/devices/{id}/{action}", post(admin_device_action))
}

/// A flash for `form` from a service error, keeping the given values.
fn failed(form: &str, error: ServiceError, values: &[(&str, &str)]) -> Flash {
    let errors = match error {
        ServiceError::Validation(fields) => fields
            .into_iter()
            .map(|(field, message)| (field.to_string(), message))
            .collect(),
        other => BTreeMap::from([(String::new(), Problem::from(other).detail)]),
    };
    Flash {
        form: form.to_string(),
        values: values
            .iter()
            .map(|(field, value)| (field.to_string(), value.to_string()))
            .collect(),
        errors,
        ..Flash::default()
    }
}

/// Leaves the flash (in a cookie) and redirects (303: the browser follows with GET).
async fn redirect_with(state: &AppState, flash: Flash, to: &str) -> Response {
    let name = sessions::flash_cookie_name(&state.session_cookie);
    let cookie = sessions::flash_cookie(&name, &flash, state.secure_cookies);
    ([(header::SET_COOKIE, cookie)], Redirect::to(to)).into_response()
}

fn notice(form: &str, text: &str) -> Flash {
    Flash {
        form: form.to_string(),
        notice: Some(text.to_string()),
        ..Flash::default()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignupForm {
    name: String,
    email: String,
    password: String,
}

async fn signup(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    Form(form): Form<SignupForm>,
) -> Response {
    let account = NewAccount {
        email: form.email.clone(),
        password: form.password,
        name: Some(form.name.clone()),
    };
    match state
        .services
        .create_account(&actor, account, Role::Brewer, &origin)
        .await
    {
        Ok(user) => match sessions::sign_in(&session, &user.id).await {
            Ok(()) => {
                redirect_with(
                    &state,
                    notice("account", "Welcome to BrewLink! Your account is ready."),
                    "/account",
                )
                .await
            }
            Err(problem) => problem.into_response(),
        },
        Err(error) => {
            let flash = failed(
                "signup",
                error,
                &[("name", &form.name), ("email", &form.email)],
            );
            redirect_with(&state, flash, "/signup").await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    Form(form): Form<LoginForm>,
) -> Response {
    match state
        .services
        .login(&form.email, &form.password, &origin)
        .await
    {
        Ok(user) => match sessions::sign_in(&session, &user.id).await {
            Ok(()) => Redirect::to("/account").into_response(),
            Err(problem) => problem.into_response(),
        },
        Err(error) => {
            redirect_with(
                &state,
                failed("login", error, &[("email", &form.email)]),
                "/login",
            )
            .await
        }
    }
}

async fn logout(session: Session) -> Response {
    match sessions::sign_out(&session).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(problem) => problem.into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    name: String,
    email: String,
    units: Option<String>,
    current_password: String,
}

async fn update_profile(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Form(form): Form<ProfileForm>,
) -> Response {
    let change = ProfileChange {
        name: Some(form.name.clone()),
        email: Some(form.email.clone()),
        units: form.units.clone(),
        current_password: Some(form.current_password.clone()),
    };
    let flash = match state.services.update_me(&actor, change, &origin).await {
        Ok(_) => notice("profile", "Profile saved."),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed(
            "profile",
            error,
            &[("name", &form.name), ("email", &form.email)],
        ),
    };
    redirect_with(&state, flash, "/account").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    Form(form): Form<PasswordForm>,
) -> Response {
    let keep = session.id().as_ref().map(crate::auth::session_store::key);
    let result = state
        .services
        .change_password(
            &actor,
            &form.current_password,
            &form.new_password,
            keep.as_deref(),
            &origin,
        )
        .await;
    let flash = match result {
        Ok(()) => notice(
            "password",
            "Password changed. Your other sessions have been signed out.",
        ),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed("password", error, &[]),
    };
    redirect_with(&state, flash, "/account").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    label: String,
    password: String,
    /// `read`, `devices`, `full` (the default) or `admin`.
    scope: String,
    /// Days until it expires; empty for never.
    expires_in_days: String,
}

async fn create_token(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Form(form): Form<TokenForm>,
) -> Response {
    let Actor::User(me) = &actor else {
        return Redirect::to("/login").into_response();
    };
    let scope = if form.scope.is_empty() {
        Ok(TokenScope::default())
    } else {
        TokenScope::parse(&form.scope)
            .ok_or_else(|| ServiceError::field("scope", "Choose one of the scopes."))
    };
    let expires_in_days = match form.expires_in_days.trim() {
        "" => Ok(None),
        days => days.parse().map(Some).map_err(|_| {
            ServiceError::field(
                "expires_in_days",
                "Give a number of days, or leave it empty.",
            )
        }),
    };
    let created = match (scope, expires_in_days) {
        (Ok(scope), Ok(expires_in_days)) => {
            let request = TokenRequest {
                label: form.label.clone(),
                scope,
                expires_in_days,
            };
            state
                .services
                .create_token(&me.email, &form.password, &request, &origin)
                .await
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    let flash = match created {
        Ok(token) => Flash {
            form: "tokens".to_string(),
            notice: Some("Token created. Copy it now: it will not be shown again.".to_string()),
            created_token: Some(token),
            ..Flash::default()
        },
        Err(ServiceError::InvalidCredentials) => failed(
            "tokens",
            ServiceError::field("password", "This is not your password."),
            &[("label", &form.label)],
        ),
        Err(error) => failed("tokens", error, &[("label", &form.label)]),
    };
    redirect_with(&state, flash, "/account#tokens").await
}

async fn revoke_token(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
) -> Response {
    let flash = match state.services.revoke_token(&actor, &id, &origin).await {
        Ok(()) => notice("tokens", "Token revoked."),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed("tokens", error, &[]),
    };
    redirect_with(&state, flash, "/account#tokens").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeleteForm {
    password: String,
}

async fn delete_account(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    Form(form): Form<DeleteForm>,
) -> Response {
    match state
        .services
        .delete_me(&actor, &form.password, &origin)
        .await
    {
        Ok(()) => {
            let _ = sessions::sign_out(&session).await;
            Redirect::to("/").into_response()
        }
        Err(ServiceError::Unauthenticated) => Redirect::to("/login").into_response(),
        Err(error) => redirect_with(&state, failed("delete", error, &[]), "/account#delete").await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeviceForm {
    name: String,
    model: String,
}

async fn register_device(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Form(form): Form<DeviceForm>,
) -> Response {
    match state
        .services
        .register_device(&actor, &form.name, &form.model, &origin)
        .await
    {
        Ok(credentials) => {
            let flash = notice(
                "device",
                "Device registered. Download its bundle and put the files on the device.",
            );
            redirect_with(
                &state,
                flash,
                &format!("/devices/{}", credentials.device.id),
            )
            .await
        }
        Err(ServiceError::Unauthenticated) => Redirect::to("/login").into_response(),
        Err(error) => {
            let flash = failed(
                "register",
                error,
                &[("name", &form.name), ("model", &form.model)],
            );
            redirect_with(&state, flash, "/devices").await
        }
    }
}

async fn rename_device(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    Form(form): Form<DeviceForm>,
) -> Response {
    let change = DeviceChange {
        name: Some(form.name.clone()),
        model: Some(form.model.clone()),
    };
    let flash = match state
        .services
        .update_device(&actor, &id, change, &origin)
        .await
    {
        Ok(_) => notice("rename", "Saved."),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed(
            "rename",
            error,
            &[("name", &form.name), ("model", &form.model)],
        ),
    };
    redirect_with(&state, flash, &format!("/devices/{id}")).await
}

async fn rotate_certificate(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
) -> Response {
    let flash = match state
        .services
        .rotate_certificate(&actor, &id, &origin)
        .await
    {
        Ok(_) => notice(
            "certificate",
            "New certificate issued. Download the bundle again: the old certificate no longer connects.",
        ),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed("certificate", error, &[]),
    };
    redirect_with(&state, flash, &format!("/devices/{id}")).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UnregisterForm {
    confirm: Option<String>,
}

async fn unregister_device(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    Form(form): Form<UnregisterForm>,
) -> Response {
    let back = format!("/devices/{id}");
    if form.confirm.is_none() {
        let error = ServiceError::field(
            "",
            "Tick the box to confirm: the device will be disconnected.",
        );
        return redirect_with(&state, failed("certificate", error, &[]), &back).await;
    }
    match state.services.unregister_device(&actor, &id, &origin).await {
        Ok(()) => {
            let flash = notice(
                "devices",
                "Device unregistered; its certificate is revoked.",
            );
            redirect_with(&state, flash, "/devices").await
        }
        Err(ServiceError::Unauthenticated) => Redirect::to("/login").into_response(),
        Err(error) => redirect_with(&state, failed("certificate", error, &[]), &back).await,
    }
}

/// `POST /admin/users/{id}/disable|enable|promote|demote`: the admin site's user buttons.
async fn admin_change_user(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Path((id, change)): Path<(String, String)>,
) -> Response {
    let services = &state.services;
    let outcome = match change.as_str() {
        "disable" => services
            .admin_set_disabled(&actor, &id, true, &origin)
            .await
            .map(|_| "Account disabled: its sessions ended and its tokens no longer work."),
        "enable" => services
            .admin_set_disabled(&actor, &id, false, &origin)
            .await
            .map(|_| "Account enabled."),
        "promote" => services
            .admin_set_role(&actor, &id, Role::Staff, &origin)
            .await
            .map(|_| "The user is now staff."),
        "demote" => services
            .admin_set_role(&actor, &id, Role::Brewer, &origin)
            .await
            .map(|_| "The user is now a brewer."),
        _ => Err(ServiceError::NotFound),
    };
    let flash = match outcome {
        Ok(text) => notice("admin", text),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed("admin", error, &[]),
    };
    redirect_with(&state, flash, &format!("/admin/users/{id}")).await
}

/// `POST /admin/devices/{id}/revoke|disconnect`: the fleet page's buttons.
async fn admin_device_action(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let services = &state.services;
    let outcome = match action.as_str() {
        "revoke" => services
            .admin_revoke_certificate(&actor, &id, &origin)
            .await
            .map(|revoked| {
                format!(
                    "Device {id}: {} certificate(s) revoked; it was disconnected and cannot connect until its owner rotates the certificate.",
                    revoked.len()
                )
            }),
        "disconnect" => services
            .admin_disconnect_device(&actor, &id, &origin)
            .await
            .map(|was_connected| {
                if was_connected {
                    format!("Device {id} was disconnected (it may connect again).")
                } else {
                    format!("Device {id} was not connected.")
                }
            }),
        _ => Err(ServiceError::NotFound),
    };
    let flash = match outcome {
        Ok(text) => notice("admin", &text),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed("admin", error, &[]),
    };
    redirect_with(&state, flash, "/admin/devices").await
}

/// `POST /recipes/import` (multipart, field `file`): every recipe of a BeerJSON or BeerXML file.
async fn import_recipes(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let mut file = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                file = Some(field.bytes().await.map_err(|error| error.body_text()));
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(error) => {
                file = Some(Err(error.body_text()));
                break;
            }
        }
    }
    let outcome = match file {
        None => Err(ServiceError::field(
            "file",
            "Choose a BeerJSON or BeerXML file.",
        )),
        Some(Err(reason)) => Err(ServiceError::field("file", reason)),
        Some(Ok(bytes)) => match String::from_utf8(bytes.to_vec()) {
            Ok(text) => state.services.import_recipes(&actor, &text, &origin).await,
            Err(_) => Err(ServiceError::field("file", "The file is not UTF-8 text.")),
        },
    };
    match outcome {
        Ok(recipes) if recipes.len() == 1 => {
            let flash = notice("recipe", "Recipe imported.");
            redirect_with(&state, flash, &format!("/recipes/{}", recipes[0].id)).await
        }
        Ok(recipes) => {
            let flash = notice("recipes", &format!("{} recipes imported.", recipes.len()));
            redirect_with(&state, flash, "/recipes").await
        }
        Err(ServiceError::Unauthenticated) => Redirect::to("/login").into_response(),
        Err(error) => redirect_with(&state, failed("import", error, &[]), "/recipes").await,
    }
}

async fn clone_recipe(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
) -> Response {
    match state.services.clone_recipe(&actor, &id, &origin).await {
        Ok(copy) => {
            let flash = notice("recipe", "Copy saved: change it as you like.");
            redirect_with(&state, flash, &format!("/recipes/{}", copy.id)).await
        }
        Err(ServiceError::Unauthenticated) => Redirect::to("/login").into_response(),
        Err(error) => {
            redirect_with(
                &state,
                failed("recipe", error, &[]),
                &format!("/recipes/{id}"),
            )
            .await
        }
    }
}

async fn delete_recipe(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
) -> Response {
    match state.services.delete_recipe(&actor, &id, &origin).await {
        Ok(()) => redirect_with(&state, notice("recipes", "Recipe deleted."), "/recipes").await,
        Err(ServiceError::Unauthenticated) => Redirect::to("/login").into_response(),
        Err(error) => {
            redirect_with(
                &state,
                failed("recipe", error, &[]),
                &format!("/recipes/{id}"),
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StartForm {
    device_id: String,
}

/// `POST /recipes/{id}/start`: runs the recipe on the chosen device; the session page follows it.
async fn start_session(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    Form(form): Form<StartForm>,
) -> Response {
    match state
        .services
        .start_session(&actor, &form.device_id, &id, &origin)
        .await
    {
        Ok(brew) => {
            let flash = notice("session", "Brew session started.");
            redirect_with(&state, flash, &format!("/sessions/{}", brew.id)).await
        }
        Err(ServiceError::Unauthenticated) => Redirect::to("/login").into_response(),
        Err(error) => {
            let flash = failed("start", error, &[("device_id", &form.device_id)]);
            redirect_with(
                &state,
                flash,
                &format!("/recipes/{id}?device={}", form.device_id),
            )
            .await
        }
    }
}

/// `POST /sessions/{id}/pause|resume|abort`.
async fn control_session(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    use crate::services::brew_sessions::SessionAction;
    let (action, done) = match action.as_str() {
        "pause" => (SessionAction::Pause, "Paused."),
        "resume" => (SessionAction::Resume, "Resumed."),
        "abort" => (SessionAction::Abort, "Session aborted."),
        _ => return Problem::from(ServiceError::NotFound).into_response(),
    };
    let flash = match state
        .services
        .control_session(&actor, &id, action, &origin)
        .await
    {
        Ok(_) => notice("session", done),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed("session", error, &[]),
    };
    redirect_with(&state, flash, &format!("/sessions/{id}")).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteForm {
    text: String,
}

async fn add_session_note(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> Response {
    let flash = match state
        .services
        .add_session_note(&actor, &id, &form.text)
        .await
    {
        Ok(_) => notice("note", "Note pinned."),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed("note", error, &[("text", &form.text)]),
    };
    redirect_with(&state, flash, &format!("/sessions/{id}")).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GravityForm {
    measured_og: String,
    measured_fg: String,
}

async fn set_session_gravity(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    Form(form): Form<GravityForm>,
) -> Response {
    let parse = |field: &'static str, text: &str| -> Result<Option<f64>, ServiceError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<app::model::brewing::Gravity>()
            .map(|gravity| Some(gravity.value()))
            .map_err(|error| ServiceError::field(field, error.to_string()))
    };
    let outcome = match (
        parse("measured_og", &form.measured_og),
        parse("measured_fg", &form.measured_fg),
    ) {
        (Ok(og), Ok(fg)) => {
            state
                .services
                .set_session_gravity(&actor, &id, og, fg)
                .await
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    let flash = match outcome {
        Ok(_) => notice("gravity", "Gravities saved."),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed(
            "gravity",
            error,
            &[
                ("measured_og", &form.measured_og),
                ("measured_fg", &form.measured_fg),
            ],
        ),
    };
    redirect_with(&state, flash, &format!("/sessions/{id}")).await
}
