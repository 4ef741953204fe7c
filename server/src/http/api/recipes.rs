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

use super::{PageQuery, openapi::IdPath};
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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Part of the name or style (case-insensitive).
    #[serde(default)]
    query: String,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /recipes`: the caller's recipes, searchable by name or style.
#[utoipa::path(
    get,
    path = "/recipes",
    tag = "recipes",
    operation_id = "list_recipes",
    params(ListParams),
    responses((status = 200, description = "The caller's recipes, by name, each with its computed numbers", body = Page<Recipe>))
)]
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
            .list_recipes(&actor, &params.query, page.cursor(), page.limit()?)
            .await?,
    ))
}

/// `POST /recipes`: saves a recipe; the answer has its computed numbers.
#[utoipa::path(
    post,
    path = "/recipes",
    tag = "recipes",
    operation_id = "create_recipe",
    request_body(content = RecipeBody, example = json!({"name": "Pale ale", "style": "American Pale Ale", "batch_size_l": 20.0, "boil_time_min": 60, "efficiency_pct": 72.0, "fermentables": [{"name": "Pale malt", "kind": "grain", "amount_kg": 4.5, "yield_pct": 80.0, "color_srm": 3.0}], "hops": [{"name": "Cascade", "amount_g": 30.0, "alpha_pct": 6.5, "use": "boil", "time_min": 60}], "yeasts": [{"name": "US-05", "attenuation_pct": 78.0, "temp_min_c": 15.0, "temp_max_c": 22.0}], "mash_steps": [{"name": "Saccharification", "kind": "infusion", "temp_c": 66.0, "duration_min": 60.0}]})),
    responses((status = 201, description = "The saved recipe with its computed OG, FG, ABV, IBU and colour", body = Recipe))
)]
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
#[utoipa::path(
    get,
    path = "/recipes/{id}",
    tag = "recipes",
    operation_id = "show_recipe",
    params(IdPath),
    responses((status = 200, description = "The recipe with its computed numbers", body = Recipe))
)]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Recipe>, Problem> {
    Ok(Json(state.services.recipe(&actor, &id).await?))
}

/// `PUT /recipes/{id}`: replaces the recipe.
#[utoipa::path(
    put,
    path = "/recipes/{id}",
    tag = "recipes",
    operation_id = "update_recipe",
    params(IdPath),
    request_body(content = RecipeBody, example = json!({"name": "Pale ale", "style": "American Pale Ale", "batch_size_l": 20.0, "boil_time_min": 60, "efficiency_pct": 72.0, "fermentables": [{"name": "Pale malt", "kind": "grain", "amount_kg": 4.5, "yield_pct": 80.0, "color_srm": 3.0}], "hops": [{"name": "Cascade", "amount_g": 30.0, "alpha_pct": 6.5, "use": "boil", "time_min": 60}], "yeasts": [{"name": "US-05", "attenuation_pct": 78.0, "temp_min_c": 15.0, "temp_max_c": 22.0}], "mash_steps": [{"name": "Saccharification", "kind": "infusion", "temp_c": 66.0, "duration_min": 60.0}]})),
    responses((status = 200, description = "The replaced recipe with its computed numbers", body = Recipe))
)]
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
#[utoipa::path(
    delete,
    path = "/recipes/{id}",
    tag = "recipes",
    operation_id = "delete_recipe",
    params(IdPath),
    responses((status = 204, description = "Deleted (sessions brewed from it keep their copy)"))
)]
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
#[utoipa::path(
    post,
    path = "/recipes/{id}/clone",
    tag = "recipes",
    operation_id = "clone_recipe",
    params(IdPath),
    responses((status = 201, description = "The copy, a new recipe of the caller's", body = Recipe))
)]
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
#[utoipa::path(
    post,
    path = "/recipes/import",
    tag = "recipes",
    operation_id = "import_recipes",
    request_body(description = "A BeerJSON 1.0 or BeerXML 1.0 file (up to 100 recipes, 1 MiB); the format is recognised from its first character",
        content(
            (Object = "application/json", example = json!({"beerjson": {"version": 1.0, "recipes": [{"name": "Pale ale", "type": "all grain", "batch_size": {"unit": "l", "value": 20.0}, "efficiency": {"brewhouse": {"unit": "%", "value": 72.0}}, "ingredients": {"fermentable_additions": []}}]}})),
            (String = "application/xml"),
        )),
    responses((status = 201, description = "Every recipe in the file, saved (or none, with the errors: `validation_failed` names the path, unit or line)", body = Page<Recipe>))
)]
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
#[utoipa::path(
    get,
    path = "/recipes/{id}/export",
    tag = "recipes",
    operation_id = "export_recipe",
    params(IdPath),
    responses((status = 200, description = "The recipe as a BeerJSON 1.0 document (a download)", body = Object,
        headers(("Content-Disposition" = String, description = "attachment; filename=\"{name}.json\""))))
)]
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
