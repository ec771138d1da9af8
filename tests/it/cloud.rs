//! AWS Bedrock and Google Vertex AI end to end: OpenAI requests through the
//! real gateway to mocks that check SigV4 signatures (the mock's own
//! verifier, written from AWS's documentation and tested on AWS's test
//! suite) and Google's service-account token exchange (RS256 JWTs checked
//! against the key's public half), streams in AWS's binary event-stream
//! framing included; refused and expired credentials, rotation, token
//! caching and refresh, failover between a cloud provider and a direct one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchyard_mock::{AwsAuth, Fault, GcpAuth};

use crate::common::*;

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION: &str = "FwoGZXIvYXdzEBYaDHsessiontokenEXAMPLE";
const REGION: &str = "us-west-2";
const CLAUDE: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";

const SERVICE_ACCOUNT: &str = include_str!("../fixtures/gcp/service-account.json");
const PUBLIC_KEY: &str = include_str!("../fixtures/gcp/public.pem");
const SA_EMAIL: &str = "gateway@switchyard-test.iam.gserviceaccount.com";
const PROJECT: &str = "switchyard-test";

/// A Bedrock mock that wants `AKID`/`SECRET` with the session token.
async fn bedrock_mock(cfg: MockConfig) -> MockServer {
    let mut aws = AwsAuth::new(AKID, SECRET, REGION);
    aws.session_token = Some(SESSION.into());
    MockServer::start(MockConfig {
        aws: Some(aws),
        ..cfg
    })
    .await
    .unwrap()
}

/// A provider entry for the Bedrock mock with `secret` (and the session
/// token).
fn bedrock_entry(name: &str, mock: &MockServer, secret: &str) -> String {
    format!(
        "  {name}:\n    adapter: bedrock\n    base_url: {}\n    aws:\n      region: {REGION}\n      access_key_id: {AKID}\n      secret_access_key: \"{secret}\"\n      session_token: {SESSION}\n",
        mock.url()
    )
}

/// A Vertex mock whose token endpoint is `<url>/token`.
async fn vertex_mock(tweak: impl FnOnce(&mut GcpAuth)) -> MockServer {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let mut gcp = GcpAuth::new(PUBLIC_KEY, SA_EMAIL, format!("{}/token", mock.url()));
    gcp.project = Some(PROJECT.into());
    tweak(&mut gcp);
    mock.set_config(MockConfig {
        gcp: Some(gcp),
        ..MockConfig::default()
    });
    mock
}

/// The test service account's key file with its token endpoint at `mock`,
/// written in `dir`.
fn key_file(dir: &Path, mock: &MockServer) -> PathBuf {
    let mut sa: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
    sa["token_uri"] = json!(format!("{}/token", mock.url()));
    let path = dir.join("service-account.json");
    std::fs::write(&path, sa.to_string()).unwrap();
    path
}

fn vertex_entry(name: &str, mock: &MockServer, key: &Path) -> String {
    format!(
        "  {name}:\n    adapter: vertex\n    base_url: {}/v1\n    gcp:\n      region: us-east5\n      credentials_file: {}\n",
        mock.url(),
        key.display()
    )
}

fn route(model: &str, targets: &[(&str, &str)]) -> String {
    let list: Vec<String> = targets
        .iter()
        .map(|(p, m)| format!("{{ provider: {p}, model: \"{m}\" }}"))
        .collect();
    format!(
        "  - match: {{ model: {model} }}\n    targets: [{}]\n",
        list.join(", ")
    )
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("a JSON body")
}

/// The first content chunk arrived at least `gap` before the last one.
fn streamed(events: &[Received], gap: Duration) -> bool {
    let content: Vec<Instant> = events
        .iter()
        .filter(|e| {
            e.json()
                .and_then(|v| v.pointer("/choices/0/delta/content").cloned())
                .is_some_and(|c| c.as_str().is_some_and(|s| !s.is_empty()))
        })
        .map(|e| e.at)
        .collect();
    content.len() >= 2 && content[content.len() - 1] - content[0] >= gap
}

