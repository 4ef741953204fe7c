//! Accounts as the API and the pages show them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a user may do: brewers manage their own things; staff also run the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Brewer,
    Staff,
}

impl Role {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Brewer => "brewer",
            Self::Staff => "staff",
        }
    }

    /// The role a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "brewer" => Some(Self::Brewer),
            "staff" => Some(Self::Staff),
            _ => None,
        }
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Disabled accounts cannot log in or use their tokens.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// How recipes and sessions show amounts to this user.
    #[serde(default)]
    pub units: crate::model::recipe::Units,
}

/// An API token as its owner sees it in lists (the secret itself is shown only once, at creation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: String,
    pub label: String,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token just created: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub id: String,
    pub label: String,
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub created_at: DateTime<Utc>,
}

/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest accepted password, in characters.
pub const PASSWORD_MAX_CHARS: usize = 1024;
