//! The safety layer every reply passes through: crisis detection on the person's message,
//! a crisis reply that puts real help first, and checks on the model's own words.

pub mod detect;
pub mod output;
pub mod reply;
mod text;

pub use detect::{assess, Assessment, RiskCategory};
pub use output::{check as check_output, replacement, Violation};
pub use reply::crisis_reply;

#[cfg(test)]
mod cases;
