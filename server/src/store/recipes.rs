//! Recipes: the brewer's body of the recipe as JSON, with its name for lists and search.

use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{Store, StoreError, contains_pattern, from_millis, to_millis};

/// A recipe as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeRecord {
    pub id: String,
    pub owner_id: String,
    /// The `RecipeBody` as JSON.
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A recipe to store.
#[derive(Debug, Clone)]
pub struct NewRecipe<'a> {
    pub id: &'a str,
    pub owner_id: &'a str,
    pub name: &'a str,
    /// Name and style, searched without regard to case.
    pub search_text: &'a str,
    pub body: &'a str,
}

const COLUMNS: &str = "id, owner_id, body, created_at_ms, updated_at_ms";

fn record(row: &AnyRow) -> Result<RecipeRecord, sqlx::Error> {
    Ok(RecipeRecord {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        body: row.try_get("body")?,
        created_at: from_millis(row.try_get("created_at_ms")?),
        updated_at: from_millis(row.try_get("updated_at_ms")?),
    })
}

impl Store {
    /// Stores recipes, all or none (an import of several is one transaction).
    pub async fn recipes_insert(
        &self,
        recipes: &[NewRecipe<'_>],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        for recipe in recipes {
            sqlx::query(
                "INSERT INTO recipes (id, owner_id, name, name_key, body, created_at_ms, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(recipe.id)
            .bind(recipe.owner_id)
            .bind(recipe.name)
            .bind(super::search_key(recipe.search_text))
            .bind(recipe.body)
            .bind(to_millis(at))
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// A recipe by id.
    pub async fn recipe_by_id(&self, id: &str) -> Result<Option<RecipeRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM recipes WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(record).transpose()?)
    }

    /// An owner's recipes whose name or style contains `query`, ids after `after`, at most `limit`.
    pub async fn recipes_of_owner(
        &self,
        owner_id: &str,
        query: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<RecipeRecord>, Option<String>), StoreError> {
        let limit = i64::from(limit.clamp(1, 500));
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM recipes WHERE owner_id = $1 AND ($2 = '' OR id > $2) \
             AND ($3 = '%%' OR name_key LIKE $3 ESCAPE '\\') ORDER BY id LIMIT $4"
        ))
        .bind(owner_id)
        .bind(after.unwrap_or(""))
        .bind(contains_pattern(query))
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|recipe| recipe.id.clone())
        } else {
            None
        };
        Ok((items, next))
    }

    /// Replaces a recipe's body. `false`: no such recipe.
    pub async fn recipe_update(
        &self,
        id: &str,
        name: &str,
        search_text: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE recipes SET name = $2, name_key = $3, body = $4, updated_at_ms = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(super::search_key(search_text))
        .bind(body)
        .bind(to_millis(at))
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Deletes a recipe (its brew sessions keep their snapshot). `false`: no such recipe.
    pub async fn recipe_delete(&self, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM recipes WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() == 1)
    }
}
