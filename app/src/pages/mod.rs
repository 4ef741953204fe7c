//! One module per page.

pub mod account;
pub mod admin;
pub mod api_docs;
pub mod device;
pub mod devices;
pub mod home;
pub mod login;
pub mod not_found;
pub mod recipe;
pub mod recipe_editor;
pub mod recipes;
pub mod session;
pub mod signup;
