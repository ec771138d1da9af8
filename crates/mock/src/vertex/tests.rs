//! Tests of the Vertex AI endpoints over HTTP: the token exchange with the
//! test service account (`tests/fixtures/gcp/`), and the three publishers'
//! paths behind its tokens.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::tests::util::*;
use crate::{GcpAuth, MockConfig, MockServer};

const SERVICE_ACCOUNT: &str = include_str!("../../../../tests/fixtures/gcp/service-account.json");
const PUBLIC_PEM: &str = include_str!("../../../../tests/fixtures/gcp/public.pem");
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const BASE: &str = "/v1/projects/switchyard-test/locations/us-central1";
const BAD_TIME: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a \
    reasonable timeframe. Check your iat and exp values in the JWT claim.";

fn account() -> Value {
    serde_json::from_str(SERVICE_ACCOUNT).unwrap()
}

fn client_email() -> String {
    account()["client_email"].as_str().unwrap().to_owned()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A mock whose `gcp` is the test service account, changed by `adjust`.
async fn vertex(adjust: impl FnOnce(&mut GcpAuth)) -> MockServer {
    let mock = start(MockConfig::default()).await;
    let mut gcp = GcpAuth::new(PUBLIC_PEM, client_email(), format!("{}/token", mock.url()));
    adjust(&mut gcp);
    mock.set_config(MockConfig {
        gcp: Some(gcp),
        ..mock.config()
    });
    mock
}

/// The claims Google documents for a service account's assertion.
fn claims(mock: &MockServer) -> Value {
    let iat = now();
    json!({"iss": client_email(), "scope": SCOPE, "aud": format!("{}/token", mock.url()),
           "iat": iat, "exp": iat + 3600})
}

/// `claims` signed RS256 with the service account's private key.
fn sign(claims: &Value) -> String {
    let account = account();
    let pem = account["private_key"].as_str().unwrap();
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = account["private_key_id"].as_str().map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// POSTs `form` to `/token`: the status and the JSON answer.
async fn exchange(mock: &MockServer, form: &[(&str, &str)]) -> (u16, Value) {
    status_json(client().post(format!("{}/token", mock.url())).form(form)).await
}

async fn assertion_answer(mock: &MockServer, claims: &Value) -> (u16, Value) {
    exchange(
        mock,
        &[("grant_type", JWT_BEARER), ("assertion", &sign(claims))],
    )
    .await
}

/// A token for the service account.
async fn token(mock: &MockServer) -> String {
    let (status, body) = assertion_answer(mock, &claims(mock)).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// POSTs `body` to the Vertex path `path` (after the location) with `token`.
async fn call(
    mock: &MockServer,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}{BASE}/{path}", mock.url()))
        .json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

fn gemini_body() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Hello there, mock!"}]}]})
}

fn claude_body(stream: bool) -> Value {
    let mut body = messages_body(stream);
    body.as_object_mut().unwrap().remove("model");
    body["anthropic_version"] = json!("vertex-2023-10-16");
    body
}

fn llama_body(stream: bool) -> Value {
    let mut body = chat_body(stream);
    body["model"] = json!("meta/llama-3.3-70b-instruct-maas");
    body
}

const GEMINI: &str = "publishers/google/models/gemini-2.0-flash";
const CLAUDE: &str = "publishers/anthropic/models/claude-sonnet-4@20250514";
const OPENAPI: &str = "endpoints/openapi/chat/completions";

/// Asserts Google's 401 for a missing or unknown token.
async fn assert_unauthenticated(res: reqwest::Response) {
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    let expected = json!({"error": {"code": 401, "message": "Request had invalid authentication \
        credentials. Expected OAuth 2 access token, login cookie or other valid authentication \
        credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "status": "UNAUTHENTICATED"}});
    assert_eq!(body, expected);
}

#[tokio::test]
async fn a_signed_jwt_gets_a_token_that_works_on_every_publisher() {
    let mock = vertex(|_| {}).await;
    let (status, body) = assertion_answer(&mock, &claims(&mock)).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with("ya29.mock-1-"), "{token}");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(mock.token_exchanges(), 1);

    let res = call(
        &mock,
        &format!("{GEMINI}:generateContent"),
        Some(token),
        &gemini_body(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let reply: Value = res.json().await.unwrap();
    assert_eq!(reply["modelVersion"], "gemini-2.0-flash");
    let path = format!("{GEMINI}:streamGenerateContent?alt=sse");
    let res = call(&mock, &path, Some(token), &gemini_body()).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().ends_with("\r\n\r\n"));
    assert_eq!(
        mock.last_request().unwrap().path,
        format!("{BASE}/{GEMINI}:streamGenerateContent")
    );

    let res = call(
        &mock,
        &format!("{CLAUDE}:rawPredict"),
        Some(token),
        &claude_body(false),
    )
    .await;
    assert_eq!(res.status(), 200);
    let reply: Value = res.json().await.unwrap();
    assert_eq!(reply["model"], "claude-sonnet-4@20250514");
    assert_eq!(reply["type"], "message");
    let path = format!("{CLAUDE}:streamRawPredict");
    let res = call(&mock, &path, Some(token), &claude_body(true)).await;
    assert_eq!(res.status(), 200);
    let events = parse_sse(&res.text().await.unwrap());
    assert_eq!(events.last().unwrap().name.as_deref(), Some("message_stop"));

    let res = call(&mock, OPENAPI, Some(token), &llama_body(false)).await;
    assert_eq!(res.status(), 200);
    let reply: Value = res.json().await.unwrap();
    assert_eq!(reply["model"], "meta/llama-3.3-70b-instruct-maas");
    let res = call(&mock, OPENAPI, Some(token), &llama_body(true)).await;
    assert_eq!(res.status(), 200);
    let events = parse_sse(&res.text().await.unwrap());
    assert_eq!(events.last().unwrap().data, "[DONE]");
    assert_eq!(mock.hits(), 6);
}

#[tokio::test]
async fn refused_assertions_get_googles_errors() {
    let mock = vertex(|_| {}).await;
    let good = claims(&mock);
    let with = |changes: &[(&str, Value)]| {
        let mut claims = good.clone();
        for (field, value) in changes {
            claims[*field] = value.clone();
        }
        claims
    };
    let mut no_scope = good.clone();
    no_scope.as_object_mut().unwrap().remove("scope");
    let audience = format!(
        "Invalid JWT: Failed audience check. The right audience is {}/token",
        mock.url()
    );
    let iat = now();
    let storage = "https://www.googleapis.com/auth/devstorage.read_only";
    let cases: Vec<(&str, Value, &str, String)> = vec![
        (
            "wrong aud",
            with(&[("aud", json!("https://oauth2.googleapis.com/token"))]),
            "invalid_grant",
            audience,
        ),
        (
            "wrong iss",
            with(&[("iss", json!("other@x.iam.gserviceaccount.com"))]),
            "invalid_grant",
            "Invalid grant: account not found".into(),
        ),
        (
            "no scope",
            no_scope,
            "invalid_scope",
            "Empty or missing scope not allowed.".into(),
        ),
        (
            "other scope",
            with(&[("scope", json!(storage))]),
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.".into(),
        ),
        (
            "expired",
            with(&[("iat", json!(iat - 7200)), ("exp", json!(iat - 3600))]),
            "invalid_grant",
            BAD_TIME.into(),
        ),
        (
            "too long",
            with(&[("exp", json!(iat + 7200))]),
            "invalid_grant",
            BAD_TIME.into(),
        ),
        (
            "from the future",
            with(&[("iat", json!(iat + 600))]),
            "invalid_grant",
            BAD_TIME.into(),
        ),
    ];
    for (name, claims, error, description) in cases {
        let (status, body) = assertion_answer(&mock, &claims).await;
        assert_eq!(status, 400, "{name}: {body}");
        let expected = json!({"error": error, "error_description": description});
        assert_eq!(body, expected, "{name}");
    }

    let signed = sign(&good);
    let (head, signature) = signed.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{head}.{flipped}{}", &signature[1..]);
    let (status, body) = exchange(
        &mock,
        &[("grant_type", JWT_BEARER), ("assertion", &tampered)],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    );

    let (status, body) = exchange(&mock, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unsupported_grant_type");
    assert_eq!(
        body["error_description"],
        "Invalid grant_type: client_credentials"
    );
    assert_eq!(mock.token_exchanges(), 0);
}

#[tokio::test]
async fn the_refresh_token_grant_checks_client_and_token() {
    let mock = vertex(|gcp| {
        gcp.refresh_token = Some(("client-1".into(), "secret-1".into(), "1//refresh".into()));
    })
    .await;
    let form = |id, secret, token| {
        [
            ("grant_type", "refresh_token"),
            ("client_id", id),
            ("client_secret", secret),
            ("refresh_token", token),
        ]
    };
    let (status, body) = exchange(&mock, &form("client-1", "secret-1", "1//refresh")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"]
        .as_str()
        .unwrap()
        .starts_with("ya29.mock-1-"));
    let (status, body) = exchange(&mock, &form("client-1", "wrong", "1//refresh")).await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("invalid_client")),
        "{body}"
    );
    let (status, body) = exchange(&mock, &form("client-2", "secret-1", "1//refresh")).await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("invalid_client")),
        "{body}"
    );
    let (status, body) = exchange(&mock, &form("client-1", "secret-1", "1//other")).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    assert_eq!(mock.token_exchanges(), 1);
}

#[tokio::test]
async fn a_refusing_token_endpoint_answers_invalid_grant() {
    let mock = vertex(|gcp| gcp.refuse = true).await;
    let (status, body) = assertion_answer(&mock, &claims(&mock)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(mock.token_exchanges(), 0);
}

#[tokio::test]
async fn model_endpoints_want_a_token_the_mock_issued() {
    let mock = vertex(|_| {}).await;
    let generate = format!("{GEMINI}:generateContent");
    assert_unauthenticated(call(&mock, &generate, None, &gemini_body()).await).await;
    let forged = Some("ya29.mock-1-0000000000000000");
    assert_unauthenticated(call(&mock, &generate, forged, &gemini_body()).await).await;
    let raw = format!("{CLAUDE}:rawPredict");
    assert_unauthenticated(call(&mock, &raw, None, &claude_body(false)).await).await;
    assert_unauthenticated(call(&mock, OPENAPI, None, &llama_body(false)).await).await;
    assert_eq!(mock.hits(), 4, "refused calls are recorded and counted");
}

#[tokio::test]
async fn a_token_expires_after_its_ttl() {
    let mock = vertex(|gcp| gcp.token_ttl = Duration::from_secs(1)).await;
    let (status, body) = assertion_answer(&mock, &claims(&mock)).await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().unwrap();
    let generate = format!("{GEMINI}:generateContent");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let res = call(&mock, &generate, Some(token), &gemini_body()).await;
        if res.status() == 401 {
            assert_unauthenticated(res).await;
            break;
        }
        assert_eq!(res.status(), 200);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the token never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn revoked_tokens_are_refused_and_new_ones_work() {
    let mock = vertex(|_| {}).await;
    let old = token(&mock).await;
    let generate = format!("{GEMINI}:generateContent");
    assert_eq!(
        call(&mock, &generate, Some(&old), &gemini_body())
            .await
            .status(),
        200
    );
    mock.revoke_tokens();
    assert_unauthenticated(call(&mock, &generate, Some(&old), &gemini_body()).await).await;
    let new = token(&mock).await;
    assert!(new.starts_with("ya29.mock-2-"), "{new}");
    assert_eq!(
        call(&mock, &generate, Some(&new), &gemini_body())
            .await
            .status(),
        200
    );
    assert_eq!(mock.token_exchanges(), 2);
}

#[tokio::test]
async fn a_static_token_is_accepted_without_an_exchange() {
    let mock = vertex(|gcp| gcp.static_tokens = vec!["ya29.from-env".into()]).await;
    let res = call(&mock, OPENAPI, Some("ya29.from-env"), &llama_body(false)).await;
    assert_eq!(res.status(), 200);
    mock.revoke_tokens();
    let res = call(&mock, OPENAPI, Some("ya29.from-env"), &llama_body(false)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(mock.token_exchanges(), 0);
}

#[tokio::test]
async fn another_project_is_permission_denied() {
    let mock = vertex(|gcp| gcp.project = Some("switchyard-prod".into())).await;
    let token = token(&mock).await;
    let res = call(
        &mock,
        &format!("{GEMINI}:generateContent"),
        Some(&token),
        &gemini_body(),
    )
    .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "projects/switchyard-test/locations/us-central1/{GEMINI}'"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn anthropic_on_vertex_wants_its_own_body() {
    let mock = vertex(|gcp| gcp.static_tokens = vec!["t".into()]).await;
    let raw = format!("{CLAUDE}:rawPredict");
    let refused = |body: Value, path: String| {
        let mock = &mock;
        async move {
            let res = call(mock, &path, Some("t"), &body).await;
            assert_eq!(res.status(), 400);
            let error: Value = res.json().await.unwrap();
            assert_eq!(error["type"], "error");
            assert_eq!(error["error"]["type"], "invalid_request_error");
            error["error"]["message"].as_str().unwrap().to_owned()
        }
    };
    let mut with_model = claude_body(false);
    with_model["model"] = json!("claude-sonnet-4");
    assert!(refused(with_model, raw.clone()).await.starts_with("model:"));
    let mut no_version = claude_body(false);
    no_version
        .as_object_mut()
        .unwrap()
        .remove("anthropic_version");
    assert!(refused(no_version, raw.clone())
        .await
        .starts_with("anthropic_version:"));
    let mut other_version = claude_body(false);
    other_version["anthropic_version"] = json!("2023-06-01");
    assert!(refused(other_version, raw)
        .await
        .starts_with("anthropic_version:"));
    let stream = format!("{CLAUDE}:streamRawPredict");
    assert!(refused(claude_body(false), stream)
        .await
        .starts_with("stream:"));
}

#[tokio::test]
async fn the_api_key_does_not_apply_on_vertex_paths() {
    let mock = vertex(|gcp| gcp.static_tokens = vec!["t".into()]).await;
    mock.set_config(MockConfig {
        api_key: Some("sk-mock".into()),
        ..mock.config()
    });
    let generate = format!("{GEMINI}:generateContent");
    assert_eq!(
        call(&mock, &generate, Some("t"), &gemini_body())
            .await
            .status(),
        200
    );
    let raw = format!("{CLAUDE}:rawPredict");
    assert_eq!(
        call(&mock, &raw, Some("t"), &claude_body(false))
            .await
            .status(),
        200
    );
    assert_eq!(
        call(&mock, OPENAPI, Some("t"), &llama_body(false))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn openapi_errors_have_googles_shape() {
    let mock = vertex(|gcp| gcp.static_tokens = vec!["t".into()]).await;
    let res = call(&mock, OPENAPI, Some("t"), &json!({"model": "meta/llama"})).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], 400);
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        body["error"]["message"],
        "Missing required parameter: 'messages'."
    );
}

#[tokio::test]
async fn without_gcp_the_token_path_is_unknown_and_models_are_open() {
    let mock = start(MockConfig::default()).await;
    let (status, _) = exchange(&mock, &[("grant_type", JWT_BEARER)]).await;
    assert_eq!(status, 404);
    let res = call(
        &mock,
        &format!("{GEMINI}:generateContent"),
        None,
        &gemini_body(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = call(
        &mock,
        &format!("{GEMINI}:embedContent"),
        None,
        &gemini_body(),
    )
    .await;
    assert_eq!(res.status(), 404);
}
