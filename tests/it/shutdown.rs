//! SIGTERM drains: streams in flight finish, new connections are refused.

use std::time::Duration;

use crate::common::*;

#[tokio::test]
async fn sigterm_lets_streams_finish_and_refuses_new_connections() {
    let mock = MockServer::start(MockConfig {
        chunks: 10,
        chunk_delay: Duration::from_millis(100),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "server:\n  drain_timeout: 10s\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n",
        provider("p", "anthropic", &mock, None)
    );
    let mut gw = Gateway::start(&yaml).await;
    let resp = gw.post("/v1/chat/completions", &chat("m", true)).await;
    let reader = tokio::spawn(read_sse(resp));
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.signal("TERM");
    let refused = eventually(Duration::from_secs(3), || async {
        tokio::net::TcpStream::connect(gw.addr).await.is_err()
    })
    .await;
    assert!(refused, "still accepting connections while draining");
    let events = reader.await.unwrap();
    assert_eq!(
        stream_text(&events),
        mock_text(10),
        "the stream was cut by the shutdown"
    );
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    assert_eq!(
        gw.wait_exit(Duration::from_secs(5)).await,
        Some(0),
        "exits once drained"
    );
}
