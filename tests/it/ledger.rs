//! The usage ledger through the real gateway: every request recorded, in
//! the real SQLite file and the real PostgreSQL (`DATABASE_URL`, default
//! the local `test` database), and nothing lost beyond the flush interval
//! when the gateway is killed with SIGKILL under load.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;
use crate::policy::{key_entry, KEY_A};

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn priced_route(mock: &MockServer, ledger: &str) -> String {
    format!(
        "ledger:\n{ledger}auth:\n  keys:\n{}providers:\n{}    models:\n      up: {{ input_per_mtok: 2, output_per_mtok: 8 }}\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n    cache: true\n",
        key_entry("team-a", KEY_A, ""),
        provider("p", "openai", mock, None),
    )
}

async fn send(gw: &Gateway, id: &str, body: &serde_json::Value) -> u16 {
    let r = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .header("x-request-id", id)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    status
}

/// `(request_id, status, cache, prompt_tokens, cost_usd)` of rows whose id
/// starts with `prefix`, from a SQLite ledger.
fn sqlite_rows(path: &Path, prefix: &str) -> Vec<(String, i64, String, i64, f64)> {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT request_id, status, cache, prompt_tokens, cost_usd FROM switchyard_usage
             WHERE request_id LIKE ?1 ORDER BY at_ms",
        )
        .unwrap();
    stmt.query_map([format!("{prefix}%")], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The Responses API and OpenAI's other endpoints are recorded with the
/// usage the provider reports, priced, like chat.
#[tokio::test]
async fn responses_images_and_audio_are_recorded_with_their_usage() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let ledger = format!("  url: sqlite:{}\n  flush_interval: 100ms\n", db.display());
    let yaml = priced_route(&mock, &ledger).replace(
        "    models:\n",
        "    capabilities: { images: true, audio: true }\n    models:\n",
    );
    let gw = Gateway::start(&yaml).await;
    let post = |path: &str, id: &str| {
        gw.client
            .post(gw.url(path))
            .bearer_auth(KEY_A)
            .header("x-request-id", id)
    };
    for (id, stream) in [("ep-resp", false), ("ep-resp-stream", true)] {
        let body = json!({"model": "m", "input": "hello there", "stream": stream});
        let r = post("/v1/responses", id).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
    }
    let r = post("/v1/images/generations", "ep-image")
        .json(&json!({"model": "m", "prompt": "a cat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await;
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![1; 40_000]).file_name("a.mp3"),
        )
        .text("model", "m");
    let r = post("/v1/audio/transcriptions", "ep-audio")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await;
    let ok = eventually(Duration::from_secs(5), || async {
        sqlite_rows(&db, "ep-").len() == 4
    })
    .await;
    let rows = sqlite_rows(&db, "ep-");
    assert!(ok, "{rows:?}");
    for (id, status, _, prompt, cost) in &rows {
        assert_eq!(*status, 200, "{id}");
        assert!(*prompt > 0, "{id}: prompt tokens recorded: {rows:?}");
        assert!(*cost > 0.0, "{id}: priced: {rows:?}");
    }
}

#[tokio::test]
async fn every_request_is_recorded_in_sqlite() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let ledger = format!("  url: sqlite:{}\n  flush_interval: 100ms\n", db.display());
    let gw = Gateway::start(&priced_route(&mock, &ledger)).await;
    let mut deterministic = chat("m", false);
    deterministic["temperature"] = json!(0);
    assert_eq!(send(&gw, "rec-1", &chat("m", false)).await, 200);
    assert_eq!(send(&gw, "rec-2", &chat("m", true)).await, 200);
    assert_eq!(send(&gw, "rec-3", &chat("nope", false)).await, 404);
    assert_eq!(send(&gw, "rec-4", &deterministic).await, 200);
    assert_eq!(send(&gw, "rec-5", &deterministic).await, 200);
    let ok = eventually(Duration::from_secs(5), || async {
        sqlite_rows(&db, "rec-").len() == 5
    })
    .await;
    let rows = sqlite_rows(&db, "rec-");
    assert!(ok, "{rows:?}");
    let by_id = |id: &str| rows.iter().find(|r| r.0 == id).unwrap().clone();
    assert_eq!(by_id("rec-1").1, 200);
    assert!(by_id("rec-1").3 > 0, "prompt tokens recorded");
    assert!(by_id("rec-1").4 > 0.0, "cost recorded");
    assert!(by_id("rec-2").3 > 0, "stream usage recorded");
    assert_eq!(by_id("rec-3").1, 404);
    assert_eq!(by_id("rec-4").2, "miss");
    assert_eq!(by_id("rec-5").2, "hit");
    assert_eq!(by_id("rec-5").4, 0.0, "a cache hit costs nothing");
}

