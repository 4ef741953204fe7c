//! Accounts end to end over HTTP: signup, login, sessions, tokens, password change, throttling,
//! CSRF, disabled and deleted accounts — on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use brewlink::auth::Role;
use common::{TestApp, TestDatabase, test_config};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

const PASSWORD: &str = "mash-tun-2026";

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|cookie| cookie.contains("brewlink_session="))
        .map(str::to_string)
}

#[tokio::test]
async fn signup_login_logout() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let response = browser
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "Ada@Example.com", "password": PASSWORD, "name": "Ada" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = session_cookie(&response).expect("signup signs in");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure flag: {cookie}"
    );
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["email"], "Ada@Example.com");
    assert_eq!(user["role"], "brewer");
    assert!(user.get("password_hash").is_none());

    let me: Value = browser
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], user["id"]);

    assert_eq!(
        browser
            .post(app.url("/api/v1/auth/logout"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let after = browser.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(after.status(), 401);
    assert_eq!(
        after.json::<Value>().await.unwrap()["code"],
        "authentication_required"
    );

    // Email is matched without regard to case.
    let login = app.login(&browser, "ada@EXAMPLE.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
    assert_eq!(
        browser
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn login_rotates_the_session_id() {
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "rot@example.com", PASSWORD)
        .await;
    let browser = app.browser();
    // A failed form login leaves its errors in a session: the visitor has a session id before login
    // (as one planted by an attacker would be).
    let failed = browser
        .post(app.url("/login"))
        .form(&[("email", "rot@example.com"), ("password", "wrong-password")])
        .send()
        .await
        .unwrap();
    let before = session_cookie(&failed).expect("a session exists before login");
    let login = app.login(&browser, "rot@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
    let after = session_cookie(&login).expect("login sets the session cookie");
    assert_ne!(
        before.split(';').next(),
        after.split(';').next(),
        "a new session id at login"
    );

    // The old id is worthless now.
    let planted = app
        .script()
        .get(app.url("/api/v1/me"))
        .header(header::COOKIE, before.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(planted.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn signup_validation_names_each_field() {
    let app = TestApp::spawn().await;
    let script = app.script();
    let response = script
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "not-an-email", "password": "short", "name": "x".repeat(101) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "validation_failed");
    for field in ["email", "password", "name"] {
        assert!(problem["fields"][field].is_string(), "{field}: {problem}");
    }
    let long = script
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "long@example.com", "password": "x".repeat(1025) }))
        .send()
        .await
        .unwrap();
    assert_eq!(long.status(), 422);

    app.signup(&app.browser(), "dup@example.com", PASSWORD)
        .await;
    let duplicate = script
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "DUP@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), 422);
    let problem: Value = duplicate.json().await.unwrap();
    assert!(
        problem["fields"]["email"]
            .as_str()
            .unwrap()
            .contains("exists"),
        "{problem}"
    );

    let not_json = script
        .post(app.url("/api/v1/auth/signup"))
        .body("email=x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);
    let broken = script
        .post(app.url("/api/v1/auth/signup"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 422);
    assert_eq!(
        broken.json::<Value>().await.unwrap()["code"],
        "invalid_json"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "known@example.com", PASSWORD)
        .await;
    let mut answers = Vec::new();
    for email in ["known@example.com", "unknown@example.com"] {
        // The fastest of three tries, so a busy machine does not decide the comparison.
        let mut fastest = Duration::MAX;
        let mut answer = None;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let response = app.login(&app.script(), email, "not-the-password").await;
            let status = response.status();
            let body = response.text().await.unwrap();
            fastest = fastest.min(started.elapsed());
            answer = Some((status, body));
        }
        answers.push((answer.unwrap(), fastest));
    }
    assert_eq!(answers[0].0.0, 401);
    assert_eq!(answers[0].0, answers[1].0, "the same status and body");
    // Both run one password verification: neither is an order of magnitude faster.
    let (known, unknown) = (answers[0].1.as_secs_f64(), answers[1].1.as_secs_f64());
    assert!(
        unknown > known / 10.0 && known > unknown / 10.0,
        "known {known:.3}s, unknown {unknown:.3}s"
    );
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_account_and_per_address() {
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "victim@example.com", PASSWORD)
        .await;
    let script = app.script();
    let login = |email: &'static str, password: &'static str| {
        let request = script
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }));
        async move { request.send().await.unwrap() }
    };
    for _ in 0..10 {
        assert_eq!(
            login("victim@example.com", "wrong-password").await.status(),
            401
        );
    }
    let throttled = login("victim@example.com", PASSWORD).await;
    assert_eq!(throttled.status(), 429, "even the right password waits");
    let retry_after: u64 = throttled.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        throttled.json::<Value>().await.unwrap()["code"],
        "too_many_attempts"
    );
    // Token creation checks the same credentials and is throttled alike.
    let token = script
        .post(app.url("/api/v1/auth/tokens"))
        .json(&json!({ "email": "victim@example.com", "password": PASSWORD, "label": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 429);
    app.stop().await;

    // Per address: failures spread over many accounts from one address.
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "someone@example.com", PASSWORD)
        .await;
    for n in 0..10 {
        let response = app
            .login(
                &app.script(),
                &format!("guess{n}@example.com"),
                "whatever-pass",
            )
            .await;
        assert_eq!(response.status(), 401);
    }
    let blocked = app
        .login(&app.script(), "someone@example.com", PASSWORD)
        .await;
    assert_eq!(blocked.status(), 429);
    app.stop().await;
}

#[tokio::test]
async fn tokens_work_and_are_revoked() {
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "mobile@example.com", PASSWORD)
        .await;
    let script = app.script();
    let created = script
        .post(app.url("/api/v1/auth/tokens"))
        .json(&json!({ "email": "mobile@example.com", "password": PASSWORD, "label": "Phone" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("blk_") && token.len() == 47, "{token}");

    let me = script
        .get(app.url("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(
        me.json::<Value>().await.unwrap()["email"],
        "mobile@example.com"
    );

    let list: Value = script
        .get(app.url("/api/v1/auth/tokens"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["label"], "Phone");
    assert!(
        list["items"][0].get("token").is_none(),
        "the secret is shown only once"
    );
    assert!(list["items"][0]["last_used_at"].is_string(), "{list}");
    assert_eq!(list["next_cursor"], Value::Null);

    // Bearer requests need no CSRF protection: even a foreign Origin is fine.
    let patched = script
        .patch(app.url("/api/v1/me"))
        .bearer_auth(token)
        .header(header::ORIGIN, "http://evil.example")
        .json(&json!({ "name": "Mobile Brewer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);

    let id = created["id"].as_str().unwrap();
    let revoked = script
        .delete(app.url(&format!("/api/v1/auth/tokens/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let refused = script
        .get(app.url("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(
        refused.json::<Value>().await.unwrap()["code"],
        "invalid_token"
    );

    let garbage = script
        .get(app.url("/api/v1/me"))
        .header(header::AUTHORIZATION, "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn token_pages_follow_the_cursor() {
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "many@example.com", PASSWORD)
        .await;
    let token = app.token("many@example.com", PASSWORD).await;
    for _ in 0..4 {
        app.token("many@example.com", PASSWORD).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = app.url("/api/v1/auth/tokens?limit=2");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = app
            .script()
            .get(url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen, "no token twice");
    app.stop().await;
}

#[tokio::test]
async fn password_change_ends_other_sessions_only() {
    let app = TestApp::spawn().await;
    let laptop = app.browser();
    app.signup(&laptop, "two@example.com", PASSWORD).await;
    let phone = app.browser();
    let login = app.login(&phone, "two@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);

    let wrong = laptop
        .post(app.url("/api/v1/me/password"))
        .json(&json!({ "current_password": "not-my-password", "new_password": "new-password-99" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    assert!(wrong.json::<Value>().await.unwrap()["fields"]["current_password"].is_string());

    let changed = laptop
        .post(app.url("/api/v1/me/password"))
        .json(&json!({ "current_password": PASSWORD, "new_password": "new-password-99" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    assert_eq!(
        laptop
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "this session stays"
    );
    assert_eq!(
        phone
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "others end"
    );

    let old = app.login(&app.script(), "two@example.com", PASSWORD).await;
    assert_eq!(old.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn disabled_accounts_lose_sessions_tokens_and_login() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let user = app.signup(&browser, "gone@example.com", PASSWORD).await;
    let token = app.token("gone@example.com", PASSWORD).await;

    let store = app.store().await;
    store
        .user_set_disabled(user["id"].as_str().unwrap(), Some(chrono::Utc::now()))
        .await
        .unwrap();
    store.close().await;

    assert_eq!(
        browser
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.script()
            .get(app.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let login = app.login(&app.script(), "gone@example.com", PASSWORD).await;
    assert_eq!(login.status(), 403);
    assert_eq!(
        login.json::<Value>().await.unwrap()["code"],
        "account_disabled"
    );
    app.stop().await;
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_removes_everything() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    app.signup(&browser, "bye@example.com", PASSWORD).await;
    let token = app.token("bye@example.com", PASSWORD).await;
    let refused = browser
        .delete(app.url("/api/v1/me"))
        .json(&json!({ "password": "wrong-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let deleted = browser
        .delete(app.url("/api/v1/me"))
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        browser
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.script()
            .get(app.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let audit = app
        .store()
        .await
        .audit_search(&brewlink::store::audit::AuditQuery::default(), None, 50)
        .await
        .unwrap();
    let actions: Vec<&str> = audit
        .items
        .iter()
        .map(|event| event.action.as_str())
        .collect();
    for action in ["account.created", "token.created", "account.deleted"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn cross_site_cookie_requests_are_refused() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    app.signup(&browser, "csrf@example.com", PASSWORD).await;
    let forged = browser
        .patch(app.url("/api/v1/me"))
        .header(header::ORIGIN, "http://evil.example")
        .json(&json!({ "name": "pwned" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(forged.json::<Value>().await.unwrap()["code"], "csrf_failed");
    let cross_site = browser
        .patch(app.url("/api/v1/me"))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({ "name": "pwned" }))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let same_site = browser
        .patch(app.url("/api/v1/me"))
        .json(&json!({ "name": "Fine" }))
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), 200, "the site's own Origin is fine");

    // Cookies without any browser header: refused (browsers always send one).
    let cookie = browser.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(cookie.status(), 200);
    let bare = reqwest::Client::new()
        .patch(app.url("/api/v1/me"))
        .header(header::COOKIE, "brewlink_session=whatever")
        .json(&json!({ "name": "pwned" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 403);
    // Login forms posted from another site are refused too (login CSRF).
    let login = app
        .script()
        .post(app.url("/login"))
        .header(header::ORIGIN, "http://evil.example")
        .form(&[("email", "csrf@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn cookies_are_secure_and_host_prefixed_over_https() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.http.public_url = "https://brew.example".to_string();
    let app = TestApp::spawn_with(config, data_dir, database).await;
    let response = app
        .script()
        .post(app.url("/api/v1/auth/signup"))
        .header(header::ORIGIN, "https://brew.example")
        .json(&json!({ "email": "tls@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = session_cookie(&response).unwrap();
    assert!(cookie.starts_with("__Host-brewlink_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    app.stop().await;
}

#[tokio::test]
async fn web_forms_work_without_javascript() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let signup = browser
        .post(app.url("/signup"))
        .form(&[
            ("name", "Form Brewer"),
            ("email", "form@example.com"),
            ("password", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::SEE_OTHER);
    assert_eq!(signup.headers()[header::LOCATION], "/signup");
    let page = browser
        .get(app.url("/signup"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Use at least 10 characters."),
        "the error is shown"
    );
    assert!(
        page.contains(r#"value="form@example.com""#),
        "what was typed is kept"
    );
    let again = browser
        .get(app.url("/signup"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !again.contains("Use at least 10 characters."),
        "the error is shown once"
    );

    let signup = browser
        .post(app.url("/signup"))
        .form(&[
            ("name", "Form Brewer"),
            ("email", "form@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signup.headers()[header::LOCATION], "/account");
    let account = browser
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        account.contains("Form Brewer") && account.contains("Welcome to BrewLink!"),
        "{account}"
    );

    let token = browser
        .post(app.url("/account/tokens"))
        .form(&[("label", "Script"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::SEE_OTHER);
    let account = browser
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        account.contains("Copy it now") && account.contains("blk_"),
        "the new token is shown once"
    );

    let logout = browser.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(logout.headers()[header::LOCATION], "/");
    let account = browser.get(app.url("/account")).send().await.unwrap();
    let location = account
        .headers()
        .get(header::LOCATION)
        .map(|value| value.to_str().unwrap().to_string());
    assert_eq!(
        location.as_deref(),
        Some("/login"),
        "signed out: the account page sends to login"
    );

    let login = browser
        .post(app.url("/login"))
        .form(&[
            ("email", "form@example.com"),
            ("password", "wrong-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()[header::LOCATION], "/login");
    let page = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Wrong email or password."), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn cli_creates_the_first_staff_account() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(dir.path()).await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_brewlink"))
        .args([
            "user",
            "create",
            "--email",
            "boss@example.com",
            "--name",
            "Boss",
            "--staff",
        ])
        .env("BREWLINK_DATA_DIR", dir.path())
        .env("BREWLINK_DATABASE_URL", &database.url)
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("created staff account boss@example.com")
    );

    let config = test_config(dir.path(), &database.url);
    let app = TestApp::spawn_with(config, dir, database).await;
    let browser = app.browser();
    let login = app.login(&browser, "boss@example.com", PASSWORD).await;
    assert_eq!(login.json::<Value>().await.unwrap()["role"], "staff");
    assert_eq!(
        app.create_user("x@example.com", PASSWORD, Role::Brewer)
            .await
            .len(),
        36
    );
    app.stop().await;
}

#[tokio::test]
async fn every_api_error_is_a_problem_document() {
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "errors@example.com", PASSWORD)
        .await;
    let token = app.token("errors@example.com", PASSWORD).await;
    let script = app.script();
    let cases = [
        (
            script.put(app.url("/api/v1/me")).bearer_auth(&token),
            405,
            "method_not_allowed",
        ),
        (
            script
                .get(app.url("/api/v1/devices/some-id/gpio/not-a-pin"))
                .bearer_auth(&token),
            400,
            "invalid_path",
        ),
        (
            script
                .get(app.url("/api/v1/devices?limit=lots"))
                .bearer_auth(&token),
            400,
            "invalid_query",
        ),
        (
            script
                .patch(app.url("/api/v1/me"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body("x".repeat(2 << 20)),
            413,
            "payload_too_large",
        ),
        (
            script
                .post(app.url("/api/v1/devices/x/csr"))
                .bearer_auth(&token)
                .body(vec![b'a'; 2 << 20]),
            413,
            "payload_too_large",
        ),
        (
            script.get(app.url("/api/v1/no/such/route")),
            404,
            "not_found",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{code}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{code}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code);
        assert_eq!(problem["status"], status);
    }
    app.stop().await;
}

#[tokio::test]
async fn parallel_guesses_cannot_outrun_the_throttle() {
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "parallel@example.com", PASSWORD)
        .await;
    let guesses = (0..30).map(|n| {
        let request = app.script().post(app.url("/api/v1/auth/login")).json(
            &json!({ "email": "parallel@example.com", "password": format!("guess-number-{n}") }),
        );
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|status| **status == 401).count();
    assert!(
        checked <= 10,
        "at most 10 guesses were checked: {statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|status| *status == 401 || *status == 429),
        "{statuses:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn password_hashing_is_bounded_and_the_others_are_told_to_come_back() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.http.password_hashes_at_once = 1;
    config.http.password_hash_wait_ms = 1;
    let app = TestApp::spawn_with(config, data_dir, database).await;
    // Twelve signups at once: one hash runs, the others find no turn within 1 ms.
    let signups = (0..12).map(|n| {
        let request = app
            .browser()
            .post(app.url("/api/v1/auth/signup"))
            .json(&json!({ "email": format!("rush{n}@example.com"), "password": PASSWORD }));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|value| value.to_str().unwrap().to_string());
            let body: Value = response.json().await.unwrap();
            (n, status, retry_after, body)
        }
    });
    let answers = futures::future::join_all(signups).await;
    let busy: Vec<_> = answers.iter().filter(|answer| answer.1 == 503).collect();
    let created = answers.iter().filter(|answer| answer.1 == 201).count();
    assert!(created >= 1, "{answers:?}");
    assert!(!busy.is_empty(), "beyond one hash at a time: {answers:?}");
    assert_eq!(created + busy.len(), 12, "{answers:?}");
    for (_, _, retry_after, body) in &busy {
        assert_eq!(body["code"], "busy", "{body}");
        assert_eq!(retry_after.as_deref(), Some("5"));
    }
    // A refused signup stored nothing: the same email signs up when the server has a turn free.
    for (n, ..) in busy {
        app.signup(&app.browser(), &format!("rush{n}@example.com"), PASSWORD)
            .await;
    }
    app.stop().await;
}
