#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pingora::connectors::http::Connector;
use serde_json::json;

use super::script::GuardScript;
use super::{Check, Guardrail, Guardrails, OnError, Reason, Scope, Stage};
use crate::adapter::script::convert::to_dynamic;
use crate::adapter::script::engine::{build_engine, ScriptLimits};
use crate::adapter::ChunkOut;

fn guardrail(name: &str, source: &str, on_error: OnError) -> Arc<Guardrail> {
    let mut engine = build_engine(&ScriptLimits::default());
    super::natives::register(&mut engine);
    let options = to_dynamic(json!({})).into_shared();
    let script = GuardScript::compile(
        Path::new(name),
        source,
        Arc::new(engine),
        Duration::from_secs(1),
        &options,
    )
    .unwrap();
    Arc::new(Guardrail {
        name: name.into(),
        on_error,
        check: Check::Script {
            script: Arc::new(script),
            options,
        },
        fingerprint: name.len() as u64,
    })
}

const SCOPE: Scope<'static> = Scope {
    endpoint: "chat",
    model: "m",
    route: Some("r"),
    key: None,
    stream: false,
};

fn run(g: &Guardrails, body: &mut serde_json::Value) -> Result<(), super::Stop> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(g.request(body, &SCOPE, &Connector::new(None)))
}

#[test]
fn each_guardrail_sees_the_request_as_the_one_before_left_it() {
    let g =
        Guardrails::new(vec![
        guardrail("a", "fn on_request(r, c) { r.model = r.model + \"-a\"; }", OnError::Closed),
        guardrail(
            "b",
            "fn on_request(r, c) { r.model = r.model + \"-b:\" + c.guardrail + \":\" + c.route; }",
            OnError::Closed,
        ),
    ]);
    let mut body = json!({"model": "m"});
    run(&g, &mut body).unwrap();
    assert_eq!(body["model"], "m-a-b:b:r");
}

#[test]
fn a_thrown_refusal_blocks_with_its_status() {
    let g = Guardrails::new(vec![guardrail(
        "deny",
        "fn on_request(r, c) { throw #{ status: 403, message: \"nope\" }; }",
        OnError::Open,
    )]);
    let stop = run(&g, &mut json!({})).unwrap_err();
    assert_eq!(stop.guardrail, "deny");
    assert_eq!(stop.stage, Stage::Request);
    assert_eq!(
        stop.reason,
        Reason::Blocked {
            status: 403,
            message: "nope".into()
        }
    );
}

#[test]
fn a_failing_guardrail_refuses_when_closed_and_passes_the_request_unchanged_when_open() {
    let bug = "fn on_request(r, c) { r.model = \"edited\"; let x = 1 / 0; }";
    let closed = Guardrails::new(vec![guardrail("bug", bug, OnError::Closed)]);
    let stop = run(&closed, &mut json!({"model": "m"})).unwrap_err();
    match stop.reason {
        Reason::Failed(m) => assert!(m.starts_with("guardrail `bug` failed"), "{m}"),
        other => panic!("{other:?}"),
    }
    let open = Guardrails::new(vec![guardrail("bug", bug, OnError::Open)]);
    let mut body = json!({"model": "m"});
    run(&open, &mut body).unwrap();
    assert_eq!(body, json!({"model": "m"}));
}

#[test]
fn chunks_pass_through_every_hook_and_a_hook_may_split_or_drop_them() {
    let g = Guardrails::new(vec![
        guardrail("split", "fn on_chunk(c, x) { [c, c] }", OnError::Closed),
        guardrail(
            "count",
            "fn on_chunk(c, x) { this.n = (this.n ?? 0) + 1; c.n = this.n; }",
            OnError::Closed,
        ),
        guardrail(
            "drop-third",
            "fn on_chunk(c, x) { if c.n == 3 { return []; } }",
            OnError::Closed,
        ),
    ]);
    assert!(g.on_chunk() && !g.on_response() && !g.on_request());
    let mut s = g.stream(&SCOPE).unwrap();
    let mut out = Vec::new();
    s.chunk(json!({"a": 1}), &mut out).unwrap();
    s.chunk(json!({"a": 2}), &mut out).unwrap();
    let ns: Vec<_> = out
        .iter()
        .map(|o| match o {
            ChunkOut::Json(v) => v["n"].clone(),
            ChunkOut::Raw(r) => panic!("{r}"),
        })
        .collect();
    assert_eq!(ns, vec![json!(1), json!(2), json!(4)]);
}

#[test]
fn a_response_hook_edits_or_refuses_the_answer() {
    let g = Guardrails::new(vec![guardrail(
        "tag",
        "fn on_response(r, c) { if r.bad == true { throw #{ status: 422, message: \"bad answer\" }; } r.tagged = true; }",
        OnError::Closed,
    )]);
    assert_eq!(
        g.response(json!({}), &SCOPE).unwrap(),
        (json!({"tagged": true}), true)
    );
    let stop = g.response(json!({"bad": true}), &SCOPE).unwrap_err();
    assert_eq!(stop.stage, Stage::Response);
}

#[test]
fn a_runaway_script_is_stopped_by_its_time_budget_and_fails_as_configured() {
    let spin = "fn on_request(r, c) { let n = 0; loop { n += 1; } }";
    let closed = Guardrails::new(vec![guardrail("spin", spin, OnError::Closed)]);
    let started = std::time::Instant::now();
    let stop = run(&closed, &mut json!({"model": "m"})).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match stop.reason {
        Reason::Failed(m) => assert!(
            m.contains("budget") || m.contains("operations"),
            "stopped for another reason: {m}"
        ),
        other => panic!("{other:?}"),
    }
    let open = Guardrails::new(vec![guardrail("spin", spin, OnError::Open)]);
    let mut body = json!({"model": "m"});
    run(&open, &mut body).unwrap();
    assert_eq!(body, json!({"model": "m"}));
}
