//! The staff-only admin site under `/admin`: overview (broker and bridge live, recent errors), users,
//! fleet, audit log, errors and the message inspector. Anyone else gets the login page or a 403.

pub mod audit;
pub mod errors;
pub mod fleet;
pub mod inspector;
pub mod users;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::{
    model::{
        account::{Role, User},
        admin::{BrokerSample, BrokerStatus},
    },
    server_fns::{current_user, load_admin_broker, load_admin_errors},
};

pub(crate) const TABLE: &str = "min-w-full divide-y divide-stone-200 text-sm dark:divide-stone-800";
pub(crate) const TH: &str = "px-3 py-2 text-left font-semibold text-stone-600 dark:text-stone-300";
pub(crate) const TD: &str = "px-3 py-2 align-top";
pub(crate) const INPUT: &str = "rounded-md border border-stone-300 bg-white px-3 py-1.5 text-stone-900 \
    focus:outline-none focus:ring-2 focus:ring-amber-500 dark:border-stone-700 dark:bg-stone-800 dark:text-stone-100";
pub(crate) const BUTTON: &str = "rounded-md bg-amber-500 px-3 py-1.5 text-sm font-medium text-stone-950 \
    hover:bg-amber-400 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-700";
pub(crate) const DANGER: &str = "rounded-md bg-red-600 px-3 py-1.5 text-sm font-medium text-white \
    hover:bg-red-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-700";
pub(crate) const LINK: &str =
    "font-medium text-amber-700 underline-offset-2 hover:underline dark:text-amber-400";

/// What a staff page shows instead of itself: the login page for visitors, 403 for brewers.
pub(crate) fn gate(user: Result<Option<User>, ServerFnError>) -> Option<AnyView> {
    match user {
        Ok(Some(user)) if user.role == Role::Staff && !user.disabled => None,
        Ok(Some(_)) => Some(view! { <Forbidden /> }.into_any()),
        _ => Some(view! { <Redirect path="/login" /> }.into_any()),
    }
}

/// Says the page is for staff (and answers 403 when rendered on the server).
#[component]
fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <Title text="Staff only" />
        <div class="mx-auto max-w-lg py-16 text-center">
            <h1 class="text-3xl font-bold">"Staff only"</h1>
            <p class="mt-3 text-stone-600 dark:text-stone-400">"This part of BrewLink is for the people who run it."</p>
            <a href="/" class=format!("mt-6 inline-block {BUTTON}")>"Back to the start"</a>
        </div>
    }
}

/// The admin site's heading and navigation.
#[component]
pub(crate) fn AdminHeader(title: &'static str) -> impl IntoView {
    let links = [
        ("/admin", "Overview"),
        ("/admin/users", "Users"),
        ("/admin/devices", "Devices"),
        ("/admin/audit", "Audit log"),
        ("/admin/errors", "Errors"),
        ("/admin/inspector", "Inspector"),
    ];
    view! {
        <Title text=format!("Admin · {title}") />
        <div class="space-y-3">
            <nav aria-label="Admin" class="flex flex-wrap gap-x-4 gap-y-1 text-sm">
                {links.into_iter().map(|(href, label)| view! { <a href=href class=LINK>{label}</a> }).collect_view()}
            </nav>
            <h1 class="text-3xl font-bold tracking-tight">{title}</h1>
        </div>
    }
}

/// `/admin`: broker and bridge live, and the latest errors.
#[component]
pub fn AdminHome() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let errors = Resource::new(|| (), |_| load_admin_errors());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                if let Some(other) = gate(user.await) {
                    return other;
                }
                let errors = errors.await.unwrap_or_default();
                view! {
                    <div class="space-y-6">
                        <AdminHeader title="Overview" />
                        <BrokerPanel />
                        <section aria-labelledby="recent-errors" class="space-y-2">
                            <h2 id="recent-errors" class="text-lg font-semibold">"Recent errors"</h2>
                            {if errors.is_empty() {
                                view! { <p class="text-stone-600 dark:text-stone-400">"No errors recorded."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="space-y-1 text-sm">
                                        {errors.into_iter().take(5).map(|group| view! {
                                            <li><span class="font-mono">{group.kind}</span> " × " {group.count} " — " {group.example}</li>
                                        }).collect_view()}
                                    </ul>
                                    <a href="/admin/errors" class=LINK>"All errors"</a>
                                }.into_any()
                            }}
                        </section>
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}

