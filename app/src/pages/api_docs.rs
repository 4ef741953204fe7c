//! `/api/docs`: the JSON API's reference, rendered from the served OpenAPI document
//! (`/api/v1/openapi.json`): every operation by tag with its parameters, body, answers and examples,
//! then every schema. Readable without JavaScript.

use leptos::prelude::*;
use serde_json::Value;

use crate::server_fns::load_api_document;

const CODE: &str = "overflow-x-auto rounded-md bg-stone-100 p-3 text-xs dark:bg-stone-800";
const CELL: &str = "px-2 py-1 align-top";

/// The reference page.
#[component]
pub fn ApiDocsPage() -> impl IntoView {
    let document = Resource::new(|| (), |_| load_api_document());
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match document.await {
                    Ok(document) => view! { <Reference document /> }.into_any(),
                    Err(error) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Reference(document: Value) -> impl IntoView {
    let info = &document["info"];
    let title = text(&info["title"]);
    let version = text(&info["version"]);
    let description = text(&info["description"]);
    let tags: Vec<(String, String)> = document["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|tag| (text(&tag["name"]), text(&tag["description"])))
                .collect()
        })
        .unwrap_or_default();
    let operations = operations(&document);
    let schemas: Vec<(String, Value)> = document["components"]["schemas"]
        .as_object()
        .map(|schemas| {
            schemas
                .iter()
                .map(|(name, schema)| (name.clone(), schema.clone()))
                .collect()
        })
        .unwrap_or_default();
    view! {
        <article class="space-y-8">
            <header class="space-y-3">
                <h1 class="text-2xl font-semibold">{title} " " <span class="text-base font-normal text-stone-500">"v" {version}</span></h1>
                <p class="max-w-3xl">{description}</p>
                <p>
                    "Base URL: " <code>"/api/v1"</code> " · The machine-readable document: "
                    <a href="/api/v1/openapi.json" class="underline">"openapi.json"</a>
                    " (OpenAPI 3.1)"
                </p>
                <nav aria-label="API sections">
                    <ul class="flex flex-wrap gap-3 text-sm">
                        {tags.iter().map(|(name, _)| view! {
                            <li><a href=format!("#tag-{name}") class="underline">{name.clone()}</a></li>
                        }).collect_view()}
                        <li><a href="#schemas" class="underline">"schemas"</a></li>
                    </ul>
                </nav>
            </header>
            {tags.into_iter().map(|(tag, about)| {
                let in_tag: Vec<Operation> = operations.iter().filter(|operation| operation.tag == tag).cloned().collect();
                view! {
                    <section id=format!("tag-{tag}") class="space-y-4">
                        <h2 class="text-xl font-semibold">{tag.clone()}</h2>
                        <p class="text-stone-600 dark:text-stone-300">{about}</p>
                        {in_tag.into_iter().map(|operation| view! { <OperationView operation /> }).collect_view()}
                    </section>
                }
            }).collect_view()}
            <section id="schemas" class="space-y-3">
                <h2 class="text-xl font-semibold">"Schemas"</h2>
                {schemas.into_iter().map(|(name, schema)| {
                    let anchor = format!("schema-{name}");
                    view! {
                        <details id=anchor class="rounded-md border border-stone-200 p-3 dark:border-stone-700">
                            <summary class="cursor-pointer font-mono">{name}</summary>
                            <pre class=CODE>{pretty(&schema)}</pre>
                        </details>
                    }
                }).collect_view()}
            </section>
        </article>
    }
}

/// One operation, flattened from the document for display.
#[derive(Debug, Clone)]
struct Operation {
    method: String,
    path: String,
    tag: String,
    id: String,
    summary: String,
    description: String,
    public: bool,
    parameters: Vec<Value>,
    body: Option<Value>,
    responses: Vec<(String, Value)>,
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    let Some(paths) = document["paths"].as_object() else {
        return operations;
    };
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let operation = &item[method];
            if operation.is_null() {
                continue;
            }
            let public = operation["security"]
                .as_array()
                .is_some_and(|requirements| {
                    requirements
                        .iter()
                        .all(|r| r.as_object().is_some_and(|r| r.is_empty()))
                });
            operations.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                tag: operation["tags"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                id: text(&operation["operationId"]),
                summary: text(&operation["summary"]),
                description: text(&operation["description"]),
                public,
                parameters: operation["parameters"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                body: Some(operation["requestBody"].clone()).filter(|body| !body.is_null()),
                responses: operation["responses"]
                    .as_object()
                    .map(|responses| {
                        responses
                            .iter()
                            .map(|(status, answer)| (status.clone(), answer.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    operations
}

#[component]
fn OperationView(operation: Operation) -> impl IntoView {
    let Operation {
        method,
        path,
        id,
        summary,
        description,
        public,
        parameters,
        body,
        responses,
        ..
    } = operation;
    let badge = match method.as_str() {
        "GET" => "bg-sky-100 text-sky-900 dark:bg-sky-900 dark:text-sky-100",
        "DELETE" => "bg-red-100 text-red-900 dark:bg-red-900 dark:text-red-100",
        _ => "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100",
    };
    let extra = (description != summary && !description.is_empty()).then_some(description);
    view! {
        <div id=format!("op-{id}") data-operation=id.clone() class="space-y-3 rounded-lg border border-stone-200 p-4 dark:border-stone-700">
            <h3 class="flex flex-wrap items-center gap-2 font-mono">
                <span class=format!("rounded px-2 py-0.5 text-xs font-bold {badge}")>{method}</span>
                <span>{path}</span>
                <span class="text-xs font-normal text-stone-500">{if public { "no sign-in needed" } else { "token or session" }}</span>
            </h3>
            <p>{summary}</p>
            {extra.map(|text| view! { <p class="whitespace-pre-line text-sm text-stone-600 dark:text-stone-300">{text}</p> })}
            {(!parameters.is_empty()).then(|| view! {
                <table class="text-sm">
                    <caption class="text-left font-medium">"Parameters"</caption>
                    <tbody>
                        {parameters.into_iter().map(|parameter| view! {
                            <tr>
                                <td class=CELL><code>{text(&parameter["name"])}</code></td>
                                <td class=CELL>{text(&parameter["in"])}{if parameter["required"] == true { ", required" } else { "" }}</td>
                                <td class=CELL><code>{schema_name(&parameter["schema"])}</code></td>
                                <td class=CELL>{text(&parameter["description"])}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {body.map(|body| view! {
                <div class="space-y-1 text-sm">
                    <p class="font-medium">"Body" {if body["required"] == true { " (required)" } else { "" }}</p>
                    {(!text(&body["description"]).is_empty()).then(|| view! { <p>{text(&body["description"])}</p> })}
                    <Contents content=body["content"].clone() />
                </div>
            })}
            <div class="space-y-1 text-sm">
                <p class="font-medium">"Answers"</p>
                <ul class="space-y-1">
                    {responses.into_iter().map(|(status, answer)| view! {
                        <li>
                            <code class="font-bold">{status}</code> " " {text(&answer["description"])}
                            <Contents content=answer["content"].clone() />
                        </li>
                    }).collect_view()}
                </ul>
            </div>
        </div>
    }
}

/// The media types of a body or an answer, each with its schema and example.
#[component]
fn Contents(content: Value) -> impl IntoView {
    let entries: Vec<(String, Value)> = content
        .as_object()
        .map(|content| {
            content
                .iter()
                .map(|(kind, media)| (kind.clone(), media.clone()))
                .collect()
        })
        .unwrap_or_default();
    entries
        .into_iter()
        .map(|(kind, media)| {
            let name = schema_name(&media["schema"]);
            let link = media["schema"]["$ref"].as_str().map(|_| format!("#schema-{name}"));
            let example = [&media["example"], &media["schema"]["example"]]
                .into_iter()
                .find(|example| !example.is_null())
                .map(pretty);
            view! {
                <div class="ml-4">
                    <span class="text-stone-500">{kind} " · "</span>
                    {match link {
                        Some(link) => view! { <a href=link class="font-mono underline">{name}</a> }.into_any(),
                        None => view! { <span class="font-mono">{name}</span> }.into_any(),
                    }}
                    {example.map(|example| view! {
                        <details>
                            <summary class="cursor-pointer text-stone-500">"Example"</summary>
                            <pre class=CODE>{example}</pre>
                        </details>
                    })}
                </div>
            }
        })
        .collect_view()
}

/// A schema's name (`User`, `Page_Device`) or its type (`string`, `array of Recipe`).
fn schema_name(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        return reference
            .rsplit('/')
            .next()
            .unwrap_or(reference)
            .to_string();
    }
    match &schema["type"] {
        Value::String(kind) if kind == "array" => {
            format!("array of {}", schema_name(&schema["items"]))
        }
        Value::String(kind) => kind.clone(),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ if schema.is_null() => String::new(),
        _ => "object".to_string(),
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn pretty(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}
