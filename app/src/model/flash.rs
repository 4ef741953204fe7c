//! What a form post leaves for the page it redirects to: the values typed, the errors, a notice.
//! Kept for a minute in a cookie and read once by the next page, so nothing typed travels in URLs and
//! nothing of it is stored on the server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::account::CreatedToken;

/// The outcome of the last form post.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Flash {
    /// The form it belongs to, e.g. `login`, `profile`.
    pub form: String,
    /// Field values to show again (never passwords).
    pub values: BTreeMap<String, String>,
    /// Field name -> what is wrong; the empty name is for the form as a whole.
    pub errors: BTreeMap<String, String>,
    /// A success message.
    pub notice: Option<String>,
    /// A token just created, shown this once.
    pub created_token: Option<CreatedToken>,
}

impl Flash {
    /// The value typed into a field of `form`, if this flash is for that form.
    pub fn value(flash: &Option<Self>, form: &str, field: &str) -> String {
        flash
            .as_ref()
            .filter(|flash| flash.form == form)
            .and_then(|flash| flash.values.get(field).cloned())
            .unwrap_or_default()
    }

    /// The error of a field of `form` (the empty field name: the whole form).
    pub fn error(flash: &Option<Self>, form: &str, field: &str) -> Option<String> {
        flash
            .as_ref()
            .filter(|flash| flash.form == form)
            .and_then(|flash| flash.errors.get(field).cloned())
    }

    /// The notice of `form`.
    pub fn notice(flash: &Option<Self>, form: &str) -> Option<String> {
        flash
            .as_ref()
            .filter(|flash| flash.form == form)
            .and_then(|flash| flash.notice.clone())
    }
}
