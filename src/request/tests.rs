use super::*;

#[test]
fn chat_needs_model_and_messages() {
    let e = parse(
        Endpoint::Chat,
        br#"{"messages":[{"role":"user","content":"x"}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.to_string().contains("model"));
    let e = parse(Endpoint::Chat, br#"{"model":"m"}"#).unwrap_err();
    assert!(e.to_string().contains("messages"));
    let e = parse(Endpoint::Chat, b"{not json").unwrap_err();
    assert!(e.to_string().contains("not valid JSON"));
    let ok = parse(
        Endpoint::Chat,
        br#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}"#,
    )
    .unwrap();
    assert!(ok.stream && ok.include_usage);
}

/// docs/security.md's promise: a body nested up to [`MAX_JSON_DEPTH`] levels,
/// the outermost object counted, is read; one level more is a 400.
#[test]
fn json_nesting_is_read_up_to_the_documented_depth() {
    let nested = |levels: usize| {
        // The body object, `messages`, a message: 3 levels, then arrays.
        let inner = levels - 3;
        format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":{}{}}}]}}"#,
            "[".repeat(inner),
            "]".repeat(inner)
        )
    };
    assert!(json(nested(MAX_JSON_DEPTH).as_bytes()).is_ok());
    let e = json(nested(MAX_JSON_DEPTH + 1).as_bytes()).unwrap_err();
    assert!(e.to_string().contains("recursion limit"), "{e}");
}

#[test]
fn embeddings_need_input() {
    assert!(parse(Endpoint::Embeddings, br#"{"model":"m"}"#).is_err());
    assert!(parse(Endpoint::Embeddings, br#"{"model":"m","input":"x"}"#).is_ok());
}
