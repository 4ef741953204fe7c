//! `/api/v1/recipes`: recipes with their computed numbers, BeerJSON/BeerXML import, BeerJSON export.

use app::model::{
    page::Page,
    recipe::{Recipe, RecipeBody},
};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::PageQuery;
use crate::{
    auth::Actor,
    http::{
        AppState, Problem,
        identity::ClientOrigin,
        problem::{ApiBytes, ApiJson, ApiPath, ApiQuery},
    },
    services::ServiceError,
};

/// `?query=&limit=&cursor=` of the recipe list.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    /// Part of the name or style.
    #[serde(default)]
    query: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /recipes`: the caller's recipes, searchable by name or style.
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<Recipe>>, Problem> {
    let page = PageQuery {
        limit: params.limit,
        cursor: params.cursor,
    };
    Ok(Json(
        state
            .services
            .list_recipes(&actor, &params.query, page.cursor.as_deref(), page.limit())
            .await?,
    ))
}

/// `POST /recipes`: saves a recipe; the answer has its computed numbers.
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<RecipeBody>,
) -> Result<(StatusCode, Json<Recipe>), Problem> {
    let recipe = state.services.create_recipe(&actor, body, &origin).await?;
    Ok((StatusCode::CREATED, Json(recipe)))
}

/// `GET /recipes/{id}`.
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Recipe>, Problem> {
    Ok(Json(state.services.recipe(&actor, &id).await?))
}

/// `PUT /recipes/{id}`: replaces the recipe.
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RecipeBody>,
) -> Result<Json<Recipe>, Problem> {
    Ok(Json(
        state
            .services
            .update_recipe(&actor, &id, body, &origin)
            .await?,
    ))
}

/// `DELETE /recipes/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    state.services.delete_recipe(&actor, &id, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /recipes/{id}/clone`: a copy of the recipe, as a new recipe of the caller's.
pub async fn clone(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Recipe>), Problem> {
    let recipe = state.services.clone_recipe(&actor, &id, &origin).await?;
    Ok((StatusCode::CREATED, Json(recipe)))
}

/// `POST /recipes/import`: the body is a BeerJSON or BeerXML file; every recipe in it is saved, or none.
pub async fn import(
    State(state): State<AppState>,
    actor: Actor,
    ClientOrigin(origin): ClientOrigin,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<Page<Recipe>>), Problem> {
    let text = std::str::from_utf8(&body).map_err(|_| {
        Problem::from(ServiceError::field(
            "file",
            "The file is not UTF-8 text: send a BeerJSON or BeerXML file.",
        ))
    })?;
    let recipes = state.services.import_recipes(&actor, text, &origin).await?;
    Ok((
        StatusCode::CREATED,
        Json(Page {
            items: recipes,
            next_cursor: None,
        }),
    ))
}

/// `GET /recipes/{id}/export`: the recipe as a BeerJSON 1.0 file.
pub async fn export(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    let (file_name, document) = state.services.export_recipe(&actor, &id).await?;
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        )],
        Json(document),
    )
        .into_response())
}
