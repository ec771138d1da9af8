//! Test harness: the real `switchyard` binary on an ephemeral port, in a
//! temp dir with its own routes.yaml and the repo's adapter scripts, and a
//! real HTTP client. Mock providers come from `switchyard::mock`.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard::transform::sse::{SseEvent, SseParser};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use switchyard_mock::{Fault, MockConfig, MockServer};

/// The repo's shipped adapter scripts.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/providers")
}

/// Copies the repo's adapter, patch, scoring and guardrail scripts to
/// `dest/providers`, `dest/patches`, `dest/scoring` and `dest/guardrails`.
pub fn copy_scripts(dest: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    for sub in ["providers", "patches", "scoring", "guardrails"] {
        std::fs::create_dir_all(dest.join(sub)).expect("scripts dir");
        for entry in std::fs::read_dir(repo.join(sub)).expect("repo scripts") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), dest.join(sub).join(entry.file_name()))
                .expect("copy script");
        }
    }
}

/// A running gateway process.
pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    /// The admin listener and key, when the config has `admin:`.
    pub admin: Option<(SocketAddr, String)>,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    logs: Arc<Mutex<String>>,
}

/// A port nothing listens on, for a gateway (or admin listener) to bind
/// soon. Taken below Linux's ephemeral range (32768–60999), where the
/// mocks' `bind(0)` and outgoing connections never land, and never the
/// same twice in this process: a port handed out here cannot be taken by a
/// mock or another test between the probe and the gateway's bind — with
/// `bind(0)` it could, and the test then talked to someone else's server.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // A different starting point per run, should two test binaries overlap.
    let start = std::process::id() % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (FIRST + (start + n) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {}", FIRST + SPAN)
}

/// Polls `check` every 20 ms until it is true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

impl Gateway {
    /// Starts the gateway on `yaml` (without `listen:`, which is added).
    pub async fn start(yaml: &str) -> Gateway {
        Self::start_with_scripts(yaml, &[]).await
    }

    /// Like [`Gateway::start`], with extra scripts `(name, source)`: an
    /// adapter, `scoring:<name>`, `patch:<name>` or `guardrail:<name>`.
    pub async fn start_with_scripts(yaml: &str, scripts: &[(&str, &str)]) -> Gateway {
        Self::spawn(yaml, scripts, &[]).await
    }

    /// Like [`Gateway::start`], with extra environment variables for the process.
    pub async fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Gateway {
        Self::spawn(yaml, &[], env).await
    }

    async fn spawn(yaml: &str, scripts: &[(&str, &str)], env: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_scripts(&dir.path().join("scripts"));
        let sdir = dir.path().join("scripts/providers");
        let scoring = dir.path().join("scripts/scoring");
        let patches = dir.path().join("scripts/patches");
        let guardrails = dir.path().join("scripts/guardrails");
        for (name, src) in scripts {
            let path = if let Some(n) = name.strip_prefix("scoring:") {
                scoring.join(format!("{n}.rhai"))
            } else if let Some(n) = name.strip_prefix("guardrail:") {
                guardrails.join(format!("{n}.rhai"))
            } else if let Some(n) = name.strip_prefix("patch:") {
                patches.join(format!("{n}.rhai"))
            } else {
                sdir.join(format!("{name}.rhai"))
            };
            std::fs::write(path, src).expect("write script");
        }
        Self::launch(dir, env, |d, addr| {
            let config = d.join("routes.yaml");
            std::fs::write(&config, format!("listen: {addr}\n{yaml}")).expect("write routes.yaml");
            config
        })
        .await
    }

    /// Starts the gateway on files that `prepare(dir, listen)` lays out in
    /// an empty temp dir; it returns the config path, whose file must say
    /// `listen: <listen>`. Called again with another port if that one was
    /// taken.
    pub async fn start_prepared(prepare: impl Fn(&Path, SocketAddr) -> PathBuf) -> Gateway {
        Self::launch(tempfile::tempdir().expect("tempdir"), &[], prepare).await
    }

