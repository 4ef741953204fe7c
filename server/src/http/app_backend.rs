//! The server's side of the Leptos server functions (see `app::server_fns::backend`).

use app::{
    model::{
        account::{ApiToken, User},
        admin::{
            AdminUser, AdminUserDetail, AuditEntry, AuditFilter, BrokerStatus, ErrorGroup,
            FleetDevice, FleetFilter,
        },
        control::{ControlAnswer, ControlRequest},
        device::{Device, DeviceDetail},
        flash::Flash,
        page::Page,
        recipe::{Recipe, RecipeBody},
        session::{BrewSession, PlannedStep},
        telemetry::{CommandRecord, DeviceError, DeviceStatus, Series},
    },
    server_fns::backend::Backend,
};
use axum::http::request::Parts;

use super::sessions;
use crate::{
    auth::Actor,
    services::{
        Origin, ServiceError, Services,
        commands::{DeviceCommand, PinMode},
        telemetry::SeriesQuery,
    },
};

/// Answers server functions with the services, as the request's actor.
pub struct AppBackend {
    pub services: Services,
    /// The flash cookie's name, and whether cookies are Secure.
    pub flash_cookie: String,
    pub secure_cookies: bool,
}

fn actor(request: &Parts) -> Actor {
    request
        .extensions
        .get::<Actor>()
        .cloned()
        .unwrap_or(Actor::Anonymous)
}

/// Where the request came from, for the audit log.
fn origin(request: &Parts) -> Origin {
    request
        .extensions
        .get::<Origin>()
        .cloned()
        .unwrap_or_default()
}

fn message(error: ServiceError) -> String {
    super::Problem::from(error).detail
}

#[async_trait::async_trait]
impl Backend for AppBackend {
    async fn current_user(&self, request: &Parts) -> Result<Option<User>, String> {
        match self.services.me(&actor(request)).await {
            Ok(user) => Ok(Some(user)),
            Err(ServiceError::Unauthenticated | ServiceError::Forbidden) => Ok(None),
            Err(error) => Err(message(error)),
        }
    }

    async fn my_tokens(&self, request: &Parts) -> Result<Vec<ApiToken>, String> {
        // Everything a person can have: the page lists them all.
        let page = self
            .services
            .list_tokens(&actor(request), None, 500)
            .await
            .map_err(message)?;
        Ok(page.items)
    }

    async fn my_devices(&self, request: &Parts) -> Result<Vec<Device>, String> {
        let page = self
            .services
            .list_devices(&actor(request), None, 500)
            .await
            .map_err(message)?;
        Ok(page.items)
    }

    async fn device_detail(
        &self,
        request: &Parts,
        id: String,
    ) -> Result<Option<DeviceDetail>, String> {
        match self.services.device_detail(&actor(request), &id).await {
            Ok(detail) => Ok(Some(detail)),
            Err(ServiceError::NotFound | ServiceError::Unauthenticated) => Ok(None),
            Err(error) => Err(message(error)),
        }
    }

    async fn device_statuses(&self, request: &Parts) -> Result<Vec<DeviceStatus>, String> {
        self.services
            .device_statuses(&actor(request))
            .await
            .map_err(message)
    }

