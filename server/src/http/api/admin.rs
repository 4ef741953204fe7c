//! `/api/v1/admin/*`: the admin site's API, staff only (the services refuse everyone else).

use std::{convert::Infallible, time::Duration};

use app::model::{
    account::{Role, User},
    admin::{
        AdminUser, AdminUserDetail, AuditEntry, AuditFilter, BrokerStatus, ErrorGroup, FleetDevice,
        FleetFilter, InspectedMessage,
    },
    page::Page,
};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{Stream, StreamExt, stream};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::{PageQuery, openapi::IdPath, telemetry::parse_time};
use crate::{
    auth::Actor,
    http::{
        AppState, Problem,
        identity::ClientOrigin,
        problem::{ApiJson, ApiPath, ApiQuery},
    },
    services::{ServiceError, Services},
};

/// `?query=&limit=&cursor=` of the user list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// Part of the email or name.
    #[serde(default)]
    query: String,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /admin/users`: every user, searchable, oldest first.
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    operation_id = "admin_list_users",
    params(UserListParams),
    responses((status = 200, description = "Every user, oldest first", body = Page<AdminUser>), (status = 403, description = "`forbidden`: staff only (or `account_disabled`)", body = Problem, content_type = "application/problem+json"))
)]
pub async fn users(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(params): ApiQuery<UserListParams>,
) -> Result<Json<Page<AdminUser>>, Problem> {
    let page = PageQuery {
        limit: params.limit,
        cursor: params.cursor,
    };
    Ok(Json(
        state
            .services
            .admin_users(&actor, &params.query, page.cursor(), page.limit()?)
            .await?,
    ))
}

/// `GET /admin/users/{id}`: a user with their devices, sessions and tokens.
#[utoipa::path(
    get,
    path = "/admin/users/{id}",
    tag = "admin",
    operation_id = "admin_show_user",
    params(IdPath),
    responses((status = 200, description = "The user with their devices, open sessions and tokens", body = AdminUserDetail), (status = 403, description = "`forbidden`: staff only (or `account_disabled`)", body = Problem, content_type = "application/problem+json"))
)]
pub async fn user(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AdminUserDetail>, Problem> {
    Ok(Json(state.services.admin_user(&actor, &id).await?))
}

/// What staff may change of a user; absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    disabled: Option<bool>,
    role: Option<Role>,
}

/// `PATCH /admin/users/{id}`: `{disabled?, role?}`.
#[utoipa::path(
    patch,
    path = "/admin/users/{id}",
    tag = "admin",
    operation_id = "admin_update_user",
    params(IdPath),
    request_body(content = UserChange, example = json!({"disabled": true})),
    responses(
        (status = 200, description = "The changed user; disabling deletes their sessions and API tokens (enabling does not bring them back)", body = User),
        (status = 403, description = "`forbidden`: staff only (or `account_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_staff`: the last enabled staff account cannot be demoted or disabled", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<User>, Problem> {
    let services = &state.services;
    if change.disabled.is_none() && change.role.is_none() {
        return Err(ServiceError::field("disabled", "Send disabled, role or both.").into());
    }
    let mut user = services.admin_user(&actor, &id).await?.user;
    if let Some(role) = change.role {
        user = services.admin_set_role(&actor, &id, role, &origin).await?;
    }
    if let Some(disabled) = change.disabled {
        user = services
            .admin_set_disabled(&actor, &id, disabled, &origin)
            .await?;
    }
    Ok(Json(user))
}

/// `?query=&online=&owner_id=&limit=&cursor=` of the fleet list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FleetParams {
    /// Part of the device id, name, model or owner's email.
    query: Option<String>,
    /// Only devices online (`true`) or offline (`false`).
    online: Option<bool>,
    /// Only this user's devices.
    owner_id: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /admin/devices`: every device with owner, liveness and message rate.
#[utoipa::path(
    get,
    path = "/admin/devices",
    tag = "admin",
    operation_id = "admin_list_devices",
    params(FleetParams),
    responses((status = 200, description = "Every device with owner, liveness and message rate", body = Page<FleetDevice>), (status = 403, description = "`forbidden`: staff only (or `account_disabled`)", body = Problem, content_type = "application/problem+json"))
)]
pub async fn devices(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(params): ApiQuery<FleetParams>,
) -> Result<Json<Page<FleetDevice>>, Problem> {
    let filter = FleetFilter {
        query: params.query,
        online: params.online,
        owner_id: params.owner_id,
    };
    let page = PageQuery {
        limit: params.limit,
        cursor: params.cursor,
    };
    Ok(Json(
        state
            .services
            .admin_fleet(&actor, &filter, page.cursor(), page.limit()?)
            .await?,
    ))
}

