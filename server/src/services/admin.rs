//! The admin site's operations: staff only, every one. Users (search, detail, disable/enable,
//! promote/demote, never leaving the service without an enabled staff account), the fleet (search,
//! revoke a certificate, force a disconnect), broker and bridge figures, the audit log, grouped errors
//! and the message inspector. Every change is audited as `admin.*`.

use app::model::{
    account::{Role, User},
    admin::{
        AdminUser, AdminUserDetail, AuditEntry, AuditFilter, BrokerStatus, ErrorGroup, FleetDevice,
        FleetFilter, InspectedMessage, SessionInfo,
    },
    page::Page,
};
use chrono::Utc;
use serde_json::json;
use tokio::sync::broadcast;

use super::{Origin, ServiceError, Services};
use crate::{
    auth::Actor,
    store::{audit::AuditQuery, devices::FleetQuery, errors::ErrorGroupKey, users::StaffChange},
};

/// Longest search text, in characters.
const QUERY_MAX_CHARS: usize = 200;

fn check_query(query: &str) -> Result<(), ServiceError> {
    if query.chars().count() > QUERY_MAX_CHARS {
        Err(ServiceError::field(
            "query",
            format!("Use at most {QUERY_MAX_CHARS} characters."),
        ))
    } else {
        Ok(())
    }
}

