//! Accounts: signup, authentication with throttling, profile, password, deletion.

use std::{collections::BTreeMap, time::Duration};

use app::model::{
    account::{Role, User},
    recipe::Units,
};
use chrono::Utc;

use super::{Origin, ServiceError, Services};
use crate::{
    auth::{Actor, AuthenticatedUser, Credential, password, token},
    store::{StoreError, users::NewUser},
};

/// Failed logins allowed within [`FAILURE_WINDOW`] for one account from one client address: a
/// guesser is stopped here long before the owner, who signs in from another address, notices.
pub const FAILURE_LIMIT: i64 = 10;
/// Failed logins allowed from one client address over all accounts (guessing many accounts).
pub const ADDRESS_FAILURE_LIMIT: i64 = 50;
/// Failed logins allowed for one account over all addresses: the slow, global brake on guessing
/// from many addresses, high enough that one attacker cannot lock the owner out.
pub const ACCOUNT_FAILURE_LIMIT: i64 = 100;
/// The window failed logins, and signups per address, are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Longest email address, in bytes (RFC 5321's limit on a path).
const EMAIL_MAX_BYTES: usize = 254;
/// Longest display name, in characters.
const NAME_MAX_CHARS: usize = 100;

/// What a new account needs.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub email: String,
    pub password: String,
    pub name: Option<String>,
}

/// Changes to one's own profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub name: Option<String>,
    pub email: Option<String>,
    /// `metric` or `imperial`.
    pub units: Option<String>,
    /// The account's password, needed to change the email (whoever holds a session alone must not
    /// take the account over by moving its email).
    pub current_password: Option<String>,
}

fn check_email(email: &str, errors: &mut BTreeMap<&'static str, String>) {
    if email.is_empty() {
        errors.insert("email", "Enter your email address.".to_string());
    } else if email.len() > EMAIL_MAX_BYTES
        || !email_address::EmailAddress::is_valid(email)
        || !email.contains('.')
    {
        errors.insert(
            "email",
            "Enter a valid email address, like brewer@example.com.".to_string(),
        );
    }
}

fn check_name(name: &str, errors: &mut BTreeMap<&'static str, String>) {
    if name.chars().count() > NAME_MAX_CHARS {
        errors.insert("name", format!("Use at most {NAME_MAX_CHARS} characters."));
    } else if name.chars().any(char::is_control) {
        errors.insert(
            "name",
            "Use letters, digits and punctuation only.".to_string(),
        );
    }
}

fn ok_or_invalid(errors: BTreeMap<&'static str, String>) -> Result<(), ServiceError> {
    if errors.is_empty() {
        Ok(())
    } else {
        ServiceError::check_fields(errors)
    }
}

fn email_taken() -> ServiceError {
    ServiceError::field("email", "An account with this email exists already.")
}

/// The actor a signed-in user becomes.
fn user_actor(user: &User, credential: Credential) -> Actor {
    Actor::User(AuthenticatedUser {
        id: user.id.clone(),
        email: user.email.clone(),
        role: user.role,
        credential,
    })
}

impl Services {
    /// Creates an account. Anyone may sign up as a brewer; only the system (CLI) or staff create staff.
    pub async fn create_account(
        &self,
        actor: &Actor,
        account: NewAccount,
        role: Role,
        origin: &Origin,
    ) -> Result<User, ServiceError> {
        if role == Role::Staff && !matches!(actor, Actor::System) {
            actor.require_staff()?;
        }
        let email = account.email.trim().to_string();
        let name = account.name.unwrap_or_default().trim().to_string();
        let mut errors = BTreeMap::new();
        check_email(&email, &mut errors);
        check_name(&name, &mut errors);
        if let Err(message) = password::validate(&account.password) {
            errors.insert("password", message);
        }
        ok_or_invalid(errors)?;
        // Before any hashing: a taken email costs the server nothing.
        if self.store.user_by_email(&email).await?.is_some() {
            return Err(email_taken());
        }
        // Public signups are counted per client address before the work, so that parallel ones
        // cannot outrun the limit; a signup that fails is not counted.
        let signup = match (actor, origin.ip) {
            (Actor::Anonymous, Some(ip)) => Some(self.count_signup(ip).await?),
            _ => None,
        };
        let created = self
            .insert_account(email, name, account.password, role)
            .await;
        let user = match (created, signup) {
            (Ok(user), _) => user,
            (Err(error), Some(attempt)) => {
                self.store.login_failures_delete(&attempt).await?;
                return Err(error);
            }
            (Err(error), None) => return Err(error),
        };
        let creator = if matches!(actor, Actor::Anonymous) {
            user_actor(&user, Credential::Session)
        } else {
            actor.clone()
        };
        self.audit(
            &creator,
            "account.created",
            format!("user:{}", user.id),
            serde_json::json!({ "role": role.as_str() }),
            origin,
        )
        .await;
        Ok(user)
    }

