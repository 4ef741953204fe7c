//! Server functions: what pages load from the server. Thin adapters: on the server they call the
//! [`backend::Backend`] the server provides in the Leptos context, which calls the services.

use leptos::prelude::*;

use crate::model::{
    account::{ApiToken, User},
    admin::{
        AdminUser, AdminUserDetail, AuditEntry, AuditFilter, BrokerStatus, ErrorGroup, FleetDevice,
        FleetFilter,
    },
    control::{ControlAnswer, ControlRequest},
    device::{Device, DeviceDetail},
    flash::Flash,
    page::Page,
    recipe::{Recipe, RecipeBody},
    session::{BrewSession, PlannedStep},
    telemetry::{CommandRecord, DeviceError, DeviceStatus, Series},
};

/// The server side of the server functions (compiled into the server only).
#[cfg(feature = "ssr")]
pub mod backend {
    use std::sync::Arc;

    use http::request::Parts;
    use leptos::prelude::*;

    use std::collections::BTreeMap;

    use crate::model::{
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
    };

    /// What the server provides to server functions; each method gets the request (its session and
    /// the resolved caller are in its extensions).
    #[async_trait::async_trait]
    pub trait Backend: Send + Sync + 'static {
        /// The signed-in user, if any.
        async fn current_user(&self, request: &Parts) -> Result<Option<User>, String>;
        /// The signed-in user's API tokens.
        async fn my_tokens(&self, request: &Parts) -> Result<Vec<ApiToken>, String>;
        /// Takes the flash the last form post left in the session.
        async fn take_flash(&self, request: &Parts) -> Result<Option<Flash>, String>;
        /// The signed-in user's devices.
        async fn my_devices(&self, request: &Parts) -> Result<Vec<Device>, String>;
        /// One device the caller may see, with its connection settings; `None` if there is none.
        async fn device_detail(
            &self,
            request: &Parts,
            id: String,
        ) -> Result<Option<DeviceDetail>, String>;
        /// The last known status of each of the caller's devices, in the order of `my_devices`.
        async fn device_statuses(&self, request: &Parts) -> Result<Vec<DeviceStatus>, String>;
        /// A device's downsampled history between two times (RFC 3339), in buckets of `bucket_s`.
        async fn telemetry(
            &self,
            request: &Parts,
            id: String,
            from: String,
            to: String,
            bucket_s: Option<u64>,
        ) -> Result<Series, String>;
        /// Sends a command to one of the caller's devices; failures are answers too.
        async fn control(
            &self,
            request: &Parts,
            id: String,
            command: ControlRequest,
        ) -> Result<ControlAnswer, String>;
        /// The commands sent to a device, newest first.
        async fn command_history(
            &self,
            request: &Parts,
            id: String,
        ) -> Result<Vec<CommandRecord>, String>;
        /// The payloads of a device that were refused, newest first.
        async fn device_errors(
            &self,
            request: &Parts,
            id: String,
        ) -> Result<Vec<DeviceError>, String>;
        /// Staff: users whose email or name contains `query`, one page.
        async fn admin_users(
            &self,
            request: &Parts,
            query: String,
            cursor: Option<String>,
        ) -> Result<Page<AdminUser>, String>;
        /// Staff: one user with devices, sessions and tokens; `None` if there is none.
        async fn admin_user(
            &self,
            request: &Parts,
            id: String,
        ) -> Result<Option<AdminUserDetail>, String>;
        /// Staff: the fleet, filtered, one page.
        async fn admin_fleet(
            &self,
            request: &Parts,
            filter: FleetFilter,
            cursor: Option<String>,
        ) -> Result<Page<FleetDevice>, String>;
        /// Staff: broker and bridge figures.
        async fn admin_broker(&self, request: &Parts) -> Result<BrokerStatus, String>;
        /// The JSON API's OpenAPI document.
        fn api_document(&self) -> serde_json::Value;
        /// Staff: the audit log, filtered, one page.
        async fn admin_audit(
            &self,
            request: &Parts,
            filter: AuditFilter,
            cursor: Option<String>,
        ) -> Result<Page<AuditEntry>, String>;
        /// Staff: errors grouped by kind.
        async fn admin_errors(&self, request: &Parts) -> Result<Vec<ErrorGroup>, String>;
        /// The caller's recipes whose name or style contains `query`, one page.
        async fn my_recipes(
            &self,
            request: &Parts,
            query: String,
            cursor: Option<String>,
        ) -> Result<Page<Recipe>, String>;
        /// A recipe the caller may read; `None` if there is none.
        async fn recipe(&self, request: &Parts, id: String) -> Result<Option<Recipe>, String>;
        /// Saves a new recipe (`id` `None`) or replaces one; invalid fields come back by name.
        async fn save_recipe(
            &self,
            request: &Parts,
            id: Option<String>,
            body: RecipeBody,
        ) -> Result<Result<Recipe, BTreeMap<String, String>>, String>;
        /// The steps a recipe would run on a device, or why it cannot.
        async fn plan_session(
            &self,
            request: &Parts,
            device_id: String,
            recipe_id: String,
        ) -> Result<Result<Vec<PlannedStep>, String>, String>;
        /// A brew session the caller may see; `None` if there is none.
        async fn brew_session(
            &self,
            request: &Parts,
            id: String,
        ) -> Result<Option<BrewSession>, String>;
        /// The caller's brew sessions, newest first.
        async fn my_sessions(&self, request: &Parts) -> Result<Vec<BrewSession>, String>;
    }

    /// The backend, as kept in the Leptos context.
    pub type SharedBackend = Arc<dyn Backend>;

    /// The backend and the current request.
    pub fn context() -> Result<(SharedBackend, Parts), ServerFnError> {
        let backend = use_context::<SharedBackend>()
            .ok_or_else(|| ServerFnError::new("no backend in context"))?;
        let parts =
            use_context::<Parts>().ok_or_else(|| ServerFnError::new("no request in context"))?;
        Ok((backend, parts))
    }
}

