//! `/recipes/{id}`: one recipe with its numbers, ingredients and steps in the brewer's units; clone,
//! delete, export; and starting it on a device, with a dry-run timeline first.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::Redirect,
    hooks::{use_params_map, use_query_map},
};

use crate::{
    components::form::{Card, FormMessage},
    model::{
        device::Device,
        flash::Flash,
        recipe::{Recipe, RecipeNumbers, Units},
        session::PlannedStep,
    },
    pages::admin::{BUTTON, DANGER, INPUT, LINK, TABLE, TD, TH},
    server_fns::{current_user, load_recipe, my_devices, plan_session, take_flash},
};

/// "1 h 05 min", "3 d 2 h", "45 s".
pub fn duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds.div_ceil(60)),
        3600..86_400 => format!("{} h {:02} min", seconds / 3600, (seconds % 3600) / 60),
        _ => format!("{} d {} h", seconds / 86_400, (seconds % 86_400) / 3600),
    }
}

/// The recipe page; visitors go to the login page.
#[component]
pub fn RecipePage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let recipe = Resource::new(id, load_recipe);
    let devices = Resource::new(|| (), |_| my_devices());
    let flash = Resource::new(|| (), |_| take_flash());
    let chosen = move || {
        query
            .read()
            .get("device")
            .filter(|device| !device.is_empty())
    };
    let plan = Resource::new(
        move || (chosen(), id()),
        |(device, recipe)| async move {
            match device {
                Some(device) => plan_session(device, recipe).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let Ok(Some(user)) = user.await else {
                    return view! { <Redirect path="/login" /> }.into_any();
                };
                let Ok(Some(recipe)) = recipe.await else {
                    return view! { <Title text="Recipe" /><p>"There is no such recipe."</p> }.into_any();
                };
                let devices = devices.await.unwrap_or_default();
                let flash = flash.await.ok().flatten();
                let plan = plan.await.ok().flatten();
                let mine = recipe.owner_id == user.id;
                view! {
                    <RecipeView recipe units=user.units devices flash plan chosen=chosen() mine />
                }
                .into_any()
            })}
        </Suspense>
    }
}

#[component]
fn RecipeView(
    recipe: Recipe,
    units: Units,
    devices: Vec<Device>,
    flash: Option<Flash>,
    plan: Option<Result<Vec<PlannedStep>, String>>,
    chosen: Option<String>,
    mine: bool,
) -> impl IntoView {
    let id = recipe.id.clone();
    let body = recipe.body.clone();
    view! {
        <Title text=body.name.clone() />
        <div class="space-y-6">
            <div class="space-y-2">
                <h1 class="text-3xl font-bold tracking-tight">{body.name.clone()}</h1>
                <p class="text-stone-600 dark:text-stone-400">
                    {body.style.clone()} " · " {units.volume(body.batch_size_l)} " into the fermenter · "
                    {format!("{:.0} min boil · {:.0} % efficiency", body.boil_time_min, body.efficiency_pct)}
                </p>
                <FormMessage error=Flash::error(&flash, "recipe", "") notice=Flash::notice(&flash, "recipe") />
                <div class="flex flex-wrap items-center gap-2">
                    {mine.then(|| view! { <a href=format!("/recipes/{id}/edit") class=BUTTON>"Edit"</a> })}
                    <form method="post" action=format!("/recipes/{id}/clone")><button type="submit" class=BUTTON>"Clone"</button></form>
                    <a class=LINK href=format!("/api/v1/recipes/{id}/export") download="">"Export BeerJSON"</a>
                    {mine.then(|| view! {
                        <form method="post" action=format!("/recipes/{id}/delete")><button type="submit" class=DANGER>"Delete"</button></form>
                    })}
                </div>
            </div>
            <Numbers numbers=recipe.numbers />
            <Ingredients recipe=recipe.clone() units />
            {mine.then(|| view! { <StartCard recipe_id=id.clone() devices flash=flash.clone() plan chosen /> })}
            {(!body.notes.is_empty()).then(|| view! {
                <Card id="notes" title="Notes"><p class="whitespace-pre-wrap text-sm">{body.notes.clone()}</p></Card>
            })}
        </div>
    }
}

/// The computed numbers, as recipe tools show them.
#[component]
pub fn Numbers(numbers: RecipeNumbers) -> impl IntoView {
    let figures = [
        ("OG", format!("{:.3}", numbers.og)),
        ("FG", format!("{:.3}", numbers.fg)),
        ("ABV", format!("{:.1} %", numbers.abv_pct)),
        ("IBU (Tinseth)", format!("{:.1}", numbers.ibu)),
        (
            "Colour (Morey)",
            format!(
                "{:.1} SRM · {:.1} EBC",
                numbers.color_srm, numbers.color_ebc
            ),
        ),
        ("BU:GU", format!("{:.2}", numbers.bu_gu)),
    ];
    view! {
        <dl class="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6" aria-label="Computed values">
            {figures.into_iter().map(|(label, value)| view! {
                <div class="rounded-lg border border-stone-200 bg-white p-3 dark:border-stone-800 dark:bg-stone-900">
                    <dt class="text-xs text-stone-500">{label}</dt>
                    <dd class="text-lg font-semibold" data-number=label>{value}</dd>
                </div>
            }).collect_view()}
        </dl>
    }
}

