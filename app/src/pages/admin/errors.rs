//! `/admin/errors`: server errors and device-side problems, grouped by kind.

use leptos::prelude::*;

use super::{AdminHeader, TABLE, TD, TH, gate};
use crate::server_fns::{current_user, load_admin_errors};

/// Every group: kind, count, first and last seen, what the latest was about and what it was.
#[component]
pub fn AdminErrorsPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let groups = Resource::new(|| (), |_| load_admin_errors());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                if let Some(other) = gate(user.await) {
                    return other;
                }
                let body = match groups.await {
                    Ok(groups) if groups.is_empty() => view! { <p>"No errors recorded."</p> }.into_any(),
                    Ok(groups) => view! {
                        <div class="overflow-x-auto">
                            <table class=TABLE>
                                <thead><tr>
                                    <th scope="col" class=TH>"Kind"</th><th scope="col" class=TH>"Count"</th>
                                    <th scope="col" class=TH>"First seen (UTC)"</th><th scope="col" class=TH>"Last seen (UTC)"</th>
                                    <th scope="col" class=TH>"Latest"</th>
                                </tr></thead>
                                <tbody class="divide-y divide-stone-100 dark:divide-stone-800">
                                    {groups.into_iter().map(|group| view! {
                                        <tr data-kind=group.kind.clone()>
                                            <td class=TD><span class="font-mono">{group.kind.clone()}</span></td>
                                            <td class=TD data-field="count">{group.count}</td>
                                            <td class=TD>{group.first_seen.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                            <td class=TD>{group.last_seen.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                            <td class=TD><span class="font-mono text-xs">{group.subject}</span><br />{group.example}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                };
                view! { <div class="space-y-6"><AdminHeader title="Errors" />{body}</div> }.into_any()
            })}
        </Suspense>
    }
}
