//! Integration tests: each test starts the real app on a random port with a fresh
//! database and talks HTTP to it.
//!
//! By default they run on SQLite and the in-process cache. With `TEST_DATABASE_URL`
//! (a PostgreSQL server URL) and `TEST_REDIS_URL` set, the same tests run on
//! PostgreSQL and Redis; `make test` and `.ci/run` do both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod abuse_limits;
mod account;
mod admin;
mod ai_chat;
mod api_errors;
mod auth;
mod cache;
mod chat_sessions;
mod crisis;
mod encryption;
mod error_tracking;
mod events;
mod faults;
mod health;
mod jobs;
mod kms;
mod lifecycle;
mod livekit;
mod managed;
mod memory;
mod metrics;
mod model_pull;
mod oidc;
mod openapi;
mod prometheus;
mod replicas;
mod rooms;
mod safety;
mod safety_plan;
mod setup;
mod sfu;
mod slow_clients;
mod smoke;
mod speech;
mod static_site;
mod store;
mod tls;
mod tracing;
