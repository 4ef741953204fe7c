//! Retained messages, kept in memory by the embedded broker (devices re-publish their retained status
//! when they reconnect, so nothing is lost when the broker restarts).

use std::time::Duration;

use rmqtt::{
    retain::{DefaultRetainStorage, RetainStorage},
    types::{Retain, TopicFilter, TopicName},
};

/// rmqtt's in-memory store, switched on. The lifetime of a retained message is the publisher's
/// message-expiry property only (rmqtt would otherwise pass the listener's offline-queue expiry).
#[derive(Default)]
pub struct InMemoryRetain(DefaultRetainStorage);

#[async_trait::async_trait]
impl RetainStorage for InMemoryRetain {
    fn enable(&self) -> bool {
        true
    }

    async fn set(
        &self,
        topic: &TopicName,
        retain: Retain,
        _queue_expiry: Option<Duration>,
    ) -> rmqtt::Result<()> {
        let expiry = retain
            .publish
            .properties
            .as_ref()
            .and_then(|properties| properties.message_expiry_interval)
            .map(|seconds| Duration::from_secs(u64::from(seconds.get())));
        self.0.set_with_timeout(topic, retain, expiry).await
    }

    async fn get(&self, filter: &TopicFilter) -> rmqtt::Result<Vec<(TopicName, Retain)>> {
        self.0.get_message(filter).await
    }

    async fn count(&self) -> isize {
        RetainStorage::count(&self.0).await
    }

    async fn max(&self) -> isize {
        RetainStorage::max(&self.0).await
    }
}
