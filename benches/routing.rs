//! Routing effectiveness: the same request mix through the real gateway
//! (release binary, 127.0.0.1) in front of a simulated fleet of mock
//! providers, once per route strategy, reported as a markdown table of cost
//! per 1,000 requests, success rate, client-side p50/p99 latency and
//! attempts per request.
//!
//! `cargo bench --bench routing` (about half a minute). The fleet:
//!
//! | provider  | $/Mtok in/out | quality | latency            | errors          |
//! |-----------|---------------|---------|--------------------|-----------------|
//! | frontier  | 3 / 15        | 0.95    | 40 ms              | none            |
//! | workhorse | 0.4 / 1.6     | 0.8     | 10 ms, 80 ms after half the requests | 1% 500 |
//! | bargain   | 0.15 / 0.6    | 0.7     | 20 ms              | 20% 500         |
//! | spot      | 0.1 / 0.4     | 0.6     | 30 ms              | 5% 429          |
//!
//! Errors are drawn from a fixed seed per mock, so runs repeat. Every
//! strategy gets a fresh gateway and fresh mocks (latency observations
//! start empty), the same requests in the same order, and 8 clients.
//!
//! Then the **quota fleet** (issue 24): the same, but `spot`, the cheapest,
//! fails nothing and enforces a quota of 40 requests per second, announced
//! as OpenAI does (`x-ratelimit-*`, 429s without `Retry-After`). Its table
//! adds the 429s the gateway received (calls wasted) and spot's share of
//! the answers. `hybrid+headroom` is hybrid weighing quota headroom too
//! (`weights.headroom: 2`). Last, the quota fleet behind **two gateway
//! instances** (the clients split between them), each counting spot's
//! quota alone and then sharing one count through Redis (`REDIS_URL`,
//! default 127.0.0.1:6379), with the `cost` strategy. `SWITCHYARD_BIN`
//! runs another gateway binary (an older build, for a before/after
//! comparison).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a panic fails the run

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchyard_mock::{MockConfig, MockServer};
use tokio::process::{Child, Command};

/// Requests per strategy.
const REQUESTS: usize = 600;
/// Clients sending at once.
const CLIENTS: usize = 8;
/// Content deltas (completion tokens) in every mock reply.
const OUTPUT_TOKENS: usize = 60;

/// One mock provider of the fleet.
struct Member {
    name: &'static str,
    input: f64,
    output: f64,
    quality: f64,
    latency_ms: u64,
    /// Latency from the middle of the run on.
    degraded_ms: Option<u64>,
    error_rate: f64,
    error_status: u16,
}

const FLEET: [Member; 4] = [
    Member {
        name: "frontier",
        input: 3.0,
        output: 15.0,
        quality: 0.95,
        latency_ms: 40,
        degraded_ms: None,
        error_rate: 0.0,
        error_status: 500,
    },
    Member {
        name: "workhorse",
        input: 0.4,
        output: 1.6,
        quality: 0.8,
        latency_ms: 10,
        degraded_ms: Some(80),
        error_rate: 0.01,
        error_status: 500,
    },
    Member {
        name: "bargain",
        input: 0.15,
        output: 0.6,
        quality: 0.7,
        latency_ms: 20,
        degraded_ms: None,
        error_rate: 0.2,
        error_status: 500,
    },
    Member {
        name: "spot",
        input: 0.1,
        output: 0.4,
        quality: 0.6,
        latency_ms: 30,
        degraded_ms: None,
        error_rate: 0.05,
        error_status: 429,
    },
];

/// The strategies compared, with the route lines each needs.
const STRATEGIES: [(&str, &str); 6] = [
    ("ordered", "strategy: ordered"),
    ("round-robin", "strategy: round-robin"),
    ("cost", "strategy: cost"),
    ("latency", "strategy: latency"),
    (
        "hybrid",
        "strategy: hybrid\n    weights: { cost: 1, latency: 1, quality: 0.5 }",
    ),
    (
        "hybrid+headroom",
        "strategy: hybrid\n    weights: { cost: 1, latency: 1, quality: 0.5, headroom: 2 }",
    ),
];

/// The quota of the cheapest provider in the quota fleet.
const SPOT_QUOTA: switchyard_mock::Quota = switchyard_mock::Quota {
    requests: 40,
    tokens: None,
    window: Duration::from_secs(1),
    retry_after: false,
};

fn mock_config(m: &Member, seed: u64, latency_ms: u64, quota_fleet: bool) -> MockConfig {
    let quota = (quota_fleet && m.name == "spot").then_some(SPOT_QUOTA);
    MockConfig {
        latency: Duration::from_millis(latency_ms),
        chunks: OUTPUT_TOKENS,
        error_rate: if quota.is_some() { 0.0 } else { m.error_rate },
        error_status: m.error_status,
        seed,
        quota,
        ..MockConfig::default()
    }
}

