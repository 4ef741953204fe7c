//! The BrewLink device protocol, v1: protobuf messages that devices and the server exchange over MQTT.
//!
//! The `.proto` files under `brewlink/device/v1/` are the reference; this crate is generated from them.

/// Messages of package `brewlink.device.v1`.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/brewlink.device.v1.rs"));
}

pub use prost::Message;
