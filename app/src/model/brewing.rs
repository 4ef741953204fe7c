//! Brewing arithmetic shared by the UI and the server.

use std::{fmt, str::FromStr};

/// A specific gravity reading, e.g. 1.050 (water is 1.000).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Gravity(f64);

/// The plausible range of wort and beer gravity.
const GRAVITY_RANGE: std::ops::RangeInclusive<f64> = 0.980..=1.200;

/// Why a gravity or an ABV could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GravityError {
    #[error("enter a number such as 1.050")]
    NotANumber,
    #[error("must be between 0.980 and 1.200")]
    OutOfRange,
    #[error("Final gravity must not be above the original gravity")]
    FinalAboveOriginal,
}

impl Gravity {
    /// A gravity within the plausible range.
    pub fn new(value: f64) -> Result<Self, GravityError> {
        if GRAVITY_RANGE.contains(&value) {
            Ok(Self(value))
        } else {
            Err(GravityError::OutOfRange)
        }
    }

    /// The specific gravity as a number.
    pub fn value(self) -> f64 {
        self.0
    }
}

impl FromStr for Gravity {
    type Err = GravityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let value: f64 = text.trim().parse().map_err(|_| GravityError::NotANumber)?;
        if !value.is_finite() {
            return Err(GravityError::NotANumber);
        }
        Self::new(value)
    }
}

impl fmt::Display for Gravity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.0)
    }
}

/// Alcohol by volume in percent, by the common homebrewing formula ABV = (OG - FG) x 131.25.
pub fn abv_percent(original: Gravity, final_: Gravity) -> Result<f64, GravityError> {
    if final_ > original {
        return Err(GravityError::FinalAboveOriginal);
    }
    Ok((original.0 - final_.0) * 131.25)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abv_of_a_typical_ale() {
        let abv = abv_percent("1.050".parse().unwrap(), "1.010".parse().unwrap()).unwrap();
        assert!((abv - 5.25).abs() < 1e-9, "{abv}");
    }

    #[test]
    fn gravity_rejects_bad_input() {
        assert_eq!("abc".parse::<Gravity>(), Err(GravityError::NotANumber));
        assert_eq!("NaN".parse::<Gravity>(), Err(GravityError::NotANumber));
        assert_eq!("1.5".parse::<Gravity>(), Err(GravityError::OutOfRange));
        assert_eq!(
            abv_percent(Gravity::new(1.010).unwrap(), Gravity::new(1.050).unwrap()),
            Err(GravityError::FinalAboveOriginal)
        );
    }
}
