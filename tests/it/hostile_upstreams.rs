//! Hostile providers (issue 9, item 3): endless streams, gigantic events
//! and bodies, never-ending headers, invalid JSON or SSE, wrong content
//! types and answers after the deadline. Each one ends in bounded time and
//! memory with a clean error — a 502/504 before the first byte (and then
//! failover to a healthy target), in-band after it — and is counted in
//! `gateway_upstream_faults_total{provider,kind}`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// How long any request here may take before the test calls it a hang.
const BOUND: Duration = Duration::from_secs(20);

async fn mock(fault: Option<Fault>) -> MockServer {
    MockServer::start(MockConfig {
        fault,
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

/// routes.yaml with `server` settings (may be empty), providers `bad`
/// (with `bad_extra` lines) and `good`, a route `solo` to `bad` alone and
/// a route `pair` trying `bad` then `good`, both with `route_extra`, and
/// a route `fine` to `good` alone.
fn yaml(
    server: &str,
    bad: &MockServer,
    bad_extra: &str,
    good: &MockServer,
    route_extra: &str,
) -> String {
    format!(
        "{server}providers:\n{}{bad_extra}{}routes:\n  - match: {{ model: solo }}\n{route_extra}    targets: [{{ provider: bad }}]\n  - match: {{ model: pair }}\n{route_extra}    targets: [{{ provider: bad }}, {{ provider: good }}]\n  - match: {{ model: fine }}\n    targets: [{{ provider: good }}]\n",
        provider("bad", "openai", bad, None),
        provider("good", "openai", good, None),
    )
}

/// POSTs a chat request, failing the test if it takes longer than [`BOUND`].
async fn ask(gw: &Gateway, model: &str, stream: bool) -> reqwest::Response {
    tokio::time::timeout(BOUND, gw.post("/v1/chat/completions", &chat(model, stream)))
        .await
        .unwrap_or_else(|_| panic!("{model} (stream {stream}) hung\n{}", gw.logs()))
}

/// Reads a stream to its end within [`BOUND`].
async fn events_of(gw: &Gateway, r: reqwest::Response) -> Vec<Received> {
    tokio::time::timeout(BOUND, read_sse(r))
        .await
        .unwrap_or_else(|_| panic!("the stream never ended\n{}", gw.logs()))
}

/// An OpenAI-style error body: its status, message and code.
async fn error_of(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("a JSON error body");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(body["error"]["type"].is_string(), "{body}");
    let code = body["error"]["code"].as_str().unwrap_or_default();
    (status, message.to_string(), code.to_string())
}

/// The stream's last event, which must be an in-band error (and no
/// `[DONE]` anywhere); its code.
fn in_band_error(events: &[Received]) -> String {
    assert!(
        events.iter().all(|e| e.event.data != "[DONE]"),
        "a cut stream must not look complete: {events:?}"
    );
    let last = events
        .last()
        .and_then(Received::json)
        .expect("an error event");
    assert!(last["error"]["message"].is_string(), "{last}");
    last["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `gateway_upstream_faults_total` for `provider` and `kind`.
async fn faults(gw: &Gateway, provider: &str, kind: &str) -> u64 {
    let text = gw.metrics().await;
    let (p, k) = (
        format!("provider=\"{provider}\""),
        format!("kind=\"{kind}\""),
    );
    text.lines()
        .filter(|l| l.starts_with("gateway_upstream_faults_total{"))
        .filter(|l| l.contains(&p) && l.contains(&k))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// Waits until the fault counter reaches `want`.
async fn assert_counted(gw: &Gateway, kind: &str, want: u64) {
    let ok = eventually(Duration::from_secs(5), || async {
        faults(gw, "bad", kind).await >= want
    })
    .await;
    let got = faults(gw, "bad", kind).await;
    assert!(
        ok,
        "gateway_upstream_faults_total{{provider=bad,kind={kind}}} = {got}, want {want}"
    );
}

fn attempts(r: &reqwest::Response) -> String {
    r.headers()["x-switchyard-attempts"]
        .to_str()
        .unwrap()
        .to_string()
}

/// A kB figure from /proc/<pid>/status (`VmRSS`, `VmHWM`).
fn proc_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a kB value")
}

/// A stream that never ends is ended by the stream timeout, with an
/// in-band error (not a silent cut) and the provider's connection closed;
/// a JSON body that never ends gets a 504 at the deadline and fails over.
#[tokio::test]
async fn an_endless_stream_ends_at_the_stream_timeout() {
    let bad = mock(Some(Fault::Endless {
        every: Duration::from_millis(50),
    }))
    .await;
    let good = mock(None).await;
    let gw = Gateway::start(&yaml(
        "",
        &bad,
        "    timeouts: { total: 2s }\n",
        &good,
        "    timeouts: { stream: 3s }\n",
    ))
    .await;

    let started = Instant::now();
    let r = ask(&gw, "solo", true).await;
    assert_eq!(r.status(), 200);
    let events = events_of(&gw, r).await;
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(!stream_text(&events).is_empty(), "content came first");
    assert_eq!(in_band_error(&events), "stream_timeout");
    assert_counted(&gw, "stream_timeout", 1).await;
    let closed = eventually(Duration::from_secs(5), || async { bad.in_flight() == 0 }).await;
    assert!(closed, "the endless upstream stream was not closed");
    assert_eq!(bad.cancelled_streams(), 1);

    let r = ask(&gw, "solo", false).await;
    let (status, message, _) = error_of(r).await;
    assert_eq!(status, 504, "{message}");
    assert_counted(&gw, "deadline", 1).await;
    let r = ask(&gw, "pair", false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(attempts(&r), "bad:timeout,good:200");
}

/// An event larger than the limit ends the stream in-band, and the
/// gateway stops reading: its memory does not grow with the event.
#[tokio::test]
async fn a_gigantic_stream_event_ends_the_stream_in_bounded_memory() {
    let bad = mock(Some(Fault::HugeEvent { bytes: 256 << 20 })).await;
    let good = mock(None).await;
    let server = "server:\n  max_body_size: 1MiB\n";
    let gw = Gateway::start(&yaml(server, &bad, "", &good, "")).await;
    // Warm up (scripts, pools, tokenizer threads) before the baseline.
    let warm = ask(&gw, "fine", true).await;
    events_of(&gw, warm).await;
    let before = proc_kb(gw.pid(), "VmHWM");

    let r = ask(&gw, "solo", true).await;
    assert_eq!(r.status(), 200);
    let events = events_of(&gw, r).await;
    assert_eq!(in_band_error(&events), "upstream_event_too_large");
    assert_counted(&gw, "event_too_large", 1).await;

    let grown_mib = proc_kb(gw.pid(), "VmHWM").saturating_sub(before) / 1024;
    assert!(
        grown_mib < 96,
        "peak RSS grew by {grown_mib} MiB for a 256 MiB event"
    );
    let closed = eventually(Duration::from_secs(5), || async { bad.in_flight() == 0 }).await;
    assert!(
        closed,
        "the upstream was not closed after the oversized event"
    );
}

/// A non-streaming body past `server.max_response_size` is a 502 read no
/// further than the limit, and the next target answers.
#[tokio::test]
async fn a_gigantic_body_is_502_in_bounded_memory_and_fails_over() {
    let bad = mock(Some(Fault::HugeEvent { bytes: 256 << 20 })).await;
    let good = mock(None).await;
    let server = "server:\n  max_response_size: 1MiB\n";
    let gw = Gateway::start(&yaml(server, &bad, "", &good, "")).await;
    let warm = ask(&gw, "fine", false).await;
    assert_eq!(warm.status(), 200);
    let before = proc_kb(gw.pid(), "VmHWM");

    let (status, message, _) = error_of(ask(&gw, "solo", false).await).await;
    assert_eq!(status, 502, "{message}");
    assert!(message.contains("larger than 1048576 bytes"), "{message}");
    assert!(message.contains("`bad`"), "{message}");
    let r = ask(&gw, "pair", false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(attempts(&r), "bad:error,good:200");
    assert_counted(&gw, "body_too_large", 2).await;

    let grown_mib = proc_kb(gw.pid(), "VmHWM").saturating_sub(before) / 1024;
    assert!(
        grown_mib < 96,
        "peak RSS grew by {grown_mib} MiB for 256 MiB bodies"
    );
}

/// A header that trickles in a byte at a time never completes: the
/// attempt fails at the first-byte timeout although bytes keep coming
/// (Pingora's per-read timeout alone never trips), and the next target
/// answers.
#[tokio::test]
async fn a_never_ending_header_fails_over_at_the_first_byte_timeout() {
    let bad = mock(Some(Fault::SlowHeader {
        every: Duration::from_millis(100),
    }))
    .await;
    let good = mock(None).await;
    let gw = Gateway::start(&yaml(
        "",
        &bad,
        "    timeouts: { first_byte: 1s }\n",
        &good,
        "",
    ))
    .await;
    for stream in [false, true] {
        let r = ask(&gw, "pair", stream).await;
        assert_eq!(r.status(), 200, "stream {stream}");
        assert_eq!(attempts(&r), "bad:timeout,good:200");
        if stream {
            assert_eq!(events_of(&gw, r).await.last().unwrap().event.data, "[DONE]");
        }
    }
    let (status, message, _) = error_of(ask(&gw, "solo", false).await).await;
    assert_eq!(status, 504, "{message}");
    assert_eq!(bad.hits(), 3);
    assert_counted(&gw, "first_byte_timeout", 3).await;
    let closed = eventually(Duration::from_secs(5), || async { bad.in_flight() == 0 }).await;
    assert!(closed, "the trickling connections were not closed");
}

/// A 200 with an HTML page is a 502 naming the provider and the content
/// type — for a stream too, before its first byte — and fails over.
#[tokio::test]
async fn a_wrong_content_type_is_502_naming_it_and_fails_over() {
    let bad = mock(Some(Fault::WrongType)).await;
    let good = mock(None).await;
    let gw = Gateway::start(&yaml("", &bad, "", &good, "")).await;
    for stream in [false, true] {
        let (status, message, _) = error_of(ask(&gw, "solo", stream).await).await;
        assert_eq!(status, 502, "stream {stream}: {message}");
        assert!(message.contains("`bad`"), "{message}");
        assert!(message.contains("`text/html; charset=utf-8`"), "{message}");
        let r = ask(&gw, "pair", stream).await;
        assert_eq!(r.status(), 200, "stream {stream}");
        assert_eq!(attempts(&r), "bad:error,good:200");
    }
    assert_counted(&gw, "wrong_content_type", 4).await;
}

/// A correct answer that comes after the deadline: the client gets 504 at
/// the deadline, and the late answer is discarded with its connection —
/// the next request on that provider gets its own answer, not the stale one.
#[tokio::test]
async fn a_late_answer_is_504_at_the_deadline_and_never_reused() {
    let bad = mock(Some(Fault::Late {
        after: Duration::from_millis(1500),
    }))
    .await;
    let good = mock(None).await;
    let gw = Gateway::start(&yaml(
        "",
        &bad,
        "",
        &good,
        "    timeouts: { total: 500ms }\n",
    ))
    .await;
    let (status, message, code) = error_of(ask(&gw, "solo", false).await).await;
    assert_eq!(status, 504, "{message}");
    assert_eq!(code, "upstream_timeout");
    assert_counted(&gw, "first_byte_timeout", 1).await;

    // The late answer is sent (or refused) by now; then the provider heals.
    let done = eventually(Duration::from_secs(5), || async { bad.in_flight() == 0 }).await;
    assert!(done);
    bad.set_fault(None);
    let r = ask(&gw, "solo", false).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["id"], "chatcmpl-mock2",
        "the answer to the second request"
    );
}

/// Noise instead of events: before the first byte a 502 (and failover),
/// after it an in-band error — never a `[DONE]`.
#[tokio::test]
async fn invalid_sse_is_502_before_the_first_byte_and_in_band_after() {
    let bad = mock(Some(Fault::BadSse { after: None })).await;
    let good = mock(None).await;
    let gw = Gateway::start(&yaml("", &bad, "", &good, "")).await;
    let (status, message, _) = error_of(ask(&gw, "solo", true).await).await;
    assert_eq!(status, 502, "{message}");
    assert!(message.contains("not server-sent events"), "{message}");
    let r = ask(&gw, "pair", true).await;
    assert_eq!(r.status(), 200);
    assert_eq!(attempts(&r), "bad:error,good:200");
    assert_eq!(events_of(&gw, r).await.last().unwrap().event.data, "[DONE]");

    bad.set_fault(Some(Fault::BadSse { after: Some(2) }));
    let r = ask(&gw, "pair", true).await;
    assert_eq!(r.status(), 200);
    let events = events_of(&gw, r).await;
    assert_eq!(stream_text(&events), mock_text(2));
    assert_eq!(in_band_error(&events), "upstream_invalid_sse");
    assert_counted(&gw, "invalid_sse", 3).await;
}

/// A 2xx body that is not JSON: 502 before the first byte (and failover);
/// an event that is not JSON after it: an in-band error, not relayed.
#[tokio::test]
async fn invalid_json_is_502_before_the_first_byte_and_in_band_after() {
    let bad = mock(Some(Fault::Malformed)).await;
    let good = mock(None).await;
    let gw = Gateway::start(&yaml("", &bad, "", &good, "")).await;
    let (status, message, _) = error_of(ask(&gw, "solo", false).await).await;
    assert_eq!(status, 502, "{message}");
    assert!(message.contains("not JSON"), "{message}");
    let r = ask(&gw, "pair", false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(attempts(&r), "bad:error,good:200");

    let r = ask(&gw, "solo", true).await;
    assert_eq!(r.status(), 200);
    let events = events_of(&gw, r).await;
    assert_eq!(in_band_error(&events), "upstream_invalid_json");
    assert!(
        events.iter().all(|e| e.event.data.starts_with('{')),
        "the broken event was relayed: {events:?}"
    );
    assert_counted(&gw, "invalid_json", 3).await;
}
