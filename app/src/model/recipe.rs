//! Brew recipes as BrewLink models them (metric units stored), and the numbers computed from them
//! with the standard homebrewing formulas: OG and FG from extract potential, efficiency and
//! attenuation; ABV; IBU by Tinseth; colour by Morey (SRM and EBC); BU:GU.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A stored recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Recipe {
    pub id: String,
    pub owner_id: String,
    #[serde(flatten)]
    pub body: RecipeBody,
    /// Computed from the body; ignored when sent.
    pub numbers: RecipeNumbers,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a brewer writes: everything but the id, the owner and the computed numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct RecipeBody {
    pub name: String,
    pub style: String,
    /// Into the fermenter, litres.
    pub batch_size_l: f64,
    /// Into the kettle before the boil, litres.
    pub boil_size_l: f64,
    pub boil_time_min: f64,
    /// Brewhouse efficiency, percent.
    pub efficiency_pct: f64,
    pub fermentables: Vec<Fermentable>,
    pub hops: Vec<Hop>,
    pub yeasts: Vec<Yeast>,
    pub mash_steps: Vec<MashStep>,
    pub fermentation_steps: Vec<FermentationStep>,
    pub water: Option<Water>,
    pub notes: String,
}

impl Default for RecipeBody {
    fn default() -> Self {
        Self {
            name: String::new(),
            style: String::new(),
            batch_size_l: 20.0,
            boil_size_l: 25.0,
            boil_time_min: 60.0,
            efficiency_pct: 72.0,
            fermentables: Vec::new(),
            hops: Vec::new(),
            yeasts: Vec::new(),
            mash_steps: Vec::new(),
            fermentation_steps: Vec::new(),
            water: None,
            notes: String::new(),
        }
    }
}

/// What a fermentable is; extracts and sugars give all their extract whatever the efficiency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FermentableKind {
    #[default]
    Grain,
    Extract,
    DryExtract,
    Sugar,
    Adjunct,
    Fruit,
    Other,
}

impl FermentableKind {
    /// Whether its extract depends on the mash (and so on the brewhouse efficiency).
    pub fn is_mashed(self) -> bool {
        matches!(self, Self::Grain | Self::Adjunct)
    }

    pub const ALL: [Self; 7] = [
        Self::Grain,
        Self::Extract,
        Self::DryExtract,
        Self::Sugar,
        Self::Adjunct,
        Self::Fruit,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grain => "grain",
            Self::Extract => "extract",
            Self::DryExtract => "dry_extract",
            Self::Sugar => "sugar",
            Self::Adjunct => "adjunct",
            Self::Fruit => "fruit",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Fermentable {
    pub name: String,
    pub kind: FermentableKind,
    pub amount_kg: f64,
    /// Colour in SRM (degrees Lovibond for grain, as recipe tools use them).
    pub color_srm: f64,
    /// Extract yield as a percentage of pure sucrose's (fine grind, as is).
    pub yield_pct: f64,
}

impl Default for Fermentable {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: FermentableKind::Grain,
            amount_kg: 0.0,
            color_srm: 2.0,
            yield_pct: 80.0,
        }
    }
}

/// When a hop goes in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HopUse {
    #[default]
    Boil,
    Whirlpool,
    DryHop,
}

