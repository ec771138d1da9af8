use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use super::*;
use crate::upstream::balance::{Member, Strategy};
use switchyard_mock::{MockConfig, MockServer};

/// A member as the gateway will have it: an upstream and its auth headers.
struct Node {
    upstream: Upstream,
    headers: Vec<(String, String)>,
}

impl Probe for Node {
    fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    fn probe_headers(&self) -> Vec<(String, String)> {
        self.headers.clone()
    }
}

fn node(id: &str, base_url: &str, headers: &[(&str, &str)]) -> Member<Node> {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Member {
        id: id.to_string(),
        weight: 1,
        value: Arc::new(Node {
            upstream: Upstream::parse(base_url).unwrap(),
            headers,
        }),
    }
}

fn cfg(kind: ProbeKind, healthy: usize, unhealthy: usize) -> HealthConfig {
    HealthConfig {
        kind,
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
        healthy_threshold: healthy,
        unhealthy_threshold: unhealthy,
    }
}

/// Installs the probe without a loop: each `run_health_pass` is one probe.
fn probe_manually(b: &Balancer<Node>, cfg: HealthConfig) {
    b.health()
        .install(Some(Box::new(ProbeCheck::<Node>::new(cfg))));
}

fn order(b: &Balancer<Node>) -> Vec<String> {
    b.candidates(b"", |_| true)
        .iter()
        .map(|n| n.upstream.authority.clone())
        .collect()
}

async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn authority(addr: SocketAddr) -> String {
    addr.to_string()
}

#[tokio::test]
async fn http_probe_respects_thresholds_down_and_up() {
    let a = MockServer::start(MockConfig::default()).await.unwrap();
    let c = MockServer::start(MockConfig::default()).await.unwrap();
    let a_addr = a.addr();
    let b = Balancer::new(
        Strategy::Priority,
        vec![node("a", &a.url(), &[]), node("c", &c.url(), &[])],
    );
    probe_manually(&b, cfg(ProbeKind::default(), 2, 3));
    let both = vec![authority(a_addr), authority(c.addr())];

    b.run_health_pass().await;
    assert_eq!(order(&b), both);
    let probe = a.last_request().unwrap();
    assert_eq!(
        (probe.method.as_str(), probe.path.as_str()),
        ("GET", "/models")
    );
    a.stop().await;

    for pass in 1..=2 {
        b.run_health_pass().await;
        assert_eq!(b.is_healthy("a"), Some(true), "failure {pass} of 3");
    }
    b.run_health_pass().await;
    assert_eq!(b.is_healthy("a"), Some(false));
    assert_eq!(order(&b), [authority(c.addr())], "skipped once unhealthy");

    let a = MockServer::start_on(a_addr, MockConfig::default())
        .await
        .unwrap();
    b.run_health_pass().await;
    assert_eq!(b.is_healthy("a"), Some(false), "success 1 of 2");
    b.run_health_pass().await;
    assert_eq!(order(&b), both, "selected again");
    assert_eq!(a.hits() + c.hits(), 0, "no paid endpoint was called");
}

#[tokio::test]
async fn http_probe_sends_member_headers_and_checks_the_status() {
    let config = MockConfig {
        api_key: Some("sk-test".into()),
        ..MockConfig::default()
    };
    let mock = MockServer::start(config).await.unwrap();
    let v1 = format!("{}/v1", mock.url());
    let members = || {
        vec![
            node("keyed", &v1, &[("authorization", "Bearer sk-test")]),
            node("bare", &mock.url(), &[]),
        ]
    };
    let b = Balancer::new(Strategy::Priority, members());
    probe_manually(&b, cfg(ProbeKind::default(), 1, 1));
    b.run_health_pass().await;
    assert_eq!(b.is_healthy("keyed"), Some(true));
    assert_eq!(b.is_healthy("bare"), Some(false), "401 is not 200");
    let keyed = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/models")
        .expect("probe under the base path");
    assert!(keyed
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == "Bearer sk-test"));

    let expect_401 = ProbeKind::Http {
        path: "models".into(),
        expected_status: 401,
    };
    let b = Balancer::new(Strategy::Priority, members());
    probe_manually(&b, cfg(expect_401, 1, 1));
    b.run_health_pass().await;
    assert_eq!(b.is_healthy("keyed"), Some(false));
    assert_eq!(b.is_healthy("bare"), Some(true));
}

