//! Integration tests: the real gateway binary, real HTTP, mock providers
//! speaking each provider's wire format on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a panic fails the run

mod collector;
mod common;

mod admin;
mod anthropic;
mod balancing;
mod budgets;
mod catalog;
mod cli;
mod cloud;
mod dashboard;
mod degraded;
mod deploy;
mod endpoints;
mod errors;
mod failover;
mod fleet;
mod gemini;
mod guardrails;
mod headroom;
mod hostile_clients;
mod hostile_upstreams;
mod layering;
mod ledger;
mod limits;
mod messages;
mod observability;
mod openai;
mod openai_endpoints;
mod patches;
mod plans;
mod policy;
mod pricing;
mod quota;
mod reload;
mod resilience;
mod responses;
mod script_adapters;
mod scripts_contained;
mod sdk;
mod semantic;
mod shutdown;
mod strategies;
mod streaming;
mod tracing;
mod upgrade;
