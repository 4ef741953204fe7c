//! Device payloads: which topic is which, decoding protobuf, and range checks. Nothing a device sends
//! can panic the server; anything unusable becomes a [`BadPayload`] with a reason.

use std::collections::BTreeMap;

use app::model::telemetry::{Capabilities, NetworkInfo, TelemetryPoint};
use chrono::{DateTime, Duration, Utc};
use proto::{Message, v1};

/// What a topic under `devices/{id}/` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicKind {
    Telemetry,
    Status,
    Reply,
    Program,
}

/// The device id and kind of a device topic; `None` for anything else.
pub fn parse_topic(topic: &str) -> Option<(&str, TopicKind)> {
    let rest = topic.strip_prefix("devices/")?;
    let (device_id, rest) = rest.split_once('/')?;
    if device_id.is_empty() {
        return None;
    }
    let kind = match rest {
        "telemetry" => TopicKind::Telemetry,
        "status" => TopicKind::Status,
        "program" => TopicKind::Program,
        _ if rest.starts_with("reply/") => TopicKind::Reply,
        _ => return None,
    };
    Some((device_id, kind))
}

/// Why a payload was not used.
#[derive(Debug, Clone, PartialEq)]
pub struct BadPayload {
    /// `undecodable`, `out_of_range`, `oversize`, `unknown_device`, `unknown_topic`.
    pub kind: &'static str,
    pub reason: String,
}

