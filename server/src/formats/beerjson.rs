//! BeerJSON 1.0 (beerjson.github.io): import (every unit the standard allows, converted to metric) and
//! export (metric units) of what BrewLink models. Whirlpool hops are written as boil additions at
//! 0 minutes with their steeping time as `duration`, and read back the same way.

use app::model::recipe::{
    Fermentable, FermentableKind, FermentationStep, Hop, HopUse, MashStep, MashStepKind,
    RecipeBody, Water, Yeast,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{FormatError, units};

/// A value with its unit, as BeerJSON writes every quantity.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct Quantity {
    unit: String,
    value: f64,
}

impl Quantity {
    fn new(unit: &str, value: f64) -> Self {
        Self {
            unit: unit.to_string(),
            value,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Document {
    beerjson: Root,
}

#[derive(Debug, Deserialize)]
struct Root {
    version: f64,
    #[serde(default)]
    recipes: Vec<BjRecipe>,
}

#[derive(Debug, Deserialize)]
struct BjRecipe {
    name: String,
    batch_size: Quantity,
    efficiency: Option<Efficiency>,
    style: Option<Style>,
    boil: Option<Boil>,
    #[serde(default)]
    ingredients: Ingredients,
    mash: Option<Mash>,
    fermentation: Option<Fermentation>,
    #[serde(default)]
    notes: String,
}

#[derive(Debug, Deserialize)]
struct Efficiency {
    brewhouse: Quantity,
}

#[derive(Debug, Deserialize)]
struct Style {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Boil {
    pre_boil_size: Option<Quantity>,
    boil_time: Option<Quantity>,
}

#[derive(Debug, Default, Deserialize)]
struct Ingredients {
    #[serde(default)]
    fermentable_additions: Vec<BjFermentable>,
    #[serde(default)]
    hop_additions: Vec<BjHop>,
    #[serde(default)]
    culture_additions: Vec<BjCulture>,
    #[serde(default)]
    water_additions: Vec<BjWater>,
}

#[derive(Debug, Deserialize)]
struct BjFermentable {
    name: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(rename = "yield")]
    yield_: Option<Yield>,
    color: Option<Quantity>,
    amount: Quantity,
    /// BrewLink's own kind, written on export where BeerJSON has no exact type (adjuncts).
    brewlink_kind: Option<FermentableKind>,
}

#[derive(Debug, Deserialize)]
struct Yield {
    fine_grind: Option<Quantity>,
    potential: Option<Quantity>,
}

#[derive(Debug, Deserialize)]
struct BjHop {
    name: String,
    alpha_acid: Quantity,
    amount: Quantity,
    timing: Timing,
}

#[derive(Debug, Deserialize)]
struct Timing {
    #[serde(rename = "use", default)]
    use_: String,
    time: Option<Quantity>,
    duration: Option<Quantity>,
}

#[derive(Debug, Deserialize)]
struct BjCulture {
    name: String,
    attenuation: Option<Quantity>,
    temperature_range: Option<Range>,
}

#[derive(Debug, Deserialize)]
struct Range {
    minimum: Quantity,
    maximum: Quantity,
}

#[derive(Debug, Deserialize)]
struct BjWater {
    #[serde(default)]
    name: String,
    calcium: Option<Quantity>,
    magnesium: Option<Quantity>,
    sodium: Option<Quantity>,
    sulfate: Option<Quantity>,
    chloride: Option<Quantity>,
    bicarbonate: Option<Quantity>,
}

#[derive(Debug, Deserialize)]
struct Mash {
    #[serde(default)]
    mash_steps: Vec<BjMashStep>,
}

#[derive(Debug, Deserialize)]
struct BjMashStep {
    #[serde(default)]
    name: String,
    #[serde(rename = "type", default)]
    kind: String,
    step_temperature: Quantity,
    step_time: Quantity,
}

#[derive(Debug, Deserialize)]
struct Fermentation {
    #[serde(default)]
    fermentation_steps: Vec<BjFermentationStep>,
}

#[derive(Debug, Deserialize)]
struct BjFermentationStep {
    #[serde(default)]
    name: String,
    start_temperature: Option<Quantity>,
    step_time: Option<Quantity>,
}

/// Reads every recipe of a BeerJSON 1.x document.
pub fn import(text: &str) -> Result<Vec<RecipeBody>, FormatError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let document: Document =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            FormatError::Malformed(format!("BeerJSON: {} (at {path})", error.inner()))
        })?;
    if !(1.0..2.0).contains(&document.beerjson.version) {
        return Err(FormatError::Malformed(format!(
            "BeerJSON version {} is not supported; BrewLink reads version 1",
            document.beerjson.version
        )));
    }
    if document.beerjson.recipes.is_empty() {
        return Err(FormatError::Malformed(
            "the file holds no recipes".to_string(),
        ));
    }
    document
        .beerjson
        .recipes
        .into_iter()
        .enumerate()
        .map(|(index, recipe)| {
            recipe_body(recipe).map_err(|reason| {
                FormatError::Malformed(format!("BeerJSON: recipes[{index}]: {reason}"))
            })
        })
        .collect()
}