/// The signed-in user, if any.
#[server]
pub async fn current_user() -> Result<Option<User>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .current_user(&parts)
        .await
        .map_err(ServerFnError::new)
}

/// The signed-in user's API tokens.
#[server]
pub async fn my_tokens() -> Result<Vec<ApiToken>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend.my_tokens(&parts).await.map_err(ServerFnError::new)
}

/// The outcome of the last form post (shown once).
#[server]
pub async fn take_flash() -> Result<Option<Flash>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend.take_flash(&parts).await.map_err(ServerFnError::new)
}

/// The signed-in user's devices.
#[server]
pub async fn my_devices() -> Result<Vec<Device>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend.my_devices(&parts).await.map_err(ServerFnError::new)
}

/// One device with its connection settings (`None`: no such device of the caller's).
#[server]
pub async fn load_device(id: String) -> Result<Option<DeviceDetail>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .device_detail(&parts, id)
        .await
        .map_err(ServerFnError::new)
}

/// The last known status of each of the caller's devices.
#[server]
pub async fn device_statuses() -> Result<Vec<DeviceStatus>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .device_statuses(&parts)
        .await
        .map_err(ServerFnError::new)
}

/// A device's downsampled history between two RFC 3339 times.
#[server]
pub async fn load_telemetry(
    id: String,
    from: String,
    to: String,
    bucket_s: Option<u64>,
) -> Result<Series, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .telemetry(&parts, id, from, to, bucket_s)
        .await
        .map_err(ServerFnError::new)
}

/// Sends a command to a device and answers how it went.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn control_device(
    id: String,
    command: ControlRequest,
) -> Result<ControlAnswer, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .control(&parts, id, command)
        .await
        .map_err(ServerFnError::new)
}

