//! A quick alcohol-by-volume calculator from original and final gravity.

use leptos::prelude::*;

use crate::model::brewing::{Gravity, abv_percent};

/// Two gravity inputs and the resulting ABV, computed in the browser as the brewer types.
#[component]
pub fn AbvCalculator() -> impl IntoView {
    let (og, set_og) = signal("1.050".to_string());
    let (fg, set_fg) = signal("1.010".to_string());
    let result = move || {
        let og = og.get().parse::<Gravity>();
        let fg = fg.get().parse::<Gravity>();
        match (og, fg) {
            (Ok(og), Ok(fg)) => match abv_percent(og, fg) {
                Ok(abv) => format!("{abv:.1} % ABV"),
                Err(reason) => reason.to_string(),
            },
            (Err(reason), _) => format!("Original gravity: {reason}"),
            (_, Err(reason)) => format!("Final gravity: {reason}"),
        }
    };
    let input_class = "mt-1 w-full rounded-md border border-stone-300 bg-white px-3 py-2 text-stone-900 focus:border-amber-500 focus:outline-none focus:ring-2 focus:ring-amber-500 dark:border-stone-700 dark:bg-stone-800 dark:text-stone-100";
    view! {
        <section aria-labelledby="abv-heading" class="rounded-xl border border-stone-200 bg-white p-6 shadow-sm dark:border-stone-800 dark:bg-stone-900">
            <h2 id="abv-heading" class="text-lg font-semibold">"Quick ABV calculator"</h2>
            <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">"Enter the gravity before and after fermentation."</p>
            <div class="mt-4 grid grid-cols-2 gap-4">
                <label class="block text-sm font-medium">
                    "Original gravity"
                    <input
                        id="og"
                        class=input_class
                        inputmode="decimal"
                        prop:value=og
                        on:input=move |ev| set_og.set(event_target_value(&ev))
                    />
                </label>
                <label class="block text-sm font-medium">
                    "Final gravity"
                    <input
                        id="fg"
                        class=input_class
                        inputmode="decimal"
                        prop:value=fg
                        on:input=move |ev| set_fg.set(event_target_value(&ev))
                    />
                </label>
            </div>
            <p id="abv-result" role="status" aria-live="polite" class="mt-4 text-2xl font-semibold text-amber-700 dark:text-amber-400">
                {result}
            </p>
        </section>
    }
}
