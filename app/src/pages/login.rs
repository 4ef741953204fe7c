//! Signing in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::{
    components::form::{Field, FormMessage, SubmitButton},
    model::flash::Flash,
    server_fns::{current_user, take_flash},
};

/// The login form; a signed-in visitor goes to their account.
#[component]
pub fn LoginPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Log in" />
        <Suspense>
            {move || Suspend::new(async move {
                if matches!(user.await, Ok(Some(_))) {
                    return view! { <Redirect path="/account" /> }.into_any();
                }
                let flash = flash.await.ok().flatten();
                view! {
                    <div class="mx-auto max-w-md">
                        <h1 class="text-3xl font-bold tracking-tight">"Log in"</h1>
                        <form method="post" action="/login" class="mt-6 space-y-4 rounded-xl border border-stone-200 bg-white p-6 shadow-sm dark:border-stone-800 dark:bg-stone-900">
                            <FormMessage error=Flash::error(&flash, "login", "") />
                            <Field form="login" name="email" label="Email" kind="email" autocomplete="email"
                                value=Flash::value(&flash, "login", "email") error=Flash::error(&flash, "login", "email") />
                            <Field form="login" name="password" label="Password" kind="password" autocomplete="current-password"
                                error=Flash::error(&flash, "login", "password") />
                            <SubmitButton label="Log in" />
                        </form>
                        <p class="mt-4 text-sm text-stone-600 dark:text-stone-400">
                            "New to BrewLink? " <a href="/signup" class="font-medium text-amber-700 underline dark:text-amber-400">"Create an account"</a>
                        </p>
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}
