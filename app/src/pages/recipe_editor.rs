//! `/recipes/new` and `/recipes/{id}/edit`: the recipe editor. Ingredients and steps are added,
//! removed and reordered in place; the numbers are computed while typing with the same formulas the
//! server uses; saving shows each invalid field's message next to it. (The editor needs JavaScript.)

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::Redirect,
    hooks::{use_navigate, use_params_map},
};

use crate::{
    components::form::FormMessage,
    model::recipe::{
        self, Fermentable, FermentableKind, FermentationStep, Hop, HopUse, MashStep, MashStepKind,
        RecipeBody, Yeast,
    },
    pages::{
        admin::{BUTTON, DANGER, INPUT},
        recipe::Numbers,
    },
    server_fns::{current_user, load_recipe, save_recipe},
};

/// A new recipe.
#[component]
pub fn NewRecipePage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <Title text="New recipe" />
        <Suspense>
            {move || Suspend::new(async move {
                if !matches!(user.await, Ok(Some(_))) {
                    return view! { <Redirect path="/login" /> }.into_any();
                }
                let body = RecipeBody {
                    mash_steps: vec![MashStep { name: "Saccharification".into(), ..MashStep::default() }],
                    fermentation_steps: vec![FermentationStep { name: "Primary".into(), ..FermentationStep::default() }],
                    ..RecipeBody::default()
                };
                view! { <RecipeEditor id=None initial=body /> }.into_any()
            })}
        </Suspense>
    }
}

