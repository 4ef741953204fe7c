//! The page for an unknown address.

use leptos::prelude::*;
use leptos_meta::Title;

/// Says the page does not exist (and answers 404 when rendered on the server).
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found" />
        <div class="mx-auto max-w-lg py-16 text-center">
            <h1 class="text-3xl font-bold">"Page not found"</h1>
            <p class="mt-3 text-stone-600 dark:text-stone-400">"There is nothing at this address."</p>
            <a href="/" class="mt-6 inline-block rounded-md bg-amber-500 px-4 py-2 font-medium text-stone-950 hover:bg-amber-400 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-700">
                "Back to the start"
            </a>
        </div>
    }
}
