//! Recipe file formats: BeerJSON 1.0 (import and export) and BeerXML 1.0 (import); and the rule for
//! text in the CSV files BrewLink writes.

pub mod beerjson;
pub mod beerxml;
mod units;

use app::model::recipe::RecipeBody;

/// A CSV cell that a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`, `@`,
/// a tab or a carriage return is prefixed with `'` (OWASP's advice on CSV injection). Every CSV
/// export writes user- or device-supplied text through this.
pub fn spreadsheet_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// Most recipes one file may hold.
pub const MAX_RECIPES: usize = 100;

/// Why a recipe file could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatError {
    #[error("{0}")]
    Malformed(String),
    #[error(
        "this is neither BeerJSON nor BeerXML (a BeerJSON file starts with {{, a BeerXML file with <)"
    )]
    UnknownFormat,
    #[error("the file holds {0} recipes; import at most {MAX_RECIPES} at a time")]
    TooManyRecipes(usize),
}

/// Reads a BeerJSON or BeerXML file, told apart by its first character.
pub fn import(text: &str) -> Result<Vec<RecipeBody>, FormatError> {
    let text = text.trim_start_matches('\u{feff}');
    let recipes = match text.trim_start().chars().next() {
        Some('{') => beerjson::import(text)?,
        Some('<') => beerxml::import(text)?,
        _ => return Err(FormatError::UnknownFormat),
    };
    if recipes.len() > MAX_RECIPES {
        return Err(FormatError::TooManyRecipes(recipes.len()));
    }
    Ok(recipes)
}
