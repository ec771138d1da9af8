//! The official Python SDK (`openai`, installed by `.ci/setup`) reads what
//! the dialect writes: every stream event validates as a
//! `ResponseStreamEvent` and every Response object as a `Response` (required
//! fields, literals, and no field the SDK does not know but `store`, which
//! OpenAI returns and the SDK's type leaves out), and the SDK's own
//! client — SSE decoding and the `responses.stream()` accumulator — ends
//! with the right output. Fails if python3 or the SDK is missing.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use super::response::meta;
use super::stream::{chunk, tool_delta, usage_chunk};
use super::*;

/// Checks every `<name>.sse` and `<name>.json` of the directory given as
/// the first argument against `<name>.expect.json`.
const CHECK: &str = r#"
import json, sys, pathlib
import httpx2, pydantic, openai
from openai.types.responses import Response, ResponseStreamEvent

events_adapter = pydantic.TypeAdapter(ResponseStreamEvent)

# Fields OpenAI's API returns that the SDK's types leave out.
UNTYPED = {(Response, "store")}

def no_extra(model, path="$"):
    if isinstance(model, pydantic.BaseModel):
        extra = {k for k in model.__pydantic_extra__ or {} if (type(model), k) not in UNTYPED}
        assert not extra, f"{path}: fields unknown to the SDK: {sorted(extra)}"
        for name in type(model).model_fields:
            no_extra(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, (list, tuple)):
        for i, item in enumerate(model):
            no_extra(item, f"{path}[{i}]")

def client(body, content_type):
    handler = lambda request: httpx2.Response(200, headers={"content-type": content_type}, content=body)
    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    return openai.OpenAI(api_key="sk-test", base_url="http://gateway.test/v1", http_client=http, max_retries=0)

def summary(response):
    calls = [[item.type, item.name, item.arguments if item.type == "function_call" else item.input]
             for item in response.output if item.type in ("function_call", "custom_tool_call")]
    return {"status": response.status, "output_text": response.output_text, "calls": calls}

def check_stream(name, body, expect):
    frames = [f for f in body.decode().split("\n\n") if f]
    events = []
    for i, frame in enumerate(frames):
        event_line, data_line = frame.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: "), frame
        data = json.loads(data_line[len("data: "):])
        assert event_line[len("event: "):] == data["type"], frame
        assert data["sequence_number"] == i, frame
        event = events_adapter.validate_python(data, strict=True)
        no_extra(event, f"{name}[{i}]")
        events.append(event)
    for event in events:
        if hasattr(event, "response"):
            no_extra(Response.model_validate(event.response.model_dump(mode="json", by_alias=True), strict=True))
    final = events[-1]
    assert final.type == expect["terminal"], (final.type, expect["terminal"])
    got = summary(final.response)
    assert got == expect["summary"], (got, expect["summary"])
    sdk = client(body, "text/event-stream")
    if final.type == "response.completed":
        with sdk.responses.stream(model="gpt-4.1", input="Hi") as stream:
            accumulated = stream.get_final_response()
        assert summary(accumulated) == expect["summary"], (summary(accumulated), expect["summary"])
    else:
        seen = [event.type for event in sdk.responses.create(model="gpt-4.1", input="Hi", stream=True)]
        assert seen == [event.type for event in events], seen

def check_json(name, body, expect):
    response = Response.model_validate(json.loads(body), strict=True)
    no_extra(response, name)
    assert summary(response) == expect["summary"], (summary(response), expect["summary"])
    got = client(body, "application/json").responses.create(model="gpt-4.1", input="Hi")
    assert summary(got) == expect["summary"]

checked = 0
for path in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    if path.name.endswith(".expect.json"):
        continue
    expect = json.loads(path.with_name(path.stem + ".expect.json").read_text())
    (check_stream if path.suffix == ".sse" else check_json)(path.stem, path.read_bytes(), expect)
    checked += 1
print(f"{checked} files checked with openai {openai.__version__}")
"#;

/// Codex CLI's `apply_patch` tool, in short.
fn custom_tool() -> Value {
    json!({"type": "custom", "name": "apply_patch", "description": "Edit files.",
           "format": {"type": "grammar", "syntax": "lark", "definition": "start: \"*** Begin Patch\""}})
}

/// The request every stream case answers: with a custom tool.
fn stream_request() -> Value {
    json!({"model": "gpt-4.1", "input": "Hi", "tools": [custom_tool()]})
}