impl HopUse {
    pub const ALL: [Self; 3] = [Self::Boil, Self::Whirlpool, Self::DryHop];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Boil => "boil",
            Self::Whirlpool => "whirlpool",
            Self::DryHop => "dry_hop",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Hop {
    pub name: String,
    pub amount_g: f64,
    pub alpha_pct: f64,
    /// Boil: minutes before the end of the boil; whirlpool: steeping minutes; dry hop: minutes of contact.
    pub time_min: f64,
    #[serde(rename = "use")]
    pub use_: HopUse,
}

impl Default for Hop {
    fn default() -> Self {
        Self {
            name: String::new(),
            amount_g: 0.0,
            alpha_pct: 5.0,
            time_min: 60.0,
            use_: HopUse::Boil,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Yeast {
    pub name: String,
    /// Apparent attenuation, percent.
    pub attenuation_pct: f64,
    pub temp_min_c: f64,
    pub temp_max_c: f64,
}

impl Default for Yeast {
    fn default() -> Self {
        Self {
            name: String::new(),
            attenuation_pct: 75.0,
            temp_min_c: 16.0,
            temp_max_c: 22.0,
        }
    }
}

/// How a mash step reaches its temperature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MashStepKind {
    #[default]
    Infusion,
    Temperature,
    Decoction,
}

impl MashStepKind {
    pub const ALL: [Self; 3] = [Self::Infusion, Self::Temperature, Self::Decoction];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Infusion => "infusion",
            Self::Temperature => "temperature",
            Self::Decoction => "decoction",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct MashStep {
    pub name: String,
    pub kind: MashStepKind,
    pub temp_c: f64,
    pub duration_min: f64,
}

impl Default for MashStep {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: MashStepKind::Infusion,
            temp_c: 66.0,
            duration_min: 60.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct FermentationStep {
    pub name: String,
    pub temp_c: f64,
    pub days: f64,
}

impl Default for FermentationStep {
    fn default() -> Self {
        Self {
            name: String::new(),
            temp_c: 19.0,
            days: 14.0,
        }
    }
}

/// Brewing water, mineral content in mg/l (ppm).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Water {
    pub name: String,
    pub calcium: f64,
    pub magnesium: f64,
    pub sodium: f64,
    pub sulfate: f64,
    pub chloride: f64,
    pub bicarbonate: f64,
}

/// The numbers of a recipe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecipeNumbers {
    pub og: f64,
    pub fg: f64,
    pub abv_pct: f64,
    pub ibu: f64,
    pub color_srm: f64,
    pub color_ebc: f64,
    /// Bitterness units per gravity unit (IBU / gravity points).
    pub bu_gu: f64,
}

const KG_TO_LB: f64 = 2.204_622_6;
const L_TO_GAL: f64 = 0.264_172_05;
/// Gravity points of one pound of sucrose in one US gallon.
const SUCROSE_PPG: f64 = 46.214;
/// Apparent attenuation assumed when the recipe names no yeast, percent.
const DEFAULT_ATTENUATION_PCT: f64 = 75.0;

/// Original gravity: each fermentable's extract (yield x sucrose's 46.214 points per pound per gallon),
/// mashed ones at the brewhouse efficiency, over the batch volume.
pub fn original_gravity(body: &RecipeBody) -> f64 {
    let gallons = body.batch_size_l * L_TO_GAL;
    if gallons <= 0.0 {
        return 1.0;
    }
    let points: f64 = body
        .fermentables
        .iter()
        .map(|fermentable| {
            let efficiency = if fermentable.kind.is_mashed() {
                body.efficiency_pct / 100.0
            } else {
                1.0
            };
            fermentable.amount_kg * KG_TO_LB * fermentable.yield_pct / 100.0
                * SUCROSE_PPG
                * efficiency
        })
        .sum();
    1.0 + points / gallons / 1000.0
}

/// Final gravity: the original gravity less the yeast's apparent attenuation of its points (the most
/// attenuative yeast of the recipe; 75 % without one).
pub fn final_gravity(body: &RecipeBody, og: f64) -> f64 {
    let attenuation = body
        .yeasts
        .iter()
        .map(|yeast| yeast.attenuation_pct)
        .fold(None, |best: Option<f64>, next| {
            Some(best.map_or(next, |b| b.max(next)))
        })
        .unwrap_or(DEFAULT_ATTENUATION_PCT);
    1.0 + (og - 1.0) * (1.0 - attenuation / 100.0)
}

/// Tinseth's utilization of alpha acids boiled `minutes` in wort of gravity `boil_gravity`.
pub fn tinseth_utilization(boil_gravity: f64, minutes: f64) -> f64 {
    let bigness = 1.65 * 0.000_125_f64.powf(boil_gravity - 1.0);
    let time = (1.0 - (-0.04 * minutes.max(0.0)).exp()) / 4.15;
    bigness * time
}

/// IBU by Tinseth: boil hops for their boil time in the boil gravity (the original gravity's points
/// spread over the pre-boil volume); whirlpool hops for their steeping time (Tinseth's formula knows no
/// cooling, so this is their upper bound); dry hops add none.
pub fn ibu_tinseth(body: &RecipeBody, og: f64) -> f64 {
    if body.batch_size_l <= 0.0 {
        return 0.0;
    }
    let boil_gravity = if body.boil_size_l > 0.0 {
        1.0 + (og - 1.0) * body.batch_size_l / body.boil_size_l
    } else {
        og
    };
    body.hops
        .iter()
        .filter(|hop| hop.use_ != HopUse::DryHop)
        .map(|hop| {
            let alpha_mg_per_l = hop.alpha_pct / 100.0 * hop.amount_g * 1000.0 / body.batch_size_l;
            alpha_mg_per_l * tinseth_utilization(boil_gravity, hop.time_min)
        })
        .sum()
}

/// Colour by Morey: malt colour units (pounds x degrees Lovibond per gallon) to SRM,
/// SRM = 1.4922 x MCU^0.6859.
pub fn color_srm_morey(body: &RecipeBody) -> f64 {
    let gallons = body.batch_size_l * L_TO_GAL;
    if gallons <= 0.0 {
        return 0.0;
    }
    let mcu: f64 = body
        .fermentables
        .iter()
        .map(|fermentable| fermentable.amount_kg * KG_TO_LB * fermentable.color_srm)
        .sum::<f64>()
        / gallons;
    1.4922 * mcu.max(0.0).powf(0.6859)
}

/// EBC from SRM (EBC = SRM x 1.97).
pub fn srm_to_ebc(srm: f64) -> f64 {
    srm * 1.97
}

/// Every number of a recipe, rounded as recipe tools show them.
pub fn compute(body: &RecipeBody) -> RecipeNumbers {
    let og = original_gravity(body);
    let fg = final_gravity(body, og);
    let ibu = ibu_tinseth(body, og);
    let srm = color_srm_morey(body);
    let points = (og - 1.0) * 1000.0;
    RecipeNumbers {
        og: round(og, 3),
        fg: round(fg, 3),
        abv_pct: round((og - fg) * 131.25, 1),
        ibu: round(ibu, 1),
        color_srm: round(srm, 1),
        color_ebc: round(srm_to_ebc(srm), 1),
        bu_gu: if points > 0.0 {
            round(ibu / points, 2)
        } else {
            0.0
        },
    }
}

fn round(value: f64, decimals: i32) -> f64 {
    if !value.is_finite() {
        return 0.0;
    }
    let factor = 10_f64.powi(decimals);
    (value * factor).round() / factor
}

/// Longest texts, in characters.
pub const NAME_MAX_CHARS: usize = 100;
pub const NOTES_MAX_CHARS: usize = 10_000;
/// Most entries of each list.
pub const LIST_MAX: usize = 50;

/// What is wrong with a recipe: field path (e.g. `hops[1].alpha_pct`) -> message. Empty when valid.
pub fn validate(body: &RecipeBody) -> BTreeMap<String, String> {
    let mut errors = BTreeMap::new();
    check_text(&mut errors, "name".into(), &body.name, true, NAME_MAX_CHARS);
    check_text(
        &mut errors,
        "style".into(),
        &body.style,
        false,
        NAME_MAX_CHARS,
    );
    check_text(
        &mut errors,
        "notes".into(),
        &body.notes,
        false,
        NOTES_MAX_CHARS,
    );
    for (index, item) in body.fermentables.iter().enumerate() {
        check_text(
            &mut errors,
            format!("fermentables[{index}].name"),
            &item.name,
            true,
            NAME_MAX_CHARS,
        );
    }
    for (index, item) in body.hops.iter().enumerate() {
        check_text(
            &mut errors,
            format!("hops[{index}].name"),
            &item.name,
            true,
            NAME_MAX_CHARS,
        );
    }
    for (index, item) in body.yeasts.iter().enumerate() {
        check_text(
            &mut errors,
            format!("yeasts[{index}].name"),
            &item.name,
            true,
            NAME_MAX_CHARS,
        );
    }
    for (index, item) in body.mash_steps.iter().enumerate() {
        check_text(
            &mut errors,
            format!("mash_steps[{index}].name"),
            &item.name,
            false,
            NAME_MAX_CHARS,
        );
    }
    for (index, item) in body.fermentation_steps.iter().enumerate() {
        check_text(
            &mut errors,
            format!("fermentation_steps[{index}].name"),
            &item.name,
            false,
            NAME_MAX_CHARS,
        );
    }
    if let Some(water) = &body.water {
        check_text(
            &mut errors,
            "water.name".into(),
            &water.name,
            false,
            NAME_MAX_CHARS,
        );
    }

    check_number(
        &mut errors,
        "batch_size_l".into(),
        body.batch_size_l,
        0.5,
        2000.0,
        "l",
    );
    check_number(
        &mut errors,
        "boil_size_l".into(),
        body.boil_size_l,
        0.5,
        2500.0,
        "l",
    );
    check_number(
        &mut errors,
        "boil_time_min".into(),
        body.boil_time_min,
        0.0,
        600.0,
        "min",
    );
    check_number(
        &mut errors,
        "efficiency_pct".into(),
        body.efficiency_pct,
        10.0,
        100.0,
        "%",
    );
    for (index, item) in body.fermentables.iter().enumerate() {
        check_number(
            &mut errors,
            format!("fermentables[{index}].amount_kg"),
            item.amount_kg,
            0.001,
            1000.0,
            "kg",
        );
        check_number(
            &mut errors,
            format!("fermentables[{index}].color_srm"),
            item.color_srm,
            0.0,
            1000.0,
            "SRM",
        );
        check_number(
            &mut errors,
            format!("fermentables[{index}].yield_pct"),
            item.yield_pct,
            0.0,
            100.0,
            "%",
        );
    }
    for (index, item) in body.hops.iter().enumerate() {
        check_number(
            &mut errors,
            format!("hops[{index}].amount_g"),
            item.amount_g,
            0.01,
            100_000.0,
            "g",
        );
        check_number(
            &mut errors,
            format!("hops[{index}].alpha_pct"),
            item.alpha_pct,
            0.0,
            30.0,
            "%",
        );
        check_number(
            &mut errors,
            format!("hops[{index}].time_min"),
            item.time_min,
            0.0,
            43_200.0,
            "min",
        );
        if item.use_ == HopUse::Boil && item.time_min > body.boil_time_min {
            errors.insert(
                format!("hops[{index}].time_min"),
                "A boil addition cannot boil longer than the boil.".to_string(),
            );
        }
    }
    for (index, item) in body.yeasts.iter().enumerate() {
        check_number(
            &mut errors,
            format!("yeasts[{index}].attenuation_pct"),
            item.attenuation_pct,
            0.0,
            100.0,
            "%",
        );
        check_number(
            &mut errors,
            format!("yeasts[{index}].temp_min_c"),
            item.temp_min_c,
            -5.0,
            50.0,
            "°C",
        );
        check_number(
            &mut errors,
            format!("yeasts[{index}].temp_max_c"),
            item.temp_max_c,
            -5.0,
            50.0,
            "°C",
        );
        if item.temp_min_c > item.temp_max_c {
            errors.insert(
                format!("yeasts[{index}].temp_max_c"),
                "The highest temperature must not be below the lowest.".to_string(),
            );
        }
    }
    for (index, item) in body.mash_steps.iter().enumerate() {
        check_number(
            &mut errors,
            format!("mash_steps[{index}].temp_c"),
            item.temp_c,
            20.0,
            100.0,
            "°C",
        );
        check_number(
            &mut errors,
            format!("mash_steps[{index}].duration_min"),
            item.duration_min,
            0.0,
            600.0,
            "min",
        );
    }
    for (index, item) in body.fermentation_steps.iter().enumerate() {
        check_number(
            &mut errors,
            format!("fermentation_steps[{index}].temp_c"),
            item.temp_c,
            -5.0,
            50.0,
            "°C",
        );
        check_number(
            &mut errors,
            format!("fermentation_steps[{index}].days"),
            item.days,
            0.0,
            365.0,
            "days",
        );
    }
    if let Some(water) = &body.water {
        for (name, value) in [
            ("calcium", water.calcium),
            ("magnesium", water.magnesium),
            ("sodium", water.sodium),
            ("sulfate", water.sulfate),
            ("chloride", water.chloride),
            ("bicarbonate", water.bicarbonate),
        ] {
            check_number(
                &mut errors,
                format!("water.{name}"),
                value,
                0.0,
                5000.0,
                "mg/l",
            );
        }
    }
    for (field, length) in [
        ("fermentables", body.fermentables.len()),
        ("hops", body.hops.len()),
        ("yeasts", body.yeasts.len()),
        ("mash_steps", body.mash_steps.len()),
        ("fermentation_steps", body.fermentation_steps.len()),
    ] {
        if length > LIST_MAX {
            errors.insert(
                field.to_string(),
                format!("Use at most {LIST_MAX} entries."),
            );
        }
    }
    errors
}

fn check_text(
    errors: &mut BTreeMap<String, String>,
    field: String,
    value: &str,
    required: bool,
    max: usize,
) {
    if required && value.trim().is_empty() {
        errors.insert(field, "Enter a name.".to_string());
    } else if value.chars().count() > max {
        errors.insert(field, format!("Use at most {max} characters."));
    } else if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.insert(field, "Use printable characters only.".to_string());
    }
}

fn check_number(
    errors: &mut BTreeMap<String, String>,
    field: String,
    value: f64,
    min: f64,
    max: f64,
    unit: &str,
) {
    if !value.is_finite() || value < min || value > max {
        errors.insert(field, format!("Enter a number from {min} to {max} {unit}."));
    }
}

/// How a brewer wants amounts shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Units {
    #[default]
    Metric,
    Imperial,
}

impl Units {
    /// A volume in litres, shown in the brewer's units.
    pub fn volume(self, litres: f64) -> String {
        match self {
            Self::Metric => format!("{litres:.1} l"),
            Self::Imperial => format!("{:.2} gal", litres * L_TO_GAL),
        }
    }