    async fn telemetry(
        &self,
        request: &Parts,
        id: String,
        from: String,
        to: String,
        bucket_s: Option<u64>,
    ) -> Result<Series, String> {
        let time = |text: &str| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|time| time.with_timezone(&chrono::Utc))
                .map_err(|_| format!("not an RFC 3339 time: {text}"))
        };
        let query = SeriesQuery {
            from: Some(time(&from)?),
            to: Some(time(&to)?),
            bucket_s,
        };
        self.services
            .telemetry_series(&actor(request), &id, query)
            .await
            .map_err(message)
    }

    async fn control(
        &self,
        request: &Parts,
        id: String,
        command: ControlRequest,
    ) -> Result<ControlAnswer, String> {
        let started = std::time::Instant::now();
        let answer = |outcome: &str, result, message| ControlAnswer {
            outcome: outcome.to_string(),
            result,
            message,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        let command = match device_command(command) {
            Ok(command) => command,
            Err(reason) => return Ok(answer("invalid", None, Some(reason))),
        };
        let origin = origin(request);
        Ok(
            match self
                .services
                .send_command(&actor(request), &id, command, &origin)
                .await
            {
                Ok(result) => answer("ok", Some(result), None),
                Err(ServiceError::DeviceOffline) => {
                    answer("offline", None, Some("The device is offline.".to_string()))
                }
                Err(ServiceError::DeviceTimeout) => answer(
                    "timeout",
                    None,
                    Some("The device did not answer in time.".to_string()),
                ),
                Err(ServiceError::DeviceRefused(reason)) => answer("refused", None, Some(reason)),
                Err(error @ ServiceError::Validation(_)) => {
                    answer("invalid", None, Some(message(error)))
                }
                Err(error) => answer("error", None, Some(message(error))),
            },
        )
    }

    async fn command_history(
        &self,
        request: &Parts,
        id: String,
    ) -> Result<Vec<CommandRecord>, String> {
        let (items, _) = self
            .services
            .command_history(&actor(request), &id, None, 50)
            .await
            .map_err(message)?;
        Ok(items)
    }

    async fn device_errors(&self, request: &Parts, id: String) -> Result<Vec<DeviceError>, String> {
        self.services
            .device_errors(&actor(request), &id, 20)
            .await
            .map_err(message)
    }

    async fn take_flash(&self, request: &Parts) -> Result<Option<Flash>, String> {
        let flash = sessions::read_flash(&request.headers, &self.flash_cookie);
        if flash.is_some()
            && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        {
            // Shown once: the page that shows it removes it.
            response.append_header(
                axum::http::header::SET_COOKIE,
                sessions::flash_gone(&self.flash_cookie, self.secure_cookies),
            );
        }
        Ok(flash)
    }

    async fn admin_users(
        &self,
        request: &Parts,
        query: String,
        cursor: Option<String>,
    ) -> Result<Page<AdminUser>, String> {
        self.services
            .admin_users(&actor(request), &query, cursor.as_deref(), ADMIN_PAGE)
            .await
            .map_err(message)
    }

    async fn admin_user(
        &self,
        request: &Parts,
        id: String,
    ) -> Result<Option<AdminUserDetail>, String> {
        match self.services.admin_user(&actor(request), &id).await {
            Ok(detail) => Ok(Some(detail)),
            Err(ServiceError::NotFound) => Ok(None),
            Err(error) => Err(message(error)),
        }
    }

    async fn admin_fleet(
        &self,
        request: &Parts,
        filter: FleetFilter,
        cursor: Option<String>,
    ) -> Result<Page<FleetDevice>, String> {
        self.services
            .admin_fleet(&actor(request), &filter, cursor.as_deref(), ADMIN_PAGE)
            .await
            .map_err(message)
    }

    async fn admin_broker(&self, request: &Parts) -> Result<BrokerStatus, String> {
        self.services
            .admin_broker_status(&actor(request))
            .map_err(message)
    }

    fn api_document(&self) -> serde_json::Value {
        serde_json::to_value(super::api::document()).unwrap_or_default()
    }

    async fn admin_audit(
        &self,
        request: &Parts,
        filter: AuditFilter,
        cursor: Option<String>,
    ) -> Result<Page<AuditEntry>, String> {
        self.services
            .admin_audit(&actor(request), &filter, cursor.as_deref(), ADMIN_PAGE)
            .await
            .map_err(message)
    }

    async fn admin_errors(&self, request: &Parts) -> Result<Vec<ErrorGroup>, String> {
        self.services
            .admin_errors(&actor(request), None, ERROR_KINDS_SHOWN)
            .await
            .map(|page| page.items)
            .map_err(message)
    }

    async fn my_recipes(
        &self,
        request: &Parts,
        query: String,
        cursor: Option<String>,
    ) -> Result<Page<Recipe>, String> {
        self.services
            .list_recipes(&actor(request), &query, cursor.as_deref(), ADMIN_PAGE)
            .await
            .map_err(message)
    }

    async fn recipe(&self, request: &Parts, id: String) -> Result<Option<Recipe>, String> {
        match self.services.recipe(&actor(request), &id).await {
            Ok(recipe) => Ok(Some(recipe)),
            Err(ServiceError::NotFound | ServiceError::Unauthenticated) => Ok(None),
            Err(error) => Err(message(error)),
        }
    }

    async fn save_recipe(
        &self,
        request: &Parts,
        id: Option<String>,
        body: RecipeBody,
    ) -> Result<Result<Recipe, std::collections::BTreeMap<String, String>>, String> {
        let actor = actor(request);
        let origin = origin(request);
        let saved = match id {
            Some(id) => {
                self.services
                    .update_recipe(&actor, &id, body, &origin)
                    .await
            }
            None => self.services.create_recipe(&actor, body, &origin).await,
        };
        match saved {
            Ok(recipe) => Ok(Ok(recipe)),
            Err(ServiceError::Validation(fields)) => Ok(Err(fields)),
            Err(error) => Err(message(error)),
        }
    }

    async fn plan_session(
        &self,
        request: &Parts,
        device_id: String,
        recipe_id: String,
    ) -> Result<Result<Vec<PlannedStep>, String>, String> {
        match self
            .services
            .plan_session(&actor(request), &device_id, &recipe_id)
            .await
        {
            Ok((_, plan)) => Ok(Ok(plan.steps)),
            Err(ServiceError::Conflict { message, .. }) => Ok(Err(message)),
            Err(error) => Ok(Err(message(error))),
        }
    }

    async fn brew_session(
        &self,
        request: &Parts,
        id: String,
    ) -> Result<Option<BrewSession>, String> {
        match self.services.brew_session(&actor(request), &id).await {
            Ok(session) => Ok(Some(session)),
            Err(ServiceError::NotFound | ServiceError::Unauthenticated) => Ok(None),
            Err(error) => Err(message(error)),
        }
    }

    async fn my_sessions(&self, request: &Parts) -> Result<Vec<BrewSession>, String> {
        Ok(self
            .services
            .list_sessions(&actor(request), None, ADMIN_PAGE)
            .await
            .map_err(message)?
            .items)
    }
}

