//! The brewer's devices and the form to register one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::{
    components::{
        form::{Card, Field, FormMessage, SubmitButton},
        live::{ago, use_clock},
    },
    model::{device::Device, flash::Flash, telemetry::DeviceStatus},
    pages::device::OnlineBadge,
    server_fns::{current_user, device_statuses, my_devices, take_flash},
};

/// Lists the caller's devices; visitors who are not signed in go to the login page.
#[component]
pub fn DevicesPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let devices = Resource::new(|| (), |_| my_devices());
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Devices" />
        <Suspense>
            {move || Suspend::new(async move {
                if !matches!(user.await, Ok(Some(_))) {
                    return view! { <Redirect path="/login" /> }.into_any();
                }
                let devices = devices.await.unwrap_or_default();
                let flash = flash.await.ok().flatten();
                view! {
                    <div class="space-y-6">
                        <h1 class="text-3xl font-bold tracking-tight">"Devices"</h1>
                        <FormMessage notice=Flash::notice(&flash, "devices") />
                        <DeviceList devices />
                        <RegisterCard flash />
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}

#[component]
fn DeviceList(devices: Vec<Device>) -> impl IntoView {
    if devices.is_empty() {
        return view! {
            <p class="text-stone-600 dark:text-stone-400">"No devices yet. Register your brewing controller below."</p>
        }
        .into_any();
    }
    let now = use_clock();
    let statuses = Resource::new(|| (), |_| device_statuses());
    // Statuses are refreshed every few seconds; "last seen" ticks every second.
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || statuses.refetch(),
            std::time::Duration::from_secs(5),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let status_of = move |id: &str| -> Option<DeviceStatus> {
        statuses
            .get()
            .and_then(Result::ok)
            .and_then(|all| all.into_iter().find(|status| status.device_id == id))
    };
    view! {
        <ul class="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
            {devices
                .into_iter()
                .map(|device| {
                    let id = StoredValue::new(device.id.clone());
                    let status = move || id.with_value(|id| status_of(id));
                    view! {
                        <li>
                            <a href=format!("/devices/{}", device.id) class="block h-full rounded-xl border border-stone-200 bg-white p-4 shadow-sm hover:border-amber-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500 dark:border-stone-800 dark:bg-stone-900">
                                <span class="flex items-start justify-between gap-2">
                                    <span>
                                        <span class="block font-semibold">{device.name}</span>
                                        <span class="block text-sm text-stone-600 dark:text-stone-400">{device.model}</span>
                                    </span>
                                    <Transition>
                                        {move || view! { <OnlineBadge online=status().is_some_and(|status| status.online) /> }}
                                    </Transition>
                                </span>
                                <Transition>
                                    {move || status().map(|status| {
                                        let seen = status.last_seen.map(|seen| format!("Last seen {}", ago(seen, now.get()))).unwrap_or_else(|| "Never connected".to_string());
                                        let latest = status.latest.map(|point| {
                                            let mut parts = Vec::new();
                                            if let Some(t) = point.mash_temp_c { parts.push(format!("{t:.1} °C")); }
                                            if let Some(t) = point.setpoint_c { parts.push(format!("→ {t:.1} °C")); }
                                            if let Some(h) = point.heater_pct { parts.push(format!("heater {h:.0} %")); }
                                            if let Some(g) = point.gravity_sg { parts.push(format!("SG {g:.3}")); }
                                            parts.join(" · ")
                                        });
                                        view! {
                                            <span class="mt-3 block text-sm font-medium">{latest}</span>
                                            <span class="mt-1 block text-xs text-stone-500">{seen}</span>
                                        }
                                    })}
                                </Transition>
                            </a>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn RegisterCard(flash: Option<Flash>) -> impl IntoView {
    view! {
        <Card id="register" title="Register a device">
            <form method="post" action="/devices" class="grid gap-4 sm:grid-cols-[1fr_1fr_auto] sm:items-start">
                <FormMessage error=Flash::error(&flash, "register", "") />
                <Field form="register" name="name" label="Name" value=Flash::value(&flash, "register", "name")
                    hint="E.g. \u{201c}Garage kettle\u{201d}." error=Flash::error(&flash, "register", "name") />
                <Field form="register" name="model" label="Model" value=Flash::value(&flash, "register", "model")
                    hint="The controller's make and model." error=Flash::error(&flash, "register", "model") />
                <div class="sm:pt-6"><SubmitButton label="Register" /></div>
            </form>
        </Card>
    }
}
