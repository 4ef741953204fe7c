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
    app.signup(&app.browser(), "planter@example.com", PASSWORD)
        .await;
    // An attacker plants the id of a session of their own in the victim's browser.
    let planter = app
        .login(&app.script(), "planter@example.com", PASSWORD)
        .await;
    let before = session_cookie(&planter).expect("the attacker's session");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(
            [(
                header::COOKIE,
                header::HeaderValue::from_str(before.split(';').next().unwrap()).unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    let login = browser
        .post(app.url("/api/v1/auth/login"))
        .header(header::ORIGIN, app.url("").trim_end_matches('/'))
        .json(&json!({ "email": "rot@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
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

/// An app behind a reverse proxy on loopback: `X-Forwarded-For` names the client.
async fn behind_proxy(configure: impl FnOnce(&mut brewlink::config::Config)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::fresh(data_dir.path()).await;
    let mut config = test_config(data_dir.path(), &database.url);
    config.http.trusted_proxies = vec!["127.0.0.1".to_string()];
    configure(&mut config);
    TestApp::spawn_with(config, data_dir, database).await
}

/// A login through the proxy, from `client`.
async fn login_from(app: &TestApp, client: &str, email: &str, password: &str) -> u16 {
    app.script()
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", client)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_guesser_is_throttled_without_locking_the_owner_out() {
    let app = behind_proxy(|_| {}).await;
    app.signup(&app.browser(), "victim@example.com", PASSWORD)
        .await;
    let attacker = "198.51.100.66";
    for _ in 0..10 {
        assert_eq!(
            login_from(&app, attacker, "victim@example.com", "wrong-password").await,
            401
        );
    }
    let throttled = app
        .script()
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", attacker)
        .json(&json!({ "email": "victim@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
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
    let token = app
        .script()
        .post(app.url("/api/v1/auth/tokens"))
        .header("x-forwarded-for", attacker)
        .json(&json!({ "email": "victim@example.com", "password": PASSWORD, "label": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 429);
    // The owner, elsewhere, is not locked out by the attacker's guesses.
    assert_eq!(
        login_from(&app, "203.0.113.5", "victim@example.com", PASSWORD).await,
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn guessing_many_accounts_from_one_address_is_throttled() {
    let app = behind_proxy(|_| {}).await;
    app.signup(&app.browser(), "someone@example.com", PASSWORD)
        .await;
    let guesser = "198.51.100.77";
    for n in 0..50 {
        let status = login_from(
            &app,
            guesser,
            &format!("guess{n}@example.com"),
            "whatever-pass",
        )
        .await;
        assert_eq!(status, 401, "guess {n}");
    }
    assert_eq!(
        login_from(&app, guesser, "someone@example.com", PASSWORD).await,
        429
    );
    assert_eq!(
        login_from(&app, "203.0.113.9", "someone@example.com", PASSWORD).await,
        200,
        "others are not affected"
    );
    app.stop().await;
}

#[tokio::test]
async fn guessing_one_account_from_many_addresses_meets_the_account_brake() {
    let app = behind_proxy(|_| {}).await;
    app.signup(&app.browser(), "popular@example.com", PASSWORD)
        .await;
    // 100 failures from 20 addresses, 5 each: no address reaches its own limit.
    for n in 0..100 {
        let address = format!("198.51.100.{}", n % 20);
        let status = login_from(&app, &address, "popular@example.com", "wrong-password").await;
        assert_eq!(status, 401, "attempt {n}");
    }
    assert_eq!(
        login_from(
            &app,
            "203.0.113.10",
            "popular@example.com",
            "wrong-password"
        )
        .await,
        429,
        "the account's brake holds for every address"
    );
    app.stop().await;
}

#[tokio::test]
async fn forwarded_addresses_are_ignored_without_trusted_proxies() {
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "direct@example.com", PASSWORD)
        .await;
    // Each guess claims another address; without a trusted proxy the peer is what counts.
    for n in 0..10 {
        let status = login_from(
            &app,
            &format!("198.51.100.{n}"),
            "direct@example.com",
            "wrong-password",
        )
        .await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        login_from(&app, "203.0.113.11", "direct@example.com", PASSWORD).await,
        429
    );
    app.stop().await;
}

#[tokio::test]
async fn signups_are_limited_per_address_and_taken_emails_cost_nothing() {
    let app = behind_proxy(|config| config.http.signups_per_address = 3).await;
    let signup = |client: &'static str, email: &'static str| {
        let request = app
            .script()
            .post(app.url("/api/v1/auth/signup"))
            .header("x-forwarded-for", client)
            .json(&json!({ "email": email, "password": PASSWORD }));
        async move { request.send().await.unwrap() }
    };
    let crowd = "198.51.100.88";
    assert_eq!(signup(crowd, "one@example.com").await.status(), 201);
    assert_eq!(signup(crowd, "two@example.com").await.status(), 201);
    // A taken email is refused before any work and does not count.
    for _ in 0..5 {
        let taken = signup(crowd, "one@example.com").await;
        assert_eq!(taken.status(), 422);
    }
    assert_eq!(signup(crowd, "three@example.com").await.status(), 201);
    let refused = signup(crowd, "four@example.com").await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(
        refused.json::<Value>().await.unwrap()["code"],
        "too_many_attempts"
    );
    assert_eq!(
        signup("203.0.113.12", "four@example.com").await.status(),
        201,
        "another address signs up"
    );
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
    let _one_at_a_time = common::PAGE_RENDERS.lock().await;
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
    config.http.signups_per_address = 100;
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

#[tokio::test]
async fn huge_emails_are_refused_without_touching_the_store() {
    // Far past any real address, and past what a PostgreSQL index entry holds (~2.7 KB).
    let app = TestApp::spawn().await;
    let email = format!("{}@example.com", "a".repeat(4000));
    let login = app.login(&app.script(), &email, PASSWORD).await;
    assert_eq!(login.status(), 401);
    let token = app
        .script()
        .post(app.url("/api/v1/auth/tokens"))
        .json(&json!({ "email": email, "password": PASSWORD, "label": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 401);
    let signup = app
        .script()
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 422);
    app.stop().await;
}

/// A token for `email` with these extra fields (scope, expires_in_days); the answer's status and body.
async fn make_token(app: &TestApp, email: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({ "email": email, "password": PASSWORD, "label": "script" });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let response = app
        .script()
        .post(app.url("/api/v1/auth/tokens"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn token_scopes_limit_what_a_token_does() {
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "scoped@example.com", PASSWORD)
        .await;
    let (code, read) = make_token(&app, "scoped@example.com", json!({ "scope": "read" })).await;
    assert_eq!(
        (code, read["scope"].as_str()),
        (201, Some("read")),
        "{read}"
    );
    let read = read["token"].as_str().unwrap().to_string();
    let (code, _) = app.get_json(&read, "/api/v1/devices").await;
    assert_eq!(code, 200, "a read token reads");
    let (code, refused) = app
        .send_json(
            &read,
            reqwest::Method::POST,
            "/api/v1/devices",
            Some(json!({ "name": "Kettle", "model": "Kettle 50" })),
        )
        .await;
    assert_eq!(
        (code, refused["code"].as_str()),
        (403, Some("insufficient_scope"))
    );

    let (_, devices) = make_token(&app, "scoped@example.com", json!({ "scope": "devices" })).await;
    let devices = devices["token"].as_str().unwrap().to_string();
    let (code, device) = app
        .send_json(
            &devices,
            reqwest::Method::POST,
            "/api/v1/devices",
            Some(json!({ "name": "Kettle", "model": "Kettle 50" })),
        )
        .await;
    assert_eq!(code, 201, "{device}");
    let id = device["device"]["id"].as_str().unwrap();
    let (code, refused) = app
        .get_json(&read, &format!("/api/v1/devices/{id}/rtc"))
        .await;
    assert_eq!(
        (code, refused["code"].as_str()),
        (403, Some("insufficient_scope")),
        "reading the clock sends a command"
    );
    let (code, _) = app
        .send_json(
            &devices,
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(json!({ "name": "Other" })),
        )
        .await;
    assert_eq!(code, 403, "a devices token leaves the account alone");

    let (code, problem) = make_token(&app, "scoped@example.com", json!({ "scope": "admin" })).await;
    assert_eq!(code, 422, "{problem}");
    assert!(problem["fields"]["scope"].is_string(), "{problem}");
    let (code, problem) = make_token(&app, "scoped@example.com", json!({ "scope": "root" })).await;
    assert_eq!(code, 422, "{problem}");
    app.stop().await;
}

#[tokio::test]
async fn tokens_expire_and_end_with_a_password_change_or_a_disable() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    app.signup(&browser, "ending@example.com", PASSWORD).await;
    for days in [0, 3651] {
        let (code, problem) = make_token(
            &app,
            "ending@example.com",
            json!({ "expires_in_days": days }),
        )
        .await;
        assert_eq!(code, 422, "{days} days: {problem}");
        assert!(
            problem["fields"]["expires_in_days"].is_string(),
            "{problem}"
        );
    }
    let (code, expiring) =
        make_token(&app, "ending@example.com", json!({ "expires_in_days": 30 })).await;
    assert_eq!(code, 201, "{expiring}");
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(expiring["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires_at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "{days} hours");
    let secret = expiring["token"].as_str().unwrap().to_string();
    let (code, listed) = app.get_json(&secret, "/api/v1/auth/tokens").await;
    assert_eq!(code, 200);
    assert_eq!(listed["items"][0]["expires_at"], expiring["expires_at"]);
    assert_eq!(listed["items"][0]["scope"], "full");
    assert!(listed["items"][0]["last_used_at"].is_string(), "{listed}");

    // Its time comes (moved forward in the database rather than waited for).
    {
        use sqlx::Connection;
        let mut db = sqlx::AnyConnection::connect(&app.database.url)
            .await
            .unwrap();
        sqlx::query("UPDATE api_tokens SET expires_at_ms = $1 WHERE id = $2")
            .bind(chrono::Utc::now().timestamp_millis() - 1000)
            .bind(expiring["id"].as_str().unwrap())
            .execute(&mut db)
            .await
            .unwrap();
    }
    let (code, problem) = app.get_json(&secret, "/api/v1/me").await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (401, Some("invalid_token"))
    );

    // A password change ends every token.
    let (_, kept) = make_token(&app, "ending@example.com", json!({})).await;
    let kept = kept["token"].as_str().unwrap().to_string();
    assert_eq!(app.get_json(&kept, "/api/v1/me").await.0, 200);
    let changed = browser
        .post(app.url("/api/v1/me/password"))
        .json(&json!({ "current_password": PASSWORD, "new_password": "a-new-passphrase-2026" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    assert_eq!(
        app.get_json(&kept, "/api/v1/me").await.0,
        401,
        "ended by the change"
    );

    // Disabling ends them too, and enabling does not bring them back.
    app.create_user("boss@example.com", PASSWORD, Role::Staff)
        .await;
    let (code, admin) = make_token(&app, "boss@example.com", json!({ "scope": "admin" })).await;
    assert_eq!(code, 201, "{admin}");
    let admin_token = admin["token"].as_str().unwrap().to_string();
    let after: Value = app
        .script()
        .post(app.url("/api/v1/auth/tokens"))
        .json(&json!({ "email": "ending@example.com", "password": "a-new-passphrase-2026", "label": "after" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after = after["token"].as_str().unwrap().to_string();
    let (code, me) = app.get_json(&after, "/api/v1/me").await;
    assert_eq!(code, 200);
    let user_id = me["id"].as_str().unwrap();
    for disabled in [true, false] {
        let (code, answer) = app
            .send_json(
                &admin_token,
                reqwest::Method::PATCH,
                &format!("/api/v1/admin/users/{user_id}"),
                Some(json!({ "disabled": disabled })),
            )
            .await;
        assert_eq!(code, 200, "{answer}");
    }
    assert_eq!(
        app.get_json(&after, "/api/v1/me").await.0,
        401,
        "a re-enabled account's old tokens stay ended"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_database_holds_no_live_session_id_or_token() {
    let app = TestApp::spawn().await;
    let response = app
        .script()
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "stored@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = session_cookie(&response).unwrap();
    let session_id = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_string())
        .unwrap();
    let token = app.token("stored@example.com", PASSWORD).await;
    // The session works, by its cookie alone.
    let me = app
        .script()
        .get(app.url("/api/v1/me"))
        .header(header::COOKIE, format!("brewlink_session={session_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // Everything the database holds about sessions and tokens, as text.
    use sqlx::{Connection, Row};
    let mut db = sqlx::AnyConnection::connect(&app.database.url)
        .await
        .unwrap();
    let mut stored = String::new();
    let mut rows = 0;
    for query in [
        "SELECT id, COALESCE(user_id, ''), data FROM sessions",
        "SELECT id, user_id, token_hash, prefix FROM api_tokens",
    ] {
        for row in sqlx::query(query).fetch_all(&mut db).await.unwrap() {
            rows += 1;
            for column in 0..row.len() {
                stored.push_str(&row.get::<String, _>(column));
                stored.push('\n');
            }
        }
    }
    assert!(rows >= 2, "a session and a token were read");
    assert!(
        !stored.contains(&session_id),
        "a live session id is stored:\n{stored}"
    );
    assert!(
        !stored.contains(&token),
        "a live token is stored:\n{stored}"
    );
    app.stop().await;
}

#[tokio::test]
async fn failed_form_posts_of_visitors_store_nothing_and_the_flash_is_shown_once() {
    let _one_at_a_time = common::PAGE_RENDERS.lock().await;
    let app = TestApp::spawn().await;
    app.signup(&app.browser(), "formed@example.com", PASSWORD)
        .await;
    let sessions_stored = || async {
        use sqlx::Connection;
        let mut db = sqlx::AnyConnection::connect(&app.database.url)
            .await
            .unwrap();
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(&mut db)
            .await
            .unwrap();
        count
    };
    let before = sessions_stored().await;

    // A visitor without a cookie: a failed login, a failed signup (with a long value).
    let login = app
        .script()
        .post(app.url("/login"))
        .form(&[
            ("email", "formed@example.com"),
            ("password", "wrong-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookies: Vec<String> = login
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_string())
        .collect();
    assert!(
        cookies
            .iter()
            .all(|cookie| !cookie.starts_with("brewlink_session=")),
        "no session for a failure: {cookies:?}"
    );
    let flash = cookies
        .iter()
        .find(|cookie| cookie.starts_with("brewlink_flash="))
        .expect("the outcome travels in a cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let signup = app
        .script()
        .post(app.url("/signup"))
        .form(&[
            ("email", "x".repeat(3000).as_str()),
            ("password", "short"),
            ("name", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 303);
    assert_eq!(
        sessions_stored().await,
        before,
        "nothing stored for visitors"
    );

    // The next page shows it, once.
    let page = app
        .script()
        .get(app.url("/login"))
        .header(header::COOKIE, &flash)
        .send()
        .await
        .unwrap();
    let cleared = page
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|value| {
            let value = value.to_str().unwrap();
            value.starts_with("brewlink_flash=;") && value.contains("Max-Age=0")
        });
    assert!(cleared, "the page that shows the flash removes it");
    let html = page.text().await.unwrap();
    assert!(html.contains("Wrong email or password."), "{html}");
    assert!(
        html.contains("formed@example.com"),
        "the email typed comes back"
    );
    app.stop().await;
}

#[tokio::test]
async fn changing_the_email_takes_the_password() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    app.signup(&browser, "move@example.com", PASSWORD).await;
    let patch = |body: Value| {
        let request = browser.patch(app.url("/api/v1/me")).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    // A held session alone cannot move the account to another email.
    let (status, problem) = patch(json!({ "email": "thief@example.com" })).await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["fields"]["current_password"].is_string(),
        "{problem}"
    );
    let (status, problem) = patch(json!({
        "email": "thief@example.com",
        "current_password": "not-the-password",
    }))
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["fields"]["current_password"], "This is not your password.",
        "{problem}"
    );
    // Other changes need no password; the email stays as it was.
    let (status, me) = patch(json!({ "name": "Mover", "email": "move@example.com" })).await;
    assert_eq!(
        (status, me["email"].as_str()),
        (StatusCode::OK, Some("move@example.com"))
    );
    let (status, me) = patch(json!({
        "email": "moved@example.com",
        "current_password": PASSWORD,
    }))
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "moved@example.com");
    let login = app
        .login(&app.browser(), "moved@example.com", PASSWORD)
        .await;
    assert_eq!(login.status(), 200);
    app.stop().await;
}
