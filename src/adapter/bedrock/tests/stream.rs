//! Streams as Bedrock sends them: real event-stream frames through the
//! [`EventStreamParser`], then the translator.

use serde_json::json;

use super::*;
use crate::transform::eventstream::EventStreamParser;

/// One event-stream frame with string headers.
fn frame(headers: &[(&str, &str)], payload: &str) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = 16 + h.len() + payload.len();
    let mut out = Vec::new();
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload.as_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn event(kind: &str, payload: Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        &payload.to_string(),
    )
}

fn exception(kind: &str, message: &str) -> Vec<u8> {
    frame(
        &[
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        &json!({"message": message}).to_string(),
    )
}

/// The chunks for `frames`, fed in reads of 7 bytes.
fn run(frames: &[Vec<u8>], include_usage: bool) -> Vec<Value> {
    let ctx = Arc::new(ctx_for(MODEL, true, include_usage, None));
    let mut translator = BEDROCK.stream(&ctx).unwrap();
    let mut parser = EventStreamParser::new(1 << 20);
    let mut out = Vec::new();
    let bytes = frames.concat();
    for piece in bytes.chunks(7) {
        let mut events = Vec::new();
        parser.feed(piece, &mut events).unwrap();
        for e in events {
            translator.event(&e.event, &e.data, &mut out).unwrap();
        }
    }
    let mut events = Vec::new();
    parser.finish(&mut events);
    assert!(events.is_empty() && !parser.saw_junk());
    translator.finish(&mut out).unwrap();
    chunks_json(&out)
}

fn deltas(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .filter_map(|c| c.get("choices")?.get(0).map(|ch| ch["delta"].clone()))
        .collect()
}

fn text_stream() -> Vec<Vec<u8>> {
    vec![
        event(
            "messageStart",
            json!({"role": "assistant", "p": "abcdefghijkl"}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "Hel"}, "p": "abcd"}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "lo"}}),
        ),
        event(
            "contentBlockStop",
            json!({"contentBlockIndex": 0, "p": "ab"}),
        ),
        event(
            "messageStop",
            json!({"stopReason": "end_turn", "p": "abcdefg"}),
        ),
        event(
            "metadata",
            json!({"usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
            "metrics": {"latencyMs": 300}, "p": "abc"}),
        ),
    ]
}

#[test]
fn text_deltas_stream_as_chunks_and_padding_is_ignored() {
    let got = run(&text_stream(), true);
    for c in &got[..got.len() - 1] {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], MODEL);
        assert_eq!(c["id"], got[0]["id"]);
    }
    assert_eq!(
        deltas(&got),
        [
            json!({"role": "assistant", "content": ""}),
            json!({"content": "Hel"}),
            json!({"content": "lo"}),
            json!({}),
        ]
    );
    assert_eq!(got[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(got[4]["choices"], json!([]));
    assert_eq!(
        got[4]["usage"],
        json!({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}})
    );
    assert_eq!(got[5], "[DONE]");
    assert_eq!(got.len(), 6);
}

/// The usage chunk (`choices: []`) is always written, as the Anthropic
/// translator does: the relay records it, and passes it to the client only
/// when the client asked (`include_usage`).
#[test]
fn the_usage_chunk_is_usage_only_whatever_include_usage() {
    for include in [false, true] {
        let got = run(&text_stream(), include);
        let usage: Vec<_> = got.iter().filter(|c| c.get("usage").is_some()).collect();
        assert_eq!(usage.len(), 1);
        assert_eq!(usage[0]["choices"], json!([]));
    }
}

