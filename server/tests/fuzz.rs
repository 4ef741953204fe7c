//! Property-based fuzzing (proptest) of what devices and files hand the server: protobuf payloads
//! on every device topic and BeerJSON/BeerXML recipe files, as arbitrary bytes and as mutations of
//! valid inputs. Nothing may panic; what is accepted keeps the documented ranges.
//! `PROPTEST_CASES` sets the cases per property (256 here; the long variant of the test command
//! runs 100,000).

use brewlink::{bridge::decode, formats};
use proptest::prelude::*;
use proto::{Message, v1};

/// A valid telemetry payload to mutate.
fn valid_telemetry() -> Vec<u8> {
    v1::Telemetry {
        seq: 7,
        time_ms: 1_764_000_000_000,
        readings: Some(v1::Readings {
            mash_temp_c: Some(66.5),
            gravity_sg: Some(1.048),
            heater_pct: Some(40.0),
            ..Default::default()
        }),
    }
    .encode_to_vec()
}

/// Flips, overwrites, inserts and cuts at random places of `base`.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len().max(1);
    prop::collection::vec((0..len, any::<u8>(), 0u8..4), 1..16).prop_map(move |edits| {
        let mut bytes = base.clone();
        for (at, byte, how) in edits {
            let at = at.min(bytes.len().saturating_sub(1));
            match how {
                0 if !bytes.is_empty() => bytes[at] ^= byte | 1,
                1 if !bytes.is_empty() => bytes[at] = byte,
                2 => bytes.insert(at, byte),
                _ => bytes.truncate(at),
            }
        }
        bytes
    })
}

fn config() -> ProptestConfig {
    // PROPTEST_CASES in the environment wins over this default.
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn check_point(point: &app::model::telemetry::TelemetryPoint) {
    for (name, value) in [
        ("mash", point.mash_temp_c),
        ("boil", point.boil_temp_c),
        ("fermenter", point.fermenter_temp_c),
        ("heater", point.heater_pct),
        ("gravity", point.gravity_sg),
    ] {
        if let Some(value) = value {
            assert!(value.is_finite(), "{name} = {value}");
        }
    }
    if let Some(heater) = point.heater_pct {
        assert!((0.0..=100.0).contains(&heater), "heater {heater}");
    }
    if let Some(gravity) = point.gravity_sg {
        assert!((0.9..=1.3).contains(&gravity), "gravity {gravity}");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_on_every_device_topic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let now = chrono::Utc::now();
        if let Ok(point) = decode::telemetry(&bytes, now) {
            check_point(&point);
        }
        let _ = decode::status(&bytes);
        let _ = decode::program_event(&bytes);
        let _ = decode::describe("devices/d1/telemetry", &bytes);
        let _ = decode::describe("devices/d1/reply/r1", &bytes);
        let _ = decode::describe("devices/d1/cmd", &bytes);
    }

    #[test]
    fn mutated_telemetry(bytes in mutated(valid_telemetry())) {
        if let Ok(point) = decode::telemetry(&bytes, chrono::Utc::now()) {
            check_point(&point);
        }
        let _ = decode::status(&bytes);
    }

    #[test]
    fn arbitrary_text_as_a_recipe_file(text in ".{0,512}") {
        let _ = formats::import(&text);
        let _ = formats::import(&format!("{{{text}"));
        let _ = formats::import(&format!("<{text}"));
    }

    #[test]
    fn mutated_beerjson(bytes in mutated(include_bytes!("fixtures/other-tool.beerjson").to_vec())) {
        let _ = formats::import(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_beerxml(bytes in mutated(include_bytes!("fixtures/other-tool.beerxml").to_vec())) {
        let _ = formats::import(&String::from_utf8_lossy(&bytes));
    }
}
