//! Remote control: GPIO, clock, network info, reset and UART, as request/response over MQTT. Every
//! command is recorded (who, what, when, result, latency), audited, and shown on the live stream.

use app::model::telemetry::{CommandRecord, LiveEvent, NetworkInfo};
use chrono::{DateTime, Utc};
use proto::v1::{self, command::Body, reply::Result as ReplyResult};
use serde_json::{Value, json};

use super::{Origin, ServiceError, Services};
use crate::{auth::Actor, bridge::commands::RequestError, observability::OutcomeLabel};

/// Highest GPIO pin number accepted.
const MAX_PIN: u32 = 1023;
/// Most bytes one UART write carries.
const MAX_UART_BYTES: usize = 1024;

/// A GPIO pin mode.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PinMode {
    Input,
    Output,
    InputPullup,
}

/// What can be asked of a device.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceCommand {
    GpioGet {
        pin: u32,
    },
    GpioSet {
        pin: u32,
        value: bool,
        mode: Option<PinMode>,
    },
    RtcGet,
    RtcSet {
        time: DateTime<Utc>,
    },
    NetworkGet,
    Reset,
    UartWrite {
        data: Vec<u8>,
    },
    /// Runs a brew session's program.
    ProgramStart {
        program: v1::Program,
    },
    ProgramPause {
        program_id: String,
    },
    ProgramResume {
        program_id: String,
    },
    ProgramAbort {
        program_id: String,
    },
}

impl DeviceCommand {
    fn kind(&self) -> &'static str {
        match self {
            Self::GpioGet { .. } => "gpio_get",
            Self::GpioSet { .. } => "gpio_set",
            Self::RtcGet => "rtc_get",
            Self::RtcSet { .. } => "rtc_set",
            Self::NetworkGet => "network_get",
            Self::Reset => "reset",
            Self::UartWrite { .. } => "uart_write",
            Self::ProgramStart { .. } => "program_start",
            Self::ProgramPause { .. } => "program_pause",
            Self::ProgramResume { .. } => "program_resume",
            Self::ProgramAbort { .. } => "program_abort",
        }
    }

    fn describe(&self) -> Value {
        match self {
            Self::GpioGet { pin } => json!({ "pin": pin }),
            Self::GpioSet { pin, value, mode } => {
                json!({ "pin": pin, "value": value, "mode": mode })
            }
            Self::RtcSet { time } => json!({ "time": time }),
            Self::UartWrite { data } => uart_json(data),
            Self::RtcGet | Self::NetworkGet | Self::Reset => json!({}),
            Self::ProgramStart { program } => {
                json!({ "program_id": program.program_id, "steps": program.steps.len() })
            }
            Self::ProgramPause { program_id }
            | Self::ProgramResume { program_id }
            | Self::ProgramAbort { program_id } => json!({ "program_id": program_id }),
        }
    }

    fn body(&self) -> Body {
        let mode = |mode: &Option<PinMode>| {
            match mode {
                None => v1::GpioMode::Unspecified,
                Some(PinMode::Input) => v1::GpioMode::Input,
                Some(PinMode::Output) => v1::GpioMode::Output,
                Some(PinMode::InputPullup) => v1::GpioMode::InputPullup,
            }
            .into()
        };
        match self {
            Self::GpioGet { pin } => Body::GpioGet(v1::GpioGet { pin: *pin }),
            Self::GpioSet {
                pin,
                value,
                mode: pin_mode,
            } => Body::GpioSet(v1::GpioSet {
                pin: *pin,
                value: *value,
                mode: mode(pin_mode),
            }),
            Self::RtcGet => Body::RtcGet(v1::RtcGet {}),
            Self::RtcSet { time } => Body::RtcSet(v1::RtcSet {
                time_ms: time.timestamp_millis(),
            }),
            Self::NetworkGet => Body::NetworkGet(v1::NetworkGet {}),
            Self::Reset => Body::Reset(v1::Reset {}),
            Self::UartWrite { data } => Body::UartWrite(v1::UartWrite { data: data.clone() }),
            Self::ProgramStart { program } => Body::ProgramStart(v1::ProgramStart {
                program: Some(program.clone()),
            }),
            Self::ProgramPause { program_id } => Body::ProgramPause(v1::ProgramPause {
                program_id: program_id.clone(),
            }),
            Self::ProgramResume { program_id } => Body::ProgramResume(v1::ProgramResume {
                program_id: program_id.clone(),
            }),
            Self::ProgramAbort { program_id } => Body::ProgramAbort(v1::ProgramAbort {
                program_id: program_id.clone(),
            }),
        }
    }

    fn validate(&self) -> Result<(), ServiceError> {
        match self {
            Self::GpioGet { pin } | Self::GpioSet { pin, .. } if *pin > MAX_PIN => Err(
                ServiceError::field("pin", format!("must be 0 to {MAX_PIN}")),
            ),
            Self::UartWrite { data } if data.is_empty() || data.len() > MAX_UART_BYTES => Err(
                ServiceError::field("data", format!("send 1 to {MAX_UART_BYTES} bytes")),
            ),
            _ => Ok(()),
        }
    }
}

/// UART bytes as text (when UTF-8) and hex.
fn uart_json(data: &[u8]) -> Value {
    json!(UartData::of(data))
}

/// A pin's state as the device reported it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"pin": 4, "value": true, "mode": "output"}))]
pub struct GpioReply {
    pub pin: u32,
    pub value: bool,
    /// `input`, `output`, `input_pullup` or `unspecified`.
    pub mode: &'static str,
}

