//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! annotations (the same annotations route the requests, so a route cannot exist undocumented), plus
//! the conventions every route shares: authentication and the problem answers.

use std::sync::LazyLock;

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::{
    IntoParams, OpenApi, ToSchema,
    openapi::{
        ContentBuilder, HttpMethod, OpenApi as Document, Ref, RefOr, Response as DocResponse,
        ResponseBuilder,
        link::{Link, LinkBuilder},
        path::{Operation, ParameterIn},
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::http::problem::Problem;

/// The top of the document: what the API is, its tags, the problem shape.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "BrewLink API",
        version = "1",
        description = "The JSON API of BrewLink, for the mobile app and scripts. JSON in and out, times \
            in RFC 3339 (UTC), ids as strings. Authenticate with `Authorization: Bearer <token>` (create \
            a token with `POST /auth/tokens`) or with the web session cookie (state changes then need \
            a same-origin request). Every error is an `application/problem+json` document with a stable \
            `code`. Lists take `?limit=&cursor=` and answer `{items, next_cursor}`; pass `next_cursor` \
            back as `cursor` until it is null.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/api/v1", description = "This server")),
    components(schemas(Problem)),
    tags(
        (name = "auth", description = "Accounts, sign-in and API tokens"),
        (name = "me", description = "The caller's own account"),
        (name = "devices", description = "Registration, certificates and connection bundles"),
        (name = "telemetry", description = "Status, history, live events and command history"),
        (name = "control", description = "Commands to a device: GPIO, clock, network, reset, UART"),
        (name = "recipes", description = "Recipes with computed numbers; BeerJSON and BeerXML"),
        (name = "sessions", description = "Brew sessions: a recipe running on a device"),
        (name = "admin", description = "Staff only: users, fleet, broker, audit log, errors"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// The answers of an operation that has a device carry out a command, beyond the shared ones.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum CommandErrors {
    /// `device_offline`: it cannot take commands until it reconnects (brew session controls also
    /// answer `session_ended` once the session is over).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `validation_failed`, or `device_refused` with the device's reason.
    #[response(status = 422, content_type = "application/problem+json")]
    Refused(Problem),
    /// `device_timeout`: the device did not answer in time.
    #[response(status = 504, content_type = "application/problem+json")]
    Timeout(Problem),
}

/// The path parameter `{id}` of routes about one thing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// The id, as the API answered it.
    #[allow(dead_code)]
    pub id: String,
}

/// The document, built once (it only depends on the code).
static DOCUMENT: LazyLock<Document> = LazyLock::new(|| {
    let (_, mut document) = super::routes().split_for_parts();
    add_conventions(&mut document);
    document
});

/// The document as served.
static DOCUMENT_JSON: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string_pretty(&*DOCUMENT).unwrap_or_else(|error| {
        tracing::error!(%error, "the OpenAPI document did not serialize");
        String::from("{}")
    })
});

/// The OpenAPI document of this API.
pub fn document() -> &'static Document {
    &DOCUMENT
}

/// `GET /openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    operation_id = "openapi_document",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        DOCUMENT_JSON.as_str(),
    )
        .into_response()
}

/// The session cookie's name as documented (it is `__Host-` prefixed when served over HTTPS).
const SESSION_COOKIE: &str = "brewlink_session";

/// Adds what every route shares: the security schemes, and the problem answers each route can give
/// (unless its own annotation already describes that status).
fn add_conventions(document: &mut Document) {
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An API token from `POST /auth/tokens`."))
                .build(),
        ),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            SESSION_COOKIE,
            "The web session cookie set by `POST /auth/login` or `POST /auth/signup`.",
        ))),
    );
    let mut targets = Vec::new();
    for_each_operation(document, |path, method, operation| {
        add_shared_answers(operation, method != HttpMethod::Get);
        if let Some(id) = &operation.operation_id {
            targets.push((path.to_string(), id.clone()));
        }
    });
    for (source, status, id, prefix) in LINKS {
        let links: Vec<(String, RefOr<Link>)> = targets
            .iter()
            .filter(|(path, _)| path.starts_with(prefix))
            .map(|(_, target)| {
                let link = LinkBuilder::new()
                    .operation_id(target)
                    .parameter("id", id)
                    .build();
                (target.clone(), RefOr::T(link))
            })
            .collect();
        for_each_operation(document, |_, _, operation| {
            if operation.operation_id.as_deref() == Some(source)
                && let Some(RefOr::T(answer)) = operation.responses.responses.get_mut(status)
            {
                answer.links.extend(links.clone());
            }
        });
    }
}

