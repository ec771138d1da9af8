//! Google Vertex AI: the OAuth2 token endpoint `POST /token` (`token`) and
//! the model endpoints under `/v1/projects/{project}/locations/{location}/`
//! (and `/v1beta1/…`):
//!
//! - `publishers/google/models/{model}:generateContent` and
//!   `:streamGenerateContent?alt=sse`: the Gemini mock (`super::gemini`);
//! - `publishers/anthropic/models/{model}:rawPredict` and
//!   `:streamRawPredict`: the Anthropic mock, with Vertex's differences
//!   (the body carries `"anthropic_version": "vertex-2023-10-16"` and no
//!   `model`, which the path names; Anthropic's error shape);
//! - `endpoints/openapi/chat/completions`: the OpenAI chat mock, with
//!   Google's error shape.
//!
//! With `MockConfig::gcp` set, each wants `Authorization: Bearer <token>`,
//! a token `/token` issued (unexpired, not revoked) or one of
//! `GcpAuth::static_tokens` (else Google's 401), and the path's project to
//! be `GcpAuth::project` when that is set (else 403). `api_key` never
//! applies here. The path (project, location, publisher, model, method) is
//! in [`crate::RecordedRequest::path`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::call::{Call, KeyCheck};
use super::dialect::{anthropic_error, Dialect};
use super::gemini::{self, Method};
use super::state::{Endpoint, Shared};
use super::{anthropic, body, openai};

mod token;

pub(crate) use token::{token, Tokens};

/// The `anthropic_version` Anthropic on Vertex AI wants in the body.
const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";
/// Largest error body rewritten into Google's shape.
const MAX_ERROR_BODY: usize = 1 << 20;
const UNAUTHENTICATED: &str = "Request had invalid authentication credentials. Expected OAuth 2 \
    access token, login cookie or other valid authentication credential. See \
    https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// The Google Cloud credentials the Vertex AI endpoints accept; see
/// [`GcpAuth::new`] for the defaults.
#[derive(Clone, Debug)]
pub struct GcpAuth {
    /// The service account's RSA public key (PEM), which verifies the
    /// assertions sent to `/token`.
    pub public_key_pem: String,
    /// The service account; an assertion's `iss`.
    pub client_email: String,
    /// The `aud` an assertion must carry: `<mock url>/token` in tests.
    pub token_uri: String,
    /// `expires_in` of the tokens issued, and how long they are accepted.
    pub token_ttl: Duration,
    /// `(client_id, client_secret, refresh_token)` accepted by the
    /// `refresh_token` grant (a gcloud user login); `None` refuses it.
    pub refresh_token: Option<(String, String, String)>,
    /// Bearer tokens always accepted (a token from the environment).
    pub static_tokens: Vec<String>,
    /// The only project the model endpoints serve (others get 403); `None`
    /// serves any.
    pub project: Option<String>,
    /// `/token` answers 400 `invalid_grant` to everything (a revoked key).
    pub refuse: bool,
}

impl GcpAuth {
    /// Accepts assertions signed by the key of `public_key_pem`, issued by
    /// `client_email` for `token_uri`; tokens live 3,600 s; no refresh
    /// token, no static token, any project.
    pub fn new(
        public_key_pem: impl Into<String>,
        client_email: impl Into<String>,
        token_uri: impl Into<String>,
    ) -> Self {
        Self {
            public_key_pem: public_key_pem.into(),
            client_email: client_email.into(),
            token_uri: token_uri.into(),
            token_ttl: Duration::from_secs(3600),
            refresh_token: None,
            static_tokens: Vec::new(),
            project: None,
            refuse: false,
        }
    }
}

/// What a Vertex path points at.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    project: &'a str,
    /// `projects/…/locations/…/publishers/…/models/…` (without the
    /// method) or `projects/…/locations/…/endpoints/openapi`: the resource
    /// a 403 names.
    resource: &'a str,
    model: Model<'a>,
}

#[derive(Debug, PartialEq, Eq)]
enum Model<'a> {
    Gemini { model: &'a str, method: Method },
    Anthropic { model: &'a str, stream: bool },
    OpenApi,
}

/// Splits a path under `/v1/projects/` or `/v1beta1/projects/`.
fn target(path: &str) -> Option<Target<'_>> {
    let resource = path
        .strip_prefix("/v1/")
        .or_else(|| path.strip_prefix("/v1beta1/"))?;
    let parts: Vec<&str> = resource.split('/').collect();
    let (project, rest) = match parts.as_slice() {
        ["projects", project, "locations", location, rest @ ..]
            if !project.is_empty() && !location.is_empty() =>
        {
            (*project, rest)
        }
        _ => return None,
    };
    let model = match rest {
        ["endpoints", "openapi", "chat", "completions"] => {
            let resource = resource.strip_suffix("/chat/completions")?;
            let model = Model::OpenApi;
            return Some(Target {
                project,
                resource,
                model,
            });
        }
        ["publishers", publisher, "models", model_method] => {
            let (model, method) = model_method.rsplit_once(':')?;
            if model.is_empty() {
                return None;
            }
            match (*publisher, method) {
                ("google", name) => match gemini::method(name)? {
                    method @ Method::Generate { .. } => Model::Gemini { model, method },
                    Method::BatchEmbed | Method::Embed => return None,
                },
                ("anthropic", "rawPredict") => Model::Anthropic {
                    model,
                    stream: false,
                },
                ("anthropic", "streamRawPredict") => Model::Anthropic {
                    model,
                    stream: true,
                },
                _ => return None,
            }
        }
        _ => return None,
    };
    let resource = resource.rsplit_once(':').map_or(resource, |(r, _)| r);
    Some(Target {
        project,
        resource,
        model,
    })
}

