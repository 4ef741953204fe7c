//! Server functions: what pages load from the server. Thin adapters: on the server they call the
//! [`backend::Backend`] the server provides in the Leptos context, which calls the services.

use leptos::prelude::*;

use crate::model::{
    account::{ApiToken, User},
    device::{Device, DeviceDetail},
    flash::Flash,
};

/// The server side of the server functions (compiled into the server only).
#[cfg(feature = "ssr")]
pub mod backend {
    use std::sync::Arc;

    use http::request::Parts;
    use leptos::prelude::*;

    use crate::model::{
        account::{ApiToken, User},
        device::{Device, DeviceDetail},
        flash::Flash,
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
