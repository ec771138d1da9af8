mod endpoints;
mod faults;
mod hostile_faults;
pub(crate) mod util;

use self::util::*;
use super::*;

#[tokio::test]
async fn url_points_at_the_bound_port() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    assert_ne!(mock.addr().port(), 0);
    assert_eq!(
        mock.url(),
        format!("http://127.0.0.1:{}", mock.addr().port())
    );
}

#[tokio::test]
async fn records_requests_in_order_and_counts_llm_hits_only() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let http = client();
    http.get(format!("{}/v1/models", mock.url()))
        .send()
        .await
        .unwrap();
    let res = http
        .post(format!("{}/chat/completions?trace=1", mock.url()))
        .header("x-custom", "yes")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();

    assert_eq!(mock.hits(), 1);
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/v1/models");
    let last = mock.last_request().unwrap();
    assert_eq!(last.method, "POST");
    assert_eq!(last.path, "/chat/completions");
    assert_eq!(last.query.as_deref(), Some("trace=1"));
    assert_eq!(last.header("X-Custom"), Some("yes"));
    assert_eq!(last.json().unwrap()["model"], "gpt-test");
    wait_until(|| mock.in_flight() == 0).await;
}

#[tokio::test]
async fn models_lists_the_mock_model() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let res = client()
        .get(format!("{}/models", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["id"], "mock-gpt");
    assert_eq!(body["data"][0]["owned_by"], "mock");
    assert_eq!(mock.hits(), 0);
}

#[tokio::test]
async fn unknown_path_is_an_openai_404() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let res = client()
        .post(format!("{}/v2/nope", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_url");
}

#[tokio::test]
async fn set_config_applies_to_the_next_request() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    mock.set_config(MockConfig {
        chunks: 2,
        ..MockConfig::default()
    });
    let body = post_json(&mock, "/v1/chat/completions", &chat_body(false)).await;
    assert_eq!(body["choices"][0]["message"]["content"], "tok0 tok1 ");
    assert_eq!(mock.config().chunks, 2);
}

#[tokio::test]
async fn stop_closes_the_listener_and_hanging_requests() {
    let mock = MockServer::start(MockConfig {
        fault: Some(Fault::Hang),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let url = mock.url();
    let pending = tokio::spawn(
        client()
            .post(format!("{url}/v1/chat/completions"))
            .json(&chat_body(false))
            .send(),
    );
    wait_until(|| mock.in_flight() == 1).await;
    tokio::time::timeout(Duration::from_secs(2), mock.stop())
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(2), pending)
        .await
        .unwrap()
        .unwrap();
    assert!(outcome.is_err(), "hanging request must fail: {outcome:?}");
    let refused = client().get(format!("{url}/v1/models")).send().await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn only_the_latest_requests_are_kept_when_asked_and_ids_keep_counting() {
    let mock = start(MockConfig {
        keep_requests: 2,
        ..Default::default()
    })
    .await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let mut body = chat_body(false);
        body["model"] = format!("m{n}").into();
        ids.push(post_json(&mock, "/v1/chat/completions", &body).await["id"].clone());
    }
    let kept: Vec<serde_json::Value> = mock
        .requests()
        .iter()
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["model"].clone())
        .collect();
    assert_eq!(kept, ["m1", "m2"]);
    assert_eq!(mock.hits(), 3);
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        3,
        "{ids:?}"
    );
}