impl BadPayload {
    fn new(kind: &'static str, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }
}

/// Largest telemetry payload accepted, bytes.
pub const MAX_TELEMETRY_BYTES: usize = 16 * 1024;
/// Most extra readings and valves in one sample.
const MAX_NAMED: usize = 32;

fn check(
    name: &str,
    value: Option<f32>,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Option<f64>, BadPayload> {
    let Some(value) = value else { return Ok(None) };
    let value = f64::from(value);
    if value.is_finite() && range.contains(&value) {
        Ok(Some(value))
    } else {
        Err(BadPayload::new(
            "out_of_range",
            format!("{name} = {value} is outside {range:?}"),
        ))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Decodes and checks a telemetry payload. The sample's time is the device's when it is within a
/// day of arrival (a device whose clock is unset still gets plausible times), else the arrival time.
pub fn telemetry(payload: &[u8], received_at: DateTime<Utc>) -> Result<TelemetryPoint, BadPayload> {
    if payload.len() > MAX_TELEMETRY_BYTES {
        return Err(BadPayload::new(
            "oversize",
            format!("{} bytes; at most {MAX_TELEMETRY_BYTES}", payload.len()),
        ));
    }
    let message = v1::Telemetry::decode(payload)
        .map_err(|error| BadPayload::new("undecodable", error.to_string()))?;
    if message.seq == 0 || message.seq > i64::MAX as u64 {
        return Err(BadPayload::new(
            "out_of_range",
            format!("seq = {} must be 1 to 2^63-1", message.seq),
        ));
    }
    let readings = message.readings.unwrap_or_default();
    if readings.extra.len() + readings.valves.len() > MAX_NAMED {
        return Err(BadPayload::new(
            "out_of_range",
            format!("more than {MAX_NAMED} named readings and valves"),
        ));
    }
    let mut extra = BTreeMap::new();
    for (name, value) in readings.extra {
        if !valid_name(&name) || !value.is_finite() {
            return Err(BadPayload::new(
                "out_of_range",
                format!("extra reading {name:?} = {value}"),
            ));
        }
        extra.insert(name, value);
    }
    let mut valves = BTreeMap::new();
    for (name, open) in readings.valves {
        if !valid_name(&name) {
            return Err(BadPayload::new(
                "out_of_range",
                format!("valve name {name:?}"),
            ));
        }
        valves.insert(name, open);
    }
    let device_time = DateTime::from_timestamp_millis(message.time_ms)
        .filter(|time| (*time - received_at).abs() <= Duration::days(1));
    Ok(TelemetryPoint {
        seq: message.seq,
        time: device_time.unwrap_or(received_at),
        mash_temp_c: check("mash_temp_c", readings.mash_temp_c, -50.0..=200.0)?,
        boil_temp_c: check("boil_temp_c", readings.boil_temp_c, -50.0..=200.0)?,
        fermenter_temp_c: check("fermenter_temp_c", readings.fermenter_temp_c, -50.0..=200.0)?,
        setpoint_c: check("setpoint_c", readings.setpoint_c, -50.0..=200.0)?,
        heater_pct: check("heater_pct", readings.heater_pct, 0.0..=100.0)?,
        pump_on: readings.pump_on,
        gravity_sg: check("gravity_sg", readings.gravity_sg, 0.9..=1.3)?,
        pressure_kpa: check("pressure_kpa", readings.pressure_kpa, -100.0..=1000.0)?,
        volume_l: check("volume_l", readings.volume_l, 0.0..=10_000.0)?,
        valves,
        extra,
    })
}

/// A decoded status report.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub online: bool,
    pub firmware: String,
    pub network: NetworkInfo,
    pub uptime_s: u64,
    pub report_interval_s: u32,
    pub capabilities: Capabilities,
}

fn short(name: &str, text: String) -> Result<String, BadPayload> {
    if text.chars().count() > 64 || text.chars().any(char::is_control) {
        Err(BadPayload::new(
            "out_of_range",
            format!("{name} is longer than 64 characters or has control characters"),
        ))
    } else {
        Ok(text)
    }
}

/// Decodes and checks a status payload.
pub fn status(payload: &[u8]) -> Result<Status, BadPayload> {
    if payload.len() > MAX_TELEMETRY_BYTES {
        return Err(BadPayload::new(
            "oversize",
            format!("{} bytes; at most {MAX_TELEMETRY_BYTES}", payload.len()),
        ));
    }
    let message = v1::Status::decode(payload)
        .map_err(|error| BadPayload::new("undecodable", error.to_string()))?;
    let capabilities = message.capabilities.unwrap_or_default();
    let finite = |name: &str, value: f32| {
        if value.is_finite() && value >= 0.0 {
            Ok(f64::from(value))
        } else {
            Err(BadPayload::new("out_of_range", format!("{name} = {value}")))
        }
    };
    Ok(Status {
        online: message.online,
        firmware: short("firmware", message.firmware)?,
        network: NetworkInfo {
            mac: short("mac", message.mac)?,
            ip: short("ip", message.ip)?,
            subnet: short("subnet", message.subnet)?,
            gateway: short("gateway", message.gateway)?,
        },
        uptime_s: message.uptime_s,
        report_interval_s: message.report_interval_s.min(86_400),
        capabilities: Capabilities {
            max_temp_c: finite("max_temp_c", capabilities.max_temp_c)?,
            max_volume_l: finite("max_volume_l", capabilities.max_volume_l)?,
            heater_w: finite("heater_w", capabilities.heater_w)?,
            pump: capabilities.pump,
            fermentation: capabilities.fermentation,
            gpio_pins: capabilities.gpio_pins.min(1024),
            uart: capabilities.uart,
        },
    })
}

/// Decodes and checks a program progress event.
pub fn program_event(payload: &[u8]) -> Result<v1::ProgramEvent, BadPayload> {
    if payload.len() > MAX_TELEMETRY_BYTES {
        return Err(BadPayload::new(
            "oversize",
            format!("{} bytes; at most {MAX_TELEMETRY_BYTES}", payload.len()),
        ));
    }
    let event = v1::ProgramEvent::decode(payload)
        .map_err(|error| BadPayload::new("undecodable", error.to_string()))?;
    short("program_id", event.program_id.clone())?;
    if event.message.chars().count() > 256 || event.message.chars().any(char::is_control) {
        return Err(BadPayload::new(
            "out_of_range",
            "message is longer than 256 characters or has control characters",
        ));
    }
    Ok(event)
}

/// A device message decoded into its fields (protobuf field names, enum names), for the message
/// inspector; or why it cannot be decoded. Commands (`devices/{id}/cmd`) are decoded too.
pub fn describe(topic: &str, payload: &[u8]) -> Result<String, String> {
    fn pretty<M: Message + Default + std::fmt::Debug>(payload: &[u8]) -> Result<String, String> {
        M::decode(payload)
            .map(|message| readable(&format!("{message:?}")))
            .map_err(|error| format!("undecodable: {error}"))
    }
    if payload.len() > MAX_TELEMETRY_BYTES {
        return Err(format!(
            "{} bytes; larger than any valid message ({MAX_TELEMETRY_BYTES})",
            payload.len()
        ));
    }
    let is_command = topic
        .strip_prefix("devices/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, rest)| rest == "cmd");
    if is_command {
        return pretty::<v1::Command>(payload);
    }
    match parse_topic(topic) {
        Some((_, TopicKind::Telemetry)) => pretty::<v1::Telemetry>(payload),
        Some((_, TopicKind::Status)) => pretty::<v1::Status>(payload),
        Some((_, TopicKind::Program)) => pretty::<v1::ProgramEvent>(payload),
        Some((_, TopicKind::Reply)) => pretty::<v1::Reply>(payload),
        None => Err("not a device topic".to_string()),
    }
}

/// A message's one-line `Debug` text made easier to read: unset fields (`x: None`) are left out and
/// `Some(v)` shows as `v`; quoted strings stay as they are.
fn readable(debug: &str) -> String {
    let chars: Vec<char> = debug.chars().collect();
    let mut out = String::with_capacity(debug.len());
    // For each open parenthesis: whether it was a `Some(` whose closing parenthesis is dropped.
    let mut opened: Vec<bool> = Vec::new();
    let mut in_string = false;
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(next) = chars.get(index + 1) {
                    out.push(*next);
                    index += 1;
                }
            } else if c == '"' {
                in_string = false;
            }
            index += 1;
            continue;
        }
        let rest: String = chars[index..chars.len().min(index + 5)].iter().collect();
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            'S' if rest == "Some(" && !out.ends_with(|c: char| c.is_alphanumeric() || c == '_') => {
                opened.push(true);
                index += 5;
                continue;
            }
            '(' => {
                opened.push(false);
                out.push(c);
            }
            _ if (c.is_alphabetic() || c == '_') && (out.is_empty() || out.ends_with(' ')) => {
                let ident_end = (index..chars.len())
                    .find(|&i| !(chars[i].is_alphanumeric() || chars[i] == '_'))
                    .unwrap_or(chars.len());
                let unset: Vec<char> = ": None".chars().collect();
                if chars[ident_end..].starts_with(&unset) {
                    // An unset field: left out with the comma that separates it.
                    index = ident_end + unset.len();
                    if chars[index..].starts_with(&[',', ' ']) {
                        index += 2;
                    } else if out.ends_with(", ") {
                        out.truncate(out.len() - 2);
                    }
                    continue;
                }
                out.extend(&chars[index..ident_end]);
                index = ident_end;
                continue;
            }
            ')' => {
                if !opened.pop().unwrap_or(false) {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
        index += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(readings: v1::Readings, seq: u64, time_ms: i64) -> Vec<u8> {
        v1::Telemetry {
            seq,
            time_ms,
            readings: Some(readings),
        }
        .encode_to_vec()
    }

    #[test]
    fn debug_text_reads_without_options() {
        assert_eq!(
            readable(
                "T { a: Some(1.5), b: None, c: Some(R { d: None, e: Some(\"x) None\") }), f: None }"
            ),
            "T { a: 1.5, c: R { e: \"x) None\" } }"
        );
        assert_eq!(
            readable("Body(NetworkGet(NetworkGet))"),
            "Body(NetworkGet(NetworkGet))"
        );
        assert_eq!(readable("X { s: \"Some(\" }"), "X { s: \"Some(\" }");
        assert_eq!(readable("X { s: \"a: None\" }"), "X { s: \"a: None\" }");
        assert_eq!(readable("X { a: 1, b: None }"), "X { a: 1 }");
    }

    #[test]
    fn messages_are_described_by_their_fields() {
        let payload = encode(
            v1::Readings {
                mash_temp_c: Some(65.5),
                ..v1::Readings::default()
            },
            7,
            0,
        );
        let text = describe("devices/d1/telemetry", &payload).unwrap();
        assert!(text.contains("seq: 7"), "{text}");
        assert!(
            text.contains("mash_temp_c") && text.contains("65.5"),
            "{text}"
        );
        let command = v1::Command {
            request_id: "r1".into(),
            reply_topic: "devices/d1/reply/r1".into(),
            deadline_ms: 0,
            body: None,
        };
        let text = describe("devices/d1/cmd", &command.encode_to_vec()).unwrap();
        assert!(text.contains("request_id: \"r1\""), "{text}");
        assert!(describe("devices/d1/telemetry", &[0xff, 0xff, 0xff]).is_err());
        assert!(describe("elsewhere", &[]).is_err());
    }

    #[test]
    fn topics() {
        assert_eq!(
            parse_topic("devices/d1/telemetry"),
            Some(("d1", TopicKind::Telemetry))
        );
        assert_eq!(
            parse_topic("devices/d1/reply/abc"),
            Some(("d1", TopicKind::Reply))
        );
        assert_eq!(parse_topic("devices/d1/cmd"), None);
        assert_eq!(parse_topic("devices//telemetry"), None);
        assert_eq!(parse_topic("other/d1/telemetry"), None);
    }

    #[test]
    fn good_telemetry_decodes() {
        let now = Utc::now();
        let payload = encode(
            v1::Readings {
                mash_temp_c: Some(66.5),
                heater_pct: Some(40.0),
                pump_on: Some(true),
                valves: [("inlet".to_string(), true)].into(),
                extra: [("ph".to_string(), 5.4)].into(),
                ..Default::default()
            },
            7,
            now.timestamp_millis(),
        );
        let point = telemetry(&payload, now).unwrap();
        assert_eq!(point.seq, 7);
        assert_eq!(point.mash_temp_c, Some(66.5));
        assert_eq!(point.pump_on, Some(true));
        assert_eq!(point.extra["ph"], 5.4);
        assert_eq!(point.time.timestamp_millis(), now.timestamp_millis());
    }

    #[test]
    fn bad_telemetry_is_refused_with_a_reason() {
        let now = Utc::now();
        assert_eq!(
            telemetry(b"\xff\xff\xff", now).unwrap_err().kind,
            "undecodable"
        );
        assert_eq!(
            telemetry(&vec![0; MAX_TELEMETRY_BYTES + 1], now)
                .unwrap_err()
                .kind,
            "oversize"
        );
        let hot = encode(
            v1::Readings {
                mash_temp_c: Some(900.0),
                ..Default::default()
            },
            1,
            0,
        );
        assert!(
            telemetry(&hot, now)
                .unwrap_err()
                .reason
                .contains("mash_temp_c")
        );
        let nan = encode(
            v1::Readings {
                heater_pct: Some(f32::NAN),
                ..Default::default()
            },
            1,
            0,
        );
        assert_eq!(telemetry(&nan, now).unwrap_err().kind, "out_of_range");
        let no_seq = encode(v1::Readings::default(), 0, 0);
        assert_eq!(telemetry(&no_seq, now).unwrap_err().kind, "out_of_range");
        let bad_name = encode(
            v1::Readings {
                extra: [("Bad Name".to_string(), 1.0)].into(),
                ..Default::default()
            },
            1,
            0,
        );
        assert_eq!(telemetry(&bad_name, now).unwrap_err().kind, "out_of_range");
    }

    #[test]
    fn an_unset_device_clock_falls_back_to_arrival_time() {
        let now = Utc::now();
        let point = telemetry(&encode(v1::Readings::default(), 1, 0), now).unwrap();
        assert_eq!(point.time, now);
    }
}
