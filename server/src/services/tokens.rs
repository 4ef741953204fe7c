//! API tokens for the mobile app and scripts.

use app::model::account::CreatedToken;
use chrono::Utc;

use super::{Origin, ServiceError, Services};
use crate::{
    auth::{Actor, token},
    store::tokens::{NewToken, TokenPage},
};

/// Longest token label, in characters.
const LABEL_MAX_CHARS: usize = 100;

impl Services {
    /// Creates a token for the account with this email and password. The secret is in the answer only.
    pub async fn create_token(
        &self,
        email: &str,
        plain: &str,
        label: &str,
        origin: &Origin,
    ) -> Result<CreatedToken, ServiceError> {
        let label = label.trim();
        if label.is_empty()
            || label.chars().count() > LABEL_MAX_CHARS
            || label.chars().any(char::is_control)
        {
            return Err(ServiceError::field(
                "label",
                format!("Name the token (1 to {LABEL_MAX_CHARS} characters), e.g. \"Phone\"."),
            ));
        }
        let user = self.authenticate(email, plain, origin).await?;
        let secret = token::generate();
        let id = uuid::Uuid::now_v7().to_string();
        let created_at = Utc::now();
        let new = NewToken {
            id: &id,
            user_id: &user.id,
            label,
            token_hash: &token::hash(&secret),
            prefix: &token::display_prefix(&secret),
        };
        self.store.token_insert(&new, created_at).await?;
        let actor = Actor::User(crate::auth::AuthenticatedUser {
            id: user.id.clone(),
            email: user.email.clone(),
            role: user.role,
            credential: crate::auth::Credential::Token(id.clone()),
        });
        self.audit(
            &actor,
            "token.created",
            format!("token:{id}"),
            serde_json::json!({ "label": label }),
            origin,
        )
        .await;
        Ok(CreatedToken {
            id,
            label: label.to_string(),
            token: secret,
            created_at,
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
