//! `switchyard check` and `--help`.

use std::process::Command;

fn switchyard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
}

#[test]
fn check_accepts_the_shipped_config() {
    let out = switchyard()
        .args(["check", concat!(env!("CARGO_MANIFEST_DIR"), "/routes.yaml")])
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(": ok (version "), "{stdout}");
}

#[test]
fn check_reports_every_problem_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scripts/providers")).unwrap();
    std::fs::write(
        dir.path().join("scripts/providers/bad.rhai"),
        "fn request(ctx) {\n  let = 1;\n}\n",
    )
    .unwrap();
    let yaml = "listen: 127.0.0.1:8080\nproviders:\n  a:\n    adapter: bad\n    base_url: http://127.0.0.1:1\n  b:\n    adapter: bad\n    base_urll: http://x\nroutes:\n  - match: { model: m }\n    targets: [{ provider: nobody }]\n";
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = switchyard().arg("check").arg(&path).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let p = path.display().to_string();
    assert!(
        err.contains(&format!(
            "{p}:8:5: providers.b.base_urll: unknown field `base_urll`"
        )),
        "{err}"
    );
    assert!(err.contains("bad.rhai:2:"), "{err}");
    assert!(
        err.contains(&format!(
            "{p}:11:27: routes[0].targets[0].provider: unknown provider `nobody`"
        )),
        "{err}"
    );
}

#[test]
fn help_everywhere() {
    for args in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["check", "--help"],
        vec!["demo", "--help"],
        vec!["explain", "--help"],
    ] {
        let out = switchyard().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

/// `switchyard demo`: mock providers behind the gateway; `smart` fails over
/// from a provider answering 503 to a translated Anthropic-format stream.
#[tokio::test]
async fn demo_streams_translates_and_fails_over() {
    use crate::common::{eventually, read_sse, stream_text};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let _child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["demo", "--listen", &listen])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let health = format!("http://{listen}/health");
    assert!(
        eventually(std::time::Duration::from_secs(30), || async {
            client.get(&health).send().await.is_ok()
        })
        .await
    );
    let body = serde_json::json!({"model": "smart", "stream": true, "messages": [{"role": "user", "content": "Hello"}]});
    let r = client
        .post(format!("http://{listen}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-switchyard-attempts"],
        "flaky:503,anthropic:200"
    );
    let events = read_sse(r).await;
    assert_eq!(
        stream_text(&events),
        (0..12).map(|i| format!("tok{i} ")).collect::<String>()
    );
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
}

#[test]
fn explain_ranks_without_calling_anyone() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "scripts: {}/scripts/providers\nproviders:\n  a:\n    adapter: openai\n    base_url: http://127.0.0.1:1/v1\n    models: {{ x: {{ input_per_mtok: 9, output_per_mtok: 9 }} }}\n  b:\n    adapter: openai\n    base_url: http://127.0.0.1:2/v1\n    models: {{ x: {{ input_per_mtok: 1, output_per_mtok: 1 }} }}\nroutes:\n  - match: {{ model: m }}\n    strategy: cost\n    targets: [{{ provider: a, model: x }}, {{ provider: b, model: x }}]\n",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::write(dir.path().join("routes.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("req.json"),
        r#"{"model":"m","messages":[{"role":"user","content":"hello"}]}"#,
    )
    .unwrap();
    let out = switchyard()
        .args(["explain", "--config"])
        .arg(dir.path().join("routes.yaml"))
        .arg(dir.path().join("req.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["strategy"], "cost");
    assert_eq!(v["candidates"][0]["provider"], "b");
    assert_eq!(v["candidates"][1]["provider"], "a");
    assert!(v["candidates"][0]["estimated_cost_usd"].as_f64().unwrap() > 0.0);
}
