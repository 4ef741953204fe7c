//! The signed-in user's account: profile, password, API tokens, deletion.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::{
    components::form::{Card, Field, FormMessage, SubmitButton},
    model::{
        account::{ApiToken, Role, TokenScope, User},
        flash::Flash,
        recipe::Units,
    },
    server_fns::{current_user, my_tokens, take_flash},
};

/// Everything about one's own account; visitors who are not signed in go to the login page.
#[component]
pub fn AccountPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let tokens = Resource::new(|| (), |_| my_tokens());
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Your account" />
        <Suspense>
            {move || Suspend::new(async move {
                let Ok(Some(user)) = user.await else {
                    return view! { <Redirect path="/login" /> }.into_any();
                };
                let tokens = tokens.await.unwrap_or_default();
                let flash = flash.await.ok().flatten();
                view! { <Account user tokens flash /> }.into_any()
            })}
        </Suspense>
    }
}

#[component]
fn Account(user: User, tokens: Vec<ApiToken>, flash: Option<Flash>) -> impl IntoView {
    let display_name = if user.name.is_empty() {
        user.email.clone()
    } else {
        user.name.clone()
    };
    view! {
        <div class="space-y-6">
            <div>
                <h1 class="text-3xl font-bold tracking-tight">{display_name}</h1>
                <p class="mt-1 text-stone-600 dark:text-stone-400">
                    {user.email.clone()}
                    {(user.role == Role::Staff).then(|| view! {
                        <span class="ml-2 rounded bg-amber-100 px-2 py-0.5 text-xs font-semibold text-amber-900 dark:bg-amber-900 dark:text-amber-100">"staff"</span>
                    })}
                </p>
                <FormMessage notice=Flash::notice(&flash, "account") />
            </div>
            <div class="grid gap-6 lg:grid-cols-2">
                <ProfileCard user flash=flash.clone() />
                <PasswordCard flash=flash.clone() />
            </div>
            <TokensCard tokens flash=flash.clone() />
            <DeleteCard flash />
        </div>
    }
}

#[component]
fn ProfileCard(user: User, flash: Option<Flash>) -> impl IntoView {
    // After a failed save, show what was typed; otherwise what is stored.
    let failed = flash
        .as_ref()
        .is_some_and(|flash| flash.form == "profile" && !flash.errors.is_empty());
    let typed = |field, stored| {
        if failed {
            Flash::value(&flash, "profile", field)
        } else {
            stored
        }
    };
    let name = typed("name", user.name);
    let email = typed("email", user.email);
    let units = user.units;
    view! {
        <Card id="profile" title="Profile">
            <form method="post" action="/account/profile" class="space-y-4">
                <FormMessage error=Flash::error(&flash, "profile", "") notice=Flash::notice(&flash, "profile") />
                <Field form="profile" name="name" label="Name" autocomplete="name" required=false
                    value=name error=Flash::error(&flash, "profile", "name") />
                <Field form="profile" name="email" label="Email" kind="email" autocomplete="email"
                    value=email error=Flash::error(&flash, "profile", "email") />
                <Field form="profile" name="current_password" label="Password, to change the email"
                    kind="password" autocomplete="current-password" required=false
                    hint="Needed only when the email changes."
                    error=Flash::error(&flash, "profile", "current_password") />
                <div>
                    <label for="profile-units" class="block text-sm font-medium">"Units in recipes"</label>
                    <select id="profile-units" name="units" class="mt-1 block rounded-md border border-stone-300 bg-white px-3 py-2 dark:border-stone-700 dark:bg-stone-800">
                        <option value="metric" selected=units == Units::Metric>"Metric (kg, l, °C)"</option>
                        <option value="imperial" selected=units == Units::Imperial>"Imperial (lb, gal, °F)"</option>
                    </select>
                </div>
                <SubmitButton label="Save profile" />
            </form>
        </Card>
    }
}

#[component]
fn PasswordCard(flash: Option<Flash>) -> impl IntoView {
    view! {
        <Card id="password" title="Password">
            <form method="post" action="/account/password" class="space-y-4">
                <FormMessage error=Flash::error(&flash, "password", "") notice=Flash::notice(&flash, "password") />
                <Field form="password" name="current_password" label="Current password" kind="password"
                    autocomplete="current-password" error=Flash::error(&flash, "password", "current_password") />
                <Field form="password" name="new_password" label="New password" kind="password"
                    autocomplete="new-password" hint="At least 10 characters. Your other sessions will be signed out."
                    error=Flash::error(&flash, "password", "new_password") />
                <SubmitButton label="Change password" />
            </form>
        </Card>
    }
}

