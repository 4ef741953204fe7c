//! The brewer's devices and the form to register one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::{
    components::form::{Card, Field, FormMessage, SubmitButton},
    model::{device::Device, flash::Flash},
    server_fns::{current_user, my_devices, take_flash},
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
    view! {
        <ul class="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
            {devices
                .into_iter()
                .map(|device| {
                    let expires = device
                        .certificate
                        .as_ref()
                        .map(|certificate| format!("Certificate valid until {}", certificate.expires_at.format("%Y-%m-%d")))
                        .unwrap_or_else(|| "No valid certificate".to_string());
                    view! {
                        <li>
                            <a href=format!("/devices/{}", device.id) class="block rounded-xl border border-stone-200 bg-white p-4 shadow-sm hover:border-amber-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500 dark:border-stone-800 dark:bg-stone-900">
                                <span class="block font-semibold">{device.name}</span>
                                <span class="block text-sm text-stone-600 dark:text-stone-400">{device.model}</span>
                                <span class="mt-2 block text-xs text-stone-500">{expires}</span>
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
