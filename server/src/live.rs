//! Fan-out of live events (telemetry, status, commands, program progress) to SSE subscribers: one
//! channel per watched device, so a stream wakes only for its own device's events; and a cap on the
//! streams one credential (a web session or an API token) may hold open at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use app::model::telemetry::LiveEvent;
use tokio::sync::broadcast;

/// Events kept per device for slow subscribers before they start missing some.
const BUFFER: usize = 256;
/// Live streams one credential may hold open at once.
pub const STREAMS_PER_CREDENTIAL: usize = 10;

/// The hub: every ingest and command publishes here; every live stream subscribes to one device.
#[derive(Debug, Clone, Default)]
pub struct LiveHub {
    devices: Arc<Mutex<HashMap<String, broadcast::Sender<LiveEvent>>>>,
    streams: Arc<Mutex<HashMap<String, usize>>>,
}

impl LiveHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends an event to everyone watching its device (nobody watching is fine).
    pub fn publish(&self, event: LiveEvent) {
        let mut devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        // Every stored sample passes here: no allocation unless a channel goes.
        let Some(sender) = devices.get(event.device_id()) else {
            return;
        };
        if let Err(broadcast::error::SendError(event)) = sender.send(event) {
            // Everyone watching left: forget the channel.
            devices.remove(event.device_id());
        }
    }

    /// A receiver of one device's events from now on.
    pub fn subscribe(&self, device_id: &str) -> broadcast::Receiver<LiveEvent> {
        self.devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(device_id.to_string())
            .or_insert_with(|| broadcast::channel(BUFFER).0)
            .subscribe()
    }

    /// A turn for one more stream of `credential`, held until the returned guard is dropped;
    /// `None` when the credential holds [`STREAMS_PER_CREDENTIAL`] already.
    pub fn open_stream(&self, credential: &str) -> Option<StreamTurn> {
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let open = streams.entry(credential.to_string()).or_default();
        if *open >= STREAMS_PER_CREDENTIAL {
            return None;
        }
        *open += 1;
        Some(StreamTurn {
            streams: self.streams.clone(),
            credential: credential.to_string(),
        })
    }
}

/// One open stream of a credential; dropping it frees the turn.
#[derive(Debug)]
pub struct StreamTurn {
    streams: Arc<Mutex<HashMap<String, usize>>>,
    credential: String,
}

impl Drop for StreamTurn {
    fn drop(&mut self) {
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = streams.get_mut(&self.credential) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                streams.remove(&self.credential);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(device_id: &str) -> LiveEvent {
        LiveEvent::Program {
            device_id: device_id.to_string(),
            event: serde_json::json!({}),
        }
    }

    #[test]
    fn a_subscriber_sees_only_its_device() {
        let hub = LiveHub::new();
        let mut d1 = hub.subscribe("d1");
        hub.publish(command("d2"));
        hub.publish(command("d1"));
        assert_eq!(d1.try_recv().unwrap().device_id(), "d1");
        assert!(d1.try_recv().is_err(), "nothing of d2");
        drop(d1);
        hub.publish(command("d1"));
        assert!(
            hub.devices.lock().unwrap().is_empty(),
            "unwatched channels go"
        );
    }

    #[test]
    fn streams_per_credential_are_capped_and_freed() {
        let hub = LiveHub::new();
        let turns: Vec<_> = (0..STREAMS_PER_CREDENTIAL)
            .map(|_| hub.open_stream("token:t1").unwrap())
            .collect();
        assert!(hub.open_stream("token:t1").is_none());
        assert!(hub.open_stream("token:t2").is_some(), "another credential");
        drop(turns);
        assert!(hub.open_stream("token:t1").is_some());
        assert!(hub.streams.lock().unwrap().len() <= 1);
    }
}
