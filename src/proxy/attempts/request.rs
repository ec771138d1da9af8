//! Building the provider's request for one attempt: the adapter's `ctx`,
//! the head (reused per distinct `ctx` and backend), and the body the
//! adapter makes of the hub request.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::errors::adapter_error;
use super::shared::Shared;
use crate::adapter::Ctx;
use crate::error::GatewayError;
use crate::provider::plans::PlanKey;
use crate::provider::Provider;
use crate::request::form::Piece;
use crate::upstream::backend::Backend;
use crate::upstream::call::{Outgoing, RequestHead, SpooledBody};
use crate::upstream::Upstream;

/// A built request and where it goes.
pub struct Request<'b> {
    pub(super) upstream: &'b Upstream,
    pub(super) request: Outgoing,
}

impl Shared<'_> {
    /// What `provider`'s adapter sees of this attempt.
    pub(super) fn adapter_ctx(&self, provider: &Provider, backend: &Backend, model: &str) -> Ctx {
        // A Responses request goes as it is to a provider that speaks it
        // (unless it has no native body: none of the config's providers
        // speaks it, or guardrails must see it in the chat format).
        let native = self.req.native.as_deref().is_some_and(|n| !n.is_null())
            && provider.supports("responses");
        Ctx {
            endpoint: if native {
                "responses"
            } else {
                self.req.endpoint.name()
            },
            model: model.to_string(),
            stream: self.req.stream,
            include_usage: self.req.include_usage,
            provider: provider.name.clone(),
            api_key: backend.api_key.as_ref().map(|k| k.expose().to_string()),
            options: provider.options.clone(),
            encoding_format: self.encoding_format.clone(),
            script: Default::default(),
        }
    }

    /// The request head for `backend`: reused, or built by the adapter
    /// (with the provider's own headers over the adapter's) and kept for
    /// reuse unless the adapter says not to.
    fn head(
        &self,
        provider: &Provider,
        backend: &Backend,
        ctx: &Ctx,
    ) -> Result<Arc<RequestHead>, GatewayError> {
        let key = PlanKey {
            backend: &backend.id,
            endpoint: ctx.endpoint,
            model: &ctx.model,
            stream: self.req.stream,
            include_usage: self.req.include_usage,
            encoding_format: self.encoding_format.as_deref(),
        };
        let passthrough = self.req.passthrough.as_deref();
        if passthrough.is_none() {
            if let Some(head) = provider.plans.get(&key) {
                return Ok(head);
            }
        }
        let mut plan = provider
            .adapter
            .plan(ctx)
            .map_err(|e| adapter_error(e, provider))?;
        if let Some(p) = passthrough {
            // The client's method and path, with the provider's key.
            plan.method = p.method.clone();
            plan.path = p.path.clone();
            plan.headers.extend(p.headers.iter().cloned());
            plan.reuse = false;
        }
        let mut headers = plan.headers;
        headers.extend(provider.headers.iter().cloned());
        let target = backend.upstream.target(&plan.path);
        let head =
            RequestHead::new(plan.method, &backend.upstream, &target, &headers).map_err(|e| {
                GatewayError::BadGateway(format!(
                    "provider `{}`: adapter {}: request head: {e}",
                    provider.name,
                    provider.adapter.name()
                ))
            })?;
        let head = Arc::new(head);
        if plan.reuse {
            provider.plans.put(&key, head.clone());
        }
        Ok(head)
    }

    /// Builds the provider's request with its adapter.
    pub(super) fn outgoing<'b>(
        &self,
        provider: &Provider,
        backend: &'b Backend,
        ctx: &Ctx,
    ) -> Result<Request<'b>, GatewayError> {
        let head = self.head(provider, backend, ctx)?;
        let spooled = match (&self.req.form, &self.req.passthrough) {
            (Some(form), _) => Some(SpooledBody {
                pieces: form.pieces(&ctx.model),
                spool: form.spool().clone(),
                content_type: Some(form.content_type()),
            }),
            (None, Some(p)) => p.body.as_ref().map(|spool| SpooledBody {
                pieces: vec![Piece::Spooled {
                    offset: 0,
                    len: spool.len(),
                }],
                spool: spool.clone(),
                content_type: p.content_type.clone(),
            }),
            (None, None) => None,
        };
        if spooled.is_some() || self.req.passthrough.is_some() {
            return Ok(Request {
                upstream: &backend.upstream,
                request: Outgoing {
                    head,
                    body: Bytes::new(),
                    form: spooled,
                    extra_headers: Vec::new(),
                },
            });
        }
        let native = self
            .req
            .native
            .as_deref()
            .filter(|_| ctx.endpoint == "responses");
        let body = if let Some(native) = native {
            let mut native = native.clone();
            if let Some(obj) = native.as_object_mut() {
                obj.insert("model".into(), Value::String(ctx.model.clone()));
            }
            serde_json::to_vec(&native)
        } else {
            let mut hub = self.body.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(obj) = hub.as_object_mut() {
                obj.insert("model".into(), Value::String(ctx.model.clone()));
            }
            match provider
                .adapter
                .request(&hub, ctx)
                .map_err(|e| adapter_error(e, provider))?
            {
                Some(v) => serde_json::to_vec(&v),
                None => serde_json::to_vec(&*hub),
            }
        }
        .map_err(|e| GatewayError::Internal(format!("request serialization failed: {e}")))?;
        Ok(Request {
            upstream: &backend.upstream,
            request: Outgoing {
                head,
                body: Bytes::from(body),
                form: None,
                extra_headers: Vec::new(),
            },
        })
    }
}