    async fn launch(
        mut dir: tempfile::TempDir,
        env: &[(&str, &str)],
        prepare: impl Fn(&Path, SocketAddr) -> PathBuf,
    ) -> Gateway {
        let mut last_logs = String::new();
        for _ in 0..3 {
            let port = free_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            let config = prepare(dir.path(), addr);
            let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
                .args(["run", "--config"])
                .arg(&config)
                .env("SWITCHYARD_LOG", "info")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn switchyard");
            let logs = capture_logs(&mut child);
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client");
            let mut gw = Gateway {
                child,
                addr,
                admin: admin_of(&config),
                dir,
                client,
                logs,
            };
            // Up means *this* process answers: a 200 from `/health` (a mock
            // or another test's server that took the port between probing
            // and binding answers otherwise, or not for long) while the
            // child is still running.
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut up = false;
            let running = |gw: &mut Gateway| matches!(gw.child.try_wait(), Ok(None));
            while Instant::now() < deadline && running(&mut gw) {
                let health = gw.client.get(gw.url("/health")).send().await;
                if health.is_ok_and(|r| r.status() == 200) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    up = running(&mut gw);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if up {
                return gw;
            }
            // Most likely the port was taken between probing and binding.
            let Gateway {
                mut child,
                logs,
                dir: d,
                ..
            } = gw;
            let _ = child.kill().await;
            dir = d;
            last_logs = logs.lock().unwrap().clone();
        }
        panic!("gateway did not start:\n{last_logs}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Starts `switchyard run --upgrade` on this gateway's config: the new
    /// process waits for this one's listening sockets (send this one SIGQUIT).
    pub fn start_successor(&self) -> Successor {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["run", "--upgrade", "--config"])
            .arg(self.config_path())
            .env("SWITCHYARD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn switchyard --upgrade");
        let logs = capture_logs(&mut child);
        Successor { child, logs }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("routes.yaml")
    }

    /// Everything the gateway logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Replaces routes.yaml like an editor that saves by rename.
    pub fn write_config(&self, yaml: &str) {
        let tmp = self.dir.path().join(".routes.yaml.swp");
        std::fs::write(&tmp, format!("listen: {}\n{yaml}", self.addr)).expect("write");
        std::fs::rename(&tmp, self.config_path()).expect("rename");
    }

    /// Starts with an extra scoring script `scripts/scoring/<name>.rhai`.
    pub async fn start_with_scoring(yaml: &str, name: &str, src: &str) -> Gateway {
        let script = format!("scoring:{name}");
        Self::start_with_scripts(yaml, &[(script.as_str(), src)]).await
    }

    /// Writes a scoring script.
    pub fn write_scoring(&self, name: &str, src: &str) {
        std::fs::write(
            self.dir.path().join(format!("scripts/scoring/{name}.rhai")),
            src,
        )
        .expect("write scoring script");
    }

    /// Writes an adapter script next to the others.
    pub fn write_script(&self, name: &str, src: &str) {
        std::fs::write(
            self.dir
                .path()
                .join(format!("scripts/providers/{name}.rhai")),
            src,
        )
        .expect("write script");
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        // The gateway's logs say why it did not answer.
        let r = self.client.get(self.url(path)).send().await;
        r.unwrap_or_else(|e| panic!("GET {path}: {e}\n--- gateway logs:\n{}", self.logs()))
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        let r = self.client.post(self.url(path)).json(body).send().await;
        r.unwrap_or_else(|e| panic!("POST {path}: {e}\n--- gateway logs:\n{}", self.logs()))
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    /// The config version the gateway serves now.
    pub async fn version(&self) -> String {
        self.get("/health")
            .await
            .headers()
            .get("x-switchyard-config-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the served version differs from `old`.
    pub async fn wait_for_new_version(&self, old: &str, timeout: Duration) -> bool {
        eventually(timeout, || async { self.version().await != old }).await
    }

    /// The `/metrics` text: from the API listener, or — with auth on, where
    /// it is served only there — from the admin listener.
    pub async fn metrics(&self) -> String {
        let api = self.get("/metrics").await;
        let Some((addr, key)) = self.admin.as_ref().filter(|_| api.status() == 404) else {
            return api.text().await.expect("metrics");
        };
        self.client
            .get(format!("http://{addr}/metrics"))
            .bearer_auth(key)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("metrics from the admin listener")
            .text()
            .await
            .expect("metrics")
    }

    /// Sends a signal to the gateway process.
    pub fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|s| s.code())
    }
}

/// The admin key configs written by [`admin_yaml`] use.
pub const ADMIN_KEY: &str = "admin-key-0123456789abcdef";

/// An `admin:` section on a free port, with [`ADMIN_KEY`]: where `/metrics`
/// is served when auth is on.
pub fn admin_yaml() -> String {
    format!(
        "admin:\n  listen: 127.0.0.1:{}\n  key: {ADMIN_KEY}\n",
        free_port()
    )
}

/// `admin.listen` and `admin.key` of a config file, when both are literal.
fn admin_of(config: &Path) -> Option<(SocketAddr, String)> {
    let text = std::fs::read_to_string(config).ok()?;
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    let admin = yaml.get("admin")?;
    let listen = admin.get("listen")?.as_str()?.parse().ok()?;
    let key = admin.get("key")?.as_str()?.to_string();
    Some((listen, key))
}

/// Collects a child's stderr lines as they come.
fn capture_logs(child: &mut Child) -> Arc<Mutex<String>> {
    let logs = Arc::new(Mutex::new(String::new()));
    if let Some(stderr) = child.stderr.take() {
        let logs = logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut l = logs.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
    }
    logs
}

/// A gateway started with `run --upgrade` (see [`Gateway::start_successor`]);
/// it serves on its predecessor's address once it has the sockets.
pub struct Successor {
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl Successor {
    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Its exit code, if it has exited.
    pub fn exited(&mut self) -> Option<i32> {
        self.child.try_wait().ok().flatten().and_then(|s| s.code())
    }
}

/// A response header's value ("" when absent or not text).
pub fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A chat request body.
pub fn chat(model: &str, stream: bool) -> Value {
    serde_json::json!({
        "model": model,
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello"}
        ]
    })
}

/// An SSE event and when it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub event: SseEvent,
}

impl Received {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.event.data).ok()
    }
}

