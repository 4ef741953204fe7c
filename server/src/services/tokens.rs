//! API tokens for the mobile app and scripts.

use app::model::account::{CreatedToken, Role, TokenScope};
use chrono::Utc;

use super::{Origin, ServiceError, Services};
use crate::{
    auth::{Actor, token},
    store::tokens::{NewToken, TokenPage},
};

/// Longest token label, in characters.
const LABEL_MAX_CHARS: usize = 100;
/// Longest lifetime a token may be given, days (ten years).
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// What a new token is to be.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub label: String,
    pub scope: TokenScope,
    /// Days until it stops working; `None`: until revoked.
    pub expires_in_days: Option<u32>,
}

impl Services {
    /// Creates a token for the account with this email and password. The secret is in the answer only.
    /// The admin scope is for staff accounts.
    pub async fn create_token(
        &self,
        email: &str,
        plain: &str,
        request: &TokenRequest,
        origin: &Origin,
    ) -> Result<CreatedToken, ServiceError> {
        let label = request.label.trim();
        if label.is_empty()
            || label.chars().count() > LABEL_MAX_CHARS
            || label.chars().any(char::is_control)
        {
            return Err(ServiceError::field(
                "label",
                format!("Name the token (1 to {LABEL_MAX_CHARS} characters), e.g. \"Phone\"."),
            ));
        }
        if request
            .expires_in_days
            .is_some_and(|days| !(1..=MAX_TOKEN_DAYS).contains(&days))
        {
            return Err(ServiceError::field(
                "expires_in_days",
                format!("Give 1 to {MAX_TOKEN_DAYS} days, or leave it out for no expiry."),
            ));
        }
        let user = self.authenticate(email, plain, origin).await?;
        if request.scope == TokenScope::Admin && user.role != Role::Staff {
            return Err(ServiceError::field(
                "scope",
                "Only staff accounts can make admin tokens.",
            ));
        }
        let secret = token::generate();
        let id = uuid::Uuid::now_v7().to_string();
        let created_at = Utc::now();
        // To the millisecond, as stored: the answer shows what the list will show.
        let expires_at = request.expires_in_days.map(|days| {
            let at = created_at + chrono::Duration::days(i64::from(days));
            crate::store::from_millis(crate::store::to_millis(at))
        });
        let new = NewToken {
            id: &id,
            user_id: &user.id,
            label,
            token_hash: &token::hash(&secret),
            prefix: &token::display_prefix(&secret),
            scope: request.scope,
            expires_at,
        };
        self.store.token_insert(&new, created_at).await?;
        let actor = Actor::User(crate::auth::AuthenticatedUser {
            id: user.id.clone(),
            email: user.email.clone(),
            role: user.role,
            credential: crate::auth::Credential::Token {
                id: id.clone(),
                scope: request.scope,
            },
        });
        self.audit(
            &actor,
            "token.created",
            format!("token:{id}"),
            serde_json::json!({
                "label": label,
                "scope": request.scope.as_str(),
                "expires_at": expires_at,
            }),
            origin,
        )
        .await;
        Ok(CreatedToken {
            id,
            label: label.to_string(),
            token: secret,
            scope: request.scope,
            created_at,
            expires_at,
        })
    }

    /// The caller's tokens, oldest first.
    pub async fn list_tokens(
        &self,
        actor: &Actor,
        after: Option<&str>,
        limit: u32,
    ) -> Result<TokenPage, ServiceError> {
        let me = actor.require_user()?;
        Ok(self.store.tokens_of_user(&me.id, after, limit).await?)
    }

    /// Revokes one of the caller's tokens; another user's token is reported as not found.
    pub async fn revoke_token(
        &self,
        actor: &Actor,
        token_id: &str,
        origin: &Origin,
    ) -> Result<(), ServiceError> {
        let me = actor.require_user()?;
        if !self.store.token_delete(&me.id, token_id).await? {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            actor,
            "token.revoked",
            format!("token:{token_id}"),
            serde_json::json!({}),
            origin,
        )
        .await;
        Ok(())
    }
}
