//! The JSON API, `/api/v1`: thin handlers that call the services.

mod admin;
mod auth;
mod control;
mod devices;
mod me;
mod openapi;
mod recipes;
mod sessions;
mod telemetry;

use axum::Router;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{AppState, problem};
use crate::services::ServiceError;

pub use openapi::document;

/// `?limit=&cursor=` of list routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500, example = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size asked for: 50 when absent; 422 outside 1 to 500.
    pub fn limit(&self) -> Result<u32, ServiceError> {
        match self.limit {
            None => Ok(50),
            Some(limit @ 1..=500) => Ok(limit),
            Some(_) => Err(ServiceError::field("limit", "Ask for 1 to 500 items.")),
        }
    }

    /// The cursor asked for (an empty one is the first page).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|cursor| !cursor.is_empty())
    }
}

/// Every route of `/api/v1`: each handler's `#[utoipa::path]` names its method and path and documents
/// it, so this list is also the OpenAPI document.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::create_token, auth::list_tokens))
        .routes(routes!(auth::revoke_token))
        .routes(routes!(me::show, me::update, me::delete))
        .routes(routes!(me::change_password))
        .routes(routes!(devices::list, devices::register))
        .routes(routes!(devices::show, devices::update, devices::unregister))
        .routes(routes!(devices::bundle))
        .routes(routes!(devices::csr))
        .routes(routes!(devices::rotate))
        .routes(routes!(telemetry::status))
        .routes(routes!(telemetry::history))
        .routes(routes!(telemetry::live))
        .routes(routes!(telemetry::commands))
        .routes(routes!(control::gpio_get, control::gpio_set))
        .routes(routes!(control::rtc_get, control::rtc_set))
        .routes(routes!(control::network))
        .routes(routes!(control::reset))
        .routes(routes!(control::uart))
        .routes(routes!(recipes::list, recipes::create))
        .routes(routes!(recipes::import))
        .routes(routes!(recipes::show, recipes::update, recipes::delete))
        .routes(routes!(recipes::clone))
        .routes(routes!(recipes::export))
        .routes(routes!(sessions::start))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::show, sessions::update))
        .routes(routes!(sessions::pause))
        .routes(routes!(sessions::resume))
        .routes(routes!(sessions::abort))
        .routes(routes!(sessions::add_note))
        .routes(routes!(sessions::export))
        .routes(routes!(admin::users))
        .routes(routes!(admin::user, admin::update_user))
        .routes(routes!(admin::devices))
        .routes(routes!(admin::revoke))
        .routes(routes!(admin::disconnect))
        .routes(routes!(admin::inspect))
        .routes(routes!(admin::broker))
        .routes(routes!(admin::audit))
        .routes(routes!(admin::errors))
}

/// The `/api/v1` router: the documented routes, and problem answers for unknown paths, other methods
/// and oversized bodies.
pub fn router() -> Router<AppState> {
    let (router, _) = routes().split_for_parts();
    router
        .fallback(problem::api_not_found)
        .method_not_allowed_fallback(problem::api_method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Largest request body the API reads (a certificate signing request or a recipe fits easily).
const MAX_BODY_BYTES: usize = 1024 * 1024;
