//! One module per page.

pub mod account;
pub mod admin;
pub mod device;
pub mod devices;
pub mod home;
pub mod login;
pub mod not_found;
pub mod signup;
