//! Hostile clients: oversized or slow heads and bodies, bad JSON, idle and
//! surplus connections, too many streams, pipelining, malformed HTTP/1.1
//! and clients that vanish. Each gets its status or a closed connection,
//! and afterwards a normal request still succeeds. Raw `TcpStream`s where
//! an HTTP client would not misbehave.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// The longest any abuse may take to be dealt with (the gateway's own
/// defaults would take 60 s or forever).
const BOUND: Duration = Duration::from_secs(10);

async fn setup(cfg: MockConfig, server: &str) -> (MockServer, Gateway) {
    let mock = MockServer::start(cfg).await.unwrap();
    let yaml = format!(
        "server:\n  threads: 2\n{server}providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: x }}]\n",
        provider("p", "openai", &mock, None)
    );
    (mock, Gateway::start(&yaml).await)
}

/// Sends `bytes` on a new connection and reads until the gateway closes it
/// (or resets it, or [`BOUND`] passes): everything that came back.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    conn.write_all(bytes).await.expect("write");
    read_until_closed(&mut conn).await
}

/// Reads until EOF, a reset or [`BOUND`]; panics if the gateway keeps the
/// connection open past the bound.
async fn read_until_closed(conn: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 8192];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the gateway kept the connection open; got {:?}",
        String::from_utf8_lossy(&out)
    );
    out
}

