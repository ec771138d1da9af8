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
