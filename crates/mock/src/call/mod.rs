//! One call to an LLM endpoint: the steps every provider shares before the
//! reply (latency, `Hang`, key check, quota, `Status` fault) and after it
//! (apply the fault to the reply, announce the quota's standing in the
//! rate-limit headers, and send it).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use tokio::time::Instant;

use super::body::{self, Ending, Frame, Pace};
use super::dialect::Dialect;
use super::faults::{shape_stream, Fault};
use super::hostile;
use super::quota::{Standing, Ticket};
use super::state::{Endpoint, RecordedRequest, Shared, Started};

/// A request to a provider endpoint (chat, messages, embeddings, and the
/// rest of OpenAI's API) that passed the shared checks.
#[derive(Debug)]
pub(crate) struct Call {
    started: Started,
    dialect: Dialect,
    shared: Arc<Shared>,
    /// The quota window the call was admitted in (`MockConfig::quota`).
    ticket: Option<Ticket>,
    /// Tokens the answer charges to the quota (see [`Call::count_tokens`]).
    tokens: u64,
}

/// Whether a [`Call`] answers a missing or wrong key with a 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyCheck {
    /// 401 unless the request carries `MockConfig::api_key`.
    Enforce,
    /// Let the request through; [`Call::authorized`] tells (the echo).
    Report,
    /// No key check: the caller checked another credential (Vertex AI's
    /// OAuth bearer token, in `vertex`), and `api_key` does not apply.
    Skip,
}

impl Call {
    /// Records the request, waits `latency`, then applies `Hang`, the key
    /// check and a `Status` fault. `Err` is the response to send instead.
    pub(crate) async fn begin(
        shared: &Arc<Shared>,
        request: Request,
        dialect: Dialect,
    ) -> Result<Call, Response> {
        Self::begin_with(shared, request, dialect, KeyCheck::Enforce).await
    }

    /// [`Call::begin`], with the key check as `keys` says.
    pub(crate) async fn begin_with(
        shared: &Arc<Shared>,
        request: Request,
        dialect: Dialect,
        keys: KeyCheck,
    ) -> Result<Call, Response> {
        let started = shared.begin(request, Endpoint::Llm).await?;
        let mut call = Call {
            started,
            dialect,
            shared: Arc::clone(shared),
            ticket: None,
            tokens: 0,
        };
        call.sleep(call.started.cfg.latency).await?;
        if let Err(response) = call.check_fault_and_key(keys).await {
            return Err(call.finish(|_| response));
        }
        Ok(call)
    }

    async fn check_fault_and_key(&mut self, keys: KeyCheck) -> Result<(), Response> {
        let cfg = &self.started.cfg;
        if cfg.fault == Some(Fault::Hang) {
            self.started.shutdown.wait().await;
            return Err(body::abort_response());
        }
        if let Some(Fault::Late { after }) = cfg.fault {
            self.sleep(after).await?;
        }
        let cfg = &self.started.cfg;
        if keys == KeyCheck::Enforce && self.dialect == Dialect::Bedrock {
            if let Some(refusal) = super::bedrock::refusal(&self.started.req, cfg) {
                return Err(refusal);
            }
        } else if keys == KeyCheck::Enforce && !self.authorized() {
            return Err(self.dialect.unauthorized());
        }
        if let Some(refusal) = self.admit() {
            return Err(refusal);
        }
        let cfg = &self.started.cfg;
        if let Some(Fault::Status { code, retry_after }) = cfg.fault {
            return Err(self.dialect.status_error(code, retry_after));
        }
        if let Some(Fault::EchoKey { code }) = cfg.fault {
            return Err(self.dialect.echo_key_error(code, &self.started.req));
        }
        if random_error(cfg.seed, self.started.seq, cfg.error_rate) {
            return Err(self.dialect.status_error(cfg.error_status, None));
        }
        if cfg.fault == Some(Fault::ContextOverflow) {
            return Err(self.dialect.context_overflow());
        }
        Ok(())
    }

    /// Takes one request from `MockConfig::quota`, if set; `Some` is the
    /// refusal: the dialect's 429 with the rate-limit headers (and
    /// `retry-after` if the quota asks for it).
    fn admit(&mut self) -> Option<Response> {
        let quota = self.started.cfg.quota?;
        match self.shared.quota.admit(quota, Instant::now()) {
            Ok(ticket) => {
                self.ticket = Some(ticket);
                None
            }
            Err(standing) => {
                let mut response = self.dialect.status_error(429, standing.retry_after());
                standing.announce(self.dialect, response.headers_mut());
                Some(response)
            }
        }
    }

    /// Sets the tokens (prompt + completion) the answer charges to the
    /// quota; a call that never says answers with 0.
    pub(crate) fn count_tokens(&mut self, tokens: usize) {
        self.tokens = u64::try_from(tokens).unwrap_or(u64::MAX);
    }

    /// Sends the response `send` builds, with the quota's standing after
    /// this call (its tokens charged) in the rate-limit headers.
    fn finish(mut self, send: impl FnOnce(Self) -> Response) -> Response {
        let standing: Option<Standing> = self.ticket.take().map(|ticket| {
            self.shared
                .quota
                .settle(ticket, self.tokens, Instant::now())
        });
        let dialect = self.dialect;
        let mut response = send(self);
        if let Some(standing) = standing {
            standing.announce(dialect, response.headers_mut());
        }
        response
    }

    /// Sleeps `delay`; if the server stops meanwhile, the connection is
    /// closed without an answer.
    async fn sleep(&mut self, delay: Duration) -> Result<(), Response> {
        if delay.is_zero() {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => Ok(()),
            () = self.started.shutdown.wait() => Err(body::abort_response()),
        }
    }

