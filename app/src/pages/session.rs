//! `/sessions/{id}`: a brew session as it runs — the steps, the current one with its timer, the
//! telemetry of the session, notes pinned on the timeline, measured gravities, pause/resume/abort and
//! the export. Progress arrives over the device's live stream.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_params_map};

use crate::{
    components::{
        form::{Card, FormMessage},
        live::{use_clock, use_live_feed},
        telemetry_charts::TelemetryCharts,
    },
    model::{
        flash::Flash,
        session::{BrewSession, SessionState, StepStatus},
    },
    pages::{
        admin::{BUTTON, DANGER, INPUT, LINK},
        recipe::duration,
    },
    server_fns::{current_user, load_session, take_flash},
};

/// The session page; visitors go to the login page.
#[component]
pub fn SessionPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let session = Resource::new(id, load_session);
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                if !matches!(user.await, Ok(Some(_))) {
                    return view! { <Redirect path="/login" /> }.into_any();
                }
                let flash = flash.await.ok().flatten();
                match session.await {
                    Ok(Some(current)) => view! { <Session initial=current flash /> }.into_any(),
                    _ => view! { <Title text="Brew session" /><p>"There is no such brew session."</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Session(initial: BrewSession, flash: Option<Flash>) -> impl IntoView {
    let id = initial.id.clone();
    let device_id = initial.device_id.clone();
    let state = RwSignal::new(initial);
    let feed = use_live_feed(device_id.clone());
    let now = use_clock();
    // Each progress event of the device reloads the session's timeline.
    Effect::new({
        let id = id.clone();
        move |_| {
            if feed.program.get().is_some() {
                let id = id.clone();
                leptos::task::spawn_local(async move {
                    if let Ok(Some(fresh)) = load_session(id).await {
                        state.set(fresh);
                    }
                });
            }
        }
    });
    let session = state.get_untracked();
    let started = session.started_at;
    view! {
        <Title text=format!("Brewing {}", session.recipe.name) />
        <div class="space-y-6">
            <div class="space-y-2">
                <h1 class="text-3xl font-bold tracking-tight">{format!("Brewing {}", session.recipe.name)}</h1>
                <p class="text-stone-600 dark:text-stone-400">
                    "Started " {started.format("%Y-%m-%d %H:%M UTC").to_string()} " on "
                    <a class=LINK href=format!("/devices/{device_id}")>"its device"</a>
                    {session.recipe_id.clone().map(|recipe| view! { " · " <a class=LINK href=format!("/recipes/{recipe}")>"the recipe"</a> })}
                </p>
                <p role="status" class="text-lg font-semibold" data-session-state=move || state.get().state.as_str()>
                    {move || match state.get().state {
                        SessionState::Running => "Running".to_string(),
                        SessionState::Paused => "Paused".to_string(),
                        SessionState::Completed => "Completed".to_string(),
                        SessionState::Aborted => format!("Aborted: {}", state.get().reason),
                    }}
                </p>
                <FormMessage error=Flash::error(&flash, "session", "") notice=Flash::notice(&flash, "session") />
                <Controls id=id.clone() state />
            </div>
            <Steps state now />
            <TelemetryCharts device_id=device_id.clone() feed now />
            <div class="grid gap-6 lg:grid-cols-2">
                <Notes id=id.clone() state flash=flash.clone() />
                <Gravity id=id.clone() state flash />
            </div>
        </div>
    }
}

#[component]
fn Controls(id: String, state: RwSignal<BrewSession>) -> impl IntoView {
    let action = move |name: &'static str| format!("/sessions/{id}/{name}");
    let pause = action("pause");
    let resume = action("resume");
    let abort = action("abort");
    let export = action("export");
    view! {
        <div class="flex flex-wrap items-center gap-2">
            <Show when=move || state.get().state == SessionState::Running>
                <form method="post" action=pause.clone()><button type="submit" class=BUTTON>"Pause"</button></form>
            </Show>
            <Show when=move || state.get().state == SessionState::Paused>
                <form method="post" action=resume.clone()><button type="submit" class=BUTTON>"Resume"</button></form>
            </Show>
            <Show when=move || state.get().state.is_active()>
                <form method="post" action=abort.clone()><button type="submit" class=DANGER>"Abort"</button></form>
            </Show>
            <a class=LINK href=format!("/api/v1{export}") download="">"Export session (zip)"</a>
        </div>
    }
}

/// The timeline: every step with its status; the current one with its timer.
#[component]
fn Steps(state: RwSignal<BrewSession>, now: ReadSignal<DateTime<Utc>>) -> impl IntoView {
    view! {
        <section aria-labelledby="steps-heading" class="space-y-2">
            <h2 id="steps-heading" class="text-lg font-semibold">"Steps"</h2>
            <ol class="space-y-2">
                {move || {
                    let session = state.get();
                    session.steps.iter().enumerate().map(|(index, step)| {
                        let current = session.current_step == Some(index as u32);
                        let status = match step.status {
                            StepStatus::Pending => "waiting",
                            StepStatus::Reaching => "heating or cooling",
                            StepStatus::Holding => "holding",
                            StepStatus::Done => "done",
                        };
                        let timer = (current && step.status == StepStatus::Holding).then(|| {
                            let (remaining, at) = (session.remaining_s, session.remaining_at);
                            let paused = session.state == SessionState::Paused;
                            move || match (remaining, at) {
                                (Some(seconds), Some(at)) => {
                                    let elapsed = if paused { 0 } else { (now.get() - at).num_seconds().max(0) as u64 };
                                    format!("{} left", duration(u64::from(seconds).saturating_sub(elapsed)))
                                }
                                _ => String::new(),
                            }
                        });
                        let notes: Vec<String> = session.notes.iter()
                            .filter(|note| note.step_index == Some(index as u32))
                            .map(|note| note.text.clone())
                            .collect();
                        let border = if current { "border-amber-500" } else { "border-stone-200 dark:border-stone-800" };
                        view! {
                            <li class=format!("rounded-lg border p-3 {border}") data-step-status=status aria-current=current.then_some("step")>
                                <div class="flex flex-wrap justify-between gap-2">
                                    <span class="font-medium">{format!("{}. {}", index + 1, step.planned.name)}</span>
                                    <span class="text-sm">{format!("{:.1} °C · hold {} · ", step.planned.target_temp_c, duration(u64::from(step.planned.hold_s)))} {status}</span>
                                </div>
                                {timer.map(|timer| view! { <p class="text-2xl font-semibold tabular-nums" data-timer="">{timer}</p> })}
                                {(!notes.is_empty()).then(|| view! {
                                    <ul class="mt-1 text-sm italic">{notes.into_iter().map(|text| view! { <li>"📝 " {text}</li> }).collect_view()}</ul>
                                })}
                            </li>
                        }
                    }).collect_view()
                }}
            </ol>
            <details class="text-sm">
                <summary>"Device events"</summary>
                <ul class="mt-2 space-y-1">
                    {move || state.get().events.into_iter().rev().map(|event| view! {
                        <li>{event.at.format("%H:%M:%S").to_string()} " · step " {event.step_index + 1} " · " {event.kind} " " {event.message}</li>
                    }).collect_view()}
                </ul>
            </details>
        </section>
    }
}

#[component]
fn Notes(id: String, state: RwSignal<BrewSession>, flash: Option<Flash>) -> impl IntoView {
    view! {
        <Card id="session-notes" title="Notes">
            <ul class="space-y-1 text-sm">
                {move || state.get().notes.into_iter().map(|note| view! {
                    <li>{note.at.format("%H:%M").to_string()} " — " {note.text}</li>
                }).collect_view()}
            </ul>
            <form method="post" action=format!("/sessions/{id}/notes") class="space-y-2">
                <FormMessage error=Flash::error(&flash, "note", "text") notice=Flash::notice(&flash, "note") />
                <label class="block text-sm" for="note-text">"A note, pinned to the current step"</label>
                <textarea id="note-text" name="text" rows="2" required=true class=format!("{INPUT} w-full")></textarea>
                <button type="submit" class=BUTTON>"Pin note"</button>
            </form>
        </Card>
    }
}

#[component]
fn Gravity(id: String, state: RwSignal<BrewSession>, flash: Option<Flash>) -> impl IntoView {
    let session = state.get_untracked();
    let value = |gravity: Option<f64>| gravity.map(|g| format!("{g:.3}")).unwrap_or_default();
    view! {
        <Card id="gravity" title="Measured gravity">
            <p class="text-sm">
                {format!("Expected: OG {:.3}, FG {:.3}, ABV {:.1} %", session.expected.og, session.expected.fg, session.expected.abv_pct)}
            </p>
            <p class="text-sm font-semibold" data-measured-abv="">
                {move || state.get().measured_abv_pct.map_or("Actual ABV: enter both gravities.".to_string(), |abv| format!("Actual ABV: {abv:.1} %"))}
            </p>
            <form method="post" action=format!("/sessions/{id}/gravity") class="flex flex-wrap items-end gap-2">
                <FormMessage
                    error=Flash::error(&flash, "gravity", "measured_og").or_else(|| Flash::error(&flash, "gravity", "measured_fg")).or_else(|| Flash::error(&flash, "gravity", ""))
                    notice=Flash::notice(&flash, "gravity") />
                <label class="text-sm">"OG"<br /><input name="measured_og" inputmode="decimal" placeholder="1.050" value=value(session.measured_og) class=INPUT size="6" /></label>
                <label class="text-sm">"FG"<br /><input name="measured_fg" inputmode="decimal" placeholder="1.010" value=value(session.measured_fg) class=INPUT size="6" /></label>
                <button type="submit" class=BUTTON>"Save"</button>
            </form>
        </Card>
    }
}
