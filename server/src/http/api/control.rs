//! Remote control routes: GPIO, RTC, network info, reset, UART. Each answers with the device's reply,
//! `409 device_offline` when it is known to be offline, `504 device_timeout` when it does not answer.

use axum::{Json, extract::State};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    auth::Actor,
    http::{
        AppState, Problem,
        identity::{ClientOrigin, SameSiteOrToken},
        problem::{ApiJson, ApiPath},
    },
    services::{
        ServiceError,
        commands::{Ack, ClockReply, DeviceCommand, GpioReply, PinMode, UartData},
    },
};
use app::model::telemetry::NetworkInfo;

use super::openapi::{CommandErrors, IdPath};

/// The path parameter `{pin}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PinPath {
    /// The GPIO pin number, 0 to 1023.
    #[allow(dead_code)]
    #[param(minimum = 0, maximum = 1023)]
    pub pin: u32,
}

async fn send(
    state: &AppState,
    actor: &Actor,
    origin: &crate::services::Origin,
    id: &str,
    command: DeviceCommand,
) -> Result<Json<Value>, Problem> {
    Ok(Json(
        state
            .services
            .send_command(actor, id, command, origin)
            .await?,
    ))
}

/// `GET /devices/{id}/gpio/{pin}`.
#[utoipa::path(
    get,
    path = "/devices/{id}/gpio/{pin}",
    tag = "control",
    operation_id = "read_gpio",
    params(IdPath, PinPath),
    responses(
        (status = 200, description = "The pin as the device reads it", body = GpioReply),
        CommandErrors,
    )
)]
pub async fn gpio_get(
    State(state): State<AppState>,
    _same_site: SameSiteOrToken,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath((id, pin)): ApiPath<(String, u32)>,
) -> Result<Json<Value>, Problem> {
    send(&state, &actor, &origin, &id, DeviceCommand::GpioGet { pin }).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct GpioBody {
    value: bool,
    mode: Option<PinMode>,
}

/// `PUT /devices/{id}/gpio/{pin}` `{value, mode?}`.
#[utoipa::path(
    put,
    path = "/devices/{id}/gpio/{pin}",
    tag = "control",
    operation_id = "set_gpio",
    params(IdPath, PinPath),
    request_body(content = GpioBody, example = json!({"value": true, "mode": "output"})),
    responses(
        (status = 200, description = "The pin after the change", body = GpioReply),
        CommandErrors,
    )
)]
pub async fn gpio_set(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath((id, pin)): ApiPath<(String, u32)>,
    ApiJson(body): ApiJson<GpioBody>,
) -> Result<Json<Value>, Problem> {
    send(
        &state,
        &actor,
        &origin,
        &id,
        DeviceCommand::GpioSet {
            pin,
            value: body.value,
            mode: body.mode,
        },
    )
    .await
}

/// `GET /devices/{id}/rtc`.
#[utoipa::path(
    get,
    path = "/devices/{id}/rtc",
    tag = "control",
    operation_id = "read_clock",
    params(IdPath),
    responses(
        (status = 200, description = "The device clock", body = ClockReply),
        CommandErrors,
    )
)]
pub async fn rtc_get(
    State(state): State<AppState>,
    _same_site: SameSiteOrToken,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    send(&state, &actor, &origin, &id, DeviceCommand::RtcGet).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RtcBody {
    /// RFC 3339.
    time: DateTime<Utc>,
}

/// `PUT /devices/{id}/rtc` `{time}`.
#[utoipa::path(
    put,
    path = "/devices/{id}/rtc",
    tag = "control",
    operation_id = "set_clock",
    params(IdPath),
    request_body(content = RtcBody, example = json!({"time": "2026-11-22T10:00:00Z"})),
    responses(
        (status = 200, description = "Set", body = Ack),
        CommandErrors,
    )
)]
pub async fn rtc_set(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RtcBody>,
) -> Result<Json<Value>, Problem> {
    send(
        &state,
        &actor,
        &origin,
        &id,
        DeviceCommand::RtcSet { time: body.time },
    )
    .await
}

/// `GET /devices/{id}/network`.
#[utoipa::path(
    get,
    path = "/devices/{id}/network",
    tag = "control",
    operation_id = "read_network",
    params(IdPath),
    responses(
        (status = 200, description = "The device's network settings", body = NetworkInfo, example = json!({"mac": "02:42:ac:11:00:02", "ip": "192.168.1.50", "subnet": "255.255.255.0", "gateway": "192.168.1.1"})),
        CommandErrors,
    )
)]
pub async fn network(
    State(state): State<AppState>,
    _same_site: SameSiteOrToken,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    send(&state, &actor, &origin, &id, DeviceCommand::NetworkGet).await
}

/// `POST /devices/{id}/reset`.
#[utoipa::path(
    post,
    path = "/devices/{id}/reset",
    tag = "control",
    operation_id = "reset_device",
    params(IdPath),
    responses(
        (status = 200, description = "The device accepted and is rebooting", body = Ack),
        CommandErrors,
    )
)]
pub async fn reset(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    send(&state, &actor, &origin, &id, DeviceCommand::Reset).await
}

/// How UART data is written in a request.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Utf8,
    Hex,
    Base64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UartBody {
    data: String,
    #[serde(default)]
    encoding: Encoding,
}

/// `POST /devices/{id}/uart` `{data, encoding: "utf8" | "hex" | "base64"}`.
#[utoipa::path(
    post,
    path = "/devices/{id}/uart",
    tag = "control",
    operation_id = "write_uart",
    params(IdPath),
    request_body(content = UartBody, example = json!({"data": "status\n", "encoding": "utf8"})),
    responses(
        (status = 200, description = "Written; the device's echo of the bytes", body = UartData),
        CommandErrors,
    )
)]
pub async fn uart(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UartBody>,
) -> Result<Json<Value>, Problem> {
    let data = match body.encoding {
        Encoding::Utf8 => Ok(body.data.into_bytes()),
        Encoding::Hex => hex::decode(body.data.replace(' ', "")).map_err(|_| "not hexadecimal"),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(&body.data)
            .map_err(|_| "not base64"),
    }
    .map_err(|reason| Problem::from(ServiceError::field("data", reason)))?;
    send(
        &state,
        &actor,
        &origin,
        &id,
        DeviceCommand::UartWrite { data },
    )
    .await
}
