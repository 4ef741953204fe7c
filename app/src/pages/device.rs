//! One device: how to connect it, its certificate, renaming and unregistering.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_params_map};

use crate::{
    components::{
        controls::{ClockControl, GpioControl, NetworkControl, ResetControl, UartConsole},
        form::{Card, Field, FormMessage, SubmitButton},
        live::{LiveFeed, ago, use_clock, use_live_feed},
        telemetry_charts::TelemetryCharts,
    },
    model::{
        device::{DeviceDetail, Topics},
        flash::Flash,
        telemetry::CommandRecord,
    },
    server_fns::{current_user, load_commands, load_device, load_device_errors, take_flash},
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
fn Device(detail: DeviceDetail, flash: Option<Flash>) -> AnyView {
    let device = detail.device.clone();
    let id = device.id.clone();
    let feed = use_live_feed(id.clone());
    let now = use_clock();
    let history = Resource::new(|| (), {
        let id = id.clone();
        move |_| load_commands(id.clone())
    });
    let pins = Memo::new(move |_| {
        feed.status.with(|status| {
            status
                .as_ref()
                .map_or(0, |status| status.capabilities.gpio_pins.min(64))
        })
    });
    view! {
        <Title text=device.name.clone() />
        <div class="space-y-6">
            <div>
                <a href="/devices" class="text-sm text-amber-700 underline dark:text-amber-400">"← All devices"</a>
                <div class="mt-2 flex flex-wrap items-center gap-3">
                    <h1 class="text-3xl font-bold tracking-tight">{device.name.clone()}</h1>
                    {move || view! { <OnlineBadge online=feed.status.with(|status| status.as_ref().is_some_and(|status| status.online)) /> }}
                </div>
                <p class="text-stone-600 dark:text-stone-400">
                    {device.model.clone()}
                    {move || feed.status.get().map(|status| {
                        let seen = status.last_seen.map(|seen| format!(" · last seen {}", ago(seen, now.get()))).unwrap_or_else(|| " · never connected".to_string());
                        let firmware = if status.firmware.is_empty() { String::new() } else { format!(" · firmware {}", status.firmware) };
                        format!("{seen}{firmware}")
                    })}
                </p>
                <FormMessage notice=Flash::notice(&flash, "device") />
            </div>
            <TelemetryCharts device_id=id.clone() feed now />
            <div class="grid gap-6 lg:grid-cols-2">
                {move || (pins.get() > 0).then(|| view! { <GpioControl device_id=id.clone() pins=pins.get() /> })}
                <UartConsole device_id=detail.device.id.clone() />
                <ClockControl device_id=detail.device.id.clone() now />
                <NetworkControl device_id=detail.device.id.clone() />
                <ResetControl device_id=detail.device.id.clone() />
                <CommandHistory feed history />
                <EventLog device_id=detail.device.id.clone() feed />
            </div>
            <ConnectCard detail=detail.clone() />
            <div class="grid gap-6 lg:grid-cols-2">
                <CertificateCard detail=detail.clone() flash=flash.clone() />
                <RenameCard detail flash />
            </div>
        </div>
    }
    .into_any()
}

/// "Online" or "Offline".
#[component]
pub fn OnlineBadge(online: bool) -> impl IntoView {
    let (text, class) = if online {
        (
            "Online",
            "bg-emerald-100 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100",
        )
    } else {
        (
            "Offline",
            "bg-stone-200 text-stone-700 dark:bg-stone-700 dark:text-stone-200",
        )
    };
    view! { <span class=format!("rounded-full px-2.5 py-0.5 text-xs font-semibold {class}")>{text}</span> }
}

/// What happened on the device: status changes and program progress as they stream in, and the
/// payloads the server refused (with the reason).
#[component]
fn EventLog(device_id: String, feed: LiveFeed) -> impl IntoView {
    let refused = Resource::new(|| (), move |_| load_device_errors(device_id.clone()));
    let entries = RwSignal::new(Vec::<(chrono::DateTime<chrono::Utc>, String)>::new());
    let note = move |text: String| {
        entries.update(|entries| {
            entries.insert(0, (chrono::Utc::now(), text));
            entries.truncate(50);
        })
    };
    Effect::new(move |previous: Option<Option<bool>>| {
        let online = feed
            .status
            .with(|status| status.as_ref().map(|status| status.online));
        if let (Some(Some(before)), Some(now)) = (previous, online)
            && before != now
        {
            note(if now {
                "Came online".to_string()
            } else {
                "Went offline".to_string()
            });
        }
        online
    });
    Effect::new(move |_| {
        if let Some(event) = feed.program.get() {
            let kind = event["kind"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("KIND_")
                .replace('_', " ")
                .to_lowercase();
            let step = event["step_index"].as_u64().unwrap_or_default() + 1;
            let message = event["message"]
                .as_str()
                .filter(|text| !text.is_empty())
                .map(|text| format!(": {text}"))
                .unwrap_or_default();
            note(format!("Program step {step}: {kind}{message}"));
        }
    });
    let time = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    view! {
        <Card id="events" title="Event log">
            <ul class="space-y-1 text-sm">
                {move || entries.get().into_iter().map(|(at, text)| view! {
                    <li><span class="text-xs text-stone-500">{time(at)}</span>" "{text}</li>
                }).collect_view()}
            </ul>
            <Suspense>
                {move || Suspend::new(async move {
                    let refused = refused.await.unwrap_or_default();
                    if refused.is_empty() {
                        return view! { <p class="text-sm text-stone-500">"No refused messages."</p> }.into_any();
                    }
                    view! {
                        <ul class="space-y-1 text-sm">
                            {refused.into_iter().map(|error| view! {
                                <li>
                                    <span class="text-xs text-stone-500">{time(error.at)}</span>" "
                                    <span class="font-medium text-amber-700 dark:text-amber-400">{format!("Refused ({})", error.kind.replace('_', " "))}</span>
                                    {format!(": {} — {} bytes on {}", error.reason, error.size, error.topic)}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                })}
            </Suspense>
        </Card>
    }
}

/// The commands sent to the device, newest first: from the history, then live.
#[component]
fn CommandHistory(
    feed: LiveFeed,
    history: Resource<Result<Vec<CommandRecord>, ServerFnError>>,
) -> impl IntoView {
    let commands = move || {
        let mut all = feed.commands.get();
        let earlier = history.get().and_then(Result::ok).unwrap_or_default();
        all.extend(earlier.into_iter().filter(|old| {
            !feed
                .commands
                .with(|live| live.iter().any(|new| new.id == old.id))
        }));
        all.truncate(20);
        all
    };
    view! {
        <Card id="commands" title="Command history">
            <Suspense>
                {move || {
                    let commands = commands();
                    if commands.is_empty() {
                        return view! { <p class="text-sm text-stone-500">"No commands yet."</p> }.into_any();
                    }
                    view! {
                        <ul class="divide-y divide-stone-200 text-sm dark:divide-stone-800">
                            {commands.into_iter().map(|command| {
                                let latency = command.latency_ms.map(|ms| format!(" · {ms} ms")).unwrap_or_default();
                                view! {
                                    <li class="flex flex-wrap justify-between gap-2 py-1.5">
                                        <span class="font-mono">{command.kind.clone()}</span>
                                        <span class=match command.outcome.as_str() { "ok" => "text-emerald-700 dark:text-emerald-400", _ => "text-amber-700 dark:text-amber-400" }>
                                            {format!("{}{latency}", command.outcome)}
                                        </span>
                                        <span class="w-full text-xs text-stone-500">{command.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </Suspense>
        </Card>
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
