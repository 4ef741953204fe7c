//! The broker's auth and ACL hooks, and its shared-subscription strategy.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use rmqtt::{
    codec::v5::{PublishAckReason, SubscribeAckReason},
    context::ServerContext,
    hook::{Handler, HookResult, Parameter, ReturnType, Type},
    subscribe::SharedSubscription,
    types::{
        AuthResult, ClientId, ConnectInfo, FromType, Id, IsOnline, LastWill, NodeId, Publish,
        PublishAclResult, PublishResult, SharedGroup, SubscribeAclResult, SubscriptionIdentifier,
        SubscriptionOptions, TopicName,
    },
};

use proto::Message as _;

use super::{BrokerSettings, LISTENER_PLAIN, LISTENER_TLS};
use crate::{
    bridge::decode::{self, TopicKind},
    errors::ErrorTracker,
    ingest::{Ack, IngestInlet},
    observability::Metrics,
    store::Store,
};

/// Longest a device's telemetry or status message waits to be stored before the device is
/// disconnected without an acknowledgement (it keeps the message and sends it again).
pub const STORE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Who may connect.
pub struct Policy {
    bridge_username: String,
    bridge_password: String,
    store: Store,
    errors: ErrorTracker,
    /// How long a certificate lookup may take before the connect is refused.
    lookup_timeout: std::time::Duration,
}

impl Policy {
    pub fn new(settings: &BrokerSettings) -> Self {
        Self {
            bridge_username: settings.bridge_username.clone(),
            bridge_password: settings.bridge_password.clone(),
            store: settings.store.clone(),
            errors: settings.errors.clone(),
            lookup_timeout: settings.connect_timeout,
        }
    }

    /// Whether a CONNECT is allowed; the bridge is a superuser (every topic), devices are not.
    async fn authenticate(&self, connect: &ConnectInfo) -> AuthResult {
        let listener = connect.id().lid();
        let verdict = match listener {
            LISTENER_PLAIN => {
                let is_bridge = connect
                    .username()
                    .is_some_and(|name| **name == *self.bridge_username)
                    && connect.password().is_some_and(|password| {
                        constant_time_eq(password, self.bridge_password.as_bytes())
                    });
                if is_bridge {
                    Ok(AuthResult::Allow(true, None))
                } else {
                    Err("not the bridge account".to_string())
                }
            }
            LISTENER_TLS => self
                .authenticate_device(connect)
                .await
                .map(|()| AuthResult::Allow(false, None)),
            _ => Err("unknown listener".to_string()),
        };
        verdict.unwrap_or_else(|reason| {
            tracing::info!(client_id = %connect.client_id(), listener, reason, "MQTT connect refused");
            let listener = if listener == LISTENER_TLS { "device" } else { "bridge" };
            self.errors.record(
                "device.connect_refused",
                format!("client:{}", connect.client_id()),
                format!("{listener} listener: client {} refused: {reason}", connect.client_id()),
            );
            AuthResult::NotAuthorized
        })
    }

    /// A device: its certificate names it (CN = client id), is known and not revoked, the device is
    /// registered, and its last will (if any) stays under its own topics.
    async fn authenticate_device(&self, connect: &ConnectInfo) -> Result<(), String> {
        let cert = connect.cert().ok_or("no client certificate")?;
        let common_name = cert
            .common_name
            .as_deref()
            .ok_or("the certificate has no common name")?;
        let client_id: &str = connect.client_id();
        if client_id != common_name {
            return Err(format!(
                "client id {client_id} is not the certificate's CN {common_name}"
            ));
        }
        let serial = cert
            .serial
            .as_deref()
            .ok_or("the certificate has no serial")?;
        let status =
            tokio::time::timeout(self.lookup_timeout, self.store.certificate_status(serial))
                .await
                .map_err(|_| "the certificate lookup timed out (server busy)".to_string())?
                .map_err(|error| format!("store: {error}"))?
                .ok_or("unknown certificate")?;
        if status.device_id != common_name || status.revoked || !status.device_exists {
            return Err("revoked certificate or unregistered device".to_string());
        }
        if let Some(will) = connect.last_will() {
            let (topic, retain): (&str, bool) = match will {
                LastWill::V3(will) => (&will.topic, will.retain),
                LastWill::V5(will) => (&will.topic, will.retain),
            };
            if !device_may_publish(common_name, topic, retain) {
                return Err(format!("last will on foreign topic {topic}"));
            }
        }
        Ok(())
    }
}