/// The device's clock.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"time": "2026-11-22T10:00:00Z", "time_ms": 1795428000000_i64}))]
pub struct ClockReply {
    /// The clock as RFC 3339 (null when out of range).
    pub time: Option<DateTime<Utc>>,
    /// The clock in milliseconds since the Unix epoch.
    pub time_ms: i64,
}

/// Bytes written to or echoed by the UART.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"text": "hello", "hex": "68656c6c6f"}))]
pub struct UartData {
    /// The bytes as text, when they are UTF-8.
    pub text: Option<String>,
    pub hex: String,
}

impl UartData {
    fn of(data: &[u8]) -> Self {
        Self {
            text: std::str::from_utf8(data).ok().map(str::to_string),
            hex: hex::encode(data),
        }
    }
}

/// A brew program's state as the device reported it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ProgramReply {
    pub program_id: String,
    /// The protobuf `ProgramState` name, e.g. `PROGRAM_STATE_RUNNING`.
    pub state: String,
    pub step_index: u32,
}

/// A command the device carried out with nothing to report (reset, set clock).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({}))]
pub struct Ack {}

fn gpio_mode_name(mode: i32) -> &'static str {
    match v1::GpioMode::try_from(mode).unwrap_or(v1::GpioMode::Unspecified) {
        v1::GpioMode::Input => "input",
        v1::GpioMode::Output => "output",
        v1::GpioMode::InputPullup => "input_pullup",
        v1::GpioMode::Unspecified => "unspecified",
    }
}

/// The JSON answer for a device's reply, or the device's refusal.
fn reply_json(reply: v1::Reply) -> Result<Value, String> {
    match reply.result {
        Some(ReplyResult::Gpio(state)) => Ok(json!(GpioReply {
            pin: state.pin,
            value: state.value,
            mode: gpio_mode_name(state.mode),
        })),
        Some(ReplyResult::Rtc(rtc)) => Ok(json!(ClockReply {
            time: DateTime::from_timestamp_millis(rtc.time_ms),
            time_ms: rtc.time_ms,
        })),
        Some(ReplyResult::Network(network)) => Ok(json!(NetworkInfo {
            mac: network.mac,
            ip: network.ip,
            subnet: network.subnet,
            gateway: network.gateway,
        })),
        Some(ReplyResult::Ack(_)) => Ok(json!(Ack {})),
        Some(ReplyResult::Uart(echo)) => Ok(uart_json(&echo.data)),
        Some(ReplyResult::Program(state)) => Ok(json!(ProgramReply {
            state: state.state().as_str_name().to_string(),
            program_id: state.program_id,
            step_index: state.step_index,
        })),
        Some(ReplyResult::Error(error)) => {
            Err(format!("{}: {}", error.code().as_str_name(), error.message))
        }
        None => Err("an empty reply".to_string()),
    }
}

impl Services {
    /// Sends a command to one of the caller's devices and answers with the device's reply.
    pub async fn send_command(
        &self,
        actor: &Actor,
        device_id: &str,
        command: DeviceCommand,
        origin: &Origin,
    ) -> Result<Value, ServiceError> {
        self.owned_device(actor, device_id).await?;
        command.validate()?;
        let support = self.device_support()?;
        let mut record = CommandRecord {
            id: uuid::Uuid::now_v7().to_string(),
            device_id: device_id.to_string(),
            actor: actor.audit_name(),
            kind: command.kind().to_string(),
            request: command.describe(),
            outcome: "pending".to_string(),
            result: None,
            latency_ms: None,
            created_at: Utc::now(),
        };
        // Ownership was checked above: the device is read once per command.
        let status = self.current_status(device_id).await?;
        let started = std::time::Instant::now();
        let outcome = if status.online {
            self.store.command_insert(&record).await?;
            support
                .commands
                .request(
                    device_id,
                    &record.id,
                    command.body(),
                    support.command_timeout,
                )
                .await
                .map_err(|error| match error {
                    RequestError::Timeout => ServiceError::DeviceTimeout,
                    RequestError::BrokerUnavailable => ServiceError::Unavailable(error.to_string()),
                })
                .and_then(|reply| reply_json(reply).map_err(ServiceError::DeviceRefused))
        } else {
            Err(ServiceError::DeviceOffline)
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (name, result) = match &outcome {
            Ok(value) => ("ok", Some(value.clone())),
            Err(ServiceError::DeviceOffline) => ("offline", None),
            Err(ServiceError::DeviceTimeout) => ("timeout", None),
            Err(error) => ("error", Some(json!({ "error": error.to_string() }))),
        };
        if name == "timeout" {
            self.errors.record(
                "device.command_timeout",
                format!("device:{device_id}"),
                format!(
                    "{} command to device {device_id} got no reply within {} ms",
                    record.kind,
                    support.command_timeout.as_millis()
                ),
            );
        }
        record.outcome = name.to_string();
        record.result = result;
        record.latency_ms = Some(latency_ms);
        if name == "offline" {
            self.store.command_insert(&record).await?;
        } else {
            self.store
                .command_finish(&record.id, name, record.result.as_ref(), latency_ms)
                .await?;
        }
        support.live.publish(LiveEvent::Command {
            device_id: device_id.to_string(),
            command: record.clone(),
        });
        support
            .metrics
            .commands
            .get_or_create(&OutcomeLabel {
                outcome: name.to_string(),
            })
            .inc();
        let detail = json!({ "command": record.id, "kind": record.kind, "outcome": name, "latency_ms": latency_ms });
        self.audit(
            actor,
            "device.command",
            format!("device:{device_id}"),
            detail,
            origin,
        )
        .await;
        outcome
    }
}
