//! Creating an account.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::{
    components::form::{Field, FormMessage, SubmitButton},
    model::flash::Flash,
    server_fns::{current_user, take_flash},
};

/// The signup form; a signed-in visitor goes to their account.
#[component]
pub fn SignupPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Sign up" />
        <Suspense>
            {move || Suspend::new(async move {
                if matches!(user.await, Ok(Some(_))) {
                    return view! { <Redirect path="/account" /> }.into_any();
                }
                let flash = flash.await.ok().flatten();
                view! {
                    <div class="mx-auto max-w-md">
                        <h1 class="text-3xl font-bold tracking-tight">"Create your account"</h1>
                        <p class="mt-2 text-stone-600 dark:text-stone-400">"Register your brewing controller and watch it live."</p>
                        <form method="post" action="/signup" class="mt-6 space-y-4 rounded-xl border border-stone-200 bg-white p-6 shadow-sm dark:border-stone-800 dark:bg-stone-900">
                            <FormMessage error=Flash::error(&flash, "signup", "") />
                            <Field form="signup" name="name" label="Name (optional)" autocomplete="name" required=false
                                value=Flash::value(&flash, "signup", "name") error=Flash::error(&flash, "signup", "name") />
                            <Field form="signup" name="email" label="Email" kind="email" autocomplete="email"
                                value=Flash::value(&flash, "signup", "email") error=Flash::error(&flash, "signup", "email") />
                            <Field form="signup" name="password" label="Password" kind="password" autocomplete="new-password"
                                hint="At least 10 characters." error=Flash::error(&flash, "signup", "password") />
                            <SubmitButton label="Create account" />
                        </form>
                        <p class="mt-4 text-sm text-stone-600 dark:text-stone-400">
                            "Have an account? " <a href="/login" class="font-medium text-amber-700 underline dark:text-amber-400">"Log in"</a>
                        </p>
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}
