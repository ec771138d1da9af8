use super::*;
use crate::adapter::script::engine::{build_engine, ScriptLimits};
use serde_json::json;

/// Runs `script` with `doc` bound to `d`; the document afterwards and
/// what the script evaluated to.
fn run(doc: Value, script: &str) -> (Value, Dynamic) {
    let engine = build_engine(&ScriptLimits::default());
    let handle = Json::new(doc);
    let mut scope = rhai::Scope::new();
    scope.push("d", handle.clone());
    let out = engine
        .eval_with_scope::<Dynamic>(&mut scope, script)
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    drop(scope);
    (handle.into_value(), out)
}

#[test]
fn reads_give_scalars_and_handles() {
    let doc = json!({"model": "m", "n": 2, "t": 0.5, "ok": true, "none": null, "messages": [{"content": "hi"}]});
    assert_eq!(run(doc.clone(), "d.model").1.to_string(), "m");
    assert_eq!(run(doc.clone(), "d.n + 1").1.as_int().unwrap(), 3);
    assert_eq!(run(doc.clone(), "d.t").1.as_float().unwrap(), 0.5);
    assert!(run(doc.clone(), "d.ok").1.as_bool().unwrap());
    assert!(run(doc.clone(), "d.none").1.is_unit());
    assert!(run(doc.clone(), "d.missing").1.is_unit());
    assert_eq!(run(doc.clone(), "d.missing ?? 7").1.as_int().unwrap(), 7);
    assert_eq!(
        run(doc.clone(), "d.messages[0].content").1.to_string(),
        "hi"
    );
    assert_eq!(
        run(doc.clone(), "d.messages[-1].content").1.to_string(),
        "hi"
    );
    assert!(run(doc.clone(), "d.messages[5]").1.is_unit());
    assert_eq!(
        run(doc.clone(), "type_of(d.messages)").1.to_string(),
        "json"
    );
    assert_eq!(run(doc.clone(), "d.messages.len()").1.as_int().unwrap(), 1);
    assert!(run(doc.clone(), r#""model" in d"#).1.as_bool().unwrap());
    assert!(!run(doc.clone(), r#""nope" in d"#).1.as_bool().unwrap());
    assert!(run(doc, "d.messages.is_array() && d.is_object()")
        .1
        .as_bool()
        .unwrap());
}

#[test]
fn writes_edit_the_document_in_place() {
    let doc = json!({"a": {"b": [1, {"c": "x"}]}});
    let (after, _) = run(
        doc,
        r#"d.a.b[1].c = "y"; d.a.b[0] += 1; d.a.extra = #{ k: [1, 2] }; d.top = "t";"#,
    );
    assert_eq!(
        after,
        json!({"a": {"b": [2, {"c": "y"}], "extra": {"k": [1, 2]}}, "top": "t"})
    );
}

#[test]
fn remove_push_keys_iteration_and_to_map() {
    let doc = json!({"x": 1, "list": ["a", "b"], "obj": {"p": 1, "q": 2}});
    let (after, out) = run(
        doc,
        r#"
        let removed = d.remove("x");
        d.list.push("c");
        let seen = "";
        for item in d.list { seen += item; }
        for k in d.obj { seen += k; }
        let m = d.obj.to_map();
        m.p = 100;
        seen + removed + d.keys().len() + m.p
        "#,
    );
    assert_eq!(out.to_string(), "abcpq12100");
    assert_eq!(
        after,
        json!({"list": ["a", "b", "c"], "obj": {"p": 1, "q": 2}})
    );
}

#[test]
fn assigning_a_node_to_another_place_copies_it() {
    let (after, _) = run(json!({"a": {"v": 1}}), "d.b = d.a; d.b.v = 2;");
    assert_eq!(after, json!({"a": {"v": 1}, "b": {"v": 2}}));
}

#[test]
fn errors_are_clear() {
    let engine = build_engine(&ScriptLimits::default());
    let mut scope = rhai::Scope::new();
    scope.push("d", Json::new(json!({"s": "text", "list": [1]})));
    for (script, says) in [
        ("d.s.x = 1", "No writable property"),
        ("d.list.x = 1", "cannot set `x` on a JSON array"),
        ("d.list[3] = 1", "past the end"),
        ("d.s.push(1)", "Function not found"),
        (r#"d["s"].push(1)"#, "Function not found"),
        ("d.list.push(1.0 / 0.0)", "cannot be written as JSON"),
    ] {
        let err = engine
            .eval_with_scope::<Dynamic>(&mut scope, script)
            .unwrap_err();
        assert!(err.to_string().contains(says), "{script}: {err}");
    }
}
