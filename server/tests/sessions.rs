//! Brew sessions end to end: a recipe planned for the simulator (and refused where it cannot run),
//! started, paused and resumed, moved along by the simulator's progress events until it completes,
//! annotated, measured and exported; another one aborted.

mod common;

use std::{io::Read, time::Duration};

use brewlink::{
    auth::Role,
    simulator::{self, Tuning},
};
use common::TestApp;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "sparge-water-78";

/// A short brew the simulator runs in seconds.
fn quick_recipe(name: &str) -> Value {
    json!({
        "name": name,
        "style": "Test Ale",
        "batch_size_l": 20.0,
        "boil_size_l": 24.0,
        "boil_time_min": 2.0,
        "efficiency_pct": 75.0,
        "fermentables": [{ "name": "Pale", "kind": "grain", "amount_kg": 4.5, "color_srm": 3.0, "yield_pct": 80.0 }],
        "hops": [
            { "name": "Saaz", "amount_g": 20.0, "alpha_pct": 3.5, "time_min": 2.0, "use": "boil" },
            { "name": "Saaz", "amount_g": 10.0, "alpha_pct": 3.5, "time_min": 1.0, "use": "boil" },
        ],
        "yeasts": [{ "name": "US-05", "attenuation_pct": 78.0, "temp_min_c": 15.0, "temp_max_c": 22.0 }],
        "mash_steps": [{ "name": "Sacch rest", "kind": "infusion", "temp_c": 66.0, "duration_min": 1.0 }],
        "fermentation_steps": [{ "name": "Primary", "temp_c": 19.0, "days": 0.001 }],
    })
}