#[component]
fn TokensCard(tokens: Vec<ApiToken>, flash: Option<Flash>) -> impl IntoView {
    let created = flash.as_ref().and_then(|flash| flash.created_token.clone());
    view! {
        <Card id="tokens" title="API tokens">
            <p class="text-sm text-stone-600 dark:text-stone-400">
                "Tokens let the mobile app and your scripts use the API: send "
                <code class="rounded bg-stone-100 px-1 dark:bg-stone-800">"Authorization: Bearer <token>"</code>"."
            </p>
            <FormMessage error=Flash::error(&flash, "tokens", "") notice=Flash::notice(&flash, "tokens") />
            {created.map(|token| view! {
                <div class="rounded-md border border-amber-300 bg-amber-50 p-3 dark:border-amber-800 dark:bg-amber-950">
                    <label for="new-token" class="block text-sm font-medium">{format!("Your new token \u{201c}{}\u{201d}", token.label)}</label>
                    <input id="new-token" readonly value=token.token class="mt-1 block w-full rounded-md border border-stone-300 bg-white px-3 py-2 font-mono text-sm dark:border-stone-700 dark:bg-stone-800" />
                </div>
            })}
            <TokenList tokens />
            <form method="post" action="/account/tokens" class="grid gap-4 sm:grid-cols-2 sm:items-end">
                <Field form="tokens" name="label" label="Token name" value=Flash::value(&flash, "tokens", "label")
                    hint="E.g. \u{201c}Phone\u{201d}." error=Flash::error(&flash, "tokens", "label") />
                <div>
                    <label for="tokens-scope" class="block text-sm font-medium">"What it may do"</label>
                    <select id="tokens-scope" name="scope" class="mt-1 block w-full rounded-md border border-stone-300 bg-white px-3 py-2 dark:border-stone-700 dark:bg-stone-800">
                        {TokenScope::ALL
                            .into_iter()
                            .map(|scope| view! {
                                <option value=scope.as_str() selected=scope == TokenScope::default()>{scope_text(scope)}</option>
                            })
                            .collect_view()}
                    </select>
                </div>
                <Field form="tokens" name="expires_in_days" label="Expires after (days)" kind="number" required=false
                    value=Flash::value(&flash, "tokens", "expires_in_days")
                    hint="Empty: until you revoke it." error=Flash::error(&flash, "tokens", "expires_in_days") />
                <Field form="tokens" name="password" label="Your password" kind="password"
                    autocomplete="current-password" error=Flash::error(&flash, "tokens", "password") />
                <div class="pb-1"><SubmitButton label="Create token" /></div>
            </form>
        </Card>
    }
}

#[component]
fn DeleteCard(flash: Option<Flash>) -> impl IntoView {
    view! {
        <Card id="delete" title="Delete account">
            <p class="text-sm text-stone-600 dark:text-stone-400">
                "This deletes your account, your API tokens and your sessions. It cannot be undone."
            </p>
            <form method="post" action="/account/delete" class="grid gap-4 sm:grid-cols-[1fr_auto] sm:items-end">
                <FormMessage error=Flash::error(&flash, "delete", "") />
                <Field form="delete" name="password" label="Your password" kind="password"
                    autocomplete="current-password" error=Flash::error(&flash, "delete", "password") />
                <div class="pb-1"><SubmitButton label="Delete my account" danger=true /></div>
            </form>
        </Card>
    }
}

/// What a scope lets a token do, in a few words.
fn scope_text(scope: TokenScope) -> &'static str {
    match scope {
        TokenScope::Read => "Read only",
        TokenScope::Devices => "Devices and brew sessions",
        TokenScope::Full => "Everything but the admin site",
        TokenScope::Admin => "Everything, admin site included (staff)",
    }
}

#[component]
fn TokenList(tokens: Vec<ApiToken>) -> impl IntoView {
    if tokens.is_empty() {
        return view! { <p class="text-sm text-stone-500">"No tokens yet."</p> }.into_any();
    }
    view! {
        <ul class="divide-y divide-stone-200 rounded-md border border-stone-200 dark:divide-stone-800 dark:border-stone-800">
            {tokens
                .into_iter()
                .map(|token| {
                    let used = token
                        .last_used_at
                        .map(|at| format!("last used {}", at.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_else(|| "never used".to_string());
                    let expires = token
                        .expires_at
                        .map(|at| format!("expires {}", at.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_else(|| "no expiry".to_string());
                    view! {
                        <li class="flex flex-wrap items-center justify-between gap-2 px-3 py-2">
                            <div>
                                <span class="font-medium">{token.label.clone()}</span>
                                <span class="ml-2 font-mono text-xs text-stone-500">{format!("{}…", token.prefix)}</span>
                                <p class="text-xs text-stone-500">
                                    {format!(
                                        "{} · created {} · {expires} · {used}",
                                        scope_text(token.scope),
                                        token.created_at.format("%Y-%m-%d %H:%M UTC")
                                    )}
                                </p>
                            </div>
                            <form method="post" action=format!("/account/tokens/{}/revoke", token.id)>
                                <button type="submit" class="rounded-md border border-stone-300 px-3 py-1 text-sm hover:bg-stone-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500 dark:border-stone-700 dark:hover:bg-stone-800"
                                    aria-label=format!("Revoke token {}", token.label)>
                                    "Revoke"
                                </button>
                            </form>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}
