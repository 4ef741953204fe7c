//! `/admin/users` (search and pages) and `/admin/users/{id}` (devices, sessions, tokens; disable,
//! enable, promote, demote).

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{AdminHeader, BUTTON, DANGER, INPUT, LINK, TABLE, TD, TH, gate};
use crate::{
    components::form::FormMessage,
    model::{
        account::Role,
        admin::{AdminUser, AdminUserDetail},
        flash::Flash,
    },
    server_fns::{current_user, load_admin_user, load_admin_users, take_flash},
};

/// A query string from pairs, leaving out empty values.
pub(crate) fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(name);
        out.push('=');
        out.push_str(&encode_value(value));
    }
    out
}

/// Percent-encodes a query value.
fn encode_value(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// `/admin/users`: every user, searchable by email or name.
#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let query = use_query_map();
    let page = Resource::new(
        move || {
            let query = query.read();
            (query.get("query").unwrap_or_default(), query.get("cursor"))
        },
        |(text, cursor)| load_admin_users(text, cursor),
    );
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                if let Some(other) = gate(user.await) {
                    return other;
                }
                let text = query.read_untracked().get("query").unwrap_or_default();
                let list = match page.await {
                    Ok(page) => view! { <UserTable users=page.items /> {page.next_cursor.map(|cursor| view! {
                        <a class=LINK href=format!("/admin/users{}", query_string(&[("query", &text), ("cursor", &cursor)]))>"Next page"</a>
                    })} }.into_any(),
                    Err(error) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                };
                view! {
                    <div class="space-y-6">
                        <AdminHeader title="Users" />
                        <form method="get" action="/admin/users" role="search" class="flex flex-wrap items-end gap-2">
                            <label class="text-sm">"Email or name"<br />
                                <input name="query" type="search" value=text class=INPUT />
                            </label>
                            <button type="submit" class=BUTTON>"Search"</button>
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
fn UserTable(users: Vec<AdminUser>) -> impl IntoView {
    if users.is_empty() {
        return view! { <p>"No users match."</p> }.into_any();
    }
    view! {
        <div class="overflow-x-auto">
            <table class=TABLE>
                <thead><tr>
                    <th scope="col" class=TH>"Email"</th><th scope="col" class=TH>"Name"</th>
                    <th scope="col" class=TH>"Role"</th><th scope="col" class=TH>"State"</th>
                    <th scope="col" class=TH>"Devices"</th><th scope="col" class=TH>"Signed up"</th>
                </tr></thead>
                <tbody class="divide-y divide-stone-100 dark:divide-stone-800">
                    {users.into_iter().map(|row| view! {
                        <tr>
                            <td class=TD><a class=LINK href=format!("/admin/users/{}", row.user.id)>{row.user.email.clone()}</a></td>
                            <td class=TD>{row.user.name.clone()}</td>
                            <td class=TD>{row.user.role.as_str()}</td>
                            <td class=TD>{if row.user.disabled { "disabled" } else { "enabled" }}</td>
                            <td class=TD>{row.devices}</td>
                            <td class=TD>{row.user.created_at.format("%Y-%m-%d").to_string()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// `/admin/users/{id}`: one user, with the buttons that change their account.
#[component]
pub fn AdminUserPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let params = use_params_map();
    let detail = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        load_admin_user,
    );
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                if let Some(other) = gate(user.await) {
                    return other;
                }
                let flash = flash.await.ok().flatten();
                match detail.await {
                    Ok(Some(detail)) => view! { <UserDetail detail flash /> }.into_any(),
                    Ok(None) => view! { <AdminHeader title="User" /> <p>"There is no such user."</p> }.into_any(),
                    Err(error) => view! { <AdminHeader title="User" /> <p role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn UserDetail(detail: AdminUserDetail, flash: Option<Flash>) -> impl IntoView {
    let user = detail.user;
    let id = user.id.clone();
    let (state_action, state_label, state_class) = if user.disabled {
        ("enable", "Enable account", BUTTON)
    } else {
        ("disable", "Disable account", DANGER)
    };
    let (role_action, role_label) = match user.role {
        Role::Staff => ("demote", "Make brewer"),
        Role::Brewer => ("promote", "Make staff"),
    };
    view! {
        <div class="space-y-6">
            <AdminHeader title="User" />
            <FormMessage error=Flash::error(&flash, "admin", "") notice=Flash::notice(&flash, "admin") />
            <dl class="grid grid-cols-2 gap-2 text-sm sm:grid-cols-4">
                <div><dt class="text-stone-500">"Email"</dt><dd data-field="email">{user.email.clone()}</dd></div>
                <div><dt class="text-stone-500">"Name"</dt><dd>{user.name.clone()}</dd></div>
                <div><dt class="text-stone-500">"Role"</dt><dd data-field="role">{user.role.as_str()}</dd></div>
                <div><dt class="text-stone-500">"State"</dt><dd data-field="state">{if user.disabled { "disabled" } else { "enabled" }}</dd></div>
            </dl>
            <div class="flex flex-wrap gap-2">
                <form method="post" action=format!("/admin/users/{id}/{state_action}")>
                    <button type="submit" class=state_class>{state_label}</button>
                </form>
                <form method="post" action=format!("/admin/users/{id}/{role_action}")>
                    <button type="submit" class=BUTTON>{role_label}</button>
                </form>
                <a class=LINK href=format!("/admin/audit?user_id={id}")>"Audit entries"</a>
            </div>
            <section class="space-y-2">
                <h2 class="text-lg font-semibold">{format!("Devices ({})", detail.devices.len())}</h2>
                <ul class="space-y-1 text-sm">
                    {detail.devices.into_iter().map(|row| view! {
                        <li>
                            <a class=LINK href=format!("/admin/devices?query={}", row.device.id)>{row.device.name.clone()}</a>
                            " · " {row.device.model.clone()} " · " {if row.online { "online" } else { "offline" }}
                        </li>
                    }).collect_view()}
                </ul>
            </section>
            <section class="space-y-2">
                <h2 class="text-lg font-semibold">{format!("Web sessions ({})", detail.sessions.len())}</h2>
                <ul class="space-y-1 text-sm">
                    {detail.sessions.into_iter().map(|session| view! {
                        <li><span class="font-mono">{session.fingerprint}</span> " · expires " {session.expires_at.format("%Y-%m-%d %H:%M UTC").to_string()}</li>
                    }).collect_view()}
                </ul>
            </section>
            <section class="space-y-2">
                <h2 class="text-lg font-semibold">{format!("API tokens ({})", detail.tokens.len())}</h2>
                <ul class="space-y-1 text-sm">
                    {detail.tokens.into_iter().map(|token| view! {
                        <li>
                            {token.label} " · " <span class="font-mono">{format!("{}…", token.prefix)}</span>
                            " · last used " {token.last_used_at.map_or("never".to_string(), |at| at.format("%Y-%m-%d %H:%M UTC").to_string())}
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::query_string;

    #[test]
    fn query_strings_encode_values_and_skip_empty_ones() {
        assert_eq!(
            query_string(&[("query", "a b&c"), ("cursor", "")]),
            "?query=a%20b%26c"
        );
        assert_eq!(query_string(&[("a", "1"), ("b", "x@y")]), "?a=1&b=x%40y");
        assert_eq!(query_string(&[]), "");
    }
}