    /// Counts a public signup from `ip`, or refuses it when the address made its
    /// `signups_per_address` within [`FAILURE_WINDOW`]. Returns the count's row ids.
    async fn count_signup(&self, ip: std::net::IpAddr) -> Result<Vec<i64>, ServiceError> {
        let key = format!("signup:ip:{ip}");
        let attempt = self.store.login_failure_record(&[&key], Utc::now()).await?;
        if let Err(refused) = self
            .check_throttle(&[(&key, i64::from(self.signup_limit))])
            .await
        {
            self.store.login_failures_delete(&attempt).await?;
            return Err(refused);
        }
        Ok(attempt)
    }

    /// Hashes the password and stores the account.
    async fn insert_account(
        &self,
        email: String,
        name: String,
        plain: String,
        role: Role,
    ) -> Result<User, ServiceError> {
        let password_hash = self
            .hashing(move || password::hash(&plain))
            .await?
            .map_err(|error| ServiceError::Internal(error.to_string()))?;
        let id = uuid::Uuid::now_v7().to_string();
        let new = NewUser {
            id: &id,
            email: &email,
            name: &name,
            password_hash: &password_hash,
            role,
        };
        match self.store.user_insert(&new, Utc::now()).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(email_taken()),
            Err(error) => return Err(error.into()),
        }
        Ok(self
            .store
            .user_by_id(&id)
            .await?
            .ok_or(ServiceError::NotFound)?
            .user)
    }

    /// Checks an email and password. Throttled per account and per client address; an unknown email
    /// gets the same answer, after the same work, as a wrong password.
    pub async fn authenticate(
        &self,
        email: &str,
        plain: &str,
        origin: &Origin,
    ) -> Result<User, ServiceError> {
        // No account has a longer email (signup caps it), and nothing this long reaches an index.
        if email.trim().len() > EMAIL_MAX_BYTES {
            return Err(ServiceError::InvalidCredentials);
        }
        let email_key = crate::store::users::email_key(email);
        let account_key = format!("email:{email_key}");
        // Without a known address (never over HTTP) the account alone is the pair.
        let ip = origin
            .ip
            .map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        let pair_key = format!("login:{email_key}:{ip}");
        let address_key = format!("ip:{ip}");
        let limits = [
            (pair_key.as_str(), FAILURE_LIMIT),
            (address_key.as_str(), ADDRESS_FAILURE_LIMIT),
            (account_key.as_str(), ACCOUNT_FAILURE_LIMIT),
        ];
        let keys = limits.map(|(key, _)| key);
        // The attempt counts before the password is checked, so parallel guesses cannot outrun the
        // throttle; it is forgotten if it succeeds or is refused by the throttle itself.
        let now = Utc::now();
        let attempt = self.store.login_failure_record(&keys, now).await?;
        if let Err(refused) = self.check_throttle(&limits).await {
            self.store.login_failures_delete(&attempt).await?;
            return Err(refused);
        }

        let record = self.store.user_by_email(email).await?;
        let candidate = plain.to_string();
        let checked = match record.as_ref() {
            Some(record) => {
                let stored = record.password_hash.clone();
                self.hashing(move || password::verify(&candidate, &stored))
                    .await
            }
            None => self
                .hashing(move || password::verify_against_dummy(&candidate))
                .await
                .map(|()| false),
        };
        let matches = match checked {
            Ok(matches) => matches,
            Err(error) => {
                // Not checked (the server was busy): not a failed attempt either.
                self.store.login_failures_delete(&attempt).await?;
                return Err(error);
            }
        };
        // A failed attempt on a known account is recorded about that account.
        let subject = record
            .as_ref()
            .map(|record| format!("user:{}", record.user.id))
            .unwrap_or_default();
        let Some(record) = record.filter(|_| matches) else {
            for key in &keys {
                self.store
                    .login_failures_prune(key, now - FAILURE_WINDOW)
                    .await?;
            }
            let detail = serde_json::json!({ "email": email.trim() });
            self.audit(
                &Actor::Anonymous,
                "auth.login_failed",
                subject,
                detail,
                origin,
            )
            .await;
            return Err(ServiceError::InvalidCredentials);
        };
        self.store.login_failures_delete(&attempt).await?;
        if record.user.disabled {
            return Err(ServiceError::AccountDisabled);
        }
        self.store.login_failures_clear(&pair_key).await?;
        Ok(record.user)
    }

    /// Refuses when any key has more than its limit of recent entries, saying when to try again.
    async fn check_throttle(&self, limits: &[(&str, i64)]) -> Result<(), ServiceError> {
        let now = Utc::now();
        for (key, limit) in limits {
            let (failures, oldest) = self
                .store
                .login_failures_since(key, now - FAILURE_WINDOW)
                .await?;
            // This attempt is counted already.
            if failures > *limit {
                let free_at = oldest.unwrap_or(now) + FAILURE_WINDOW;
                let retry_after = (free_at - now)
                    .to_std()
                    .unwrap_or_default()
                    .max(Duration::from_secs(1));
                return Err(ServiceError::TooManyAttempts { retry_after });
            }
        }
        Ok(())
    }

    /// Logs a user in for a web session: authenticates and records the login.
    pub async fn login(
        &self,
        email: &str,
        plain: &str,
        origin: &Origin,
    ) -> Result<User, ServiceError> {
        let user = self.authenticate(email, plain, origin).await?;
        let actor = user_actor(&user, Credential::Session);
        self.audit(
            &actor,
            "auth.login",
            format!("user:{}", user.id),
            serde_json::json!({}),
            origin,
        )
        .await;
        Ok(user)
    }

    /// The actor behind a session's user id: anonymous when the user is gone or disabled.
    pub async fn actor_for_session(&self, user_id: &str) -> Result<Actor, ServiceError> {
        Ok(match self.store.user_by_id(user_id).await? {
            Some(record) if !record.user.disabled => user_actor(&record.user, Credential::Session),
            _ => Actor::Anonymous,
        })
    }

    /// The actor behind an API token; `None` when the token is unknown, revoked or its user disabled.
    pub async fn actor_for_token(&self, secret: &str) -> Result<Option<Actor>, ServiceError> {
        let Some(grant) = self.store.token_owner(&token::hash(secret)).await? else {
            return Ok(None);
        };
        let now = Utc::now();
        if grant.owner.user.disabled || grant.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        // Keep "last used" to the minute without a write on every request.
        if grant
            .last_used_at
            .is_none_or(|last| now - last > chrono::Duration::minutes(1))
        {
            self.store.token_touch(&grant.id, now).await?;
        }
        let credential = Credential::Token {
            id: grant.id,
            scope: grant.scope,
        };
        Ok(Some(user_actor(&grant.owner.user, credential)))
    }

    /// The caller's own account.
    pub async fn me(&self, actor: &Actor) -> Result<User, ServiceError> {
        let me = actor.require_user()?;
        Ok(self
            .store
            .user_by_id(&me.id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?
            .user)
    }

    /// Changes the caller's name, email and/or units.
    pub async fn update_me(
        &self,
        actor: &Actor,
        change: ProfileChange,
        origin: &Origin,
    ) -> Result<User, ServiceError> {
        let current = self.me(actor).await?;
        let name = change
            .name
            .map_or(current.name.clone(), |name| name.trim().to_string());
        let email = change
            .email
            .map_or(current.email.clone(), |email| email.trim().to_string());
        let mut errors = BTreeMap::new();
        check_email(&email, &mut errors);
        check_name(&name, &mut errors);
        let units = match change.units.as_deref() {
            None => current.units,
            Some(text) => Units::parse(text).unwrap_or_else(|| {
                errors.insert("units", "Choose metric or imperial.".to_string());
                current.units
            }),
        };
        ok_or_invalid(errors)?;
        if email != current.email {
            match change
                .current_password
                .as_deref()
                .filter(|plain| !plain.is_empty())
            {
                None => {
                    return Err(ServiceError::field(
                        "current_password",
                        "Enter your password to change your email.",
                    ));
                }
                Some(plain) => {
                    self.check_own_password(&current, plain, "current_password", origin)
                        .await?;
                }
            }
        }
        match self
            .store
            .user_update_profile(&current.id, &name, &email, units, Utc::now())
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(ServiceError::Unauthenticated),
            Err(StoreError::Conflict) => {
                return Err(ServiceError::field(
                    "email",
                    "An account with this email exists already.",
                ));
            }
            Err(error) => return Err(error.into()),
        }
        self.audit(
            actor,
            "account.updated",
            format!("user:{}", current.id),
            serde_json::json!({}),
            origin,
        )
        .await;
        self.me(actor).await
    }

    /// Changes the caller's password after checking the current one, and ends every other session of
    /// theirs (`keep_session` is the caller's own, kept signed in).
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
        keep_session: Option<&str>,
        origin: &Origin,
    ) -> Result<(), ServiceError> {
        let me = self.me(actor).await?;
        self.check_own_password(&me, current, "current_password", origin)
            .await?;
        password::validate(new).map_err(|message| ServiceError::field("new_password", message))?;
        let plain = new.to_string();
        let hash = self
            .hashing(move || password::hash(&plain))
            .await?
            .map_err(|error| ServiceError::Internal(error.to_string()))?;
        self.store
            .user_set_password(&me.id, &hash, Utc::now())
            .await?;
        // Whoever knew the old password may have made sessions and tokens with it: they end.
        let ended = self
            .store
            .sessions_delete_of_user(&me.id, keep_session)
            .await?;
        let tokens_ended = self.store.tokens_delete_of_user(&me.id).await?;
        self.audit(
            actor,
            "account.password_changed",
            format!("user:{}", me.id),
            serde_json::json!({ "sessions_ended": ended, "tokens_ended": tokens_ended }),
            origin,
        )
        .await;
        Ok(())
    }

    /// Deletes the caller's account, with its tokens and sessions, after checking the password.
    pub async fn delete_me(
        &self,
        actor: &Actor,
        plain: &str,
        origin: &Origin,
    ) -> Result<(), ServiceError> {
        let me = self.me(actor).await?;
        self.check_own_password(&me, plain, "password", origin)
            .await?;
        // Devices first: their certificates must be revoked, not just forgotten.
        self.unregister_devices_of(actor, &me.id, origin).await?;
        self.store.user_delete(&me.id).await?;
        self.audit(
            actor,
            "account.deleted",
            format!("user:{}", me.id),
            serde_json::json!({}),
            origin,
        )
        .await;
        Ok(())
    }

    /// Re-checks a signed-in user's password (throttled like a login); a wrong one is a field error.
    async fn check_own_password(
        &self,
        me: &User,
        plain: &str,
        field: &'static str,
        origin: &Origin,
    ) -> Result<(), ServiceError> {
        match self.authenticate(&me.email, plain, origin).await {
            Ok(_) => Ok(()),
            Err(ServiceError::InvalidCredentials) => {
                Err(ServiceError::field(field, "This is not your password."))
            }
            Err(error) => Err(error),
        }
    }
}
