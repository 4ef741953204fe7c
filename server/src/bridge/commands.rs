//! Request/response over MQTT: a `Command` published to `devices/{id}/cmd` with a request id and a
//! reply topic; the device's `Reply` on that topic completes the waiting caller.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use proto::{Message, v1};
use rumqttc::{AsyncClient, QoS};
use tokio::sync::{oneshot, watch};

use super::BridgeState;
use crate::inspector::Inspector;
use app::model::admin::Direction;

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the server is not connected to the MQTT broker")]
    BrokerUnavailable,
    #[error("the device did not answer in time")]
    Timeout,
}

/// Sends commands and matches replies to them.
#[derive(Clone)]
pub struct CommandBus {
    client: AsyncClient,
    state: watch::Receiver<BridgeState>,
    pending: Arc<Mutex<PendingMap>>,
    inspector: Inspector,
}

/// Request id -> the device asked and the caller waiting.
type PendingMap = HashMap<String, (String, oneshot::Sender<v1::Reply>)>;

/// Removes a request from the pending map however its caller ends (answer, timeout, or dropped).
struct PendingGuard<'a> {
    bus: &'a CommandBus,
    request_id: &'a str,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.bus.lock().remove(self.request_id);
    }
}

impl CommandBus {
    pub(super) fn new(
        client: AsyncClient,
        state: watch::Receiver<BridgeState>,
        inspector: Inspector,
    ) -> Self {
        Self {
            client,
            state,
            pending: Arc::default(),
            inspector,
        }
    }

    /// Sends a command and waits for the device's reply, at most `timeout` in all. Commands go at most
    /// once (QoS 0) and carry their deadline (now + `timeout`): one that timed out is never carried out
    /// later from a queue.
    pub async fn request(
        &self,
        device_id: &str,
        request_id: &str,
        body: v1::command::Body,
        timeout: Duration,
    ) -> Result<v1::Reply, RequestError> {
        if !matches!(*self.state.borrow(), BridgeState::Connected { .. }) {
            return Err(RequestError::BrokerUnavailable);
        }
        let (sender, receiver) = oneshot::channel();
        self.lock()
            .insert(request_id.to_string(), (device_id.to_string(), sender));
        let _guard = PendingGuard {
            bus: self,
            request_id,
        };
        // The caller stops waiting at the deadline; past it, brokers and devices drop the command.
        let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let deadline_ms =
            now_ms.saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        let command = v1::Command {
            request_id: request_id.to_string(),
            reply_topic: format!("devices/{device_id}/reply/{request_id}"),
            deadline_ms,
            body: Some(body),
        };
        let topic = format!("devices/{device_id}/cmd");
        let payload = command.encode_to_vec();
        self.inspector
            .observe(device_id, Direction::ToDevice, &topic, &payload, false);
        let exchange = async {
            self.client
                .publish(topic, QoS::AtMostOnce, false, payload)
                .await
                .map_err(|_| RequestError::BrokerUnavailable)?;
            receiver.await.map_err(|_| RequestError::Timeout)
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(RequestError::Timeout))
    }

    /// Hands a reply to its waiting caller, if it came from the device that was asked; a reply nobody
    /// waits for (late, for another instance, or from another device) is dropped.
    pub(super) fn complete(&self, device_id: &str, payload: &[u8]) -> Result<(), String> {
        let reply = v1::Reply::decode(payload).map_err(|error| error.to_string())?;
        let mut pending = self.lock();
        if pending
            .get(&reply.request_id)
            .is_some_and(|(asked, _)| asked == device_id)
            && let Some((_, waiting)) = pending.remove(&reply.request_id)
        {
            let _ = waiting.send(reply);
        }
        Ok(())
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (String, oneshot::Sender<v1::Reply>)>> {
        // A poisoned map only means a holder panicked mid-insert; the map itself is still usable.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