/// Reads a whole SSE response, timestamping each event as it arrives.
pub async fn read_sse(resp: reqwest::Response) -> Vec<Received> {
    use futures_util::StreamExt;
    let mut parser = SseParser::new(64 << 20);
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        let at = Instant::now();
        parser.feed(&chunk, &mut events).expect("event size");
        out.extend(events.drain(..).map(|event| Received { at, event }));
    }
    parser.finish(&mut events);
    let at = Instant::now();
    out.extend(events.drain(..).map(|event| Received { at, event }));
    out
}

/// The text of an OpenAI stream: concatenated `delta.content`.
pub fn stream_text(events: &[Received]) -> String {
    events
        .iter()
        .filter_map(|e| e.json())
        .filter_map(|v| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

/// The expected reply text of a mock with `n` chunks.
pub fn mock_text(n: usize) -> String {
    (0..n).map(|i| format!("tok{i} ")).collect()
}

/// A provider entry for routes.yaml.
pub fn provider(name: &str, adapter: &str, mock: &MockServer, key: Option<&str>) -> String {
    let base = match adapter {
        "openai" => format!("{}/v1", mock.url()),
        _ => mock.url(),
    };
    let key = key
        .map(|k| format!("\n    api_key: {k}"))
        .unwrap_or_default();
    format!("  {name}:\n    adapter: {adapter}\n    base_url: {base}{key}\n")
}