    /// A mass in kilograms.
    pub fn mass_kg(self, kg: f64) -> String {
        match self {
            Self::Metric => format!("{kg:.2} kg"),
            Self::Imperial => format!("{:.2} lb", kg * KG_TO_LB),
        }
    }

    /// A small mass in grams.
    pub fn mass_g(self, grams: f64) -> String {
        match self {
            Self::Metric => format!("{grams:.0} g"),
            Self::Imperial => format!("{:.2} oz", grams / 28.349_523),
        }
    }

    /// A temperature in degrees Celsius.
    pub fn temperature(self, celsius: f64) -> String {
        match self {
            Self::Metric => format!("{celsius:.1} °C"),
            Self::Imperial => format!("{:.1} °F", celsius * 9.0 / 5.0 + 32.0),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "metric" => Some(Self::Metric),
            "imperial" => Some(Self::Imperial),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metric => "metric",
            Self::Imperial => "imperial",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} is not within {tolerance} of {expected}"
        );
    }

    fn grain(kg: f64, yield_pct: f64, srm: f64) -> Fermentable {
        Fermentable {
            name: "malt".into(),
            kind: FermentableKind::Grain,
            amount_kg: kg,
            color_srm: srm,
            yield_pct,
        }
    }

    /// Tinseth's published utilization table (realbeer.com/hops/research.html), three decimals: 60
    /// minutes at 1.050 gives 0.231, 30 minutes at 1.050 gives 0.177, 60 minutes at 1.080 gives 0.176,
    /// 10 minutes at 1.030 gives 0.100.
    #[test]
    fn tinseth_utilization_matches_his_table() {
        close(tinseth_utilization(1.050, 60.0), 0.231, 0.0005);
        close(tinseth_utilization(1.050, 30.0), 0.177, 0.0005);
        close(tinseth_utilization(1.080, 60.0), 0.176, 0.0005);
        close(tinseth_utilization(1.030, 10.0), 0.100, 0.0005);
        assert_eq!(tinseth_utilization(1.050, 0.0), 0.0);
    }

