//! The edge: each client connection of the API and admin listeners before Pingora's
//! HTTP/1 parser sees it. Pingora 0.9 has no setting for the request head's
//! size (fixed at 1 MiB), its read time (60 s per read, so a client sending
//! a byte every few seconds is never dropped) or the number of open
//! connections, so [`Edge`] wraps the HTTP service: it caps open connections
//! (`server.max_connections`, over it: 503), reads every request head itself
//! within `server.header_timeout` and `server.max_header_size` (over them:
//! 408 / 431, then close), and hands the head to Pingora as already-read
//! bytes. Body limits are enforced on the request path
//! ([`crate::proxy::intake::read_body_within`]); streams are capped by
//! [`admit_stream`].

pub mod head;
pub mod reply;
pub mod slots;
mod trim;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::BytesMut;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::{Stream, ALPN};
use pingora::server::ShutdownWatch;

use crate::config::Config;
use crate::error::GatewayError;
use crate::metrics::metrics;
use head::{Head, HeadLimits};
pub use slots::{Slot, Slots};

/// How long a kept-alive connection waits for its next request (Pingora's
/// own default).
const KEEPALIVE: Duration = Duration::from_secs(60);

/// Client connections open on the API listener.
pub static CONNECTIONS: Slots = Slots::new();
/// Connections open on the admin listener: counted apart, so that a flood
/// on one listener cannot lock the other out.
pub static ADMIN_CONNECTIONS: Slots = Slots::new();
/// Streaming responses being relayed.
pub static STREAMS: Slots = Slots::new();

/// Why a client was refused: the `reason` label of
/// `gateway_client_rejections_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `server.max_connections` open already (503).
    TooManyConnections,
    /// The request head exceeded `server.max_header_size` (431).
    HeaderTooLarge,
    /// The head did not arrive within `server.header_timeout` (408, or a
    /// silent close when not one byte came).
    HeaderTimeout,
    /// The body exceeded `server.max_body_size` (413).
    BodyTooLarge,
    /// The body did not arrive within `server.body_timeout` (408).
    BodyTimeout,
    /// `server.max_streams` streams relayed already (503).
    TooManyStreams,
    /// A response write stayed blocked — the client read nothing — past
    /// `server.send_timeout` or a stream's timeout: the connection is cut.
    SendTimeout,
    /// An HTTP/1.1 head without a `Host` field, or with several (400).
    BadHost,
}

impl Rejection {
    /// Every reason.
    pub const ALL: [Self; 8] = [
        Self::TooManyConnections,
        Self::HeaderTooLarge,
        Self::HeaderTimeout,
        Self::BodyTooLarge,
        Self::BodyTimeout,
        Self::TooManyStreams,
        Self::SendTimeout,
        Self::BadHost,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::TooManyConnections => "too_many_connections",
            Self::HeaderTooLarge => "header_too_large",
            Self::HeaderTimeout => "header_timeout",
            Self::BodyTooLarge => "body_too_large",
            Self::BodyTimeout => "body_timeout",
            Self::TooManyStreams => "too_many_streams",
            Self::SendTimeout => "send_timeout",
            Self::BadHost => "bad_host",
        }
    }

    /// Counts one rejection.
    pub fn count(self) {
        metrics()
            .client_rejections
            .with_label_values(&[self.label()])
            .inc();
    }
}

/// A slot for a streaming response, held until the stream ends; a 503
/// (with `Retry-After`) when `max` streams are being relayed already.
pub fn admit_stream(max: usize) -> Result<Slot, GatewayError> {
    STREAMS.try_take(max).ok_or_else(|| {
        Rejection::TooManyStreams.count();
        GatewayError::Overloaded(format!(
            "The gateway is relaying its maximum of {max} concurrent streams; retry shortly"
        ))
    })
}

/// Which listener an [`Edge`] guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The API: `server.max_connections`.
    Api,
    /// The admin API and `/metrics`: `admin.max_connections`.
    Admin,
}

impl Listener {
    fn slots(self) -> &'static Slots {
        match self {
            Self::Api => &CONNECTIONS,
            Self::Admin => &ADMIN_CONNECTIONS,
        }
    }

    fn max_connections(self, cfg: &Config) -> usize {
        match self {
            Self::Api => cfg.settings.max_connections,
            Self::Admin => cfg
                .policy
                .admin
                .as_ref()
                .map_or(crate::config::policy::ADMIN_MAX_CONNECTIONS, |a| {
                    a.max_connections
                }),
        }
    }
}

/// A listener's service: `app` (Pingora's HTTP proxy) behind the
/// connection and request-head limits of the config `config` holds when a
/// connection arrives (a reload applies to new connections).
pub struct Edge<A> {
    app: Arc<A>,
    config: Arc<ArcSwap<Config>>,
    listener: Listener,
}

impl<A> Edge<A> {
    /// Wraps `app`, serving `listener`.
    pub fn new(app: A, config: Arc<ArcSwap<Config>>, listener: Listener) -> Self {
        // Every reason is exported from the start (at 0), so rates work.
        for r in Rejection::ALL {
            metrics().client_rejections.with_label_values(&[r.label()]);
        }
        Self {
            app: Arc::new(app),
            config,
            listener,
        }
    }
}

