//! Brew sessions: `POST /devices/{id}/sessions` (dry run or start), `/sessions/*` to follow, control,
//! annotate and export them.

use app::model::{page::Page, session::BrewSession};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::PageQuery;
use crate::{
    auth::Actor,
    http::{
        AppState, Problem,
        identity::ClientOrigin,
        problem::{ApiJson, ApiPath, ApiQuery},
    },
    services::brew_sessions::SessionAction,
};

/// What to run, and whether only to plan it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    recipe_id: String,
    /// Only answer the plan (steps and expected durations); send nothing to the device.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /devices/{id}/sessions`: with `dry_run`, 200 and the plan; else 201 and the running session.
/// A recipe the device cannot run is refused with `409 recipe_impossible` and every reason.
pub async fn start(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(device_id): ApiPath<String>,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<Response, Problem> {
    let services = &state.services;
    if body.dry_run {
        let (_, plan) = services
            .plan_session(&actor, &device_id, &body.recipe_id)
            .await?;
        return Ok(Json(plan).into_response());
    }
    let session = services
        .start_session(&actor, &device_id, &body.recipe_id, &origin)
        .await?;
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

/// `GET /sessions`: the caller's sessions, newest first.
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<BrewSession>>, Problem> {
    Ok(Json(
        state
            .services
            .list_sessions(&actor, page.cursor.as_deref(), page.limit())
            .await?,
    ))
}

/// `GET /sessions/{id}`: the session with its timeline, events and notes.
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BrewSession>, Problem> {
    Ok(Json(state.services.brew_session(&actor, &id).await?))
}

async fn control(
    state: &AppState,
    actor: &Actor,
    origin: &crate::services::Origin,
    id: &str,
    action: SessionAction,
) -> Result<Json<BrewSession>, Problem> {
    Ok(Json(
        state
            .services
            .control_session(actor, id, action, origin)
            .await?,
    ))
}

/// `POST /sessions/{id}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BrewSession>, Problem> {
    control(&state, &actor, &origin, &id, SessionAction::Pause).await
}

/// `POST /sessions/{id}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BrewSession>, Problem> {
    control(&state, &actor, &origin, &id, SessionAction::Resume).await
}

/// `POST /sessions/{id}/abort`.
pub async fn abort(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BrewSession>, Problem> {
    control(&state, &actor, &origin, &id, SessionAction::Abort).await
}

#[derive(Debug, Deserialize)]
pub struct NoteBody {
    text: String,
}

/// `POST /sessions/{id}/notes` `{text}`: a note pinned to the step running now.
pub async fn add_note(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<(StatusCode, Json<BrewSession>), Problem> {
    let session = state
        .services
        .add_session_note(&actor, &id, &body.text)
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Measured gravities; an absent field stays, `null` clears it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GravityBody {
    #[serde(default, deserialize_with = "present")]
    measured_og: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    measured_fg: Option<Option<f64>>,
}

/// A field that is present: `Some(value)` or `Some(None)` for `null` (absent is `None` by default).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(deserializer).map(Some)
}

/// `PATCH /sessions/{id}` `{measured_og?, measured_fg?}`: the answer has the actual ABV.
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<GravityBody>,
) -> Result<Json<BrewSession>, Problem> {
    let services = &state.services;
    let current = services.brew_session(&actor, &id).await?;
    let og = body.measured_og.unwrap_or(current.measured_og);
    let fg = body.measured_fg.unwrap_or(current.measured_fg);
    Ok(Json(
        services.set_session_gravity(&actor, &id, og, fg).await?,
    ))
}

/// `GET /sessions/{id}/export`: a zip with the recipe (BeerJSON), the session, its commands,
/// telemetry and notes.
pub async fn export(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    let bundle = state.services.export_session(&actor, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", bundle.file_name),
            ),
        ],
        bundle.bytes,
    )
        .into_response())
}
