//! Operational endpoints: liveness, readiness and metrics.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::Serialize;

use super::{AppState, identity::ClientOrigin};
use crate::{bridge::BridgeState, ingest::IngestState};

/// Liveness: the process serves HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// One dependency's state in the readiness answer.
#[derive(Debug, Serialize)]
struct Check {
    ok: bool,
    detail: String,
}

/// The readiness answer.
#[derive(Debug, Serialize)]
struct Readiness {
    ready: bool,
    database: Check,
    broker: Check,
    ingest: Check,
}

/// Readiness: 200 when the database answers, the bridge is connected to the broker and the ingest
/// pipeline can write, else 503.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    // Within a second: a database that is away must not hold the answer up.
    let ping = tokio::time::timeout(std::time::Duration::from_secs(1), state.store.ping()).await;
    let database = match ping {
        Ok(Ok(())) => Check {
            ok: true,
            detail: state.store.backend().name().to_string(),
        },
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: database unreachable");
            Check {
                ok: false,
                detail: "database unreachable".to_string(),
            }
        }
        Err(_) => {
            tracing::warn!("readiness: the database did not answer within a second");
            Check {
                ok: false,
                detail: "database not answering".to_string(),
            }
        }
    };
    let broker = match &*state.bridge.borrow() {
        BridgeState::Connected { since } => Check {
            ok: true,
            detail: format!("bridge connected since {since}"),
        },
        BridgeState::Connecting => Check {
            ok: false,
            detail: "bridge connecting".to_string(),
        },
        BridgeState::Disconnected { since, .. } => Check {
            ok: false,
            detail: format!("bridge disconnected since {since}"),
        },
    };
    let ingest = match state.monitor.ingest() {
        IngestState::Writing => Check {
            ok: true,
            detail: "writing".to_string(),
        },
        IngestState::Failing {
            since,
            error,
            attempts,
        } => Check {
            ok: false,
            detail: format!("failing since {since} ({attempts} attempts): {error}"),
        },
    };
    let ready = database.ok && broker.ok && ingest.ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            database,
            broker,
            ingest,
        }),
    )
}

/// Prometheus metrics in the OpenMetrics text format: for a scraper with `http.metrics_token` as its
/// bearer token, or, without one configured, for clients on this machine only.
pub async fn metrics(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let allowed = match &state.metrics_token {
        Some(expected) => headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|token| {
                crate::auth::token::hash(token.trim()) == crate::auth::token::hash(expected)
            }),
        None => origin.ip.is_some_and(|ip| ip.is_loopback()),
    };
    if !allowed {
        return super::Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Metrics are for this machine, or for a scraper with http.metrics_token as its bearer token.",
        )
        .into_response();
    }
    state.monitor.refresh_gauges().await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}
