//! NUL characters are refused at the door: PostgreSQL cannot store them in text (SQLite would), so a
//! NUL in a query, a path, a JSON string or a form field is a clear client error on both stores, never
//! a database error. The API's extractors ([`super::problem`]) check their own part of the request;
//! [`refuse_in_pages`] checks the URIs and form bodies of everything else (pages, forms, server
//! functions).

use axum::{
    body::Body,
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// What a request with a NUL character is told.
pub const MESSAGE: &str = "Text must not contain NUL characters (U+0000).";

/// Largest form body read to look for NUL characters (the forms' own limit).
const FORM_LIMIT: usize = 1024 * 1024;

/// Whether percent-encoded text (a path, a query, a form body) encodes a NUL.
pub fn in_percent_encoded(text: &[u8]) -> bool {
    text.windows(3).any(|window| window == b"%00")
}

/// Whether a JSON text holds a NUL inside a string: a `\u0000` escape whose backslash is not itself
/// escaped. (A raw NUL byte is not JSON at all and fails parsing.)
pub fn in_json(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(at, window)| {
        window == b"\\u0000"
            && json[..at]
                .iter()
                .rev()
                .take_while(|byte| **byte == b'\\')
                .count()
                % 2
                == 0
    })
}

/// Refuses pages, forms and server functions whose URI or form body holds a NUL (`400`). The API
/// (`/api/`) answers with its own problems from its extractors.
pub async fn refuse_in_pages(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if uri.path().starts_with("/api/") {
        return next.run(request).await;
    }
    let in_uri = in_percent_encoded(uri.path().as_bytes())
        || uri
            .query()
            .is_some_and(|query| in_percent_encoded(query.as_bytes()));
    if in_uri {
        return (StatusCode::BAD_REQUEST, MESSAGE).into_response();
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response();
    };
    if in_percent_encoded(&bytes) {
        return (StatusCode::BAD_REQUEST, MESSAGE).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::{in_json, in_percent_encoded};

    #[test]
    fn finds_encoded_nuls_only() {
        assert!(in_percent_encoded(b"a=%00"));
        assert!(in_percent_encoded(b"/devices/a%00b"));
        assert!(
            !in_percent_encoded(b"a=%2500&b=%0A"),
            "%25 is the percent sign itself"
        );
        assert!(in_json(br#"{"name":"a\u0000"}"#));
        assert!(
            in_json(br#"{"name":"\\\u0000"}"#),
            "an escaped backslash, then a NUL"
        );
        assert!(
            !in_json(br#"{"name":"a\\u0000"}"#),
            "the text \\u0000, no NUL"
        );
        assert!(!in_json(br#"{"name":"\u0001"}"#));
    }
}
