//! The shipped Grafana dashboard and Prometheus alerts against the real
//! gateway: after traffic of every kind (answers, a stream, a failover that
//! opens a circuit, a hedge, a failing script), every metric they query is
//! in `/metrics`, and `/metrics` parses as Prometheus text with the
//! families and types docs/operations.md documents.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use prometheus_parse::{LineInfo, Scrape, Value as Sample};
use serde_json::Value;

use crate::common::*;

const DASHBOARD: &str = include_str!("../../deploy/grafana/switchyard.json");
const ALERTS: &str = include_str!("../../deploy/prometheus/alerts.yml");

/// The families the Metrics table of docs/operations.md documents, with
/// their types.
const FAMILIES: &[(&str, &str)] = &[
    ("gateway_requests_total", "counter"),
    ("gateway_request_duration_seconds", "histogram"),
    ("gateway_time_to_first_token_seconds", "histogram"),
    ("gateway_tokens_total", "counter"),
    ("gateway_cost_usd_total", "counter"),
    ("gateway_upstream_attempts_total", "counter"),
    ("gateway_config_reloads_total", "counter"),
    ("gateway_config_info", "gauge"),
    ("gateway_requests_in_flight", "gauge"),
    ("gateway_streams_in_flight", "gauge"),
    ("gateway_client_connections", "gauge"),
    ("gateway_script_errors_total", "counter"),
    ("gateway_hedges_total", "counter"),
    ("gateway_failovers_total", "counter"),
    ("gateway_backend_circuit_state", "gauge"),
    ("gateway_backend_healthy", "gauge"),
    ("gateway_backend_in_flight", "gauge"),
];

/// The `gateway_*` metric names in a PromQL expression, with the
/// `_bucket`, `_sum` and `_count` series suffixes of histograms stripped.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("gateway_") {
        let starts_word = !rest[..at].ends_with(ident);
        let tail = &rest[at..];
        let len = tail.find(|c: char| !ident(c)).unwrap_or(tail.len());
        if starts_word {
            let name = &tail[..len];
            let name = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            names.insert(name.to_string());
        }
        rest = &tail[len..];
    }
    names
}

/// Every `expr` (panel targets) and `query` (template variables) string in
/// the dashboard.
fn dashboard_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "query", Value::String(s)) => out.push(s.clone()),
                    _ => dashboard_exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

/// `(alert name, expr)` of every rule in alerts.yml.
fn alert_exprs() -> Vec<(String, String)> {
    let doc: serde_yaml::Value = serde_yaml::from_str(ALERTS).expect("alerts.yml is YAML");
    let groups = doc["groups"].as_sequence().expect("groups");
    let mut out = Vec::new();
    for group in groups {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["alert"].as_str().expect("alert name");
            let expr = rule["expr"].as_str().expect("expr");
            out.push((name.to_string(), expr.to_string()));
        }
    }
    out
}