/// `POST /v1/projects/{*rest}` (and `/v1beta1/…`): checks the bearer
/// token and the project, then answers as the publisher's mock.
pub(crate) async fn projects(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some(target) = target(&path) else {
        if let Err(response) = shared.begin(request, Endpoint::Meta).await {
            return response;
        }
        let message = format!("The requested URL {path} was not found on this server.");
        return gemini::error(StatusCode::NOT_FOUND, &message);
    };
    if let Some(refusal) = refusal(&shared, request.headers(), &target) {
        // Recorded and counted like any refused call.
        return match shared.begin(request, Endpoint::Llm).await {
            Ok(_) => refusal,
            Err(response) => response,
        };
    }
    match target.model {
        Model::Gemini { model, method } => {
            gemini::answer(&shared, request, model, method, KeyCheck::Skip).await
        }
        Model::Anthropic { model, stream } => claude(&shared, request, model, stream)
            .await
            .unwrap_or_else(|r| r),
        Model::OpenApi => {
            let answer = openai::chat_with(&shared, request, KeyCheck::Skip).await;
            google_errors(answer.unwrap_or_else(|r| r)).await
        }
    }
}

/// The bearer token and project check when `MockConfig::gcp` is set:
/// `Some` is Google's 401 UNAUTHENTICATED or 403 PERMISSION_DENIED.
fn refusal(shared: &Shared, headers: &HeaderMap, target: &Target<'_>) -> Option<Response> {
    let gcp = shared.config().gcp?;
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let known = bearer.is_some_and(|token| {
        gcp.static_tokens.iter().any(|t| t == token) || shared.gcp_tokens.accepts(token)
    });
    if !known {
        let mut response = gemini::error(StatusCode::UNAUTHORIZED, UNAUTHENTICATED);
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
        );
        return Some(response);
    }
    match gcp.project {
        Some(project) if project != target.project => {
            let message = format!(
                "Permission 'aiplatform.endpoints.predict' denied on resource \
                 '//aiplatform.googleapis.com/{}' (or it may not exist).",
                target.resource
            );
            Some(gemini::error(StatusCode::FORBIDDEN, &message))
        }
        _ => None,
    }
}

/// `rawPredict` / `streamRawPredict` (`stream`): Anthropic's messages with
/// Vertex's body rules; errors in Anthropic's shape, as Vertex relays them.
async fn claude(
    shared: &Arc<Shared>,
    request: Request,
    model: &str,
    stream: bool,
) -> Result<Response, Response> {
    let call = Call::begin_with(shared, request, Dialect::Anthropic, KeyCheck::Skip).await?;
    check_claude_body(&call.req().body, stream)
        .map_err(|message| anthropic_error(StatusCode::BAD_REQUEST, &message))?;
    Ok(anthropic::answer(call, Some(model)))
}

/// `anthropic_version` must be Vertex's, `model` must be absent, and
/// `streamRawPredict` wants `"stream": true`. A body that is not JSON is
/// left to `anthropic::answer` to refuse.
fn check_claude_body(body: &[u8], stream: bool) -> Result<(), String> {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    match body.get("anthropic_version").and_then(Value::as_str) {
        Some(ANTHROPIC_VERSION) => {}
        Some(_) => {
            return Err(format!(
                "anthropic_version: Input should be '{ANTHROPIC_VERSION}'"
            ))
        }
        None => return Err("anthropic_version: Field required".into()),
    }
    if body.get("model").is_some() {
        return Err("model: Extra inputs are not permitted".into());
    }
    if stream && body.get("stream").and_then(Value::as_bool) != Some(true) {
        return Err("stream: streamRawPredict requires \"stream\": true".into());
    }
    Ok(())
}

/// Rewrites an OpenAI-shaped error of the chat mock into Google's shape
/// (`{"error":{"code","message","status"}}`), as Vertex's OpenAI-compatible
/// endpoint answers; other responses pass unchanged.
async fn google_errors(response: Response) -> Response {
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let retry_after = response.headers().get(RETRY_AFTER).cloned();
    let Ok(bytes) = axum::body::to_bytes(response.into_body(), MAX_ERROR_BODY).await else {
        return body::abort_response();
    };
    let json = serde_json::from_slice::<Value>(&bytes).ok();
    let message = json
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(Value::as_str)
        .map_or_else(
            || String::from_utf8_lossy(&bytes).into_owned(),
            str::to_owned,
        );
    let mut out = gemini::error(status, &message);
    if let Some(value) = retry_after {
        out.headers_mut().insert(RETRY_AFTER, value);
    }
    out
}

#[cfg(test)]
mod tests;
