//! Security headers on every answer: no framing (clickjacking), no MIME sniffing, no referrer to
//! other sites, no plugins, forms only to this site; and `Cache-Control: no-store` on everything but
//! the static assets, since pages and API answers show a brewer's data (and, once, a new token).

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// The Content-Security-Policy. Scripts are not restricted here: the pages hydrate with an inline
/// module script and wasm, which would need nonces throughout.
pub const CONTENT_SECURITY_POLICY: &str =
    "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'";

/// Adds the security headers; an answer that set its own `Cache-Control` keeps it.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let static_asset =
        request.uri().path().starts_with("/pkg/") || request.uri().path() == "/favicon.ico";
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !static_asset && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
