//! The mock's routes: every OpenAI path with and without the `/v1` prefix,
//! the other providers' native paths, and a fallback that serves OpenAI
//! endpoints under other base paths (Azure's deployments, `/openai/v1`).

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, MethodRouter};
use axum::Router;

use super::hooks::{self, Hooks};
use super::state::Shared;
use super::{
    anthropic, audio, bedrock, cohere, echo, embeddings, files, gemini, images, moderations,
    ollama, openai, rerank, responses, vertex,
};

/// Every route of the mock; `otlp_exports` counts the trace exports
/// posted to `/v1/traces`, `hooks` keeps the webhooks posted to
/// `/hooks/{name}`.
pub(crate) fn router(
    shared: Arc<Shared>,
    otlp_exports: Arc<AtomicUsize>,
    hooks: Arc<Hooks>,
) -> Router {
    let openai_paths: [(&str, MethodRouter<Arc<Shared>>); 18] = [
        ("/chat/completions", post(openai::chat)),
        ("/embeddings", post(embeddings::create)),
        ("/models", get(openai::models)),
        ("/responses", post(responses::create)),
        ("/images/generations", post(images::generations)),
        ("/images/edits", post(images::edits)),
        ("/audio/transcriptions", post(audio::transcriptions)),
        ("/audio/translations", post(audio::translations)),
        ("/audio/speech", post(audio::speech)),
        ("/moderations", post(moderations::create)),
        ("/rerank", post(rerank::rerank)),
        ("/files", post(files::upload).get(files::list)),
        ("/files/{id}", get(files::get).merge(delete(files::delete))),
        ("/files/{id}/content", get(files::content)),
        (
            "/batches",
            post(files::create_batch).get(files::list_batches),
        ),
        ("/batches/{id}", get(files::get_batch)),
        ("/batches/{id}/cancel", post(files::cancel_batch)),
        ("/mock/echo/{*rest}", any(echo::echo)),
    ];
    let mut router = Router::new();
    for (path, handler) in openai_paths {
        router = router
            .route(&format!("/v1{path}"), handler.clone())
            .route(path, handler);
    }
    router
        .route("/v1/mock/echo", any(echo::echo))
        .route("/mock/echo", any(echo::echo))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1beta/models/{*rest}", post(gemini::models))
        .route("/v2/chat", post(cohere::chat))
        .route("/v2/embed", post(cohere::embed))
        .route("/v2/rerank", post(rerank::rerank))
        .route("/api/chat", post(ollama::chat))
        .route("/api/embed", post(ollama::embed))
        .route("/token", post(vertex::token))
        .route("/v1/projects/{*rest}", post(vertex::projects))
        .route("/v1beta1/projects/{*rest}", post(vertex::projects))
        .route("/model/{model}/converse", post(bedrock::converse))
        .route(
            "/model/{model}/converse-stream",
            post(bedrock::converse_stream),
        )
        .route(
            "/v1/traces",
            post(move || trace_sink(Arc::clone(&otlp_exports))),
        )
        .route(
            "/hooks/{name}",
            post(move |shared, name, headers, body| {
                hooks::receive(shared, Arc::clone(&hooks), name, headers, body)
            }),
        )
        .fallback(fallback)
        .with_state(shared)
}

/// Paths not routed above. A `POST` to any path ending in an OpenAI
/// endpoint's path (`/chat/completions`, `/embeddings`, `/responses`,
/// `/images/generations`, `/images/edits`, `/audio/transcriptions`,
/// `/audio/translations`, `/audio/speech`, `/moderations`, `/rerank`) is
/// answered by its handler, so presets whose base path differs
/// (`/openai/v1`, `/api/paas/v4`, Azure's `/openai/deployments/{d}/…`) can
/// be tested end to end; anything else is OpenAI's 404.
async fn fallback(shared: State<Arc<Shared>>, request: Request) -> Response {
    if request.method() != Method::POST {
        return openai::not_found(shared, request).await;
    }
    let path = request.uri().path().to_owned();
    let answer = if path.ends_with("/chat/completions") {
        openai::chat(shared, request).await
    } else if path.ends_with("/embeddings") {
        embeddings::create(shared, request).await
    } else if path.ends_with("/responses") {
        responses::create(shared, request).await
    } else if path.ends_with("/images/generations") {
        images::generations(shared, request).await
    } else if path.ends_with("/images/edits") {
        images::edits(shared, request).await
    } else if path.ends_with("/audio/transcriptions") {
        audio::transcriptions(shared, request).await
    } else if path.ends_with("/audio/translations") {
        audio::translations(shared, request).await
    } else if path.ends_with("/audio/speech") {
        audio::speech(shared, request).await
    } else if path.ends_with("/moderations") {
        moderations::create(shared, request).await
    } else if path.ends_with("/rerank") {
        rerank::rerank(shared, request).await
    } else {
        return openai::not_found(shared, request).await;
    };
    answer.unwrap_or_else(|r| r)
}

/// `POST /v1/traces`: counted and answered as a collector does (200, an
/// empty `ExportTraceServiceResponse`), so that `mock-provider` can stand
/// in for a collector in load runs. Not decoded: the gateway's
/// `gateway_trace_spans_exported_total` says how many spans it sent.
async fn trace_sink(count: Arc<AtomicUsize>) -> Response {
    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    (
        [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
        "",
    )
        .into_response()
}
