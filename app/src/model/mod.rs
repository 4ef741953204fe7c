//! Types shared by the server, the browser and the JSON API.

pub mod brewing;
