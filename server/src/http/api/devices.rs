//! `/api/v1/devices`: registration, certificates, bundle.

use app::model::{
    device::{Device, DeviceCredentials},
    page::Page,
};
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
        problem::{ApiBytes, ApiJson, ApiPath, ApiQuery},
    },
    services::{ServiceError, devices::DeviceChange},
};

/// `GET /devices`: the caller's devices.
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Device>>, Problem> {
    let devices = state
        .services
        .list_devices(&actor, page.cursor.as_deref(), page.limit())
        .await?;
    Ok(Json(Page {
        items: devices.items,
        next_cursor: devices.next_after,
    }))
}

#[derive(Debug, Deserialize)]
pub struct RegisterBody {
    name: String,
    model: String,
}

/// `POST /devices`: registers a device; the answer has its certificate, key and connection settings.
pub async fn register(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<DeviceCredentials>), Problem> {
    let credentials = state
        .services
        .register_device(&actor, &body.name, &body.model, &origin)
        .await?;
    Ok((StatusCode::CREATED, Json(credentials)))
}

/// `GET /devices/{id}`.
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Device>, Problem> {
    Ok(Json(state.services.device(&actor, &id).await?))
}

#[derive(Debug, Deserialize)]
pub struct UpdateBody {
    name: Option<String>,
    model: Option<String>,
}

/// `PATCH /devices/{id}`: rename or change the model.
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<Device>, Problem> {
    let change = DeviceChange {
        name: body.name,
        model: body.model,
    };
    Ok(Json(
        state
            .services
            .update_device(&actor, &id, change, &origin)
            .await?,
    ))
}

/// `DELETE /devices/{id}`: unregisters the device and revokes its certificate.
pub async fn unregister(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    state
        .services
        .unregister_device(&actor, &id, &origin)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /devices/{id}/bundle`: the zip a device needs to connect.
pub async fn bundle(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    let bundle = state.services.device_bundle(&actor, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", bundle.file_name),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bundle.bytes,
    )
        .into_response())
}

/// `POST /devices/{id}/csr`: a PEM certificate signing request in, the signed certificate out.
pub async fn csr(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> Result<Json<DeviceCredentials>, Problem> {
    let pem = std::str::from_utf8(&body)
        .map_err(|_| Problem::from(ServiceError::field("csr", "Send the CSR as PEM text.")))?;
    Ok(Json(
        state
            .services
            .sign_device_csr(&actor, &id, pem, &origin)
            .await?,
    ))
}

/// `POST /devices/{id}/certificate/rotate`: a new key and certificate; the old one is revoked.
pub async fn rotate(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeviceCredentials>, Problem> {
    Ok(Json(
        state
            .services
            .rotate_certificate(&actor, &id, &origin)
            .await?,
    ))
}