/// Compares secrets without an early exit that would leak how much of them matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Each device's message rate: a token bucket per client id, refilled at `per_second` up to
/// `burst`. Checked at every publish, so one flooding device cannot slow the others down.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Whether `client_id` may publish one more message at `now`.
    pub fn allow(&self, client_id: &str, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        // Every publish passes here: allocate the key only for a client's first message.
        if !buckets.contains_key(client_id) {
            buckets.insert(client_id.to_string(), (self.burst, now));
        }
        let Some((tokens, at)) = buckets.get_mut(client_id) else {
            return true;
        };
        let elapsed = now.saturating_duration_since(*at).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets a client that left.
    pub fn forget(&self, client_id: &str) {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(client_id);
    }
}

/// The topic prefix a device owns.
fn own_prefix(device_id: &str) -> String {
    format!("devices/{device_id}/")
}

/// A device may publish its telemetry, status, program progress and command replies under its own
/// prefix — nothing else, so it cannot fill the broker with topics of its own — and may retain only
/// its status.
pub fn device_may_publish(device_id: &str, topic: &str, retain: bool) -> bool {
    let prefix = own_prefix(device_id);
    let Some(rest) = topic.strip_prefix(&prefix) else {
        return false;
    };

    match rest {
        "telemetry" | "program" => !retain,
        "status" => true,
        _ => rest.strip_prefix("reply/").is_some_and(|request| {
            !retain && !request.is_empty() && !request.contains(['/', '+', '#'])
        }),
    }
}