    /// Morey's formula (SRM = 1.4922 x MCU^0.6859): MCU 10 gives 7.2 SRM, MCU 1 gives 1.5 SRM.
    #[test]
    fn morey_colour() {
        let body = RecipeBody {
            // 10 lb of 5 °L malt in 5 US gallons: MCU 10.
            batch_size_l: 5.0 / L_TO_GAL,
            fermentables: vec![grain(10.0 / KG_TO_LB, 80.0, 5.0)],
            ..RecipeBody::default()
        };
        close(color_srm_morey(&body), 7.24, 0.01);
        close(srm_to_ebc(10.0), 19.7, 1e-9);
    }

    /// Palmer, How to Brew: 8 lb of pale malt (37 PPG) at 75 % efficiency in 5 gallons gives 1.044
    /// (8 x 37 x 0.75 / 5 = 44.4 points).
    #[test]
    fn original_gravity_from_extract_and_efficiency() {
        let body = RecipeBody {
            batch_size_l: 5.0 / L_TO_GAL,
            efficiency_pct: 75.0,
            fermentables: vec![grain(8.0 / KG_TO_LB, 37.0 / SUCROSE_PPG * 100.0, 3.0)],
            ..RecipeBody::default()
        };
        close(original_gravity(&body), 1.0444, 0.0001);
        // Sugar is not mashed: all its extract counts, whatever the efficiency.
        let sugar = RecipeBody {
            fermentables: vec![Fermentable {
                kind: FermentableKind::Sugar,
                yield_pct: 100.0,
                ..grain(1.0 / KG_TO_LB, 100.0, 0.0)
            }],
            efficiency_pct: 50.0,
            ..body
        };
        close(original_gravity(&sugar), 1.0 + 46.214 / 5.0 / 1000.0, 1e-6);
    }