/// routes.yaml for the fleet, with one route `bench` using `strategy`.
fn routes_yaml(mocks: &[MockServer], strategy: &str) -> String {
    let mut yaml = String::from("providers:\n");
    for (m, mock) in FLEET.iter().zip(mocks) {
        yaml.push_str(&format!(
            "  {}:\n    adapter: openai\n    base_url: {}/v1\n    models: {{ x: {{ input_per_mtok: {}, output_per_mtok: {}, quality: {} }} }}\n",
            m.name, mock.url(), m.input, m.output, m.quality
        ));
    }
    let targets: Vec<String> = FLEET
        .iter()
        .map(|m| format!("{{ provider: {}, model: x }}", m.name))
        .collect();
    yaml.push_str(&format!(
        "routes:\n  - match: {{ model: bench }}\n    {strategy}\n    targets: [{}]\n",
        targets.join(", ")
    ));
    yaml
}

/// The request mix: prompts of about 0.3, 1, 4 and 12 KB, in turn.
fn request(i: usize) -> Value {
    const SIZES: [usize; 4] = [300, 1024, 4096, 12 * 1024];
    let size = SIZES[i % SIZES.len()];
    let sentence = "Summarise the routing decision and its cost for the on-call engineer. ";
    let text = sentence.repeat(size / sentence.len() + 1);
    json!({"model": "bench", "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": format!("Request {i}: {text}")}]})
}

/// A gateway process on a free port; killed when dropped.
struct Gateway {
    _child: Child,
    _dir: tempfile::TempDir,
    url: String,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn start_gateway(yaml: &str, client: &reqwest::Client) -> Result<Gateway, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/providers");
    for _ in 0..3 {
        let port = free_port().map_err(|e| e.to_string())?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let config = dir.path().join("routes.yaml");
        let text = format!("listen: {addr}\nscripts: {}\n{yaml}", scripts.display());
        std::fs::write(&config, text).map_err(|e| e.to_string())?;
        let bin = std::env::var("SWITCHYARD_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_switchyard").to_string());
        let child = Command::new(bin)
            .args(["run", "--config"])
            .arg(&config)
            .env("SWITCHYARD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| e.to_string())?;
        let url = format!("http://{addr}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if client.get(format!("{url}/health")).send().await.is_ok() {
                return Ok(Gateway {
                    _child: child,
                    _dir: dir,
                    url,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Err("the gateway did not start".to_string())
}

/// What one request came to.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    ok: bool,
    latency: Duration,
    cost: f64,
    attempts: usize,
}

/// Sends the request mix through the gateways (client `c` through
/// `gws[c % len]`); `halfway` runs once, when half the requests have been
/// sent.
async fn drive(gws: &[Gateway], client: &reqwest::Client, halfway: impl Fn()) -> Vec<Outcome> {
    let next = Arc::new(AtomicUsize::new(0));
    let outcomes = Arc::new(Mutex::new(Vec::with_capacity(REQUESTS)));
    let halfway = Arc::new(halfway);
    let workers = (0..CLIENTS).map(|c| {
        let (next, outcomes, halfway) = (next.clone(), outcomes.clone(), halfway.clone());
        let url = format!("{}/v1/chat/completions", gws[c % gws.len()].url);
        async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= REQUESTS {
                    break;
                }
                if i == REQUESTS / 2 {
                    halfway();
                }
                let outcome = send(client, &url, &request(i)).await;
                outcomes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(outcome);
            }
        }
    });
    futures_util::future::join_all(workers).await;
    let out = outcomes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    out
}

async fn send(client: &reqwest::Client, url: &str, body: &Value) -> Outcome {
    let began = Instant::now();
    let res = client.post(url).json(body).send().await;
    let Ok(res) = res else {
        return Outcome {
            ok: false,
            latency: began.elapsed(),
            cost: 0.0,
            attempts: 0,
        };
    };
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let ok = res.status().is_success();
    let cost = header("x-switchyard-cost-usd")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0.0);
    let attempts = header("x-switchyard-attempts").map_or(1, |a| a.split(',').count());
    let _ = res.bytes().await;
    Outcome {
        ok,
        latency: began.elapsed(),
        cost,
        attempts,
    }
}

/// How many gateway instances a run has, and what they share.
#[derive(Clone, Copy, PartialEq)]
enum Instances {
    One,
    /// Two, each counting quotas on its own.
    TwoAlone,
    /// Two sharing state (quota counts included) through Redis.
    TwoSharing,
}

/// The `state:` section for two instances sharing Redis under a prefix of
/// their own (its keys expire with the quota windows).
fn shared_state() -> String {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("switchyard-bench:{:016x}:", rand::random::<u64>());
    format!("state:\n  redis: {url}\n  prefix: \"{prefix}\"\n")
}