#[tokio::test]
async fn tcp_probe_follows_the_port() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let b = Balancer::new(
        Strategy::Priority,
        vec![node("t", &format!("http://{addr}"), &[])],
    );
    probe_manually(&b, cfg(ProbeKind::Tcp, 1, 2));
    b.run_health_pass().await;
    assert_eq!(b.is_healthy("t"), Some(true));
    drop(listener);
    b.run_health_pass().await;
    assert_eq!(b.is_healthy("t"), Some(true), "failure 1 of 2");
    b.run_health_pass().await;
    assert_eq!(b.is_healthy("t"), Some(false));
    assert!(order(&b).is_empty());
    let _listener = TcpListener::bind(addr).await.unwrap();
    b.run_health_pass().await;
    assert_eq!(b.is_healthy("t"), Some(true));
}

#[tokio::test]
async fn http_probe_times_out_on_a_silent_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and holds connections, never answers.
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let b = Balancer::new(
        Strategy::Priority,
        vec![node("s", &format!("http://{addr}"), &[])],
    );
    let mut config = cfg(ProbeKind::default(), 1, 1);
    config.timeout = Duration::from_millis(200);
    probe_manually(&b, config);
    let started = Instant::now();
    b.run_health_pass().await;
    assert_eq!(b.is_healthy("s"), Some(false));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the timeout"
    );
    silent.abort();
}

#[tokio::test]
async fn probe_loop_marks_down_and_up_and_stop_resets() {
    let a = MockServer::start(MockConfig::default()).await.unwrap();
    let a_addr = a.addr();
    let b = Balancer::new(Strategy::Weighted, vec![node("a", &a.url(), &[])]);
    b.start_health_checks(cfg(ProbeKind::default(), 2, 2))
        .unwrap();
    eventually("probes arrive", || a.requests().len() >= 2).await;
    a.stop().await;
    eventually("a is unhealthy", || b.is_healthy("a") == Some(false)).await;
    assert!(b.candidates(b"", |_| true).is_empty());

    let a = MockServer::start_on(a_addr, MockConfig::default())
        .await
        .unwrap();
    eventually("a is healthy again", || b.is_healthy("a") == Some(true)).await;
    assert_eq!(b.candidates(b"", |_| true).len(), 1);

    a.stop().await;
    eventually("a is unhealthy", || b.is_healthy("a") == Some(false)).await;
    b.stop_health_checks().await;
    assert!(b.health().lock_task().is_none());
    assert_eq!(
        b.is_healthy("a"),
        Some(true),
        "stopping forgets probe results"
    );
}

#[tokio::test]
async fn the_probe_loop_lives_as_long_as_the_lineage() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let b = Balancer::new(Strategy::Weighted, vec![node("a", &mock.url(), &[])]);
    b.start_health_checks(cfg(ProbeKind::default(), 1, 1))
        .unwrap();
    let registry = Arc::downgrade(&b.health().registry);
    let next = b.rebuild(Strategy::Priority, vec![node("a", &mock.url(), &[])]);
    drop(b);
    let seen = mock.requests().len();
    eventually("the rebuilt balancer is still probed", || {
        mock.requests().len() >= seen + 2
    })
    .await;
    // Starting again replaces the loop rather than adding one.
    next.start_health_checks(cfg(ProbeKind::Tcp, 1, 1)).unwrap();
    drop(next);
    eventually("the loop is gone", || registry.upgrade().is_none()).await;
}

#[test]
fn starting_outside_a_runtime_fails() {
    let b: Balancer<Node> = Balancer::new(Strategy::Weighted, Vec::new());
    assert_eq!(
        b.start_health_checks(HealthConfig::default()),
        Err(HealthError::NoRuntime)
    );
}

#[test]
fn defaults_probe_the_free_model_list() {
    let c = HealthConfig::default();
    assert_eq!(
        c.kind,
        ProbeKind::Http {
            path: "/models".into(),
            expected_status: 200
        }
    );
    assert!(c.timeout < c.interval);
}
