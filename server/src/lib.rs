//! The BrewLink server: the web app, the JSON API, the embedded MQTT broker and the bridge between
//! devices and the database. `main.rs` is the CLI; everything else lives here so tests can drive it.

pub mod auth;
pub mod backoff;
pub mod bridge;
pub mod broker;
pub mod config;
pub mod descriptors;
pub mod errors;
pub mod formats;
pub mod http;
pub mod ingest;
pub mod inspector;
pub mod live;
pub mod monitor;
pub mod observability;
pub mod pki;
pub mod services;
pub mod simulator;
pub mod startup;
pub mod store;
