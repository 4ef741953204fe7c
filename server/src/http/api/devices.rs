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

use super::{PageQuery, openapi::IdPath};
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
#[utoipa::path(
    get,
    path = "/devices",
    tag = "devices",
    operation_id = "list_devices",
    params(PageQuery),
    responses((status = 200, description = "The caller's devices, oldest first", body = Page<Device>,
        example = json!({"items": [{"id": "dev-0193a5f2c1e47d10", "name": "Garage kettle", "model": "BrewKettle 40", "created_at": "2026-11-22T10:00:00Z"}], "next_cursor": null})))
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Device>>, Problem> {
    let devices = state
        .services
        .list_devices(&actor, page.cursor(), page.limit()?)
        .await?;
    Ok(Json(Page {
        items: devices.items,
        next_cursor: devices.next_after,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegisterBody {
    name: String,
    model: String,
}

/// `POST /devices`: registers a device; the answer has its certificate, key and connection settings.
#[utoipa::path(
    post,
    path = "/devices",
    tag = "devices",
    operation_id = "register_device",
    request_body(content = RegisterBody, example = json!({"name": "Garage kettle", "model": "BrewKettle 40"})),
    responses(
        (status = 201, description = "The device with its certificate, private key and connection settings (the key is shown only now)", body = DeviceCredentials),
        (status = 409, description = "`device_quota`: the account has `devices.per_user` devices already", body = Problem, content_type = "application/problem+json"),
    )
)]
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
#[utoipa::path(
    get,
    path = "/devices/{id}",
    tag = "devices",
    operation_id = "show_device",
    params(IdPath),
    responses((status = 200, description = "The device", body = Device, example = json!({"id": "dev-0193a5f2c1e47d10", "name": "Garage kettle", "model": "BrewKettle 40", "created_at": "2026-11-22T10:00:00Z"})))
)]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Device>, Problem> {
    Ok(Json(state.services.device(&actor, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateBody {
    name: Option<String>,
    model: Option<String>,
}

/// `PATCH /devices/{id}`: rename or change the model.
#[utoipa::path(
    patch,
    path = "/devices/{id}",
    tag = "devices",
    operation_id = "update_device",
    params(IdPath),
    request_body(content = UpdateBody, example = json!({"name": "Kettle in the shed"})),
    responses((status = 200, description = "The changed device", body = Device, example = json!({"id": "dev-0193a5f2c1e47d10", "name": "Garage kettle", "model": "BrewKettle 40", "created_at": "2026-11-22T10:00:00Z"})))
)]
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
#[utoipa::path(
    delete,
    path = "/devices/{id}",
    tag = "devices",
    operation_id = "unregister_device",
    params(IdPath),
    responses((status = 204, description = "Unregistered; its certificate is revoked"))
)]
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
#[utoipa::path(
    get,
    path = "/devices/{id}/bundle",
    tag = "devices",
    operation_id = "device_bundle",
    params(IdPath),
    responses((status = 200, description = "A zip with `ca.pem`, `device.pem`, `device.key` and `settings.json` (broker host, ports, topics)",
        content_type = "application/zip", body = Vec<u8>,
        headers(("Content-Disposition" = String, description = "attachment; filename=\"{device id}.zip\""))))
)]
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
#[utoipa::path(
    post,
    path = "/devices/{id}/csr",
    tag = "devices",
    operation_id = "sign_device_csr",
    params(IdPath),
    request_body(content = String, content_type = "text/plain", description = "A PEM certificate signing request made with the device's own key (P-256); any content type is taken",
        example = "-----BEGIN CERTIFICATE REQUEST-----\nMIH...\n-----END CERTIFICATE REQUEST-----\n"),
    responses((status = 200, description = "The signed certificate (no private key: the device keeps its own); the old one is revoked", body = DeviceCredentials))
)]
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
#[utoipa::path(
    post,
    path = "/devices/{id}/certificate/rotate",
    tag = "devices",
    operation_id = "rotate_device_certificate",
    params(IdPath),
    responses((status = 200, description = "A new key and certificate; the old certificate is revoked", body = DeviceCredentials))
)]
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