/// Answers that create something, and where its id is in them: clients (and schemathesis's stateful
/// phase) follow these links to the operations on it. (operation, status, id, path of those operations)
const LINKS: [(&str, &str, &str, &str); 4] = [
    (
        "register_device",
        "201",
        "$response.body#/device/id",
        "/devices/{id}",
    ),
    (
        "create_recipe",
        "201",
        "$response.body#/id",
        "/recipes/{id}",
    ),
    ("clone_recipe", "201", "$response.body#/id", "/recipes/{id}"),
    (
        "start_session",
        "201",
        "$response.body#/id",
        "/sessions/{id}",
    ),
];

/// Calls `visit` with every operation of the document, its path and method.
fn for_each_operation(
    document: &mut Document,
    mut visit: impl FnMut(&str, HttpMethod, &mut Operation),
) {
    for (path, item) in &mut document.paths.paths {
        for method in METHODS {
            if let Some(operation) = operation_mut(item, &method) {
                visit(path, method, operation);
            }
        }
    }
}

/// The methods the API uses.
const METHODS: [HttpMethod; 5] = [
    HttpMethod::Get,
    HttpMethod::Post,
    HttpMethod::Put,
    HttpMethod::Patch,
    HttpMethod::Delete,
];

fn operation_mut<'a>(
    item: &'a mut utoipa::openapi::PathItem,
    method: &HttpMethod,
) -> Option<&'a mut Operation> {
    match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Put => item.put.as_mut(),
        HttpMethod::Patch => item.patch.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        _ => None,
    }
}

/// The problem answers of one operation, from what it takes: authentication, path and query
/// parameters, a body.
fn add_shared_answers(operation: &mut Operation, changes_state: bool) {
    if let Some(summary) = operation.summary.as_mut()
        && let Some((_, rest)) = summary.split_once("`: ")
        && summary.starts_with('`')
    {
        *summary = capitalized(rest);
    }
    let public = operation
        .security
        .as_ref()
        .is_some_and(|requirements| requirements.iter().all(is_empty_requirement));
    if operation.security.is_none() {
        operation.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
    }
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let takes = |place: ParameterIn| {
        parameters.iter().any(
            |parameter| matches!(parameter, RefOr::T(parameter) if parameter.parameter_in == place),
        )
    };
    let in_path = takes(ParameterIn::Path);
    let in_query = takes(ParameterIn::Query);
    let has_body = operation.request_body.is_some();
    let mut answers: Vec<(&str, &str)> = Vec::new();
    if in_path || in_query {
        answers.push((
            "400",
            "`invalid_path` or `invalid_query`: a parameter is not of its type",
        ));
    }
    if public {
        answers.push((
            "401",
            "`invalid_token`: an `Authorization` header was sent with an unknown or revoked token",
        ));
        if changes_state {
            answers.push((
                "403",
                "`csrf_failed`: a cross-site request carrying the session cookie",
            ));
        }
    } else {
        answers.push((
            "401",
            "`authentication_required` (no token or session) or `invalid_token`",
        ));
        answers.push((
            "403",
            "`forbidden`, `account_disabled`, `insufficient_scope` (the API token's scope does not \
             cover this request), or `csrf_failed` (a cross-site request carrying the session cookie)",
        ));
    }
    if in_path {
        answers.push((
            "404",
            "`not_found`: there is no such thing, or it is not yours",
        ));
    }
    if has_body {
        answers.push(("413", "`payload_too_large`: the body is over 1 MiB"));
        answers.push((
            "415",
            "`unsupported_media_type`: the body is not sent with its content type",
        ));
    }
    if has_body || in_query {
        answers.push((
            "422",
            "`invalid_json`, `invalid_body`, or `validation_failed` with a message per field in \
             `fields` (a query value or `cursor` among them)",
        ));
    }
    answers.push(("500", "`internal_error`: logged on the server"));
    answers.push((
        "503",
        "`unavailable`: a part of the server (database, broker) is not ready; `busy`: too many \
         password checks at once, try again after `Retry-After` seconds",
    ));
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(problem_response(description)));
    }
}

/// `text` with its first letter in upper case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn is_empty_requirement(requirement: &utoipa::openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(requirement)
        .is_ok_and(|value| value.as_object().is_some_and(|map| map.is_empty()))
}

/// A response whose body is a problem document.
pub fn problem_response(description: &str) -> DocResponse {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(Problem::name())))
                .build(),
        )
        .build()
}