#[test]
fn a_tool_call_streams_in_pieces() {
    let got = run(
        &[
            event("messageStart", json!({"role": "assistant"})),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "Checking."}}),
            ),
            event("contentBlockStop", json!({"contentBlockIndex": 0})),
            event(
                "contentBlockStart",
                json!({"contentBlockIndex": 1,
                "start": {"toolUse": {"toolUseId": "tooluse_A", "name": "get_weather"}}}),
            ),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"ci"}}}),
            ),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "ty\":\"Paris\"}"}}}),
            ),
            event("contentBlockStop", json!({"contentBlockIndex": 1})),
            event(
                "contentBlockStart",
                json!({"contentBlockIndex": 2,
                "start": {"toolUse": {"toolUseId": "tooluse_B", "name": "noop"}}}),
            ),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{}"}}}),
            ),
            event("messageStop", json!({"stopReason": "tool_use"})),
        ],
        false,
    );
    assert_eq!(
        deltas(&got),
        [
            json!({"role": "assistant", "content": ""}),
            json!({"content": "Checking."}),
            json!({"tool_calls": [{"index": 0, "id": "tooluse_A", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "ty\":\"Paris\"}"}}]}),
            json!({"tool_calls": [{"index": 1, "id": "tooluse_B", "type": "function",
                "function": {"name": "noop", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
            json!({}),
        ]
    );
    assert_eq!(
        got[got.len() - 2]["choices"][0]["finish_reason"],
        "tool_calls"
    );
    assert_eq!(got[got.len() - 1], "[DONE]");
}

#[test]
fn reasoning_deltas_become_reasoning_content() {
    let got = run(
        &[
            event("messageStart", json!({"role": "assistant"})),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0,
                "delta": {"reasoningContent": {"text": "Let me think"}}}),
            ),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0,
                "delta": {"reasoningContent": {"signature": "sig"}}}),
            ),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 1, "delta": {"text": "42"}}),
            ),
            event("messageStop", json!({"stopReason": "max_tokens"})),
        ],
        false,
    );
    assert_eq!(
        deltas(&got),
        [
            json!({"role": "assistant", "content": ""}),
            json!({"reasoning_content": "Let me think"}),
            json!({"content": "42"}),
            json!({}),
        ]
    );
    assert_eq!(got[3]["choices"][0]["finish_reason"], "length");
}

#[test]
fn an_exception_mid_stream_is_an_error_chunk_and_no_done() {
    let mut frames = text_stream();
    frames.truncate(2);
    frames.push(exception("throttlingException", "Too many requests"));
    frames.push(event(
        "contentBlockDelta",
        json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
    ));
    frames.push(event("messageStop", json!({"stopReason": "end_turn"})));
    let got = run(&frames, true);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[2],
        json!({"error": {"message": "Too many requests", "type": "rate_limit_error",
            "param": null, "code": "throttlingException"}})
    );
    for (kind, ty) in [
        ("modelStreamErrorException", "api_error"),
        ("internalServerException", "api_error"),
        ("serviceUnavailableException", "service_unavailable"),
        ("validationException", "invalid_request_error"),
    ] {
        let got = run(&[exception(kind, "boom")], false);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["error"]["type"], ty, "{kind}");
        assert_eq!(got[0]["error"]["code"], kind);
    }
}

#[test]
fn an_error_message_is_an_error_chunk() {
    let error = frame(
        &[
            (":message-type", "error"),
            (":error-code", "InternalFailure"),
            (":error-message", "it broke"),
        ],
        "",
    );
    let got = run(
        &[event("messageStart", json!({"role": "assistant"})), error],
        false,
    );
    assert_eq!(
        got[1],
        json!({"error": {"message": "it broke", "type": "api_error", "param": null,
            "code": "InternalFailure"}})
    );
    assert_eq!(got.len(), 2);
}

#[test]
fn no_done_without_message_stop() {
    let mut frames = text_stream();
    frames.truncate(3);
    let got = run(&frames, true);
    assert!(!got.iter().any(|c| c == "[DONE]"), "{got:?}");
    assert_eq!(got.len(), 3);
}

#[test]
fn a_known_event_with_malformed_data_fails_the_stream() {
    let ctx = Arc::new(ctx_for(MODEL, true, false, None));
    let mut t = BEDROCK.stream(&ctx).unwrap();
    let mut out = Vec::new();
    match t.event("contentBlockDelta", "{\"delta\": 3}", &mut out) {
        Err(AdapterError::Failed { adapter, hook, .. }) => {
            assert_eq!((adapter.as_str(), hook), ("bedrock", "stream"))
        }
        other => panic!("{other:?}"),
    }
    // Unknown events are skipped.
    t.event("somethingNew", "{}", &mut out).unwrap();
    assert!(out.is_empty());
}
