//! The safety layer every reply passes through.
//!
//! - `assessment`: what a message shows — category, severity (after the C-SSRS), layer.
//! - `detector`: the layered detector behind one `assess` (rules → learned → conversation).
//! - `rules`, `learned`, `features`: the layers themselves; `bert` and `multilingual`
//!   the learned layer's two sentence encoders.
//! - `reply`: graded responses — crisis lines first, a check-in, or how to help someone.
//! - `output`: checks on the model's own words.
//! - `eval`, `train`: measuring the detector on labelled data and training its head.

pub mod assessment;
pub mod bert;
pub mod detector;
pub mod eval;
pub mod features;
pub mod judge;
pub mod learned;
pub mod multilingual;
pub mod output;
pub mod reply;
pub mod rules;
mod text;
pub mod train;
pub mod tune;
pub mod tune_multilingual;

pub use assessment::{Assessment, Layer, Response, RiskCategory, Severity};
pub use detector::{Detector, DetectorStatus};
pub use output::{check as check_output, replacement, Violation};
pub use reply::crisis_reply;

#[cfg(test)]
mod cases;
