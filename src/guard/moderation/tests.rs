#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::{decide_moderations, decide_verdict, Decision};

#[test]
fn a_flagged_result_blocks_with_its_first_category() {
    let answer = json!({"results": [
        {"flagged": false, "categories": {"violence": false}},
        {"flagged": true, "categories": {"hate": false, "violence": true}}
    ]});
    assert_eq!(
        decide_moderations(&answer, &[]),
        Ok(Decision::Flagged("violence".into()))
    );
    let clean = json!({"results": [{"flagged": false, "categories": {"violence": false}}]});
    assert_eq!(decide_moderations(&clean, &[]), Ok(Decision::Pass));
}

#[test]
fn with_categories_only_those_block() {
    let answer = json!({"results": [
        {"flagged": true, "categories": {"harassment": true, "violence": false}}
    ]});
    let only_violence = vec!["violence".to_string()];
    assert_eq!(
        decide_moderations(&answer, &only_violence),
        Ok(Decision::Pass)
    );
    let harassment = vec!["harassment".to_string(), "hate".to_string()];
    assert_eq!(
        decide_moderations(&answer, &harassment),
        Ok(Decision::Flagged("harassment".into()))
    );
}

#[test]
fn an_answer_without_results_is_an_error() {
    let e = decide_moderations(&json!({"error": {"message": "no"}}), &[]).unwrap_err();
    assert!(e.contains("no `results`"), "{e}");
}

#[test]
fn a_verdict_is_read_from_its_first_word() {
    let said = |text: &str| decide_verdict(&json!({"choices": [{"message": {"content": text}}]}));
    assert_eq!(said("UNSAFE"), Ok(Decision::Flagged("unsafe".into())));
    assert_eq!(
        said("  **Unsafe**."),
        Ok(Decision::Flagged("unsafe".into()))
    );
    assert_eq!(said("SAFE"), Ok(Decision::Pass));
    assert_eq!(said("safe\n"), Ok(Decision::Pass));
    // "UNSAFE" must be the word, not a prefix of another.
    assert!(said("Unsafety is a concern").is_err());
    assert!(said("I cannot tell").is_err());
    assert!(decide_verdict(&json!({"choices": []})).is_err());
}
