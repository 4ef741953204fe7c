//! Recipes over the JSON API: numbers, editing, search, clone, delete, and BeerJSON/BeerXML files —
//! files made by other tools, round trips, and broken files that save nothing.

mod common;

use brewlink::auth::Role;
use common::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "grist-mill-123";

async fn brewer(app: &TestApp, email: &str) -> String {
    app.create_user(email, PASSWORD, Role::Brewer).await;
    app.token(email, PASSWORD).await
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn import(app: &TestApp, token: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = app
        .script()
        .post(app.url("/api/v1/recipes/import"))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Equal up to floating-point noise (unit conversions there and back).
fn assert_same(left: &Value, right: &Value, path: &str) {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                "{path}: {a} != {b}"
            );
        }
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(
                a.keys().collect::<Vec<_>>(),
                b.keys().collect::<Vec<_>>(),
                "{path}: fields"
            );
            for (key, value) in a {
                assert_same(value, &b[key], &format!("{path}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: length");
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                assert_same(x, y, &format!("{path}[{index}]"));
            }
        }
        _ => assert_eq!(left, right, "{path}"),
    }
}

/// The part of a recipe the brewer writes (what a round trip must keep).
fn body(recipe: &Value) -> Value {
    let mut body = recipe.clone();
    for computed in ["id", "owner_id", "numbers", "created_at", "updated_at"] {
        body.as_object_mut().unwrap().remove(computed);
    }
    body
}

#[tokio::test]
async fn recipes_are_written_computed_searched_cloned_and_deleted() {
    let app = TestApp::spawn().await;
    let token = brewer(&app, "recipes@example.com").await;
    let pale = json!({
        "name": "  Garden Pale  ",
        "style": "American Pale Ale",
        "batch_size_l": 20.0,
        "boil_size_l": 25.0,
        "boil_time_min": 60.0,
        "efficiency_pct": 72.0,
        "fermentables": [{ "name": "Pale malt", "kind": "grain", "amount_kg": 5.0, "color_srm": 3.0, "yield_pct": 80.0 }],
        "hops": [{ "name": "Magnum", "amount_g": 30.0, "alpha_pct": 10.0, "time_min": 60.0, "use": "boil" }],
        "yeasts": [{ "name": "US-05", "attenuation_pct": 77.0, "temp_min_c": 15.0, "temp_max_c": 22.0 }],
        "mash_steps": [{ "name": "Sacch", "kind": "infusion", "temp_c": 66.0, "duration_min": 60.0 }],
        "fermentation_steps": [{ "name": "Primary", "temp_c": 19.0, "days": 10.0 }],
    });
    let (code, recipe) = app
        .send_json(&token, Method::POST, "/api/v1/recipes", Some(pale.clone()))
        .await;
    assert_eq!(code, 201, "{recipe}");
    assert_eq!(recipe["name"], "Garden Pale", "names are trimmed");
    let numbers = &recipe["numbers"];
    assert_eq!(numbers["og"], 1.056);
    assert_eq!(numbers["fg"], 1.013);
    assert_eq!(numbers["ibu"], 36.4);
    assert_eq!(numbers["color_srm"], 5.2);
    let id = recipe["id"].as_str().unwrap().to_string();

    // Invalid fields are named, each with its message; nothing changes.
    let mut broken = pale.clone();
    broken["hops"][0]["time_min"] = json!(90.0);
    broken["fermentables"][0]["amount_kg"] = json!(-1);
    broken["name"] = json!("");
    let (code, problem) = app
        .send_json(
            &token,
            Method::PUT,
            &format!("/api/v1/recipes/{id}"),
            Some(broken),
        )
        .await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let fields = problem["fields"].as_object().unwrap();
    for field in ["name", "hops[0].time_min", "fermentables[0].amount_kg"] {
        assert!(fields.contains_key(field), "{field}: {problem}");
    }

    let mut stronger = pale.clone();
    stronger["name"] = json!("Garden IPA");
    stronger["hops"] = json!([
        { "name": "Magnum", "amount_g": 60.0, "alpha_pct": 10.0, "time_min": 60.0, "use": "boil" },
        { "name": "Citra", "amount_g": 50.0, "alpha_pct": 12.0, "time_min": 20.0, "use": "whirlpool" },
    ]);
    let (code, updated) = app
        .send_json(
            &token,
            Method::PUT,
            &format!("/api/v1/recipes/{id}"),
            Some(stronger),
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        updated["numbers"]["ibu"].as_f64().unwrap() > 72.8,
        "{updated}"
    );
    assert_eq!(updated["hops"][1]["use"], "whirlpool");

    let (code, copy) = app
        .send_json(
            &token,
            Method::POST,
            &format!("/api/v1/recipes/{id}/clone"),
            None,
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(copy["name"], "Garden IPA (copy)");
    assert_same(&body(&copy)["hops"], &body(&updated)["hops"], "hops");

    let (_, found) = app.get_json(&token, "/api/v1/recipes?query=ipa").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 2);
    let (_, by_style) = app
        .get_json(&token, "/api/v1/recipes?query=AMERICAN%20pale")
        .await;
    assert_eq!(by_style["items"].as_array().unwrap().len(), 2);
    let (_, none) = app.get_json(&token, "/api/v1/recipes?query=stout").await;
    assert_eq!(none["items"], json!([]));
    let (_, first_page) = app.get_json(&token, "/api/v1/recipes?limit=1").await;
    assert!(first_page["next_cursor"].is_string());

    let (code, _) = app
        .send_json(
            &token,
            Method::DELETE,
            &format!("/api/v1/recipes/{id}"),
            None,
        )
        .await;
    assert_eq!(code, 204);
    let (code, _) = app.get_json(&token, &format!("/api/v1/recipes/{id}")).await;
    assert_eq!(code, 404);

    // Another brewer cannot see it; staff can read but not change it.
    let other = brewer(&app, "neighbour@example.com").await;
    let copy_id = copy["id"].as_str().unwrap();
    let (code, _) = app
        .get_json(&other, &format!("/api/v1/recipes/{copy_id}"))
        .await;
    assert_eq!(code, 404);
    app.create_user("staff@example.com", PASSWORD, Role::Staff)
        .await;
    let staff = app.admin_token("staff@example.com", PASSWORD).await;
    let (code, _) = app
        .get_json(&staff, &format!("/api/v1/recipes/{copy_id}"))
        .await;
    assert_eq!(code, 200);
    let (code, _) = app
        .send_json(
            &staff,
            Method::DELETE,
            &format!("/api/v1/recipes/{copy_id}"),
            None,
        )
        .await;
    assert_eq!(code, 403);
    app.stop().await;
}

