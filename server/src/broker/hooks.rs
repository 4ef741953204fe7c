//! The broker's auth and ACL hooks, and its shared-subscription strategy.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use rmqtt::{
    codec::v5::SubscribeAckReason,
    context::ServerContext,
    hook::{Handler, HookResult, Parameter, ReturnType, Type},
    subscribe::SharedSubscription,
    types::{
        AuthResult, ClientId, ConnectInfo, Id, IsOnline, NodeId, PublishAclResult, SharedGroup,
        SubscribeAclResult, SubscriptionIdentifier, SubscriptionOptions, TopicName,
    },
};

use super::{BrokerSettings, LISTENER_PLAIN};
use crate::observability::Metrics;

/// Who may connect.
pub struct Policy {
    bridge_username: String,
    bridge_password: String,
}

impl Policy {
    pub fn new(settings: &BrokerSettings) -> Self {
        Self {
            bridge_username: settings.bridge_username.clone(),
            bridge_password: settings.bridge_password.clone(),
        }
    }

    /// Whether a CONNECT is allowed, and whether the client is the all-topics bridge.
    fn authenticate(&self, connect: &ConnectInfo) -> AuthResult {
        let listener = connect.id().lid();
        let is_bridge = listener == LISTENER_PLAIN
            && connect
                .username()
                .is_some_and(|name| **name == *self.bridge_username)
            && connect.password().is_some_and(|password| {
                constant_time_eq(password, self.bridge_password.as_bytes())
            });
        if is_bridge {
            AuthResult::Allow(true, None)
        } else {
            tracing::info!(client_id = %connect.client_id(), listener, "MQTT connect refused");
            AuthResult::NotAuthorized
        }
    }
}

/// Compares secrets without an early exit that would leak how much of them matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

struct Hooks {
    policy: Policy,
    metrics: Arc<Metrics>,
}

/// Installs the hooks on a broker context.
pub async fn register(context: &ServerContext, policy: Policy, metrics: Arc<Metrics>) {
    let hooks = Arc::new(Hooks { policy, metrics });
    let register = context.extends.hook_mgr().register();
    for kind in [
        Type::ClientAuthenticate,
        Type::ClientSubscribeCheckAcl,
        Type::MessagePublishCheckAcl,
        Type::MessagePublish,
        Type::MessageDelivered,
        Type::MessageDropped,
    ] {
        register
            .add(kind, Box::new(SharedHooks(hooks.clone())))
            .await;
    }
    // Hooks are registered disabled; nothing is checked until they are started.
    register.start().await;
}

struct SharedHooks(Arc<Hooks>);

#[async_trait::async_trait]
impl Handler for SharedHooks {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let hooks = &self.0;
        match param {
            Parameter::ClientAuthenticate(connect) => (
                false,
                Some(HookResult::AuthResult(hooks.policy.authenticate(connect))),
            ),
            // The bridge is a superuser and skips these checks; no other client has topic rights yet.
            Parameter::ClientSubscribeCheckAcl(..) => (
                false,
                Some(HookResult::SubscribeAclResult(
                    SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized),
                )),
            ),
            Parameter::MessagePublishCheckAcl(..) => (
                false,
                Some(HookResult::PublishAclResult(PublishAclResult::rejected(
                    false,
                    Some("not authorized".into()),
                ))),
            ),
            Parameter::MessagePublish(..) => {
                hooks.metrics.broker_received.inc();
                (true, acc)
            }
            Parameter::MessageDelivered(..) => {
                hooks.metrics.broker_delivered.inc();
                (true, acc)
            }
            Parameter::MessageDropped(..) => {
                hooks.metrics.broker_dropped.inc();
                (true, acc)
            }
            _ => (true, acc),
        }
    }
}

/// Shared subscriptions (`$share/group/topic`): each message goes to the next online member, so
/// several server instances split the device traffic between them.
#[derive(Default)]
pub struct RoundRobin(AtomicUsize);

#[async_trait::async_trait]
impl SharedSubscription for RoundRobin {
    fn is_supported(&self) -> bool {
        true
    }

    async fn choice(
        &self,
        context: &ServerContext,
        _group: &SharedGroup,
        _from: &Id,
        _topic: &TopicName,
        members: &[(
            NodeId,
            ClientId,
            SubscriptionOptions,
            Option<Vec<SubscriptionIdentifier>>,
            Option<IsOnline>,
        )],
    ) -> Option<(usize, IsOnline)> {
        if members.is_empty() {
            return None;
        }
        let start = self.0.fetch_add(1, Ordering::Relaxed);
        for offset in 0..members.len() {
            let index = (start + offset) % members.len();
            let (node, client_id, _, _, online) = &members[index];
            let online = match online {
                Some(online) => *online,
                None => {
                    context
                        .extends
                        .router()
                        .await
                        .is_online(*node, client_id)
                        .await
                }
            };
            if online {
                return Some((index, true));
            }
        }
        // Nobody online: queue for one member's persistent session.
        Some((start % members.len(), false))
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn secrets_compare_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
