//! `/api/v1/devices/{id}/status`, `/telemetry` (JSON or CSV), `/live` (Server-Sent Events), `/commands`.

use std::{convert::Infallible, time::Duration};

use app::model::telemetry::{CommandRecord, DeviceStatus, LiveEvent};
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

use super::PageQuery;
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
pub async fn status(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeviceStatus>, Problem> {
    Ok(Json(state.services.device_status(&actor, &id).await?))
}

/// `?from=&to=&bucket=` of the history route.
#[derive(Debug, Deserialize)]
pub struct SeriesParams {
    /// RFC 3339; default: an hour before `to`.
    from: Option<String>,
    /// RFC 3339; default: now.
    to: Option<String>,
    /// Seconds per bucket; default: about 500 buckets.
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
/// enabled, device theirs) and ends when not.
pub async fn live(
    State(state): State<AppState>,
    actor: Actor,
    session: tower_sessions::Session,
    ApiPath(id): ApiPath<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let (status, receiver) = state.services.live_events(&actor, &id).await?;
    let first = LiveEvent::Status {
        device_id: id.clone(),
        status,
    };
    let session_id = session.id().as_ref().map(crate::auth::session_store::key);
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    let watch = Watch {
        receiver,
        id,
        actor,
        session_id,
        services: state.services.clone(),
        recheck,
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
                    Ok(event) if event.device_id() == watch.id => return Some((event_of(&event), watch)),
                    Ok(_) => {}
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
}

fn event_of(event: &LiveEvent) -> Event {
    Event::default()
        .event(event.name())
        .json_data(event)
        .unwrap_or_else(|_| Event::default().comment("unserializable"))
}

/// `GET /devices/{id}/commands`: the command history, newest first.
pub async fn commands(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<CommandRecord>>, Problem> {
    let (items, next_cursor) = state
        .services
        .command_history(&actor, &id, page.cursor.as_deref(), page.limit())
        .await?;
    Ok(Json(Page { items, next_cursor }))
}
