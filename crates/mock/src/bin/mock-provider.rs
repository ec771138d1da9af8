//! `mock-provider`: the mock LLM provider (OpenAI and Anthropic wire formats)
//! as a standalone server, for scripts, benchmarks and manual testing.
//!
//! Prints `listening on ADDR` once bound, then serves until SIGINT/SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use switchyard_mock::{Fault, MockConfig, MockServer, Quota};

/// A mock LLM provider speaking OpenAI's and Anthropic's wire formats.
#[derive(Debug, Parser)]
#[command(name = "mock-provider", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    /// Delay before the response headers, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Number of content deltas in a reply.
    #[arg(long, default_value_t = 5)]
    chunks: usize,
    /// Delay between stream events, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,
    /// Write each SSE event in two writes about 5 ms apart.
    #[arg(long)]
    split_events: bool,
    /// Require this API key (`Authorization: Bearer K` or `x-api-key: K`).
    #[arg(long)]
    api_key: Option<String>,
    /// Inject a fault: status:CODE[:RETRY_AFTER], drop:N, error:N, malformed, hang,
    /// context, endless[:MS], huge-event:BYTES, slow-header[:MS], wrong-type,
    /// late:MS or bad-sse[:N].
    #[arg(long)]
    fault: Option<Fault>,
    /// Answer this share (0..1) of requests with --error-status instead.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Status of the --error-rate errors.
    #[arg(long, default_value_t = 500)]
    error_status: u16,
    /// Seed of the --error-rate draws (same seed, same failing requests).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How many of the latest requests to keep in memory (for nothing but
    /// the count here: a load run would otherwise keep every body).
    #[arg(long, default_value_t = 100)]
    keep_requests: usize,
    /// Enforce a quota of REQUESTS per fixed WINDOW (e.g. 40/1s, 500/1m;
    /// units ms, s, m, h), announced in OpenAI's x-ratelimit-* and
    /// Anthropic's anthropic-ratelimit-* headers; over it, a 429 without
    /// retry-after. Tokens are not limited.
    #[arg(long, value_name = "REQUESTS/WINDOW", value_parser = Quota::from_flag)]
    quota: Option<Quota>,
}

impl Args {
    fn config(self) -> MockConfig {
        MockConfig {
            latency: Duration::from_millis(self.latency_ms),
            chunks: self.chunks,
            chunk_delay: Duration::from_millis(self.chunk_delay_ms),
            split_events: self.split_events,
            api_key: self.api_key,
            fault: self.fault,
            reasoning: false,
            error_rate: self.error_rate,
            error_status: self.error_status,
            seed: self.seed,
            keep_requests: self.keep_requests,
            aws: None,
            gcp: None,
            webhook_failures: 0,
            quota: self.quota,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let listen = args.listen;
    let server = match MockServer::start_on(listen, args.config()).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("mock-provider: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = announce(&server) {
        eprintln!("mock-provider: cannot write to stdout: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = stop_signal().await {
        eprintln!("mock-provider: cannot wait for signals: {e}");
    }
    server.stop().await;
    ExitCode::SUCCESS
}

/// Prints the single `listening on ADDR` line and flushes it.
fn announce(server: &MockServer) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", server.addr())?;
    out.flush()
}

/// Resolves on SIGINT or SIGTERM.
#[cfg(unix)]
async fn stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = term.recv() => Ok(()),
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
async fn stop_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
