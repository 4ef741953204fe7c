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
        identity::ClientOrigin,
        problem::{ApiJson, ApiPath},
    },
    services::{
        ServiceError,
        commands::{DeviceCommand, PinMode},
    },
};

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
pub async fn gpio_get(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath((id, pin)): ApiPath<(String, u32)>,
) -> Result<Json<Value>, Problem> {
    send(&state, &actor, &origin, &id, DeviceCommand::GpioGet { pin }).await
}

#[derive(Debug, Deserialize)]
pub struct GpioBody {
    value: bool,
    mode: Option<PinMode>,
}

/// `PUT /devices/{id}/gpio/{pin}` `{value, mode?}`.
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
pub async fn rtc_get(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    send(&state, &actor, &origin, &id, DeviceCommand::RtcGet).await
}

#[derive(Debug, Deserialize)]
pub struct RtcBody {
    /// RFC 3339.
    time: DateTime<Utc>,
}

/// `PUT /devices/{id}/rtc` `{time}`.
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
pub async fn network(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    send(&state, &actor, &origin, &id, DeviceCommand::NetworkGet).await
}

/// `POST /devices/{id}/reset`.
pub async fn reset(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    send(&state, &actor, &origin, &id, DeviceCommand::Reset).await
}

/// How UART data is written in a request.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Utf8,
    Hex,
    Base64,
}

#[derive(Debug, Deserialize)]
pub struct UartBody {
    data: String,
    #[serde(default)]
    encoding: Encoding,
}

/// `POST /devices/{id}/uart` `{data, encoding: "utf8" | "hex" | "base64"}`.
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
