//! A device's charts: temperatures with their setpoint, heater and pump, gravity — live from the
//! stream, or over a chosen range from the downsampled history.

use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;

use crate::{
    components::{
        chart::{Line, LineChart},
        live::{Connection, LiveFeed},
    },
    model::telemetry::{Series, TelemetryPoint},
    server_fns::load_telemetry,
};

/// Which span the charts show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// The last ten minutes, moving, with points as they arrive.
    Live,
    Hour,
    Day,
    Week,
    Custom,
}

const LIVE_SPAN_MIN: i64 = 10;

impl Range {
    fn label(self) -> &'static str {
        match self {
            Self::Live => "Live",
            Self::Hour => "1 h",
            Self::Day => "24 h",
            Self::Week => "7 d",
            Self::Custom => "Custom",
        }
    }

    fn span(self) -> Duration {
        match self {
            Self::Live | Self::Custom => Duration::minutes(LIVE_SPAN_MIN),
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::days(1),
            Self::Week => Duration::days(7),
        }
    }
}

/// One moment's readings, from a history bucket (averages) or a live sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub t: i64,
    pub mash: Option<f64>,
    pub boil: Option<f64>,
    pub fermenter: Option<f64>,
    pub setpoint: Option<f64>,
    pub heater: Option<f64>,
    pub pump: Option<f64>,
    pub gravity: Option<f64>,
}

impl From<&TelemetryPoint> for Reading {
    fn from(point: &TelemetryPoint) -> Self {
        Self {
            t: point.time.timestamp_millis(),
            mash: point.mash_temp_c,
            boil: point.boil_temp_c,
            fermenter: point.fermenter_temp_c,
            setpoint: point.setpoint_c,
            heater: point.heater_pct,
            pump: point.pump_on.map(|on| if on { 100.0 } else { 0.0 }),
            gravity: point.gravity_sg,
        }
    }
}

