//! The frame around every page: header with navigation, main content, footer.

use leptos::prelude::*;

use crate::{model::account::Role, server_fns::current_user};

const NAV_LINK: &str = "rounded px-1 font-medium text-stone-700 hover:text-amber-700 focus:outline-none \
    focus-visible:ring-2 focus-visible:ring-amber-500 dark:text-stone-200 dark:hover:text-amber-400";

/// Header, navigation (collapsible on small screens), the page, and the footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let (menu_open, set_menu_open) = signal(false);
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:rounded focus:bg-amber-500 focus:px-3 focus:py-2 focus:text-stone-950">
            "Skip to content"
        </a>
        <header class="border-b border-stone-200 bg-white/90 backdrop-blur dark:border-stone-800 dark:bg-stone-900/90">
            <div class="mx-auto flex max-w-6xl items-center justify-between gap-4 px-4 py-3">
                <a href="/" class="flex items-center gap-2 text-lg font-semibold tracking-tight">
                    <span aria-hidden="true" class="grid h-8 w-8 place-items-center rounded-lg bg-amber-500 text-stone-950">"B"</span>
                    "BrewLink"
                </a>
                <button
                    type="button"
                    class="rounded-md p-2 text-stone-600 hover:bg-stone-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500 sm:hidden dark:text-stone-300 dark:hover:bg-stone-800"
                    aria-controls="main-nav"
                    aria-expanded=move || menu_open.get().to_string()
                    on:click=move |_| set_menu_open.update(|open| *open = !*open)
                >
                    <span class="sr-only">"Menu"</span>
                    <svg aria-hidden="true" class="h-6 w-6" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2">
                        <path d="M4 6h16M4 12h16M4 18h16" />
                    </svg>
                </button>
                <nav
                    id="main-nav"
                    aria-label="Main"
                    class=move || {
                        if menu_open.get() {
                            "absolute inset-x-0 top-14 z-10 border-b border-stone-200 bg-white px-4 py-3 sm:static sm:block sm:border-0 sm:bg-transparent sm:p-0 dark:border-stone-800 dark:bg-stone-900"
                        } else {
                            "hidden sm:block"
                        }
                    }
                >
                    <ul class="flex flex-col gap-2 sm:flex-row sm:items-center sm:gap-6">
                        <li><a href="/" class=NAV_LINK>"Home"</a></li>
                        <Suspense>
                            {move || Suspend::new(async move {
                                match user.await {
                                    Ok(Some(user)) => {
                                        let staff = user.role == Role::Staff;
                                        let name = if user.name.is_empty() { user.email } else { user.name };
                                        view! {
                                            <li><a href="/devices" class=NAV_LINK>"Devices"</a></li>
                                            <li><a href="/recipes" class=NAV_LINK>"Recipes"</a></li>
                                            {staff.then(|| view! { <li><a href="/admin" class=NAV_LINK>"Admin"</a></li> })}
                                            <li><a href="/account" class=NAV_LINK aria-label=format!("Account of {name}")>"Account"</a></li>
                                            <li>
                                                <form method="post" action="/logout">
                                                    <button type="submit" class=format!("{NAV_LINK} cursor-pointer")>"Log out"</button>
                                                </form>
                                            </li>
                                        }
                                        .into_any()
                                    }
                                    _ => view! {
                                        <li><a href="/login" class=NAV_LINK>"Log in"</a></li>
                                        <li>
                                            <a href="/signup" class="rounded-md bg-amber-500 px-3 py-1.5 font-medium text-stone-950 hover:bg-amber-400 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-700">
                                                "Sign up"
                                            </a>
                                        </li>
                                    }
                                    .into_any(),
                                }
                            })}
                        </Suspense>
                    </ul>
                </nav>
            </div>
        </header>
        <main id="main" class="mx-auto w-full max-w-6xl px-4 py-8">{children()}</main>
        <footer class="border-t border-stone-200 py-6 text-sm text-stone-500 dark:border-stone-800 dark:text-stone-400">
            <div class="mx-auto flex max-w-6xl flex-col gap-1 px-4 sm:flex-row sm:justify-between">
                <span>"BrewLink " {env!("CARGO_PKG_VERSION")} " — open-source IoT for home brewing"</span>
                <span>
                    "Devices speak MQTT + protobuf; browsers and apps use the "
                    <a href="/api/docs" class="underline hover:text-stone-700 dark:hover:text-stone-200">"JSON API"</a>
                    "."
                </span>
            </div>
        </footer>
    }
}
