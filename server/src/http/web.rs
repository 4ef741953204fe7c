//! The web pages' forms: plain HTML form posts, so they work before (and without) hydration. Each
//! handler calls the same service as the JSON API, leaves a flash (errors or a notice) in the session,
//! and redirects (post/redirect/get).

use std::collections::BTreeMap;

use app::model::{account::Role, flash::Flash};
use axum::{
    Form, Router,
    extract::{Path, State},
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

/// Leaves the flash and redirects (303: the browser follows with GET).
async fn redirect_with(session: &Session, flash: Flash, to: &str) -> Response {
    match sessions::set_flash(session, &flash).await {
        Ok(()) => Redirect::to(to).into_response(),
        Err(problem) => problem.into_response(),
    }
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
                    &session,
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
            redirect_with(&session, flash, "/signup").await
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
                &session,
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
}

async fn update_profile(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    Form(form): Form<ProfileForm>,
) -> Response {
    let change = ProfileChange {
        name: Some(form.name.clone()),
        email: Some(form.email.clone()),
        units: form.units.clone(),
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
    redirect_with(&session, flash, "/account").await
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
    redirect_with(&session, flash, "/account").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    label: String,
    password: String,
}

async fn create_token(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    Form(form): Form<TokenForm>,
) -> Response {
    let Actor::User(me) = &actor else {
        return Redirect::to("/login").into_response();
    };
    let flash = match state
        .services
        .create_token(&me.email, &form.password, &form.label, &origin)
        .await
    {
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
    redirect_with(&session, flash, "/account#tokens").await
}

async fn revoke_token(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let flash = match state.services.revoke_token(&actor, &id, &origin).await {
        Ok(()) => notice("tokens", "Token revoked."),
        Err(ServiceError::Unauthenticated) => return Redirect::to("/login").into_response(),
        Err(error) => failed("tokens", error, &[]),
    };
    redirect_with(&session, flash, "/account#tokens").await
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
        Err(error) => {
            redirect_with(&session, failed("delete", error, &[]), "/account#delete").await
        }
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
    session: Session,
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
                &session,
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
            redirect_with(&session, flash, "/devices").await
        }
    }
}

async fn rename_device(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
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
    redirect_with(&session, flash, &format!("/devices/{id}")).await
}

async fn rotate_certificate(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
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
    redirect_with(&session, flash, &format!("/devices/{id}")).await
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
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<UnregisterForm>,
) -> Response {
    let back = format!("/devices/{id}");
    if form.confirm.is_none() {
        let error = ServiceError::field(
            "",
            "Tick the box to confirm: the device will be disconnected.",
        );
        return redirect_with(&session, failed("certificate", error, &[]), &back).await;
    }
    match state.services.unregister_device(&actor, &id, &origin).await {
        Ok(()) => {
            let flash = notice(
                "devices",
                "Device unregistered; its certificate is revoked.",
            );
            redirect_with(&session, flash, "/devices").await
        }
        Err(ServiceError::Unauthenticated) => Redirect::to("/login").into_response(),
        Err(error) => redirect_with(&session, failed("certificate", error, &[]), &back).await,
    }
}

/// `POST /admin/users/{id}/disable|enable|promote|demote`: the admin site's user buttons.
async fn admin_change_user(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
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
    redirect_with(&session, flash, &format!("/admin/users/{id}")).await
}

/// `POST /admin/devices/{id}/revoke|disconnect`: the fleet page's buttons.
async fn admin_device_action(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    session: Session,
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
    redirect_with(&session, flash, "/admin/devices").await
}