fn recipe_body(recipe: BjRecipe) -> Result<RecipeBody, String> {
    let batch_size_l = units::volume_l(&recipe.batch_size.unit, recipe.batch_size.value)?;
    let boil = recipe.boil.as_ref();
    let boil_time_min = boil
        .and_then(|boil| boil.boil_time.as_ref())
        .map(|time| units::time_min(&time.unit, time.value))
        .transpose()?
        .unwrap_or(60.0);
    let boil_size_l = boil
        .and_then(|boil| boil.pre_boil_size.as_ref())
        .map(|size| units::volume_l(&size.unit, size.value))
        .transpose()?
        .unwrap_or(batch_size_l);
    let efficiency_pct = recipe
        .efficiency
        .map(|efficiency| units::percent(&efficiency.brewhouse.unit, efficiency.brewhouse.value))
        .transpose()?
        .unwrap_or(72.0);
    let ingredients = recipe.ingredients;
    let fermentables = ingredients
        .fermentable_additions
        .into_iter()
        .map(|item| {
            let yield_pct = match &item.yield_ {
                Some(Yield {
                    fine_grind: Some(grind),
                    ..
                }) => units::percent(&grind.unit, grind.value)?,
                Some(Yield {
                    potential: Some(potential),
                    ..
                }) => units::potential_to_yield_pct(&potential.unit, potential.value)?,
                _ => 80.0,
            };
            Ok(Fermentable {
                kind: item
                    .brewlink_kind
                    .unwrap_or_else(|| fermentable_kind(&item.kind)),
                amount_kg: units::mass_kg(&item.amount.unit, item.amount.value)?,
                color_srm: item
                    .color
                    .map(|color| units::color_srm(&color.unit, color.value))
                    .transpose()?
                    .unwrap_or(0.0),
                yield_pct,
                name: item.name,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let hops = ingredients
        .hop_additions
        .into_iter()
        .map(|item| {
            let time = item
                .timing
                .time
                .as_ref()
                .map(|time| units::time_min(&time.unit, time.value))
                .transpose()?;
            let duration = item
                .timing
                .duration
                .as_ref()
                .map(|duration| units::time_min(&duration.unit, duration.value))
                .transpose()?;
            let (use_, time_min) = match item.timing.use_.as_str() {
                "add_to_fermentation" | "add_to_package" => {
                    (HopUse::DryHop, duration.or(time).unwrap_or(0.0))
                }
                "add_to_boil" if time.unwrap_or(0.0) <= 0.0 && duration.is_some() => {
                    (HopUse::Whirlpool, duration.unwrap_or(0.0))
                }
                "add_to_mash" => (HopUse::Boil, boil_time_min),
                _ => (HopUse::Boil, time.unwrap_or(boil_time_min)),
            };
            Ok(Hop {
                amount_g: units::mass_kg(&item.amount.unit, item.amount.value)? * 1000.0,
                alpha_pct: units::percent(&item.alpha_acid.unit, item.alpha_acid.value)?,
                time_min,
                use_,
                name: item.name,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let yeasts = ingredients
        .culture_additions
        .into_iter()
        .map(|item| {
            let (temp_min_c, temp_max_c) = match &item.temperature_range {
                Some(range) => (
                    units::temperature_c(&range.minimum.unit, range.minimum.value)?,
                    units::temperature_c(&range.maximum.unit, range.maximum.value)?,
                ),
                None => (16.0, 22.0),
            };
            Ok(Yeast {
                attenuation_pct: item
                    .attenuation
                    .map(|a| units::percent(&a.unit, a.value))
                    .transpose()?
                    .unwrap_or(75.0),
                temp_min_c,
                temp_max_c,
                name: item.name,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let water = ingredients
        .water_additions
        .into_iter()
        .next()
        .map(|item| {
            let ppm = |value: Option<Quantity>| -> Result<f64, String> {
                value.map_or(Ok(0.0), |q| units::concentration_ppm(&q.unit, q.value))
            };
            Ok::<_, String>(Water {
                calcium: ppm(item.calcium)?,
                magnesium: ppm(item.magnesium)?,
                sodium: ppm(item.sodium)?,
                sulfate: ppm(item.sulfate)?,
                chloride: ppm(item.chloride)?,
                bicarbonate: ppm(item.bicarbonate)?,
                name: item.name,
            })
        })
        .transpose()?;
    let mash_steps = recipe
        .mash
        .map(|mash| mash.mash_steps)
        .unwrap_or_default()
        .into_iter()
        .map(|step| {
            Ok(MashStep {
                kind: match step.kind.as_str() {
                    "decoction" => MashStepKind::Decoction,
                    "temperature" => MashStepKind::Temperature,
                    _ => MashStepKind::Infusion,
                },
                temp_c: units::temperature_c(
                    &step.step_temperature.unit,
                    step.step_temperature.value,
                )?,
                duration_min: units::time_min(&step.step_time.unit, step.step_time.value)?,
                name: step.name,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let fermentation_steps = recipe
        .fermentation
        .map(|fermentation| fermentation.fermentation_steps)
        .unwrap_or_default()
        .into_iter()
        .map(|step| {
            Ok(FermentationStep {
                temp_c: step
                    .start_temperature
                    .map(|t| units::temperature_c(&t.unit, t.value))
                    .transpose()?
                    .unwrap_or(19.0),
                days: step
                    .step_time
                    .map(|t| units::time_min(&t.unit, t.value))
                    .transpose()?
                    .unwrap_or(0.0)
                    / 1440.0,
                name: step.name,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(RecipeBody {
        name: recipe.name,
        style: recipe.style.map(|style| style.name).unwrap_or_default(),
        batch_size_l,
        boil_size_l,
        boil_time_min,
        efficiency_pct,
        fermentables,
        hops,
        yeasts,
        mash_steps,
        fermentation_steps,
        water,
        notes: recipe.notes,
    })
}

fn fermentable_kind(text: &str) -> FermentableKind {
    match text {
        "extract" => FermentableKind::Extract,
        "dry extract" => FermentableKind::DryExtract,
        "sugar" | "honey" => FermentableKind::Sugar,
        "fruit" | "juice" => FermentableKind::Fruit,
        "grain" => FermentableKind::Grain,
        _ => FermentableKind::Other,
    }
}

/// BeerJSON's name of a fermentable type.
fn fermentable_type(kind: FermentableKind) -> &'static str {
    match kind {
        FermentableKind::Grain => "grain",
        FermentableKind::Extract => "extract",
        FermentableKind::DryExtract => "dry extract",
        FermentableKind::Sugar => "sugar",
        FermentableKind::Adjunct => "grain",
        FermentableKind::Fruit => "fruit",
        FermentableKind::Other => "other",
    }
}

/// A BeerJSON 1.0 document with the given recipes.
pub fn export(recipes: &[&RecipeBody], author: &str) -> Value {
    let recipes: Vec<Value> = recipes
        .iter()
        .map(|recipe| recipe_json(recipe, author))
        .collect();
    json!({ "beerjson": { "version": 1.0, "recipes": recipes } })
}

fn recipe_json(recipe: &RecipeBody, author: &str) -> Value {
    let fermentables: Vec<Value> = recipe
        .fermentables
        .iter()
        .map(|item| {
            json!({
                "name": item.name,
                "type": fermentable_type(item.kind),
                "yield": { "fine_grind": Quantity::new("%", item.yield_pct) },
                "color": Quantity::new("SRM", item.color_srm),
                "amount": Quantity::new("kg", item.amount_kg),
                "brewlink_kind": item.kind.as_str(),
            })
        })
        .collect();
    let hops: Vec<Value> = recipe
        .hops
        .iter()
        .map(|item| {
            let timing = match item.use_ {
                HopUse::Boil => {
                    json!({ "use": "add_to_boil", "time": Quantity::new("min", item.time_min) })
                }
                HopUse::Whirlpool => json!({
                    "use": "add_to_boil",
                    "time": Quantity::new("min", 0.0),
                    "duration": Quantity::new("min", item.time_min),
                }),
                HopUse::DryHop => json!({
                    "use": "add_to_fermentation",
                    "duration": Quantity::new("min", item.time_min),
                }),
            };
            json!({
                "name": item.name,
                "alpha_acid": Quantity::new("%", item.alpha_pct),
                "amount": Quantity::new("g", item.amount_g),
                "timing": timing,
            })
        })
        .collect();
    let cultures: Vec<Value> = recipe
        .yeasts
        .iter()
        .map(|item| {
            json!({
                "name": item.name,
                "type": "ale",
                "form": "dry",
                "attenuation": Quantity::new("%", item.attenuation_pct),
                "temperature_range": {
                    "minimum": Quantity::new("C", item.temp_min_c),
                    "maximum": Quantity::new("C", item.temp_max_c),
                },
            })
        })
        .collect();
    let mut ingredients = json!({
        "fermentable_additions": fermentables,
        "hop_additions": hops,
        "culture_additions": cultures,
    });
    if let Some(water) = &recipe.water {
        ingredients["water_additions"] = json!([{
            "name": water.name,
            "calcium": Quantity::new("ppm", water.calcium),
            "magnesium": Quantity::new("ppm", water.magnesium),
            "sodium": Quantity::new("ppm", water.sodium),
            "sulfate": Quantity::new("ppm", water.sulfate),
            "chloride": Quantity::new("ppm", water.chloride),
            "bicarbonate": Quantity::new("ppm", water.bicarbonate),
        }]);
    }
    let mash_steps: Vec<Value> = recipe
        .mash_steps
        .iter()
        .map(|step| {
            json!({
                "name": step.name,
                "type": step.kind.as_str(),
                "step_temperature": Quantity::new("C", step.temp_c),
                "step_time": Quantity::new("min", step.duration_min),
            })
        })
        .collect();
    let fermentation_steps: Vec<Value> = recipe
        .fermentation_steps
        .iter()
        .map(|step| {
            json!({
                "name": step.name,
                "start_temperature": Quantity::new("C", step.temp_c),
                "step_time": Quantity::new("day", step.days),
            })
        })
        .collect();
    json!({
        "name": recipe.name,
        "type": "all grain",
        "author": author,
        "style": { "name": recipe.style, "category": "", "style_guide": "", "type": "beer" },
        "batch_size": Quantity::new("l", recipe.batch_size_l),
        "efficiency": { "brewhouse": Quantity::new("%", recipe.efficiency_pct) },
        "boil": {
            "pre_boil_size": Quantity::new("l", recipe.boil_size_l),
            "boil_time": Quantity::new("min", recipe.boil_time_min),
        },
        "ingredients": ingredients,
        "mash": { "name": "Mash", "grain_temperature": Quantity::new("C", 20.0), "mash_steps": mash_steps },
        "fermentation": { "name": "Fermentation", "fermentation_steps": fermentation_steps },
        "notes": recipe.notes,
    })
}
