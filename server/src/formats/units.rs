//! Units of the recipe formats, converted to the metric units BrewLink stores. An unknown unit is an
//! error naming it, never a silent guess.

fn unknown(kind: &str, unit: &str) -> String {
    format!("unknown {kind} unit \"{unit}\"")
}

fn finite(value: f64) -> Result<f64, String> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err("a number is not finite".to_string())
    }
}

pub fn mass_kg(unit: &str, value: f64) -> Result<f64, String> {
    let factor = match unit.to_ascii_lowercase().as_str() {
        "kg" => 1.0,
        "g" => 0.001,
        "mg" => 0.000_001,
        "lb" => 0.453_592_37,
        "oz" => 0.028_349_523,
        _ => return Err(unknown("mass", unit)),
    };
    finite(value * factor)
}

pub fn volume_l(unit: &str, value: f64) -> Result<f64, String> {
    let factor = match unit.to_ascii_lowercase().as_str() {
        "l" => 1.0,
        "ml" => 0.001,
        "gal" => 3.785_411_8,
        "qt" => 0.946_352_95,
        "pt" => 0.473_176_47,
        "cup" => 0.236_588_24,
        "ifloz" => 0.028_413_06,
        "floz" => 0.029_573_53,
        "igal" => 4.546_09,
        "bbl" => 117.347_77,
        _ => return Err(unknown("volume", unit)),
    };
    finite(value * factor)
}

pub fn temperature_c(unit: &str, value: f64) -> Result<f64, String> {
    match unit {
        "C" | "c" => finite(value),
        "F" | "f" => finite((value - 32.0) * 5.0 / 9.0),
        _ => Err(unknown("temperature", unit)),
    }
}

pub fn time_min(unit: &str, value: f64) -> Result<f64, String> {
    let factor = match unit.to_ascii_lowercase().as_str() {
        "sec" | "s" => 1.0 / 60.0,
        "min" => 1.0,
        "hr" | "h" => 60.0,
        "day" | "d" => 1440.0,
        "week" => 10_080.0,
        _ => return Err(unknown("time", unit)),
    };
    finite(value * factor)
}

pub fn percent(unit: &str, value: f64) -> Result<f64, String> {
    match unit {
        "%" => finite(value),
        _ => Err(unknown("percentage", unit)),
    }
}

pub fn concentration_ppm(unit: &str, value: f64) -> Result<f64, String> {
    match unit.to_ascii_lowercase().as_str() {
        "ppm" | "mg/l" => finite(value),
        "ppb" => finite(value / 1000.0),
        _ => Err(unknown("concentration", unit)),
    }
}

/// Colour on the scale Morey's formula takes: SRM and degrees Lovibond as they are (recipe tools use
/// them alike for malt), EBC / 1.97.
pub fn color_srm(unit: &str, value: f64) -> Result<f64, String> {
    match unit {
        "SRM" | "srm" => finite(value),
        "EBC" | "ebc" => finite(value / 1.97),
        "Lovi" | "lovi" | "L" => finite(value),
        _ => Err(unknown("colour", unit)),
    }
}

/// Extract potential as a specific gravity (e.g. 1.037 for 37 points per pound per gallon) to a
/// yield in percent of sucrose's 46.214 points.
pub fn potential_to_yield_pct(unit: &str, value: f64) -> Result<f64, String> {
    match unit.to_ascii_lowercase().as_str() {
        "sg" => finite((value - 1.0) * 1000.0 / 46.214 * 100.0),
        _ => Err(unknown("gravity", unit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_to_metric_and_unknown_ones_are_named() {
        assert!((mass_kg("lb", 1.0).unwrap() - 0.4536).abs() < 1e-4);
        assert!((volume_l("gal", 5.0).unwrap() - 18.927).abs() < 1e-3);
        assert!((temperature_c("F", 152.0).unwrap() - 66.667).abs() < 1e-3);
        assert_eq!(time_min("day", 2.0).unwrap(), 2880.0);
        assert!((color_srm("EBC", 19.7).unwrap() - 10.0).abs() < 1e-9);
        assert!((potential_to_yield_pct("sg", 1.037).unwrap() - 80.06).abs() < 0.01);
        assert_eq!(
            mass_kg("stone", 1.0),
            Err("unknown mass unit \"stone\"".to_string())
        );
        assert!(percent("%", f64::NAN).is_err());
    }
}
