#![recursion_limit = "512"]
//! The BrewLink web app, compiled twice: with `ssr` into the server and with `hydrate` into the browser.
//!
//! `model` holds the types shared by the server, the browser and the JSON API; `pages` has one module
//! per page; `components` the pieces pages are built from.

pub mod components;
pub mod model;
pub mod pages;
pub mod server_fns;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use components::layout::Layout;
use pages::{
    account::AccountPage,
    admin::{
        AdminHome,
        audit::AdminAuditPage,
        errors::AdminErrorsPage,
        fleet::AdminDevicesPage,
        inspector::AdminInspectorPage,
        users::{AdminUserPage, AdminUsersPage},
    },
    api_docs::ApiDocsPage,
    device::DevicePage,
    devices::DevicesPage,
    home::HomePage,
    login::LoginPage,
    not_found::NotFound,
    recipe::RecipePage,
    recipe_editor::{EditRecipePage, NewRecipePage},
    recipes::RecipesPage,
    session::SessionPage,
    signup::SignupPage,
};

/// The Content-Security-Policy of every answer. A page (`nonce`: the one leptos puts on its inline
/// hydration scripts during this render) runs only scripts carrying that nonce and what they load,
/// and its wasm; any other answer runs no script at all. Styles are not restricted (charts colour
/// their legends inline).
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let scripts = match nonce {
        Some(nonce) => format!("'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'"),
        None => "'none'".to_string(),
    };
    format!(
        "script-src {scripts}; frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
    )
}

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(policy) = http::HeaderValue::from_str(&content_security_policy(Some(&nonce)))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, policy);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-stone-50 text-stone-900 antialiased dark:bg-stone-950 dark:text-stone-100">
                <App />
            </body>
        </html>
    }
}

/// The app: routes inside the shared layout.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="brewlink" href="/pkg/brewlink.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta name="description" content="BrewLink connects your brewing controller to the web: live charts, remote control and recipes." />
        <Title formatter=|page: String| if page.is_empty() { "BrewLink".to_string() } else { format!("{page} · BrewLink") } />
        <Router>
            <Layout>
                // Pages render completely on the server (Async): they work before hydration and without JS.
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("signup") view=SignupPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("account") view=AccountPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("devices") view=DevicesPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("devices"), ParamSegment("id")) view=DevicePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("recipes") view=RecipesPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("recipes"), StaticSegment("new")) view=NewRecipePage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("recipes"), ParamSegment("id")) view=RecipePage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("recipes"), ParamSegment("id"), StaticSegment("edit")) view=EditRecipePage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("sessions"), ParamSegment("id")) view=SessionPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("api"), StaticSegment("docs")) view=ApiDocsPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("admin") view=AdminHome ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("users")) view=AdminUsersPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("users"), ParamSegment("id")) view=AdminUserPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("devices")) view=AdminDevicesPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("audit")) view=AdminAuditPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("errors")) view=AdminErrorsPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("admin"), StaticSegment("inspector")) view=AdminInspectorPage ssr=SsrMode::Async />
                </Routes>
            </Layout>
        </Router>
    }
}
