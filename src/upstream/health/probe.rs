//! One probe of one member: Pingora's `HealthCheck` implemented over the
//! member's own [`Upstream`](crate::upstream::Upstream) — an HTTP `GET`
//! through Pingora's connector (the same call path as real requests, see
//! `upstream/call.rs`) or a plain TCP connect — bounded by the timeout.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::lb::health_check::HealthCheck;
use pingora::lb::Backend;
use pingora::{Error, ErrorType};
use tokio::net::TcpStream;

use super::{member_id, HealthConfig, Probe, ProbeKind};
use crate::upstream::call::{self, Outgoing, RequestHead};
use crate::upstream::PeerTimeouts;

/// Pingora `HealthCheck` that probes a member of type `T` (found in the
/// backend's `ext`) as `HealthConfig` says.
pub struct ProbeCheck<T> {
    cfg: HealthConfig,
    connector: Connector,
    _member: PhantomData<fn() -> T>,
}

impl<T: Probe> ProbeCheck<T> {
    /// A check with its own connector; probe connections are never pooled.
    pub fn new(cfg: HealthConfig) -> Self {
        Self {
            cfg,
            connector: Connector::new(None),
            _member: PhantomData,
        }
    }

    /// Probes `member`; the error says why it failed (never a header value).
    async fn probe(&self, member: &T) -> Result<(), String> {
        match &self.cfg.kind {
            ProbeKind::Http {
                path,
                expected_status,
            } => self.http(member, path, *expected_status).await,
            ProbeKind::Tcp => tcp(member).await,
        }
    }

    async fn http(&self, member: &T, path: &str, expected: u16) -> Result<(), String> {
        let upstream = member.upstream();
        let head = RequestHead::new(
            http::Method::GET,
            upstream,
            &upstream.target(path),
            &member.probe_headers(),
        )?;
        let req = Outgoing {
            head: Arc::new(head),
            body: Bytes::new(),
            form: None,
            extra_headers: Vec::new(),
        };
        let t = self.cfg.timeout;
        let timeouts = PeerTimeouts {
            connect: t,
            read: t,
            write: t,
        };
        // The response is dropped unread: the connection is closed, not pooled.
        let reply = call::send(&self.connector, upstream, &req, timeouts)
            .await
            .map_err(|e| e.to_string())?;
        match reply.status() {
            status if status == expected => Ok(()),
            status => Err(format!("probe answered {status}, expected {expected}")),
        }
    }
}

async fn tcp<T: Probe>(member: &T) -> Result<(), String> {
    let addr = member.upstream().addr().await?;
    TcpStream::connect(addr)
        .await
        .map(drop)
        .map_err(|e| format!("connect to {addr}: {e}"))
}

#[async_trait]
impl<T: Probe> HealthCheck for ProbeCheck<T> {
    async fn check(&self, target: &Backend) -> pingora::Result<()> {
        let Some(member) = target.ext.get::<Arc<T>>() else {
            return Error::e_explain(ErrorType::InternalError, "backend carries no member");
        };
        match tokio::time::timeout(self.cfg.timeout, self.probe(member)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Error::e_explain(ErrorType::Custom("health probe failed"), why),
            Err(_) => Error::e_explain(
                ErrorType::Custom("health probe timed out"),
                format!("no answer within {:?}", self.cfg.timeout),
            ),
        }
    }

    async fn health_status_change(&self, target: &Backend, healthy: bool) {
        let member = member_id(target);
        if healthy {
            tracing::info!(member = %member, "backend healthy again");
        } else {
            tracing::warn!(member = %member, "backend unhealthy, skipped until it recovers");
        }
    }

    fn backend_summary(&self, target: &Backend) -> String {
        member_id(target)
    }

    fn health_threshold(&self, success: bool) -> usize {
        let n = if success {
            self.cfg.healthy_threshold
        } else {
            self.cfg.unhealthy_threshold
        };
        n.max(1)
    }
}
