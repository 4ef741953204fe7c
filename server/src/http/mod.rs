//! The axum router: the Leptos app (server-rendered pages, server functions, static assets), the JSON
//! API under `/api/v1`, and the operational endpoints `/healthz`, `/readyz` and `/metrics`.

mod api;
mod app_backend;
mod headers;
pub mod identity;
mod nul;
mod ops;
pub mod problem;
mod sessions;
mod web;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{FromRef, MatchedPath, Request, State},
    middleware::{self, Next},
    response::Response,
    routing::get,
};
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

use crate::{
    auth::session_store::DbSessionStore, bridge::BridgeState, monitor::BrokerMonitor,
    observability::HttpLabels, observability::Metrics, services::Services, store::Store,
};

pub use api::{document as api_document, router as api_router};
pub use problem::Problem;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub bridge: tokio::sync::watch::Receiver<BridgeState>,
    /// Broker and bridge figures (and the embedded broker's gauges for `/metrics`).
    pub monitor: BrokerMonitor,
    pub services: Services,
    /// The session cookie's name (`__Host-` prefixed when served over HTTPS).
    pub session_cookie: String,
    /// The site's origin (`https://host`) when configured; else requests are checked against `Host`.
    pub public_origin: Option<String>,
    /// Whether cookies are marked Secure (the site is served over HTTPS).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// The bearer token `/metrics` asks for; `None`: only clients on this machine get it.
    pub metrics_token: Option<String>,
}

/// How long a web session lasts without use.
const SESSION_IDLE_DAYS: i64 = 14;

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The whole HTTP surface of the server.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let backend: app::server_fns::backend::SharedBackend = Arc::new(app_backend::AppBackend {
        services: state.services.clone(),
        flash_cookie: sessions::flash_cookie_name(&state.session_cookie),
        secure_cookies: state.secure_cookies,
    });
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.store.clone()))
        .with_name(state.session_cookie.clone())
        .with_secure(state.secure_cookies)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::days(
            SESSION_IDLE_DAYS,
        )));
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .nest("/api/v1", api::router())
        .merge(web::router())
        .leptos_routes_with_context(&state, routes, move || provide_context(backend.clone()), {
            let options = state.leptos_options.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            identity::csrf_guard,
        ))
        .layer(middleware::from_fn(nul::refuse_in_pages))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            identity::resolve_actor,
        ))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            identity::client_origin,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(middleware::from_fn(headers::security_headers))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or(request.uri().path(), MatchedPath::as_str);
                tracing::info_span!("http", method = %request.method(), route = %route)
            }),
        )
        .with_state(state)
}

/// Counts answered requests by method and status for `/metrics`, and server errors for the admin site
/// (504 is a device's silence, counted as a command timeout instead).
async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || "(no route)".to_string(),
        |path| path.as_str().to_string(),
    );
    let request_line = format!("{} {route}", request.method());
    // A fixed set of labels: any token is a valid HTTP method, and each would be a series forever.
    let method = match request.method().as_str() {
        known @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => {
            known.to_string()
        }
        _ => "other".to_string(),
    };
    let response = next.run(request).await;
    let status = response.status();
    if status.is_server_error() && status != axum::http::StatusCode::GATEWAY_TIMEOUT {
        let code = response
            .extensions()
            .get::<problem::ProblemCode>()
            .map_or("", |code| code.0.as_str());
        state.services.errors.record(
            "server.http_5xx",
            request_line.clone(),
            format!("{request_line} answered {status} {code}"),
        );
    }
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// How long a graceful shutdown waits for open requests (live streams never end by themselves).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
