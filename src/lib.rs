//! Switchyard: an AI gateway on Pingora. A request's path through the crate:
//!
//! 1. [`server`] — the Pingora server, config watcher and graceful drain;
//!    [`edge`] — client connection limits and request heads read within them.
//! 2. [`config`] — `routes.yaml` loaded, validated (file:line errors) and hot-reloaded.
//! 3. [`proxy`] — the `ProxyHttp` service: answers local endpoints, and runs
//!    a model request along [`proxy::pipeline`] — intake (checked as a
//!    [`request::ClientRequest`]), authenticate, route, admit, attempts,
//!    deliver, settle, record.
//! 4. [`routing`] — the client's `model` to a route and its ordered targets.
//! 5. [`provider`] — a configured provider: its backends, limits, models;
//!    [`adapter`] — its wire format (built in, or a Rhai script) and patch.
//! 6. [`upstream`] — the provider's address and one call through Pingora's
//!    connector; [`cloud`] — AWS SigV4 signatures and Google access tokens
//!    added to a cloud provider's request once its body is built.
//! 7. [`transform`] — SSE parsing and writing; [`proxy::deliver`] relays streams.
//! 8. [`policy`] — virtual keys, rate limits, budgets, response cache and
//!    coalescing, on the shared [`state`] store (memory, or Redis for a
//!    fleet); [`ledger`] keeps one row per finished request (SQLite or
//!    PostgreSQL) for usage and spend.
//! 9. [`metrics`] and [`error`] — what every request reports; [`admin`] — the
//!    admin API on its own listener.
//!
//! [`secrets`] decrypts `enc:v1:` provider secrets at config load; [`auth`]
//! makes and checks the clients' virtual keys (`sk-sy-…`, stored hashed).
//!
//! [`matrix`] renders the provider support matrix from the preset catalog.
//!
//! The mock providers that tests, benchmarks and `switchyard demo` run are
//! a crate of their own, `crates/mock` (`switchyard_mock`): nothing
//! test-only compiles into this library.

pub mod adapter;
pub mod admin;
pub mod auth;
pub mod cloud;
pub mod config;
pub mod dialect;
pub mod edge;
pub mod error;
pub mod guard;
pub mod ledger;
pub mod limits;
pub mod logging;
pub mod matrix;
pub mod metrics;
pub mod policy;
pub mod provider;
pub mod proxy;
pub mod request;
pub mod routing;
pub mod secrets;
pub mod server;
pub mod state;
pub mod trace;
pub mod transform;
pub mod upstream;
