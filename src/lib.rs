//! Switchyard: an AI gateway on Pingora. A request's path through the crate:
//!
//! 1. [`server`] — the Pingora server, config watcher and graceful drain.
//! 2. [`config`] — `routes.yaml` loaded, validated (file:line errors) and hot-reloaded.
//! 3. [`proxy`] — the `ProxyHttp` service: reads and checks the request ([`proxy::request`]),
//!    answers local endpoints, and drives the attempts ([`proxy::forward`]).
//! 4. [`routing`] — the client's `model` to a route and its ordered targets.
//! 5. [`provider`] — Rhai adapter scripts that build the provider's request
//!    and translate its responses and stream events to OpenAI's format.
//! 6. [`upstream`] — the provider's address and one call through Pingora's connector.
//! 7. [`transform`] — SSE parsing and writing; [`proxy::stream`] relays streams.
//! 8. [`metrics`] and [`error`] — what every request reports; [`ledger`] keeps
//!    one row per finished request (SQLite or PostgreSQL) for usage and spend.
//!
//! [`matrix`] renders the provider support matrix from the preset catalog.
//!
//! [`mock`] is a mock provider (OpenAI, Anthropic and Gemini wire formats) for tests,
//! benchmarks and `switchyard demo`.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod config;
pub mod demo;
pub mod dialect;
pub mod error;
pub mod ledger;
pub mod matrix;
pub mod metrics;
pub mod mock;
pub mod provider;
pub mod proxy;
pub mod routing;
pub mod server;
pub mod transform;
pub mod upstream;
