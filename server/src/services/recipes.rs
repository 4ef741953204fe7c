//! Recipes: list and search, read, create, update, clone, delete, import (BeerJSON, BeerXML) and export
//! (BeerJSON). A recipe is its owner's; staff may read any, nobody else sees it.

use app::model::{
    page::Page,
    recipe::{self, Recipe, RecipeBody},
};
use chrono::Utc;
use serde_json::json;

use super::{Origin, ServiceError, Services};
use crate::{
    auth::Actor,
    formats::{self, FormatError},
    store::recipes::{NewRecipe, RecipeRecord},
};

/// Longest search text, in characters.
const QUERY_MAX_CHARS: usize = 200;

fn to_recipe(record: RecipeRecord) -> Result<Recipe, ServiceError> {
    let body: RecipeBody = serde_json::from_str(&record.body)
        .map_err(|error| ServiceError::Internal(format!("stored recipe {}: {error}", record.id)))?;
    Ok(Recipe {
        id: record.id,
        owner_id: record.owner_id,
        numbers: recipe::compute(&body),
        body,
        created_at: record.created_at,
        updated_at: record.updated_at,
    })
}

/// Trims the texts of a recipe as the brewer meant them.
fn tidy(mut body: RecipeBody) -> RecipeBody {
    body.name = body.name.trim().to_string();
    body.style = body.style.trim().to_string();
    body
}

fn validate(body: &RecipeBody, prefix: &str) -> Result<(), ServiceError> {
    let errors = recipe::validate(body);
    ServiceError::check_fields(
        errors
            .into_iter()
            .map(|(field, message)| (format!("{prefix}{field}"), message))
            .collect(),
    )
}

fn search_text(body: &RecipeBody) -> String {
    format!("{} {}", body.name, body.style)
}

impl From<FormatError> for ServiceError {
    fn from(error: FormatError) -> Self {
        ServiceError::field("file", error.to_string())
    }
}

