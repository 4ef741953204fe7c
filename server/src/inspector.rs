//! The message inspector: every MQTT message between the bridge and a device, decoded, for staff
//! watching one device's traffic live. Nothing is decoded twice when nobody watches.

use app::model::admin::{Direction, InspectedMessage};
use chrono::Utc;
use tokio::sync::broadcast;

use crate::bridge::decode;

/// Messages kept for a slow watcher before it starts missing some.
const BUFFER: usize = 1024;

/// The fan-out of inspected messages. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Inspector {
    sender: broadcast::Sender<InspectedMessage>,
}

impl Inspector {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
        }
    }

    /// Passes a message to the watchers, decoding it only if someone watches.
    pub fn observe(
        &self,
        device_id: &str,
        direction: Direction,
        topic: &str,
        payload: &[u8],
        retained: bool,
    ) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        let message = InspectedMessage {
            at: Utc::now(),
            device_id: device_id.to_string(),
            direction,
            topic: topic.to_string(),
            size: payload.len() as u64,
            retained,
            decoded: decode::describe(topic, payload),
        };
        let _ = self.sender.send(message);
    }

    /// Every message from now on (the caller keeps those of the device it watches).
    pub fn subscribe(&self) -> broadcast::Receiver<InspectedMessage> {
        self.sender.subscribe()
    }
}

impl Default for Inspector {
    fn default() -> Self {
        Self::new()
    }
}