/// The status code of a raw HTTP response.
fn status_of(resp: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(resp.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.parse().ok()
}

/// The JSON body of a raw `content-length` response.
fn body_of(resp: &[u8]) -> Value {
    let text = String::from_utf8_lossy(resp);
    let (_, body) = text.split_once("\r\n\r\n").expect("a head");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn header_of<'a>(resp: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(resp).ok()?;
    let (head, _) = text.split_once("\r\n\r\n")?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A `GET` that closes the connection after the answer.
fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A `POST /v1/chat/completions` head for a body of `len` bytes.
fn post_head(len: usize, extra: &str) -> Vec<u8> {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// A normal request on a new connection still gets its answer.
async fn still_serves(gw: &Gateway) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let r = client
        .post(gw.url("/v1/chat/completions"))
        .json(&chat("m", false))
        .send()
        .await
        .expect("a normal request after the abuse");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.starts_with("tok0 "), "{body}");
}

/// One sample of `gateway_<name>` (with its labels, as printed), 0 if absent.
async fn metric(gw: &Gateway, series: &str) -> f64 {
    let resp = exchange(gw.addr, &get("/metrics")).await;
    let text = String::from_utf8_lossy(&resp);
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn rejections(gw: &Gateway, reason: &str) -> f64 {
    metric(
        gw,
        &format!("gateway_client_rejections_total{{reason=\"{reason}\"}}"),
    )
    .await
}

/// The gateway's resident memory, in KiB.
fn rss_kib(gw: &Gateway) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", gw.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// A generous bound: the abuse did not make the gateway hold on to it.
fn assert_memory_bounded(before: u64, after: u64) {
    eprintln!("gateway RSS: {before} KiB before, {after} KiB after");
    assert!(
        after < before + 100 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_declared_or_chunked() {
    let (mock, gw) = setup(MockConfig::default(), "  max_body_size: 64KiB\n").await;
    let before = rss_kib(&gw);
    let mut req = chat("m", false);
    req["messages"][1]["content"] = json!("x".repeat(200 * 1024));
    let r = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(r.status(), 413);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "request_too_large");
    // Chunked: no length to refuse up front; the limit cuts the read.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64).map(|_| Ok(vec![b' '; 16 * 1024])).collect();
    let r = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    // Either the 413 arrives or the gateway closed before the client
    // finished sending; it never reads the whole megabyte.
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    assert_eq!(mock.hits(), 0);
    assert!(rejections(&gw, "body_too_large").await >= 1.0);
    assert_memory_bounded(before, rss_kib(&gw));
    still_serves(&gw).await;
}

#[tokio::test]
async fn oversized_headers_are_431() {
    let (_mock, gw) = setup(MockConfig::default(), "").await;
    let before = rss_kib(&gw);
    // Default limit 64 KiB; Pingora alone would take up to 1 MiB.
    let big = format!(
        "GET /health HTTP/1.1\r\nHost: gw\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    for _ in 0..5 {
        let resp = exchange(gw.addr, big.as_bytes()).await;
        assert_eq!(
            status_of(&resp),
            Some(431),
            "{}",
            String::from_utf8_lossy(&resp)
        );
        let body = body_of(&resp);
        assert_eq!(body["error"]["code"], "request_headers_too_large");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
    // Many headers adding up count too.
    let many: String = (0..3000)
        .map(|i| format!("X-H{i}: {}\r\n", "b".repeat(30)))
        .collect();
    let resp = exchange(
        gw.addr,
        format!("GET /health HTTP/1.1\r\nHost: gw\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status_of(&resp), Some(431));
    assert!(rejections(&gw, "header_too_large").await >= 6.0);
    assert_memory_bounded(before, rss_kib(&gw));
    still_serves(&gw).await;
}

#[tokio::test]
async fn header_limit_is_configurable() {
    let (_mock, gw) = setup(MockConfig::default(), "  max_header_size: 8KiB\n").await;
    let with = |n: usize| {
        format!(
            "GET /health HTTP/1.1\r\nHost: gw\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
            "p".repeat(n)
        )
    };
    let resp = exchange(gw.addr, with(6 * 1024).as_bytes()).await;
    assert_eq!(status_of(&resp), Some(200));
    let resp = exchange(gw.addr, with(10 * 1024).as_bytes()).await;
    assert_eq!(status_of(&resp), Some(431));
    still_serves(&gw).await;
}

/// The limits come from the config a connection finds when it arrives:
/// a reload applies to new connections.
#[tokio::test]
async fn header_limit_follows_a_reload() {
    let (mock, gw) = setup(MockConfig::default(), "").await;
    let head = format!(
        "GET /health HTTP/1.1\r\nHost: gw\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        "p".repeat(10 * 1024)
    );
    assert_eq!(
        status_of(&exchange(gw.addr, head.as_bytes()).await),
        Some(200)
    );
    let old = gw.version().await;
    gw.write_config(&format!(
        "server:\n  max_header_size: 8KiB\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: x }}]\n",
        provider("p", "openai", &mock, None)
    ));
    assert!(gw.wait_for_new_version(&old, BOUND).await, "no reload");
    assert_eq!(
        status_of(&exchange(gw.addr, head.as_bytes()).await),
        Some(431)
    );
}

#[tokio::test]
async fn deeply_nested_json_is_400() {
    let (mock, gw) = setup(MockConfig::default(), "").await;
    let depth = 100_000;
    let body = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":{}{}}}]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let r = gw.post_raw("/v1/chat/completions", body).await;
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["type"], "invalid_request_error");
    assert_eq!(mock.hits(), 0);
    still_serves(&gw).await;
}

/// The documented depth: 127 levels, the outermost object counted, pass
/// through to the provider; 128 are a 400 that never reaches it.
#[tokio::test]
async fn json_nested_127_levels_is_served_and_128_is_400() {
    let (mock, gw) = setup(MockConfig::default(), "").await;
    let nested = |levels: usize| {
        let inner = levels - 3; // the body, `messages`, the message
        format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":{}{}}}]}}"#,
            "[".repeat(inner),
            "]".repeat(inner)
        )
    };
    let r = gw.post_raw("/v1/chat/completions", nested(127)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(mock.hits(), 1);
    let r = gw.post_raw("/v1/chat/completions", nested(128)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(mock.hits(), 1);
}

/// RFC 9112 §3.2: an HTTP/1.1 request without `Host`, or with two, is a
/// 400; HTTP/1.0 needs none. More than 256 header fields is a 431 (the
/// parser's own limit), like a head too large, not a 400.
#[tokio::test]
async fn host_is_required_and_too_many_fields_are_431() {
    let (mock, gw) = setup(MockConfig::default(), "").await;
    for head in [
        &b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n"[..],
        b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    ] {
        let resp = exchange(gw.addr, head).await;
        assert_eq!(
            status_of(&resp),
            Some(400),
            "{}",
            String::from_utf8_lossy(&resp)
        );
        assert_eq!(body_of(&resp)["error"]["type"], "invalid_request_error");
    }
    let resp = exchange(gw.addr, b"GET /health HTTP/1.0\r\n\r\n").await;
    assert_eq!(
        &resp[..12],
        b"HTTP/1.1 200",
        "{}",
        String::from_utf8_lossy(&resp)
    );
    assert!(rejections(&gw, "bad_host").await >= 2.0);

    let with_fields = |n: usize| {
        let mut h = String::from("GET /health HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n");
        for i in 2..n {
            h.push_str(&format!("X-F{i}: v\r\n"));
        }
        h.push_str("\r\n");
        h.into_bytes()
    };
    let resp = exchange(gw.addr, &with_fields(256)).await;
    assert_eq!(
        status_of(&resp),
        Some(200),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    let resp = exchange(gw.addr, &with_fields(257)).await;
    assert_eq!(
        status_of(&resp),
        Some(431),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    assert_eq!(body_of(&resp)["error"]["code"], "request_headers_too_large");
    assert_eq!(mock.hits(), 0);
    still_serves(&gw).await;
}

#[tokio::test]
async fn invalid_utf8_is_400() {
    let (mock, gw) = setup(MockConfig::default(), "").await;
    let mut body = br#"{"model":"m","messages":[{"role":"user","content":""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    body.extend_from_slice(br#""}]}"#);
    let r = gw.post_raw("/v1/chat/completions", body).await;
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{b}"
    );
    assert_eq!(mock.hits(), 0);
    still_serves(&gw).await;
}

/// Documented leniency: the body is read as JSON whatever `Content-Type`
/// says; what is not JSON is a 400.
#[tokio::test]
async fn json_is_read_whatever_the_content_type() {
    let (_mock, gw) = setup(MockConfig::default(), "").await;
    let body = serde_json::to_vec(&chat("m", false)).unwrap();
    for ct in [Some("text/plain"), Some("application/octet-stream"), None] {
        let mut req = gw
            .client
            .post(gw.url("/v1/chat/completions"))
            .body(body.clone());
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200, "{ct:?}");
    }
    let r = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("model=m&messages=hi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn slow_headers_are_dropped_after_the_header_timeout() {
    let (_mock, gw) = setup(MockConfig::default(), "  header_timeout: 1s\n").await;
    // A head trickling in a byte every 100 ms: each read is quick, so only
    // a deadline on the whole head stops it.
    let mut conn = TcpStream::connect(gw.addr).await.unwrap();
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: gw\r\n")
        .await
        .unwrap();
    let (mut rd, mut wr) = conn.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..300 {
            if wr.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut resp = Vec::new();
    let read = tokio::time::timeout(BOUND, rd.read_to_end(&mut resp)).await;
    trickle.abort();
    assert!(read.is_ok(), "the slow head was not cut off");
    assert_eq!(
        status_of(&resp),
        Some(408),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    assert_eq!(body_of(&resp)["error"]["code"], "request_timeout");
    // A connection that never sends a byte is closed too.
    let mut idle = TcpStream::connect(gw.addr).await.unwrap();
    assert!(read_until_closed(&mut idle).await.is_empty());
    assert!(rejections(&gw, "header_timeout").await >= 2.0);
    still_serves(&gw).await;
}

#[tokio::test]
async fn slow_bodies_are_408_after_the_body_timeout() {
    let (mock, gw) = setup(MockConfig::default(), "  body_timeout: 1s\n").await;
    let mut conn = TcpStream::connect(gw.addr).await.unwrap();
    conn.write_all(&post_head(1000, "")).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..300 {
            if wr.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut resp = Vec::new();
    let read = tokio::time::timeout(BOUND, rd.read_to_end(&mut resp)).await;
    trickle.abort();
    assert!(read.is_ok(), "the slow body was not cut off");
    assert_eq!(
        status_of(&resp),
        Some(408),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    assert_eq!(body_of(&resp)["error"]["code"], "request_timeout");
    assert_eq!(mock.hits(), 0);
    assert!(rejections(&gw, "body_timeout").await >= 1.0);
    still_serves(&gw).await;
}

#[tokio::test]
async fn many_idle_connections_do_not_stop_a_normal_request() {
    // Idle connections stay open for the whole test, however slow the machine.
    let (_mock, gw) = setup(MockConfig::default(), "  header_timeout: 60s\n").await;
    let before = rss_kib(&gw);
    let mut idle = Vec::new();
    for _ in 0..500 {
        idle.push(TcpStream::connect(gw.addr).await.unwrap());
    }
    let all_open = eventually(BOUND, || async {
        metric(&gw, "gateway_client_connections").await >= 500.0
    })
    .await;
    assert!(all_open, "the gateway did not hold 500 idle connections");
    still_serves(&gw).await;
    assert_memory_bounded(before, rss_kib(&gw));
    drop(idle);
    let closed = eventually(BOUND, || async {
        metric(&gw, "gateway_client_connections").await < 10.0
    })
    .await;
    assert!(closed, "closed connections are still counted");
}

/// A connection the gateway accepted and keeps open: one that was answered
/// at once (refused, because a closing connection still held its slot) is
/// replaced.
async fn hold(addr: SocketAddr) -> TcpStream {
    let deadline = std::time::Instant::now() + BOUND;
    loop {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let mut byte = [0u8; 1];
        let quiet = tokio::time::timeout(Duration::from_millis(500), conn.read(&mut byte)).await;
        if quiet.is_err() {
            return conn;
        }
        assert!(std::time::Instant::now() < deadline, "no slot came free");
    }
}

#[tokio::test]
async fn connections_over_the_limit_get_503_with_retry_after() {
    let (_mock, mut gw) = setup(
        MockConfig::default(),
        "  max_connections: 2\n  header_timeout: 30s\n",
    )
    .await;
    // The harness client's pooled connection would hold a slot.
    gw.client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let alone = eventually(BOUND, || async {
        // The scrape's own connection is the only one.
        metric(&gw, "gateway_client_connections").await == 1.0
    })
    .await;
    assert!(alone, "the old pooled connection did not close");
    let held = [hold(gw.addr).await, hold(gw.addr).await];
    let deadline = std::time::Instant::now() + BOUND;
    let refused = loop {
        let resp = exchange(gw.addr, &get("/health")).await;
        if status_of(&resp) == Some(503) || std::time::Instant::now() > deadline {
            break resp;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        status_of(&refused),
        Some(503),
        "{}",
        String::from_utf8_lossy(&refused)
    );
    assert_eq!(header_of(&refused, "retry-after"), Some("1"));
    let body = body_of(&refused);
    assert_eq!(body["error"]["type"], "service_unavailable");
    assert_eq!(body["error"]["code"], "server_overloaded");
    drop(held);
    let free = eventually(BOUND, || async {
        status_of(&exchange(gw.addr, &get("/health")).await) == Some(200)
    })
    .await;
    assert!(free, "closed connections did not give their slots back");
    assert!(rejections(&gw, "too_many_connections").await >= 1.0);
    still_serves(&gw).await;
}

#[tokio::test]
async fn streams_over_the_limit_get_503_while_the_open_one_continues() {
    use futures_util::StreamExt;
    // 5 s of stream: time for the other requests to be refused meanwhile.
    let slow = MockConfig {
        chunks: 50,
        chunk_delay: Duration::from_millis(100),
        ..MockConfig::default()
    };
    let (_mock, gw) = setup(slow, "  max_streams: 1\n").await;
    let first = gw.post("/v1/chat/completions", &chat("m", true)).await;
    assert_eq!(first.status(), 200);
    let mut body = first.bytes_stream();
    let mut seen = body.next().await.expect("first bytes").unwrap().to_vec();

    let second = gw.post("/v1/chat/completions", &chat("m", true)).await;
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "1");
    let b: Value = second.json().await.unwrap();
    assert_eq!(b["error"]["code"], "server_overloaded");
    // Non-streaming requests are not streams.
    let plain = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(plain.status(), 200);

    while let Some(chunk) = body.next().await {
        seen.extend_from_slice(&chunk.unwrap());
    }
    let text = String::from_utf8(seen).unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let after = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    assert_eq!(stream_text(&after), mock_text(50), "the slot came back");
    assert!(rejections(&gw, "too_many_streams").await >= 1.0);
}

/// Pingora does not serve pipelined requests: the first is answered, then
/// the connection closes (clients retry the rest on a new one).
#[tokio::test]
async fn pipelined_requests_get_the_first_answer_then_a_close() {
    let (_mock, gw) = setup(MockConfig::default(), "").await;
    let two = b"GET /health HTTP/1.1\r\nHost: gw\r\n\r\nGET /health HTTP/1.1\r\nHost: gw\r\n\r\n";
    let resp = exchange(gw.addr, two).await;
    assert_eq!(
        status_of(&resp),
        Some(200),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    let answers = String::from_utf8_lossy(&resp).matches("HTTP/1.1 ").count();
    assert!((1..=2).contains(&answers), "{answers} answers");
    still_serves(&gw).await;
}

#[tokio::test]
async fn malformed_requests_get_400_or_a_close() {
    let (mock, gw) = setup(MockConfig::default(), "").await;
    let cases: &[&[u8]] = &[
        b"GARBAGE\r\n\r\n",
        b"GET /health HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /health HTTP/9.9\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: gw\r\nBad\x01Name: x\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n{}",
    ];
    for case in cases {
        let resp = exchange(gw.addr, case).await;
        let status = status_of(&resp);
        assert!(
            resp.is_empty() || status.is_some_and(|s| (400..500).contains(&s)),
            "{:?} -> {:?}",
            String::from_utf8_lossy(case),
            String::from_utf8_lossy(&resp)
        );
    }
    assert_eq!(mock.hits(), 0);
    still_serves(&gw).await;
}

#[tokio::test]
async fn client_gone_mid_body_leaves_the_gateway_serving() {
    let (mock, gw) = setup(MockConfig::default(), "").await;
    for _ in 0..20 {
        let mut conn = TcpStream::connect(gw.addr).await.unwrap();
        conn.write_all(&post_head(100_000, "")).await.unwrap();
        conn.write_all(&[b' '; 1000]).await.unwrap();
        drop(conn);
    }
    let settled = eventually(BOUND, || async {
        metric(&gw, "gateway_requests_in_flight").await <= 1.0
    })
    .await;
    assert!(settled, "abandoned requests are still in flight");
    assert_eq!(mock.hits(), 0);
    still_serves(&gw).await;
}

#[tokio::test]
async fn client_gone_mid_stream_stops_the_upstream_and_frees_the_stream() {
    let slow = MockConfig {
        chunks: 50,
        chunk_delay: Duration::from_millis(100),
        ..MockConfig::default()
    };
    let (mock, gw) = setup(slow, "  max_streams: 1\n").await;
    let body = serde_json::to_vec(&chat("m", true)).unwrap();
    let mut conn = TcpStream::connect(gw.addr).await.unwrap();
    conn.write_all(&post_head(body.len(), "")).await.unwrap();
    conn.write_all(&body).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("data: ") {
        let n = tokio::time::timeout(BOUND, conn.read(&mut buf))
            .await
            .expect("stream bytes")
            .unwrap();
        assert!(n > 0, "closed before streaming");
        got.extend_from_slice(&buf[..n]);
    }
    drop(conn);
    let cancelled = eventually(BOUND, || async { mock.cancelled_streams() == 1 }).await;
    assert!(cancelled, "the provider's stream was not cancelled");
    let freed = eventually(BOUND, || async {
        metric(&gw, "gateway_streams_in_flight").await == 0.0
    })
    .await;
    assert!(freed, "the stream is still counted");
    // The only stream slot is free again.
    let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    assert_eq!(stream_text(&events), mock_text(50));
    still_serves(&gw).await;
}

/// Opens a streaming request from a client that reads the response head and
/// then nothing more, with a small receive buffer so that the gateway's
/// writes block soon. Returns the connection, unread.
async fn stalled_reader(gw: &Gateway) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut conn = socket.connect(gw.addr).await.unwrap();
    let body = serde_json::to_vec(&chat("m", true)).unwrap();
    conn.write_all(&post_head(body.len(), "")).await.unwrap();
    conn.write_all(&body).await.unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(BOUND, conn.read_exact(&mut head))
        .await
        .expect("a response head")
        .unwrap();
    assert_eq!(
        &head,
        b"HTTP/1.1 200",
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    conn
}

/// A provider streaming events as fast as it can, without end: the socket
/// buffers towards a client that does not read fill within moments, and
/// only cutting the stream ends it.
fn firehose() -> MockConfig {
    MockConfig {
        fault: Some(Fault::Endless {
            every: Duration::ZERO,
        }),
        ..MockConfig::default()
    }
}

#[tokio::test]
async fn stalled_readers_are_cut_at_the_send_timeout_and_free_their_slots() {
    // No stream timeout: only the send timeout can free the slots.
    let (mock, gw) = setup(firehose(), "  max_streams: 4\n  send_timeout: 1s\n").await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(stalled_reader(&gw).await);
    }
    let cut = eventually(BOUND, || async {
        rejections(&gw, "send_timeout").await >= 4.0
            && metric(&gw, "gateway_streams_in_flight").await == 0.0
    })
    .await;
    assert!(
        cut,
        "stalled readers still hold their stream slots:\n{}",
        gw.logs()
    );
    let cancelled = eventually(BOUND, || async { mock.cancelled_streams() >= 4 }).await;
    assert!(cancelled, "the provider's streams were not cancelled");
    // Each stalled connection was closed, not finished: what it had not
    // read yet, then the end.
    for mut conn in stalled {
        let rest = String::from_utf8_lossy(&read_until_closed(&mut conn).await).into_owned();
        assert!(
            !rest.contains("[DONE]"),
            "a cut stream must not look complete"
        );
    }
    mock.set_config(MockConfig::default());
    let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    assert_eq!(stream_text(&events), mock_text(5), "a new client is served");
}

#[tokio::test]
async fn the_stream_timeout_covers_time_blocked_on_writes() {
    // The send timeout alone would wait a minute; the stream's life is 2 s.
    let (mock, gw) = setup(
        firehose(),
        "  max_streams: 1\n  send_timeout: 60s\n  stream_timeout: 2s\n",
    )
    .await;
    let _stalled = stalled_reader(&gw).await;
    let freed = eventually(BOUND, || async {
        metric(&gw, "gateway_streams_in_flight").await == 0.0
    })
    .await;
    assert!(freed, "the stalled stream outlived its stream timeout");
    assert!(rejections(&gw, "send_timeout").await >= 1.0);
    assert!(eventually(BOUND, || async { mock.cancelled_streams() >= 1 }).await);
    mock.set_config(MockConfig::default());
    let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    assert_eq!(stream_text(&events), mock_text(5));
}

/// The admin listener has the API listener's head and body timeouts and a
/// connection cap of its own (`admin.max_connections`): a flood of it does
/// not take the API's connections, nor the reverse.
#[tokio::test]
async fn the_admin_listener_has_the_edge_limits() {
    // Held connections must outlast a slow machine's pauses: 3 s.
    let server = "  header_timeout: 3s\n  body_timeout: 1s\n";
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "{}  max_connections: 3\nserver:\n{server}providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: x }}]\n",
        admin_yaml(),
        provider("p", "openai", &mock, None)
    );
    let gw = Gateway::start(&yaml).await;
    let (admin, key) = gw.admin.clone().unwrap();

    // A head trickling in a byte every 500 ms is cut at the head timeout.
    let conn = TcpStream::connect(admin).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    let trickle = tokio::spawn(async move {
        for b in b"GET /admin/config HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaa" {
            if wr.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let started = std::time::Instant::now();
    let mut resp = Vec::new();
    let read = tokio::time::timeout(BOUND, rd.read_to_end(&mut resp)).await;
    trickle.abort();
    assert!(read.is_ok(), "the slow admin head was not cut off");
    assert_eq!(
        status_of(&resp),
        Some(408),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    assert!(started.elapsed() < Duration::from_secs(8));

    // A body trickling in is cut at the body timeout.
    let mut conn = TcpStream::connect(admin).await.unwrap();
    conn.write_all(
        format!("POST /admin/route/explain HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let (mut rd, mut wr) = conn.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..300 {
            if wr.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut resp = Vec::new();
    let read = tokio::time::timeout(BOUND, rd.read_to_end(&mut resp)).await;
    trickle.abort();
    assert!(read.is_ok(), "the slow admin body was not cut off");
    assert_eq!(
        status_of(&resp),
        Some(408),
        "{}",
        String::from_utf8_lossy(&resp)
    );

    // Its own connection cap: three held, the fourth refused, while the
    // API listener still serves.
    let held = [hold(admin).await, hold(admin).await, hold(admin).await];
    let refused = exchange(admin, &get("/dashboard")).await;
    assert_eq!(
        status_of(&refused),
        Some(503),
        "{}",
        String::from_utf8_lossy(&refused)
    );
    still_serves(&gw).await;
    drop(held);
    let free = eventually(BOUND, || async {
        status_of(&exchange(admin, &get("/dashboard")).await) == Some(200)
    })
    .await;
    assert!(free, "the admin connections did not give their slots back");
    assert!(rejections(&gw, "too_many_connections").await >= 1.0);
}