fn stream_cases() -> Vec<(&'static str, Vec<Value>, Option<&'static str>)> {
    let text = vec![
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": "Hello"}), None),
        chunk(json!({"content": " world"}), None),
        chunk(json!({}), Some("stop")),
        usage_chunk(12, 2),
    ];
    let tools = vec![
        chunk(json!({"reasoning_content": "Two lookups."}), None),
        chunk(json!({"content": "Checking."}), None),
        tool_delta(0, Some("call_a"), Some("get_weather"), "{\"city\":"),
        tool_delta(1, Some("call_b"), Some("get_time"), "{\"tz\":"),
        tool_delta(0, None, None, "\"Paris\"}"),
        tool_delta(1, None, None, "\"CET\"}"),
        chunk(json!({}), Some("tool_calls")),
        usage_chunk(30, 20),
    ];
    let refusal = vec![
        chunk(json!({"content": "Well."}), None),
        chunk(json!({"refusal": "I can't."}), None),
        chunk(json!({}), Some("stop")),
    ];
    let cut = vec![chunk(json!({"content": "Once upon"}), Some("length"))];
    let failed = vec![chunk(json!({"content": "Hel"}), None)];
    let custom = vec![
        chunk(json!({"content": "Patching."}), None),
        tool_delta(
            0,
            Some("call_p"),
            Some("apply_patch"),
            r#"{"input":"*** Begin"#,
        ),
        tool_delta(0, None, None, r#" Patch\n*** End Patch"}"#),
        tool_delta(1, Some("call_f"), Some("get_time"), "{}"),
        chunk(json!({}), Some("tool_calls")),
        usage_chunk(30, 20),
    ];
    vec![
        ("text", text, None),
        ("tools", tools, None),
        ("refusal", refusal, None),
        ("incomplete", cut, None),
        ("failed", failed, Some("upstream reset")),
        ("custom", custom, None),
    ]
}

fn summary(response: &Value) -> Value {
    let items = response["output"].as_array().cloned().unwrap_or_default();
    let text: String = items
        .iter()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["type"] == "output_text")
        .map(|p| p["text"].as_str().unwrap_or_default().to_string())
        .collect();
    let calls: Vec<Value> = items
        .iter()
        .filter(|i| i["type"] == "function_call" || i["type"] == "custom_tool_call")
        .map(|i| match i["type"] == "function_call" {
            true => json!([i["type"], i["name"], i["arguments"]]),
            false => json!([i["type"], i["name"], i["input"]]),
        })
        .collect();
    json!({"status": response["status"], "output_text": text, "calls": calls})
}

fn write(dir: &Path, name: &str, body: &[u8], expect: Value) {
    std::fs::write(dir.join(name), body).unwrap();
    let stem = name.rsplit_once('.').unwrap().0;
    std::fs::write(dir.join(format!("{stem}.expect.json")), expect.to_string()).unwrap();
}

#[test]
fn the_official_python_sdk_reads_our_streams_and_responses() {
    let dir = tempfile::tempdir().unwrap();
    for (name, chunks, error) in stream_cases() {
        let mut encoder = StreamEncoder::new(meta(stream_request()));
        let mut events: Vec<Event> = chunks.iter().flat_map(|c| encoder.chunk(c)).collect();
        events.extend(match error {
            Some(message) => encoder.error(message, "server_error"),
            None => encoder.finish(),
        });
        // The SDK reads what the gateway sends: the wire path, from text.
        let mut wire_encoder = StreamEncoder::new(meta(stream_request()));
        let mut sse = Vec::new();
        for c in &chunks {
            wire_encoder.chunk_text_into(&c.to_string(), &mut sse);
        }
        match error {
            Some(message) => wire_encoder.error_into(message, "server_error", &mut sse),
            None => wire_encoder.finish_into(&mut sse),
        }
        super::stream::assert_same_on_wire(&events, &sse);
        let (terminal, response) = events.last().unwrap();
        let expect = json!({"terminal": terminal, "summary": summary(&response["response"])});
        write(dir.path(), &format!("{name}.sse"), &sse, expect);
    }
    let message = json!({
        "role": "assistant", "reasoning_content": "Hmm.", "content": "Sure.", "refusal": null,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "call_2", "type": "function",
             "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin Patch\"}"}},
        ],
    });
    for (name, finish) in [("whole", "tool_calls"), ("whole_cut", "length")] {
        let hub = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        });
        let request = json!({"model": "gpt-4.1", "input": "Hi", "instructions": "Be brief.",
                             "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": false},
                                       custom_tool()],
                             "text": {"format": {"type": "json_object"}}, "reasoning": {"effort": "low"}});
        let response = response_from_hub(&hub, &meta(request));
        let body = serde_json::to_vec(&response).unwrap();
        write(
            dir.path(),
            &format!("{name}.json"),
            &body,
            json!({"summary": summary(&response)}),
        );
    }
    let run = Command::new("python3")
        .arg("-c")
        .arg(CHECK)
        .arg(dir.path())
        .output();
    let run = run.expect("python3 must be installed (.ci/setup installs it with the openai SDK)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(
        run.status.success(),
        "the SDK check failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("8 files checked"), "{stdout}");
}
