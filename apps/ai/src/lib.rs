//! Solace's AI library: everything the therapist needs that is not HTTP.
//!
//! It is linked in-process by the backend in embedded mode and can run as its own
//! service at scale. Today it holds the crisis-resource directory that the safety
//! layer and the web app share; models, prompts, safety checks and speech build on it.
#![forbid(unsafe_code)]

pub mod crisis;

pub use crisis::{CrisisDirectory, CrisisLine};