impl Services {
    /// The caller's recipes whose name or style contains `query`, one page.
    pub async fn list_recipes(
        &self,
        actor: &Actor,
        query: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Recipe>, ServiceError> {
        let user = actor.require_user()?;
        if query.chars().count() > QUERY_MAX_CHARS {
            return Err(ServiceError::field(
                "query",
                format!("Use at most {QUERY_MAX_CHARS} characters."),
            ));
        }
        let (records, next) = self
            .store
            .recipes_of_owner(&user.id, query, cursor, limit)
            .await?;
        Ok(Page {
            items: records
                .into_iter()
                .map(to_recipe)
                .collect::<Result<_, _>>()?,
            next_cursor: next,
        })
    }

    /// A recipe the caller may read (its owner, or staff).
    pub async fn recipe(&self, actor: &Actor, id: &str) -> Result<Recipe, ServiceError> {
        actor.require_user()?;
        match self.store.recipe_by_id(id).await? {
            Some(record) if actor.may_access_owned_by(&record.owner_id) => to_recipe(record),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// A recipe the caller owns, for changes: staff see others' recipes but may not change them.
    async fn owned_recipe(&self, actor: &Actor, id: &str) -> Result<Recipe, ServiceError> {
        let recipe = self.recipe(actor, id).await?;
        match actor {
            Actor::User(user) if user.id == recipe.owner_id => Ok(recipe),
            _ => Err(ServiceError::Forbidden),
        }
    }

    /// Saves a new recipe of the caller's.
    pub async fn create_recipe(
        &self,
        actor: &Actor,
        body: RecipeBody,
        origin: &Origin,
    ) -> Result<Recipe, ServiceError> {
        let ids = self
            .save_new(actor, vec![tidy(body)], origin, "recipe.created")
            .await?;
        self.recipe(actor, &ids[0]).await
    }

    /// Stores new recipes all together after checking every one; returns their ids.
    async fn save_new(
        &self,
        actor: &Actor,
        bodies: Vec<RecipeBody>,
        origin: &Origin,
        action: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let user = actor.require_user()?;
        let several = bodies.len() > 1;
        for (index, body) in bodies.iter().enumerate() {
            let prefix = if several {
                format!("recipes[{index}].")
            } else {
                String::new()
            };
            validate(body, &prefix)?;
        }
        let ids: Vec<String> = bodies
            .iter()
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        let texts: Vec<(String, String)> = bodies
            .iter()
            .map(|body| {
                Ok((
                    serde_json::to_string(body)
                        .map_err(|error| ServiceError::Internal(error.to_string()))?,
                    search_text(body),
                ))
            })
            .collect::<Result<_, ServiceError>>()?;
        let new: Vec<NewRecipe> = bodies
            .iter()
            .zip(&ids)
            .zip(&texts)
            .map(|((body, id), (json, search))| NewRecipe {
                id,
                owner_id: &user.id,
                name: &body.name,
                search_text: search,
                body: json,
            })
            .collect();
        self.store.recipes_insert(&new, Utc::now()).await?;
        for (id, body) in ids.iter().zip(&bodies) {
            self.audit(
                actor,
                action,
                format!("recipe:{id}"),
                json!({ "name": body.name }),
                origin,
            )
            .await;
        }
        Ok(ids)
    }

    /// Replaces one of the caller's recipes.
    pub async fn update_recipe(
        &self,
        actor: &Actor,
        id: &str,
        body: RecipeBody,
        origin: &Origin,
    ) -> Result<Recipe, ServiceError> {
        self.owned_recipe(actor, id).await?;
        let body = tidy(body);
        validate(&body, "")?;
        let json = serde_json::to_string(&body)
            .map_err(|error| ServiceError::Internal(error.to_string()))?;
        if !self
            .store
            .recipe_update(id, &body.name, &search_text(&body), &json, Utc::now())
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            actor,
            "recipe.updated",
            format!("recipe:{id}"),
            json!({}),
            origin,
        )
        .await;
        self.recipe(actor, id).await
    }

    /// Deletes one of the caller's recipes (its brew sessions keep their own copy).
    pub async fn delete_recipe(
        &self,
        actor: &Actor,
        id: &str,
        origin: &Origin,
    ) -> Result<(), ServiceError> {
        self.owned_recipe(actor, id).await?;
        if !self.store.recipe_delete(id).await? {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            actor,
            "recipe.deleted",
            format!("recipe:{id}"),
            json!({}),
            origin,
        )
        .await;
        Ok(())
    }

    /// A copy of a recipe the caller may read, as a new recipe of theirs named "… (copy)".
    pub async fn clone_recipe(
        &self,
        actor: &Actor,
        id: &str,
        origin: &Origin,
    ) -> Result<Recipe, ServiceError> {
        let mut body = self.recipe(actor, id).await?.body;
        let suffix = " (copy)";
        let keep = recipe::NAME_MAX_CHARS - suffix.chars().count();
        body.name = format!(
            "{}{suffix}",
            body.name.chars().take(keep).collect::<String>()
        );
        let ids = self
            .save_new(actor, vec![body], origin, "recipe.cloned")
            .await?;
        self.recipe(actor, &ids[0]).await
    }

    /// Imports every recipe of a BeerJSON or BeerXML file, all or none.
    pub async fn import_recipes(
        &self,
        actor: &Actor,
        file: &str,
        origin: &Origin,
    ) -> Result<Vec<Recipe>, ServiceError> {
        actor.require_user()?;
        let bodies: Vec<RecipeBody> = formats::import(file)?.into_iter().map(tidy).collect();
        let ids = self
            .save_new(actor, bodies, origin, "recipe.imported")
            .await?;
        let mut recipes = Vec::with_capacity(ids.len());
        for id in ids {
            recipes.push(self.recipe(actor, &id).await?);
        }
        Ok(recipes)
    }

    /// A recipe as a BeerJSON 1.0 document, with a file name for it.
    pub async fn export_recipe(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(String, serde_json::Value), ServiceError> {
        let recipe = self.recipe(actor, id).await?;
        let author = self
            .store
            .user_by_id(&recipe.owner_id)
            .await?
            .map(|record| {
                if record.user.name.is_empty() {
                    record.user.email
                } else {
                    record.user.name
                }
            })
            .unwrap_or_default();
        Ok((
            format!("{}.json", file_name(&recipe.body.name)),
            formats::beerjson::export(&[&recipe.body], &author),
        ))
    }
}

/// A safe file name from a recipe name.
pub fn file_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "recipe".to_string()
    } else {
        name.chars().take(60).collect()
    }
}
