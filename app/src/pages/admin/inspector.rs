//! `/admin/inspector?device=`: one device's MQTT traffic live, both directions, decoded from protobuf,
//! with each message's size.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{AdminHeader, BUTTON, INPUT, gate};
use crate::{
    model::admin::{Direction, FleetFilter, InspectedMessage},
    server_fns::{current_user, load_admin_fleet},
};

/// Messages kept on the page, newest first.
const KEPT: usize = 200;

/// Picks a device and shows its traffic.
#[component]
pub fn AdminInspectorPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let query = use_query_map();
    let device_id = move || {
        query
            .read()
            .get("device")
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
    };
    let device = Resource::new(device_id, |id| async move {
        let Some(id) = id else { return Ok(None) };
        let filter = FleetFilter {
            query: Some(id.clone()),
            ..FleetFilter::default()
        };
        let page = load_admin_fleet(filter, None).await?;
        Ok::<_, ServerFnError>(page.items.into_iter().find(|row| row.device.id == id))
    });
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                if let Some(other) = gate(user.await) {
                    return other;
                }
                let typed = device_id().unwrap_or_default();
                let watched = match device.await {
                    Ok(Some(row)) => view! {
                        <p class="text-sm">"Watching " <span class="font-medium">{row.device.name.clone()}</span>
                            " (" <span class="font-mono">{row.device.id.clone()}</span> ") of " {row.owner_email.clone()}</p>
                        <Traffic device_id=row.device.id />
                    }.into_any(),
                    Ok(None) if typed.is_empty() => view! { <p>"Enter a device id, or pick one on the Devices page."</p> }.into_any(),
                    Ok(None) => view! { <p role="alert">"There is no such device."</p> }.into_any(),
                    Err(error) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                };
                view! {
                    <div class="space-y-6">
                        <AdminHeader title="Message inspector" />
                        <form method="get" action="/admin/inspector" class="flex flex-wrap items-end gap-2">
                            <label class="text-sm">"Device id"<br /><input name="device" value=typed class=INPUT size="40" /></label>
                            <button type="submit" class=BUTTON>"Watch"</button>
                        </form>
                        {watched}
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}

/// The live list: connects in the browser once hydrated.
#[component]
fn Traffic(device_id: String) -> impl IntoView {
    let messages = RwSignal::new(Vec::<InspectedMessage>::new());
    let state = RwSignal::new("connecting");
    Effect::new(move |_| connect(&device_id, messages, state));
    view! {
        <p class="text-sm" role="status" data-inspector-state=move || state.get()>
            {move || match state.get() {
                "live" => "Live: new messages appear at the top.",
                "reconnecting" => "Connection lost; reconnecting…",
                _ => "Connecting…",
            }}
        </p>
        <ol class="space-y-2" aria-label="Messages, newest first">
            {move || messages.get().into_iter().map(|message| view! {
                <li class="rounded-md border border-stone-200 p-3 text-sm dark:border-stone-800" data-direction=match message.direction { Direction::FromDevice => "from_device", Direction::ToDevice => "to_device" }>
                    <div class="flex flex-wrap gap-x-3">
                        <span>{message.at.format("%H:%M:%S%.3f").to_string()}</span>
                        <span class="font-semibold">{match message.direction { Direction::FromDevice => "device → server", Direction::ToDevice => "server → device" }}</span>
                        <span class="font-mono">{message.topic.clone()}</span>
                        <span>{format!("{} bytes", message.size)}</span>
                        {message.retained.then_some("retained")}
                    </div>
                    {match message.decoded.clone() {
                        Ok(text) => view! { <pre class="mt-2 whitespace-pre-wrap break-all font-mono text-xs">{text}</pre> }.into_any(),
                        Err(reason) => view! { <p class="mt-2 text-red-700 dark:text-red-400">{reason}</p> }.into_any(),
                    }}
                </li>
            }).collect_view()}
        </ol>
    }
}

fn connect(
    device_id: &str,
    messages: RwSignal<Vec<InspectedMessage>>,
    state: RwSignal<&'static str>,
) {
    use wasm_bindgen::{JsCast, closure::Closure};
    let url = format!("/api/v1/admin/devices/{device_id}/inspect");
    let Ok(source) = web_sys::EventSource::new(&url) else {
        state.set("reconnecting");
        return;
    };
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let Some(data) = event.data().as_string() else {
                return;
            };
            if let Ok(message) = serde_json::from_str::<InspectedMessage>(&data) {
                messages.update(|list| {
                    list.insert(0, message);
                    list.truncate(KEPT);
                });
            }
        });
    let _ = source.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    let on_open = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_| state.set("live"));
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    let on_error =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_| state.set("reconnecting"));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let kept = StoredValue::new_local(Some((source, [on_message, on_open, on_error])));
    on_cleanup(move || {
        kept.update_value(|kept| {
            if let Some((source, _closures)) = kept.take() {
                source.close();
            }
        });
    });
}
