//! `/recipes`: the brewer's recipes with search, the import form (BeerJSON, BeerXML) and their brew
//! sessions.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};

use crate::{
    components::form::{Card, FormMessage},
    model::{flash::Flash, recipe::Recipe, session::BrewSession},
    pages::admin::{BUTTON, INPUT, LINK, TABLE, TD, TH, users::query_string},
    server_fns::{current_user, load_recipes, load_sessions, take_flash},
};

/// The list, the search and the import form; visitors go to the login page.
#[component]
pub fn RecipesPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let flash = Resource::new(|| (), |_| take_flash());
    let query = use_query_map();
    let recipes = Resource::new(
        move || {
            let query = query.read();
            (query.get("query").unwrap_or_default(), query.get("cursor"))
        },
        |(text, cursor)| load_recipes(text, cursor),
    );
    let sessions = Resource::new(|| (), |_| load_sessions());
    view! {
        <Title text="Recipes" />
        <Suspense>
            {move || Suspend::new(async move {
                if !matches!(user.await, Ok(Some(_))) {
                    return view! { <Redirect path="/login" /> }.into_any();
                }
                let flash = flash.await.ok().flatten();
                let text = query.with_untracked(|query| query.get("query").unwrap_or_default());
                let list = match recipes.await {
                    Ok(page) => {
                        let next = page.next_cursor.map(|cursor| view! {
                            <a class=LINK href=format!("/recipes{}", query_string(&[("query", &text), ("cursor", &cursor)]))>"More recipes"</a>
                        });
                        view! { <RecipeTable recipes=page.items /> {next} }.into_any()
                    }
                    Err(error) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                };
                let sessions = sessions.await.unwrap_or_default();
                view! {
                    <div class="space-y-6">
                        <div class="flex flex-wrap items-center justify-between gap-3">
                            <h1 class="text-3xl font-bold tracking-tight">"Recipes"</h1>
                            <a href="/recipes/new" class=BUTTON>"New recipe"</a>
                        </div>
                        <FormMessage notice=Flash::notice(&flash, "recipes") />
                        <form method="get" action="/recipes" role="search" class="flex flex-wrap items-end gap-2">
                            <label class="text-sm">"Name or style"<br />
                                <input name="query" type="search" value=text.clone() class=INPUT />
                            </label>
                            <button type="submit" class=BUTTON>"Search"</button>
                        </form>
                        {list}
                        <Card id="import" title="Import a recipe">
                            <form method="post" action="/recipes/import" enctype="multipart/form-data" class="flex flex-wrap items-end gap-3">
                                <FormMessage error=Flash::error(&flash, "import", "file").or_else(|| Flash::error(&flash, "import", "")) />
                                <label class="text-sm">"BeerJSON or BeerXML file (from Brewfather, BeerSmith, …)"<br />
                                    <input type="file" name="file" required=true accept=".json,.xml,.beerjson,.beerxml,application/json,text/xml" class="mt-1 text-sm" />
                                </label>
                                <button type="submit" class=BUTTON>"Import"</button>
                            </form>
                        </Card>
                        <SessionList sessions />
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}

#[component]
fn RecipeTable(recipes: Vec<Recipe>) -> impl IntoView {
    if recipes.is_empty() {
        return view! { <p class="text-stone-600 dark:text-stone-400">"No recipes yet: write one or import a file."</p> }.into_any();
    }
    view! {
        <div class="overflow-x-auto">
            <table class=TABLE>
                <thead><tr>
                    <th scope="col" class=TH>"Recipe"</th><th scope="col" class=TH>"Style"</th>
                    <th scope="col" class=TH>"OG"</th><th scope="col" class=TH>"ABV"</th>
                    <th scope="col" class=TH>"IBU"</th><th scope="col" class=TH>"Colour"</th>
                </tr></thead>
                <tbody class="divide-y divide-stone-100 dark:divide-stone-800">
                    {recipes.into_iter().map(|recipe| view! {
                        <tr>
                            <td class=TD><a class=LINK href=format!("/recipes/{}", recipe.id)>{recipe.body.name.clone()}</a></td>
                            <td class=TD>{recipe.body.style.clone()}</td>
                            <td class=TD>{format!("{:.3}", recipe.numbers.og)}</td>
                            <td class=TD>{format!("{:.1} %", recipe.numbers.abv_pct)}</td>
                            <td class=TD>{format!("{:.0}", recipe.numbers.ibu)}</td>
                            <td class=TD>{format!("{:.0} EBC", recipe.numbers.color_ebc)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn SessionList(sessions: Vec<BrewSession>) -> impl IntoView {
    (!sessions.is_empty()).then(|| view! {
        <section aria-labelledby="sessions-heading" class="space-y-2">
            <h2 id="sessions-heading" class="text-lg font-semibold">"Brew sessions"</h2>
            <ul class="space-y-1 text-sm">
                {sessions.into_iter().map(|session| view! {
                    <li>
                        <a class=LINK href=format!("/sessions/{}", session.id)>{session.recipe.name.clone()}</a>
                        " · " {session.state.as_str()} " · started " {session.started_at.format("%Y-%m-%d %H:%M UTC").to_string()}
                    </li>
                }).collect_view()}
            </ul>
        </section>
    })
}
