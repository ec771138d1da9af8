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

/// Runs `program args… base_url` and checks what the SDK saw.
async fn check_sdk(program: &'static str, args: Vec<String>) {
    let (_claude, _oa, gw) = gateway().await;
    let mut args = args;
    args.push(gw.url("/v1"));
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