/// One strategy on a fresh fleet (the quota fleet when `quota_fleet`) and
/// fresh gateways.
async fn run(
    name: &str,
    route: &str,
    client: &reqwest::Client,
    quota_fleet: bool,
    instances: Instances,
) -> Result<String, String> {
    let mut mocks = Vec::new();
    for (i, m) in FLEET.iter().enumerate() {
        let cfg = mock_config(m, 42 + i as u64, m.latency_ms, quota_fleet);
        mocks.push(MockServer::start(cfg).await.map_err(|e| e.to_string())?);
    }
    let mut yaml = routes_yaml(&mocks, route);
    if instances == Instances::TwoSharing {
        yaml = shared_state() + &yaml;
    }
    let mut gws = vec![start_gateway(&yaml, client).await?];
    if instances != Instances::One {
        gws.push(start_gateway(&yaml, client).await?);
    }
    let mocks = Arc::new(mocks);
    let degrade = mocks.clone();
    let began = Instant::now();
    let outcomes = drive(&gws, client, move || {
        for (i, (m, mock)) in FLEET.iter().zip(degrade.iter()).enumerate() {
            if let Some(ms) = m.degraded_ms {
                mock.set_config(mock_config(m, 42 + i as u64, ms, quota_fleet));
            }
        }
    })
    .await;
    let wall = began.elapsed();
    let hits: Vec<String> = FLEET
        .iter()
        .zip(mocks.iter())
        .map(|(m, mock)| format!("{} {}", m.name, mock.hits()))
        .collect();
    eprintln!(
        "{name}: {:.1} s, upstream hits: {}",
        wall.as_secs_f64(),
        hits.join(", ")
    );
    let mut line = row(name, &outcomes);
    if quota_fleet {
        let wasted: usize = mocks.iter().map(MockServer::quota_refusals).sum();
        let answered: usize = mocks.iter().map(MockServer::hits).sum();
        let spot = FLEET
            .iter()
            .zip(mocks.iter())
            .find(|(m, _)| m.name == "spot")
            .map_or(0, |(_, mock)| mock.hits() - mock.quota_refusals());
        line.push_str(&format!(
            " {wasted} | {:.0}% |",
            spot as f64 / answered.max(1) as f64 * 100.0
        ));
    }
    Ok(line)
}

fn row(name: &str, outcomes: &[Outcome]) -> String {
    let n = outcomes.len().max(1) as f64;
    let ok = outcomes.iter().filter(|o| o.ok).count() as f64;
    let cost: f64 = outcomes.iter().map(|o| o.cost).sum();
    let attempts: usize = outcomes.iter().map(|o| o.attempts).sum();
    let mut ms: Vec<f64> = outcomes
        .iter()
        .map(|o| o.latency.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let i = ((ms.len() as f64 * p).ceil() as usize).saturating_sub(1);
        ms.get(i).copied().unwrap_or(0.0)
    };
    format!(
        "| {name} | ${:.4} | {:.1}% | {:.0} ms | {:.0} ms | {:.2} |",
        cost / n * 1000.0,
        ok / n * 100.0,
        pct(0.5),
        pct(0.99),
        attempts as f64 / n
    )
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .unwrap_or_default();
        println!("\n{REQUESTS} requests per strategy, {CLIENTS} clients\n");
        for quota_fleet in [false, true] {
            if quota_fleet {
                println!("\nThe quota fleet: spot at 40 requests/s, OpenAI's headers, no Retry-After\n");
                println!("| strategy | cost / 1,000 requests | success | p50 | p99 | attempts / request | 429s received | spot's share |");
                println!("|---|---:|---:|---:|---:|---:|---:|---:|");
            } else {
                println!("| strategy | cost / 1,000 requests | success | p50 | p99 | attempts / request |");
                println!("|---|---:|---:|---:|---:|---:|");
            }
            for (name, route) in STRATEGIES {
                report(name, run(name, route, &client, quota_fleet, Instances::One).await);
            }
        }
        println!("\nThe quota fleet behind two gateway instances, `cost` strategy\n");
        println!("| instances | cost / 1,000 requests | success | p50 | p99 | attempts / request | 429s received | spot's share |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (name, instances) in [
            ("two, each alone", Instances::TwoAlone),
            ("two, sharing Redis", Instances::TwoSharing),
        ] {
            report(name, run(name, "strategy: cost", &client, true, instances).await);
        }
    });
}

/// Prints a run's row, or stops the bench on its error. Another build
/// (`SWITCHYARD_BIN`, an older one) may not take a row's config: that row
/// says so and the rest go on.
fn report(name: &str, line: Result<String, String>) {
    match line {
        Ok(line) => println!("{line}"),
        Err(e) if std::env::var_os("SWITCHYARD_BIN").is_some() => {
            println!("| {name} | not run: {e} |");
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(1);
        }
    }
}
