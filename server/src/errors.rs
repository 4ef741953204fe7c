//! Error tracking for the admin site: server errors and device-side problems (undecodable payloads,
//! ACL denials, refused connections, command timeouts) are counted in memory by kind and added to
//! their groups in the store once a second, so a device flooding bad payloads costs one write per
//! second, not one per message. Examples never hold secrets: callers describe what happened (device,
//! topic, route, reason), never payloads or credentials.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::store::{Store, errors::ErrorOccurrences};

/// How often counted errors are written to the store.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Longest example kept, in characters.
const EXAMPLE_MAX_CHARS: usize = 500;

/// Counts errors by kind until the next flush. Cheap to clone; every clone counts into the same place.
#[derive(Debug, Clone, Default)]
pub struct ErrorTracker {
    pending: Arc<Mutex<HashMap<String, ErrorOccurrences>>>,
}

impl ErrorTracker {
    /// Counts one error of a kind (a fixed name from the code, such as `device.acl_denied`), with what
    /// it was about and a description of it.
    pub fn record(&self, kind: &str, subject: impl Into<String>, example: impl Into<String>) {
        let now = Utc::now();
        let example: String = example.into().chars().take(EXAMPLE_MAX_CHARS).collect();
        let subject = subject.into();
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending
            .entry(kind.to_string())
            .and_modify(|group| {
                group.count += 1;
                group.last_seen = now;
                group.subject.clone_from(&subject);
                group.example.clone_from(&example);
            })
            .or_insert_with(|| ErrorOccurrences {
                kind: kind.to_string(),
                count: 1,
                first_seen: now,
                last_seen: now,
                subject,
                example,
            });
    }

    /// Writes what was counted since the last flush; on failure the counts are kept for the next one.
    pub async fn flush(&self, store: &Store) {
        let groups: Vec<ErrorOccurrences> = {
            let mut pending = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pending.drain().map(|(_, group)| group).collect()
        };
        if groups.is_empty() {
            return;
        }
        if let Err(error) = store.error_groups_add(&groups).await {
            tracing::warn!(%error, "could not write error counts; keeping them for the next try");
            let mut pending = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for group in groups {
                pending
                    .entry(group.kind.clone())
                    .and_modify(|newer| {
                        newer.count += group.count;
                        newer.first_seen = group.first_seen;
                    })
                    .or_insert(group);
            }
        }
    }

    /// Flushes every second until shutdown, then once more.
    pub async fn run_flusher(self, store: Store, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(FLUSH_EVERY) => self.flush(&store).await,
            }
        }
        self.flush(&store).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_group_by_kind_and_keep_the_latest_example() {
        let tracker = ErrorTracker::default();
        tracker.record("device.acl_denied", "device:a", "first");
        tracker.record("device.acl_denied", "device:b", "second");
        tracker.record("server.http_5xx", "GET /x", "boom");
        let pending = tracker.pending.lock().unwrap();
        let acl = &pending["device.acl_denied"];
        assert_eq!((acl.count, acl.subject.as_str()), (2, "device:b"));
        assert_eq!(acl.example, "second");
        assert!(acl.first_seen <= acl.last_seen);
        assert_eq!(pending["server.http_5xx"].count, 1);
    }

    #[test]
    fn examples_are_bounded() {
        let tracker = ErrorTracker::default();
        tracker.record("device.undecodable", "device:a", "x".repeat(10_000));
        let pending = tracker.pending.lock().unwrap();
        assert_eq!(
            pending["device.undecodable"].example.chars().count(),
            EXAMPLE_MAX_CHARS
        );
    }
}
