//! Solace's AI library: everything the therapist needs that is not HTTP.
//!
//! It is linked in-process by the backend in embedded mode and can run as its own
//! service at scale. It holds the crisis-line directory and the safety layer (crisis
//! detection, crisis replies, output checks), the language models behind one streaming
//! trait, the prompts they read, and speech (text-to-speech providers, the sentence
//! splitting a spoken reply needs, and the server-side transcription fallback).
#![forbid(unsafe_code)]

pub mod crisis;
pub mod hub;
pub mod memory;
pub mod model;
pub mod prompt;
pub mod safety;
pub mod speech;
pub mod supporter;
#[cfg(feature = "test-support")]
pub mod testing;

pub use crisis::{CrisisDirectory, CrisisLine};