#[tokio::test]
async fn bedrock_signed_requests_answer_and_stream_without_buffering() {
    let mock = bedrock_mock(MockConfig {
        chunks: 6,
        chunk_delay: Duration::from_millis(100),
        ..MockConfig::default()
    })
    .await;
    let yaml = format!(
        "providers:\n{}routes:\n{}",
        bedrock_entry("bedrock", &mock, SECRET),
        route("claude", &[("bedrock", CLAUDE)])
    );
    let gw = Gateway::start(&yaml).await;

    let r = gw
        .post("/v1/chat/completions", &chat("claude", false))
        .await;
    assert_eq!(r.status(), 200);
    let body = json_of(r).await;
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], CLAUDE);
    assert_eq!(body["choices"][0]["message"]["content"], mock_text(6));
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["completion_tokens"], 6);
    let seen = mock.last_request().unwrap();
    assert_eq!(
        seen.path,
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    );
    let auth = seen.header("authorization").unwrap();
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={AKID}/"))
            && auth.contains(&format!("/{REGION}/bedrock/aws4_request")),
        "{auth}"
    );
    assert_eq!(seen.header("x-amz-security-token"), Some(SESSION));
    let sent = seen.json().unwrap();
    assert_eq!(sent["system"], json!([{"text": "You are terse."}]));
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [{"text": "Say hello"}]}])
    );

    let mut req = chat("claude", true);
    req["stream_options"] = json!({"include_usage": true});
    let r = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(r.status(), 200);
    let events = read_sse(r).await;
    assert_eq!(stream_text(&events), mock_text(6));
    assert!(
        streamed(&events, Duration::from_millis(400)),
        "each event reaches the client as its frame arrives"
    );
    let usage = events
        .iter()
        .filter_map(Received::json)
        .find_map(|v| v.get("usage").filter(|u| !u.is_null()).cloned())
        .expect("a usage chunk");
    assert_eq!(usage["completion_tokens"], 6);
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    assert_eq!(
        mock.last_request().unwrap().path,
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream"
    );
}

