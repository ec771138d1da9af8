//! An attempt's span: begun before the attempt builds its request (the
//! provider gets its `traceparent`), ended with its outcome — or, when
//! the attempt is dropped unfinished (a hedge that lost the race, a
//! client gone), ended as cancelled, so that no attempt goes missing from
//! the trace.

use std::borrow::Cow;
use std::time::Instant;

use http::HeaderValue;

use super::outcome::{Failure, Outcome};
use super::shared::{Candidate, Shared};
use super::Started;
use crate::provider::Provider;
use crate::trace::span::{Attr, Kind, SpanId, Status};
use crate::trace::{now_ns, AttemptTrace};

/// An attempt's span while the attempt runs.
pub(super) struct AttemptSpan<'s> {
    trace: &'s AttemptTrace,
    shared: &'s Shared<'s>,
    pub id: SpanId,
    start_ns: u64,
    began: Instant,
    name: String,
    attrs: Vec<Attr>,
    done: bool,
}

impl<'s> AttemptSpan<'s> {
    /// Begins the span of an attempt on `cand`; `hedge` when it is the
    /// second of a hedged pair.
    pub fn begin(
        trace: &'s AttemptTrace,
        shared: &'s Shared<'s>,
        cand: &Candidate<'_>,
        hedge: bool,
        index: usize,
    ) -> Self {
        let mut attrs = Vec::new();
        let mut name = String::new();
        if trace.sampled {
            let provider = &cand.target.provider;
            let model = cand.target.model_for(&shared.req.model).to_string();
            let upstream = &cand.backend.upstream;
            let operation = shared.req.endpoint.name();
            name.reserve(operation.len() + 1 + model.len());
            name.push_str(operation);
            name.push(' ');
            name.push_str(&model);
            attrs.extend([
                Attr::str("gen_ai.operation.name", operation),
                Attr::str("gen_ai.system", system(provider)),
                Attr::str("gen_ai.request.model", model),
                Attr::str("switchyard.provider", provider.name.clone()),
                Attr::str("switchyard.backend", cand.backend.label.clone()),
                Attr::str("server.address", upstream.host.clone()),
                Attr::int("server.port", i64::from(upstream.port)),
                Attr::int("switchyard.attempt.index", index as i64),
                Attr::bool("switchyard.attempt.hedge", hedge),
                Attr::bool("switchyard.attempt.failover", index > 0 && !hedge),
            ]);
        }
        Self {
            trace,
            shared,
            id: SpanId::random(),
            start_ns: now_ns(),
            began: Instant::now(),
            name,
            attrs,
            done: false,
        }
    }

    /// The `traceparent` the provider gets.
    pub fn traceparent(&self) -> HeaderValue {
        self.trace.traceparent(self.id)
    }

    /// Ends the span with the attempt's result.
    pub fn end(mut self, result: &Result<Started<'_>, Failure>) {
        self.done = true;
        if !self.trace.sampled {
            return;
        }
        let status = match result {
            Ok(s) => {
                let w = &s.winner;
                self.attrs.extend([
                    Attr::int("http.response.status_code", i64::from(w.status)),
                    Attr::f64(
                        "switchyard.time_to_first_byte_ms",
                        w.first_byte.as_secs_f64() * 1000.0,
                    ),
                ]);
                Status::Unset
            }
            Err(f) => {
                if let Outcome::Status(status) = f.outcome {
                    self.attrs
                        .push(Attr::int("http.response.status_code", i64::from(status)));
                }
                self.attrs.extend([
                    Attr::str("error.type", f.outcome.label().into_owned()),
                    Attr::bool("switchyard.attempt.sent", f.outcome.spent()),
                ]);
                Status::Error(Cow::Owned(f.error.to_string()))
            }
        };
        self.record(status);
    }

    fn record(&mut self, status: Status) {
        let span = self.trace.span(
            self.id,
            None,
            Cow::Owned(std::mem::take(&mut self.name)),
            Kind::Client,
            self.start_ns,
            self.start_ns + self.began.elapsed().as_nanos() as u64,
            std::mem::take(&mut self.attrs),
            status,
        );
        self.shared
            .spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(span);
    }
}

impl Drop for AttemptSpan<'_> {
    fn drop(&mut self) {
        if self.done || !self.trace.sampled {
            return;
        }
        self.attrs.push(Attr::str("error.type", "cancelled"));
        self.record(Status::Error(Cow::Borrowed(
            "the attempt was dropped unfinished (a hedge that lost, or the client left)",
        )));
    }
}

/// `gen_ai.system`: the well-known value for the provider's API, by its
/// adapter and, for OpenAI-compatible ones, its host.
pub fn system(provider: &Provider) -> &'static str {
    system_of(provider.adapter.name(), &provider.upstream.host)
}

/// [`system`] from an adapter's name and a provider's host.
fn system_of(adapter: &str, host: &str) -> &'static str {
    match adapter {
        "anthropic" => "anthropic",
        "gemini" => "gcp.gemini",
        "vertex" => "gcp.vertex_ai",
        "bedrock" => "aws.bedrock",
        "azure" => "az.ai.openai",
        "cohere" => "cohere",
        "openai" => {
            const KNOWN: [(&str, &str); 7] = [
                ("openai.com", "openai"),
                ("deepseek.com", "deepseek"),
                ("groq.com", "groq"),
                ("mistral.ai", "mistral_ai"),
                ("x.ai", "xai"),
                ("perplexity.ai", "perplexity"),
                ("azure.com", "az.ai.openai"),
            ];
            // The domain itself or a subdomain of it (not `notopenai.com`).
            let under = |domain: &str| {
                host.strip_suffix(domain)
                    .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
            };
            KNOWN
                .iter()
                .find(|(domain, _)| under(domain))
                .map_or("openai", |(_, system)| system)
        }
        _ => "_OTHER",
    }
}

#[cfg(test)]
mod tests;
