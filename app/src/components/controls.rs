//! Remote controls of a device: GPIO pins, clock, network info, UART console, reset. Each shows
//! whether its command is pending, answered (with the round-trip time), timed out, or refused, and
//! whether the device is offline.

use leptos::prelude::*;

use crate::{
    components::form::Card,
    model::control::{ControlAnswer, ControlRequest},
    server_fns::control_device,
};

const BUTTON: &str = "rounded-md border border-stone-300 px-3 py-1.5 text-sm font-medium hover:bg-stone-100 \
    focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500 disabled:opacity-50 \
    dark:border-stone-700 dark:hover:bg-stone-800";

/// An action that sends a command to the device and keeps the answer.
fn command_action(device_id: String) -> Action<ControlRequest, Result<ControlAnswer, String>> {
    Action::new(move |request: &ControlRequest| {
        let (id, request) = (device_id.clone(), request.clone());
        async move {
            control_device(id, request)
                .await
                .map_err(|error| error.to_string())
        }
    })
}

/// What became of the last command of a control.
#[component]
fn Outcome(action: Action<ControlRequest, Result<ControlAnswer, String>>) -> impl IntoView {
    move || {
        if action.pending().get() {
            return view! { <p role="status" class="text-sm text-stone-500">"Sending…"</p> }
                .into_any();
        }
        let (text, class) = match action.value().get() {
            None => return ().into_any(),
            Some(Err(error)) => (
                format!("Could not send: {error}"),
                "text-red-700 dark:text-red-400",
            ),
            Some(Ok(answer)) => match answer.outcome.as_str() {
                "ok" => (
                    format!("Done in {} ms.", answer.latency_ms),
                    "text-emerald-700 dark:text-emerald-400",
                ),
                "offline" => (
                    "The device is offline.".to_string(),
                    "text-amber-700 dark:text-amber-400",
                ),
                "timeout" => (
                    format!("No answer after {} ms.", answer.latency_ms),
                    "text-amber-700 dark:text-amber-400",
                ),
                _ => (
                    answer.message.unwrap_or_else(|| "Failed.".to_string()),
                    "text-red-700 dark:text-red-400",
                ),
            },
        };
        view! { <p role="status" class=format!("text-sm {class}")>{text}</p> }.into_any()
    }
}

fn answered(
    action: &Action<ControlRequest, Result<ControlAnswer, String>>,
) -> Option<serde_json::Value> {
    action
        .value()
        .get()
        .and_then(Result::ok)
        .filter(|answer| answer.outcome == "ok")
        .and_then(|answer| answer.result)
}

/// GPIO pins: their known state; a click toggles a pin (as an output).
#[component]
pub fn GpioControl(device_id: String, pins: u32) -> impl IntoView {
    let action = command_action(device_id);
    let states = RwSignal::new(vec![None::<bool>; pins as usize]);
    Effect::new(move |_| {
        if let Some(result) = answered(&action)
            && let (Some(pin), Some(value)) = (result["pin"].as_u64(), result["value"].as_bool())
        {
            states.update(|states| {
                if let Some(state) = states.get_mut(pin as usize) {
                    *state = Some(value);
                }
            });
        }
    });
    view! {
        <Card id="gpio" title="GPIO pins">
            <p class="text-sm text-stone-600 dark:text-stone-400">"Click a pin to switch it (as an output); its state is what the device answered."</p>
            <div class="grid grid-cols-4 gap-2 sm:grid-cols-8">
                {(0..pins).map(|pin| {
                    let state = move || states.with(|states| states.get(pin as usize).copied().flatten());
                    view! {
                        <button
                            type="button"
                            class=move || format!("{BUTTON} {}", match state() {
                                Some(true) => "bg-amber-400 text-stone-950 hover:bg-amber-300 dark:bg-amber-500",
                                _ => "",
                            })
                            aria-pressed=move || state().map(|on| on.to_string()).unwrap_or_else(|| "mixed".to_string())
                            aria-label=move || format!("Pin {pin}: {}", match state() { Some(true) => "on", Some(false) => "off", None => "unknown" })
                            disabled=move || action.pending().get()
                            on:click=move |_| {
                                let value = !state().unwrap_or(false);
                                action.dispatch(ControlRequest::GpioSet { pin, value, mode: Some("output".to_string()) });
                            }
                        >
                            {format!("{pin}")}
                            <span class="ml-1 text-xs">{move || match state() { Some(true) => "on", Some(false) => "off", None => "?" }}</span>
                        </button>
                    }
                }).collect_view()}
            </div>
            <Outcome action />
        </Card>
    }
}

