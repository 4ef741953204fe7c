//! Security headers on every answer: no framing (clickjacking), no MIME sniffing, no referrer to
//! other sites, no plugins, forms only to this site; and `Cache-Control: no-store` on everything but
//! the static assets, since pages and API answers show a brewer's data (and, once, a new token).

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// Adds the security headers; an answer that set its own `Cache-Control` keeps it, and a page keeps
/// the Content-Security-Policy with its script nonce that the app set while rendering it (see
/// [`app::content_security_policy`]); every other answer may run no script.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let static_asset =
        request.uri().path().starts_with("/pkg/") || request.uri().path() == "/favicon.ico";
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 3] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(policy) = HeaderValue::from_str(&app::content_security_policy(None))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    if !static_asset && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
