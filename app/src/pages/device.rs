//! One device: how to connect it, its certificate, renaming and unregistering.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_params_map};

use crate::{
    components::form::{Card, Field, FormMessage, SubmitButton},
    model::{
        device::{DeviceDetail, Topics},
        flash::Flash,
    },
    server_fns::{current_user, load_device, take_flash},
};

/// A device's page; another user's device, or none, is "not found".
#[component]
pub fn DevicePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let user = Resource::new(|| (), |_| current_user());
    let detail = Resource::new(id, load_device);
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                if !matches!(user.await, Ok(Some(_))) {
                    return view! { <Redirect path="/login" /> }.into_any();
                }
                let flash = flash.await.ok().flatten();
                match detail.await {
                    Ok(Some(detail)) => view! { <Device detail flash /> }.into_any(),
                    _ => view! { <crate::pages::not_found::NotFound /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Device(detail: DeviceDetail, flash: Option<Flash>) -> impl IntoView {
    let device = detail.device.clone();
    view! {
        <Title text=device.name.clone() />
        <div class="space-y-6">
            <div>
                <a href="/devices" class="text-sm text-amber-700 underline dark:text-amber-400">"← All devices"</a>
                <h1 class="mt-2 text-3xl font-bold tracking-tight">{device.name.clone()}</h1>
                <p class="text-stone-600 dark:text-stone-400">{device.model.clone()}</p>
                <FormMessage notice=Flash::notice(&flash, "device") />
            </div>
            <ConnectCard detail=detail.clone() />
            <div class="grid gap-6 lg:grid-cols-2">
                <CertificateCard detail=detail.clone() flash=flash.clone() />
                <RenameCard detail flash />
            </div>
        </div>
    }
}

#[component]
fn ConnectCard(detail: DeviceDetail) -> impl IntoView {
    let settings = detail.settings;
    let id = settings.client_id.clone();
    let Topics {
        telemetry,
        status,
        command,
        reply_prefix,
        program,
    } = settings.topics.clone();
    let example = format!(
        "mosquitto_pub -h {host} -p {port} --cafile ca.pem --cert device.pem --key device.key \\\n  -i {id} -t {telemetry} -q 1 -m hello",
        host = settings.broker_host,
        port = settings.tls_port,
    );
    let rows = [
        (
            "Broker",
            format!(
                "{}:{} (MQTT over TLS)",
                settings.broker_host, settings.tls_port
            ),
        ),
        ("Client id", id.clone()),
        ("Telemetry", telemetry),
        ("Status", status),
        ("Commands", command),
        ("Replies", format!("{reply_prefix}…")),
        ("Program", program),
    ];
    view! {
        <Card id="connect" title="Connect the device">
            <p class="text-sm text-stone-600 dark:text-stone-400">
                "The bundle holds everything the device needs: "
                <code>"ca.pem"</code>" (the platform CA it trusts), "<code>"device.pem"</code>" (its certificate), "
                <code>"device.key"</code>" (its private key — keep it secret) and "<code>"settings.json"</code>"."
            </p>
            <a
                id="download-bundle"
                href=format!("/api/v1/devices/{id}/bundle")
                download
                class="inline-block rounded-md bg-amber-500 px-4 py-2 font-medium text-stone-950 hover:bg-amber-400 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-700"
            >
                "Download bundle (zip)"
            </a>
            <dl class="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
                {rows
                    .into_iter()
                    .map(|(label, value)| view! {
                        <dt class="font-medium">{label}</dt>
                        <dd class="break-all font-mono text-stone-700 dark:text-stone-300">{value}</dd>
                    })
                    .collect_view()}
            </dl>
            <div>
                <p class="text-sm font-medium">"Try it from a computer with the unpacked bundle:"</p>
                <pre class="mt-1 overflow-x-auto rounded-md bg-stone-900 p-3 text-xs text-stone-100">{example}</pre>
            </div>
        </Card>
    }
}

#[component]
fn CertificateCard(detail: DeviceDetail, flash: Option<Flash>) -> impl IntoView {
    let id = detail.device.id.clone();
    let certificate = detail.device.certificate.clone();
    view! {
        <Card id="certificate" title="Certificate">
            <FormMessage error=Flash::error(&flash, "certificate", "") notice=Flash::notice(&flash, "certificate") />
            {match certificate {
                Some(certificate) => view! {
                    <dl class="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
                        <dt class="font-medium">"Serial"</dt>
                        <dd class="break-all font-mono">{certificate.serial}</dd>
                        <dt class="font-medium">"Issued"</dt>
                        <dd>{certificate.issued_at.format("%Y-%m-%d %H:%M UTC").to_string()}</dd>
                        <dt class="font-medium">"Expires"</dt>
                        <dd>{certificate.expires_at.format("%Y-%m-%d").to_string()}</dd>
                    </dl>
                }
                .into_any(),
                None => view! { <p class="text-sm">"No valid certificate: rotate to issue one."</p> }.into_any(),
            }}
            <form method="post" action=format!("/devices/{id}/rotate")>
                <p class="mb-2 text-sm text-stone-600 dark:text-stone-400">
                    "Rotating issues a new key and certificate; the old one stops working at once."
                </p>
                <SubmitButton label="Rotate certificate" />
            </form>
            <form method="post" action=format!("/devices/{id}/unregister") class="border-t border-stone-200 pt-4 dark:border-stone-800">
                <label class="flex items-center gap-2 text-sm">
                    <input type="checkbox" name="confirm" required class="h-4 w-4 accent-red-600" />
                    "I understand the device will be disconnected and its certificate revoked."
                </label>
                <div class="mt-3"><SubmitButton label="Unregister device" danger=true /></div>
            </form>
        </Card>
    }
}

#[component]
fn RenameCard(detail: DeviceDetail, flash: Option<Flash>) -> impl IntoView {
    let device = detail.device;
    let typed = |field| {
        Flash::error(&flash, "rename", field).map(|_| Flash::value(&flash, "rename", field))
    };
    let name = typed("name").unwrap_or(device.name.clone());
    let model = typed("model").unwrap_or(device.model.clone());
    view! {
        <Card id="rename" title="Name and model">
            <form method="post" action=format!("/devices/{}/rename", device.id) class="space-y-4">
                <FormMessage error=Flash::error(&flash, "rename", "") notice=Flash::notice(&flash, "rename") />
                <Field form="rename" name="name" label="Name" value=name error=Flash::error(&flash, "rename", "name") />
                <Field form="rename" name="model" label="Model" value=model error=Flash::error(&flash, "rename", "model") />
                <SubmitButton label="Save" />
            </form>
        </Card>
    }
}
