//! Zero-downtime binary upgrade: `run --upgrade` takes the listening sockets
//! (main and admin) over from the running gateway when it gets SIGQUIT; the
//! old process finishes its streams and exits. No connection is refused and
//! no stream is cut meanwhile.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

const ADMIN_KEY: &str = "admin-key-0123456789-upgrade";
/// Chunks of the slow stream, one every 200 ms: it outlasts the swap.
const SLOW_CHUNKS: usize = 60;

fn yaml(slow: &MockServer, fast: &MockServer, admin_port: u16) -> String {
    format!(
        "server:\n  drain_timeout: 30s\n  upgrade_sock: upgrade.sock\nledger: {{ enabled: false }}\nadmin:\n  listen: 127.0.0.1:{admin_port}\n  key: {ADMIN_KEY}\nproviders:\n{}{}routes:\n  - match: {{ model: slow }}\n    targets: [{{ provider: slow }}]\n  - match: {{ model: fast }}\n    targets: [{{ provider: fast }}]\n",
        provider("slow", "openai", slow, None),
        provider("fast", "openai", fast, None),
    )
}

/// Requests sent one after another, each on a new connection (the case a
/// refused connection would show), until `stop`; failures are recorded.
struct Clients {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Clients {
    fn start(main: String, admin: String) -> Clients {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let (s, o, f) = (stop.clone(), ok.clone(), failures.clone());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            while !s.load(Ordering::Relaxed) {
                let chat = client
                    .post(format!("{main}/v1/chat/completions"))
                    .json(&chat("fast", false))
                    .send()
                    .await;
                let outcome = match chat {
                    Ok(r) if r.status() == 200 => match r.json::<Value>().await {
                        Ok(v) if v["choices"][0]["message"]["content"].is_string() => Ok(()),
                        other => Err(format!("chat: bad body {other:?}")),
                    },
                    Ok(r) => Err(format!("chat: status {}", r.status())),
                    Err(e) => Err(format!("chat: {e:?}")),
                };
                let stats = client
                    .get(format!("{admin}/admin/stats"))
                    .bearer_auth(ADMIN_KEY)
                    .send()
                    .await;
                let outcome = outcome.and(match stats {
                    Ok(r) if r.status() == 200 => Ok(()),
                    Ok(r) => Err(format!("admin: status {}", r.status())),
                    Err(e) => Err(format!("admin: {e:?}")),
                });
                match outcome {
                    Ok(()) => drop(o.fetch_add(1, Ordering::Relaxed)),
                    Err(e) => f.lock().unwrap().push(e),
                }
            }
        });
        Clients {
            stop,
            ok,
            failures,
            task,
        }
    }

    fn ok(&self) -> usize {
        self.ok.load(Ordering::Relaxed)
    }

    /// Waits until `n` more rounds succeeded than now.
    async fn more(&self, n: usize) -> bool {
        let start = self.ok();
        eventually(Duration::from_secs(20), || async { self.ok() >= start + n }).await
    }

    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let ok = self.ok();
        self.task.await.unwrap();
        let failures = self.failures.lock().unwrap().clone();
        (ok, failures)
    }
}

#[tokio::test]
async fn sigquit_hands_both_listeners_to_the_new_process_without_a_refused_connection() {
    let slow = MockServer::start(MockConfig {
        chunks: SLOW_CHUNKS,
        chunk_delay: Duration::from_millis(200),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let fast = MockServer::start(MockConfig::default()).await.unwrap();
    let admin_port = free_port();
    let mut old = Gateway::start(&yaml(&slow, &fast, admin_port)).await;
    let admin = format!("http://127.0.0.1:{admin_port}");
    assert!(
        eventually(Duration::from_secs(10), || async {
            reqwest::get(format!("{admin}/admin/openapi.yaml"))
                .await
                .is_ok()
        })
        .await,
        "admin listener did not start"
    );

    let stream = old.post("/v1/chat/completions", &chat("slow", true)).await;
    assert_eq!(stream.status(), 200);
    let reader = tokio::spawn(read_sse(stream));
    let clients = Clients::start(old.url(""), admin.clone());
    assert!(clients.more(3).await, "the old gateway does not serve");

    let mut new = old.start_successor();
    let sock = old.dir.path().join("upgrade.sock");
    let waiting = eventually(Duration::from_secs(30), || async { sock.exists() }).await;
    assert!(
        waiting,
        "the new process never waited on the upgrade socket:\n{}",
        new.logs()
    );
    old.signal("QUIT");

    // The old process drains: the stream it serves ends complete, then it exits.
    let events = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the stream hung")
        .unwrap();
    assert_eq!(
        stream_text(&events),
        mock_text(SLOW_CHUNKS),
        "the stream was cut by the upgrade"
    );
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    assert_eq!(
        old.wait_exit(Duration::from_secs(40)).await,
        Some(0),
        "the old process did not exit within the drain timeout:\n{}",
        old.logs()
    );

    // Only the new process is left, and both listeners answer.
    assert!(
        clients.more(5).await,
        "nobody serves after the old one exited"
    );
    assert_eq!(
        new.exited(),
        None,
        "the new process exited:\n{}",
        new.logs()
    );
    assert!(
        new.logs().contains("took over the listening sockets"),
        "{}",
        new.logs()
    );
    let (ok, failures) = clients.finish().await;
    assert!(
        failures.is_empty(),
        "{} of {} rounds failed during the swap: {:?}\n--- old:\n{}\n--- new:\n{}",
        failures.len(),
        ok + failures.len(),
        &failures[..failures.len().min(5)],
        old.logs(),
        new.logs()
    );
}

#[tokio::test]
async fn sigquit_without_a_waiting_new_process_keeps_serving() {
    let fast = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "server:\n  upgrade_sock: upgrade.sock\nproviders:\n{}routes:\n  - match: {{ model: fast }}\n    targets: [{{ provider: fast }}]\n",
        provider("fast", "openai", &fast, None),
    );
    let mut gw = Gateway::start(&yaml).await;
    gw.signal("QUIT");
    let ignored = eventually(Duration::from_secs(20), || async {
        gw.logs().contains("SIGQUIT ignored")
    })
    .await;
    assert!(ignored, "{}", gw.logs());
    // Pingora alone would give up sending ~5 s after the signal and stop
    // serving ~5 s later.
    assert_eq!(gw.wait_exit(Duration::from_secs(7)).await, None);
    let res = gw.post("/v1/chat/completions", &chat("fast", false)).await;
    assert_eq!(res.status(), 200);
}