    /// The request as received.
    pub(crate) fn req(&self) -> &RecordedRequest {
        &self.started.req
    }

    /// Whether the request carries the configured key (or none is
    /// configured).
    pub(crate) fn authorized(&self) -> bool {
        let cfg = &self.started.cfg;
        cfg.api_key
            .as_deref()
            .is_none_or(|key| self.dialect.authorized(&self.started.req, key))
    }

    /// Number of content deltas in a text reply.
    pub(crate) fn chunks(&self) -> usize {
        self.started.cfg.chunks
    }

    /// Whether chat replies carry `reasoning_content`.
    pub(crate) fn reasoning(&self) -> bool {
        self.started.cfg.reasoning
    }

    /// A response id unique within this server, e.g. `chatcmpl-mock3`.
    pub(crate) fn id(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.started.seq)
    }

    /// Sends `frames` as the dialect's stream (SSE, or NDJSON for Ollama),
    /// cut or corrupted by the fault.
    pub(crate) fn stream(self, frames: Vec<Frame>) -> Response {
        self.finish(|call| call.send_stream(frames))
    }

    fn send_stream(self, frames: Vec<Frame>) -> Response {
        let Started {
            cfg,
            guard,
            shutdown,
            ..
        } = self.started;
        if cfg.fault == Some(Fault::WrongType) {
            return hostile::html_response(guard);
        }
        let (frames, ending) = shape_stream(frames, cfg.fault.as_ref(), self.dialect);
        let delay = match cfg.fault {
            Some(Fault::Endless { every }) => every,
            _ => cfg.chunk_delay,
        };
        let pace = Pace {
            delay,
            split: cfg.split_events,
        };
        let content_type = self.dialect.stream_content_type();
        body::stream_response(frames, ending, pace, guard, shutdown, content_type)
    }

    /// Sends `body` as a JSON response, unless the fault says otherwise.
    pub(crate) fn json(self, body: &Value) -> Response {
        self.body(Bytes::from(body.to_string()), "application/json")
    }

    /// Sends `bytes` as a `content_type` response with a length, unless
    /// the fault says otherwise (the body faults as for JSON).
    pub(crate) fn body(self, bytes: Bytes, content_type: &'static str) -> Response {
        self.finish(|call| call.send_body(bytes, content_type))
    }

    fn send_body(self, bytes: Bytes, content_type: &'static str) -> Response {
        let Started {
            cfg,
            guard,
            shutdown,
            ..
        } = self.started;
        match cfg.fault {
            Some(Fault::DropMidStream { .. }) => {
                body::truncated_response(bytes, content_type, guard)
            }
            Some(Fault::StreamError { .. }) => self
                .dialect
                .status_error(self.dialect.overloaded_status(), None),
            Some(Fault::Malformed) => body::bytes_response(malformed(&bytes), content_type, guard),
            Some(Fault::Endless { every }) => {
                hostile::endless_json_response(every, guard, shutdown)
            }
            Some(Fault::HugeEvent { bytes: size }) => {
                hostile::pieces_response(hostile::huge_json(&bytes, size), content_type, guard)
            }
            Some(Fault::WrongType) => hostile::html_response(guard),
            Some(Fault::BadSse { .. }) => {
                hostile::pieces_response(vec![hostile::noise()], content_type, guard)
            }
            Some(
                Fault::Status { .. }
                | Fault::EchoKey { .. }
                | Fault::Hang
                | Fault::ContextOverflow
                | Fault::Late { .. }
                | Fault::SlowHeader { .. },
            )
            | None => body::bytes_response(bytes, content_type, guard),
        }
    }

    /// Sends `pieces` of a binary body (speech audio) as a chunked
    /// `content_type` stream paced by `chunk_delay`. `DropMidStream` and
    /// `StreamError` cut it after `after` pieces and abort (a binary body
    /// has no in-band error), `Endless` repeats the first piece, `WrongType`
    /// sends HTML; the other body faults do not apply.
    pub(crate) fn pieces(self, pieces: Vec<Bytes>, content_type: &'static str) -> Response {
        self.finish(|call| call.send_pieces(pieces, content_type))
    }

    fn send_pieces(self, pieces: Vec<Bytes>, content_type: &'static str) -> Response {
        let Started {
            cfg,
            guard,
            shutdown,
            ..
        } = self.started;
        let (pieces, ending, delay) = match cfg.fault {
            Some(Fault::WrongType) => return hostile::html_response(guard),
            Some(Fault::DropMidStream { after } | Fault::StreamError { after }) => {
                let mut pieces = pieces;
                pieces.truncate(after);
                (pieces, Ending::Abort, cfg.chunk_delay)
            }
            Some(Fault::Endless { every }) => {
                let first = pieces.first().cloned().unwrap_or_default();
                (vec![first.clone()], Ending::Repeat(first), every)
            }
            _ => (pieces, Ending::Finish, cfg.chunk_delay),
        };
        let pace = Pace {
            delay,
            split: cfg.split_events,
        };
        body::stream_response(pieces, ending, pace, guard, shutdown, content_type)
    }
}

/// Whether request number `seq` draws an error at `rate`: a SplitMix64
/// hash of the seed and the sequence number, uniform in 0..1.
pub(crate) fn random_error(seed: u64, seq: usize, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    let mut z = seed ^ (seq as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 11) as f64 / (1u64 << 53) as f64) < rate
}

/// The first half of a JSON body followed by junk: never valid JSON.
fn malformed(json: &Bytes) -> Bytes {
    let mut out = json.slice(..json.len() / 2).to_vec();
    out.extend_from_slice(b"<!-- mock: malformed -->");
    Bytes::from(out)
}

#[cfg(test)]
mod tests;
