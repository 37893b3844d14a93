//! Solace's API server: accounts, chat, rooms, jobs and the web app, in one binary.
#![forbid(unsafe_code)]

pub mod account;
pub mod admin;
pub mod app;
pub mod auth;
pub mod cache;
pub mod chat;
pub mod config;
pub mod crisis;
pub mod db;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod jobs;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod openapi;
pub mod rooms;
pub mod safety_plan;
pub mod server;
pub mod setup;
pub mod smoke;
pub mod speech;
pub mod state;
pub mod telemetry;
pub mod text;
pub mod tls;
pub mod users;
pub mod vault;
pub mod web;

pub use app::{router, Application};
pub use config::Config;
pub use error::{Error, Result};
pub use state::AppState;
