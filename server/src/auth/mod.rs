//! Who is calling, and the rules that decide what they may do. Every service function receives an
//! [`Actor`] and asks it, so the web pages, server functions, the JSON API and the CLI share one policy.

pub mod password;
pub mod session_store;
pub mod token;

pub use app::model::account::Role;

/// The caller of a service function.
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    /// Nobody signed in.
    Anonymous,
    /// A signed-in user (web session or API token).
    User(AuthenticatedUser),
    /// A device, identified by its certificate.
    Device(String),
    /// The server itself or its operator at the command line.
    System,
}

/// A signed-in user and how they proved it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticatedUser {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub credential: Credential,
}

/// How a user authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    /// A web session cookie.
    Session,
    /// An API token: its id and what it may do.
    Token {
        id: String,
        scope: app::model::account::TokenScope,
    },
}

/// Why the policy refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("sign in first")]
    Unauthenticated,
    #[error("not allowed")]
    Forbidden,
}

impl Actor {
    /// The signed-in user; anyone else is refused.
    pub fn require_user(&self) -> Result<&AuthenticatedUser, Denied> {
        match self {
            Self::User(user) => Ok(user),
            Self::Anonymous => Err(Denied::Unauthenticated),
            Self::Device(_) | Self::System => Err(Denied::Forbidden),
        }
    }

    /// A signed-in staff member; anyone else is refused.
    pub fn require_staff(&self) -> Result<&AuthenticatedUser, Denied> {
        let user = self.require_user()?;
        if user.role == Role::Staff {
            Ok(user)
        } else {
            Err(Denied::Forbidden)
        }
    }

    /// The owner of a thing, or staff. Things of other users are reported as absent by the caller,
    /// so this only answers whether the actor may act at all.
    pub fn may_access_owned_by(&self, owner_id: &str) -> bool {
        match self {
            Self::User(user) => user.id == owner_id || user.role == Role::Staff,
            Self::System => true,
            Self::Anonymous | Self::Device(_) => false,
        }
    }

    /// How the audit log names this actor.
    pub fn audit_name(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".to_string(),
            Self::User(user) => format!("user:{}", user.id),
            Self::Device(id) => format!("device:{id}"),
            Self::System => "system".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, role: Role) -> Actor {
        Actor::User(AuthenticatedUser {
            id: id.to_string(),
            email: format!("{id}@example.com"),
            role,
            credential: Credential::Session,
        })
    }

    #[test]
    fn policy_table() {
        let brewer = user("u1", Role::Brewer);
        let other = user("u2", Role::Brewer);
        let staff = user("s1", Role::Staff);
        assert!(brewer.require_user().is_ok());
        assert_eq!(
            Actor::Anonymous.require_user(),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(
            Actor::Device("d".into()).require_user(),
            Err(Denied::Forbidden)
        );
        assert_eq!(brewer.require_staff(), Err(Denied::Forbidden));
        assert!(staff.require_staff().is_ok());
        assert!(brewer.may_access_owned_by("u1"));
        assert!(!other.may_access_owned_by("u1"));
        assert!(staff.may_access_owned_by("u1"));
        assert!(!Actor::Anonymous.may_access_owned_by("u1"));
    }
}