/// The commands sent to a device, newest first.
#[server]
pub async fn load_commands(id: String) -> Result<Vec<CommandRecord>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .command_history(&parts, id)
        .await
        .map_err(ServerFnError::new)
}

/// The payloads of a device that were refused, newest first.
#[server]
pub async fn load_device_errors(id: String) -> Result<Vec<DeviceError>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .device_errors(&parts, id)
        .await
        .map_err(ServerFnError::new)
}

/// Staff: users whose email or name contains `query`, one page.
#[server]
pub async fn load_admin_users(
    query: String,
    cursor: Option<String>,
) -> Result<Page<AdminUser>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .admin_users(&parts, query, cursor)
        .await
        .map_err(ServerFnError::new)
}

/// Staff: one user with devices, sessions and tokens (`None`: no such user).
#[server]
pub async fn load_admin_user(id: String) -> Result<Option<AdminUserDetail>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .admin_user(&parts, id)
        .await
        .map_err(ServerFnError::new)
}

/// Staff: the fleet, filtered, one page.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn load_admin_fleet(
    filter: FleetFilter,
    cursor: Option<String>,
) -> Result<Page<FleetDevice>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .admin_fleet(&parts, filter, cursor)
        .await
        .map_err(ServerFnError::new)
}

/// The JSON API's OpenAPI document, for its documentation page.
#[server]
pub async fn load_api_document() -> Result<serde_json::Value, ServerFnError> {
    let (backend, _) = backend::context()?;
    Ok(backend.api_document())
}

/// Staff: broker and bridge figures with the last minutes' history.
#[server]
pub async fn load_admin_broker() -> Result<BrokerStatus, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .admin_broker(&parts)
        .await
        .map_err(ServerFnError::new)
}

/// Staff: the audit log, filtered, one page.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn load_admin_audit(
    filter: AuditFilter,
    cursor: Option<String>,
) -> Result<Page<AuditEntry>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .admin_audit(&parts, filter, cursor)
        .await
        .map_err(ServerFnError::new)
}

/// Staff: errors grouped by kind.
#[server]
pub async fn load_admin_errors() -> Result<Vec<ErrorGroup>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .admin_errors(&parts)
        .await
        .map_err(ServerFnError::new)
}

/// The caller's recipes whose name or style contains `query`, one page.
#[server]
pub async fn load_recipes(
    query: String,
    cursor: Option<String>,
) -> Result<Page<Recipe>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .my_recipes(&parts, query, cursor)
        .await
        .map_err(ServerFnError::new)
}

/// A recipe the caller may read (`None`: no such recipe of theirs).
#[server]
pub async fn load_recipe(id: String) -> Result<Option<Recipe>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend.recipe(&parts, id).await.map_err(ServerFnError::new)
}

/// Saves a recipe from the editor; invalid fields come back by name (e.g. `hops[0].time_min`).
#[server(input = leptos::server_fn::codec::Json)]
pub async fn save_recipe(
    id: Option<String>,
    body: RecipeBody,
) -> Result<Result<Recipe, std::collections::BTreeMap<String, String>>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .save_recipe(&parts, id, body)
        .await
        .map_err(ServerFnError::new)
}

/// The steps a recipe would run on a device with their expected durations, or why it cannot.
#[server]
pub async fn plan_session(
    device_id: String,
    recipe_id: String,
) -> Result<Result<Vec<PlannedStep>, String>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .plan_session(&parts, device_id, recipe_id)
        .await
        .map_err(ServerFnError::new)
}

/// A brew session with its timeline (`None`: no such session of the caller's).
#[server]
pub async fn load_session(id: String) -> Result<Option<BrewSession>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .brew_session(&parts, id)
        .await
        .map_err(ServerFnError::new)
}

/// The caller's brew sessions, newest first.
#[server]
pub async fn load_sessions() -> Result<Vec<BrewSession>, ServerFnError> {
    let (backend, parts) = backend::context()?;
    backend
        .my_sessions(&parts)
        .await
        .map_err(ServerFnError::new)
}