/// Broker and bridge figures, refreshed every two seconds, with small charts of the last minutes.
#[component]
fn BrokerPanel() -> impl IntoView {
    let status = Resource::new(|| (), |_| load_admin_broker());
    Effect::new(move |_| {
        if let Ok(handle) =
            set_interval_with_handle(move || status.refetch(), std::time::Duration::from_secs(2))
        {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <section aria-labelledby="broker-heading" class="rounded-xl border border-stone-200 bg-white p-6 shadow-sm dark:border-stone-800 dark:bg-stone-900">
            <h2 id="broker-heading" class="text-lg font-semibold">"Broker and bridge"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) => view! { <BrokerFigures status /> }.into_any(),
                        Err(error) => view! { <p role="alert">{format!("Figures unavailable: {error}")}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn BrokerFigures(status: BrokerStatus) -> impl IntoView {
    let now = status.now.clone();
    let series =
        |pick: fn(&BrokerSample) -> f64| -> Vec<f64> { status.history.iter().map(pick).collect() };
    let figures: Vec<(&str, String, Vec<f64>)> = vec![
        (
            "Messages in /s",
            format!("{:.1}", now.received_per_s),
            series(|s| s.received_per_s),
        ),
        (
            "Messages out /s",
            format!("{:.1}", now.delivered_per_s),
            series(|s| s.delivered_per_s),
        ),
        (
            "Dropped /s",
            format!("{:.1}", now.dropped_per_s),
            series(|s| s.dropped_per_s),
        ),
        (
            "Samples stored /s",
            format!("{:.1}", now.stored_per_s),
            series(|s| s.stored_per_s),
        ),
        (
            "Ingest queue",
            now.queue_depth.to_string(),
            series(|s| s.queue_depth as f64),
        ),
        (
            "Batch latency ms",
            format!("{:.1}", now.batch_latency_ms),
            series(|s| s.batch_latency_ms),
        ),
    ];
    let clients = now.clients.map_or("—".to_string(), |n| n.to_string());
    let subscriptions = now.subscriptions.map_or("—".to_string(), |n| n.to_string());
    view! {
        <dl class="mt-4 grid grid-cols-2 gap-x-6 gap-y-2 text-sm sm:grid-cols-4">
            <div><dt class="text-stone-500">"Broker"</dt><dd data-figure="broker">{status.broker.clone()}</dd></div>
            <div><dt class="text-stone-500">"Bridge"</dt><dd data-figure="bridge">{status.bridge_state.clone()}</dd></div>
            <div><dt class="text-stone-500">"Connected clients"</dt><dd data-figure="clients">{clients}</dd></div>
            <div><dt class="text-stone-500">"Subscriptions"</dt><dd data-figure="subscriptions">{subscriptions}</dd></div>
            <div><dt class="text-stone-500">"Bridge reconnects"</dt><dd>{status.bridge_connects}</dd></div>
            <div><dt class="text-stone-500">"Ingest"</dt><dd data-figure="ingest">{if status.ingest_failing_since.is_some() { "failing" } else { "writing" }}</dd></div>
            <div><dt class="text-stone-500">"Ingest write failures"</dt><dd data-figure="ingest-failures">{status.ingest_failures}</dd></div>
            <div><dt class="text-stone-500">"Received (total)"</dt><dd data-figure="received">{status.received_total}</dd></div>
            <div><dt class="text-stone-500">"Dropped (total)"</dt><dd>{status.dropped_total}</dd></div>
            <div><dt class="text-stone-500">"Samples stored (total)"</dt><dd data-figure="stored">{status.stored_total}</dd></div>
        </dl>
        {status.bridge_error.clone().map(|error| view! { <p role="alert" class="mt-2 text-sm text-red-700">{format!("Bridge: {error}")}</p> })}
        {status.ingest_failing_since.map(|since| view! {
            <p role="alert" data-alert="ingest" class="mt-2 text-sm text-red-700">
                {format!(
                    "Ingest cannot write to the database since {} and retries; device messages wait at the broker. {}",
                    since.format("%Y-%m-%d %H:%M:%S UTC"),
                    status.ingest_error.clone().unwrap_or_default(),
                )}
            </p>
        })}
        <div class="mt-4 grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
            {figures.into_iter().map(|(label, value, values)| view! {
                <figure class="rounded-md border border-stone-200 p-3 dark:border-stone-800">
                    <figcaption class="flex justify-between text-sm"><span>{label}</span><span class="font-semibold">{value}</span></figcaption>
                    <Sparkline values label />
                </figure>
            }).collect_view()}
        </div>
    }
}

/// A small line chart of the last minutes (one point per second), scaled to its own maximum.
#[component]
fn Sparkline(values: Vec<f64>, label: &'static str) -> impl IntoView {
    const WIDTH: f64 = 300.0;
    const HEIGHT: f64 = 40.0;
    let points = sparkline_points(&values, WIDTH, HEIGHT);
    view! {
        <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") class="mt-2 h-10 w-full text-amber-600" role="img" aria-label=format!("{label}, last {} s", values.len())>
            <polyline points=points fill="none" stroke="currentColor" stroke-width="1.5" />
        </svg>
    }
}

/// SVG polyline points for `values` spread over `width`, 0 at the bottom, the maximum at the top.
pub(crate) fn sparkline_points(values: &[f64], width: f64, height: f64) -> String {
    let max = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let step = if values.len() > 1 {
        width / (values.len() - 1) as f64
    } else {
        0.0
    };
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let value = if value.is_finite() {
                value.max(0.0)
            } else {
                0.0
            };
            let y = if max > 0.0 {
                height - value / max * height
            } else {
                height
            };
            format!("{:.1},{:.1}", index as f64 * step, y)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::sparkline_points;

    #[test]
    fn sparklines_scale_to_their_maximum() {
        assert_eq!(
            sparkline_points(&[0.0, 5.0, 10.0], 100.0, 10.0),
            "0.0,10.0 50.0,5.0 100.0,0.0"
        );
        assert_eq!(
            sparkline_points(&[0.0, 0.0], 100.0, 10.0),
            "0.0,10.0 100.0,10.0",
            "all zero: flat at the bottom"
        );
        assert_eq!(
            sparkline_points(&[f64::NAN, 2.0], 10.0, 10.0),
            "0.0,10.0 10.0,0.0",
            "no NaN in the SVG"
        );
        assert_eq!(sparkline_points(&[], 10.0, 10.0), "");
    }
}
