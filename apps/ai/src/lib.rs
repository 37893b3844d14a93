//! Solace's AI library: everything the therapist needs that is not HTTP.
//!
//! It is linked in-process by the backend in embedded mode and can run as its own
//! service at scale. It holds the crisis-line directory and the safety layer (crisis
//! detection, crisis replies, output checks); models, prompts and speech build on them.
#![forbid(unsafe_code)]

pub mod crisis;
pub mod safety;

pub use crisis::{CrisisDirectory, CrisisLine};
