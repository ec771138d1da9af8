//! Rerank, Cohere/Jina style: `POST /v1/rerank` and `/rerank` (errors in
//! OpenAI's shape) and `POST /v2/rerank` (Cohere's `{"id","message"}`
//! errors), all with Bearer keys.
//!
//! Request: `{model, query, documents: [string | {text}], top_n?,
//! return_documents?}`. Each document scores the share of the query's
//! distinct words (lowercase, split on anything not a letter or digit) it
//! contains, so `"paris weather"` gives `"weather in Paris"` 1.0 and
//! `"Paris"` 0.5. Answer: `{id: "rerank-mockN", model, results: [{index,
//! relevance_score, document?: {text}}], usage: {total_tokens}, meta:
//! {api_version: {version: "2"}, billed_units: {search_units: 1}}}`,
//! results by score, highest first (ties by index), cut to `top_n`, with
//! `document` only when `return_documents` is true; total tokens = the
//! query's and every document's, one per 4 characters (at least 1 each).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::call::Call;
use super::dialect::Dialect;
use super::params::{json_object, Invalid, Obj};
use super::reply::prompt_tokens;
use super::state::Shared;

const FIELDS: &[&str] = &[
    "model",
    "query",
    "documents",
    "top_n",
    "return_documents",
    "rank_fields",
    "max_chunks_per_doc",
    "max_tokens_per_doc",
];
/// Most documents one request may rank.
const MAX_DOCUMENTS: usize = 1000;

/// A checked rerank request.
#[derive(Debug)]
struct Order<'a> {
    model: &'a str,
    query: &'a str,
    documents: Vec<&'a str>,
    top_n: usize,
    return_documents: bool,
}

/// `POST /v1/rerank`, `/rerank` and `/v2/rerank`.
pub(crate) async fn rerank(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let cohere = request.uri().path().starts_with("/v2/");
    let dialect = if cohere {
        Dialect::Cohere
    } else {
        Dialect::OpenAi
    };
    let call = Call::begin(&shared, request, dialect).await?;
    let reject = |e: Invalid| {
        if cohere {
            e.cohere_response()
        } else {
            e.response()
        }
    };
    let body = json_object(&call.req().body).map_err(reject)?;
    let order = check(&Obj::new(&body, "")).map_err(reject)?;
    let answer = answer(&call.id("rerank-mock"), &order);
    Ok(call.json(&answer))
}

fn check<'a>(body: &Obj<'a>) -> Result<Order<'a>, Invalid> {
    body.only(FIELDS)?;
    let model = body.required_str("model")?;
    let query = body.required_str("query")?;
    let items = body
        .array("documents")?
        .ok_or_else(|| Invalid::missing("documents"))?;
    if items.is_empty() {
        return Err(Invalid::empty_array("documents"));
    }
    if items.len() > MAX_DOCUMENTS {
        let message = format!(
            "Invalid 'documents': too many documents ({}); at most {MAX_DOCUMENTS} are accepted.",
            items.len()
        );
        return Err(Invalid::new(message, "documents", "invalid_value"));
    }
    let documents = items
        .iter()
        .enumerate()
        .map(|(i, item)| document(i, item))
        .collect::<Result<Vec<_>, _>>()?;
    let max = i64::try_from(MAX_DOCUMENTS).unwrap_or(i64::MAX);
    let top_n = body.int("top_n", 1, max)?;
    Ok(Order {
        model,
        query,
        top_n: top_n.map_or(documents.len(), |n| usize::try_from(n).unwrap_or(1)),
        documents,
        return_documents: body.bool("return_documents")?.unwrap_or(false),
    })
}

/// Document `i`: a string, or an object with `text`.
fn document(i: usize, item: &Value) -> Result<&str, Invalid> {
    let path = format!("documents[{i}]");
    match item {
        Value::String(text) => Ok(text),
        Value::Object(map) => {
            let text = Obj::new(map, &path).str("text")?;
            text.ok_or_else(|| Invalid::missing(&format!("{path}.text")))
        }
        other => Err(Invalid::wrong_type(&path, "a string or an object", other)),
    }
}

/// The lowercase words of `text`.
fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The share of the query's words that `document` contains.
fn score(query: &BTreeSet<String>, document: &str) -> f64 {
    if query.is_empty() {
        return 0.0;
    }
    let doc = words(document);
    query.intersection(&doc).count() as f64 / query.len() as f64
}

fn answer(id: &str, order: &Order) -> Value {
    let query = words(order.query);
    let mut ranked: Vec<(usize, f64)> = order
        .documents
        .iter()
        .enumerate()
        .map(|(i, doc)| (i, score(&query, doc)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(order.top_n);
    let results: Vec<Value> = ranked
        .iter()
        .map(|&(index, relevance_score)| {
            let mut result = json!({"index": index, "relevance_score": relevance_score});
            if order.return_documents {
                let text = order.documents.get(index).copied().unwrap_or_default();
                result["document"] = json!({"text": text});
            }
            result
        })
        .collect();
    let tokens = prompt_tokens(order.query.chars().count())
        + order
            .documents
            .iter()
            .map(|d| prompt_tokens(d.chars().count()))
            .sum::<usize>();
    json!({
        "id": id,
        "model": order.model,
        "results": results,
        "usage": {"total_tokens": tokens},
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    })
}

#[cfg(test)]
mod tests;