/// Counts an open connection in `gateway_client_connections`.
struct Open;

impl Open {
    fn enter() -> Self {
        metrics().client_connections.inc();
        Self
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics().client_connections.dec();
    }
}

#[async_trait]
impl<A> ServerApp for Edge<A>
where
    A: HttpServerApp + Send + Sync + 'static,
{
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        if matches!(
            stream.selected_alpn_proto(),
            Some(ALPN::H2 | ALPN::Custom(_))
        ) {
            // Not HTTP/1 (the listener is plain TCP today): Pingora's own path.
            return self.app.process_new(stream, shutdown).await;
        }
        let (limits, max_connections) = {
            let cfg = self.config.load();
            let s = &cfg.settings;
            let limits = HeadLimits {
                max_size: s.max_header_size,
                timeout: s.header_timeout,
            };
            (limits, self.listener.max_connections(&cfg))
        };
        let Some(_slot) = self.listener.slots().try_take(max_connections) else {
            Rejection::TooManyConnections.count();
            let err = GatewayError::Overloaded(format!(
                "The gateway has its maximum of {max_connections} client connections open; retry shortly"
            ));
            reply::reject(stream, &err).await;
            return None;
        };
        let _open = (self.listener == Listener::Api).then(Open::enter);
        trim::opened(self.listener.slots().in_use());
        self.serve(stream, &limits, shutdown).await;
        drop(_slot);
        trim::closed(self.listener.slots().in_use());
        None
    }

    async fn cleanup(&self) {
        self.app.http_cleanup().await;
    }
}

impl<A> Edge<A>
where
    A: HttpServerApp + Send + Sync + 'static,
{
    /// Serves requests on one HTTP/1 connection until it closes: each head
    /// read here within `limits`, the rest of the request by `app`.
    async fn serve(
        self: &Arc<Self>,
        mut stream: Stream,
        limits: &HeadLimits,
        shutdown: &ShutdownWatch,
    ) {
        let mut kept: Option<Option<HttpPersistentSettings>> = None;
        loop {
            let wait = kept.as_ref().map(|_| KEEPALIVE);
            // A kept-alive connection waiting for its next request closes
            // when shutdown begins; a new one was accepted to be answered
            // (its request may be on the way), so its head is read (within
            // the head timeout) and served, without keep-alive.
            let head = if kept.is_some() {
                tokio::select! {
                    h = head::read(&mut stream, limits, wait) => h,
                    _ = stopping(shutdown.clone()) => return,
                }
            } else {
                head::read(&mut stream, limits, wait).await
            };
            let buf = match head {
                Head::Complete(buf) => match head::check(&buf) {
                    Ok(()) => buf,
                    Err(problem) => return reply::reject(stream, &refuse(problem)).await,
                },
                Head::Closed => return,
                Head::Idle => {
                    // A new connection that never sent a byte; a kept-alive
                    // one going quiet is normal.
                    if kept.is_none() {
                        Rejection::HeaderTimeout.count();
                    }
                    return;
                }
                Head::TimedOut => {
                    Rejection::HeaderTimeout.count();
                    let err = GatewayError::ClientTimeout(format!(
                        "The request headers did not arrive within {:?}",
                        limits.timeout
                    ));
                    return reply::reject(stream, &err).await;
                }
                Head::TooLarge => {
                    Rejection::HeaderTooLarge.count();
                    let err = GatewayError::head_too_large(limits.max_size);
                    return reply::reject(stream, &err).await;
                }
            };
            let mut session = ServerSession::new_http1(stream);
            match kept.take() {
                // As Pingora's own HTTP/1 loop does.
                None => session.set_keepalive(Some(KEEPALIVE.as_secs())),
                Some(Some(settings)) => settings.apply_to_session(&mut session),
                Some(None) => {}
            }
            if *shutdown.borrow() {
                session.set_keepalive(None);
            }
            // Pingora keeps the prefix as the request's header buffer for as
            // long as the request lives (a stream: minutes). The head was
            // read in 8 KiB steps; an exact-size copy of the few hundred
            // bytes read keeps ~7 KiB less per open request.
            session.set_pipelined_prefix(BytesMut::from(&buf[..]));
            let Some(reused) = self.app.process_new_http(session, shutdown).await else {
                return;
            };
            let (next, settings) = reused.consume();
            stream = next;
            kept = Some(settings);
        }
    }
}

/// The answer to a head [`head::check`] refused, counted.
fn refuse(problem: head::Problem) -> GatewayError {
    match problem {
        head::Problem::TooManyHeaders => {
            Rejection::HeaderTooLarge.count();
            GatewayError::HeadersTooLarge(format!(
                "Request has more than {} header fields",
                head::MAX_HEADERS
            ))
        }
        head::Problem::BadHost => {
            Rejection::BadHost.count();
            GatewayError::bad_request(
                "An HTTP/1.1 request needs exactly one Host header (RFC 9112 §3.2)",
            )
        }
    }
}

/// Resolves once the server is shutting down.
async fn stopping(mut shutdown: ShutdownWatch) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}
