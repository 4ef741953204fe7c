//! Fan-out of live events (telemetry, status, commands, program progress) to SSE subscribers.

use app::model::telemetry::LiveEvent;
use tokio::sync::broadcast;

/// Events kept for slow subscribers before they start missing some.
const BUFFER: usize = 4096;

/// The hub: every ingest and command publishes here; every live stream subscribes.
#[derive(Debug, Clone)]
pub struct LiveHub {
    sender: broadcast::Sender<LiveEvent>,
}

impl LiveHub {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
        }
    }

    /// Sends an event to everyone listening (nobody listening is fine).
    pub fn publish(&self, event: LiveEvent) {
        let _ = self.sender.send(event);
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}
