//! `/api/v1/devices/{id}/status`, `/telemetry` (JSON or CSV), `/live` (Server-Sent Events), `/commands`.

use std::{convert::Infallible, time::Duration};

use app::model::telemetry::{CommandRecord, DeviceStatus, LiveEvent, Series};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, stream};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::{PageQuery, openapi::IdPath};
use crate::{
    auth::Actor,
    http::{
        AppState, Problem,
        problem::{ApiPath, ApiQuery},
    },
    services::{ServiceError, telemetry::SeriesQuery},
};
use app::model::page::Page;

/// `GET /devices/{id}/status`.
#[utoipa::path(
    get,
    path = "/devices/{id}/status",
    tag = "telemetry",
    operation_id = "device_status",
    params(IdPath),
    responses((status = 200, description = "The last known status (`online` is computed now)", body = DeviceStatus))
)]
pub async fn status(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeviceStatus>, Problem> {
    Ok(Json(state.services.device_status(&actor, &id).await?))
}

/// `?from=&to=&bucket=` of the history route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// RFC 3339; default: an hour before `to`.
    #[param(format = DateTime)]
    from: Option<String>,
    /// RFC 3339; default: now.
    #[param(format = DateTime)]
    to: Option<String>,
    /// Seconds per bucket, 1 to 31 622 400 (366 days); default: about 500 buckets.
    #[param(minimum = 1, maximum = 31_622_400)]
    bucket: Option<u64>,
}

pub(super) fn parse_time(
    field: &'static str,
    text: Option<&str>,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|_| {
                ServiceError::field(field, "use an RFC 3339 time, e.g. 2026-11-22T10:00:00Z")
            })
    })
    .transpose()
}

/// `GET /devices/{id}/telemetry`: the downsampled history, as JSON or (with `Accept: text/csv`) CSV.
#[utoipa::path(
    get,
    path = "/devices/{id}/telemetry",
    tag = "telemetry",
    operation_id = "telemetry_history",
    params(IdPath, SeriesParams),
    responses(
        (status = 200, description = "The downsampled history: JSON, or CSV (one row per bucket and reading) with `Accept: text/csv`",
            content(
                (Series = "application/json"),
                (String = "text/csv", example = "bucket_start,reading,samples,avg,min,max\n2026-11-22T10:00:00Z,mash_temp_c,12,66.4,66.1,66.8\n"),
            )),
        (status = 422, description = "`validation_failed`: `from`/`to` not RFC 3339, `from` after `to`, or too many buckets", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<SeriesParams>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let query = SeriesQuery {
        from: parse_time("from", params.from.as_deref())?,
        to: parse_time("to", params.to.as_deref())?,
        bucket_s: params.bucket,
    };
    let series = state.services.telemetry_series(&actor, &id, query).await?;
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/csv"));
    if wants_csv {
        let file = format!("attachment; filename=\"telemetry-{id}.csv\"");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, file),
            ],
            crate::services::telemetry::series_csv(&series),
        )
            .into_response());
    }
    Ok(Json(series).into_response())
}

/// `GET /devices/{id}/live`: Server-Sent Events — first the current `status`, then `telemetry`,
/// `status`, `command` and `program` events of this device as they happen. Every few seconds the
/// stream checks that its caller may still see the device (signed in, token not revoked, account
/// enabled, device theirs) and ends when not. One session or token holds at most 10 streams.
#[utoipa::path(
    get,
    path = "/devices/{id}/live",
    tag = "telemetry",
    operation_id = "live_events",
    params(IdPath),
    responses((status = 200, description = "Server-Sent Events: first `status`, then `telemetry`, `status`, `command` and `program` events (each `data:` is a JSON `LiveEvent`), `lagged` with the number of missed events when the client fell behind; a comment every 15 s keeps the connection open",
        content_type = "text/event-stream", body = String,
        example = "event: status\ndata: {\"type\":\"status\",\"device_id\":\"dev-0193a5f2c1e47d10\",...}\n\n"),
        (status = 429, description = "`too_many_streams`: this session or token has 10 live streams open already", body = Problem, content_type = "application/problem+json"))
)]
pub async fn live(
    State(state): State<AppState>,
    actor: Actor,
    session: tower_sessions::Session,
    ApiPath(id): ApiPath<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let session_id = session.id().as_ref().map(crate::auth::session_store::key);
    let live = state
        .services
        .live_events(&actor, &id, session_id.as_deref())
        .await?;
    let first = LiveEvent::Status {
        device_id: id.clone(),
        status: live.status,
    };
    let receiver = live.receiver;
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    let watch = Watch {
        receiver,
        id,
        actor,
        session_id,
        services: state.services.clone(),
        recheck,
        _turn: live.turn,
    };
    let events = stream::unfold(watch, |mut watch| async move {
        loop {
            tokio::select! {
                _ = watch.recheck.tick() => {
                    let allowed = watch.services.may_keep_streaming(&watch.actor, watch.session_id.as_deref(), &watch.id).await;
                    if !allowed {
                        return None;
                    }
                }
                received = watch.receiver.recv() => match received {
                    Ok(event) => return Some((event_of(&event), watch)),
                    Err(RecvError::Lagged(missed)) => {
                        let event = Event::default().event("lagged").data(missed.to_string());
                        return Some((event, watch));
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    });
    let stream = stream::once(async move { event_of(&first) })
        .chain(events)
        .map(Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// How often a live stream checks that its caller may still see the device.
const RECHECK: Duration = Duration::from_secs(10);

/// What a live stream carries along.
struct Watch {
    receiver: tokio::sync::broadcast::Receiver<LiveEvent>,
    id: String,
    actor: Actor,
    session_id: Option<String>,
    services: crate::services::Services,
    recheck: tokio::time::Interval,
    /// The credential's turn, freed when the stream ends.
    _turn: crate::live::StreamTurn,
}

fn event_of(event: &LiveEvent) -> Event {
    Event::default()
        .event(event.name())
        .json_data(event)
        .unwrap_or_else(|_| Event::default().comment("unserializable"))
}

/// `GET /devices/{id}/commands`: the command history, newest first.
#[utoipa::path(
    get,
    path = "/devices/{id}/commands",
    tag = "telemetry",
    operation_id = "command_history",
    params(IdPath, PageQuery),
    responses((status = 200, description = "Commands sent to the device, newest first: who, what, when, result, latency", body = Page<CommandRecord>))
)]
pub async fn commands(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<CommandRecord>>, Problem> {
    let (items, next_cursor) = state
        .services
        .command_history(&actor, &id, page.cursor(), page.limit()?)
        .await?;
    Ok(Json(Page { items, next_cursor }))
}
