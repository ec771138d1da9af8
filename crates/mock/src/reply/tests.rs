use super::*;
use serde_json::json;

#[test]
fn text_reply_has_numbered_deltas() {
    let Reply::Text { deltas } = Reply::text(3) else {
        panic!("text expected")
    };
    assert_eq!(joined(&deltas), "tok0 tok1 tok2 ");
}

#[test]
fn argument_fragments_rebuild_the_arguments() {
    let fragments = argument_fragments();
    assert!(fragments.iter().all(|f| !f.is_empty()));
    assert_eq!(fragments.concat(), TOOL_ARGUMENTS);
    assert_eq!(tool_input(), json!({"city": "Paris", "unit": "c"}));
}

#[test]
fn counts_text_in_strings_parts_and_tool_results() {
    assert_eq!(content_chars(&json!("abcd")), 4);
    let parts = json!([{"type": "text", "text": "ab"}, {"type": "image_url"}]);
    assert_eq!(content_chars(&parts), 2);
    let result = json!([{"type": "tool_result", "content": [{"type": "text", "text": "xyz"}]}]);
    assert_eq!(content_chars(&result), 3);
    assert_eq!(prompt_tokens(0), 1);
    assert_eq!(prompt_tokens(9), 2);
}
