//! Form pieces shared by pages: labelled fields with their errors, notices, the submit button.

use leptos::prelude::*;

const INPUT: &str = "mt-1 block w-full rounded-md border bg-white px-3 py-2 text-stone-900 shadow-sm \
    focus:outline-none focus:ring-2 focus:ring-amber-500 dark:bg-stone-800 dark:text-stone-100";

/// A labelled input; its error (if any) is announced and tied to it with `aria-describedby`.
#[component]
pub fn Field(
    /// The form field's name (also its id, prefixed by `form`).
    name: &'static str,
    /// The form this field belongs to, to keep ids unique on pages with several forms.
    form: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional, into)] value: String,
    #[prop(default = None)] error: Option<String>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(default = true)] required: bool,
) -> impl IntoView {
    let id = format!("{form}-{name}");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = match (&error, hint) {
        (Some(_), _) => Some(error_id.clone()),
        (None, Some(_)) => Some(hint_id.clone()),
        _ => None,
    };
    let border = if error.is_some() {
        "border-red-500"
    } else {
        "border-stone-300 dark:border-stone-700"
    };
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium">{label}</label>
            <input
                id=id
                name=name
                type=kind
                value=value
                required=required
                autocomplete=autocomplete
                aria-invalid=error.is_some().then_some("true")
                aria-describedby=described_by
                class=format!("{INPUT} {border}")
            />
            {hint.filter(|_| error.is_none()).map(|hint| view! {
                <p id=hint_id class="mt-1 text-xs text-stone-500 dark:text-stone-400">{hint}</p>
            })}
            {error.map(|error| view! {
                <p id=error_id class="mt-1 text-sm text-red-700 dark:text-red-400">{error}</p>
            })}
        </div>
    }
}

/// A message about the whole form: an error (role alert) or a success notice (role status).
#[component]
pub fn FormMessage(
    #[prop(default = None)] error: Option<String>,
    #[prop(default = None)] notice: Option<String>,
) -> impl IntoView {
    view! {
        {error.map(|error| view! {
            <p role="alert" class="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
                {error}
            </p>
        })}
        {notice.map(|notice| view! {
            <p role="status" class="rounded-md border border-emerald-300 bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-200">
                {notice}
            </p>
        })}
    }
}

/// The primary button of a form.
#[component]
pub fn SubmitButton(label: &'static str, #[prop(default = false)] danger: bool) -> impl IntoView {
    let colors = if danger {
        "bg-red-600 text-white hover:bg-red-500 focus-visible:ring-red-700"
    } else {
        "bg-amber-500 text-stone-950 hover:bg-amber-400 focus-visible:ring-amber-700"
    };
    view! {
        <button
            type="submit"
            class=format!("rounded-md px-4 py-2 font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-offset-2 {colors}")
        >
            {label}
        </button>
    }
}

/// A card with a heading, for a section of a page.
#[component]
pub fn Card(#[prop(into)] id: String, title: &'static str, children: Children) -> impl IntoView {
    let heading = format!("{id}-heading");
    let heading_ref = heading.clone();
    view! {
        <section id=id aria-labelledby=heading_ref class="rounded-xl border border-stone-200 bg-white p-6 shadow-sm dark:border-stone-800 dark:bg-stone-900">
            <h2 id=heading class="text-lg font-semibold">{title}</h2>
            <div class="mt-4 space-y-4">{children()}</div>
        </section>
    }
}
