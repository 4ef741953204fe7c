//! The OpenAPI document describes exactly the routes the API serves, and serves itself.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::{Router, routing::get};
use brewlink::http::{AppState, api_document, api_router};
use common::TestApp;
use serde_json::Value;

/// Path -> methods (without the implied HEAD).
type Routes = BTreeMap<String, BTreeSet<String>>;

/// The routes a router serves. axum keeps no public list of them, so they are read from its `Debug`
/// form: `RouteId(n): "path"` entries of its path node and `RouteId(n): MethodRouter(… allow_header:
/// Bytes(b"GET,HEAD,POST"))` entries of its routes.
fn served(router: Router<AppState>) -> Routes {
    let text = format!("{router:?}");
    let path_router = text
        .split("fallback_router:")
        .next()
        .expect("the Debug form starts with the path router");
    let mut paths = BTreeMap::new();
    let mut methods = BTreeMap::new();
    for piece in path_router.split("RouteId(").skip(1) {
        let (id, rest) = piece.split_once(')').expect("RouteId(n)");
        if let Some(path) = rest.strip_prefix(": \"") {
            paths.insert(id.to_string(), path.split('"').next().unwrap().to_string());
        } else if let Some((_, allowed)) = rest.split_once("allow_header: Bytes(b\"") {
            let allowed = allowed.split('"').next().unwrap();
            let set: BTreeSet<String> = allowed
                .split(',')
                .filter(|method| !method.is_empty() && *method != "HEAD")
                .map(str::to_string)
                .collect();
            methods.insert(id.to_string(), set);
        }
    }
    paths
        .into_iter()
        .filter_map(|(id, path)| Some((path, methods.remove(&id)?)))
        .collect()
}

/// The routes the OpenAPI document describes.
fn documented() -> Routes {
    let document = serde_json::to_value(api_document()).unwrap();
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|key| ["get", "post", "put", "patch", "delete"].contains(&key.as_str()))
                .map(|method| method.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// What the API serves that the document does not describe, and the other way round.
fn differences(served: &Routes, documented: &Routes) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, methods) in served {
        for method in methods {
            if !documented.get(path).is_some_and(|doc| doc.contains(method)) {
                problems.push(format!("{method} {path} is served but not documented"));
            }
        }
    }
    for (path, methods) in documented {
        for method in methods {
            if !served
                .get(path)
                .is_some_and(|served| served.contains(method))
            {
                problems.push(format!("{method} {path} is documented but not served"));
            }
        }
    }
    problems
}

#[test]
fn every_served_route_is_documented_and_every_documented_route_served() {
    let served = served(api_router());
    let documented = documented();
    assert!(
        documented.len() > 40,
        "the document lists the API's paths: {documented:?}"
    );
    assert_eq!(
        served.len(),
        documented.len(),
        "the router's routes were read: {served:?}"
    );
    assert_eq!(differences(&served, &documented), Vec::<String>::new());
}

#[test]
fn a_route_added_without_documentation_is_caught() {
    let router = api_router()
        .route("/undocumented", get(|| async { "hidden" }))
        .route("/devices/{id}/secret", get(|| async { "hidden" }));
    assert_eq!(
        differences(&served(router), &documented()),
        vec![
            "GET /devices/{id}/secret is served but not documented".to_string(),
            "GET /undocumented is served but not documented".to_string(),
        ]
    );
}

#[test]
fn every_operation_is_described_with_its_errors() {
    let document = serde_json::to_value(api_document()).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let mut ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{name} has an operation id");
            assert!(
                ids.insert(id.to_string()),
                "{name}: operation id {id} is unique"
            );
            assert!(
                !operation["summary"].as_str().unwrap_or_default().is_empty(),
                "{name} has a summary"
            );
            assert!(
                !operation["tags"].as_array().unwrap().is_empty(),
                "{name} has a tag"
            );
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{name} documents its success"
            );
            for status in ["401", "500"] {
                let problem = &responses[status]["content"]["application/problem+json"];
                assert!(
                    problem["schema"]["$ref"] == "#/components/schemas/Problem",
                    "{name} documents {status} as a problem"
                );
            }
            let in_path = operation["parameters"]
                .as_array()
                .is_some_and(|parameters| parameters.iter().any(|p| p["in"] == "path"));
            if in_path {
                assert!(responses.contains_key("404"), "{name} documents 404");
            }
            if operation.get("requestBody").is_some() {
                for status in ["413", "415", "422"] {
                    assert!(responses.contains_key(status), "{name} documents {status}");
                }
            }
        }
    }
}

#[tokio::test]
async fn the_document_is_served_and_methods_it_does_not_list_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.script();
    let response = client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, serde_json::to_value(api_document()).unwrap());

    // Every method a documented path does not list answers 405 with a problem document.
    for (path, methods) in documented() {
        let concrete = path.replace("{id}", "some-id").replace("{pin}", "1");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let response = client
                .request(
                    method.parse().unwrap(),
                    app.url(&format!("/api/v1{concrete}")),
                )
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if methods.contains(method) {
                assert_ne!(status, 405, "{method} {path} is served");
            } else {
                assert_eq!(status, 405, "{method} {path} is not served");
                assert_eq!(
                    response.headers()["content-type"],
                    "application/problem+json"
                );
                let problem: Value = response.json().await.unwrap();
                assert_eq!(problem["code"], "method_not_allowed");
            }
        }
    }
    app.stop().await;
}
