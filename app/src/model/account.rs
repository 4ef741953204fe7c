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

/// What an API token may do, at most what its account may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Read only: no changes, and no device commands (reading a pin or the clock asks the device).
    Read,
    /// Read, plus devices, their commands and brew sessions.
    Devices,
    /// Everything the account may do except the admin API.
    #[default]
    Full,
    /// Everything, the admin API included (for staff accounts).
    Admin,
}

impl TokenScope {
    /// Every scope, narrowest first.
    pub const ALL: [Self; 4] = [Self::Read, Self::Devices, Self::Full, Self::Admin];

    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Devices => "devices",
            Self::Full => "full",
            Self::Admin => "admin",
        }
    }

    /// The scope a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name)
    }
}

/// An API token as its owner sees it in lists (the secret itself is shown only once, at creation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: String,
    pub label: String,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub scope: TokenScope,
    pub created_at: DateTime<Utc>,
    /// After this the token no longer works; `None`: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
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
    pub scope: TokenScope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest accepted password, in characters.
pub const PASSWORD_MAX_CHARS: usize = 1024;
