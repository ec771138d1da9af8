//! The official `openai` Python and Node SDKs, unchanged, against the
//! gateway. `.ci/setup` installs both (pip; npm in tests/sdk/node).

use std::process::Command;

use crate::common::*;

const PY: &str = r#"
import sys, openai
client = openai.OpenAI(base_url=sys.argv[1], api_key="unused", max_retries=0)
parts = []
stream = client.chat.completions.create(model="smart", stream=True, stream_options={"include_usage": True},
    messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])
usage = None
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        parts.append(chunk.choices[0].delta.content)
    if chunk.usage:
        usage = chunk.usage.completion_tokens
resp = client.chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi"}])
emb = client.embeddings.create(model="emb", input=["a", "b"])
models = [m.id for m in client.models.list()]
try:
    client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    err = "none"
except openai.NotFoundError as e:
    err = "404"
print("STREAM=" + "".join(parts))
print("USAGE=" + str(usage))
print("TEXT=" + resp.choices[0].message.content)
print("EMB=" + str(len(emb.data)) + "x" + str(len(emb.data[0].embedding)))
print("MODELS=" + ",".join(models))
print("ERR=" + err)
"#;

/// A gateway with `smart` on the Anthropic-format mock and `emb` on an
/// OpenAI-format one.
async fn gateway() -> (MockServer, MockServer, Gateway) {
    let claude = MockServer::start(MockConfig::default()).await.unwrap();
    let oa = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: smart }}\n    targets: [{{ provider: claude, model: claude-sonnet-4 }}]\n  - match: {{ model: emb }}\n    targets: [{{ provider: oa, model: text-embedding-3-small }}]\n",
        provider("claude", "anthropic", &claude, Some("k")),
        provider("oa", "openai", &oa, None)
    );
    let gw = Gateway::start(&yaml).await;
    (claude, oa, gw)
}

/// Runs `program args…` to success; its standard output.
async fn run(program: &'static str, args: Vec<String>) -> String {
    let out = tokio::task::spawn_blocking(move || Command::new(program).args(&args).output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{program} is needed (.ci/setup installs the SDKs): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{program} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.into_owned()
}

/// Runs `program args… base_url` and checks what the SDK saw.
async fn check_sdk(program: &'static str, args: Vec<String>) {
    let (_claude, _oa, gw) = gateway().await;
    let mut args = args;
    args.push(gw.url("/v1"));
    let stdout = run(program, args).await;
    assert!(
        stdout.contains(&format!("STREAM={}\n", mock_text(5))),
        "{stdout}"
    );
    assert!(stdout.contains("USAGE=5\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("TEXT={}\n", mock_text(5))),
        "{stdout}"
    );
    assert!(stdout.contains("EMB=2x8\n"), "{stdout}");
    assert!(stdout.contains("MODELS=smart,emb\n"), "{stdout}");
    assert!(stdout.contains("ERR=404\n"), "{stdout}");
}

#[tokio::test]
async fn python_sdk_streams_from_the_anthropic_format_mock() {
    check_sdk("python3", vec!["-c".into(), PY.into()]).await;
}

#[tokio::test]
async fn node_sdk_streams_from_the_anthropic_format_mock() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/node/chat.mjs");
    check_sdk("node", vec![script.into()]).await;
}

/// The Python SDK streams a tool call from the Gemini-format mock (one
/// delta with the whole call), accumulates it with its own stream helper,
/// sends the result back (the call id carries Gemini's thought signature,
/// which the mock requires) and streams the answer.
#[tokio::test]
async fn python_sdk_streams_tool_calls_from_the_gemini_format_mock() {
    const GEMINI_TOOLS_PY: &str = r#"
import json, sys, openai
client = openai.OpenAI(base_url=sys.argv[1], api_key="unused", max_retries=0)
tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Weather in Paris?"}]
# Raw chunks, accumulated by hand as clients do.
calls, finish, usage = {}, None, None
for chunk in client.chat.completions.create(model="g", messages=messages, tools=tools, stream=True,
                                            stream_options={"include_usage": True}):
    if chunk.usage:
        usage = chunk.usage.total_tokens
    for choice in chunk.choices:
        for tc in choice.delta.tool_calls or []:
            c = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            c["id"] += tc.id or ""
            c["name"] += tc.function.name or ""
            c["arguments"] += tc.function.arguments or ""
        finish = choice.finish_reason or finish
call = calls[0]
print("CALLS=" + str(len(calls)))
print("NAME=" + call["name"])
print("ARGS=" + json.dumps(json.loads(call["arguments"]), sort_keys=True))
print("FINISH=" + str(finish))
print("USAGE=" + str(usage))
# The SDK's own stream helper: typed events and the final completion.
with client.chat.completions.stream(model="g", messages=messages, tools=tools) as stream:
    done = [e.name for e in stream if e.type == "tool_calls.function.arguments.done"]
    final = stream.get_final_completion()
print("HELPER=" + ",".join(done) + ":" + final.choices[0].finish_reason)
# The result goes back; the answer streams.
messages.append({"role": "assistant", "content": None, "tool_calls": [
    {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}]})
messages.append({"role": "tool", "tool_call_id": call["id"], "content": "18C and sunny"})
text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
    model="g", messages=messages, tools=tools, stream=True) if c.choices)
