//! The JSON API, `/api/v1`: thin handlers that call the services.

mod admin;
mod auth;
mod control;
mod devices;
mod me;
mod recipes;
mod sessions;
mod telemetry;

use axum::{
    Router,
    routing::{get, post},
};
use serde::Deserialize;

use super::{AppState, problem};

/// `?limit=&cursor=` of list routes.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(50).clamp(1, 500)
    }
}

/// Every route of `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(auth::signup))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route(
            "/auth/tokens",
            post(auth::create_token).get(auth::list_tokens),
        )
        .route(
            "/auth/tokens/{id}",
            axum::routing::delete(auth::revoke_token),
        )
        .route("/me", get(me::show).patch(me::update).delete(me::delete))
        .route("/me/password", post(me::change_password))
        .route("/devices", get(devices::list).post(devices::register))
        .route(
            "/devices/{id}",
            get(devices::show)
                .patch(devices::update)
                .delete(devices::unregister),
        )
        .route("/devices/{id}/bundle", get(devices::bundle))
        .route("/devices/{id}/csr", post(devices::csr))
        .route("/devices/{id}/certificate/rotate", post(devices::rotate))
        .route("/devices/{id}/status", get(telemetry::status))
        .route("/devices/{id}/telemetry", get(telemetry::history))
        .route("/devices/{id}/live", get(telemetry::live))
        .route("/devices/{id}/commands", get(telemetry::commands))
        .route(
            "/devices/{id}/gpio/{pin}",
            get(control::gpio_get).put(control::gpio_set),
        )
        .route(
            "/devices/{id}/rtc",
            get(control::rtc_get).put(control::rtc_set),
        )
        .route("/devices/{id}/network", get(control::network))
        .route("/devices/{id}/reset", post(control::reset))
        .route("/devices/{id}/uart", post(control::uart))
        .route("/recipes", get(recipes::list).post(recipes::create))
        .route("/recipes/import", post(recipes::import))
        .route(
            "/recipes/{id}",
            get(recipes::show)
                .put(recipes::update)
                .delete(recipes::delete),
        )
        .route("/recipes/{id}/clone", post(recipes::clone))
        .route("/recipes/{id}/export", get(recipes::export))
        .route("/devices/{id}/sessions", post(sessions::start))
        .route("/sessions", get(sessions::list))
        .route(
            "/sessions/{id}",
            get(sessions::show).patch(sessions::update),
        )
        .route("/sessions/{id}/pause", post(sessions::pause))
        .route("/sessions/{id}/resume", post(sessions::resume))
        .route("/sessions/{id}/abort", post(sessions::abort))
        .route("/sessions/{id}/notes", post(sessions::add_note))
        .route("/sessions/{id}/export", get(sessions::export))
        .route("/admin/users", get(admin::users))
        .route(
            "/admin/users/{id}",
            get(admin::user).patch(admin::update_user),
        )
        .route("/admin/devices", get(admin::devices))
        .route("/admin/devices/{id}/revoke", post(admin::revoke))
        .route("/admin/devices/{id}/disconnect", post(admin::disconnect))
        .route("/admin/devices/{id}/inspect", get(admin::inspect))
        .route("/admin/broker", get(admin::broker))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/errors", get(admin::errors))
        .fallback(problem::api_not_found)
        .method_not_allowed_fallback(problem::api_method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Largest request body the API reads (a certificate signing request or a recipe fits easily).
const MAX_BODY_BYTES: usize = 1024 * 1024;
