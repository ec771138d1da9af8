//! The floor for `benches/load.sh`: a bare Pingora reverse proxy on the same
//! Pingora version as Switchyard, with Pingora's defaults, 2 worker threads
//! and one fixed upstream peer. It does nothing per request but pick that peer,
//! so whatever Switchyard costs above it is Switchyard's own work.
//!
//! ```sh
//! cargo build --release --example bare_proxy
//! target/release/examples/bare_proxy --listen 127.0.0.1:7000 --upstream 127.0.0.1:9001
//! # or BARE_PROXY_UPSTREAM=127.0.0.1:9001 BARE_PROXY_LISTEN=127.0.0.1:7000
//! ```
//!
//! Prints `listening on ADDR` once configured; SIGINT stops it at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a panic fails the run

use std::net::SocketAddr;

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::{Opt, ServerConf};

/// A `ProxyHttp` whose `upstream_peer` always returns the same plain-HTTP peer.
struct Bare {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

/// `--name VALUE` from the command line, else the environment variable.
fn setting(flag: &str, env: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var(env).ok())
        .unwrap_or_else(|| default.to_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = setting("--listen", "BARE_PROXY_LISTEN", "127.0.0.1:7000");
    let upstream: SocketAddr =
        setting("--upstream", "BARE_PROXY_UPSTREAM", "127.0.0.1:9001").parse()?;
    let threads: usize = setting("--threads", "BARE_PROXY_THREADS", "2").parse()?;

    // Pingora's defaults but the thread count (SIGINT = fast shutdown, no grace period).
    let conf = ServerConf {
        threads,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(Opt::default()), conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Bare { upstream });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    println!("listening on {listen}");
    server.run_forever()
}