async fn wait_session(
    app: &TestApp,
    token: &str,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (_, session) = app.get_json(token, &format!("/api/v1/sessions/{id}")).await;
        if check(&session) {
            return session;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never happened: {session}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_recipe_runs_on_the_simulator_step_by_step() {
    let app = TestApp::spawn().await;
    app.create_user("brewday@example.com", PASSWORD, Role::Brewer)
        .await;
    let token = app.token("brewday@example.com", PASSWORD).await;
    let (_, files) = app.register_device(&token, "Kettle").await;
    let device = files.id.clone();
    let shutdown = CancellationToken::new();
    let simulation = tokio::spawn(simulator::run(
        vec![app.bundle(&token, &device).await],
        Tuning {
            interval: Duration::from_millis(100),
            speed: 30.0,
        },
        None,
        shutdown.clone(),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, status) = app
            .get_json(&token, &format!("/api/v1/devices/{device}/status"))
            .await;
        if status["online"] == true && status["capabilities"]["max_volume_l"] == 50.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the simulator came online"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, recipe) = app
        .send_json(
            &token,
            Method::POST,
            "/api/v1/recipes",
            Some(quick_recipe("Quick ale")),
        )
        .await;
    let recipe_id = recipe["id"].as_str().unwrap().to_string();
    let start = format!("/api/v1/devices/{device}/sessions");

    // Too big for the simulator's 50 l kettle: refused with the reason, nothing sent.
    let mut big = quick_recipe("Big batch");
    big["batch_size_l"] = json!(60.0);
    big["boil_size_l"] = json!(70.0);
    let (_, big) = app
        .send_json(&token, Method::POST, "/api/v1/recipes", Some(big))
        .await;
    let (code, problem) = app
        .send_json(
            &token,
            Method::POST,
            &start,
            Some(json!({ "recipe_id": big["id"] })),
        )
        .await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (409, Some("recipe_impossible")),
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("at most 50.0 l"),
        "{problem}"
    );
    let (_, commands) = app
        .get_json(&token, &format!("/api/v1/devices/{device}/commands"))
        .await;
    assert_eq!(
        commands["items"],
        json!([]),
        "nothing was sent to the device"
    );

    // The dry run: the steps and how long each should take.
    let (code, plan) = app
        .send_json(
            &token,
            Method::POST,
            &start,
            Some(json!({ "recipe_id": recipe_id, "dry_run": true })),
        )
        .await;
    assert_eq!(code, 200, "{plan}");
    let kinds: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["mash", "boil", "cool", "ferment"]);
    assert_eq!(plan["steps"][1]["alerts"][1]["at_s"], 60);
    assert!(plan["total_s"].as_u64().unwrap() > 60 + 120 + 86);

    let (code, session) = app
        .send_json(
            &token,
            Method::POST,
            &start,
            Some(json!({ "recipe_id": recipe_id })),
        )
        .await;
    assert_eq!(code, 201, "{session}");
    assert_eq!(session["state"], "running");
    let id = session["id"].as_str().unwrap().to_string();
    let (code, problem) = app
        .send_json(
            &token,
            Method::POST,
            &start,
            Some(json!({ "recipe_id": recipe_id })),
        )
        .await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (409, Some("session_running"))
    );

    // Progress moves the timeline; a note is pinned to the step running.
    let holding = wait_session(&app, &token, &id, "the mash hold", |session| {
        session["steps"][0]["status"] == "holding"
    })
    .await;
    assert_eq!(holding["current_step"], 0);
    assert!(holding["remaining_s"].as_u64().is_some());
    let (code, noted) = app
        .send_json(
            &token,
            Method::POST,
            &format!("/api/v1/sessions/{id}/notes"),
            Some(json!({ "text": "Mash smells great" })),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(noted["notes"][0]["text"], "Mash smells great");
    // Text a spreadsheet would run as a formula, kept as typed but exported inert.
    let formula = "=HYPERLINK(\"http://evil.example\",\"open\")";
    let (code, _) = app
        .send_json(
            &token,
            Method::POST,
            &format!("/api/v1/sessions/{id}/notes"),
            Some(json!({ "text": formula })),
        )
        .await;
    assert_eq!(code, 201);
    assert!(noted["notes"][0]["step_index"].as_u64().is_some());

    let (code, paused) = app
        .send_json(
            &token,
            Method::POST,
            &format!("/api/v1/sessions/{id}/pause"),
            None,
        )
        .await;
    assert_eq!(
        (code, &paused["state"]),
        (200, &json!("paused")),
        "{paused}"
    );
    let (code, resumed) = app
        .send_json(
            &token,
            Method::POST,
            &format!("/api/v1/sessions/{id}/resume"),
            None,
        )
        .await;
    assert_eq!((code, &resumed["state"]), (200, &json!("running")));

    let done = wait_session(&app, &token, &id, "the end of the program", |session| {
        session["state"] == "completed"
    })
    .await;
    assert!(
        done["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|step| step["status"] == "done"),
        "{done}"
    );
    assert!(done["ended_at"].is_string());
    assert!(done["current_step"].is_null());
    let alerts: Vec<&str> = done["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["kind"] == "alert")
        .map(|event| event["message"].as_str().unwrap())
        .collect();
    assert!(
        alerts.iter().any(|alert| alert.contains("20 g Saaz")),
        "{alerts:?}"
    );

    let (code, measured) = app
        .send_json(
            &token,
            Method::PATCH,
            &format!("/api/v1/sessions/{id}"),
            Some(json!({ "measured_og": 1.052, "measured_fg": 1.012 })),
        )
        .await;
    assert_eq!(code, 200, "{measured}");
    assert_eq!(measured["measured_abv_pct"], 5.3);
    let (code, problem) = app
        .send_json(
            &token,
            Method::PATCH,
            &format!("/api/v1/sessions/{id}"),
            Some(json!({ "measured_fg": 1.060 })),
        )
        .await;
    assert_eq!(code, 422, "{problem}");

    let export = app
        .script()
        .get(app.url(&format!("/api/v1/sessions/{id}/export")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "application/zip");
    let bytes = export.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut read = |name: &str| {
        let mut text = String::new();
        zip.by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let snapshot: Value = serde_json::from_str(&read("recipe.beerjson.json")).unwrap();
    assert_eq!(snapshot["beerjson"]["recipes"][0]["name"], "Quick ale");
    let commands = read("commands.csv");
    for kind in ["program_start", "program_pause", "program_resume"] {
        assert!(commands.contains(kind), "{kind} in {commands}");
    }
    let telemetry = read("telemetry.csv");
    assert!(telemetry.lines().count() > 2, "{telemetry}");
    let notes = read("notes.csv");
    assert!(notes.contains("Mash smells great"), "{notes}");
    let mut cells = csv::Reader::from_reader(notes.as_bytes());
    let texts: Vec<String> = cells
        .records()
        .map(|record| record.unwrap()[2].to_string())
        .collect();
    assert!(texts.contains(&format!("'{formula}")), "{texts:?}");
    assert!(!texts.contains(&formula.to_string()), "{texts:?}");
    let exported: Value = serde_json::from_str(&read("session.json")).unwrap();
    assert_eq!(exported["state"], "completed");

    // Another session, aborted: the device stops the program.
    let (code, second) = app
        .send_json(
            &token,
            Method::POST,
            &start,
            Some(json!({ "recipe_id": recipe_id })),
        )
        .await;
    assert_eq!(code, 201, "{second}");
    let second_id = second["id"].as_str().unwrap();
    let (code, aborted) = app
        .send_json(
            &token,
            Method::POST,
            &format!("/api/v1/sessions/{second_id}/abort"),
            None,
        )
        .await;
    assert_eq!(
        (code, &aborted["state"]),
        (200, &json!("aborted")),
        "{aborted}"
    );
    let (code, problem) = app
        .send_json(
            &token,
            Method::POST,
            &format!("/api/v1/sessions/{second_id}/resume"),
            None,
        )
        .await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (409, Some("session_ended"))
    );
    let (_, list) = app.get_json(&token, "/api/v1/sessions").await;
    assert_eq!(list["items"][0]["id"], second_id, "newest first");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    shutdown.cancel();
    let _ = simulation.await;
    app.stop().await;
}