#[tokio::test]
async fn postgres_ledger_records_every_request() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let ledger = format!("  url: {}\n  flush_interval: 100ms\n", database_url());
    let gw = Gateway::start(&priced_route(&mock, &ledger)).await;
    let run = {
        use rand::Rng;
        format!("pg-{:012x}-", rand::thread_rng().gen::<u64>() >> 16)
    };
    for i in 0..5 {
        assert_eq!(
            send(&gw, &format!("{run}{i}"), &chat("m", i % 2 == 0)).await,
            200
        );
    }
    let count = || {
        let run = run.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut db = postgres::Client::connect(&database_url(), postgres::NoTls).unwrap();
                let row = db
                    .query_one(
                        "SELECT count(*), sum(prompt_tokens)::bigint FROM switchyard_usage WHERE request_id LIKE $1",
                        &[&format!("{run}%")],
                    )
                    .unwrap();
                (row.get::<_, i64>(0), row.get::<_, Option<i64>>(1))
            })
            .await
            .unwrap()
        }
    };
    let ok = eventually(Duration::from_secs(5), || async { count().await.0 == 5 }).await;
    assert!(ok, "{:?}", count().await);
    assert!(count().await.1.unwrap_or(0) > 0);
}

#[tokio::test]
async fn kill_9_under_load_loses_at_most_the_flush_interval() {
    let mock = MockServer::start(MockConfig {
        latency: Duration::from_millis(5),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let flush = Duration::from_millis(250);
    let ledger = format!(
        "  url: sqlite:{}\n  flush_interval: {}ms\n",
        db.display(),
        flush.as_millis()
    );
    let mut gw = Gateway::start(&priced_route(&mock, &ledger)).await;
    // Answers received, with when they arrived.
    let answered: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop = Instant::now() + Duration::from_millis(1500);
    let workers = (0..8).map(|w| {
        let gw = &gw;
        let answered = answered.clone();
        async move {
            let mut i = 0;
            while Instant::now() < stop {
                let id = format!("kill-{w}-{i}");
                i += 1;
                let r = gw
                    .client
                    .post(gw.url("/v1/chat/completions"))
                    .bearer_auth(KEY_A)
                    .header("x-request-id", &id)
                    .json(&chat("m", false))
                    .send()
                    .await;
                if let Ok(r) = r {
                    if r.status() == 200 && r.bytes().await.is_ok() {
                        answered.lock().unwrap().push((id, Instant::now()));
                    }
                }
            }
        }
    });
    let load = futures_util::future::join_all(workers);
    let kill = async {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        gw.signal("KILL");
        Instant::now()
    };
    let (_, killed_at) = tokio::join!(load, kill);
    let _ = gw.wait_exit(Duration::from_secs(5)).await;

    let recorded: HashSet<String> = sqlite_rows(&db, "kill-").into_iter().map(|r| r.0).collect();
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() > 50, "too little load: {}", answered.len());
    // Everything answered more than one flush interval (plus scheduling
    // slack) before the kill must be on disk.
    let slack = Duration::from_millis(100);
    let must: Vec<&String> = answered
        .iter()
        .filter(|(_, at)| *at + flush + slack < killed_at)
        .map(|(id, _)| id)
        .collect();
    let missing: Vec<&&String> = must.iter().filter(|id| !recorded.contains(**id)).collect();
    eprintln!(
        "kill -9: {} answered, {} recorded, {} required, {} missing",
        answered.len(),
        recorded.len(),
        must.len(),
        missing.len()
    );
    assert!(!must.is_empty());
    assert!(missing.is_empty(), "lost records: {missing:?}");
}

/// The gateway's own user, as the container runs it: not root, so that a
/// read-only folder is read-only to it. Under root (CI), `setpriv` drops to
/// `nobody`.
fn as_unprivileged(bin: &Path) -> tokio::process::Command {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    if root {
        let mut cmd = tokio::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin);
        cmd
    } else {
        tokio::process::Command::new(bin)
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The container's layout: the config (and scripts) in a read-only folder,
/// the gateway unprivileged. With `SWITCHYARD_DATA_DIR` it writes its ledger
/// there — the default `sqlite:switchyard-usage.db` included — and nothing
/// in the config's folder; without it, it refuses to start and says why.
#[tokio::test]
async fn the_ledger_goes_to_the_data_directory_when_the_config_is_read_only() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    chmod(root.path(), 0o755);
    let conf = root.path().join("conf");
    copy_scripts(&conf.join("scripts"));
    let port = free_port();
    // No `ledger:` section: the default ledger, a relative SQLite path.
    std::fs::write(
        conf.join("routes.yaml"),
        format!(
            "listen: 127.0.0.1:{port}\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: x }}]\n",
            provider("p", "openai", &mock, None)
        ),
    )
    .unwrap();
    for dir in [conf.join("scripts/providers"), conf.join("scripts/scoring")] {
        for f in std::fs::read_dir(&dir).unwrap() {
            chmod(&f.unwrap().path(), 0o444);
        }
        chmod(&dir, 0o555);
    }
    chmod(&conf.join("scripts"), 0o555);
    chmod(&conf.join("routes.yaml"), 0o444);
    chmod(&conf, 0o555);
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    chmod(&data, 0o777);
    let bin = Path::new(env!("CARGO_BIN_EXE_switchyard"));
    let config = conf.join("routes.yaml");

    // Without a data directory: a clear refusal at start.
    let out = as_unprivileged(bin)
        .args(["run", "--config"])
        .arg(&config)
        .env_remove("SWITCHYARD_DATA_DIR")
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("SWITCHYARD_DATA_DIR"), "{said}");

    let mut child = as_unprivileged(bin)
        .args(["run", "--config"])
        .arg(&config)
        .env("SWITCHYARD_DATA_DIR", &data)
        .env("SWITCHYARD_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    let up = eventually(Duration::from_secs(30), || async {
        client.get(format!("{url}/health")).send().await.is_ok()
    })
    .await;
    assert!(up, "the gateway did not start");
    for i in 0..3 {
        let r = client
            .post(format!("{url}/v1/chat/completions"))
            .header("x-request-id", format!("ro-{i}"))
            .json(&chat("m", false))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let db = data.join("switchyard-usage.db");
    let written = eventually(Duration::from_secs(10), || async {
        db.exists() && sqlite_rows(&db, "ro-").len() == 3
    })
    .await;
    let _ = child.kill().await;
    assert!(written, "the ledger rows did not reach {}", db.display());
    let in_conf: Vec<_> = std::fs::read_dir(&conf)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        in_conf.len(),
        2,
        "only routes.yaml and scripts/: {in_conf:?}"
    );
    for dir in [
        conf.clone(),
        conf.join("scripts"),
        conf.join("scripts/providers"),
        conf.join("scripts/scoring"),
    ] {
        chmod(&dir, 0o755);
    }
}
