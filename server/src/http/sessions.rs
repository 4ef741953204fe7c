//! Signing in and out of web sessions, and the one-time "flash" a form post leaves for the next page
//! (in a short-lived cookie, not in the session).

use app::model::flash::Flash;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use base64::Engine as _;
use tower_sessions::Session;

use super::Problem;
use crate::auth::session_store::USER_ID_KEY;

fn session_problem(error: tower_sessions::session::Error) -> Problem {
    tracing::error!(%error, "session store error");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "Something went wrong on our side. It has been logged.",
    )
}

/// Signs a user in: a fresh session id (so an id planted before login is worthless), then the user.
pub async fn sign_in(session: &Session, user_id: &str) -> Result<(), Problem> {
    session.cycle_id().await.map_err(session_problem)?;
    session
        .insert(USER_ID_KEY, user_id)
        .await
        .map_err(session_problem)
}

/// Ends the session entirely.
pub async fn sign_out(session: &Session) -> Result<(), Problem> {
    session.flush().await.map_err(session_problem)
}

/// The flash cookie's name, beside the session cookie's (so `__Host-` prefixed over HTTPS).
pub fn flash_cookie_name(session_cookie: &str) -> String {
    session_cookie.replace("session", "flash")
}

/// How long a flash waits for the page it was left for.
const FLASH_MAX_AGE_S: u32 = 60;
/// Longest value or message kept in a flash, in characters; longer ones are cut.
const FLASH_TEXT_MAX_CHARS: usize = 200;

/// A `Set-Cookie` value leaving `flash` for the next page. The flash lives in the browser for a
/// minute, never in the database: a failed signup or login of a visitor stores nothing, and a new
/// API token shown this once is not written anywhere on the server.
pub fn flash_cookie(name: &str, flash: &Flash, secure: bool) -> HeaderValue {
    let cut = |text: &String| text.chars().take(FLASH_TEXT_MAX_CHARS).collect::<String>();
    let cut_map = |map: &std::collections::BTreeMap<String, String>| {
        map.iter()
            .take(32)
            .map(|(key, value)| (cut(key), cut(value)))
            .collect()
    };
    let kept = Flash {
        form: cut(&flash.form),
        values: cut_map(&flash.values),
        errors: cut_map(&flash.errors),
        notice: flash.notice.as_ref().map(cut),
        created_token: flash.created_token.clone(),
    };
    let json = serde_json::to_vec(&kept).unwrap_or_default();
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    cookie(name, &value, FLASH_MAX_AGE_S, secure)
}

/// A `Set-Cookie` value removing the flash once it was read.
pub fn flash_gone(name: &str, secure: bool) -> HeaderValue {
    cookie(name, "", 0, secure)
}

fn cookie(name: &str, value: &str, max_age_s: u32, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The flash a request carries, if any and readable.
pub fn read_flash(headers: &HeaderMap, name: &str) -> Option<Flash> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flash_survives_its_cookie_and_long_text_is_cut() {
        let flash = Flash {
            form: "login".into(),
            values: [("email".to_string(), "x".repeat(5000))].into(),
            errors: [(String::new(), "Wrong email or password.".to_string())].into(),
            ..Flash::default()
        };
        let set = flash_cookie("brewlink_flash", &flash, false);
        let set = set.to_str().unwrap();
        assert!(set.contains("Max-Age=60; HttpOnly; SameSite=Lax"), "{set}");
        assert!(set.len() < 1000, "{} bytes", set.len());
        let mut headers = HeaderMap::new();
        let pair = set.split(';').next().unwrap();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("brewlink_session=abc; {pair}")).unwrap(),
        );
        let read = read_flash(&headers, "brewlink_flash").unwrap();
        assert_eq!(read.errors, flash.errors);
        assert_eq!(read.values["email"].len(), FLASH_TEXT_MAX_CHARS);
        assert!(
            flash_gone("__Host-brewlink_flash", true)
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert_eq!(
            flash_cookie_name("__Host-brewlink_session"),
            "__Host-brewlink_flash"
        );
    }
}