impl Services {
    /// Users whose email or name contains `query`, oldest first, one page.
    pub async fn admin_users(
        &self,
        actor: &Actor,
        query: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AdminUser>, ServiceError> {
        actor.require_staff()?;
        check_query(query)?;
        let page = self.store.users_search(query, cursor, limit).await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|(user, devices)| AdminUser { user, devices })
                .collect(),
            next_cursor: page.next_after,
        })
    }

    /// One user with their devices, open sessions and tokens.
    pub async fn admin_user(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<AdminUserDetail, ServiceError> {
        actor.require_staff()?;
        let user = self
            .store
            .user_by_id(id)
            .await?
            .ok_or(ServiceError::NotFound)?
            .user;
        let now = Utc::now();
        let (devices, _) = self
            .store
            .fleet(
                &FleetQuery {
                    owner_id: Some(id),
                    limit: 500,
                    ..FleetQuery::default()
                },
                now,
            )
            .await?;
        let sessions = self
            .store
            .sessions_of_user(id, now.timestamp_millis())
            .await?
            .into_iter()
            .map(|(stored_id, expires_ms)| SessionInfo {
                fingerprint: stored_id.chars().take(8).collect(),
                expires_at: crate::store::from_millis(expires_ms),
            })
            .collect();
        let tokens = self.store.tokens_of_user(id, None, 500).await?.items;
        Ok(AdminUserDetail {
            user,
            devices,
            sessions,
            tokens,
        })
    }

    /// Disables or enables an account. A disabled user's sessions and tokens are deleted at once, so
    /// enabling the account again does not revive them; the last enabled staff account cannot be
    /// disabled.
    pub async fn admin_set_disabled(
        &self,
        actor: &Actor,
        id: &str,
        disabled: bool,
        origin: &Origin,
    ) -> Result<User, ServiceError> {
        actor.require_staff()?;
        let now = Utc::now();
        if disabled {
            staff_change(self.store.user_disable(id, now).await?)?;
            // Enabling the account again must not bring them back.
            self.store.sessions_delete_of_user(id, None).await?;
            self.store.tokens_delete_of_user(id).await?;
        } else if !self.store.user_set_disabled(id, None).await? {
            return Err(ServiceError::NotFound);
        }
        let action = if disabled {
            "admin.user_disabled"
        } else {
            "admin.user_enabled"
        };
        self.audit(actor, action, format!("user:{id}"), json!({}), origin)
            .await;
        self.admin_user_record(id).await
    }

    /// Makes a user staff or a brewer; the last enabled staff account cannot be demoted.
    pub async fn admin_set_role(
        &self,
        actor: &Actor,
        id: &str,
        role: Role,
        origin: &Origin,
    ) -> Result<User, ServiceError> {
        actor.require_staff()?;
        staff_change(self.store.user_set_role(id, role, Utc::now()).await?)?;
        self.audit(
            actor,
            "admin.role_changed",
            format!("user:{id}"),
            json!({ "role": role.as_str() }),
            origin,
        )
        .await;
        self.admin_user_record(id).await
    }

    async fn admin_user_record(&self, id: &str) -> Result<User, ServiceError> {
        Ok(self
            .store
            .user_by_id(id)
            .await?
            .ok_or(ServiceError::NotFound)?
            .user)
    }

    /// Every user's devices, filtered, one page.
    pub async fn admin_fleet(
        &self,
        actor: &Actor,
        filter: &FleetFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<FleetDevice>, ServiceError> {
        actor.require_staff()?;
        let text = filter.query.as_deref().unwrap_or("");
        check_query(text)?;
        let (rows, next) = self
            .store
            .fleet(
                &FleetQuery {
                    text,
                    online: filter.online,
                    owner_id: filter.owner_id.as_deref(),
                    after: cursor,
                    limit,
                },
                Utc::now(),
            )
            .await?;
        Ok(Page {
            items: rows,
            next_cursor: next,
        })
    }

    /// Revokes a device's certificate: the device is disconnected and cannot connect again until its
    /// owner rotates the certificate. Answers the serials revoked.
    pub async fn admin_revoke_certificate(
        &self,
        actor: &Actor,
        device_id: &str,
        origin: &Origin,
    ) -> Result<Vec<String>, ServiceError> {
        actor.require_staff()?;
        let revoked = self
            .store
            .certificates_revoke(device_id, Utc::now())
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.after_revocation(device_id).await?;
        self.audit(
            actor,
            "admin.certificate_revoked",
            format!("device:{device_id}"),
            json!({ "revoked": revoked }),
            origin,
        )
        .await;
        Ok(revoked)
    }

    /// Drops a device's connection to the embedded broker (it may reconnect). Answers whether it was
    /// connected. An external broker is disconnected with its own tools.
    pub async fn admin_disconnect_device(
        &self,
        actor: &Actor,
        device_id: &str,
        origin: &Origin,
    ) -> Result<bool, ServiceError> {
        actor.require_staff()?;
        self.store
            .device_by_id(device_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let broker =
            self.device_support()?
                .broker
                .as_ref()
                .ok_or_else(|| ServiceError::Conflict {
                    code: "external_broker",
                    message:
                        "The server uses an external MQTT broker: disconnect the client there \
                          (or revoke the device's certificate)."
                            .to_string(),
                })?;
        let was_connected = broker.disconnect(device_id).await;
        self.audit(
            actor,
            "admin.device_disconnected",
            format!("device:{device_id}"),
            json!({ "was_connected": was_connected }),
            origin,
        )
        .await;
        Ok(was_connected)
    }

    /// Broker and bridge figures with the last minutes' history.
    pub fn admin_broker_status(&self, actor: &Actor) -> Result<BrokerStatus, ServiceError> {
        actor.require_staff()?;
        Ok(self.device_support()?.monitor.status())
    }

    /// Audit entries matching `filter`, newest first, one page (the cursor is the last entry's id).
    pub async fn admin_audit(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditEntry>, ServiceError> {
        actor.require_staff()?;
        let before = cursor
            .map(|cursor| {
                cursor
                    .parse::<i64>()
                    .map_err(|_| ServiceError::field("cursor", "Use the next_cursor of a page."))
            })
            .transpose()?;
        for text in [&filter.user_id, &filter.device_id, &filter.kind]
            .into_iter()
            .flatten()
        {
            check_query(text)?;
        }
        let query = AuditQuery {
            user_id: filter.user_id.as_deref().filter(|text| !text.is_empty()),
            device_id: filter.device_id.as_deref().filter(|text| !text.is_empty()),
            kind: filter.kind.as_deref().filter(|text| !text.is_empty()),
            from: filter.from,
            to: filter.to,
        };
        let page = self.store.audit_search(&query, before, limit).await?;
        Ok(Page {
            items: page.items,
            next_cursor: page.next_before.map(|id| id.to_string()),
        })
    }

    /// Errors grouped by kind, the most recently seen first.
    pub async fn admin_errors(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<ErrorGroup>, ServiceError> {
        actor.require_staff()?;
        let after = cursor
            .map(|cursor| {
                ErrorGroupKey::parse(cursor)
                    .ok_or_else(|| ServiceError::field("cursor", "Use the next_cursor of a page."))
            })
            .transpose()?;
        let mut items = self.store.error_groups(after.as_ref(), limit + 1).await?;
        let next_cursor = (items.len() > limit as usize).then(|| {
            items.truncate(limit as usize);
            items.last().map(|last| ErrorGroupKey::of(last).cursor())
        });
        Ok(Page {
            items,
            next_cursor: next_cursor.flatten(),
        })
    }

    /// Every MQTT message of every device from now on, decoded; the caller keeps those of `device_id`
    /// (which must exist).
    pub async fn admin_inspect(
        &self,
        actor: &Actor,
        device_id: &str,
    ) -> Result<broadcast::Receiver<InspectedMessage>, ServiceError> {
        actor.require_staff()?;
        let receiver = self.device_support()?.inspector.subscribe();
        self.store
            .device_by_id(device_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(receiver)
    }

    /// Whether an inspector stream opened by `actor` may go on: the credential still holds and the
    /// caller is still staff.
    pub async fn may_keep_inspecting(&self, actor: &Actor, session_id: Option<&str>) -> bool {
        self.caller_now(actor, session_id)
            .await
            .is_some_and(|now| now.require_staff().is_ok())
    }
}

fn staff_change(change: StaffChange) -> Result<(), ServiceError> {
    match change {
        StaffChange::Done => Ok(()),
        StaffChange::NoSuchUser => Err(ServiceError::NotFound),
        StaffChange::LastStaff => Err(ServiceError::Conflict {
            code: "last_staff",
            message: "This is the last enabled staff account: promote someone else first."
                .to_string(),
        }),
    }
}
