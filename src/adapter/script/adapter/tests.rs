use super::*;
use crate::adapter::script::engine::{build_engine, ScriptLimits};

fn adapter(src: &str) -> Result<ScriptAdapter, CompileError> {
    let engine = Arc::new(build_engine(&ScriptLimits::default()));
    ScriptAdapter::compile(
        "t",
        Path::new("scripts/providers/t.rhai"),
        src,
        engine,
        Duration::from_secs(1),
    )
}

fn ctx() -> Arc<Ctx> {
    Arc::new(Ctx {
        endpoint: "chat",
        model: "m".into(),
        api_key: Some("k1".into()),
        ..Ctx::default()
    })
}

#[test]
fn request_hook_builds_a_plan() {
    let a = adapter(
        r#"fn request(ctx) { #{ path: "/v1/x", headers: #{ "x-api-key": ctx.api_key } } }"#,
    )
    .unwrap();
    let plan = a.plan(&ctx()).unwrap();
    assert_eq!(plan.path, "/v1/x");
    assert_eq!(
        plan.headers,
        vec![("x-api-key".to_string(), "k1".to_string())]
    );
    assert_eq!(plan.method, http::Method::POST);
    assert!(plan.reuse);
}

#[test]
fn missing_request_hook_and_wrong_arities_are_compile_errors() {
    let err = adapter("fn transform_response(b, c) { b }").unwrap_err();
    assert!(err.to_string().contains("missing required hook"), "{err}");
    let err =
        adapter("fn request(ctx) { #{path: \"/\"} }\nfn transform_chunk(e) { e }").unwrap_err();
    assert!(
        err.to_string().contains("`transform_chunk` must take 2"),
        "{err}"
    );
}

#[test]
fn syntax_error_has_the_relative_path_and_a_line() {
    let err = adapter("fn request(ctx) {\n  let x = ;\n}").unwrap_err();
    assert!(
        err.to_string().starts_with("scripts/providers/t.rhai:2:"),
        "{err}"
    );
}

#[test]
fn thrown_status_map_rejects() {
    let a = adapter(r#"fn request(ctx) { throw #{ status: 400, message: "no" }; }"#).unwrap();
    assert_eq!(
        a.plan(&ctx()).unwrap_err(),
        AdapterError::Rejected {
            status: 400,
            message: "no".into()
        }
    );
}

#[test]
fn runtime_error_names_script_hook_and_line() {
    let a = adapter("fn request(ctx) {\n  ctx.nope.deeper\n}").unwrap();
    let err = a.plan(&ctx()).unwrap_err().to_string();
    assert!(
        err.starts_with("adapter script scripts/providers/t.rhai:2: request:"),
        "{err}"
    );
}

#[test]
fn chunk_hook_keeps_state_across_events_and_ctx_is_shared() {
    let a = adapter(
        r#"fn request(ctx) { #{ path: "/" } }
           fn transform_chunk(ev, ctx) {
               if this.n == () { this.n = 0; }
               this.n += 1;
               [#{ n: this.n, e: ev.event, d: ev.data.v, m: ctx.model }, "[DONE]"]
           }"#,
    )
    .unwrap();
    let mut s = a.stream(&ctx()).unwrap();
    let mut out = Vec::new();
    s.event("x", r#"{"v":1}"#, &mut out).unwrap();
    out.clear();
    s.event("y", r#"{"v":2}"#, &mut out).unwrap();
    assert_eq!(
        out,
        vec![
            ChunkOut::Json(serde_json::json!({"n": 2, "e": "y", "d": 2, "m": "m"})),
            ChunkOut::Raw("[DONE]".into())
        ]
    );
}

#[test]
fn capabilities_and_framing_are_read_at_load() {
    let a = adapter(
        r#"fn request(ctx) { #{ path: "/" } }
           fn capabilities() { #{ chat: true, embeddings: false } }
           fn framing() { "ndjson" }"#,
    )
    .unwrap();
    assert_eq!(a.capabilities().get("embeddings"), Some(&false));
    assert_eq!(a.framing(), Framing::Ndjson);
    let err =
        adapter("fn request(ctx) { #{ path: \"/\" } }\nfn framing() { \"xml\" }").unwrap_err();
    assert!(err.to_string().contains("framing() must return"), "{err}");
}

#[test]
fn bodies_round_trip_and_missing_hooks_pass_through() {
    let a = adapter(
        r#"fn request(ctx) { #{ path: "/" } }
           fn transform_request(body, ctx) { body.model = ctx.model + "!"; body }"#,
    )
    .unwrap();
    let body = serde_json::json!({"model": "x", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5});
    let out = a.request(&body, &ctx()).unwrap().unwrap();
    assert_eq!(out["model"], "m!");
    assert_eq!(out["messages"], body["messages"]);
    assert_eq!(out["temperature"], 0.5);
    assert!(!a.translates_response());
    assert_eq!(a.response(body.clone(), &ctx()).unwrap(), body);
    assert!(a.stream(&ctx()).is_none());
}

/// The example adapter of docs/providers.md (`acme.rhai`) compiles and
/// translates as it says: requests, answers and a stream that ends with
/// `[DONE]`.
#[test]
fn the_documented_example_adapter_works() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/providers.md")).unwrap();
    let start = doc
        .find("// scripts/providers/acme.rhai")
        .expect("the example in docs/providers.md");
    let end = start + doc[start..].find("```").unwrap();
    let a = adapter(&doc[start..end]).unwrap();
    let ctx = Arc::new(Ctx {
        endpoint: "chat",
        model: "acme-1".into(),
        stream: true,
        api_key: Some("k".into()),
        ..Ctx::default()
    });
    assert_eq!(
        a.plan(&ctx).unwrap().headers,
        [("x-acme-key".into(), "k".into())]
    );
    let body = serde_json::json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]});
    let sent = a.request(&body, &ctx).unwrap().unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"model": "acme-1", "prompt": "user: hi\n", "max_tokens": 512, "stream": true})
    );
    let answer = a
        .response(
            serde_json::json!({"text": "hello", "tokens_in": 3, "tokens_out": 1}),
            &ctx,
        )
        .unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "hello");
    assert_eq!(answer["usage"]["total_tokens"], 4);
    let mut s = a.stream(&ctx).unwrap();
    let mut out = Vec::new();
    s.event("", r#"{"token": "he"}"#, &mut out).unwrap();
    s.event("", r#"{"done": true}"#, &mut out).unwrap();
    assert_eq!(out.len(), 3);
    let ChunkOut::Json(first) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(first["choices"][0]["delta"]["content"], "he");
    let ChunkOut::Json(last) = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(first["id"], last["id"], "one id for the stream");
    assert_eq!(out[2], ChunkOut::Raw("[DONE]".into()));
}
