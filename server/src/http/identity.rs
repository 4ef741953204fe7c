//! Who is calling (session cookie or API token) and from where; and the CSRF guard for cookie-based
//! state changes.

use std::{convert::Infallible, net::SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{HeaderMap, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_sessions::Session;

use super::{AppState, Problem};
use crate::{
    auth::{Actor, session_store::USER_ID_KEY},
    services::Origin,
};

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Actor>()
            .cloned()
            .unwrap_or(Actor::Anonymous))
    }
}

/// The client's address, for throttling and the audit log.
pub struct ClientOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for ClientOrigin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(Self(Origin { ip }))
    }
}

/// The bearer token of a request: `None` without an Authorization header, `Some(Err)` for another scheme.
fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let value = value.to_str().map_err(|_| ());
    Some(value.and_then(|value| {
        let (scheme, token) = value.split_once(' ').ok_or(())?;
        let token = token.trim();
        if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
            Ok(token)
        } else {
            Err(())
        }
    }))
}

/// Resolves the [`Actor`] of every request: an API token wins over the session cookie; a bad token is
/// refused outright rather than falling back to the cookie.
pub async fn resolve_actor(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with("/pkg/") {
        return next.run(request).await;
    }
    let actor = match bearer(request.headers()) {
        Some(Ok(secret)) => match state.services.actor_for_token(secret).await {
            Ok(Some(actor)) => actor,
            Ok(None) => {
                return Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "The API token is unknown or revoked, or its account is disabled.",
                )
                .into_response();
            }
            Err(error) => return Problem::from(error).into_response(),
        },
        Some(Err(())) => {
            return Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_authorization",
                "Send the API token as Authorization: Bearer <token>.",
            )
            .into_response();
        }
        None => match session.get::<String>(USER_ID_KEY).await {
            Ok(Some(user_id)) => match state.services.actor_for_session(&user_id).await {
                Ok(Actor::Anonymous) => {
                    // The account is gone or disabled: end this session too.
                    let _ = session.flush().await;
                    Actor::Anonymous
                }
                Ok(actor) => actor,
                Err(error) => return Problem::from(error).into_response(),
            },
            Ok(None) => Actor::Anonymous,
            Err(error) => {
                tracing::warn!(%error, "could not load the session");
                Actor::Anonymous
            }
        },
    };
    request.extensions_mut().insert(actor);
    next.run(request).await
}

/// Whether a request comes from this site's own pages, judged by the headers browsers set.
#[derive(Debug, PartialEq, Eq)]
enum Provenance {
    SameOrigin,
    CrossOrigin,
    /// No browser headers at all: a script or app.
    Unknown,
}

fn provenance(headers: &HeaderMap, public_origin: Option<&str>) -> Provenance {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Provenance::SameOrigin,
            _ => Provenance::CrossOrigin,
        };
    }
    let Some(origin) = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
    else {
        return Provenance::Unknown;
    };
    let Some(origin) = origin
        .to_str()
        .ok()
        .and_then(|text| url::Url::parse(text).ok())
    else {
        return Provenance::CrossOrigin;
    };
    let same = match public_origin {
        Some(expected) => origin.origin().ascii_serialization() == expected,
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|host| host.to_str().ok());
            let authority = match origin.port() {
                Some(port) => format!("{}:{port}", origin.host_str().unwrap_or_default()),
                None => origin.host_str().unwrap_or_default().to_string(),
            };
            host.is_some_and(|host| host.eq_ignore_ascii_case(&authority))
        }
    };
    if same {
        Provenance::SameOrigin
    } else {
        Provenance::CrossOrigin
    }
}

/// Refuses cross-site state changes. Requests with an API token are exempt (no ambient authority);
/// requests from a browser must come from this site; requests carrying the session cookie without any
/// browser header are refused too, since browsers always send one.
pub async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method().is_safe() || bearer(request.headers()).is_some() {
        return next.run(request).await;
    }
    let headers = request.headers();
    let has_session_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|cookies| cookies.contains(state.session_cookie.as_str()));
    match provenance(headers, state.public_origin.as_deref()) {
        Provenance::SameOrigin => next.run(request).await,
        Provenance::Unknown if !has_session_cookie => next.run(request).await,
        _ => Problem::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "Cross-site request refused. Use BrewLink's own pages, or authenticate with an API token.",
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn provenance_from_browser_headers() {
        let host = ("host", "127.0.0.1:3000");
        assert_eq!(
            provenance(&headers(&[("sec-fetch-site", "same-origin")]), None),
            Provenance::SameOrigin
        );
        assert_eq!(
            provenance(&headers(&[("sec-fetch-site", "cross-site")]), None),
            Provenance::CrossOrigin
        );
        assert_eq!(
            provenance(&headers(&[("sec-fetch-site", "same-site")]), None),
            Provenance::CrossOrigin
        );
        assert_eq!(
            provenance(&headers(&[host, ("origin", "http://127.0.0.1:3000")]), None),
            Provenance::SameOrigin
        );
        assert_eq!(
            provenance(&headers(&[host, ("origin", "http://evil.example")]), None),
            Provenance::CrossOrigin
        );
        assert_eq!(
            provenance(&headers(&[host, ("origin", "null")]), None),
            Provenance::CrossOrigin
        );
        assert_eq!(
            provenance(
                &headers(&[host, ("referer", "http://127.0.0.1:3000/login")]),
                None
            ),
            Provenance::SameOrigin
        );
        assert_eq!(provenance(&headers(&[host]), None), Provenance::Unknown);
        assert_eq!(
            provenance(
                &headers(&[("origin", "https://brew.example")]),
                Some("https://brew.example")
            ),
            Provenance::SameOrigin
        );
        assert_eq!(
            provenance(
                &headers(&[("origin", "http://brew.example")]),
                Some("https://brew.example")
            ),
            Provenance::CrossOrigin
        );
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer abc")])),
            Some(Ok("abc"))
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "bearer abc")])),
            Some(Ok("abc"))
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "Basic abc")])),
            Some(Err(()))
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer ")])),
            Some(Err(()))
        );
        assert_eq!(bearer(&headers(&[])), None);
    }
}
