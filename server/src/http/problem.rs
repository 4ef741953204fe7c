//! The JSON API's one error shape: `application/problem+json` with a stable machine-readable `code`.

use std::collections::BTreeMap;

use axum::{
    extract::{FromRequest, Request},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::services::ServiceError;

/// An API error body (RFC 9457 problem details plus a stable `code`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "https://brewlink.dev/problems/device_offline",
    "title": "Conflict",
    "status": 409,
    "detail": "The device is offline: it cannot take commands until it reconnects.",
    "code": "device_offline"
}))]
pub struct Problem {
    /// A URI naming the kind of problem (`https://brewlink.dev/problems/{code}`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// What went wrong, for programs: stable, e.g. `not_found`, `validation_failed`,
    /// `device_offline`, `device_timeout`, `invalid_credentials`.
    pub code: String,
    /// Field name -> what is wrong with it (for `validation_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// Seconds to wait before trying again (sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with the given status, stable code and human-readable detail.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://brewlink.dev/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
            fields: None,
            retry_after: None,
        }
    }
}

/// The `code` of a problem answer, kept on the response for the error tracker.
#[derive(Debug, Clone)]
pub struct ProblemCode(pub String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
            .extensions_mut()
            .insert(ProblemCode(self.code.clone()));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "authentication_required",
                "Sign in or send an API token.",
            ),
            ServiceError::Forbidden => Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "You are not allowed to do this.",
            ),
            ServiceError::NotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "There is no such thing.",
            ),
            ServiceError::Validation(fields) => Problem {
                fields: Some(
                    fields
                        .into_iter()
                        .map(|(field, message)| (field.to_string(), message))
                        .collect(),
                ),
                ..Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "Some fields are invalid.",
                )
            },
            ServiceError::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Wrong email or password.",
            ),
            ServiceError::AccountDisabled => Problem::new(
                StatusCode::FORBIDDEN,
                "account_disabled",
                "This account is disabled.",
            ),
            ServiceError::Conflict { code, message } => {
                Problem::new(StatusCode::CONFLICT, code, message)
            }
            ServiceError::TooManyAttempts { retry_after } => {
                let seconds = retry_after.as_secs().max(1);
                Problem {
                    retry_after: Some(seconds),
                    ..Problem::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too_many_attempts",
                        format!(
                            "Too many attempts from here. Try again in {} minutes.",
                            seconds.div_ceil(60)
                        ),
                    )
                }
            }
            ServiceError::DeviceOffline => Problem::new(
                StatusCode::CONFLICT,
                "device_offline",
                "The device is offline: it cannot take commands until it reconnects.",
            ),
            ServiceError::DeviceTimeout => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "device_timeout",
                "The device did not answer in time.",
            ),
            ServiceError::DeviceRefused(reason) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "device_refused",
                format!("The device refused: {reason}"),
            ),
            ServiceError::Unavailable(reason) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("Try again shortly: {reason}"),
            ),
            ServiceError::TooManyStreams { limit } => Problem {
                retry_after: Some(10),
                ..Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_streams",
                    format!(
                        "This sign-in has {limit} live streams open already. Close one (a tab, a script) first."
                    ),
                )
            },
            ServiceError::Busy { retry_after } => Problem {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    format!(
                        "The server is busy checking passwords. Try again in {} seconds.",
                        retry_after.as_secs().max(1)
                    ),
                )
            },
            ServiceError::Internal(_) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Something went wrong on our side. It has been logged.",
            ),
        }
    }
}

/// Any path under `/api/v1` that names no route.
pub async fn api_not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is no API route at this path.",
    )
}

/// A JSON object request body whose errors are problems: 415 without a JSON content type, 413 when
/// too large, 422 when it is not valid JSON, not an object, or not the expected shape (naming where).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json.",
            ));
        }
        let ApiBytes(bytes) = ApiBytes::from_request(request, state).await?;
        if super::nul::in_json(&bytes) {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                super::nul::MESSAGE,
            ));
        }
        // Every body of this API is an object; serde would also take a struct from an array.
        let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
        if first.is_some() && first != Some(&b'{') {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "The body must be a JSON object.",
            ));
        }
        let not_json = |error: serde_json::Error| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_json",
                format!("The body is not valid JSON: {error}"),
            )
        };
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_data() {
                Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    format!("The body does not have the expected fields: {path}: {inner}"),
                )
            } else {
                not_json(inner)
            }
        })?;
        deserializer.end().map_err(not_json)?;
        Ok(Self(value))
    }
}

/// Whether the request says its body is JSON (`application/json` or `application/*+json`).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| {
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
}

/// Any method a route under `/api/v1` does not take.
pub async fn api_method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This route does not take that method.",
    )
}

/// Path parameters whose errors are problems (400 `invalid_path`, also for a NUL anywhere in the path).
pub struct ApiPath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        if super::nul::in_percent_encoded(parts.uri.path().as_bytes()) {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_path",
                super::nul::MESSAGE,
            ));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|rejection| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    rejection.body_text(),
                )
            })
    }
}

/// Query parameters whose errors are problems (400 `invalid_query`, also for a NUL anywhere in the query).
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        if parts
            .uri
            .query()
            .is_some_and(|query| super::nul::in_percent_encoded(query.as_bytes()))
        {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                super::nul::MESSAGE,
            ));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    rejection.body_text(),
                )
            })
    }
}

/// A raw body whose errors are problems (413 when too large).
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(request, state)
            .await
            .map(Self)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "The body is too large.",
                    )
                } else {
                    Problem::new(rejection.status(), "bad_request", rejection.body_text())
                }
            })
    }
}
