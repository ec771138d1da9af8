//! The wire types: the Messages fixtures read and write back unchanged,
//! tagged objects read whatever the place of their `type`, unknown types
//! and fields are tolerated, and errors say where they are.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::adapter::anthropic::wire::stream::ContentBlockDelta;
use crate::adapter::anthropic::wire::{
    BlockDelta, Content, ContentBlock, ImageSource, Message, MessagesRequest, MessagesResponse,
    StreamEvent, Tagged, ToolChoice,
};
use crate::transform::sse::SseParser;

fn fixture(file: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/anthropic/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn request_fixture_reads_and_writes_back_unchanged() {
    let text = fixture("messages_request.json");
    let original: Value = serde_json::from_str(&text).unwrap();
    // From text (tags first, strings borrowed) and from a Value (keys sorted).
    let from_text: MessagesRequest = serde_json::from_str(&text).unwrap();
    let from_value = MessagesRequest::deserialize(&original).unwrap();
    assert_eq!(from_text, from_value);
    assert_eq!(serde_json::to_value(&from_text).unwrap(), original);
    assert!(matches!(from_text.model, Cow::Borrowed(_)));
}

#[test]
fn response_fixture_reads_and_writes_back_unchanged() {
    let original: Value = serde_json::from_str(&fixture("messages_response.json")).unwrap();
    let response = MessagesResponse::deserialize(&original).unwrap();
    assert_eq!(serde_json::to_value(&response).unwrap(), original);
}

#[test]
fn stream_fixture_events_read_by_name_or_type_and_write_back_unchanged() {
    for file in ["messages_stream.sse", "adapter_stream.anthropic.sse"] {
        let mut parser = SseParser::new(1 << 20);
        let mut events = Vec::new();
        parser.feed(fixture(file).as_bytes(), &mut events).unwrap();
        parser.finish(&mut events);
        assert!(events.len() > 5);
        for ev in &events {
            let by_type: StreamEvent = serde_json::from_str(&ev.data).unwrap();
            let mut de = serde_json::Deserializer::from_str(&ev.data);
            let by_name = StreamEvent::from_tag(&ev.event, &mut de).unwrap();
            assert_eq!(by_type, by_name);
            assert_eq!(by_type.name(), ev.event);
            let data: Value = serde_json::from_str(&ev.data).unwrap();
            assert_eq!(serde_json::to_value(&by_type).unwrap(), data, "{file}");
        }
    }
}

#[test]
fn text_deltas_borrow_from_the_event() {
    let data =
        r#"{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"Hi"}}"#;
    let mut de = serde_json::Deserializer::from_str(data);
    let event = StreamEvent::from_tag("content_block_delta", &mut de).unwrap();
    let StreamEvent::ContentBlockDelta(ContentBlockDelta {
        index: 3,
        delta: BlockDelta::TextDelta(delta),
    }) = event
    else {
        panic!("{event:?}");
    };
    assert!(matches!(delta.text, Cow::Borrowed("Hi")));
    // Escapes make the text owned.
    let data = r#"{"index":0,"delta":{"type":"text_delta","text":"a\n"}}"#;
    let event: ContentBlockDelta = serde_json::from_str(data).unwrap();
    assert!(matches!(event.delta, BlockDelta::TextDelta(d) if d.text == "a\n"));
}

#[test]
fn tags_are_read_wherever_they_are() {
    for text in [
        r#"{"type":"image","source":{"type":"url","url":"https://x/y.png"}}"#,
        r#"{"source":{"url":"https://x/y.png","type":"url"},"type":"image"}"#,
        r#"{"cache_control":null,"source":{"url":"https://x/y.png","type":"url"},"type":"image"}"#,
    ] {
        let block: ContentBlock = serde_json::from_str(text).unwrap();
        let ContentBlock::Image(image) = block else {
            panic!("{text}: {block:?}");
        };
        assert!(matches!(image.source, ImageSource::Url(u) if u.url == "https://x/y.png"));
    }
}

#[test]
fn unknown_types_and_fields_are_kept_apart_not_refused() {
    let content = Content::deserialize(json!([
        {"type": "search_result", "source": "x", "title": "t", "content": []},
        {"type": "text", "text": "hi", "citations": [{"type": "char_location"}]},
        {"content": {"type": "web_search_tool_result_error"}, "type": "web_search_tool_result"},
    ]))
    .unwrap();
    let Content::Blocks(blocks) = content else {
        panic!("blocks expected");
    };
    let kinds: Vec<&str> = blocks.iter().map(ContentBlock::kind).collect();
    assert_eq!(kinds, ["search_result", "text", "web_search_tool_result"]);
    let ContentBlock::Unknown(unknown) = &blocks[0] else {
        panic!("{:?}", blocks[0]);
    };
    assert_eq!(unknown.fields["title"], "t");
    let choice = ToolChoice::deserialize(json!({"type": "sometimes"})).unwrap();
    assert_eq!(choice, ToolChoice::Unknown(Cow::Borrowed("sometimes")));
    let event: StreamEvent = serde_json::from_str(r#"{"type":"brand_new","x":[1]}"#).unwrap();
    assert_eq!(event.name(), "brand_new");
    // Unknown variants are never written.
    assert!(serde_json::to_value(&blocks[0]).is_err());
}

#[test]
fn errors_name_where_they_are() {
    let error_at = |message: Value| {
        let err = serde_path_to_error::deserialize::<_, Message>(&message).unwrap_err();
        (err.path().to_string(), err.inner().to_string())
    };
    // Read from a Value, a block's keys are sorted: `type` comes last and the
    // block is buffered, so the error names the field inside it.
    let (path, message) = error_at(json!({"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "data": "AAAA"}}
    ]}));
    assert_eq!(path, "content[0]");
    assert_eq!(message, "source: missing field `media_type`");
    let (path, message) = error_at(json!({"role": "user", "content": [{"text": "no type"}]}));
    assert_eq!(
        (path.as_str(), message.as_str()),
        ("content[0]", "missing field `type`")
    );
    let (path, message) = error_at(json!({"role": "user", "content": [{"text": "x", "type": 5}]}));
    assert_eq!(path, "content[0]");
    assert_eq!(
        message,
        "type: invalid type: integer `5`, expected a string"
    );
    let (path, _) = error_at(json!({"role": "system", "content": "x"}));
    assert_eq!(path, "role");
    // From text with the tag first, the path goes all the way.
    let text =
        r#"{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"A"}}]}"#;
    let de = &mut serde_json::Deserializer::from_str(text);
    let err = serde_path_to_error::deserialize::<_, Message>(de).unwrap_err();
    assert_eq!(err.path().to_string(), "content[0].source");
}
