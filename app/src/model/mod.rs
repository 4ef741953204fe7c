//! Types shared by the server, the browser and the JSON API.

pub mod account;
pub mod admin;
pub mod brewing;
pub mod control;
pub mod device;
pub mod flash;
pub mod page;
pub mod recipe;
pub mod session;
pub mod telemetry;
