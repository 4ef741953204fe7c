//! One page of a list, as every list route of the JSON API answers.

use serde::{Deserialize, Serialize};

/// Items and the cursor of the next page (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