print("TEXT=" + text)
"#;
    let mock = MockServer::start(MockConfig {
        api_key: Some("AIza-sdk".into()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "providers:\n  gem:\n    adapter: gemini\n    base_url: {}/v1beta\n    api_key: AIza-sdk\nroutes:\n  - match: {{ model: g }}\n    targets: [{{ provider: gem, model: gemini-2.5-flash }}]\n",
        mock.url()
    );
    let gw = Gateway::start(&yaml).await;
    let args = vec!["-c".to_string(), GEMINI_TOOLS_PY.to_string(), gw.url("/v1")];
    let stdout = run("python3", args).await;
    for line in [
        "CALLS=1",
        "NAME=get_weather",
        r#"ARGS={"city": "Paris", "unit": "c"}"#,
        "FINISH=tool_calls",
        "HELPER=get_weather:tool_calls",
        &format!("TEXT={}", mock_text(5)),
    ] {
        assert!(stdout.contains(&format!("{line}\n")), "{line}: {stdout}");
    }
    // "be brief" + "Weather in Paris?" = 25 characters -> 6 prompt tokens, 5 out.
    assert!(stdout.contains("USAGE=11\n"), "{stdout}");
    assert_eq!(mock.hits(), 3);
}

/// A gateway for the SDKs' Responses and endpoint scripts: `gpt` and
/// every other model on a failing OpenAI-format provider, then a working
/// one (so each call fails over); `claude` on an Anthropic-format one.
async fn endpoints_gateway() -> (MockServer, MockServer, Gateway) {
    let bad = MockServer::start(MockConfig {
        error_rate: 1.0,
        error_status: 503,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let good = MockServer::start(MockConfig::default()).await.unwrap();
    let caps = "    capabilities: { images: true, audio: true, speech: true, moderations: true }\n";
    let all = "    capabilities: { images: true, audio: true, speech: true, moderations: true, files: true, batches: true }\n";
    let yaml = format!(
        "providers:\n{}{caps}{}{all}{}routes:\n  - match: {{ model: claude }}\n    targets: [{{ provider: claude, model: claude-sonnet-4 }}]\n  - match: {{ model: \"*\" }}\n    targets: [{{ provider: bad }}, {{ provider: good }}]\n",
        provider("bad", "openai", &bad, None),
        provider("good", "openai", &good, None),
        provider("claude", "anthropic", &good, Some("k")),
    );
    let gw = Gateway::start(&yaml).await;
    (bad, good, gw)
}

/// Runs an endpoints script with `program` and checks every line.
async fn check_endpoints(program: &'static str, script: &'static str) {
    let (bad, _good, gw) = endpoints_gateway().await;
    let stdout = run(program, vec![script.to_string(), gw.url("/v1")]).await;
    let text = mock_text(5);
    let mut expected = Vec::new();
    for model in ["GPT", "CLAUDE"] {
        expected.extend([
            format!("{model}_TEXT={text}"),
            format!("{model}_STREAM={text}"),
            format!("{model}_STREAM_FINAL={text}"),
            format!("{model}_HELPER={text}"),
            format!("{model}_TOOL=get_weather:{text}"),
            // The Anthropic mock says a few words before its tool call.
            match model {
                "GPT" => format!("{model}_ITEMS=message,function_call,function_call_output"),
                _ => format!("{model}_ITEMS=message,message,function_call,function_call_output"),
            },
            format!("{model}_RETRIEVED=True"),
            format!("{model}_DELETED=yes"),
        ]);
    }
    expected.extend([
        "IMAGE=True".to_string(),
        "EDIT=True".to_string(),
        "SPEECH=20480".to_string(),
        "MODERATION=True,False".to_string(),
        r#"FILE_CONTENT={"custom_id":"1"}"#.to_string(),
        "BATCH=ok".to_string(),
    ]);
    for line in &expected {
        assert!(stdout.contains(&format!("{line}\n")), "{line}: {stdout}");
    }
    for kind in ["TRANSCRIPTION", "TRANSLATION"] {
        let line = stdout.lines().find(|l| l.starts_with(kind)).unwrap_or("");
        assert!(line.contains("512000"), "the whole upload arrived: {line}");
    }
    // The first calls failed over; then its breaker kept `bad` out.
    assert!(bad.hits() >= 3, "the calls failed over: {}", bad.hits());
}

#[tokio::test]
async fn python_sdk_speaks_responses_and_the_other_endpoints() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/python/endpoints.py");
    check_endpoints("python3", script).await;
}

#[tokio::test]
async fn node_sdk_speaks_responses_and_the_other_endpoints() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/node/endpoints.mjs");
    check_endpoints("node", script).await;
}