#[tokio::test]
async fn bedrock_tools_images_and_json_output_are_translated() {
    let mock = bedrock_mock(MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}routes:\n{}",
        bedrock_entry("bedrock", &mock, SECRET),
        route("claude", &[("bedrock", CLAUDE)])
    );
    let gw = Gateway::start(&yaml).await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    let mut req = chat("claude", false);
    req["tools"] = tools.clone();
    let body = json_of(gw.post("/v1/chat/completions", &req).await).await;
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{body}");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(args.is_object());
    let sent = mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "get_weather"
    );

    // The same through a stream: the call's arguments arrive in pieces.
    req["stream"] = json!(true);
    let events = read_sse(gw.post("/v1/chat/completions", &req).await).await;
    let chunks: Vec<Value> = events.iter().filter_map(Received::json).collect();
    let name = chunks.iter().find_map(|c| {
        c.pointer("/choices/0/delta/tool_calls/0/function/name")
            .cloned()
    });
    assert_eq!(name, Some(json!("get_weather")));
    let finish = chunks.iter().find_map(|c| {
        c.pointer("/choices/0/finish_reason")
            .filter(|f| !f.is_null())
            .cloned()
    });
    assert_eq!(finish, Some(json!("tool_calls")));

    // An image, inline as Bedrock wants it.
    let png = switchyard_mock::expected::PNG_BASE64;
    let req = json!({"model": "claude", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}}]}]});
    let r = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let sent = mock.last_request().unwrap().json().unwrap();
    let image = &sent["messages"][0]["content"][1]["image"];
    assert_eq!(image["format"], "png", "{sent}");
    assert_eq!(image["source"]["bytes"], png);

    let mut req = chat("claude", false);
    req["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "greeting",
        "schema": {"type": "object", "properties": {"hello": {"type": "string"}}}}});
    let r = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(r.status(), 200);
    let sent = mock.last_request().unwrap().json().unwrap();
    let format = &sent["outputConfig"]["textFormat"];
    assert_eq!(format["type"], "json_schema");
    let schema: Value = serde_json::from_str(
        format["structure"]["jsonSchema"]["schema"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(schema["properties"]["hello"]["type"], "string");
}

#[tokio::test]
async fn bedrock_refused_or_expired_keys_fail_over_to_a_direct_provider() {
    let mock = bedrock_mock(MockConfig::default()).await;
    let direct = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n{}{}routes:\n{}{}",
        bedrock_entry("bedrock", &mock, "the-wrong-secret-key"),
        provider("direct", "openai", &direct, None),
        route("claude", &[("bedrock", CLAUDE), ("direct", "gpt-4o")]),
        route("only", &[("bedrock", CLAUDE)])
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw
        .post("/v1/chat/completions", &chat("claude", false))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-switchyard-attempts"],
        "bedrock:403,direct:200"
    );
    assert_eq!(r.headers()["x-switchyard-provider"], "direct");

    let r = gw.post("/v1/chat/completions", &chat("only", false)).await;
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(err["error"]["code"], "provider_auth_failed");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("bedrock"), "{message}");
    assert!(message.contains("signature"), "{message}");
    assert!(!text.contains("the-wrong-secret-key") && !text.contains(SESSION));
    assert!(!gw.logs().contains("the-wrong-secret-key"));

    // An expired session token: the same failover, the reason named.
    let mut aws = AwsAuth::new(AKID, SECRET, REGION);
    aws.session_token = Some(SESSION.into());
    aws.expired = true;
    mock.set_config(MockConfig {
        aws: Some(aws),
        ..MockConfig::default()
    });
    let yaml = format!(
        "providers:\n{}{}routes:\n{}{}",
        bedrock_entry("bedrock", &mock, SECRET),
        provider("direct", "openai", &direct, None),
        route("claude", &[("bedrock", CLAUDE), ("direct", "gpt-4o")]),
        route("only", &[("bedrock", CLAUDE)])
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("claude", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-switchyard-attempts"],
        "bedrock:403,direct:200"
    );
    assert_eq!(stream_text(&read_sse(r).await), mock_text(5));
    let r = gw.post("/v1/chat/completions", &chat("only", false)).await;
    let err = json_of(r).await;
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test]
async fn bedrock_keys_come_from_the_environment_or_a_rotating_profile() {
    // No keys in routes.yaml: the AWS environment variables.
    let mock = MockServer::start(MockConfig {
        aws: Some(AwsAuth::new(AKID, SECRET, REGION)),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "providers:\n  bedrock:\n    adapter: bedrock\n    base_url: {}\nroutes:\n{}",
        mock.url(),
        route("claude", &[("bedrock", CLAUDE)])
    );
    let gw = Gateway::start_with_env(
        &yaml,
        &[
            ("AWS_ACCESS_KEY_ID", AKID),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_REGION", REGION),
        ],
    )
    .await;
    let r = gw
        .post("/v1/chat/completions", &chat("claude", false))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // A profile whose keys are stale at first; rotated in the file, they
    // are used at the next request, with no reload.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    let write = |secret: &str| {
        std::fs::write(
            &file,
            format!("[default]\naws_access_key_id = {AKID}\naws_secret_access_key = old\n[team]\naws_access_key_id = {AKID}\naws_secret_access_key = {secret}\n"),
        )
        .unwrap()
    };
    write("stale-secret");
    let yaml = format!(
        "providers:\n  bedrock:\n    adapter: bedrock\n    base_url: {}\n    aws: {{ region: {REGION}, profile: team, credentials_file: {} }}\nroutes:\n{}",
        mock.url(),
        file.display(),
        route("claude", &[("bedrock", CLAUDE)])
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw
        .post("/v1/chat/completions", &chat("claude", false))
        .await;
    assert_eq!(r.status(), 502);
    write(SECRET);
    let r = gw
        .post("/v1/chat/completions", &chat("claude", false))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn bedrock_exceptions_mid_stream_reach_the_client_in_band() {
    let mock = bedrock_mock(MockConfig {
        fault: Some(Fault::StreamError { after: 2 }),
        ..MockConfig::default()
    })
    .await;
    let yaml = format!(
        "providers:\n{}routes:\n{}",
        bedrock_entry("bedrock", &mock, SECRET),
        route("claude", &[("bedrock", CLAUDE)])
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("claude", true)).await;
    assert_eq!(r.status(), 200);
    let events = read_sse(r).await;
    assert_eq!(stream_text(&events), mock_text(2));
    let last = events.last().unwrap();
    assert_ne!(last.event.data, "[DONE]");
    let err = last.json().unwrap();
    assert!(err["error"]["message"].is_string(), "{err}");
}

#[tokio::test]
async fn vertex_serves_gemini_claude_and_partner_models_on_one_cached_token() {
    let mock = vertex_mock(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), &mock);
    let yaml = format!(
        "providers:\n{}routes:\n{}{}{}",
        vertex_entry("vertex", &mock, &key),
        route("gemini", &[("vertex", "gemini-2.5-flash")]),
        route("claude", &[("vertex", "claude-sonnet-4-5@20250929")]),
        route("llama", &[("vertex", "meta/llama-3.3-70b-instruct-maas")])
    );
    let gw = Gateway::start(&yaml).await;
    let base = format!("/v1/projects/{PROJECT}/locations/us-east5");
    for (model, path, stream_path) in [
        (
            "gemini",
            format!("{base}/publishers/google/models/gemini-2.5-flash:generateContent"),
            format!("{base}/publishers/google/models/gemini-2.5-flash:streamGenerateContent"),
        ),
        (
            "claude",
            format!("{base}/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"),
            format!(
                "{base}/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
            ),
        ),
        (
            "llama",
            format!("{base}/endpoints/openapi/chat/completions"),
            format!("{base}/endpoints/openapi/chat/completions"),
        ),
    ] {
        let r = gw.post("/v1/chat/completions", &chat(model, false)).await;
        assert_eq!(r.status(), 200, "{model}: {}", r.text().await.unwrap());
        let body = json_of(r).await;
        assert_eq!(
            body["choices"][0]["message"]["content"],
            mock_text(5),
            "{model}"
        );
        let seen = mock.last_request().unwrap();
        assert_eq!(seen.path, path, "{model}");
        assert!(seen
            .header("authorization")
            .unwrap()
            .starts_with("Bearer ya29."));
        let r = gw.post("/v1/chat/completions", &chat(model, true)).await;
        assert_eq!(r.status(), 200, "{model}");
        let events = read_sse(r).await;
        assert_eq!(stream_text(&events), mock_text(5), "{model}");
        assert_eq!(events.last().unwrap().event.data, "[DONE]", "{model}");
        assert_eq!(mock.last_request().unwrap().path, stream_path, "{model}");
    }
    // Six requests, one token exchange.
    assert_eq!(mock.token_exchanges(), 1);
    let sent = mock
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(":rawPredict"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(sent["anthropic_version"], "vertex-2023-10-16");
    assert!(sent.get("model").is_none());
}

#[tokio::test]
async fn vertex_tokens_are_refreshed_before_they_expire_and_renewed_when_refused() {
    let mock = vertex_mock(|g| g.token_ttl = Duration::from_secs(2)).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), &mock);
    let yaml = format!(
        "providers:\n{}routes:\n{}",
        vertex_entry("vertex", &mock, &key),
        route("gemini", &[("vertex", "gemini-2.5-flash")])
    );
    let gw = Gateway::start(&yaml).await;
    let ok = |r: &reqwest::Response| r.status() == 200;
    assert!(ok(&gw
        .post("/v1/chat/completions", &chat("gemini", false))
        .await));
    assert_eq!(mock.token_exchanges(), 1);
    // Past the refresh point (the last fifth of 2 s) the next request
    // refreshes; every request in between is served.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert!(ok(&gw
        .post("/v1/chat/completions", &chat("gemini", false))
        .await));
    assert_eq!(mock.token_exchanges(), 2);
    assert!(ok(&gw
        .post("/v1/chat/completions", &chat("gemini", false))
        .await));
    assert_eq!(mock.token_exchanges(), 2);

    // Vertex stops accepting the token (401): that request fails, the
    // token is dropped, the next request gets a new one.
    mock.revoke_tokens();
    let r = gw
        .post("/v1/chat/completions", &chat("gemini", false))
        .await;
    assert_eq!(r.status(), 502);
    assert_eq!(json_of(r).await["error"]["code"], "provider_auth_failed");
    assert!(ok(&gw
        .post("/v1/chat/completions", &chat("gemini", false))
        .await));
    assert_eq!(mock.token_exchanges(), 3);
}