/// The device clock beside the browser's: read it, or set it to the browser's time.
#[component]
pub fn ClockControl(
    device_id: String,
    now: ReadSignal<chrono::DateTime<chrono::Utc>>,
) -> impl IntoView {
    let action = command_action(device_id);
    // The device's clock as an offset from ours, so it keeps ticking between reads.
    let offset = RwSignal::new(None::<chrono::Duration>);
    Effect::new(move |_| {
        if let Some(time) = answered(&action).and_then(|result| result["time_ms"].as_i64())
            && let Some(device) = chrono::DateTime::from_timestamp_millis(time)
        {
            offset.set(Some(device - chrono::Utc::now()));
        }
    });
    let format =
        |time: chrono::DateTime<chrono::Utc>| time.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    view! {
        <Card id="clock" title="Clock">
            <dl class="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
                <dt class="font-medium">"Device"</dt>
                <dd id="device-time" class="font-mono">{move || offset.get().map(|offset| format(now.get() + offset)).unwrap_or_else(|| "not read yet".to_string())}</dd>
                <dt class="font-medium">"This browser"</dt>
                <dd class="font-mono">{move || format(now.get())}</dd>
                <dt class="font-medium">"Difference"</dt>
                <dd>{move || offset.get().map(|offset| format!("{:.1} s", offset.num_milliseconds() as f64 / 1000.0)).unwrap_or_default()}</dd>
            </dl>
            <div class="flex flex-wrap gap-2">
                <button type="button" class=BUTTON disabled=move || action.pending().get()
                    on:click=move |_| { action.dispatch(ControlRequest::RtcGet); }>"Read device clock"</button>
                <button type="button" class=BUTTON disabled=move || action.pending().get()
                    on:click=move |_| { action.dispatch(ControlRequest::RtcSet { time: chrono::Utc::now() }); }>"Sync to this browser"</button>
            </div>
            <Outcome action />
        </Card>
    }
}

/// The device's network settings, read on demand.
#[component]
pub fn NetworkControl(device_id: String) -> impl IntoView {
    let action = command_action(device_id);
    view! {
        <Card id="network" title="Network">
            {move || answered(&action).map(|network| {
                let rows = ["mac", "ip", "subnet", "gateway"]
                    .map(|key| (key.to_uppercase(), network[key].as_str().unwrap_or_default().to_string()));
                view! {
                    <dl class="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
                        {rows.into_iter().map(|(label, value)| view! {
                            <dt class="font-medium">{label}</dt>
                            <dd class="font-mono">{value}</dd>
                        }).collect_view()}
                    </dl>
                }
            })}
            <button type="button" class=BUTTON disabled=move || action.pending().get()
                on:click=move |_| { action.dispatch(ControlRequest::NetworkGet); }>"Read network info"</button>
            <Outcome action />
        </Card>
    }
}

/// A UART console: send text or hex; the log shows what was sent and what came back.
#[component]
pub fn UartConsole(device_id: String) -> impl IntoView {
    let action = command_action(device_id);
    let (text, set_text) = signal(String::new());
    let (hex, set_hex) = signal(false);
    let log = RwSignal::new(Vec::<(bool, String)>::new());
    Effect::new(move |_| {
        if let Some(echo) = answered(&action) {
            let shown = echo["text"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("hex {}", echo["hex"].as_str().unwrap_or_default()));
            log.update(|log| log.push((false, shown)));
        }
    });
    let send = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let data = text.get_untracked();
        if data.is_empty() {
            return;
        }
        log.update(|log| {
            log.push((
                true,
                if hex.get_untracked() {
                    format!("hex {data}")
                } else {
                    data.clone()
                },
            ))
        });
        action.dispatch(ControlRequest::UartWrite {
            data,
            hex: hex.get_untracked(),
        });
        set_text.set(String::new());
    };
    view! {
        <Card id="uart" title="UART console">
            <ol id="uart-log" aria-live="polite" class="max-h-48 min-h-16 overflow-y-auto rounded-md bg-stone-900 p-3 font-mono text-xs text-stone-100">
                {move || log.get().into_iter().map(|(sent, line)| view! {
                    <li class=if sent { "text-amber-300" } else { "text-emerald-300" }>{if sent { "→ " } else { "← " }}{line}</li>
                }).collect_view()}
            </ol>
            <form class="flex flex-wrap items-center gap-2" on:submit=send>
                <label for="uart-input" class="sr-only">"Text to send"</label>
                <input id="uart-input" class="min-w-0 flex-1 rounded-md border border-stone-300 px-3 py-1.5 font-mono text-sm dark:border-stone-700 dark:bg-stone-800"
                    placeholder=move || if hex.get() { "48 65 6c 6c 6f" } else { "hello" }
                    prop:value=text on:input=move |event| set_text.set(event_target_value(&event)) />
                <label class="flex items-center gap-1 text-sm">
                    <input type="checkbox" prop:checked=hex on:change=move |event| set_hex.set(event_target_checked(&event)) />
                    "hex"
                </label>
                <button type="submit" class=BUTTON disabled=move || action.pending().get()>"Send"</button>
            </form>
            <Outcome action />
        </Card>
    }
}

/// Reset, after a confirmation.
#[component]
pub fn ResetControl(device_id: String) -> impl IntoView {
    let action = command_action(device_id);
    let (confirming, set_confirming) = signal(false);
    view! {
        <Card id="reset" title="Reset">
            <p class="text-sm text-stone-600 dark:text-stone-400">"The device reboots and reconnects; a running program stops."</p>
            {move || if confirming.get() {
                view! {
                    <div class="flex flex-wrap gap-2">
                        <button type="button" class="rounded-md bg-red-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-red-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-700"
                            on:click=move |_| { set_confirming.set(false); action.dispatch(ControlRequest::Reset); }>"Yes, reset now"</button>
                        <button type="button" class=BUTTON on:click=move |_| set_confirming.set(false)>"Cancel"</button>
                    </div>
                }.into_any()
            } else {
                view! {
                    <button type="button" class=BUTTON disabled=move || action.pending().get()
                        on:click=move |_| set_confirming.set(true)>"Reset device…"</button>
                }.into_any()
            }}
            <Outcome action />
        </Card>
    }
}
