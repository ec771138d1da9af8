use super::*;

fn issues(yaml: &str) -> Vec<String> {
    let source = match Source::new(Path::new("routes.yaml"), yaml.to_string()) {
        Ok(s) => s,
        Err(e) => return vec![e.to_string()],
    };
    match parse(&source) {
        Ok((_, v)) | Err(v) => v.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn misspelled_key_is_reported_with_its_line() {
    let yaml = "listen: 127.0.0.1:1\nproviders:\n  a:\n    adapter: openai\n    base_url: http://x\n    api_kye: k\n";
    let got = issues(yaml);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("routes.yaml:6:5: providers.a.api_kye: unknown field `api_kye`"),
        "{}",
        got[0]
    );
}

#[test]
fn every_broken_section_is_reported() {
    let yaml = "listen: 1\nbogus: 2\nroutes:\n  - match: { model: a }\n    targets: []\n  - match: { modle: b }\n    targets: []\n";
    let got = issues(yaml);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[0].contains(":1:9: listen: invalid type: integer"),
        "{}",
        got[0]
    );
    assert!(got[1].contains(":2:1: bogus: unknown key"), "{}", got[1]);
    assert!(
        got[2].contains(":6:14: routes[1].match.modle: unknown field"),
        "{}",
        got[2]
    );
}

#[test]
fn syntax_error_has_a_line() {
    let got = issues("listen: a\nroutes: [\n");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("routes.yaml:3:"), "{}", got[0]);
}

#[test]
fn wrong_type_points_at_the_field() {
    let yaml = "server:\n  threads: many\n";
    let got = issues(yaml);
    assert!(
        got[0].starts_with("routes.yaml:2:12: server.threads: invalid type"),
        "{got:?}"
    );
}

/// README's small routes.yaml (the first ```yaml block under its
/// "## A small routes.yaml" heading) loads as it is, from a folder of its
/// own, whether or not the provider keys are set, and has the providers and
/// the failover routes the README describes.
#[test]
fn the_readme_routes_example_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .find("\n## A small routes.yaml\n")
        .expect("README has a `## A small routes.yaml` section");
    let rest = &readme[section..];
    let next_heading = rest[1..].find("\n## ").map_or(rest.len(), |i| i + 1);
    let fence = "```yaml\n";
    let start = rest[..next_heading]
        .find(fence)
        .expect("a ```yaml block in that section")
        + fence.len();
    let end = start + rest[start..].find("```").expect("the block's end");
    let yaml = &rest[start..end];

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, yaml).unwrap();
    let config = crate::config::Config::load(&path).unwrap_or_else(|issues| {
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        panic!(
            "README's routes.yaml does not load:\n{}\n---\n{yaml}",
            text.join("\n")
        )
    });
    // Unset keys disable providers with a warning; nothing else is reported.
    for warning in &config.warnings {
        assert!(
            warning.contains("is disabled"),
            "unexpected warning: {warning}"
        );
    }
    let names: Vec<&str> = config.providers.keys().map(String::as_str).collect();
    assert_eq!(names, ["openai", "anthropic"]);
    let targets = |model: &str| -> Vec<(String, Option<String>)> {
        let route = config
            .routes
            .resolve(model)
            .unwrap_or_else(|| panic!("no route for `{model}`"));
        route
            .targets
            .iter()
            .map(|t| (t.provider.name.clone(), t.model.clone()))
            .collect()
    };
    let t = |p: &str, m: &str| (p.to_string(), Some(m.to_string()));
    assert_eq!(
        targets("smart"),
        [t("anthropic", "claude-sonnet-4"), t("openai", "gpt-4o")],
        "smart: anthropic, then openai"
    );
    assert_eq!(
        targets("mini-anything"),
        [
            t("openai", "gpt-4o-mini"),
            t("anthropic", "claude-haiku-4-5")
        ],
        "fast (a glob): openai, then anthropic"
    );
    assert_eq!(config.routes.resolve("fast").unwrap().name, "fast");
}
