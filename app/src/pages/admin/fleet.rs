//! `/admin/devices`: the whole fleet with owners and liveness; revoke a certificate, force a
//! disconnect, open the inspector.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{AdminHeader, BUTTON, DANGER, INPUT, LINK, TABLE, TD, TH, gate, users::query_string};
use crate::{
    components::{
        form::FormMessage,
        live::{ago, use_clock},
    },
    model::{
        admin::{FleetDevice, FleetFilter},
        flash::Flash,
    },
    server_fns::{current_user, load_admin_fleet, take_flash},
};

/// `/admin/devices?query=&online=&cursor=`.
#[component]
pub fn AdminDevicesPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let flash = Resource::new(|| (), |_| take_flash());
    let query = use_query_map();
    let page = Resource::new(
        move || {
            let query = query.read();
            let filter = FleetFilter {
                query: query.get("query").filter(|text| !text.is_empty()),
                online: match query.get("online").as_deref() {
                    Some("online") => Some(true),
                    Some("offline") => Some(false),
                    _ => None,
                },
                owner_id: query.get("owner_id").filter(|text| !text.is_empty()),
            };
            (filter, query.get("cursor"))
        },
        |(filter, cursor)| load_admin_fleet(filter, cursor),
    );
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                if let Some(other) = gate(user.await) {
                    return other;
                }
                let flash = flash.await.ok().flatten();
                let (text, online) = query.with_untracked(|params| {
                    (params.get("query").unwrap_or_default(), params.get("online").unwrap_or_default())
                });
                let list = match page.await {
                    Ok(page) => {
                        let next = page.next_cursor.map(|cursor| {
                            let href = format!("/admin/devices{}", query_string(&[("query", &text), ("online", &online), ("cursor", &cursor)]));
                            view! { <a class=LINK href=href>"Next page"</a> }
                        });
                        view! { <FleetTable devices=page.items /> {next} }.into_any()
                    }
                    Err(error) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                };
                let selected = move |value: &str| online == value;
                view! {
                    <div class="space-y-6">
                        <AdminHeader title="Devices" />
                        <FormMessage error=Flash::error(&flash, "admin", "") notice=Flash::notice(&flash, "admin") />
                        <form method="get" action="/admin/devices" role="search" class="flex flex-wrap items-end gap-2">
                            <label class="text-sm">"Device, model or owner"<br />
                                <input name="query" type="search" value=text.clone() class=INPUT />
                            </label>
                            <label class="text-sm">"State"<br />
                                <select name="online" class=INPUT>
                                    <option value="" selected=selected("")>"Any"</option>
                                    <option value="online" selected=selected("online")>"Online"</option>
                                    <option value="offline" selected=selected("offline")>"Offline"</option>
                                </select>
                            </label>
                            <button type="submit" class=BUTTON>"Filter"</button>
                        </form>
                        {list}
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}

#[component]
fn FleetTable(devices: Vec<FleetDevice>) -> impl IntoView {
    if devices.is_empty() {
        return view! { <p>"No devices match."</p> }.into_any();
    }
    let now = use_clock();
    view! {
        <div class="overflow-x-auto">
            <table class=TABLE>
                <thead><tr>
                    <th scope="col" class=TH>"Device"</th><th scope="col" class=TH>"Owner"</th>
                    <th scope="col" class=TH>"State"</th><th scope="col" class=TH>"Last seen"</th>
                    <th scope="col" class=TH>"Firmware"</th><th scope="col" class=TH>"Msgs/min"</th>
                    <th scope="col" class=TH>"Actions"</th>
                </tr></thead>
                <tbody class="divide-y divide-stone-100 dark:divide-stone-800">
                    {devices.into_iter().map(|row| {
                        let id = row.device.id.clone();
                        let last_seen = row.last_seen;
                        let certificate = row.device.certificate.as_ref().map_or("no valid certificate".to_string(), |cert| format!("cert {}", cert.serial));
                        view! {
                            <tr data-device=id.clone()>
                                <td class=TD>
                                    <span class="font-medium">{row.device.name.clone()}</span> " · " {row.device.model.clone()}<br />
                                    <span class="font-mono text-xs">{id.clone()}</span><br />
                                    <span class="text-xs text-stone-500">{certificate}</span>
                                </td>
                                <td class=TD><a class=LINK href=format!("/admin/users/{}", row.device.owner_id)>{row.owner_email.clone()}</a></td>
                                <td class=TD data-field="online">{if row.online { "online" } else { "offline" }}</td>
                                <td class=TD>{move || last_seen.map_or("never".to_string(), |seen| ago(seen, now.get()))}</td>
                                <td class=TD>{row.firmware.clone()}</td>
                                <td class=TD>{row.messages_last_minute}</td>
                                <td class=TD>
                                    <div class="flex flex-wrap gap-2">
                                        <a class=LINK href=format!("/admin/inspector?device={id}")>"Inspect"</a>
                                        <a class=LINK href=format!("/admin/audit?device_id={id}")>"Audit"</a>
                                        <form method="post" action=format!("/admin/devices/{id}/disconnect")>
                                            <button type="submit" class=BUTTON>"Disconnect"</button>
                                        </form>
                                        <form method="post" action=format!("/admin/devices/{id}/revoke")>
                                            <button type="submit" class=DANGER>"Revoke certificate"</button>
                                        </form>
                                    </div>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
