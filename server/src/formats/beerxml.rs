//! BeerXML 1.0 import (quick-xml's serde reader). BeerXML's units are fixed: kilograms, litres,
//! minutes, degrees Celsius, degrees Lovibond, percent. Hops used "Aroma" count as whirlpool hops,
//! "First Wort" and "Mash" hops as boil hops for the whole boil; fermentation stages come from
//! PRIMARY/SECONDARY/TERTIARY_AGE and _TEMP.

use app::model::recipe::{
    Fermentable, FermentableKind, FermentationStep, Hop, HopUse, MashStep, MashStepKind,
    RecipeBody, Water, Yeast,
};
use serde::Deserialize;

use super::{FormatError, units};

#[derive(Debug, Deserialize)]
struct Recipes {
    #[serde(rename = "RECIPE", default)]
    recipes: Vec<XmlRecipe>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct XmlRecipe {
    name: String,
    batch_size: f64,
    boil_size: Option<f64>,
    boil_time: Option<f64>,
    efficiency: Option<f64>,
    style: Option<XmlStyle>,
    #[serde(default)]
    fermentables: XmlFermentables,
    #[serde(default)]
    hops: XmlHops,
    #[serde(default)]
    yeasts: XmlYeasts,
    #[serde(default)]
    waters: XmlWaters,
    mash: Option<XmlMash>,
    primary_age: Option<f64>,
    primary_temp: Option<f64>,
    secondary_age: Option<f64>,
    secondary_temp: Option<f64>,
    tertiary_age: Option<f64>,
    tertiary_temp: Option<f64>,
    #[serde(default)]
    notes: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct XmlStyle {
    name: String,
}

#[derive(Debug, Default, Deserialize)]
struct XmlFermentables {
    #[serde(rename = "FERMENTABLE", default)]
    items: Vec<XmlFermentable>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct XmlFermentable {
    name: String,
    #[serde(rename = "TYPE", default)]
    kind: String,
    amount: f64,
    #[serde(rename = "YIELD")]
    yield_: Option<f64>,
    color: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct XmlHops {
    #[serde(rename = "HOP", default)]
    items: Vec<XmlHop>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct XmlHop {
    name: String,
    alpha: f64,
    amount: f64,
    #[serde(rename = "USE", default)]
    use_: String,
    time: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct XmlYeasts {
    #[serde(rename = "YEAST", default)]
    items: Vec<XmlYeast>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct XmlYeast {
    name: String,
    attenuation: Option<f64>,
    min_temperature: Option<f64>,
    max_temperature: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct XmlWaters {
    #[serde(rename = "WATER", default)]
    items: Vec<XmlWater>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct XmlWater {
    #[serde(default)]
    name: String,
    calcium: Option<f64>,
    magnesium: Option<f64>,
    sodium: Option<f64>,
    sulfate: Option<f64>,
    chloride: Option<f64>,
    bicarbonate: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct XmlMash {
    #[serde(default)]
    mash_steps: XmlMashSteps,
}

#[derive(Debug, Default, Deserialize)]
struct XmlMashSteps {
    #[serde(rename = "MASH_STEP", default)]
    items: Vec<XmlMashStep>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct XmlMashStep {
    #[serde(default)]
    name: String,
    #[serde(rename = "TYPE", default)]
    kind: String,
    step_temp: f64,
    step_time: f64,
}

/// Reads every recipe of a BeerXML 1.0 `<RECIPES>` document.
pub fn import(text: &str) -> Result<Vec<RecipeBody>, FormatError> {
    let document: Recipes = quick_xml::de::from_str(text)
        .map_err(|error| FormatError::Malformed(format!("BeerXML: {error}")))?;
    if document.recipes.is_empty() {
        return Err(FormatError::Malformed(
            "BeerXML: the file holds no <RECIPE>".to_string(),
        ));
    }
    document
        .recipes
        .into_iter()
        .enumerate()
        .map(|(index, recipe)| {
            recipe_body(recipe).map_err(|reason| {
                FormatError::Malformed(format!("BeerXML: RECIPE {}: {reason}", index + 1))
            })
        })
        .collect()
}

fn finite(name: &str, value: f64) -> Result<f64, String> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("{name} is not a number"))
    }
}

fn recipe_body(recipe: XmlRecipe) -> Result<RecipeBody, String> {
    let boil_time_min = finite("BOIL_TIME", recipe.boil_time.unwrap_or(60.0))?;
    let batch_size_l = finite("BATCH_SIZE", recipe.batch_size)?;
    let fermentables = recipe
        .fermentables
        .items
        .into_iter()
        .map(|item| {
            Ok(Fermentable {
                kind: match item.kind.to_ascii_lowercase().as_str() {
                    "grain" => FermentableKind::Grain,
                    "extract" => FermentableKind::Extract,
                    "dry extract" => FermentableKind::DryExtract,
                    "sugar" => FermentableKind::Sugar,
                    "adjunct" => FermentableKind::Adjunct,
                    _ => FermentableKind::Other,
                },
                amount_kg: finite("FERMENTABLE AMOUNT", item.amount)?,
                yield_pct: finite("YIELD", item.yield_.unwrap_or(80.0))?,
                color_srm: units::color_srm("Lovi", item.color.unwrap_or(2.0))?,
                name: item.name,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let hops = recipe
        .hops
        .items
        .into_iter()
        .map(|item| {
            let time = finite("HOP TIME", item.time.unwrap_or(0.0))?;
            let (use_, time_min) = match item.use_.to_ascii_lowercase().as_str() {
                "dry hop" => (HopUse::DryHop, time),
                "aroma" => (HopUse::Whirlpool, time),
                "first wort" | "mash" => (HopUse::Boil, boil_time_min),
                _ => (HopUse::Boil, time.min(boil_time_min)),
            };
            Ok(Hop {
                amount_g: finite("HOP AMOUNT", item.amount)? * 1000.0,
                alpha_pct: finite("ALPHA", item.alpha)?,
                time_min,
                use_,
                name: item.name,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let yeasts = recipe
        .yeasts
        .items
        .into_iter()
        .map(|item| {
            Ok(Yeast {
                attenuation_pct: finite("ATTENUATION", item.attenuation.unwrap_or(75.0))?,
                temp_min_c: finite("MIN_TEMPERATURE", item.min_temperature.unwrap_or(16.0))?,
                temp_max_c: finite("MAX_TEMPERATURE", item.max_temperature.unwrap_or(22.0))?,
                name: item.name,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let water = recipe.waters.items.into_iter().next().map(|item| Water {
        calcium: item.calcium.unwrap_or(0.0),
        magnesium: item.magnesium.unwrap_or(0.0),
        sodium: item.sodium.unwrap_or(0.0),
        sulfate: item.sulfate.unwrap_or(0.0),
        chloride: item.chloride.unwrap_or(0.0),
        bicarbonate: item.bicarbonate.unwrap_or(0.0),
        name: item.name,
    });
    let mash_steps = recipe
        .mash
        .map(|mash| mash.mash_steps.items)
        .unwrap_or_default()
        .into_iter()
        .map(|step| {
            Ok(MashStep {
                kind: match step.kind.to_ascii_lowercase().as_str() {
                    "temperature" => MashStepKind::Temperature,
                    "decoction" => MashStepKind::Decoction,
                    _ => MashStepKind::Infusion,
                },
                temp_c: finite("STEP_TEMP", step.step_temp)?,
                duration_min: finite("STEP_TIME", step.step_time)?,
                name: step.name,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let fermentation_steps = [
        ("Primary", recipe.primary_age, recipe.primary_temp),
        ("Secondary", recipe.secondary_age, recipe.secondary_temp),
        ("Tertiary", recipe.tertiary_age, recipe.tertiary_temp),
    ]
    .into_iter()
    .filter_map(|(name, age, temp)| match (age, temp) {
        (Some(days), Some(temp_c)) if days > 0.0 => Some((name, days, temp_c)),
        _ => None,
    })
    .map(|(name, days, temp_c)| {
        Ok(FermentationStep {
            name: name.to_string(),
            temp_c: finite("fermentation TEMP", temp_c)?,
            days: finite("fermentation AGE", days)?,
        })
    })
    .collect::<Result<Vec<_>, String>>()?;
    Ok(RecipeBody {
        name: recipe.name,
        style: recipe.style.map(|style| style.name).unwrap_or_default(),
        batch_size_l,
        boil_size_l: finite("BOIL_SIZE", recipe.boil_size.unwrap_or(batch_size_l))?,
        boil_time_min,
        efficiency_pct: finite("EFFICIENCY", recipe.efficiency.unwrap_or(72.0))?,
        fermentables,
        hops,
        yeasts,
        mash_steps,
        fermentation_steps,
        water,
        notes: recipe.notes,
    })
}