#[tokio::test]
async fn vertex_refused_keys_fail_over_with_googles_reason_and_no_secret() {
    let mock = vertex_mock(|g| g.refuse = true).await;
    let direct = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), &mock);
    let yaml = format!(
        "providers:\n{}{}routes:\n{}{}",
        vertex_entry("vertex", &mock, &key),
        provider("direct", "openai", &direct, None),
        route(
            "gemini",
            &[("vertex", "gemini-2.5-flash"), ("direct", "gpt-4o")]
        ),
        route("only", &[("vertex", "gemini-2.5-flash")])
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("gemini", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-switchyard-attempts"],
        "vertex:credentials,direct:200"
    );
    assert_eq!(stream_text(&read_sse(r).await), mock_text(5));
    let r = gw.post("/v1/chat/completions", &chat("only", false)).await;
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(err["error"]["code"], "provider_auth_failed");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("vertex") && message.contains("invalid_grant"),
        "{message}"
    );
    // The private key is in no answer and no log line.
    let pem_line = SERVICE_ACCOUNT.split("\\n").nth(3).unwrap();
    assert!(pem_line.len() > 40);
    assert!(!text.contains(pem_line) && !gw.logs().contains(pem_line));
    // A refused key is asked again only after a pause, not per request.
    let before = mock.token_exchanges();
    for _ in 0..3 {
        gw.post("/v1/chat/completions", &chat("only", false)).await;
    }
    assert_eq!(mock.token_exchanges(), before);
}

