use super::*;

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/providers");
const PROVIDERS_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/providers.md");

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn documented_table_is_the_generated_matrix() {
    let doc = std::fs::read_to_string(PROVIDERS_DOC).unwrap();
    let start = "<!-- matrix:start -->";
    let end = "<!-- matrix:end -->";
    let from = doc
        .find(start)
        .expect("docs/providers.md has <!-- matrix:start -->")
        + start.len();
    let to = doc
        .find(end)
        .expect("docs/providers.md has <!-- matrix:end -->");
    let embedded = doc[from..to].trim();
    let generated = support_matrix(Path::new(SCRIPTS)).unwrap();
    assert_eq!(
        embedded,
        generated.trim(),
        "docs/providers.md's provider table is stale: replace it with `cargo run -- providers`"
    );
}

#[test]
fn overrides_narrow_the_adapters_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.rhai",
        r#"fn request(ctx) { #{ path: "/x" } }
           fn capabilities() { #{ chat: true, stream: true, tools: true, vision: true, json: true, embeddings: true, reasoning: false } }"#,
    );
    write(
        dir.path(),
        "catalog.yaml",
        "p1: { name: First, adapter: a, base_url: http://x, category: local }\n\
         p2: { name: Second, adapter: a, base_url: http://x, category: china, capabilities: { vision: false, reasoning: true } }\n",
    );
    let table = support_matrix(dir.path()).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "| provider | preset | category | adapter | chat | stream | tools | vision | JSON mode | embeddings | reasoning | responses | images | audio | speech | moderations | rerank | files | batches |"
    );
    assert_eq!(
        lines[1],
        "|---|---|---|---|:-:|:-:|:-:|:-:|:-:|:-:|:-:|:-:|:-:|:-:|:-:|:-:|:-:|:-:|:-:|"
    );
    // The folder's presets come after the built-in catalog's.
    let row = |preset: &str| *lines.iter().find(|l| l.contains(preset)).unwrap();
    assert_eq!(
        row("`p1`"),
        "| First | `p1` | local | a | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | – | via chat | – | – | – | – | – | – | – |"
    );
    assert_eq!(
        row("`p2`"),
        "| Second | `p2` | china | a | ✓ | ✓ | ✓ | – | ✓ | ✓ | ✓ | via chat | – | – | – | – | – | – | – |"
    );
    assert!(
        row("`anthropic`").contains("| anthropic |"),
        "built-in presets too"
    );
}

#[test]
fn what_an_adapter_does_not_declare_is_assumed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.rhai",
        r#"fn request(ctx) { #{ path: "/x" } }"#,
    );
    write(
        dir.path(),
        "catalog.yaml",
        "p: { name: P, adapter: a, base_url: http://x, category: local, capabilities: { tools: false } }\n",
    );
    let table = support_matrix(dir.path()).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l == "| P | `p` | local | a | ✓ | ✓ | – | ✓ | ✓ | ✓ | ✓ | via chat | – | – | – | – | – | – | – |"),
        "{table}"
    );
}

#[test]
fn a_missing_or_broken_adapter_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.rhai", "fn request(ctx) { #{ path: ");
    write(
        dir.path(),
        "catalog.yaml",
        "p1: { name: P1, adapter: ghost, base_url: http://x }\n\
         p2: { name: P2, adapter: bad, base_url: http://x }\n",
    );
    let err = support_matrix(dir.path()).unwrap_err();
    assert!(
        err.contains("preset `p1`: adapter `ghost`: cannot read"),
        "{err}"
    );
    assert!(err.contains("preset `p2`: adapter `bad`"), "{err}");
}

#[test]
fn an_unknown_capability_override_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.rhai",
        r#"fn request(ctx) { #{ path: "/x" } }"#,
    );
    write(
        dir.path(),
        "catalog.yaml",
        "p: { name: P, adapter: a, base_url: http://x, capabilities: { visoin: false } }\n",
    );
    let err = support_matrix(dir.path()).unwrap_err();
    assert!(err.contains("unknown capability `visoin`"), "{err}");
}

#[test]
fn an_empty_folder_gives_the_built_in_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let table = support_matrix(dir.path()).unwrap();
    assert_eq!(table, support_matrix(Path::new(SCRIPTS)).unwrap());
}
