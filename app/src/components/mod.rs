//! Building blocks shared by pages.

pub mod abv_calculator;
pub mod form;
pub mod layout;