#[tokio::test]
async fn a_token_echoed_by_vertex_is_redacted() {
    let mock = vertex_mock(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), &mock);
    let yaml = format!(
        "providers:\n{}routes:\n{}",
        vertex_entry("vertex", &mock, &key),
        route("llama", &[("vertex", "meta/llama-3.3-70b-instruct-maas")])
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("llama", false))
            .await
            .status(),
        200
    );
    let token = mock
        .last_request()
        .unwrap()
        .header("authorization")
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_string();
    mock.set_fault(Some(Fault::EchoKey { code: 400 }));
    let r = gw.post("/v1/chat/completions", &chat("llama", false)).await;
    let text = r.text().await.unwrap();
    assert!(text.contains("***"), "{text}");
    assert!(!text.contains(&token), "{text}");
}

#[tokio::test]
async fn an_access_token_as_api_key_needs_no_exchange() {
    let mock = vertex_mock(|g| g.static_tokens = vec!["ya29.from-gcloud".into()]).await;
    let yaml = format!(
        "providers:\n  vertex:\n    adapter: vertex\n    base_url: {}/v1\n    api_key: ya29.from-gcloud\n    options: {{ project: {PROJECT}, location: us-east5 }}\nroutes:\n{}",
        mock.url(),
        route("claude", &[("vertex", "claude-haiku-4-5@20251001")])
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("claude", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(stream_text(&read_sse(r).await), mock_text(5));
    assert_eq!(mock.token_exchanges(), 0);
}

#[tokio::test]
async fn missing_cloud_credentials_disable_the_provider_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_string_lossy().to_string();
    let yaml = "providers:\n  bedrock: { preset: bedrock }\n  vertex: { preset: vertex }\n  spare: { adapter: openai, base_url: http://127.0.0.1:9/v1 }\nroutes:\n  - match: { model: m }\n    targets: [{ provider: spare }]\n";
    let gw = Gateway::start_with_env(yaml, &[("HOME", &home)]).await;
    let logs = gw.logs();
    assert!(
        logs.contains("provider `bedrock` is disabled: no AWS credentials"),
        "{logs}"
    );
    assert!(
        logs.contains("provider `vertex` is disabled: no Google credentials"),
        "{logs}"
    );
}

#[tokio::test]
async fn official_sdks_reach_bedrock_and_vertex_and_fail_over_between_them() {
    let bedrock = bedrock_mock(MockConfig::default()).await;
    let vertex = vertex_mock(|_| {}).await;
    let broken = bedrock_mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), &vertex);
    let yaml = format!(
        "providers:\n{}{}{}routes:\n{}{}{}{}",
        bedrock_entry("bedrock", &bedrock, SECRET),
        bedrock_entry("broken", &broken, "wrong-secret"),
        vertex_entry("vertex", &vertex, &key),
        route("bedrock-claude", &[("bedrock", CLAUDE)]),
        route("vertex-claude", &[("vertex", "claude-sonnet-4-5@20250929")]),
        route("vertex-gemini", &[("vertex", "gemini-2.5-flash")]),
        route(
            "failover",
            &[("broken", CLAUDE), ("vertex", "claude-sonnet-4-5@20250929")]
        )
    );
    let gw = Gateway::start(&yaml).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/python/cloud.py");
    let models = "bedrock-claude,vertex-claude,vertex-gemini,failover";
    let base = gw.url("");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, base.trim_end_matches('/'), models])
            .output()
    })
    .await
    .unwrap()
    .expect("python3 with the openai and anthropic SDKs (.ci/setup installs them)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = mock_text(5);
    for model in models.split(',') {
        for line in [
            format!("{model} OPENAI={text} FINISH=stop USAGE=5"),
            format!("{model} OPENAI_STREAM={text} USAGE=5"),
            format!("{model} TOOL=get_weather FINISH=tool_calls"),
            format!("{model} ANTHROPIC={text} STOP=end_turn"),
            format!("{model} ANTHROPIC_STREAM={text} STOP=end_turn"),
        ] {
            assert!(stdout.contains(&line), "missing `{line}` in:\n{stdout}");
        }
    }
    assert!(broken.hits() > 0, "the failover route tried Bedrock first");
}

