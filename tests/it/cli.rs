//! `switchyard check`, `--help`, `encrypt` (secrets in routes.yaml) and
//! `key new` (client virtual keys).

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
        vec!["encrypt", "--help"],
        vec!["key", "new", "--help"],
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

const MASTER_VAR: &str = "SWITCHYARD_MASTER_KEY";
const PLAINTEXT: &str = "sk-upstream-very-secret-4711";

/// Runs `switchyard <args>` with `stdin` and the master key (or none).
fn run_with(args: &[&str], master: Option<&str>, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut cmd = switchyard();
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    match master {
        Some(k) => cmd.env(MASTER_VAR, k),
        None => cmd.env_remove(MASTER_VAR),
    };
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn all_output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn new_master_key() -> String {
    let out = run_with(&["encrypt", "--new-master-key"], None, "");
    assert!(out.status.success(), "{}", all_output(&out));
    stdout(&out).trim().to_string()
}

/// `switchyard encrypt` of `secret` on stdin: the `enc:v1:` value.
fn encrypt(master: &str, secret: &str) -> String {
    let out = run_with(&["encrypt"], Some(master), secret);
    assert!(out.status.success(), "{}", all_output(&out));
    let sealed = stdout(&out).trim().to_string();
    assert!(sealed.starts_with("enc:v1:"), "{sealed}");
    sealed
}

#[test]
fn encrypt_reads_stdin_or_value_and_makes_master_keys() {
    let master = new_master_key();
    let key = switchyard::secrets::MasterKey::parse(&master).unwrap();
    assert_ne!(new_master_key(), master);
    // One trailing newline is dropped, as `echo` adds it.
    let from_stdin = encrypt(&master, &format!("{PLAINTEXT}\n"));
    let out = run_with(&["encrypt", "--value", PLAINTEXT], Some(&master), "");
    assert!(out.status.success(), "{}", all_output(&out));
    let from_value = stdout(&out).trim().to_string();
    assert_ne!(from_stdin, from_value, "a fresh nonce each time");
    for sealed in [&from_stdin, &from_value] {
        assert_eq!(
            switchyard::secrets::decrypt(&key, sealed).unwrap(),
            PLAINTEXT
        );
    }
    // A hex master key works as well.
    let hex = "0f".repeat(32);
    assert!(encrypt(&hex, "x").starts_with("enc:v1:"));
}

#[test]
fn encrypt_fails_clearly() {
    let cases = [
        (None, "x", "SWITCHYARD_MASTER_KEY"),
        (Some("not-a-key"), "x", "must be 32 bytes"),
        (Some(&*"ab".repeat(32)), "", "nothing to encrypt"),
    ];
    for (master, stdin, want) in cases {
        let out = run_with(&["encrypt"], master, stdin);
        assert!(!out.status.success(), "{master:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{err}");
        assert!(stdout(&out).is_empty());
    }
}

/// An encrypted api_key passes `check` with its master key; without it, or
/// with another, `check` fails at the value's file:line and never prints the
/// secret or a master key.
#[test]
fn check_decrypts_secrets_with_the_master_key_only() {
    let master = new_master_key();
    let other = new_master_key();
    let sealed = encrypt(&master, PLAINTEXT);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let scripts = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/providers");
    std::fs::write(
        &path,
        format!(
            "scripts: {scripts}\nproviders:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:1/v1\n    api_key: {sealed}\n    headers: {{ x-api-key: \"{sealed}\" }}\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n"
        ),
    )
    .unwrap();
    let path_arg = path.to_str().unwrap();
    let ok = run_with(&["check", path_arg], Some(&master), "");
    assert!(ok.status.success(), "{}", all_output(&ok));
    assert!(stdout(&ok).contains(": ok (version "));
    let p = path.display();
    let cases = [
        (None, "`enc:v1:` values need SWITCHYARD_MASTER_KEY"),
        (
            Some(other.as_str()),
            "could not decrypt: wrong master key or corrupted value",
        ),
        (Some("0123"), "SWITCHYARD_MASTER_KEY must be 32 bytes"),
    ];
    for (key, want) in cases {
        let out = run_with(&["check", path_arg], key, "");
        assert!(!out.status.success(), "{key:?}");
        let text = all_output(&out);
        assert!(
            text.contains(&format!("{p}:6:14: providers.p.api_key: {want}")),
            "{text}"
        );
        assert!(
            text.contains(&format!("providers.p.headers.x-api-key: {want}")),
            "{text}"
        );
        for secret in [PLAINTEXT, &master, &other] {
            assert!(!text.contains(secret), "leaked in: {text}");
        }
    }
}

/// A gateway started with an `enc:v1:` api_key sends the decrypted key: the
/// mock provider refuses any other.
#[tokio::test]
async fn gateway_sends_the_decrypted_key_upstream() {
    use crate::common::{chat, provider, Gateway, MockConfig, MockServer};
    let mock = MockServer::start(MockConfig {
        api_key: Some(PLAINTEXT.into()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let master = new_master_key();
    let sealed = encrypt(&master, PLAINTEXT);
    let yaml = format!(
        "providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: x }}]\n",
        provider("p", "openai", &mock, Some(&sealed))
    );
    let gw = Gateway::start_with_env(&yaml, &[(MASTER_VAR, &master)]).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(mock.hits(), 1);
    let logs = gw.logs();
    assert!(
        !logs.contains(PLAINTEXT) && !logs.contains(&master),
        "{logs}"
    );
}

/// `key new`: a fresh `sk-sy-` key and a YAML entry whose hash verifies it.
#[test]
fn key_new_prints_a_key_and_its_hash_entry() {
    let mut seen = Vec::new();
    for (args, name) in [
        (vec!["key", "new", "--name", "ci-bot"], Some("ci-bot")),
        (
            vec!["key", "new", "--name", "team: search"],
            Some("team: search"),
        ),
        (vec!["key", "new"], None),
    ] {
        let out = run_with(&args, None, "");
        assert!(out.status.success(), "{}", all_output(&out));
        let text = stdout(&out);
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("key:"))
            .unwrap()
            .trim()
            .to_string();
        assert!(key.starts_with("sk-sy-") && key.len() == 6 + 43, "{key}");
        assert!(key[6..].bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
        // Everything but the `key:` line is YAML to paste under auth.keys.
        let snippet: String = text
            .lines()
            .filter(|l| !l.starts_with("key:"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(!snippet.contains(&key), "the key must not be in the entry");
        let entries: Vec<serde_yaml::Value> = serde_yaml::from_str(&snippet).unwrap();
        let [entry] = entries.as_slice() else {
            panic!("{snippet}")
        };
        let hash = entry["key_hash"].as_str().unwrap();
        assert!(switchyard::auth::verify(&key, hash), "{text}");
        assert_eq!(hash, switchyard::auth::hash_key(&key));
        let got_name = entry["name"].as_str().unwrap();
        match name {
            Some(n) => assert_eq!(got_name, n),
            None => assert!(got_name.starts_with("key-"), "{got_name}"),
        }
        seen.push(key);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3);
}

/// `switchyard adapter test`: a script author's check against golden
/// fixtures, passing and failing with the path of the difference.
#[test]
fn adapter_test_runs_a_script_over_golden_fixtures() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let run = |script: &str, fixtures: &str| {
        switchyard()
            .args(["adapter", "test", script, "--fixtures", fixtures])
            .output()
            .unwrap()
    };
    let ok = run(
        &format!("{repo}/scripts/providers/cohere.rhai"),
        &format!("{repo}/tests/fixtures/cohere"),
    );
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{said}");
    assert!(said.contains("3 of 3 checks passed"), "{said}");

    let dir = tempfile::tempdir().unwrap();
    let wrong = std::fs::read_to_string(format!("{repo}/scripts/providers/cohere.rhai"))
        .unwrap()
        .replace(
            r#""TOOL_CALL" => "tool_calls","#,
            r#""TOOL_CALL" => "tool_use","#,
        );
    let script = dir.path().join("mine.rhai");
    std::fs::write(&script, wrong).unwrap();
    let bad = run(
        script.to_str().unwrap(),
        &format!("{repo}/tests/fixtures/cohere"),
    );
    let said = String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success(), "{said}");
    assert!(
        said.contains("FAILED: $.choices[0].finish_reason"),
        "{said}"
    );

    let syntax = dir.path().join("broken.rhai");
    std::fs::write(&syntax, "fn request(ctx) {\n  let = 1;\n}\n").unwrap();
    let broken = run(
        syntax.to_str().unwrap(),
        &format!("{repo}/tests/fixtures/cohere"),
    );
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("broken.rhai:2:"));
}

/// The complete examples of docs/guardrails.md, docs/budgets.md and
/// docs/caching.md (the first `yaml` block after "## A complete example")
/// pass `check`, in a folder laid out like the repository's.
#[test]
fn check_accepts_the_complete_examples_of_the_docs() {
    for doc in ["docs/guardrails.md", "docs/budgets.md", "docs/caching.md"] {
        let text =
            std::fs::read_to_string(format!("{}/{doc}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let after = text.split("## A complete example").nth(1).expect(doc);
        let yaml = after
            .split("```yaml\n")
            .nth(1)
            .and_then(|b| b.split("\n```").next())
            .expect(doc);
        let dir = tempfile::tempdir().unwrap();
        crate::common::copy_scripts(&dir.path().join("scripts"));
        let path = dir.path().join("routes.yaml");
        std::fs::write(&path, yaml).unwrap();
        let out = switchyard()
            .arg("check")
            .arg(&path)
            .env_remove("OPENAI_API_KEY")
            .env_remove("DEEPSEEK_API_KEY")
            .env_remove("SWITCHYARD_WEBHOOK_SECRET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{doc}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
