//! The landing page: what BrewLink is.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::abv_calculator::AbvCalculator;

/// What BrewLink does, for a brewer arriving for the first time.
#[component]
pub fn HomePage() -> impl IntoView {
    let features = [
        (
            "Live charts",
            "Mash, boil and fermenter temperatures, heater, pump and gravity as they happen.",
        ),
        (
            "Remote control",
            "GPIO, clock, network info, UART console and reset — from the browser or your phone.",
        ),
        (
            "Recipes that run",
            "Keep recipes with computed OG, FG, ABV, IBU and colour, and run them step by step.",
        ),
        (
            "Secure by design",
            "Every device has its own certificate and may only touch its own MQTT topics.",
        ),
    ];
    view! {
        <Title text="" />
        <section class="grid gap-10 lg:grid-cols-[3fr_2fr] lg:items-start">
            <div>
                <h1 class="text-4xl font-bold tracking-tight sm:text-5xl">"Your brewery, connected."</h1>
                <p class="mt-4 max-w-2xl text-lg text-stone-600 dark:text-stone-300">
                    "BrewLink connects your mash, boil and fermentation controller to the web. Watch every degree live, "
                    "control the device from anywhere, and run your recipes on it step by step."
                </p>
                <ul class="mt-8 grid gap-4 sm:grid-cols-2">
                    {features
                        .into_iter()
                        .map(|(title, text)| {
                            view! {
                                <li class="rounded-xl border border-stone-200 bg-white p-4 dark:border-stone-800 dark:bg-stone-900">
                                    <h2 class="font-semibold">{title}</h2>
                                    <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">{text}</p>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </div>
            <AbvCalculator />
        </section>
    }
}