#[tokio::test]
async fn beerjson_from_another_tool_imports_and_round_trips() {
    let app = TestApp::spawn().await;
    let token = brewer(&app, "importer@example.com").await;
    let (code, imported) = import(&app, &token, fixture("other-tool.beerjson")).await;
    assert_eq!(code, 201, "{imported}");
    let recipe = &imported["items"][0];
    assert_eq!(recipe["name"], "Cascade Pale Ale");
    assert_eq!(recipe["style"], "American Pale Ale");
    // Converted to metric: 5.5 gal, 10 lb, 12 oz, 152 °F, two weeks' conditioning.
    assert!((recipe["batch_size_l"].as_f64().unwrap() - 20.82).abs() < 0.01);
    assert!((recipe["fermentables"][0]["amount_kg"].as_f64().unwrap() - 4.536).abs() < 0.001);
    assert!((recipe["fermentables"][0]["yield_pct"].as_f64().unwrap() - 80.06).abs() < 0.01);
    assert!((recipe["fermentables"][1]["color_srm"].as_f64().unwrap() - 40.0).abs() < 0.01);
    assert!((recipe["hops"][0]["amount_g"].as_f64().unwrap() - 28.35).abs() < 0.01);
    assert_eq!(recipe["hops"][2]["use"], "dry_hop");
    assert_eq!(recipe["hops"][2]["time_min"], 5760.0);
    assert!((recipe["mash_steps"][0]["temp_c"].as_f64().unwrap() - 66.67).abs() < 0.01);
    assert_eq!(recipe["fermentation_steps"][1]["days"], 7.0);
    assert!((recipe["yeasts"][0]["temp_min_c"].as_f64().unwrap() - 15.0).abs() < 0.01);
    assert_eq!(recipe["water"]["bicarbonate"], 40.0);
    assert_eq!(recipe["notes"], "A classic: let the Cascade shine.");
    // 10 lb x 37 PPG x 75 % + 0.75 lb x 34.2 PPG x 75 %, over 5.5 gal: 54 points.
    assert_eq!(recipe["numbers"]["og"], 1.054, "{}", recipe["numbers"]);

    // Export, import the export: every field BrewLink models comes back.
    let id = recipe["id"].as_str().unwrap();
    let exported = app
        .script()
        .get(app.url(&format!("/api/v1/recipes/{id}/export")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(exported.status(), 200);
    assert!(
        exported.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("cascade-pale-ale.json")
    );
    let document: Value = exported.json().await.unwrap();
    assert_eq!(document["beerjson"]["version"], 1.0);
    let (code, again) = import(&app, &token, document.to_string()).await;
    assert_eq!(code, 201, "{again}");
    assert_same(&body(&again["items"][0]), &body(recipe), "recipe");
    app.stop().await;
}

#[tokio::test]
async fn beerxml_from_another_tool_imports() {
    let app = TestApp::spawn().await;
    let token = brewer(&app, "xml@example.com").await;
    let (code, imported) = import(&app, &token, fixture("other-tool.beerxml")).await;
    assert_eq!(code, 201, "{imported}");
    let recipe = &imported["items"][0];
    assert_eq!(recipe["name"], "Bohemian Pilsner");
    assert_eq!(recipe["style"], "Bohemian Pilsener");
    assert_eq!(recipe["boil_time_min"], 90.0);
    assert_eq!(recipe["hops"][0]["amount_g"], 56.7);
    assert_eq!(recipe["hops"][1]["use"], "whirlpool");
    assert_eq!(recipe["hops"][2]["use"], "dry_hop");
    assert_eq!(recipe["yeasts"][0]["attenuation_pct"], 72.0);
    assert_eq!(recipe["mash_steps"][1]["kind"], "temperature");
    let stages: Vec<(&str, f64)> = recipe["fermentation_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["name"].as_str().unwrap(),
                step["days"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stages,
        [("Primary", 14.0), ("Secondary", 30.0)],
        "no tertiary stage of 0 days"
    );
    assert_eq!(recipe["water"]["calcium"], 7.0);
    let og = recipe["numbers"]["og"].as_f64().unwrap();
    assert!(
        (1.045..=1.052).contains(&og),
        "a Bohemian pilsner's gravity: {og}"
    );
    app.stop().await;
}

#[tokio::test]
async fn broken_files_get_a_clear_error_and_save_nothing() {
    let app = TestApp::spawn().await;
    let token = brewer(&app, "careful@example.com").await;
    let cases: Vec<(String, &str)> = vec![
        ("hello".to_string(), "neither BeerJSON nor BeerXML"),
        (
            "{\"beerjson\": {\"version\": 1.0, \"recipes\": [{\"name\": \"x\"}]}}".to_string(),
            "batch_size",
        ),
        (
            "{\"beerjson\": {\"version\": 2.0, \"recipes\": []}}".to_string(),
            "version 2",
        ),
        ("{ \"beerjson\": ".to_string(), "BeerJSON"),
        (
            fixture("other-tool.beerjson").replace("\"unit\": \"lb\"", "\"unit\": \"stone\""),
            "unknown mass unit \"stone\"",
        ),
        (
            "<RECIPES><RECIPE><NAME>x</NAME></RECIPE></RECIPES>".to_string(),
            "BATCH_SIZE",
        ),
        ("<RECIPES><RECIPE>".to_string(), "BeerXML"),
    ];
    for (file, expected) in cases {
        let (code, problem) = import(&app, &token, file.clone()).await;
        assert_eq!(code, 422, "{file}: {problem}");
        let message = problem["fields"]["file"].as_str().unwrap_or_default();
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }

    // Two recipes, the second impossible: neither is saved.
    let mut two: Value = serde_json::from_str(&fixture("other-tool.beerjson")).unwrap();
    let mut second = two["beerjson"]["recipes"][0].clone();
    second["ingredients"]["hop_additions"][0]["alpha_acid"]["value"] = json!(95);
    two["beerjson"]["recipes"]
        .as_array_mut()
        .unwrap()
        .push(second);
    let (code, problem) = import(&app, &token, two.to_string()).await;
    assert_eq!(code, 422);
    assert!(
        problem["fields"]["recipes[1].hops[0].alpha_pct"].is_string(),
        "{problem}"
    );

    let oversize = vec![b' '; 2 * 1024 * 1024];
    let (code, problem) = import(&app, &token, oversize).await;
    assert_eq!(
        (code, problem["code"].as_str()),
        (413, Some("payload_too_large")),
        "{problem}"
    );
    let (code, _) = import(&app, &token, vec![0xff_u8, 0xfe, 0x00]).await;
    assert_eq!(code, 422);

    let (_, recipes) = app.get_json(&token, "/api/v1/recipes").await;
    assert_eq!(recipes["items"], json!([]), "nothing partial was saved");
    app.stop().await;
}