/// The answer of a revocation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// Serials of the certificates revoked (empty when none was valid).
    revoked: Vec<String>,
}

/// `POST /admin/devices/{id}/revoke`: revokes the device's certificate and disconnects it.
#[utoipa::path(
    post,
    path = "/admin/devices/{id}/revoke",
    tag = "admin",
    operation_id = "admin_revoke_certificate",
    params(IdPath),
    responses((status = 200, description = "Revoked and disconnected", body = Revoked, example = json!({"revoked": ["5f3a9c1e"]})), (status = 403, description = "`forbidden`: staff only (or `account_disabled`)", body = Problem, content_type = "application/problem+json"))
)]
pub async fn revoke(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Revoked>, Problem> {
    let revoked = state
        .services
        .admin_revoke_certificate(&actor, &id, &origin)
        .await?;
    Ok(Json(Revoked { revoked }))
}

/// The answer of a forced disconnect.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Disconnected {
    was_connected: bool,
}

/// `POST /admin/devices/{id}/disconnect`: drops the device's MQTT connection (embedded broker).
#[utoipa::path(
    post,
    path = "/admin/devices/{id}/disconnect",
    tag = "admin",
    operation_id = "admin_disconnect_device",
    params(IdPath),
    responses(
        (status = 200, description = "Dropped (the device may reconnect)", body = Disconnected, example = json!({"was_connected": true})),
        (status = 403, description = "`forbidden`: staff only (or `account_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`external_broker`: only the embedded broker can drop a connection", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn disconnect(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Disconnected>, Problem> {
    let was_connected = state
        .services
        .admin_disconnect_device(&actor, &id, &origin)
        .await?;
    Ok(Json(Disconnected { was_connected }))
}

/// `GET /admin/broker`: broker and bridge figures with the last minutes' history.
#[utoipa::path(
    get,
    path = "/admin/broker",
    tag = "admin",
    operation_id = "admin_broker_status",
    responses((status = 200, description = "Broker and bridge figures with the last five minutes' history", body = BrokerStatus), (status = 403, description = "`forbidden`: staff only (or `account_disabled`)", body = Problem, content_type = "application/problem+json"))
)]
pub async fn broker(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<BrokerStatus>, Problem> {
    Ok(Json(state.services.admin_broker_status(&actor)?))
}

/// `?user_id=&device_id=&kind=&from=&to=&limit=&cursor=` of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Entries by or about this user.
    user_id: Option<String>,
    /// Entries about this device.
    device_id: Option<String>,
    /// An action (`device.register`) or a family (`device`).
    kind: Option<String>,
    /// RFC 3339.
    from: Option<String>,
    /// RFC 3339.
    to: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `csv` for a CSV download (for links, which cannot send `Accept: text/csv`); `json` by default.
    #[param(pattern = "^(csv|json)$")]
    format: Option<String>,
}

/// Most rows one CSV export holds.
const CSV_MAX_ROWS: usize = 100_000;

/// `GET /admin/audit`: the audit log, newest first, filtered; with `Accept: text/csv` or `format=csv`,
/// every matching entry (up to 100 000) as CSV.
#[utoipa::path(
    get,
    path = "/admin/audit",
    tag = "admin",
    operation_id = "admin_audit_log",
    params(AuditParams),
    responses(
        (status = 200, description = "The audit log, newest first; with `Accept: text/csv` or `format=csv` every matching entry (up to 100 000) as CSV",
            content(
                (Page<AuditEntry> = "application/json"),
                (String = "text/csv", example = "id,at,actor,action,subject,detail,origin\n"),
            )),
        (status = 403, description = "`forbidden`: staff only (or `account_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `from`/`to` not RFC 3339, or an unknown `format`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn audit(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(params): ApiQuery<AuditParams>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let filter = AuditFilter {
        user_id: params.user_id,
        device_id: params.device_id,
        kind: params.kind,
        from: parse_time("from", params.from.as_deref())?,
        to: parse_time("to", params.to.as_deref())?,
    };
    let wants_csv = match params.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => return Err(ServiceError::field("format", "Use csv or json.").into()),
        None => headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv")),
    };
    if !wants_csv {
        let page = PageQuery {
            limit: params.limit,
            cursor: params.cursor,
        };
        let entries = state
            .services
            .admin_audit(&actor, &filter, page.cursor(), page.limit()?)
            .await?;
        return Ok(Json(entries).into_response());
    }
    let mut entries = Vec::new();
    let mut cursor = params.cursor;
    loop {
        let page = state
            .services
            .admin_audit(&actor, &filter, cursor.as_deref(), 1000)
            .await?;
        entries.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() || entries.len() >= CSV_MAX_ROWS {
            break;
        }
    }
    entries.truncate(CSV_MAX_ROWS);
    let body = audit_csv(&entries)
        .map_err(|error| Problem::from(ServiceError::Internal(format!("CSV export: {error}"))))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"brewlink-audit.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// The audit entries as CSV (the `csv` crate quotes what needs quoting; text cells are made
/// [spreadsheet-safe](crate::formats::spreadsheet_cell)).
fn audit_csv(entries: &[AuditEntry]) -> Result<Vec<u8>, csv::Error> {
    use crate::formats::spreadsheet_cell as cell;
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "id",
        "at",
        "actor",
        "action",
        "subject",
        "source_ip",
        "detail",
    ])?;
    for entry in entries {
        writer.write_record([
            entry.id.to_string(),
            entry.at.to_rfc3339(),
            cell(&entry.actor),
            cell(&entry.action),
            cell(&entry.subject),
            cell(entry.source_ip.as_deref().unwrap_or("")),
            cell(&entry.detail.to_string()),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

/// `GET /admin/errors`: errors grouped by kind, the most recently seen first.
#[utoipa::path(
    get,
    path = "/admin/errors",
    tag = "admin",
    operation_id = "admin_errors",
    params(PageQuery),
    responses((status = 200, description = "Errors grouped by kind, the most recently seen first", body = Page<ErrorGroup>), (status = 403, description = "`forbidden`: staff only (or `account_disabled`)", body = Problem, content_type = "application/problem+json"))
)]
pub async fn errors(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ErrorGroup>>, Problem> {
    Ok(Json(
        state
            .services
            .admin_errors(&actor, page.cursor(), page.limit()?)
            .await?,
    ))
}

/// How often an inspector stream checks that its caller is still staff.
const RECHECK: Duration = Duration::from_secs(10);

/// What an inspector stream carries along.
struct Inspecting {
    receiver: tokio::sync::broadcast::Receiver<InspectedMessage>,
    device_id: String,
    actor: Actor,
    session_id: Option<String>,
    services: Services,
    recheck: tokio::time::Interval,
}

/// `GET /admin/devices/{id}/inspect`: Server-Sent Events, one `message` event per MQTT message of the
/// device in either direction, decoded, with its size; `lagged` when the watcher fell behind. Ends
/// when the caller is no longer staff.
#[utoipa::path(
    get,
    path = "/admin/devices/{id}/inspect",
    tag = "admin",
    operation_id = "admin_inspect_device",
    params(IdPath),
    responses((status = 200, description = "Server-Sent Events: one `message` event (a JSON `InspectedMessage`) per MQTT message of the device either way; `lagged` when the watcher fell behind",
        content_type = "text/event-stream", body = String), (status = 403, description = "`forbidden`: staff only (or `account_disabled`)", body = Problem, content_type = "application/problem+json"))
)]
pub async fn inspect(
    State(state): State<AppState>,
    actor: Actor,
    session: tower_sessions::Session,
    ApiPath(device_id): ApiPath<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let receiver = state.services.admin_inspect(&actor, &device_id).await?;
    let session_id = session.id().as_ref().map(crate::auth::session_store::key);
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    let inspecting = Inspecting {
        receiver,
        device_id,
        actor,
        session_id,
        services: state.services.clone(),
        recheck,
    };
    let events = stream::unfold(inspecting, |mut watch| async move {
        loop {
            tokio::select! {
                _ = watch.recheck.tick() => {
                    if !watch.services.may_keep_inspecting(&watch.actor, watch.session_id.as_deref()).await {
                        return None;
                    }
                }
                received = watch.receiver.recv() => match received {
                    Ok(message) if message.device_id == watch.device_id => {
                        let event = Event::default()
                            .event("message")
                            .json_data(&message)
                            .unwrap_or_else(|_| Event::default().comment("unserializable"));
                        return Some((event, watch));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        return Some((Event::default().event("lagged").data(missed.to_string()), watch));
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    });
    // A first comment so the client sees the stream open before any message.
    let stream = stream::once(async { Event::default().comment("inspecting") })
        .chain(events)
        .map(Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
