//! Who is calling (session cookie or API token) and from where; and the CSRF guard for cookie-based
//! state changes.

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
};

use app::model::account::TokenScope;
use axum::{
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{HeaderMap, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_sessions::Session;

use super::{AppState, Problem};
use crate::{
    auth::{Actor, AuthenticatedUser, Credential, session_store::USER_ID_KEY},
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

/// The client's address, for throttling and the audit log, as [`client_origin`] found it.
pub struct ClientOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for ClientOrigin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<Origin>()
                .cloned()
                .unwrap_or_default(),
        ))
    }
}

/// Finds the client's address of every request (see [`client_ip`]) and keeps it as the request's
/// [`Origin`].
pub async fn client_origin(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let ip = peer.map(|peer| client_ip(peer, request.headers(), &state.trusted_proxies));
    request.extensions_mut().insert(Origin { ip });
    next.run(request).await
}

/// The client's address: the peer, unless the peer is a trusted proxy; then the nearest address in
/// `X-Forwarded-For` that is not a trusted proxy itself (what lies further left, the client could
/// have written). Without trusted proxies `X-Forwarded-For` is ignored, since anyone can send it.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A hop we cannot read: stop at the last address we could.
            Err(_) => break,
        }
    }
    client
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
    // Static assets need nobody, and /metrics has a bearer token of its own.
    if request.uri().path().starts_with("/pkg/") || request.uri().path() == "/metrics" {
        return next.run(request).await;
    }
    let actor = match bearer(request.headers()) {
        Some(Ok(secret)) => match state.services.actor_for_token(secret).await {
            Ok(Some(actor)) => {
                if let Actor::User(AuthenticatedUser {
                    credential: Credential::Token { scope, .. },
                    ..
                }) = &actor
                    && !scope_allows(*scope, request.method(), request.uri().path())
                {
                    return Problem::new(
                        StatusCode::FORBIDDEN,
                        "insufficient_scope",
                        format!(
                            "This token's scope ({}) does not allow this request.",
                            scope.as_str()
                        ),
                    )
                    .into_response();
                }
                actor
            }
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

/// Whether a token of this scope may make this request. A scope only narrows what the account may
/// do: the admin routes still need a staff account, checked by the services.
pub fn scope_allows(scope: TokenScope, method: &Method, path: &str) -> bool {
    let api = path.strip_prefix("/api/v1").unwrap_or(path);
    let under = |prefix: &str| {
        api.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let admin = under("/admin");
    let reads = method.is_safe() && !sends_command(api);
    match scope {
        TokenScope::Admin => true,
        TokenScope::Full => !admin,
        TokenScope::Devices => (reads && !admin) || under("/devices") || under("/sessions"),
        TokenScope::Read => reads && !admin,
    }
}

/// Whether an API path (below `/api/v1`) asks a device something although it is read with GET: a
/// pin, the clock, the network info.
fn sends_command(api: &str) -> bool {
    let segments: Vec<&str> = api.trim_matches('/').split('/').collect();
    matches!(
        segments.as_slice(),
        ["devices", _, "gpio", _] | ["devices", _, "rtc" | "network"]
    )
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
    if request.method().is_safe() {
        return next.run(request).await;
    }
    if same_site_or_token(&state, request.headers()) {
        next.run(request).await
    } else {
        cross_site_refused().into_response()
    }
}

/// The cross-site check of [`csrf_guard`], for a handler that acts although its method is safe:
/// the reads of GPIO, RTC and network info send a command to the device and write the audit log, so a
/// cross-site link must not trigger them with the brewer's cookie.
pub struct SameSiteOrToken;

impl FromRequestParts<AppState> for SameSiteOrToken {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if same_site_or_token(state, &parts.headers) {
            Ok(Self)
        } else {
            Err(cross_site_refused())
        }
    }
}

/// Whether a request may act: it carries an API token, or comes from this site's pages, or is a
/// script without the session cookie.
fn same_site_or_token(state: &AppState, headers: &HeaderMap) -> bool {
    if bearer(headers).is_some() {
        return true;
    }
    let has_session_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|cookies| cookies.contains(state.session_cookie.as_str()));
    match provenance(headers, state.public_origin.as_deref()) {
        Provenance::SameOrigin => true,
        Provenance::Unknown => !has_session_cookie,
        Provenance::CrossOrigin => false,
    }
}

fn cross_site_refused() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "Cross-site request refused. Use BrewLink's own pages, or authenticate with an API token.",
    )
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
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let forwarded = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.9")]);
        assert_eq!(
            client_ip(proxy, &forwarded, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap(),
            "the nearest untrusted hop; what the client wrote further left is ignored"
        );
        assert_eq!(
            client_ip(proxy, &forwarded, &[]),
            proxy,
            "no trusted proxies"
        );
        let outsider: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            client_ip(outsider, &forwarded, &trusted),
            outsider,
            "a client that is not a proxy cannot pick its address"
        );
        assert_eq!(client_ip(proxy, &headers(&[]), &trusted), proxy);
        assert_eq!(
            client_ip(proxy, &headers(&[("x-forwarded-for", "junk")]), &trusted),
            proxy
        );
    }

    #[test]
    fn token_scopes_narrow_what_a_token_may_do() {
        let get = Method::GET;
        let post = Method::POST;
        let allows = |scope, method: &Method, path| scope_allows(scope, method, path);
        for scope in TokenScope::ALL {
            assert!(allows(scope, &get, "/api/v1/devices"), "{scope:?} reads");
        }
        assert!(!allows(TokenScope::Read, &post, "/api/v1/devices"));
        assert!(
            !allows(TokenScope::Read, &get, "/api/v1/devices/d1/gpio/3"),
            "a command"
        );
        assert!(!allows(TokenScope::Read, &get, "/api/v1/devices/d1/rtc"));
        assert!(allows(TokenScope::Read, &get, "/api/v1/devices/d1/status"));
        assert!(allows(
            TokenScope::Devices,
            &get,
            "/api/v1/devices/d1/network"
        ));
        assert!(allows(
            TokenScope::Devices,
            &post,
            "/api/v1/devices/d1/reset"
        ));
        assert!(allows(
            TokenScope::Devices,
            &post,
            "/api/v1/sessions/s1/notes"
        ));
        assert!(!allows(TokenScope::Devices, &Method::PATCH, "/api/v1/me"));
        assert!(!allows(TokenScope::Devices, &post, "/api/v1/recipes"));
        assert!(!allows(TokenScope::Devices, &post, "/api/v1/devicesX"));
        assert!(allows(TokenScope::Full, &Method::PATCH, "/api/v1/me"));
        assert!(!allows(TokenScope::Full, &get, "/api/v1/admin/users"));
        assert!(!allows(TokenScope::Read, &get, "/api/v1/admin"));
        assert!(allows(
            TokenScope::Admin,
            &Method::DELETE,
            "/api/v1/admin/users/u1"
        ));
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