/// The preset's models (Claude, Llama, Mistral, Nova) all go through
/// Converse, each id encoded into the path, and each answer is priced from
/// the preset's list prices unless routes.yaml says otherwise.
#[tokio::test]
async fn every_bedrock_family_goes_through_converse_and_is_priced_from_the_preset() {
    let mock = bedrock_mock(MockConfig::default()).await;
    let haiku = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
    let llama = "us.meta.llama3-3-70b-instruct-v1:0";
    let mistral = "mistral.mistral-large-2407-v1:0";
    let nova = "amazon.nova-pro-v1:0";
    let yaml = format!(
        "providers:\n  bedrock:\n    preset: bedrock\n    base_url: {}\n    aws: {{ region: {REGION}, access_key_id: {AKID}, secret_access_key: \"{SECRET}\", session_token: {SESSION} }}\n    models:\n      \"{nova}\": {{ input_per_mtok: 1, output_per_mtok: 4 }}\nroutes:\n{}{}{}{}",
        mock.url(),
        route("haiku", &[("bedrock", haiku)]),
        route("llama", &[("bedrock", llama)]),
        route("mistral", &[("bedrock", mistral)]),
        route("nova", &[("bedrock", nova)]),
    );
    let gw = Gateway::start(&yaml).await;
    // (model, encoded id, $ per million input and output tokens)
    for (model, id, prices) in [
        (
            "haiku",
            "us.anthropic.claude-haiku-4-5-20251001-v1%3A0",
            (1.0, 5.0),
        ),
        (
            "llama",
            "us.meta.llama3-3-70b-instruct-v1%3A0",
            (0.72, 0.72),
        ),
        ("mistral", "mistral.mistral-large-2407-v1%3A0", (2.0, 6.0)),
        // routes.yaml's price over the preset's (0.8 / 3.2)
        ("nova", "amazon.nova-pro-v1%3A0", (1.0, 4.0)),
    ] {
        let r = gw.post("/v1/chat/completions", &chat(model, false)).await;
        assert_eq!(r.status(), 200, "{model}");
        let cost: f64 = r.headers()["x-switchyard-cost-usd"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = json_of(r).await;
        let (input, output) = (
            body["usage"]["prompt_tokens"].as_f64().unwrap(),
            body["usage"]["completion_tokens"].as_f64().unwrap(),
        );
        let want = (input * prices.0 + output * prices.1) / 1e6;
        assert!((cost - want).abs() < 1e-12, "{model}: {cost} != {want}");
        assert_eq!(
            mock.last_request().unwrap().path,
            format!("/model/{id}/converse"),
            "{model}"
        );
    }
}

/// A token endpoint that cannot be reached: the attempt fails over, and
/// alone it is a 502 saying so (not an auth failure).
#[tokio::test]
async fn an_unreachable_token_endpoint_fails_over() {
    let mock = vertex_mock(|_| {}).await;
    let direct = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sa: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
    let closed = free_port();
    sa["token_uri"] = json!(format!("http://127.0.0.1:{closed}/token"));
    let key = dir.path().join("sa.json");
    std::fs::write(&key, sa.to_string()).unwrap();
    let yaml = format!(
        "providers:\n{}{}routes:\n{}{}",
        vertex_entry("vertex", &mock, &key),
        provider("direct", "openai", &direct, None),
        route(
            "gemini",
            &[("vertex", "gemini-2.5-flash"), ("direct", "gpt-4o")]
        ),
        route("only", &[("vertex", "gemini-2.5-flash")])
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw
        .post("/v1/chat/completions", &chat("gemini", false))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-switchyard-attempts"],
        "vertex:credentials,direct:200"
    );
    let r = gw.post("/v1/chat/completions", &chat("only", false)).await;
    assert_eq!(r.status(), 502);
    let err = json_of(r).await;
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("vertex") && message.contains("token endpoint"),
        "{message}"
    );
    assert_ne!(err["error"]["code"], "provider_auth_failed");
    assert_eq!(mock.hits(), 0, "no model request without a token");
}

