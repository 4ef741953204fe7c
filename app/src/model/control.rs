//! Remote control as the web pages ask for it and see the answer.

use serde::{Deserialize, Serialize};

/// A command from a page to a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ControlRequest {
    GpioGet {
        pin: u32,
    },
    GpioSet {
        pin: u32,
        value: bool,
        mode: Option<String>,
    },
    RtcGet,
    RtcSet {
        time: chrono::DateTime<chrono::Utc>,
    },
    NetworkGet,
    Reset,
    UartWrite {
        data: String,
        hex: bool,
    },
}

/// How a command went, for the control that sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlAnswer {
    /// `ok`, `offline`, `timeout`, `refused`, `invalid` or `error`.
    pub outcome: String,
    /// The device's reply, when `ok`.
    pub result: Option<serde_json::Value>,
    /// What went wrong, in words.
    pub message: Option<String>,
    /// Round trip, milliseconds.
    pub latency_ms: u64,
}
