//! The deployment files in deploy/: every YAML file parses, the Kubernetes
//! manifests keep the promises docs/operations.md makes (probes, drain,
//! non-root, read-only root, the ConfigMap mounted as a directory with every
//! script), the ConfigMap's routes.yaml passes `switchyard check` in the
//! layout the pod sees, and the systemd unit outlasts the drain.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_yaml::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every document of a (multi-document) YAML file in the repo.
fn documents(path: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(&read(path))
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

/// The YAML files under `dir` of the repo, as repo-relative paths.
fn yaml_files_in(dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    yaml_files(&repo(dir), &mut files);
    let root = repo("");
    files
        .iter()
        .map(|f| f.strip_prefix(&root).unwrap().to_string_lossy().to_string())
        .collect()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// The files `kubectl apply -f deploy/k8s/` applies: the YAML files
/// directly in it (config/ holds the ConfigMap's files).
fn k8s_manifests() -> Vec<String> {
    yaml_files_in("deploy/k8s")
        .into_iter()
        .filter(|f| Path::new(f).parent() == Some(Path::new("deploy/k8s")))
        .collect()
}

/// The Kubernetes object of `kind` in deploy/k8s/.
fn manifest(kind: &str) -> Value {
    k8s_manifests()
        .iter()
        .flat_map(|f| documents(f))
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in deploy/k8s"))
}

/// `server.drain_timeout` of the ConfigMap's routes.yaml.
fn drain_timeout() -> Duration {
    let routes = documents("deploy/k8s/config/routes.yaml").remove(0);
    let text = routes["server"]["drain_timeout"]
        .as_str()
        .expect("drain_timeout");
    Duration::from_secs(text.trim_end_matches('s').parse().expect("seconds"))
}

#[test]
fn every_deploy_yaml_file_parses() {
    let files = yaml_files_in("deploy");
    for f in [
        "k8s/deployment.yaml",
        "k8s/service.yaml",
        "k8s/hpa.yaml",
        "k8s/pdb.yaml",
        "k8s/config/routes.yaml",
        "prometheus/alerts.yml",
        "prometheus/scrape.yml",
    ] {
        assert!(
            files.contains(&format!("deploy/{f}")),
            "{f} not in {files:?}"
        );
    }
    for rel in &files {
        let docs = documents(rel);
        assert!(!docs.is_empty(), "{rel} is empty");
        if k8s_manifests().contains(rel) {
            for d in &docs {
                assert!(d["apiVersion"].is_string(), "{rel}: apiVersion");
                assert!(d["kind"].is_string(), "{rel}: kind");
                assert_eq!(d["metadata"]["name"], "switchyard", "{rel}");
            }
        }
    }
}

#[test]
fn the_deployment_drains_probes_and_runs_locked_down() {
    let d = manifest("Deployment");
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/health");
    // Endpoints removal (preStop) plus the whole drain fit in the grace period.
    let pre_stop = c["lifecycle"]["preStop"]["exec"]["command"][1]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .expect("preStop sleep seconds");
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace");
    assert!(grace > pre_stop + drain_timeout().as_secs(), "{grace}s");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    // The ConfigMap is a directory mount (subPath files never update), at
    // the path the image's entrypoint reads.
    let mounts = c["volumeMounts"].as_sequence().expect("mounts");
    let config = mounts
        .iter()
        .find(|m| m["name"] == "config")
        .expect("config mount");
    assert_eq!(config["mountPath"], "/etc/switchyard");
    assert!(config["subPath"].is_null());
    let dockerfile = read("deploy/Dockerfile");
    assert!(dockerfile.contains(
        r#"ENTRYPOINT ["/usr/local/bin/switchyard", "run", "--config", "/etc/switchyard/routes.yaml"]"#
    ));
    // It writes only in its data directory: the image's, the pod's data
    // volume, the same path.
    assert!(dockerfile.contains("ENV SWITCHYARD_DATA_DIR=/var/lib/switchyard"));
    assert!(dockerfile.contains("USER 10001:10001"));
    let data = mounts
        .iter()
        .find(|m| m["name"] == "data")
        .expect("data mount");
    assert_eq!(data["mountPath"], "/var/lib/switchyard");
    assert_eq!(config["readOnly"], true);
    // Secrets and fleet state come in through the environment.
    let env: Vec<&str> = c["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    for name in [
        "OPENAI_API_KEY",
        "SWITCHYARD_REDIS_URL",
        "DATABASE_URL",
        "SWITCHYARD_DATA_DIR",
    ] {
        assert!(env.contains(&name), "{name} not in {env:?}");
    }
    let hpa = manifest("HorizontalPodAutoscaler");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], d["metadata"]["name"]);
    let pdb = manifest("PodDisruptionBudget");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        d["spec"]["selector"]["matchLabels"]
    );
    let svc = manifest("Service");
    assert_eq!(
        svc["spec"]["selector"],
        d["spec"]["selector"]["matchLabels"]
    );
}