/// An existing recipe.
#[component]
pub fn EditRecipePage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let params = use_params_map();
    let recipe = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        load_recipe,
    );
    view! {
        <Title text="Edit recipe" />
        <Suspense>
            {move || Suspend::new(async move {
                if !matches!(user.await, Ok(Some(_))) {
                    return view! { <Redirect path="/login" /> }.into_any();
                }
                match recipe.await {
                    Ok(Some(recipe)) => view! { <RecipeEditor id=Some(recipe.id) initial=recipe.body /> }.into_any(),
                    _ => view! { <p>"There is no such recipe."</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A number typed in a field (empty or not a number: NaN, which validation names).
fn number(text: &str) -> f64 {
    text.trim().replace(',', ".").parse().unwrap_or(f64::NAN)
}

/// Moves item `index` of a list one place up (`-1`) or down (`1`).
pub fn move_item<T>(list: &mut [T], index: usize, by: isize) {
    let Some(target) = index.checked_add_signed(by) else {
        return;
    };
    if target < list.len() && index < list.len() {
        list.swap(index, target);
    }
}

#[component]
fn RecipeEditor(id: Option<String>, initial: RecipeBody) -> impl IntoView {
    let body = RwSignal::new(initial);
    let errors = RwSignal::new(BTreeMap::<String, String>::new());
    let failure = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let numbers = Memo::new(move |_| recipe::compute(&body.get()));
    let navigate = use_navigate();
    let save = move |_| {
        let id = id.clone();
        let navigate = navigate.clone();
        saving.set(true);
        leptos::task::spawn_local(async move {
            match save_recipe(id, body.get_untracked()).await {
                Ok(Ok(saved)) => navigate(&format!("/recipes/{}", saved.id), Default::default()),
                Ok(Err(fields)) => {
                    failure.set(Some(
                        "Some fields need a look: see the messages below.".into(),
                    ));
                    errors.set(fields);
                }
                Err(error) => failure.set(Some(error.to_string())),
            }
            saving.set(false);
        });
    };
    let error = move |field: String| move || errors.get().get(&field).cloned();
    view! {
        <div class="space-y-6">
            <h1 class="text-3xl font-bold tracking-tight">{move || if body.get().name.is_empty() { "New recipe".to_string() } else { body.get().name }}</h1>
            <div class="sticky top-0 z-10 bg-stone-50/95 py-2 dark:bg-stone-950/95">
                {move || view! { <Numbers numbers=numbers.get() /> }}
            </div>
            <section class="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" aria-label="Recipe">
                <TextInput label="Name" value=Signal::derive(move || body.get().name) error=Signal::derive(error("name".into()))
                    set=move |text| body.update(|b| b.name = text) />
                <TextInput label="Style" value=Signal::derive(move || body.get().style) error=Signal::derive(error("style".into()))
                    set=move |text| body.update(|b| b.style = text) />
                <NumberInput label="Batch size (l)" value=Signal::derive(move || body.get().batch_size_l) error=Signal::derive(error("batch_size_l".into()))
                    set=move |v| body.update(|b| b.batch_size_l = v) />
                <NumberInput label="Boil size (l)" value=Signal::derive(move || body.get().boil_size_l) error=Signal::derive(error("boil_size_l".into()))
                    set=move |v| body.update(|b| b.boil_size_l = v) />
                <NumberInput label="Boil time (min)" value=Signal::derive(move || body.get().boil_time_min) error=Signal::derive(error("boil_time_min".into()))
                    set=move |v| body.update(|b| b.boil_time_min = v) />
                <NumberInput label="Efficiency (%)" value=Signal::derive(move || body.get().efficiency_pct) error=Signal::derive(error("efficiency_pct".into()))
                    set=move |v| body.update(|b| b.efficiency_pct = v) />
            </section>

            <ListSection title="Fermentables" add=move || body.update(|b| b.fermentables.push(Fermentable { name: "Pale malt".into(), amount_kg: 1.0, ..Fermentable::default() }))>
                {move || (0..body.get().fermentables.len()).map(|i| {
                    let item = move || body.get().fermentables.get(i).cloned().unwrap_or_default();
                    let field = move |name: &str| Signal::derive(error(format!("fermentables[{i}].{name}")));
                    view! {
                        <Row label=format!("Fermentable {}", i + 1)
                            up=move || { errors.set(BTreeMap::new()); body.update(|b| move_item(&mut b.fermentables, i, -1)) }
                            down=move || { errors.set(BTreeMap::new()); body.update(|b| move_item(&mut b.fermentables, i, 1)) }
                            remove=move || { errors.set(BTreeMap::new()); if i < body.get_untracked().fermentables.len() { body.update(|b| { b.fermentables.remove(i); }) } }>
                            <TextInput label="Name" value=Signal::derive(move || item().name) error=field("name") set=move |t| body.update(|b| if let Some(item) = b.fermentables.get_mut(i) { item.name = t }) />
                            <Choice label="Type" value=Signal::derive(move || item().kind.as_str().to_string())
                                options=FermentableKind::ALL.iter().map(|k| k.as_str()).collect()
                                set=move |t| body.update(|b| if let (Some(k), Some(item)) = (FermentableKind::ALL.into_iter().find(|k| k.as_str() == t), b.fermentables.get_mut(i)) { item.kind = k }) />
                            <NumberInput label="Amount (kg)" value=Signal::derive(move || item().amount_kg) error=field("amount_kg") set=move |v| body.update(|b| if let Some(item) = b.fermentables.get_mut(i) { item.amount_kg = v }) />
                            <NumberInput label="Colour (SRM)" value=Signal::derive(move || item().color_srm) error=field("color_srm") set=move |v| body.update(|b| if let Some(item) = b.fermentables.get_mut(i) { item.color_srm = v }) />
                            <NumberInput label="Yield (%)" value=Signal::derive(move || item().yield_pct) error=field("yield_pct") set=move |v| body.update(|b| if let Some(item) = b.fermentables.get_mut(i) { item.yield_pct = v }) />
                        </Row>
                    }
                }).collect_view()}
            </ListSection>

            <ListSection title="Hops" add=move || body.update(|b| b.hops.push(Hop { name: "Hop".into(), amount_g: 20.0, ..Hop::default() }))>
                {move || (0..body.get().hops.len()).map(|i| {
                    let item = move || body.get().hops.get(i).cloned().unwrap_or_default();
                    let field = move |name: &str| Signal::derive(error(format!("hops[{i}].{name}")));
                    view! {
                        <Row label=format!("Hop {}", i + 1)
                            up=move || { errors.set(BTreeMap::new()); body.update(|b| move_item(&mut b.hops, i, -1)) }
                            down=move || { errors.set(BTreeMap::new()); body.update(|b| move_item(&mut b.hops, i, 1)) }
                            remove=move || { errors.set(BTreeMap::new()); if i < body.get_untracked().hops.len() { body.update(|b| { b.hops.remove(i); }) } }>
                            <TextInput label="Name" value=Signal::derive(move || item().name) error=field("name") set=move |t| body.update(|b| if let Some(item) = b.hops.get_mut(i) { item.name = t }) />
                            <NumberInput label="Amount (g)" value=Signal::derive(move || item().amount_g) error=field("amount_g") set=move |v| body.update(|b| if let Some(item) = b.hops.get_mut(i) { item.amount_g = v }) />
                            <NumberInput label="Alpha acid (%)" value=Signal::derive(move || item().alpha_pct) error=field("alpha_pct") set=move |v| body.update(|b| if let Some(item) = b.hops.get_mut(i) { item.alpha_pct = v }) />
                            <Choice label="Use" value=Signal::derive(move || item().use_.as_str().to_string())
                                options=HopUse::ALL.iter().map(|u| u.as_str()).collect()
                                set=move |t| body.update(|b| if let (Some(u), Some(item)) = (HopUse::ALL.into_iter().find(|u| u.as_str() == t), b.hops.get_mut(i)) { item.use_ = u }) />
                            <NumberInput label="Time (min)" value=Signal::derive(move || item().time_min) error=field("time_min") set=move |v| body.update(|b| if let Some(item) = b.hops.get_mut(i) { item.time_min = v }) />
                        </Row>
                    }
                }).collect_view()}
            </ListSection>

            <ListSection title="Yeast" add=move || body.update(|b| b.yeasts.push(Yeast { name: "Ale yeast".into(), ..Yeast::default() }))>
                {move || (0..body.get().yeasts.len()).map(|i| {
                    let item = move || body.get().yeasts.get(i).cloned().unwrap_or_default();
                    let field = move |name: &str| Signal::derive(error(format!("yeasts[{i}].{name}")));
                    view! {
                        <Row label=format!("Yeast {}", i + 1)
                            up=move || { errors.set(BTreeMap::new()); body.update(|b| move_item(&mut b.yeasts, i, -1)) }
                            down=move || { errors.set(BTreeMap::new()); body.update(|b| move_item(&mut b.yeasts, i, 1)) }
                            remove=move || { errors.set(BTreeMap::new()); if i < body.get_untracked().yeasts.len() { body.update(|b| { b.yeasts.remove(i); }) } }>
                            <TextInput label="Name" value=Signal::derive(move || item().name) error=field("name") set=move |t| body.update(|b| if let Some(item) = b.yeasts.get_mut(i) { item.name = t }) />
                            <NumberInput label="Attenuation (%)" value=Signal::derive(move || item().attenuation_pct) error=field("attenuation_pct") set=move |v| body.update(|b| if let Some(item) = b.yeasts.get_mut(i) { item.attenuation_pct = v }) />
                            <NumberInput label="Lowest °C" value=Signal::derive(move || item().temp_min_c) error=field("temp_min_c") set=move |v| body.update(|b| if let Some(item) = b.yeasts.get_mut(i) { item.temp_min_c = v }) />
                            <NumberInput label="Highest °C" value=Signal::derive(move || item().temp_max_c) error=field("temp_max_c") set=move |v| body.update(|b| if let Some(item) = b.yeasts.get_mut(i) { item.temp_max_c = v }) />
                        </Row>
                    }
                }).collect_view()}
            </ListSection>

            <ListSection title="Mash steps" add=move || body.update(|b| b.mash_steps.push(MashStep { name: "Rest".into(), ..MashStep::default() }))>
                {move || (0..body.get().mash_steps.len()).map(|i| {
                    let item = move || body.get().mash_steps.get(i).cloned().unwrap_or_default();
                    let field = move |name: &str| Signal::derive(error(format!("mash_steps[{i}].{name}")));
                    view! {
                        <Row label=format!("Mash step {}", i + 1)
                            up=move || { errors.set(BTreeMap::new()); body.update(|b| move_item(&mut b.mash_steps, i, -1)) }
                            down=move || { errors.set(BTreeMap::new()); body.update(|b| move_item(&mut b.mash_steps, i, 1)) }
                            remove=move || { errors.set(BTreeMap::new()); if i < body.get_untracked().mash_steps.len() { body.update(|b| { b.mash_steps.remove(i); }) } }>
                            <TextInput label="Name" value=Signal::derive(move || item().name) error=field("name") set=move |t| body.update(|b| if let Some(item) = b.mash_steps.get_mut(i) { item.name = t }) />
                            <Choice label="Type" value=Signal::derive(move || item().kind.as_str().to_string())
                                options=MashStepKind::ALL.iter().map(|k| k.as_str()).collect()
                                set=move |t| body.update(|b| if let (Some(k), Some(item)) = (MashStepKind::ALL.into_iter().find(|k| k.as_str() == t), b.mash_steps.get_mut(i)) { item.kind = k }) />
                            <NumberInput label="Temperature (°C)" value=Signal::derive(move || item().temp_c) error=field("temp_c") set=move |v| body.update(|b| if let Some(item) = b.mash_steps.get_mut(i) { item.temp_c = v }) />
                            <NumberInput label="Duration (min)" value=Signal::derive(move || item().duration_min) error=field("duration_min") set=move |v| body.update(|b| if let Some(item) = b.mash_steps.get_mut(i) { item.duration_min = v }) />
                        </Row>
                    }
                }).collect_view()}
            </ListSection>

            <ListSection title="Fermentation steps" add=move || body.update(|b| b.fermentation_steps.push(FermentationStep { name: "Conditioning".into(), ..FermentationStep::default() }))>
                {move || (0..body.get().fermentation_steps.len()).map(|i| {
                    let item = move || body.get().fermentation_steps.get(i).cloned().unwrap_or_default();
                    let field = move |name: &str| Signal::derive(error(format!("fermentation_steps[{i}].{name}")));
                    view! {
                        <Row label=format!("Fermentation step {}", i + 1)
                            up=move || { errors.set(BTreeMap::new()); body.update(|b| move_item(&mut b.fermentation_steps, i, -1)) }
                            down=move || { errors.set(BTreeMap::new()); body.update(|b| move_item(&mut b.fermentation_steps, i, 1)) }
                            remove=move || { errors.set(BTreeMap::new()); if i < body.get_untracked().fermentation_steps.len() { body.update(|b| { b.fermentation_steps.remove(i); }) } }>
                            <TextInput label="Name" value=Signal::derive(move || item().name) error=field("name") set=move |t| body.update(|b| if let Some(item) = b.fermentation_steps.get_mut(i) { item.name = t }) />
                            <NumberInput label="Temperature (°C)" value=Signal::derive(move || item().temp_c) error=field("temp_c") set=move |v| body.update(|b| if let Some(item) = b.fermentation_steps.get_mut(i) { item.temp_c = v }) />
                            <NumberInput label="Days" value=Signal::derive(move || item().days) error=field("days") set=move |v| body.update(|b| if let Some(item) = b.fermentation_steps.get_mut(i) { item.days = v }) />
                        </Row>
                    }
                }).collect_view()}
            </ListSection>

            <section class="space-y-1">
                <label for="recipe-notes" class="block text-sm font-medium">"Notes"</label>
                <textarea id="recipe-notes" rows="4" class=format!("{INPUT} w-full")
                    prop:value=move || body.get().notes
                    on:change=move |event| body.update(|b| b.notes = event_target_value(&event))></textarea>
            </section>

            <div class="flex flex-wrap items-center gap-3">
                <button type="button" class=BUTTON disabled=move || saving.get() on:click=save>
                    {move || if saving.get() { "Saving…" } else { "Save recipe" }}
                </button>
                {move || view! { <FormMessage error=failure.get() /> }}
            </div>
        </div>
    }
}

#[component]
fn ListSection(
    title: &'static str,
    add: impl Fn() + Send + Sync + 'static,
    children: Children,
) -> impl IntoView {
    view! {
        <section class="space-y-3" aria-label=title>
            <div class="flex items-center justify-between">
                <h2 class="text-lg font-semibold">{title}</h2>
                <button type="button" class=BUTTON on:click=move |_| add()>{format!("Add {}", title.to_lowercase().trim_end_matches('s'))}</button>
            </div>
            {children()}
        </section>
    }
}

#[component]
fn Row(
    label: String,
    up: impl Fn() + Send + Sync + 'static,
    down: impl Fn() + Send + Sync + 'static,
    remove: impl Fn() + Send + Sync + 'static,
    children: Children,
) -> impl IntoView {
    view! {
        <fieldset class="rounded-lg border border-stone-200 p-3 dark:border-stone-800">
            <legend class="px-1 text-sm font-medium">{label.clone()}</legend>
            <div class="grid gap-3 sm:grid-cols-2 lg:grid-cols-5">{children()}</div>
            <div class="mt-2 flex gap-2 text-sm">
                <button type="button" class="rounded border border-stone-300 px-2 py-1 dark:border-stone-700" aria-label=format!("Move {label} up") on:click=move |_| up()>"↑"</button>
                <button type="button" class="rounded border border-stone-300 px-2 py-1 dark:border-stone-700" aria-label=format!("Move {label} down") on:click=move |_| down()>"↓"</button>
                <button type="button" class=DANGER aria-label=format!("Remove {label}") on:click=move |_| remove()>"Remove"</button>
            </div>
        </fieldset>
    }
}

#[component]
fn TextInput(
    label: &'static str,
    value: Signal<String>,
    error: Signal<Option<String>>,
    set: impl Fn(String) + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <label class="block text-sm">{label}
            <input class=format!("{INPUT} mt-1 block w-full") prop:value=move || value.get()
                aria-invalid=move || error.get().map(|_| "true")
                on:change=move |event| set(event_target_value(&event)) />
            {move || error.get().map(|message| view! { <span class="mt-1 block text-red-700 dark:text-red-400">{message}</span> })}
        </label>
    }
}

#[component]
fn NumberInput(
    label: &'static str,
    value: Signal<f64>,
    error: Signal<Option<String>>,
    set: impl Fn(f64) + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <label class="block text-sm">{label}
            <input class=format!("{INPUT} mt-1 block w-full") inputmode="decimal"
                prop:value=move || { let v = value.get(); if v.is_finite() { v.to_string() } else { String::new() } }
                aria-invalid=move || error.get().map(|_| "true")
                on:change=move |event| set(number(&event_target_value(&event))) />
            {move || error.get().map(|message| view! { <span class="mt-1 block text-red-700 dark:text-red-400">{message}</span> })}
        </label>
    }
}

#[component]
fn Choice(
    label: &'static str,
    value: Signal<String>,
    options: Vec<&'static str>,
    set: impl Fn(String) + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <label class="block text-sm">{label}
            <select class=format!("{INPUT} mt-1 block w-full") on:change=move |event| set(event_target_value(&event))>
                {options.into_iter().map(|option| view! {
                    <option value=option selected=move || value.get() == option>{option.replace('_', " ")}</option>
                }).collect_view()}
            </select>
        </label>
    }
}

#[cfg(test)]
mod tests {
    use super::{move_item, number};

    #[test]
    fn rows_move_within_bounds() {
        let mut list = vec![1, 2, 3];
        move_item(&mut list, 0, -1);
        assert_eq!(list, [1, 2, 3]);
        move_item(&mut list, 0, 1);
        assert_eq!(list, [2, 1, 3]);
        move_item(&mut list, 2, 1);
        assert_eq!(list, [2, 1, 3]);
        move_item(&mut list, 2, -1);
        assert_eq!(list, [2, 3, 1]);
    }

    #[test]
    fn typed_numbers_accept_commas() {
        assert_eq!(number("1,5"), 1.5);
        assert!(number("").is_nan());
        assert!(number("abc").is_nan());
    }
}