/// Whether a message is a command (`devices/{id}/cmd`) past its deadline at `now_ms`, or one that is
/// not a command at all: neither may reach a device.
pub fn command_expired(topic: &str, payload: &[u8], now_ms: u64) -> bool {
    let is_command = topic
        .strip_prefix("devices/")
        .and_then(|rest| rest.strip_suffix("/cmd"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'));
    is_command
        && proto::v1::Command::decode(payload).map_or(true, |command| command.is_expired(now_ms))
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

/// A device may subscribe to filters under its own prefix (wildcards only after it); no shared groups.
pub fn device_may_subscribe(device_id: &str, filter: &str, shared_group: bool) -> bool {
    !shared_group && !filter.starts_with('$') && filter.starts_with(&own_prefix(device_id))
}

struct Hooks {
    policy: Policy,
    metrics: Arc<Metrics>,
    rate: RateLimiter,
    ingest: IngestInlet,
}

impl Hooks {
    /// Hands a device's telemetry or status to the ingest pipeline and waits until it is stored:
    /// only then does the device get its acknowledgement. One not stored within [`STORE_WITHIN`] is
    /// refused with a disconnect and no acknowledgement, so the device sends it again later — under
    /// overload the broker pushes back instead of dropping what it acknowledged.
    async fn store(&self, device_id: &str, publish: &Publish) -> PublishAclResult {
        let (stored_tx, stored) = tokio::sync::oneshot::channel();
        let handed = async {
            self.ingest
                .submit(pipeline_message(publish), Ack::Broker(stored_tx))
                .await
                && stored.await.is_ok()
        };
        if tokio::time::timeout(STORE_WITHIN, handed)
            .await
            .unwrap_or(false)
        {
            return PublishAclResult::allow();
        }
        self.metrics.broker_store_refused.inc();
        self.policy.errors.record(
            "device.not_stored_in_time",
            format!("device:{device_id}"),
            format!(
                "a message on {} was not stored within {} s (server busy or database unavailable): \
                 the device was disconnected without an acknowledgement and sends it again",
                publish.topic,
                STORE_WITHIN.as_secs()
            ),
        );
        tracing::warn!(device_id, topic = %publish.topic, "device message not stored in time; disconnecting the device without acknowledging it");
        PublishAclResult::rejected(true, Some("server busy".into()))
    }
}

/// Whether a topic carries device data the ingest pipeline stores (telemetry, status).
fn is_device_data(topic: &str) -> bool {
    matches!(
        decode::parse_topic(topic),
        Some((_, TopicKind::Telemetry | TopicKind::Status))
    )
}

/// The pipeline's form of a message a device is publishing now (the payload is shared, not copied).
/// Its retain flag stays off whatever the device asked: to the pipeline "retained" means replayed by
/// the broker, not news from the device.
fn pipeline_message(publish: &Publish) -> rumqttc::Publish {
    rumqttc::Publish::from_bytes(
        publish.topic.to_string(),
        rumqttc::QoS::AtLeastOnce,
        publish.payload.clone(),
    )
}

/// Installs the hooks on a broker context.
pub async fn register(
    context: &ServerContext,
    policy: Policy,
    metrics: Arc<Metrics>,
    rate: RateLimiter,
    ingest: IngestInlet,
) {
    let hooks = Arc::new(Hooks {
        policy,
        metrics,
        rate,
        ingest,
    });
    let register = context.extends.hook_mgr().register();
    for kind in [
        Type::ClientAuthenticate,
        Type::ClientConnected,
        Type::ClientDisconnected,
        Type::ClientSubscribeCheckAcl,
        Type::MessagePublishCheckAcl,
        Type::MessagePublish,
        Type::MessageDelivered,
        Type::MessageDropped,
        Type::MessageExpiryCheck,
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
                Some(HookResult::AuthResult(
                    hooks.policy.authenticate(connect).await,
                )),
            ),
            // The bridge is a superuser and skips these checks; devices (client id = CN) reach here.
            Parameter::ClientSubscribeCheckAcl(session, subscribe) => {
                let allowed = device_may_subscribe(
                    &session.id.client_id,
                    &subscribe.topic_filter,
                    subscribe.opts.shared_group().is_some(),
                );
                let result = if allowed {
                    SubscribeAclResult::new_success(subscribe.opts.qos(), None)
                } else {
                    tracing::info!(client_id = %session.id.client_id, filter = %subscribe.topic_filter, "MQTT subscribe refused");
                    hooks.policy.errors.record(
                        "device.acl_denied",
                        format!("device:{}", session.id.client_id),
                        format!(
                            "device {} may not subscribe to {}",
                            session.id.client_id, subscribe.topic_filter
                        ),
                    );
                    SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
                };
                (false, Some(HookResult::SubscribeAclResult(result)))
            }
            Parameter::MessagePublishCheckAcl(session, _)
                if !hooks.rate.allow(&session.id.client_id, Instant::now()) =>
            {
                hooks.metrics.broker_rate_limited.inc();
                hooks.policy.errors.record(
                    "device.rate_limited",
                    format!("device:{}", session.id.client_id),
                    format!(
                        "device {} publishes faster than its allowed rate; messages refused",
                        session.id.client_id
                    ),
                );
                // MQTT 3.1.1 has no refusing PUBACK: an acknowledgement there would tell the device
                // the message arrived. Such a device is disconnected instead and keeps the message.
                let is_v5 = session
                    .connect_info()
                    .await
                    .is_ok_and(|info| info.proto_ver() >= 5);
                let refused = PublishResult::reason_code(
                    PublishAckReason::QuotaExceeded,
                    Some("rate limited".into()),
                    !is_v5,
                );
                (
                    false,
                    Some(HookResult::PublishAclResult(PublishAclResult(refused))),
                )
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let device_id: &str = &session.id.client_id;
                let result = if device_may_publish(device_id, &publish.topic, publish.retain) {
                    if is_device_data(&publish.topic) {
                        hooks.store(device_id, publish).await
                    } else {
                        PublishAclResult::allow()
                    }
                } else {
                    tracing::info!(client_id = %session.id.client_id, topic = %publish.topic, "MQTT publish refused");
                    hooks.policy.errors.record(
                        "device.acl_denied",
                        format!("device:{}", session.id.client_id),
                        format!(
                            "device {} may not publish to {}{}",
                            session.id.client_id,
                            publish.topic,
                            if publish.retain { " (retained)" } else { "" }
                        ),
                    );
                    PublishAclResult::rejected(false, Some("not authorized".into()))
                };
                (false, Some(HookResult::PublishAclResult(result)))
            }
            Parameter::ClientDisconnected(session, _) => {
                hooks.rate.forget(&session.id.client_id);
                (true, acc)
            }
            Parameter::ClientConnected(session) if session.id.lid() == LISTENER_TLS => {
                hooks.metrics.broker_device_connects.inc();
                (true, acc)
            }
            Parameter::MessagePublish(_, from, publish) => {
                hooks.metrics.broker_received.inc();
                // A device's last will skips the publish checks: stored here, nobody to acknowledge.
                // (Its topic was checked at connect.)
                if matches!(from.typ(), FromType::LastWill)
                    && from.id.lid() == LISTENER_TLS
                    && is_device_data(&publish.topic)
                {
                    let handed = hooks.ingest.submit(pipeline_message(publish), Ack::Nobody);
                    if !tokio::time::timeout(STORE_WITHIN, handed)
                        .await
                        .unwrap_or(false)
                    {
                        tracing::warn!(topic = %publish.topic, "a device's last will could not be handed to ingest");
                    }
                }
                (true, acc)
            }
            Parameter::MessageDelivered(..) => {
                hooks.metrics.broker_delivered.inc();
                (true, acc)
            }
            // A publish refused on arrival (not allowed, rate limited, not stored in time) was never
            // acknowledged: its sender was told and keeps it. Counted where it is refused instead.
            Parameter::MessageDropped(_, _, _, rmqtt::types::Reason::PublishResult(_)) => {
                (true, acc)
            }
            Parameter::MessageDropped(..) => {
                hooks.metrics.broker_dropped.inc();
                (true, acc)
            }
            // Checked before each delivery, also of what was kept for an offline session.
            Parameter::MessageExpiryCheck(_, _, publish)
                if command_expired(&publish.topic, &publish.payload, now_ms()) =>
            {
                tracing::info!(topic = %publish.topic, "command past its deadline discarded");
                (false, Some(HookResult::MessageExpiry))
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
    use super::{
        RateLimiter, command_expired, constant_time_eq, device_may_publish, device_may_subscribe,
    };
    use proto::{Message as _, v1::Command};

    #[test]
    fn commands_past_their_deadline_are_not_delivered() {
        let command = |deadline_ms| {
            Command {
                request_id: "r".into(),
                deadline_ms,
                ..Command::default()
            }
            .encode_to_vec()
        };
        assert!(!command_expired("devices/d1/cmd", &command(2_000), 1_000));
        assert!(command_expired("devices/d1/cmd", &command(2_000), 2_001));
        assert!(
            command_expired("devices/d1/cmd", b"\xff not protobuf", 0),
            "not a command"
        );
        assert!(
            !command_expired("devices/d1/telemetry", &command(1), 2),
            "only commands"
        );
        assert!(!command_expired("devices/d1/reply/cmd", &command(1), 2));
    }

    #[test]
    fn devices_touch_only_their_own_topics() {
        let id = "d1";
        assert!(device_may_publish(id, "devices/d1/telemetry", false));
        assert!(device_may_publish(id, "devices/d1/status", true));
        assert!(device_may_publish(id, "devices/d1/reply/42", false));
        assert!(device_may_publish(id, "devices/d1/program", false));
        assert!(
            !device_may_publish(id, "devices/d1/telemetry", true),
            "only the status is retained"
        );
        assert!(
            !device_may_publish(id, "devices/d1/anything-else", false),
            "no topics of its own"
        );
        assert!(!device_may_publish(id, "devices/d1/reply/a/b", false));
        assert!(!device_may_publish(id, "devices/d2/telemetry", false));
        assert!(!device_may_publish(id, "devices/d1", false));
        assert!(!device_may_publish(id, "devices/d10/telemetry", false));
        assert!(
            !device_may_publish(id, "devices/d1/cmd", false),
            "not even its own commands"
        );
        assert!(
            !device_may_publish(id, "devices/d1/cmd", true),
            "no retained commands"
        );
        assert!(!device_may_publish(id, "other", false));
        assert!(device_may_subscribe(id, "devices/d1/cmd", false));
        assert!(device_may_subscribe(id, "devices/d1/#", false));
        assert!(!device_may_subscribe(id, "devices/+/cmd", false));
        assert!(!device_may_subscribe(id, "#", false));
        assert!(
            !device_may_subscribe(id, "devices/d1/cmd", true),
            "no shared subscriptions"
        );
        assert!(!device_may_subscribe(id, "$SYS/#", false));
    }

    #[test]
    fn each_device_gets_its_rate_and_burst() {
        let rate = RateLimiter::new(10, 5);
        let start = std::time::Instant::now();
        let allowed = (0..20).filter(|_| rate.allow("d1", start)).count();
        assert_eq!(allowed, 5, "the burst, then nothing");
        assert!(rate.allow("d2", start), "another device has its own");
        let later = start + std::time::Duration::from_millis(300);
        let allowed = (0..20).filter(|_| rate.allow("d1", later)).count();
        assert_eq!(allowed, 3, "10 a second refill");
        rate.forget("d1");
        assert!(rate.allow("d1", later), "a device that left starts afresh");
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
