//! The authorization table: every API route that acts on someone's data, called by its owner, by
//! another brewer, by staff and anonymously, with the status each must get. Later routes join the table.

mod common;

use brewlink::auth::Role;
use common::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "fermenter-77";

/// Who calls.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Owner,
    Other,
    Staff,
    Anonymous,
}

/// One route and the status each caller gets.
struct Case {
    method: Method,
    /// `{token_id}`, `{device_id}`, `{owner_id}`, `{recipe_id}` and `{session_id}` are replaced by the
    /// owner's token, device, user, recipe and brew session ids.
    path: &'static str,
    body: Option<Value>,
    owner: u16,
    other: u16,
    staff: u16,
    anonymous: u16,
}

fn cases() -> Vec<Case> {
    let case = |method: Method,
                path,
                body: Option<Value>,
                [owner, other, staff, anonymous]: [u16; 4]| Case {
        method,
        path,
        body,
        owner,
        other,
        staff,
        anonymous,
    };
    vec![
        case(Method::GET, "/api/v1/me", None, [200, 200, 200, 401]),
        case(
            Method::PATCH,
            "/api/v1/me",
            Some(json!({ "name": "Renamed" })),
            [200, 200, 200, 401],
        ),
        case(
            Method::GET,
            "/api/v1/auth/tokens",
            None,
            [200, 200, 200, 401],
        ),
        // Another user's token is not found, for staff too: tokens are personal.
        case(
            Method::DELETE,
            "/api/v1/auth/tokens/{token_id}",
            None,
            [204, 404, 404, 401],
        ),
        case(
            Method::POST,
            "/api/v1/me/password",
            Some(json!({ "current_password": "wrong-password", "new_password": "whatever-123" })),
            [422, 422, 422, 401],
        ),
        case(
            Method::DELETE,
            "/api/v1/me",
            Some(json!({ "password": "wrong-password" })),
            [422, 422, 422, 401],
        ),
        case(Method::GET, "/api/v1/recipes", None, [200, 200, 200, 401]),
        case(
            Method::POST,
            "/api/v1/recipes",
            Some(json!({ "name": "Mine" })),
            [201, 201, 201, 401],
        ),
        case(
            Method::POST,
            "/api/v1/recipes/import",
            Some(json!({ "beerjson": { "version": 1.0, "recipes": [{
                "name": "Imported", "batch_size": { "unit": "l", "value": 20 } }] } })),
            [201, 201, 201, 401],
        ),
        // Recipes are private: others are told they do not exist; staff may read but not change them.
        case(
            Method::GET,
            "/api/v1/recipes/{recipe_id}",
            None,
            [200, 404, 200, 401],
        ),
        case(
            Method::PUT,
            "/api/v1/recipes/{recipe_id}",
            Some(json!({ "name": "Renamed" })),
            [200, 404, 403, 401],
        ),
        case(
            Method::DELETE,
            "/api/v1/recipes/{recipe_id}",
            None,
            [204, 404, 403, 401],
        ),
        case(
            Method::POST,
            "/api/v1/recipes/{recipe_id}/clone",
            None,
            [201, 404, 201, 401],
        ),
        case(
            Method::GET,
            "/api/v1/recipes/{recipe_id}/export",
            None,
            [200, 404, 200, 401],
        ),
        // Brew sessions: the owner's device never reported what it can do, so planning is refused
        // (409), and controlling the session finds the device offline (409).
        case(
            Method::POST,
            "/api/v1/devices/{device_id}/sessions",
            Some(json!({ "recipe_id": "{recipe_id}", "dry_run": true })),
            [409, 404, 403, 401],
        ),
        case(Method::GET, "/api/v1/sessions", None, [200, 200, 200, 401]),
        case(
            Method::GET,
            "/api/v1/sessions/{session_id}",
            None,
            [200, 404, 200, 401],
        ),
        case(
            Method::PATCH,
            "/api/v1/sessions/{session_id}",
            Some(json!({ "measured_og": 1.05 })),
            [200, 404, 403, 401],
        ),
        case(
            Method::POST,
            "/api/v1/sessions/{session_id}/notes",
            Some(json!({ "text": "Smells right" })),
            [201, 404, 403, 401],
        ),
        case(
            Method::POST,
            "/api/v1/sessions/{session_id}/pause",
            None,
            [409, 404, 403, 401],
        ),
        case(
            Method::POST,
            "/api/v1/sessions/{session_id}/resume",
            None,
            [409, 404, 403, 401],
        ),
        // An abort ends the session even with the device offline.
        case(
            Method::POST,
            "/api/v1/sessions/{session_id}/abort",
            None,
            [200, 404, 403, 401],
        ),
        case(
            Method::GET,
            "/api/v1/sessions/{session_id}/export",
            None,
            [200, 404, 200, 401],
        ),
        // The admin site: staff only; brewers are refused even for their own account and device.
        case(Method::GET, "/api/v1/admin/users", None, STAFF_ONLY),
        case(
            Method::GET,
            "/api/v1/admin/users/{owner_id}",
            None,
            STAFF_ONLY,
        ),
        case(
            Method::PATCH,
            "/api/v1/admin/users/{owner_id}",
            Some(json!({ "role": "brewer" })),
            STAFF_ONLY,
        ),
        case(Method::GET, "/api/v1/admin/devices", None, STAFF_ONLY),
        case(
            Method::POST,
            "/api/v1/admin/devices/{device_id}/disconnect",
            None,
            STAFF_ONLY,
        ),
        case(
            Method::POST,
            "/api/v1/admin/devices/{device_id}/revoke",
            None,
            STAFF_ONLY,
        ),
        case(
            Method::GET,
            "/api/v1/admin/devices/{device_id}/inspect",
            None,
            STAFF_ONLY,
        ),
        case(Method::GET, "/api/v1/admin/broker", None, STAFF_ONLY),
        case(Method::GET, "/api/v1/admin/audit", None, STAFF_ONLY),
        case(Method::GET, "/api/v1/admin/errors", None, STAFF_ONLY),
    ]
}

