//! The server's side of the Leptos server functions (see `app::server_fns::backend`).

use app::{
    model::{
        account::{ApiToken, User},
        device::{Device, DeviceDetail},
        flash::Flash,
    },
    server_fns::backend::Backend,
};
use axum::http::request::Parts;
use tower_sessions::Session;

use super::sessions;
use crate::{
    auth::Actor,
    services::{ServiceError, Services},
};

/// Answers server functions with the services, as the request's actor.
pub struct AppBackend {
    pub services: Services,
}

fn actor(request: &Parts) -> Actor {
    request
        .extensions
        .get::<Actor>()
        .cloned()
        .unwrap_or(Actor::Anonymous)
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

    async fn take_flash(&self, request: &Parts) -> Result<Option<Flash>, String> {
        let Some(session) = request.extensions.get::<Session>() else {
            return Ok(None);
        };
        sessions::take_flash(session)
            .await
            .map_err(|problem| problem.detail)
    }
}
