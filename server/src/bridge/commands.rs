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
    pending: Arc<Mutex<HashMap<String, oneshot::Sender<v1::Reply>>>>,
}

impl CommandBus {
    pub(super) fn new(client: AsyncClient, state: watch::Receiver<BridgeState>) -> Self {
        Self {
            client,
            state,
            pending: Arc::default(),
        }
    }

    /// Sends a command and waits for the device's reply, at most `timeout`.
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
        self.lock().insert(request_id.to_string(), sender);
        let command = v1::Command {
            request_id: request_id.to_string(),
            reply_topic: format!("devices/{device_id}/reply/{request_id}"),
            body: Some(body),
        };
        let sent = self
            .client
            .publish(
                format!("devices/{device_id}/cmd"),
                QoS::AtLeastOnce,
                false,
                command.encode_to_vec(),
            )
            .await;
        let result = match sent {
            Ok(()) => match tokio::time::timeout(timeout, receiver).await {
                Ok(Ok(reply)) => Ok(reply),
                _ => Err(RequestError::Timeout),
            },
            Err(_) => Err(RequestError::BrokerUnavailable),
        };
        self.lock().remove(request_id);
        result
    }

    /// Hands a reply to its waiting caller; a reply nobody waits for (late, or for another instance)
    /// is dropped. Returns whether it was undecodable.
    pub(super) fn complete(&self, payload: &[u8]) -> Result<(), String> {
        let reply = v1::Reply::decode(payload).map_err(|error| error.to_string())?;
        if let Some(waiting) = self.lock().remove(&reply.request_id) {
            let _ = waiting.send(reply);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<v1::Reply>>> {
        // A poisoned map only means a holder panicked mid-insert; the map itself is still usable.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
