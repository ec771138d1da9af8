//! Where a provider lives: its base URL split into what Pingora's connector
//! needs (address, TLS, SNI, Host) plus the base path that adapter paths are
//! appended to. Hostnames are resolved asynchronously and cached, never with
//! a blocking lookup on the request path.

pub mod backend;
pub mod balance;
pub mod breaker;
pub mod call;
pub mod hash_key;
pub mod health;
pub mod latency;
pub mod quota;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use pingora::upstreams::peer::HttpPeer;

/// How long a DNS answer is reused.
const DNS_TTL: Duration = Duration::from_secs(60);

/// A provider's endpoint.
#[derive(Debug)]
pub struct Upstream {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing slash, e.g. `/v1`.
    pub base_path: String,
    /// `Host` header value.
    pub authority: String,
    resolved: ArcSwapOption<(SocketAddr, Instant)>,
}

/// Timeouts from routes.yaml; unset ones fall back to the next level
/// (route → provider → `server:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Option<Duration>,
    pub first_byte: Option<Duration>,
    pub idle: Option<Duration>,
    pub total: Option<Duration>,
    /// Longest life of a stream, from the request's arrival: past it the
    /// stream ends with an in-band error.
    pub stream: Option<Duration>,
}

impl Timeouts {
    /// These timeouts, with `base`'s where unset.
    pub fn over(self, base: Timeouts) -> Timeouts {
        Timeouts {
            connect: self.connect.or(base.connect),
            first_byte: self.first_byte.or(base.first_byte),
            idle: self.idle.or(base.idle),
            total: self.total.or(base.total),
            stream: self.stream.or(base.stream),
        }
    }
}

/// Timeouts applied to one upstream connection.
#[derive(Debug, Clone, Copy)]
pub struct PeerTimeouts {
    pub connect: Duration,
    /// Longest wait for any single read (headers or body).
    pub read: Duration,
    pub write: Duration,
}

impl Upstream {
    /// Parses an `http://` or `https://` base URL.
    pub fn parse(base_url: &str) -> Result<Self, String> {
        let url =
            url::Url::parse(base_url).map_err(|e| format!("invalid base_url `{base_url}`: {e}"))?;
        let tls = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(format!(
                    "base_url scheme must be http or https, not `{other}`"
                ))
            }
        };
        let host = url
            .host_str()
            .ok_or_else(|| format!("base_url `{base_url}` has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("base_url `{base_url}` has no port"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(
                "base_url must not have a query or fragment; add them in the adapter".into(),
            );
        }
        let authority = match (url.port(), host.contains(':')) {
            (Some(p), true) => format!("[{host}]:{p}"),
            (Some(p), false) => format!("{host}:{p}"),
            (None, _) => host.clone(),
        };
        let resolved = host
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| Arc::new((SocketAddr::new(ip, port), far_future())));
        Ok(Self {
            tls,
            host,
            port,
            base_path: url.path().trim_end_matches('/').to_string(),
            authority,
            resolved: ArcSwapOption::new(resolved),
        })
    }

    /// The socket address to connect to, resolving the host if needed.
    pub async fn addr(&self) -> Result<SocketAddr, String> {
        if let Some(r) = self.resolved.load().as_ref() {
            if r.1 > Instant::now() {
                return Ok(r.0);
            }
        }
        let mut addrs = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::lookup_host((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| format!("DNS lookup of {} timed out", self.host))?
        .map_err(|e| format!("DNS lookup of {} failed: {e}", self.host))?;
        let addr = addrs
            .next()
            .ok_or_else(|| format!("DNS lookup of {} returned no address", self.host))?;
        self.resolved
            .store(Some(Arc::new((addr, Instant::now() + DNS_TTL))));
        Ok(addr)
    }

    /// A Pingora peer for `addr` with `timeouts`.
    pub fn peer(&self, addr: SocketAddr, timeouts: PeerTimeouts) -> HttpPeer {
        let mut peer = HttpPeer::new(addr, self.tls, self.host.clone());
        peer.options.connection_timeout = Some(timeouts.connect);
        peer.options.total_connection_timeout = Some(timeouts.connect);
        peer.options.read_timeout = Some(timeouts.read);
        peer.options.write_timeout = Some(timeouts.write);
        peer.options.idle_timeout = Some(Duration::from_secs(60));
        peer
    }

    /// The request target for an adapter path (which may carry a query).
    pub fn target(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{}", self.base_path, path)
        } else {
            format!("{}/{}", self.base_path, path)
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

#[cfg(test)]
mod tests;