/// The ConfigMap volume's `items`: key → path in the mount.
fn configmap_items() -> Vec<(String, String)> {
    let d = manifest("Deployment");
    let volumes = d["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .expect("volumes")
        .clone();
    let config = volumes
        .iter()
        .find(|v| v["name"] == "config")
        .expect("config volume");
    config["configMap"]["items"]
        .as_sequence()
        .expect("items")
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().expect("key and path").to_string();
            (s("key"), s("path"))
        })
        .collect()
}

#[test]
fn the_configmap_mount_holds_every_script_and_a_valid_config() {
    // The adapters and catalogs are built in: the ConfigMap holds the
    // config and the scoring scripts, and every item is a file of the repo.
    let items = configmap_items();
    let mut wanted = vec![("routes.yaml".to_string(), "routes.yaml".to_string())];
    for entry in std::fs::read_dir(repo("scripts/scoring")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        wanted.push((name.clone(), format!("scripts/scoring/{name}")));
    }
    for item in &wanted {
        assert!(items.contains(item), "{item:?} missing from the items");
    }
    assert_eq!(items.len(), wanted.len(), "{items:?}");

    // The files as the pod sees them: `switchyard check` passes.
    let mount = tempfile::tempdir().unwrap();
    for (key, path) in &items {
        let source = match key.as_str() {
            "routes.yaml" => repo("deploy/k8s/config/routes.yaml"),
            _ => ["providers", "scoring"]
                .iter()
                .map(|sub| repo("scripts").join(sub).join(key))
                .find(|p| p.exists())
                .expect("script"),
        };
        let dest = mount.path().join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(source, dest).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("check")
        .arg(mount.path().join("routes.yaml"))
        .env("SWITCHYARD_ADMIN_KEY", "admin-key-from-the-secret-0123")
        .env(
            "SWITCHYARD_METRICS_TOKEN",
            "metrics-token-from-the-secret-01",
        )
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("GEMINI_API_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Prometheus scrapes `/metrics` where the gateway serves it: on the admin
/// listener's port, with the metrics token.
#[test]
fn prometheus_scrapes_the_admin_listener_with_the_metrics_token() {
    let routes = documents("deploy/k8s/config/routes.yaml").remove(0);
    let admin = &routes["admin"];
    let port = admin["listen"]
        .as_str()
        .and_then(|l| l.rsplit(':').next())
        .expect("admin.listen");
    assert_eq!(admin["metrics_token"], "${SWITCHYARD_METRICS_TOKEN}");
    let d = manifest("Deployment");
    let pod = &d["spec"]["template"];
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/port"], port);
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    let c = &pod["spec"]["containers"][0];
    let ports: Vec<String> = c["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .map(|p| p["containerPort"].as_u64().unwrap().to_string())
        .collect();
    assert!(ports.contains(&port.to_string()), "{ports:?}");
    let env: Vec<&str> = c["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    for name in ["SWITCHYARD_ADMIN_KEY", "SWITCHYARD_METRICS_TOKEN"] {
        assert!(env.contains(&name), "{name} not in {env:?}");
    }
    // The admin port stays out of the Service.
    let svc = manifest("Service");
    let exposed: Vec<u64> = svc["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|p| p["port"].as_u64())
        .collect();
    assert!(!exposed.contains(&port.parse().unwrap()), "{exposed:?}");
    let scrape = documents("deploy/prometheus/scrape.yml").remove(0);
    let job = &scrape["scrape_configs"][0];
    assert_eq!(job["authorization"]["type"], "Bearer");
    assert!(job["authorization"]["credentials_file"].is_string());
    let relabel = serde_yaml::to_string(&job["relabel_configs"]).unwrap();
    assert!(relabel.contains("__meta_kubernetes_pod_annotation_prometheus_io_port"));
}

#[test]
fn the_systemd_unit_reloads_on_hup_and_outlasts_the_drain() {
    let unit = read("deploy/systemd/switchyard.service");
    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}="))
    };
    assert_eq!(value("Type"), "simple");
    assert_eq!(value("KillSignal"), "SIGTERM");
    assert_eq!(value("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(value("DynamicUser"), "yes");
    assert_eq!(value("StateDirectory"), "switchyard");
    assert!(unit.contains("Environment=SWITCHYARD_DATA_DIR=/var/lib/switchyard"));
    assert!(value("ExecStart").ends_with("run --config /etc/switchyard/routes.yaml"));
    let stop: u64 = value("TimeoutStopSec").parse().expect("seconds");
    // The shipped routes.yaml's drain, which the unit runs by default.
    let shipped: Value = serde_yaml::from_str(&read("routes.yaml")).unwrap();
    let drain = shipped["server"]["drain_timeout"].as_str().expect("drain");
    let drain: u64 = drain.trim_end_matches('s').parse().expect("seconds");
    assert!(
        stop > drain,
        "TimeoutStopSec={stop} <= drain_timeout {drain}s"
    );
}