    /// A typical pale ale, checked against the formulas by hand: 5 kg of 80 % malt at 72 % in 20 l,
    /// 30 g of 10 % hops for 60 minutes, 77 % attenuation.
    #[test]
    fn a_pale_ale_has_the_expected_numbers() {
        let body = RecipeBody {
            name: "Pale".into(),
            batch_size_l: 20.0,
            boil_size_l: 25.0,
            boil_time_min: 60.0,
            efficiency_pct: 72.0,
            fermentables: vec![grain(5.0, 80.0, 3.0)],
            hops: vec![
                Hop {
                    name: "Magnum".into(),
                    amount_g: 30.0,
                    alpha_pct: 10.0,
                    time_min: 60.0,
                    use_: HopUse::Boil,
                },
                Hop {
                    name: "Citra".into(),
                    amount_g: 50.0,
                    alpha_pct: 12.0,
                    time_min: 4320.0,
                    use_: HopUse::DryHop,
                },
            ],
            yeasts: vec![Yeast {
                name: "US-05".into(),
                attenuation_pct: 77.0,
                ..Yeast::default()
            }],
            ..RecipeBody::default()
        };
        let numbers = compute(&body);
        // 5 kg = 11.023 lb x 0.80 x 46.214 x 0.72 = 293.4 points over 5.283 gal = 55.5.
        close(numbers.og, 1.056, 0.0011);
        // 55.5 x 0.23 = 12.8 points left.
        close(numbers.fg, 1.013, 0.0011);
        close(numbers.abv_pct, 5.6, 0.15);
        // 150 mg/l alpha x Tinseth(1.0444 in the boil, 60 min) = 0.2425: 36.4 IBU; dry hops add none.
        close(numbers.ibu, 36.4, 0.2);
        // MCU = 11.023 x 3 / 5.283 = 6.26 -> 5.2 SRM, 10.3 EBC.
        close(numbers.color_srm, 5.2, 0.1);
        close(numbers.color_ebc, 10.3, 0.2);
        close(numbers.bu_gu, 0.65, 0.02);
    }

