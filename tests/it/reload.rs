//! Hot reload: valid edits switch routing within a second, invalid edits
//! keep the running config, requests in flight finish on their snapshot,
//! and a Kubernetes ConfigMap update (a renamed `..data` symlink) applies.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

fn yaml(a: &MockServer, b: &MockServer, target: &str) -> String {
    format!(
        "providers:\n{}{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: {target}, model: x }}]\n",
        provider("a", "openai", a, None),
        provider("b", "anthropic", b, None)
    )
}

async fn served_by(gw: &Gateway) -> String {
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 200);
    r.headers()["x-switchyard-provider"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_valid_edit_switches_routing_within_a_second() {
    let a = MockServer::start(MockConfig::default()).await.unwrap();
    let b = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&yaml(&a, &b, "a")).await;
    assert_eq!(served_by(&gw).await, "a");
    let v1 = gw.version().await;
    let saved = Instant::now();
    gw.write_config(&yaml(&a, &b, "b"));
    assert!(
        gw.wait_for_new_version(&v1, Duration::from_secs(5)).await,
        "no reload"
    );
    let took = saved.elapsed();
    assert_eq!(served_by(&gw).await, "b");
    assert!(took < Duration::from_secs(1), "reload took {took:?}");
    assert!(gw
        .metrics()
        .await
        .contains("gateway_config_reloads_total{result=\"success\"} 2"));
}

#[tokio::test]
async fn an_invalid_edit_is_rejected_and_the_old_config_keeps_serving() {
    let a = MockServer::start(MockConfig::default()).await.unwrap();
    let b = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&yaml(&a, &b, "a")).await;
    let v1 = gw.version().await;
    let broken = yaml(&a, &b, "b").replace("    adapter: anthropic", "    adaptor: anthropic");
    gw.write_config(&broken);
    let rejected = eventually(Duration::from_secs(5), || async {
        gw.metrics()
            .await
            .contains("gateway_config_reloads_total{result=\"failure\"} 1")
    })
    .await;
    assert!(rejected, "the bad edit was not counted");
    assert!(
        gw.logs()
            .contains("routes.yaml:7:5: providers.b.adaptor: unknown field `adaptor`"),
        "{}",
        gw.logs()
    );
    assert_eq!(gw.version().await, v1);
    assert_eq!(served_by(&gw).await, "a");
    // Fixing the file applies it.
    gw.write_config(&yaml(&a, &b, "b"));
    assert!(gw.wait_for_new_version(&v1, Duration::from_secs(5)).await);
    assert_eq!(served_by(&gw).await, "b");
}

#[tokio::test]
async fn a_stream_in_flight_finishes_on_its_snapshot() {
    let a = MockServer::start(MockConfig {
        chunks: 10,
        chunk_delay: Duration::from_millis(100),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let b = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&yaml(&a, &b, "a")).await;
    let v1 = gw.version().await;
    let resp = gw.post("/v1/chat/completions", &chat("m", true)).await;
    assert_eq!(resp.headers()["x-switchyard-config-version"], v1.as_str());
    let reader = tokio::spawn(read_sse(resp));
    tokio::time::sleep(Duration::from_millis(150)).await;
    gw.write_config(&yaml(&a, &b, "b").replace("providers:", "providers:\n  # edited"));
    assert!(gw.wait_for_new_version(&v1, Duration::from_secs(5)).await);
    assert_eq!(served_by(&gw).await, "b");
    let events = reader.await.unwrap();
    assert_eq!(stream_text(&events), mock_text(10));
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
}

#[tokio::test]
async fn a_new_script_is_usable_after_a_reload_and_sighup_reloads() {
    let a = MockServer::start(MockConfig::default()).await.unwrap();
    let b = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&yaml(&a, &b, "a")).await;
    let v1 = gw.version().await;
    // A new adapter: OpenAI-compatible with a custom header.
    gw.write_script(
        "custom",
        "fn request(ctx) { #{ path: \"/chat/completions\", headers: #{ \"x-custom\": \"yes\" } } }\n",
    );
    let cfg = format!(
        "providers:\n  c:\n    adapter: custom\n    base_url: {}/v1\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: c }}]\n",
        a.url()
    );
    std::fs::write(gw.config_path(), format!("listen: {}\n{cfg}", gw.addr)).unwrap();
    assert!(gw.wait_for_new_version(&v1, Duration::from_secs(5)).await);
    assert_eq!(served_by(&gw).await, "c");
    assert_eq!(a.last_request().unwrap().header("x-custom"), Some("yes"));

    // Editing only the script reloads too (the version covers scripts).
    let v2 = gw.version().await;
    gw.write_script("custom", "fn request(ctx) { #{ path: \"/chat/completions\", headers: #{ \"x-custom\": \"v2\" } } }\n");
    assert!(gw.wait_for_new_version(&v2, Duration::from_secs(5)).await);
    let _ = served_by(&gw).await;
    assert_eq!(a.last_request().unwrap().header("x-custom"), Some("v2"));

    let before: Value = serde_json::json!(gw.metrics().await.matches("result=\"success\"").count());
    gw.signal("HUP");
    let reloaded = eventually(Duration::from_secs(5), || async {
        let m = gw.metrics().await;
        m.lines().any(|l| {
            l.starts_with("gateway_config_reloads_total{result=\"success\"}") && !l.ends_with(" 3")
        })
    })
    .await;
    assert!(reloaded, "SIGHUP did not reload ({before})");
}