#[component]
fn Ingredients(recipe: Recipe, units: Units) -> impl IntoView {
    let body = recipe.body;
    view! {
        <div class="grid gap-6 lg:grid-cols-2">
            <Card id="fermentables" title="Fermentables">
                <table class=TABLE>
                    <thead><tr><th class=TH>"Name"</th><th class=TH>"Amount"</th><th class=TH>"Colour"</th><th class=TH>"Yield"</th></tr></thead>
                    <tbody>{body.fermentables.iter().map(|item| view! {
                        <tr><td class=TD>{item.name.clone()} " (" {item.kind.as_str()} ")"</td><td class=TD>{units.mass_kg(item.amount_kg)}</td>
                        <td class=TD>{format!("{:.0} SRM", item.color_srm)}</td><td class=TD>{format!("{:.0} %", item.yield_pct)}</td></tr>
                    }).collect_view()}</tbody>
                </table>
            </Card>
            <Card id="hops" title="Hops">
                <table class=TABLE>
                    <thead><tr><th class=TH>"Name"</th><th class=TH>"Amount"</th><th class=TH>"Alpha"</th><th class=TH>"Use"</th><th class=TH>"Time"</th></tr></thead>
                    <tbody>{body.hops.iter().map(|item| view! {
                        <tr><td class=TD>{item.name.clone()}</td><td class=TD>{units.mass_g(item.amount_g)}</td>
                        <td class=TD>{format!("{:.1} %", item.alpha_pct)}</td><td class=TD>{item.use_.as_str()}</td>
                        <td class=TD>{duration((item.time_min * 60.0).max(0.0) as u64)}</td></tr>
                    }).collect_view()}</tbody>
                </table>
            </Card>
            <Card id="yeasts" title="Yeast">
                <ul class="text-sm">{body.yeasts.iter().map(|item| view! {
                    <li>{item.name.clone()} " · " {format!("{:.0} % attenuation", item.attenuation_pct)} " · "
                        {units.temperature(item.temp_min_c)} " – " {units.temperature(item.temp_max_c)}</li>
                }).collect_view()}</ul>
            </Card>
            <Card id="steps" title="Mash and fermentation">
                <ol class="list-decimal space-y-1 pl-5 text-sm">
                    {body.mash_steps.iter().map(|step| view! {
                        <li>{format!("Mash: {} ({})", step.name, step.kind.as_str())} " · " {units.temperature(step.temp_c)} " · " {format!("{:.0} min", step.duration_min)}</li>
                    }).collect_view()}
                    {body.fermentation_steps.iter().map(|step| view! {
                        <li>{format!("Fermentation: {}", step.name)} " · " {units.temperature(step.temp_c)} " · " {format!("{} days", step.days)}</li>
                    }).collect_view()}
                </ol>
                {body.water.clone().map(|water| view! {
                    <p class="text-sm">{format!(
                        "Water {}: Ca {:.0}, Mg {:.0}, Na {:.0}, SO₄ {:.0}, Cl {:.0}, HCO₃ {:.0} mg/l",
                        water.name, water.calcium, water.magnesium, water.sodium, water.sulfate, water.chloride, water.bicarbonate
                    )}</p>
                })}
            </Card>
        </div>
    }
}

/// Choose a device, see the dry-run timeline, start brewing.
#[component]
fn StartCard(
    recipe_id: String,
    devices: Vec<Device>,
    flash: Option<Flash>,
    plan: Option<Result<Vec<PlannedStep>, String>>,
    chosen: Option<String>,
) -> impl IntoView {
    if devices.is_empty() {
        return view! {
            <Card id="brew" title="Brew it">
                <p class="text-sm">"Register a device first: " <a class=LINK href="/devices">"Devices"</a></p>
            </Card>
        }
        .into_any();
    }
    let chosen = chosen.unwrap_or_default();
    let options = devices
        .iter()
        .map(|device| {
            let selected = device.id == chosen;
            view! { <option value=device.id.clone() selected=selected>{device.name.clone()}</option> }
        })
        .collect_view();
    let timeline = plan.map(|plan| match plan {
        Ok(steps) => {
            let total: u64 = steps.iter().map(PlannedStep::expected_s).sum();
            view! {
                <div class="space-y-2" aria-label="Dry run">
                    <h3 class="font-semibold">{format!("Dry run: about {} in all", duration(total))}</h3>
                    <ol class="space-y-1 text-sm">
                        {steps.into_iter().map(|step| view! {
                            <li data-step=step.name.clone()>
                                <span class="font-medium">{step.name.clone()}</span>
                                {format!(" · {:.1} °C · reach ~{} · hold {}", step.target_temp_c, duration(u64::from(step.ramp_s)), duration(u64::from(step.hold_s)))}
                                {(!step.alerts.is_empty()).then(|| view! {
                                    <ul class="ml-4 list-disc">{step.alerts.iter().map(|alert| view! {
                                        <li>{format!("at {}: {}", duration(u64::from(alert.at_s)), alert.message)}</li>
                                    }).collect_view()}</ul>
                                })}
                            </li>
                        }).collect_view()}
                    </ol>
                    <form method="post" action=format!("/recipes/{recipe_id}/start")>
                        <input type="hidden" name="device_id" value=chosen.clone() />
                        <button type="submit" class=BUTTON>"Start brewing"</button>
                    </form>
                </div>
            }
            .into_any()
        }
        Err(reason) => view! { <p role="alert" class="text-sm text-red-700 dark:text-red-400">{format!("This device cannot run the recipe: {reason}")}</p> }.into_any(),
    });
    view! {
        <Card id="brew" title="Brew it">
            <FormMessage error=Flash::error(&flash, "start", "") />
            <form method="get" action=format!("/recipes/{recipe_id}") class="flex flex-wrap items-end gap-2">
                <label class="text-sm">"Device"<br />
                    <select name="device" class=INPUT>{options}</select>
                </label>
                <button type="submit" class=BUTTON>"Preview timeline"</button>
            </form>
            {timeline}
        </Card>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(61), "2 min");
        assert_eq!(duration(3900), "1 h 05 min");
        assert_eq!(duration(14 * 86_400 + 7200), "14 d 2 h");
    }
}
