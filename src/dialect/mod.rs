//! Client dialects: APIs the gateway accepts besides its own OpenAI hub
//! format. A dialect translates the client's request into a hub request
//! before routing, and the hub answer (body, stream chunks, errors) back into
//! the client's format on the way out. Pure functions; the proxy wires them in.
//!
//! - [`anthropic`] — the Anthropic Messages API (`POST /v1/messages`,
//!   `POST /v1/messages/count_tokens`), for the official `anthropic` SDKs and
//!   coding agents.
//! - [`responses`] — OpenAI's Responses API (`POST /v1/responses`), for Codex
//!   CLI and the Agents SDK.

pub mod anthropic;
pub mod responses;