/// Publishes a ConfigMap volume the way the kubelet updates one: the files
/// in a new timestamped directory, a `..data_tmp` symlink to it renamed over
/// `..data`, the user-visible `routes.yaml` (and `scripts`) symlinks
/// through `..data` made once, and the previous directory removed. With a
/// `custom` adapter, the payload has the repo's scripts plus
/// `scripts/providers/custom.rhai`.
fn publish_configmap(dir: &Path, routes: &str, custom: Option<&str>) {
    use std::os::unix::fs::symlink;
    let data = dir.join("..data");
    let old = std::fs::read_link(&data).ok();
    let generation = old
        .as_ref()
        .and_then(|o| o.extension()?.to_str()?.parse::<u32>().ok())
        .unwrap_or(0)
        + 1;
    let stamp = format!("..2026_11_26_00_00_{generation:02}.{generation}");
    let payload = dir.join(&stamp);
    std::fs::create_dir(&payload).unwrap();
    std::fs::write(payload.join("routes.yaml"), routes).unwrap();
    let mut visible = vec!["routes.yaml"];
    if let Some(custom) = custom {
        copy_scripts(&payload.join("scripts"));
        std::fs::write(payload.join("scripts/providers/custom.rhai"), custom).unwrap();
        visible.push("scripts");
    }
    symlink(&stamp, dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), &data).unwrap();
    for name in visible {
        let path = dir.join(name);
        if path.symlink_metadata().is_err() {
            symlink(Path::new("..data").join(name), path).unwrap();
        }
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(dir.join(old)).unwrap();
    }
}

fn custom_adapter(tag: &str) -> String {
    format!("fn request(ctx) {{ #{{ path: \"/chat/completions\", headers: #{{ \"x-custom\": \"{tag}\" }} }} }}\n")
}

fn configmap_routes(listen: SocketAddr, a: &MockServer, b: &MockServer, target: &str) -> String {
    format!(
        "listen: {listen}\nproviders:\n{}{}  c:\n    adapter: custom\n    base_url: {}/v1\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: {target} }}]\n",
        provider("a", "openai", a, None),
        provider("b", "anthropic", b, None),
        a.url()
    )
}

#[tokio::test]
async fn a_kubernetes_configmap_update_reloads_and_scripts_stay_watched() {
    let a = MockServer::start(MockConfig::default()).await.unwrap();
    let b = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start_prepared(|dir, listen| {
        publish_configmap(
            dir,
            &configmap_routes(listen, &a, &b, "c"),
            Some(&custom_adapter("v1")),
        );
        dir.join("routes.yaml")
    })
    .await;
    let dir = gw.dir.path();
    assert!(dir
        .join("routes.yaml")
        .symlink_metadata()
        .unwrap()
        .is_symlink());
    assert_eq!(served_by(&gw).await, "c");
    assert_eq!(a.last_request().unwrap().header("x-custom"), Some("v1"));

    // An update: routing and the script change, the old payload goes away.
    let v1 = gw.version().await;
    let before = std::fs::read_link(dir.join("..data")).unwrap();
    publish_configmap(
        dir,
        &configmap_routes(gw.addr, &a, &b, "b"),
        Some(&custom_adapter("v2")),
    );
    assert!(!dir.join(before).exists());
    assert!(
        gw.wait_for_new_version(&v1, Duration::from_secs(5)).await,
        "the ..data swap did not reload:\n{}",
        gw.logs()
    );
    assert_eq!(served_by(&gw).await, "b");

    // The scripts directory behind the swapped symlink is watched: an edit
    // in place (not how the kubelet works, but how a symlinked release
    // directory does) reloads.
    let v2 = gw.version().await;
    std::fs::write(
        dir.join("scripts/providers/custom.rhai"),
        custom_adapter("v3"),
    )
    .unwrap();
    assert!(
        gw.wait_for_new_version(&v2, Duration::from_secs(5)).await,
        "an edit behind the new ..data did not reload:\n{}",
        gw.logs()
    );

    // And a second update applies as well.
    let v3 = gw.version().await;
    publish_configmap(
        dir,
        &configmap_routes(gw.addr, &a, &b, "c"),
        Some(&custom_adapter("v4")),
    );
    assert!(gw.wait_for_new_version(&v3, Duration::from_secs(5)).await);
    assert_eq!(served_by(&gw).await, "c");
    assert_eq!(a.last_request().unwrap().header("x-custom"), Some("v4"));
    assert!(!gw.metrics().await.contains("result=\"failure\""));
}

/// Scripts outside the ConfigMap (`scripts:` elsewhere): the `..data`
/// rename is the only event the update makes.
#[tokio::test]
async fn a_configmap_with_only_routes_yaml_reloads_on_update() {
    let a = MockServer::start(MockConfig::default()).await.unwrap();
    let b = MockServer::start(MockConfig::default()).await.unwrap();
    let scripts = tempfile::tempdir().unwrap();
    copy_scripts(scripts.path());
    let routes = |listen: SocketAddr, target: &str| {
        format!(
            "listen: {listen}\nscripts: {}\n{}",
            scripts.path().join("providers").display(),
            yaml(&a, &b, target)
        )
    };
    let gw = Gateway::start_prepared(|dir, listen| {
        publish_configmap(dir, &routes(listen, "a"), None);
        dir.join("routes.yaml")
    })
    .await;
    assert_eq!(served_by(&gw).await, "a");
    let v1 = gw.version().await;
    publish_configmap(gw.dir.path(), &routes(gw.addr, "b"), None);
    assert!(
        gw.wait_for_new_version(&v1, Duration::from_secs(5)).await,
        "the ..data swap did not reload:\n{}",
        gw.logs()
    );
    assert_eq!(served_by(&gw).await, "b");
}