    #[test]
    fn an_empty_recipe_has_water_numbers() {
        let numbers = compute(&RecipeBody::default());
        assert_eq!(
            (numbers.og, numbers.fg, numbers.ibu, numbers.bu_gu),
            (1.0, 1.0, 0.0, 0.0)
        );
    }

    #[test]
    fn validation_names_each_wrong_field() {
        let body = RecipeBody {
            name: " ".into(),
            boil_time_min: 60.0,
            hops: vec![Hop {
                name: "Saaz".into(),
                time_min: 90.0,
                ..Hop::default()
            }],
            fermentables: vec![Fermentable {
                name: "Pils".into(),
                amount_kg: -1.0,
                ..Fermentable::default()
            }],
            yeasts: vec![Yeast {
                name: "W34/70".into(),
                temp_min_c: 15.0,
                temp_max_c: 9.0,
                ..Yeast::default()
            }],
            batch_size_l: f64::NAN,
            ..RecipeBody::default()
        };
        let errors = validate(&body);
        for field in [
            "name",
            "hops[0].time_min",
            "fermentables[0].amount_kg",
            "yeasts[0].temp_max_c",
            "batch_size_l",
        ] {
            assert!(errors.contains_key(field), "{field}: {errors:?}");
        }
        let good = RecipeBody {
            name: "Helles".into(),
            ..RecipeBody::default()
        };
        assert!(validate(&good).is_empty(), "{:?}", validate(&good));
    }

    #[test]
    fn units_show_metric_or_imperial() {
        assert_eq!(Units::Metric.volume(20.0), "20.0 l");
        assert_eq!(Units::Imperial.volume(18.927), "5.00 gal");
        assert_eq!(Units::Imperial.temperature(100.0), "212.0 °F");
        assert_eq!(Units::Imperial.mass_kg(1.0), "2.20 lb");
        assert_eq!(Units::Imperial.mass_g(28.349523), "1.00 oz");
    }
}