/// A token endpoint that accepts the connection and never answers: the
/// exchange is bounded by the attempt's time (the route's `first_byte`
/// here), then the next target answers.
#[tokio::test]
async fn a_hanging_token_endpoint_is_bounded_by_the_attempts_time() {
    let mock = vertex_mock(|_| {}).await;
    let direct = MockServer::start(MockConfig::default()).await.unwrap();
    // Listening, never accepting: the request goes out, no answer comes.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sa: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
    sa["token_uri"] = json!(format!("http://{}/token", silent.local_addr().unwrap()));
    let key = dir.path().join("sa.json");
    std::fs::write(&key, sa.to_string()).unwrap();
    let yaml = format!(
        "providers:\n{}{}routes:\n{}    timeouts: {{ first_byte: 500ms }}\n",
        vertex_entry("vertex", &mock, &key),
        provider("direct", "openai", &direct, None),
        route(
            "gemini",
            &[("vertex", "gemini-2.5-flash"), ("direct", "gpt-4o")]
        ),
    );
    let gw = Gateway::start(&yaml).await;
    let began = Instant::now();
    let r = gw
        .post("/v1/chat/completions", &chat("gemini", false))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-switchyard-attempts"],
        "vertex:credentials,direct:200"
    );
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    drop(silent);
}
