//! Building blocks shared by pages.

pub mod abv_calculator;
pub mod chart;
pub mod controls;
pub mod form;
pub mod layout;
pub mod live;
pub mod telemetry_charts;