/// Owner, other brewer, staff, anonymous.
const STAFF_ONLY: [u16; 4] = [403, 403, 200, 401];

struct Fixture {
    app: TestApp,
    owner: String,
    other: String,
    staff: String,
    owner_token_id: String,
    owner_device_id: String,
    owner_id: String,
    owner_recipe_id: String,
    owner_session_id: String,
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    let owner_id = app
        .create_user("owner@example.com", PASSWORD, Role::Brewer)
        .await;
    app.create_user("other@example.com", PASSWORD, Role::Brewer)
        .await;
    app.create_user("staff@example.com", PASSWORD, Role::Staff)
        .await;
    let owner = app.token("owner@example.com", PASSWORD).await;
    let other = app.token("other@example.com", PASSWORD).await;
    let staff = app.admin_token("staff@example.com", PASSWORD).await;
    let tokens: Value = app
        .script()
        .get(app.url("/api/v1/auth/tokens"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owner_token_id = tokens["items"][0]["id"].as_str().unwrap().to_string();
    let (_, device) = app.register_device(&owner, "Owned").await;
    let (_, recipe) = app
        .send_json(
            &owner,
            Method::POST,
            "/api/v1/recipes",
            Some(json!({ "name": "Owned recipe" })),
        )
        .await;
    // A session as if it had been started earlier (starting one needs a device online).
    let owner_session_id = "01a20000-0000-7000-8000-000000000001".to_string();
    let store = app.store().await;
    store
        .brew_session_insert(&brewlink::store::brew_sessions::SessionRecord {
            id: owner_session_id.clone(),
            owner_id: owner_id.clone(),
            device_id: device.id.clone(),
            recipe_id: None,
            recipe: json!({ "name": "Owned recipe" }).to_string(),
            steps: "[]".to_string(),
            state: "running".to_string(),
            reason: String::new(),
            measured_og: None,
            measured_fg: None,
            started_at: chrono::Utc::now(),
            ended_at: None,
        })
        .await
        .unwrap();
    store.close().await;
    Fixture {
        app,
        owner,
        other,
        staff,
        owner_token_id,
        owner_device_id: device.id,
        owner_id,
        owner_recipe_id: recipe["id"].as_str().unwrap().to_string(),
        owner_session_id,
    }
}

#[tokio::test]
async fn every_route_answers_each_caller_as_the_table_says() {
    let mut failures = Vec::new();
    for case in cases() {
        // A fresh world per route; the owner goes last, since some routes change or delete things.
        let fixture = fixture().await;
        for caller in [
            Caller::Anonymous,
            Caller::Other,
            Caller::Staff,
            Caller::Owner,
        ] {
            let path = case
                .path
                .replace("{token_id}", &fixture.owner_token_id)
                .replace("{device_id}", &fixture.owner_device_id)
                .replace("{owner_id}", &fixture.owner_id)
                .replace("{recipe_id}", &fixture.owner_recipe_id)
                .replace("{session_id}", &fixture.owner_session_id);
            let mut request = fixture
                .app
                .script()
                .request(case.method.clone(), fixture.app.url(&path));
            let token = match caller {
                Caller::Owner => Some(&fixture.owner),
                Caller::Other => Some(&fixture.other),
                Caller::Staff => Some(&fixture.staff),
                Caller::Anonymous => None,
            };
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = &case.body {
                let body = body
                    .to_string()
                    .replace("{recipe_id}", &fixture.owner_recipe_id);
                request = request
                    .header("content-type", "application/json")
                    .body(body);
            }
            let status = request.send().await.unwrap().status().as_u16();
            let expected = match caller {
                Caller::Owner => case.owner,
                Caller::Other => case.other,
                Caller::Staff => case.staff,
                Caller::Anonymous => case.anonymous,
            };
            if status != expected {
                failures.push(format!(
                    "{} {} as {caller:?}: {status}, expected {expected}",
                    case.method, case.path
                ));
            }
        }
        fixture.app.stop().await;
    }
    assert!(
        failures.is_empty(),
        "authorization table:\n{}",
        failures.join("\n")
    );
}