/// History buckets (averages), then the live samples newer than the last bucket.
pub fn readings(series: Option<&Series>, live: &[TelemetryPoint]) -> Vec<Reading> {
    let mut readings: Vec<Reading> = series
        .map(|series| {
            series
                .buckets
                .iter()
                .map(|bucket| {
                    let avg = |name: &str| bucket.readings.get(name).map(|stats| stats.avg);
                    Reading {
                        t: bucket.start.timestamp_millis(),
                        mash: avg("mash_temp_c"),
                        boil: avg("boil_temp_c"),
                        fermenter: avg("fermenter_temp_c"),
                        setpoint: avg("setpoint_c"),
                        heater: avg("heater_pct"),
                        pump: avg("pump_on").map(|share| share * 100.0),
                        gravity: avg("gravity_sg"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let last = readings.last().map_or(i64::MIN, |reading| reading.t);
    readings.extend(
        live.iter()
            .map(Reading::from)
            .filter(|reading| reading.t > last),
    );
    readings
}

fn line(
    name: &'static str,
    color: &'static str,
    readings: &[Reading],
    value: fn(&Reading) -> Option<f64>,
) -> Option<Line> {
    let points: Vec<(i64, f64)> = readings
        .iter()
        .filter_map(|reading| value(reading).map(|v| (reading.t, v)))
        .collect();
    (!points.is_empty()).then_some(Line {
        name,
        color,
        points,
    })
}

/// The three charts over the loaded history (and, when live, the samples streamed since).
#[component]
fn Charts(
    series: Option<Series>,
    live: bool,
    feed: LiveFeed,
    window: Signal<Option<(i64, i64)>>,
) -> impl IntoView {
    let readings = Memo::new(move |_| {
        if live {
            feed.points.with(|points| readings(series.as_ref(), points))
        } else {
            readings(series.as_ref(), &[])
        }
    });
    let temperatures = Signal::derive(move || {
        readings.with(|r| {
            [
                line("Mash", "#d97706", r, |r| r.mash),
                line("Boil", "#dc2626", r, |r| r.boil),
                line("Fermenter", "#2563eb", r, |r| r.fermenter),
                line("Setpoint", "#78716c", r, |r| r.setpoint),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
        })
    });
    let power = Signal::derive(move || {
        readings.with(|r| {
            [
                line("Heater", "#ea580c", r, |r| r.heater),
                line("Pump", "#0891b2", r, |r| r.pump),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
        })
    });
    let gravity = Signal::derive(move || {
        readings.with(|r| {
            line("Gravity", "#7c3aed", r, |r| r.gravity)
                .into_iter()
                .collect::<Vec<_>>()
        })
    });
    view! {
        <div class="grid gap-4 xl:grid-cols-2">
            <LineChart title="Temperatures" unit="°C" lines=temperatures window />
            <LineChart title="Heater and pump" unit="%" lines=power window />
            <LineChart title="Gravity" unit="SG" lines=gravity window />
        </div>
    }
}

/// The three charts with their range picker.
#[component]
pub fn TelemetryCharts(
    device_id: String,
    feed: LiveFeed,
    now: ReadSignal<DateTime<Utc>>,
) -> AnyView {
    let (range, set_range) = signal(Range::Live);
    let (chosen_at, set_chosen_at) = signal(Utc::now());
    let (custom_from, set_custom_from) = signal(String::new());
    let (custom_to, set_custom_to) = signal(String::new());
    let custom_window = move || {
        let local = |text: String| {
            chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M")
                .ok()
                .and_then(|naive| naive.and_local_timezone(chrono::Local).single())
                .map(|time| time.with_timezone(&Utc))
        };
        local(custom_from.get())
            .zip(local(custom_to.get()))
            .filter(|(from, to)| from < to)
    };
    // The span loaded from the history (fixed when the range is chosen; "live" moves on its own).
    let span = move || match range.get() {
        Range::Custom => {
            custom_window().unwrap_or((chosen_at.get() - Range::Custom.span(), chosen_at.get()))
        }
        other => (chosen_at.get() - other.span(), chosen_at.get()),
    };
    let history = Resource::new(move || (span(), feed.reconnects.get()), {
        let device_id = device_id.clone();
        move |((from, to), _): ((DateTime<Utc>, DateTime<Utc>), u32)| {
            load_telemetry(device_id.clone(), from.to_rfc3339(), to.to_rfc3339(), None)
        }
    });
    let window = Signal::derive(move || match range.get() {
        Range::Live => Some((
            (now.get() - Range::Live.span()).timestamp_millis(),
            now.get().timestamp_millis(),
        )),
        _ => {
            let (from, to) = span();
            Some((from.timestamp_millis(), to.timestamp_millis()))
        }
    });
    let choose = move |choice: Range| {
        set_chosen_at.set(Utc::now());
        set_range.set(choice);
    };
    view! {
        <section aria-labelledby="charts-heading" class="space-y-3">
            <div class="flex flex-wrap items-center justify-between gap-2">
                <h2 id="charts-heading" class="text-lg font-semibold">"Telemetry"</h2>
                <div role="group" aria-label="Time range" class="flex flex-wrap gap-1">
                    {[Range::Live, Range::Hour, Range::Day, Range::Week, Range::Custom].into_iter().map(|choice| view! {
                        <button type="button"
                            class=move || format!("rounded-md px-3 py-1 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500 {}",
                                if range.get() == choice { "bg-amber-500 text-stone-950" } else { "border border-stone-300 hover:bg-stone-100 dark:border-stone-700 dark:hover:bg-stone-800" })
                            aria-pressed=move || (range.get() == choice).to_string()
                            on:click=move |_| choose(choice)>
                            {choice.label()}
                        </button>
                    }).collect_view()}
                </div>
            </div>
            <Show when=move || range.get() == Range::Custom>
                <div class="flex flex-wrap items-end gap-3 text-sm">
                    <label class="block">"From"
                        <input type="datetime-local" class="mt-1 block rounded-md border border-stone-300 px-2 py-1 dark:border-stone-700 dark:bg-stone-800"
                            on:change=move |event| set_custom_from.set(event_target_value(&event)) />
                    </label>
                    <label class="block">"To"
                        <input type="datetime-local" class="mt-1 block rounded-md border border-stone-300 px-2 py-1 dark:border-stone-700 dark:bg-stone-800"
                            on:change=move |event| set_custom_to.set(event_target_value(&event)) />
                    </label>
                </div>
            </Show>
            <p role="status" class="text-sm">
                {move || match (range.get(), feed.connection.get()) {
                    (Range::Live, Connection::Live) => view! { <span class="text-emerald-700 dark:text-emerald-400">"● Live"</span> }.into_any(),
                    (Range::Live, Connection::Connecting) => view! { <span class="text-stone-500">"Connecting…"</span> }.into_any(),
                    (Range::Live, Connection::Reconnecting) => view! {
                        <span class="text-amber-700 dark:text-amber-400">"Connection lost — reconnecting; the chart catches up when it is back."</span>
                    }.into_any(),
                    _ => view! { <span class="text-stone-500">"History, averaged per interval."</span> }.into_any(),
                }}
            </p>
            // The history is awaited here, so the server renders what the browser hydrates.
            <Transition fallback=|| view! { <p class="text-sm text-stone-500">"Loading history…"</p> }>
                {move || Suspend::new(async move {
                    let series = history.await.ok();
                    let live = range.get_untracked() == Range::Live;
                    view! { <Charts series live feed window /> }
                })}
            </Transition>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::telemetry::{Bucket, Stats};

    #[test]
    fn live_samples_continue_the_history() {
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
        let bucket = Bucket {
            start: at(1000),
            samples: 3,
            readings: BTreeMap::from([(
                "mash_temp_c".to_string(),
                Stats {
                    avg: 60.0,
                    min: 59.0,
                    max: 61.0,
                },
            )]),
        };
        let series = Series {
            from: at(0),
            to: at(2000),
            bucket_s: 1,
            buckets: vec![bucket],
        };
        let live = [
            TelemetryPoint {
                time: at(500),
                mash_temp_c: Some(1.0),
                ..Default::default()
            },
            TelemetryPoint {
                time: at(3000),
                mash_temp_c: Some(62.0),
                pump_on: Some(true),
                ..Default::default()
            },
        ];
        let all = readings(Some(&series), &live);
        assert_eq!(
            all.iter().map(|r| (r.t, r.mash)).collect::<Vec<_>>(),
            vec![(1000, Some(60.0)), (3000, Some(62.0))]
        );
        assert_eq!(all[1].pump, Some(100.0));
    }
}
