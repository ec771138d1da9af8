use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::time::Instant;

use super::{go_duration, rfc3339, Quota, Windows};
use crate::bedrock::amz_date::parse_amz_date;
use crate::tests::util::{chat_body, client, messages_body, post_anthropic, post_openai, start};
use crate::MockConfig;

fn quota(requests: u64, window: Duration) -> Quota {
    Quota {
        requests,
        tokens: None,
        window,
        retry_after: false,
    }
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

fn number(res: &reqwest::Response, name: &str) -> u64 {
    header(res, name).parse().unwrap()
}

/// Reads back what [`go_duration`] writes (`850ms`, `2s`, `1m30.5s`).
fn parse_go(s: &str) -> Duration {
    if let Some(ms) = s.strip_suffix("ms") {
        return Duration::from_millis(ms.parse().unwrap());
    }
    let s = s.strip_suffix('s').unwrap();
    let (minutes, secs) = s.split_once('m').unwrap_or(("0", s));
    Duration::from_secs(minutes.parse::<u64>().unwrap() * 60)
        + Duration::from_secs_f64(secs.parse().unwrap())
}

/// Seconds since the epoch of an RFC 3339 UTC time, `2026-12-07T11:00:30Z`.
fn parse_rfc3339(s: &str) -> u64 {
    parse_amz_date(&s.replace(['-', ':'], "")).unwrap_or_else(|| panic!("not RFC 3339: {s}"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn go_durations_read_like_openais() {
    assert_eq!(go_duration(Duration::from_millis(20)), "20ms");
    assert_eq!(go_duration(Duration::from_millis(999)), "999ms");
    assert_eq!(go_duration(Duration::from_secs(1)), "1s");
    assert_eq!(go_duration(Duration::from_secs(2)), "2s");
    assert_eq!(go_duration(Duration::from_millis(17_034)), "17.034s");
    assert_eq!(go_duration(Duration::from_millis(90_500)), "1m30.5s");
    assert_eq!(go_duration(Duration::from_secs(360)), "6m0s");
    assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    assert_eq!(parse_go("1m30.5s"), Duration::from_millis(90_500));
}

#[test]
fn rfc3339_writes_utc_seconds() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    let secs = parse_rfc3339("2026-12-07T11:00:30Z");
    assert_eq!(rfc3339(secs), "2026-12-07T11:00:30Z");
}

#[test]
fn windows_are_fixed_from_the_first_request_and_refusals_take_nothing() {
    let windows = Windows::default();
    let q = quota(2, Duration::from_secs(10));
    let t0 = Instant::now();
    assert!(windows.admit(q, t0).is_ok());
    assert!(windows.admit(q, t0 + Duration::from_secs(9)).is_ok());
    let refused = windows.admit(q, t0 + Duration::from_secs(9)).unwrap_err();
    assert_eq!(refused.requests_left, 0);
    assert_eq!(refused.reset_in, Duration::from_secs(1));
    assert_eq!(refused.retry_after(), None);
    assert_eq!(windows.refusals(), 1);
    // 25 s in: the third window, which began at 20 s
    let later = t0 + Duration::from_secs(25);
    let ticket = windows.admit(q, later).unwrap();
    let standing = windows.settle(ticket, 7, later);
    assert_eq!(standing.requests_left, 1);
    assert_eq!(standing.reset_in, Duration::from_secs(5));
}

#[tokio::test]
async fn openai_counts_down_refuses_with_a_429_and_resets_after_the_window() {
    let mock = start(MockConfig {
        quota: Some(quota(3, Duration::from_secs(1))),
        ..MockConfig::default()
    })
    .await;
    for (i, stream) in [false, true, false].into_iter().enumerate() {
        let res = post_openai(&mock, &chat_body(stream)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(number(&res, "x-ratelimit-limit-requests"), 3);
        assert_eq!(number(&res, "x-ratelimit-remaining-requests"), 2 - i as u64);
        let reset = parse_go(header(&res, "x-ratelimit-reset-requests"));
        assert!(reset <= Duration::from_secs(1), "{reset:?}");
        assert!(res.headers().get("x-ratelimit-limit-tokens").is_none());
        res.bytes().await.unwrap();
    }

    let res = post_openai(&mock, &chat_body(false)).await;
    assert_eq!(res.status(), 429);
    assert_eq!(number(&res, "x-ratelimit-remaining-requests"), 0);
    assert!(res.headers().get("retry-after").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["type"], "requests");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(body["error"]["param"].is_null());
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Rate limit reached for requests"));
    assert_eq!(mock.quota_refusals(), 1);

    // the next window: the first request of it leaves 2
    let deadline = Instant::now() + Duration::from_secs(5);
    let res = loop {
        let res = post_openai(&mock, &chat_body(false)).await;
        if res.status() == 200 {
            break res;
        }
        assert!(Instant::now() < deadline, "the window never reset");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(number(&res, "x-ratelimit-remaining-requests"), 2);
}

#[tokio::test]
async fn anthropic_announces_an_rfc3339_reset_and_retry_after_on_request() {
    let mock = start(MockConfig {
        quota: Some(Quota {
            retry_after: true,
            ..quota(2, Duration::from_secs(30))
        }),
        ..MockConfig::default()
    })
    .await;
    let before = unix_now();
    for left in [1, 0] {
        let res = post_anthropic(&mock, &messages_body(left == 0)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(number(&res, "anthropic-ratelimit-requests-limit"), 2);
        assert_eq!(number(&res, "anthropic-ratelimit-requests-remaining"), left);
        let reset = parse_rfc3339(header(&res, "anthropic-ratelimit-requests-reset"));
        assert!(reset > before && reset <= unix_now() + 31, "{reset}");
        assert!(res
            .headers()
            .get("anthropic-ratelimit-tokens-limit")
            .is_none());
        assert!(res.headers().get("x-ratelimit-limit-requests").is_none());
        res.bytes().await.unwrap();
    }

    let res = post_anthropic(&mock, &messages_body(false)).await;
    assert_eq!(res.status(), 429);
    assert_eq!(number(&res, "anthropic-ratelimit-requests-remaining"), 0);
    let retry_after = number(&res, "retry-after");
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(mock.quota_refusals(), 1);
}

#[tokio::test]
async fn tokens_go_down_by_each_answers_usage_until_none_are_left() {
    let probe = start(MockConfig::default()).await;
    let res = post_openai(&probe, &chat_body(false)).await;
    let usage = res.json::<Value>().await.unwrap()["usage"]["total_tokens"]
        .as_u64()
        .unwrap();
    let limit = usage + 1;
    let mock = start(MockConfig {
        quota: Some(Quota {
            tokens: Some(limit),
            ..quota(10, Duration::from_secs(60))
        }),
        ..MockConfig::default()
    })
    .await;

    let res = post_openai(&mock, &chat_body(false)).await;
    assert_eq!(number(&res, "x-ratelimit-limit-tokens"), limit);
    assert_eq!(number(&res, "x-ratelimit-remaining-tokens"), 1);
    parse_go(header(&res, "x-ratelimit-reset-tokens"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["usage"]["total_tokens"], usage);

    // admitted with 1 token left; its answer uses them all
    let res = post_openai(&mock, &chat_body(true)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(number(&res, "x-ratelimit-remaining-tokens"), 0);
    assert_eq!(number(&res, "x-ratelimit-remaining-requests"), 8);
    res.bytes().await.unwrap();

    let res = post_openai(&mock, &chat_body(false)).await;
    assert_eq!(res.status(), 429);
    assert_eq!(number(&res, "x-ratelimit-remaining-requests"), 8);
    assert_eq!(mock.quota_refusals(), 1);
}

#[tokio::test]
async fn embeddings_take_from_the_quota_and_no_quota_sends_no_headers() {
    let mock = start(MockConfig {
        quota: Some(Quota {
            tokens: Some(1000),
            ..quota(5, Duration::from_secs(60))
        }),
        ..MockConfig::default()
    })
    .await;
    let res = client()
        .post(format!("{}/v1/embeddings", mock.url()))
        .json(&serde_json::json!({"model": "m", "input": "hello there"}))
        .send()
        .await
        .unwrap();
    assert_eq!(number(&res, "x-ratelimit-remaining-requests"), 4);
    let left = number(&res, "x-ratelimit-remaining-tokens");
    let body: Value = res.json().await.unwrap();
    assert_eq!(1000 - left, body["usage"]["total_tokens"].as_u64().unwrap());

    let plain = start(MockConfig::default()).await;
    let res = post_openai(&plain, &chat_body(false)).await;
    assert!(res.headers().get("x-ratelimit-limit-requests").is_none());
}

#[test]
fn quota_flag_reads_requests_per_window() {
    let quota = Quota::from_flag("40/1s").unwrap();
    assert_eq!(quota.requests, 40);
    assert_eq!(quota.window, Duration::from_secs(1));
    assert_eq!((quota.tokens, quota.retry_after), (None, false));
    assert_eq!(
        Quota::from_flag("500/2m").unwrap().window,
        Duration::from_secs(120)
    );
    assert_eq!(
        Quota::from_flag("3/250ms").unwrap().window,
        Duration::from_millis(250)
    );
    for bad in ["40", "40/", "x/1s", "40/1", "40/1d", "40/0s", "40/s"] {
        assert!(Quota::from_flag(bad).is_err(), "{bad}");
    }
}
