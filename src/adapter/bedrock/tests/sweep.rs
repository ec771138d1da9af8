//! Robustness sweep: a request, an answer and stream events that reach
//! most branches, each with every field (one at a time) removed or set to
//! an odd value. Nothing may panic; a hub request is only ever `Rejected`
//! (never `Failed`), and a provider's answer or event never `Rejected`.

use serde_json::json;

use super::*;
use crate::adapter::sweep::variations;

#[test]
fn odd_requests_are_refused_never_failed() {
    let body = json!({
        "model": "m",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "t"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
            {"role": "assistant", "content": "a", "tool_calls": [{"id": "t1", "type": "function",
                "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "r"}
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}},
        "reasoning_effort": "low", "top_k": 3, "max_tokens": 10, "stop": ["x"],
        "temperature": 0.1, "top_p": 0.5, "n": 1
    });
    BEDROCK.request(&body, &ctx()).unwrap();
    for v in variations(&body) {
        if let Err(AdapterError::Failed { .. }) = BEDROCK.request(&v, &ctx()) {
            panic!("failed on {v}");
        }
    }
}

#[test]
fn odd_answers_and_events_fail_never_refused() {
    let answer = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"text": "x"},
            {"toolUse": {"toolUseId": "t", "name": "f", "input": {"a": 1}}},
            {"reasoningContent": {"reasoningText": {"text": "r"}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 1, "outputTokens": 2, "cacheReadInputTokens": 3}
    });
    BEDROCK.response(answer.clone(), &ctx()).unwrap();
    for v in variations(&answer) {
        if let Err(AdapterError::Rejected { .. }) = BEDROCK.response(v.clone(), &ctx()) {
            panic!("refused {v}");
        }
    }
    let events = [
        ("messageStart", json!({"role": "assistant"})),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{}"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "r"}}}),
        ),
        ("messageStop", json!({"stopReason": "end_turn"})),
        (
            "metadata",
            json!({"usage": {"inputTokens": 1, "outputTokens": 2}}),
        ),
        ("exception:throttlingException", json!({"message": "m"})),
        ("error", json!({"code": "c", "message": "m"})),
    ];
    let stream_ctx = Arc::new(ctx_for(MODEL, true, true, None));
    for (event, data) in events {
        for v in std::iter::once(data.clone()).chain(variations(&data)) {
            let mut t = BEDROCK.stream(&stream_ctx).unwrap();
            let mut out = Vec::new();
            if let Err(AdapterError::Rejected { .. }) = t.event(event, &v.to_string(), &mut out) {
                panic!("refused {event} {v}");
            }
            let _ = t.finish(&mut out);
        }
    }
}
