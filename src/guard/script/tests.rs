#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Map};
use serde_json::{json, Value};

use super::GuardScript;
use crate::adapter::script::convert::to_dynamic;
use crate::adapter::script::engine::{build_engine, ScriptLimits};
use crate::adapter::{AdapterError, ChunkOut};

fn compile(source: &str, options: Value) -> Result<GuardScript, String> {
    let mut engine = build_engine(&ScriptLimits::default());
    crate::guard::natives::register(&mut engine);
    GuardScript::compile(
        Path::new("scripts/guardrails/t.rhai"),
        source,
        Arc::new(engine),
        Duration::from_secs(1),
        &to_dynamic(options),
    )
    .map_err(|e| e.to_string())
}

fn ctx(options: Value, endpoint: &str) -> Dynamic {
    let mut m = Map::new();
    m.insert("options".into(), to_dynamic(options));
    m.insert("endpoint".into(), Dynamic::from(endpoint.to_string()));
    m.insert("stage".into(), Dynamic::from("request"));
    Dynamic::from_map(m)
}

#[test]
fn a_guardrail_needs_a_hook_with_two_parameters() {
    let e = compile("fn helper(x) { x }", json!({})).unwrap_err();
    assert!(e.contains("at least one of on_request"), "{e}");
    let e = compile("fn on_request(r) { }", json!({})).unwrap_err();
    assert!(
        e.contains("`on_request` must take 2 parameters, not 1"),
        "{e}"
    );
    let e = compile("fn on_request(r, c) { }\nfn check() { }", json!({})).unwrap_err();
    assert!(e.contains("`check` must take 1 parameter, not 0"), "{e}");
}

#[test]
fn check_refuses_bad_options_with_the_line() {
    let source = "fn on_request(r, c) { }\nfn check(o) {\n  if o.max == () { throw \"options.max is required\"; }\n}";
    let e = compile(source, json!({})).unwrap_err();
    assert!(e.starts_with("scripts/guardrails/t.rhai:3:"), "{e}");
    assert!(e.contains("options.max is required"), "{e}");
    assert!(compile(source, json!({"max": 3})).is_ok());
}

const SYSTEM_PROMPT: &str = include_str!("../../../scripts/guardrails/system-prompt.rhai");

#[test]
fn the_example_script_puts_its_system_prompt_first_once() {
    let options = json!({"text": "Be kind."});
    let g = compile(SYSTEM_PROMPT, options.clone()).unwrap();
    let out = g
        .request(
            json!({"messages": [{"role": "user", "content": "hi"}]}),
            ctx(options.clone(), "chat"),
        )
        .unwrap();
    assert_eq!(
        out["messages"],
        json!([{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hi"}])
    );
    let again = g.request(out, ctx(options.clone(), "chat")).unwrap();
    assert_eq!(again["messages"].as_array().unwrap().len(), 2);
    let own = json!({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]});
    let out = g.request(own, ctx(options, "chat")).unwrap();
    assert_eq!(out["messages"][0]["content"], "Be kind.\n\nBe brief.");
    let e = compile(SYSTEM_PROMPT, json!({})).unwrap_err();
    assert!(e.contains("options.text must be the system prompt"), "{e}");
}

#[test]
fn a_chunk_hook_keeps_state_across_a_stream_and_may_drop_chunks() {
    let source = "fn on_chunk(c, x) { this.n = (this.n ?? 0) + 1; if this.n % 2 == 0 { return []; } c.n = this.n; }";
    let g = compile(source, json!({})).unwrap();
    let mut this = GuardScript::stream_state();
    let mut out = Vec::new();
    for _ in 0..4 {
        g.chunk(&mut this, json!({}), ctx(json!({}), "chat"), &mut out)
            .unwrap();
    }
    let ns: Vec<_> = out
        .iter()
        .map(|o| match o {
            ChunkOut::Json(v) => v["n"].clone(),
            ChunkOut::Raw(r) => panic!("{r}"),
        })
        .collect();
    assert_eq!(ns, vec![json!(1), json!(3)]);
}

#[test]
fn a_thrown_refusal_is_a_rejection_with_its_status() {
    let g = compile(
        "fn on_response(r, c) { throw #{ status: 451, message: \"gone\" }; }",
        json!({}),
    )
    .unwrap();
    match g.response(json!({}), ctx(json!({}), "chat")).unwrap_err() {
        AdapterError::Rejected { status, message } => {
            assert_eq!((status, message.as_str()), (451, "gone"))
        }
        other => panic!("{other:?}"),
    }
}
