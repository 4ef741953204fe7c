//! A device's live stream in the browser: the Server-Sent Events of `/api/v1/devices/{id}/live`,
//! kept in signals. The browser's EventSource reconnects by itself; the feed says when it is cut off
//! and counts reconnections, so pages can catch up on what they missed.

use leptos::prelude::*;

use crate::{
    components::chart::keep_last,
    model::telemetry::{CommandRecord, DeviceStatus, LiveEvent, TelemetryPoint},
};

/// Live samples kept in memory (an hour at one per second).
pub const MAX_LIVE_POINTS: usize = 3600;

/// Whether the stream is flowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    /// Cut off; the browser is retrying.
    Reconnecting,
}

/// What the live stream delivered so far.
#[derive(Clone, Copy)]
pub struct LiveFeed {
    pub connection: RwSignal<Connection>,
    pub status: RwSignal<Option<DeviceStatus>>,
    pub points: RwSignal<Vec<TelemetryPoint>>,
    pub commands: RwSignal<Vec<CommandRecord>>,
    pub program: RwSignal<Option<serde_json::Value>>,
    /// Increases each time the stream comes back after a cut.
    pub reconnects: RwSignal<u32>,
}

/// Opens the device's live stream (in the browser only) for as long as the calling component lives.
pub fn use_live_feed(device_id: String) -> LiveFeed {
    let feed = LiveFeed {
        connection: RwSignal::new(Connection::Connecting),
        status: RwSignal::new(None),
        points: RwSignal::new(Vec::new()),
        commands: RwSignal::new(Vec::new()),
        program: RwSignal::new(None),
        reconnects: RwSignal::new(0),
    };
    Effect::new(move |_| connect(&device_id, feed));
    feed
}

fn apply(feed: LiveFeed, data: &str) {
    let Ok(event) = serde_json::from_str::<LiveEvent>(data) else {
        return;
    };
    match event {
        LiveEvent::Telemetry { point, .. } => feed.points.update(|points| {
            points.push(point);
            keep_last(points, MAX_LIVE_POINTS);
        }),
        LiveEvent::Status { status, .. } => feed.status.set(Some(status)),
        LiveEvent::Command { command, .. } => feed.commands.update(|commands| {
            commands.retain(|known| known.id != command.id);
            commands.insert(0, command);
            keep_last(commands, 200);
        }),
        LiveEvent::Program { event, .. } => feed.program.set(Some(event)),
    }
}

fn connect(device_id: &str, feed: LiveFeed) {
    use wasm_bindgen::{JsCast, closure::Closure};
    let Ok(source) = web_sys::EventSource::new(&format!("/api/v1/devices/{device_id}/live")) else {
        feed.connection.set(Connection::Reconnecting);
        return;
    };
    let mut closures: Vec<Closure<dyn Fn(web_sys::MessageEvent)>> = Vec::new();
    for name in ["status", "telemetry", "command", "program"] {
        let closure =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                if let Some(data) = event.data().as_string() {
                    apply(feed, &data);
                }
            });
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        closures.push(closure);
    }
    let on_open = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_| {
        if feed.connection.get_untracked() == Connection::Reconnecting {
            feed.reconnects.update(|count| *count += 1);
        }
        feed.connection.set(Connection::Live);
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    let on_error = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_| {
        feed.connection.set(Connection::Reconnecting)
    });
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    closures.push(on_open);
    closures.push(on_error);
    let kept = StoredValue::new_local(Some((source, closures)));
    on_cleanup(move || {
        kept.update_value(|kept| {
            if let Some((source, _closures)) = kept.take() {
                source.close();
            }
        });
    });
}

/// "12 s ago", "5 min ago", "3 h ago", "2 d ago".
pub fn ago(then: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

/// A signal with the current time, ticking every second in the browser.
pub fn use_clock() -> ReadSignal<chrono::DateTime<chrono::Utc>> {
    let (now, set_now) = signal(chrono::Utc::now());
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || set_now.set(chrono::Utc::now()),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    now
}

#[cfg(test)]
mod tests {
    use super::ago;
    use chrono::{Duration, Utc};

    #[test]
    fn ages_read_naturally() {
        let now = Utc::now();
        assert_eq!(ago(now - Duration::seconds(3), now), "3 s ago");
        assert_eq!(ago(now - Duration::seconds(125), now), "2 min ago");
        assert_eq!(ago(now - Duration::hours(5), now), "5 h ago");
        assert_eq!(ago(now - Duration::days(2), now), "2 d ago");
        assert_eq!(
            ago(now + Duration::seconds(2), now),
            "0 s ago",
            "a clock slightly ahead"
        );
    }
}
