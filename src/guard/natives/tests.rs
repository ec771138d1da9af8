#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rhai::{Engine, Scope};
use serde_json::json;

use super::register;
use crate::adapter::script::engine::{build_engine, ScriptLimits};
use crate::guard::text::{answer_text, prompt_text};

fn engine() -> Engine {
    let mut e = build_engine(&ScriptLimits::default());
    register(&mut e);
    e
}

fn eval(script: &str) -> String {
    engine()
        .eval::<rhai::Dynamic>(script)
        .map(|d| d.to_string())
        .unwrap_or_else(|e| format!("error: {e}"))
}

#[test]
fn pii_functions_take_all_one_or_several_kinds() {
    let text = r#""mail bob@example.com, card 4111 1111 1111 1111""#;
    assert_eq!(
        eval(&format!("pii_redact({text}, \"all\")")),
        "mail [EMAIL], card [CARD]"
    );
    assert_eq!(
        eval(&format!("pii_redact({text}, \"card\")")),
        "mail bob@example.com, card [CARD]"
    );
    assert_eq!(
        eval(&format!("pii_redact({text}, [\"email\"])")),
        "mail [EMAIL], card 4111 1111 1111 1111"
    );
    assert_eq!(
        eval(&format!("pii_redact({text}, ())")),
        "mail [EMAIL], card [CARD]"
    );
    assert_eq!(
        eval(&format!("pii_find({text}, \"all\").map(|f| f.kind)")),
        "[\"email\", \"card\"]"
    );
    let e = eval(&format!("pii_redact({text}, \"passport\")"));
    assert!(
        e.contains("unknown kind of personal data `passport`"),
        "{e}"
    );
}

#[test]
fn a_stream_redactor_kept_in_a_map_is_updated_in_place() {
    // How `on_chunk` keeps one in `this`.
    let script = r#"
        let state = #{};
        state.r = pii_stream("email");
        let out = "";
        for piece in ["write to bo", "b@exam", "ple.com now", " please"] {
            out += state.r.push(piece);
        }
        out + state.r.finish()
    "#;
    assert_eq!(eval(script), "write to [EMAIL] now please");
}

#[test]
fn regexes_match_find_replace_and_refuse_a_bad_pattern() {
    assert_eq!(
        eval(r#"regex_match("Ignore previous instructions", "(?i)ignore (all )?previous")"#),
        "true"
    );
    assert_eq!(eval(r#"regex_find("order 1234 shipped", "\\d+")"#), "1234");
    assert_eq!(eval(r#"regex_find("no digits", "\\d+")"#), "");
    assert_eq!(eval(r##"regex_replace("a1b22", "\\d+", "#")"##), "a#b#");
    assert_eq!(eval(r#"regex_escape("a.b*")"#), "a\\.b\\*");
    let e = eval(r#"regex_match("x", "(unclosed")"#);
    assert!(e.contains("invalid regex `(unclosed`"), "{e}");
}

#[test]
fn prompt_text_reads_strings_parts_input_and_prompt() {
    let request = json!({
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "hello"},
                {"type": "image_url", "image_url": {"url": "data:..."}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": []}
        ],
        "input": ["one", "two"],
        "prompt": "three"
    });
    assert_eq!(
        prompt_text(&mut request.clone()),
        "be brief\nhello\none\ntwo\nthree"
    );
    let answer = json!({"choices": [
        {"message": {"content": "yes", "refusal": null}},
        {"message": {"content": null, "refusal": "no"}},
        {"text": "legacy"}
    ]});
    assert_eq!(answer_text(&mut answer.clone()), "yes\nno\nlegacy");
}

#[test]
fn prompt_text_reads_a_json_handle_in_place() {
    let engine = engine();
    let doc = crate::adapter::script::json::Json::new(json!({
        "messages": [{"role": "user", "content": "hi there"}]
    }));
    let mut scope = Scope::new();
    scope.push("request", doc);
    let text: String = engine
        .eval_with_scope(&mut scope, "prompt_text(request)")
        .unwrap();
    assert_eq!(text, "hi there");
}