/// A gateway that has served every kind of traffic the metrics describe,
/// and the mocks behind it.
async fn gateway_with_traffic() -> (Gateway, Vec<MockServer>) {
    // It announces a quota (OpenAI's headers), as real providers do.
    let good = MockServer::start(MockConfig {
        chunks: 3,
        quota: Some(switchyard_mock::Quota {
            requests: 100_000,
            tokens: Some(100_000_000),
            window: Duration::from_secs(60),
            retry_after: false,
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let down = MockServer::start(MockConfig {
        fault: Some(Fault::Status {
            code: 503,
            retry_after: None,
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let slow = MockServer::start(MockConfig {
        latency: Duration::from_millis(1500),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    // Traces go to a collector that is not there: exported and dropped
    // spans are both counted.
    let yaml = format!(
        "tracing: {{ endpoint: \"http://127.0.0.1:1\", delay: 10ms, timeout: 1s }}\nproviders:\n{}    models: {{ x: {{ input_per_mtok: 2.5, output_per_mtok: 10 }} }}\n{}    circuit_breaker: {{ consecutive_failures: 1, cooldown: 10m }}\n{}{}routes:
  - name: chat
    match: {{ model: m }}
    targets: [{{ provider: down, model: x }}, {{ provider: good, model: x }}]
  - name: hedged
    match: {{ model: h }}
    hedge: {{ after: 100ms }}
    targets: [{{ provider: slow }}, {{ provider: good, model: x }}]
  - name: scripted
    match: {{ model: s }}
    targets: [{{ provider: broken }}]
",
        provider("good", "openai", &good, None),
        provider("down", "openai", &down, None),
        provider("slow", "openai", &slow, None),
        provider("broken", "boom", &good, None),
    );
    let gw =
        Gateway::start_with_scripts(&yaml, &[("boom", "fn request(ctx) { throw \"boom\"; }\n")])
            .await;
    // A failover (down's 503 opens its circuit), then answers from good.
    for stream in [false, true, false] {
        let r = gw.post("/v1/chat/completions", &chat("m", stream)).await;
        assert_eq!(r.status(), 200);
        if stream {
            assert_eq!(stream_text(&read_sse(r).await), mock_text(3));
        }
    }
    let r = gw.post("/v1/chat/completions", &chat("h", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], "good");
    let r = gw.post("/v1/chat/completions", &chat("s", false)).await;
    assert_eq!(r.status(), 502);
    let dropped = eventually(Duration::from_secs(10), || async {
        gw.metrics()
            .await
            .contains("gateway_trace_spans_dropped_total{reason=\"export_failed\"}")
    })
    .await;
    assert!(dropped, "spans to a dead collector are not counted");
    (gw, vec![good, down, slow])
}

/// Names used by `exprs` that `/metrics` lacks and no allow-list excuses.
fn missing(exprs: &[(String, String)], scraped: &BTreeSet<String>) -> Vec<String> {
    let mut missing = Vec::new();
    for (at, expr) in exprs {
        for name in metric_names(expr) {
            if !scraped.contains(&name) {
                missing.push(format!("{name} (in {at})"));
            }
        }
    }
    missing
}

/// Metric family names in a `/metrics` text: histogram series folded into
/// their family.
fn families(scrape: &Scrape) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    for s in &scrape.samples {
        let (name, kind) = match &s.value {
            Sample::Counter(_) => (s.metric.as_str(), "counter"),
            Sample::Gauge(_) => (s.metric.as_str(), "gauge"),
            Sample::Histogram(_) => (s.metric.as_str(), "histogram"),
            Sample::Summary(_) => (s.metric.as_str(), "summary"),
            Sample::Untyped(_) => {
                // A histogram's `_sum` and `_count` lines belong to it.
                let base = ["_sum", "_count"]
                    .iter()
                    .find_map(|x| s.metric.strip_suffix(x));
                if base.is_some_and(|b| scrape.docs.contains_key(b)) {
                    continue;
                }
                (s.metric.as_str(), "untyped")
            }
        };
        out.insert(name.to_string(), kind);
    }
    out
}

/// A gateway whose policies have all been exercised: a cache hit and miss,
/// a coalesced request, a rate-limit and a budget refusal, a state store
/// (Redis on a dead port) serving from local state, a budget threshold
/// whose webhook cannot be reached, a moderation guardrail whose target
/// is down (failing open), a route answering its fallback, a semantic
/// cache hit and a deny-list block.
async fn gateway_with_policy_traffic() -> (Gateway, MockServer) {
    let mock = MockServer::start(MockConfig {
        latency: Duration::from_millis(200),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let key = "sk-sy-observability-0000000000000000000000";
    let free = "sk-sy-observability-free-00000000000000000";
    let yaml = admin_yaml() + format!(
        "state: {{ redis: \"redis://127.0.0.1:1\" }}\nbudget: {{ daily: 1, alerts: [\"0.001%\"], webhook: {{ url: \"http://127.0.0.1:1/hook\", attempts: 1 }} }}\nauth:\n  keys:\n    - {{ name: k, key_hash: \"{}\", budget: {{ daily: 0.000001 }} }}\n    - {{ name: free, key_hash: \"{}\" }}\nproviders:\n{}    models: {{ x: {{ input_per_mtok: 2.5, output_per_mtok: 10 }} }}\n  dead: {{ adapter: openai, base_url: \"http://127.0.0.1:1/v1\" }}\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: x }}]\n    limits: {{ rpm: 2 }}\n    cache: true\n    guardrails: [{{ name: mod, moderation: {{ provider: dead, timeout: 500ms }}, on_error: open }}]\n  - match: {{ model: down }}\n    targets: [{{ provider: dead }}]\n    retry: {{ max_attempts: 1 }}\n    fallback: {{ message: Busy. }}\n  - match: {{ model: s }}\n    targets: [{{ provider: p, model: x }}]\n    cache: {{ when: always, semantic: {{ embeddings: e, threshold: 0.8 }} }}\n    guardrails: [{{ name: deny, builtin: deny-list, options: {{ words: [forbidden] }} }}]\n  - match: {{ model: e }}\n    targets: [{{ provider: p, model: mock-semantic-embed }}]\n",
        switchyard::auth::hash_key(key),
        switchyard::auth::hash_key(free),
        provider("p", "openai", &mock, None),
    ).as_str();
    let gw = Gateway::start(&yaml).await;
    let send_as = |key: &'static str, body: Value| {
        let gw = &gw;
        async move {
            gw.client
                .post(gw.url("/v1/chat/completions"))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let mut cached = chat("m", false);
    cached["temperature"] = serde_json::json!(0);
    // Two identical at once (one waits for the other), then a hit.
    let (a, b) = tokio::join!(send_as(key, cached.clone()), send_as(key, cached.clone()));
    assert_eq!((a, b), (200, 200));
    assert_eq!(send_as(key, cached).await, 200);
    // The answer spent k's budget; the two took the route's RPM.
    assert_eq!(send_as(key, chat("m", false)).await, 429);
    assert_eq!(send_as(free, chat("m", false)).await, 429);
    // Every provider of `down` is down: its fallback answers.
    assert_eq!(send_as(free, chat("down", false)).await, 200);
    // A question, its paraphrase (from the semantic cache), and a word the
    // route's deny list blocks.
    let ask = |text: &str| serde_json::json!({"model": "s", "messages": [{"role": "user", "content": text}]});
    assert_eq!(
        send_as(free, ask("What is the capital city of France?")).await,
        200
    );
    assert_eq!(
        send_as(free, ask("Tell me the capital of France, please")).await,
        200
    );
    assert_eq!(send_as(free, ask("a forbidden question")).await, 400);
    // The threshold's webhook fails on its own thread.
    let failed = eventually(Duration::from_secs(10), || async {
        gw.metrics()
            .await
            .contains("gateway_webhook_deliveries_total{outcome=\"failed\"}")
    })
    .await;
    assert!(failed, "{}", gw.metrics().await);
    (gw, mock)
}

/// Family names in a `/metrics` text.
fn scraped_names(text: &str) -> BTreeSet<String> {
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    families(&scrape).into_keys().collect()
}

#[tokio::test]
async fn dashboard_and_alerts_query_only_metrics_the_gateway_exports() {
    let (gw, _mocks) = gateway_with_traffic().await;
    // Backend gauges are observed per scrape: the open circuit shows.
    let text = gw.metrics().await;
    assert!(
        text.contains("gateway_backend_circuit_state{backend=\"down\",provider=\"down\"} 1"),
        "{text}"
    );
    let (policy_gw, _mock) = gateway_with_policy_traffic().await;
    let policy_text = policy_gw.metrics().await;
    for family in [
        "gateway_cache_requests_total{result=\"hit\"}",
        "gateway_coalesced_requests_total 1",
        "gateway_budget_rejections_total{key=\"k\"}",
        "gateway_ratelimit_rejections_total{scope=\"route\"}",
        "gateway_state_backend_up 0",
        "gateway_state_errors_total{",
        "gateway_budget_alerts_total{name=\"\",period=\"daily\",scope=\"gateway\",threshold=\"0.001%\"} 1",
        "gateway_guardrail_errors_total{action=\"open\",guardrail=\"mod\"}",
        "gateway_degraded_answers_total{kind=\"fallback\",route=\"down\"} 1",
        "gateway_cache_requests_total{result=\"semantic\"} 1",
        "gateway_guardrail_blocks_total{guardrail=\"deny\",stage=\"request\"} 1",
    ] {
        assert!(policy_text.contains(family), "{family}\n{policy_text}");
    }
    let mut scraped = scraped_names(&text);
    scraped.extend(scraped_names(&policy_text));
    let text = format!("{text}\n{policy_text}");

    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("dashboard is JSON");
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() > 20, "{exprs:?}");
    let dashboard_exprs: Vec<(String, String)> = exprs
        .into_iter()
        .map(|e| ("switchyard.json".to_string(), e))
        .collect();
    let lacking = missing(&dashboard_exprs, &scraped);
    assert!(lacking.is_empty(), "dashboard: {lacking:?}\n{text}");

    let alerts = alert_exprs();
    assert!(alerts.len() >= 10, "{alerts:?}");
    let lacking = missing(&alerts, &scraped);
    assert!(lacking.is_empty(), "alerts.yml: {lacking:?}\n{text}");

    // Together they cover every documented family.
    let used: BTreeSet<String> = dashboard_exprs
        .iter()
        .chain(&alerts)
        .flat_map(|(_, e)| metric_names(e))
        .collect();
    for (name, _) in FAMILIES {
        assert!(
            used.contains(*name),
            "{name} is on no panel and in no alert"
        );
    }
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_with_the_documented_types() {
    let (gw, _mocks) = gateway_with_traffic().await;
    let text = gw.metrics().await;
    // Every line is a HELP, a TYPE or a sample with a numeric value.
    for line in text.lines() {
        match LineInfo::parse(line) {
            LineInfo::Sample { value, .. } => {
                assert!(value.parse::<f64>().is_ok(), "value of {line:?}")
            }
            LineInfo::Doc { .. } | LineInfo::Type { .. } | LineInfo::Empty => {}
            LineInfo::Ignored => panic!("not Prometheus text: {line:?}"),
        }
    }
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let found = families(&scrape);
    for (name, kind) in FAMILIES {
        assert_eq!(found.get(*name), Some(kind), "{name}\n{text}");
        assert!(scrape.docs.contains_key(*name), "{name} has no HELP");
    }
    // Histograms: cumulative buckets ending in +Inf, equal to _count.
    for s in &scrape.samples {
        let Sample::Histogram(buckets) = &s.value else {
            continue;
        };
        assert!(buckets
            .windows(2)
            .all(|w| w[0].less_than < w[1].less_than && w[0].count <= w[1].count));
        let last = buckets.last().expect("buckets");
        assert!(last.less_than.is_infinite());
        let count = scrape
            .samples
            .iter()
            .find(|c| c.metric == format!("{}_count", s.metric) && c.labels == s.labels)
            .expect("a _count per histogram");
        assert!(matches!(count.value, Sample::Untyped(n) if n == last.count));
    }
    // Labels as documented.
    let labels = |name: &str| -> BTreeSet<String> {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .flat_map(|s| s.labels.keys().cloned())
            .collect()
    };
    let set = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        labels("gateway_requests_total"),
        set(&["route", "provider", "model", "status"])
    );
    assert_eq!(
        labels("gateway_time_to_first_token_seconds"),
        set(&["route", "provider"])
    );
    assert_eq!(
        labels("gateway_backend_circuit_state"),
        set(&["provider", "backend"])
    );
    assert_eq!(
        labels("gateway_upstream_attempts_total"),
        set(&["provider", "outcome"])
    );
}

#[test]
fn metric_names_are_found_in_promql() {
    let expr = "histogram_quantile(0.95, sum by (le) (rate(gateway_request_duration_seconds_bucket{job=~\"$job\"}[5m]))) / sum(gateway_requests_total) and my_gateway_x";
    assert_eq!(
        metric_names(expr),
        BTreeSet::from([
            "gateway_request_duration_seconds".to_string(),
            "gateway_requests_total".to_string()
        ])
    );
}
