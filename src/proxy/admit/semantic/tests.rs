use serde_json::json;

use super::*;

fn chat(system: &str, user: Value) -> Value {
    json!({"model": "m", "temperature": 0, "messages": [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ]})
}

#[test]
fn the_last_user_message_is_embedded_when_it_is_all_text() {
    assert_eq!(
        last_user_text(&chat("s", json!("What is the capital of France?"))).as_deref(),
        Some("What is the capital of France?")
    );
    let parts = json!([{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]);
    assert_eq!(
        last_user_text(&chat("s", parts)).as_deref(),
        Some("one\ntwo")
    );
    let image = json!([{"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]);
    assert_eq!(last_user_text(&chat("s", image)), None);
    let assistant_last = json!({"messages": [{"role": "assistant", "content": "hi"}]});
    assert_eq!(last_user_text(&assistant_last), None);
    assert_eq!(last_user_text(&json!({"input": "x"})), None);
}

#[test]
fn the_partition_is_everything_but_the_embedded_text() {
    let a = partition(&chat(
        "You are terse.",
        json!("What is the capital of France?"),
    ));
    let b = partition(&chat(
        "You are terse.",
        json!("Tell me France's capital city"),
    ));
    assert_eq!(a, b, "only the last user text differs");
    let other_system = partition(&chat(
        "You are a pirate.",
        json!("Tell me France's capital"),
    ));
    assert_ne!(a, other_system);
    let mut hot = chat("You are terse.", json!("What is the capital of France?"));
    hot["temperature"] = json!(1.0);
    assert_ne!(a, partition(&hot));
    let mut streamed = chat("You are terse.", json!("What is the capital of France?"));
    streamed["stream"] = json!(true);
    assert_eq!(a, partition(&streamed), "a stream shares the entry");
}

#[test]
fn the_vector_is_read_from_an_openai_embeddings_answer() {
    let body = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25,1]}],"model":"e"}"#;
    assert_eq!(vector_of(body).unwrap(), vec![0.5, -0.25, 1.0]);
    assert!(vector_of(b"not json").is_err());
    assert!(vector_of(br#"{"data":[]}"#).is_err());
    assert!(vector_of(br#"{"data":[{"embedding":["a"]}]}"#).is_err());
}
