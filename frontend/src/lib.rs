//! The browser entry point: hydrates the server-rendered page into the interactive app.

/// Called by the generated JavaScript once the wasm module is loaded. Marks `<body data-hydrated>` when
/// done, so that browser tests (and curious developers) can tell the page is interactive.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "");
    }
}
