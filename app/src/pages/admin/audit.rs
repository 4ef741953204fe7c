//! `/admin/audit`: who did what, when, from where — filtered by user, device, kind and time, paged,
//! exportable as CSV.

use chrono::{DateTime, NaiveDateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{AdminHeader, BUTTON, INPUT, LINK, TABLE, TD, TH, gate, users::query_string};
use crate::{
    model::admin::{AuditEntry, AuditFilter},
    server_fns::{current_user, load_admin_audit},
};

/// A time typed in a filter: RFC 3339, or a browser's `datetime-local` value read as UTC.
pub(crate) fn parse_time_input(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
                .into_iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
                .map(|time| time.and_utc())
        })
}

/// The filter fields of the page, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
struct Typed {
    user_id: String,
    device_id: String,
    kind: String,
    from: String,
    to: String,
}

impl Typed {
    fn filter(&self) -> AuditFilter {
        let some = |text: &str| Some(text.trim().to_string()).filter(|text| !text.is_empty());
        AuditFilter {
            user_id: some(&self.user_id),
            device_id: some(&self.device_id),
            kind: some(&self.kind),
            from: parse_time_input(&self.from),
            to: parse_time_input(&self.to),
        }
    }

    /// The filter as API query parameters (times in RFC 3339).
    fn api_pairs(&self) -> Vec<(&'static str, String)> {
        let filter = self.filter();
        vec![
            ("user_id", filter.user_id.unwrap_or_default()),
            ("device_id", filter.device_id.unwrap_or_default()),
            ("kind", filter.kind.unwrap_or_default()),
            (
                "from",
                filter.from.map(|t| t.to_rfc3339()).unwrap_or_default(),
            ),
            ("to", filter.to.map(|t| t.to_rfc3339()).unwrap_or_default()),
        ]
    }
}

/// `/admin/audit?user_id=&device_id=&kind=&from=&to=&cursor=`.
#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let query = use_query_map();
    let typed = move || {
        let query = query.read();
        let get = |name: &str| query.get(name).unwrap_or_default();
        (
            Typed {
                user_id: get("user_id"),
                device_id: get("device_id"),
                kind: get("kind"),
                from: get("from"),
                to: get("to"),
            },
            query.get("cursor"),
        )
    };
    let page = Resource::new(typed, |(typed, cursor)| {
        load_admin_audit(typed.filter(), cursor)
    });
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                if let Some(other) = gate(user.await) {
                    return other;
                }
                let (typed, _) = typed();
                let pairs = typed.api_pairs();
                let pair_refs = |extra: Option<(&'static str, &str)>| {
                    let mut list: Vec<(&str, &str)> = pairs.iter().map(|(name, value)| (*name, value.as_str())).collect();
                    list.extend(extra);
                    query_string(&list)
                };
                let csv = format!("/api/v1/admin/audit{}", pair_refs(Some(("format", "csv"))));
                let list = match page.await {
                    Ok(page) => {
                        let next = page.next_cursor.map(|cursor| {
                            let mut list = vec![
                                ("user_id", typed.user_id.as_str()), ("device_id", typed.device_id.as_str()),
                                ("kind", typed.kind.as_str()), ("from", typed.from.as_str()), ("to", typed.to.as_str()),
                            ];
                            list.push(("cursor", cursor.as_str()));
                            let href = format!("/admin/audit{}", query_string(&list));
                            view! { <a class=LINK href=href>"Older entries"</a> }
                        });
                        view! { <AuditTable entries=page.items /> {next} }.into_any()
                    }
                    Err(error) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                };
                view! {
                    <div class="space-y-6">
                        <AdminHeader title="Audit log" />
                        <form method="get" action="/admin/audit" role="search" class="flex flex-wrap items-end gap-2">
                            <label class="text-sm">"User id"<br /><input name="user_id" value=typed.user_id.clone() class=INPUT /></label>
                            <label class="text-sm">"Device id"<br /><input name="device_id" value=typed.device_id.clone() class=INPUT /></label>
                            <label class="text-sm">"Kind (e.g. auth, device.command)"<br /><input name="kind" value=typed.kind.clone() class=INPUT /></label>
                            <label class="text-sm">"From (UTC)"<br /><input name="from" type="datetime-local" value=typed.from.clone() class=INPUT /></label>
                            <label class="text-sm">"To (UTC)"<br /><input name="to" type="datetime-local" value=typed.to.clone() class=INPUT /></label>
                            <button type="submit" class=BUTTON>"Filter"</button>
                            <a class=LINK href=csv download="brewlink-audit.csv">"Export CSV"</a>
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
fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p>"No entries match."</p> }.into_any();
    }
    view! {
        <div class="overflow-x-auto">
            <table class=TABLE>
                <thead><tr>
                    <th scope="col" class=TH>"When (UTC)"</th><th scope="col" class=TH>"Who"</th>
                    <th scope="col" class=TH>"What"</th><th scope="col" class=TH>"About"</th>
                    <th scope="col" class=TH>"From"</th><th scope="col" class=TH>"Detail"</th>
                </tr></thead>
                <tbody class="divide-y divide-stone-100 dark:divide-stone-800">
                    {entries.into_iter().map(|entry| view! {
                        <tr data-action=entry.action.clone()>
                            <td class=TD>{entry.at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                            <td class=TD><span class="font-mono text-xs">{entry.actor}</span></td>
                            <td class=TD>{entry.action.clone()}</td>
                            <td class=TD><span class="font-mono text-xs">{entry.subject}</span></td>
                            <td class=TD>{entry.source_ip.unwrap_or_default()}</td>
                            <td class=TD><code class="break-all text-xs">{entry.detail.to_string()}</code></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::parse_time_input;

    #[test]
    fn filter_times_accept_rfc3339_and_browser_values() {
        let rfc = parse_time_input("2026-11-22T10:00:00+01:00").unwrap();
        assert_eq!(rfc.to_rfc3339(), "2026-11-22T09:00:00+00:00");
        let local = parse_time_input("2026-11-22T10:30").unwrap();
        assert_eq!(local.to_rfc3339(), "2026-11-22T10:30:00+00:00");
        assert_eq!(parse_time_input("yesterday"), None);
        assert_eq!(parse_time_input(""), None);
    }
}
