use super::*;
use crate::adapter::script::engine::{build_engine, ScriptLimits};

fn patch(src: &str) -> Result<Patch, CompileError> {
    let engine = Arc::new(build_engine(&ScriptLimits::default()));
    Patch::compile(
        "p",
        Path::new("scripts/patches/p.rhai"),
        src,
        engine,
        Duration::from_secs(1),
    )
}

fn ctx() -> Ctx {
    Ctx {
        endpoint: "chat",
        model: "gpt-4o".into(),
        ..Ctx::default()
    }
}

#[test]
fn a_patch_edits_the_request_in_place() {
    let p = patch(
        r#"fn patch_request(body, ctx) {
               body.model = "renamed-" + ctx.model;
               body.remove("user");
               body.metadata = #{ team: "search" };
               body.messages[-1].content += " (please be brief)";
           }"#,
    )
    .unwrap();
    assert_eq!(p.hooks(), ["patch_request"]);
    let body = json!({"model": "x", "user": "u1", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]});
    let out = p.request(body, &ctx()).unwrap();
    assert_eq!(
        out,
        json!({"model": "renamed-gpt-4o", "metadata": {"team": "search"}, "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi (please be brief)"}]})
    );
}

#[test]
fn a_patch_may_return_a_new_body() {
    let p = patch(r#"fn patch_response(body, ctx) { #{ wrapped: body.id } }"#).unwrap();
    assert_eq!(
        p.response(json!({"id": "r1"}), &ctx()).unwrap(),
        json!({"wrapped": "r1"})
    );
    let p = patch(r#"fn patch_response(body, ctx) { body.x = 1; body }"#).unwrap();
    assert_eq!(
        p.response(json!({"id": "r1"}), &ctx()).unwrap(),
        json!({"id": "r1", "x": 1})
    );
}

#[test]
fn patch_chunk_keeps_drops_or_splits_chunks_with_per_stream_state() {
    let p = patch(
        r#"fn patch_chunk(chunk, ctx) {
               this.n = (this.n ?? 0) + 1;
               let text = chunk.choices[0].delta.content;
               if text == "drop" { return []; }
               if text == "two" { return [#{ n: 1 }, #{ n: 2 }]; }
               chunk.seq = this.n;
           }"#,
    )
    .unwrap();
    let mut this = p.stream_state();
    let chunk = |t: &str| json!({"choices": [{"index": 0, "delta": {"content": t}}]});
    let mut out = Vec::new();
    p.chunk(&mut this, chunk("a"), &ctx(), &mut out).unwrap();
    p.chunk(&mut this, chunk("drop"), &ctx(), &mut out).unwrap();
    p.chunk(&mut this, chunk("two"), &ctx(), &mut out).unwrap();
    p.chunk(&mut this, chunk("b"), &ctx(), &mut out).unwrap();
    let seqs: Vec<Value> = out
        .iter()
        .map(|c| match c {
            ChunkOut::Json(v) => v.get("seq").or(v.get("n")).cloned().unwrap_or_default(),
            ChunkOut::Raw(r) => Value::String(r.clone()),
        })
        .collect();
    assert_eq!(seqs, [json!(1), json!(1), json!(2), json!(4)]);
}

#[test]
fn patch_plan_edits_headers_and_path() {
    let p = patch(
        r#"fn patch_plan(plan, ctx) {
               plan.headers["x-team"] = "search";
               plan.headers.remove("x-drop");
               plan.path += "?beta=true";
           }"#,
    )
    .unwrap();
    let plan = RequestPlan::post(
        "/v1/chat",
        vec![
            ("x-drop".into(), "1".into()),
            ("authorization".into(), "Bearer k".into()),
        ],
    );
    let out = p.plan(plan, &ctx()).unwrap();
    assert_eq!(out.path, "/v1/chat?beta=true");
    assert!(out.headers.contains(&("x-team".into(), "search".into())));
    assert!(out
        .headers
        .contains(&("authorization".into(), "Bearer k".into())));
    assert!(!out.headers.iter().any(|(k, _)| k == "x-drop"));
}

#[test]
fn a_patch_without_hooks_or_with_wrong_arities_is_refused() {
    let err = patch("fn helper(x) { x }").unwrap_err();
    assert!(err.to_string().contains("at least one of"), "{err}");
    let err = patch("fn patch_request(body) { }").unwrap_err();
    assert!(err.to_string().contains("must take 2 parameters"), "{err}");
}

#[test]
fn a_patch_refuses_with_a_status() {
    let p = patch(r#"fn patch_request(body, ctx) { if body.n > 1 { throw #{ status: 422, message: "one only" }; } }"#).unwrap();
    assert_eq!(
        p.request(json!({"n": 2}), &ctx()).unwrap_err(),
        AdapterError::Rejected {
            status: 422,
            message: "one only".into()
        }
    );
}