/// The service command for a page's request.
fn device_command(request: ControlRequest) -> Result<DeviceCommand, String> {
    Ok(match request {
        ControlRequest::GpioGet { pin } => DeviceCommand::GpioGet { pin },
        ControlRequest::GpioSet { pin, value, mode } => {
            let mode = match mode.as_deref() {
                None | Some("") => None,
                Some("input") => Some(PinMode::Input),
                Some("output") => Some(PinMode::Output),
                Some("input_pullup") => Some(PinMode::InputPullup),
                Some(other) => return Err(format!("unknown pin mode {other}")),
            };
            DeviceCommand::GpioSet { pin, value, mode }
        }
        ControlRequest::RtcGet => DeviceCommand::RtcGet,
        ControlRequest::RtcSet { time } => DeviceCommand::RtcSet { time },
        ControlRequest::NetworkGet => DeviceCommand::NetworkGet,
        ControlRequest::Reset => DeviceCommand::Reset,
        ControlRequest::UartWrite { data, hex: false } => DeviceCommand::UartWrite {
            data: data.into_bytes(),
        },
        ControlRequest::UartWrite { data, hex: true } => DeviceCommand::UartWrite {
            data: hex::decode(data.replace([' ', ':'], ""))
                .map_err(|_| "not hexadecimal (e.g. 48 65 6c)".to_string())?,
        },
    })
}

/// Rows per page of the lists pages show.
const ADMIN_PAGE: u32 = 50;
/// How many error kinds the admin page shows (the most recently seen; kinds are few).
const ERROR_KINDS_SHOWN: u32 = 500;
