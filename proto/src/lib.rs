//! The BrewLink device protocol, v1: protobuf messages that devices and the server exchange over MQTT.
//!
//! The `.proto` files under `brewlink/device/v1/` are the reference; this crate is generated from them.

/// Messages of package `brewlink.device.v1`.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/brewlink.device.v1.rs"));

    impl Command {
        /// Whether the command is past its deadline at `now_ms` (Unix milliseconds): the server has
        /// stopped waiting for it, so it must not be carried out (nor delivered by a broker).
        pub fn is_expired(&self, now_ms: u64) -> bool {
            self.deadline_ms != 0 && now_ms > self.deadline_ms
        }
    }
}

pub use prost::Message;

#[cfg(test)]
mod tests {
    use super::v1::Command;

    #[test]
    fn a_command_expires_after_its_deadline_only() {
        let command = Command {
            deadline_ms: 1_000,
            ..Command::default()
        };
        assert!(!command.is_expired(999));
        assert!(!command.is_expired(1_000));
        assert!(command.is_expired(1_001));
        assert!(!Command::default().is_expired(u64::MAX), "0: no deadline");
    }
}
