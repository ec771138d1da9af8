use super::*;

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/providers");

#[test]
fn shipped_catalog_loads_and_its_values_are_plausible() {
    let p = Pricing::load(Path::new(SCRIPTS)).unwrap();
    let mut priced = 0;
    for (name, m) in p.list.iter() {
        if let (Some(i), Some(o)) = (m.input_per_mtok, m.output_per_mtok) {
            priced += 1;
            assert!(o >= i && o <= 200.0, "{name}: output {o}, input {i}");
        }
        if let Some(c) = m.cached_input_per_mtok {
            assert!(c < m.input_per_mtok.unwrap(), "{name}: cached {c}");
        }
        assert!(m.input_per_mtok.is_some(), "{name}: no input price");
        if let Some(w) = m.context_window {
            assert!((4096..=10_000_000).contains(&w), "{name}: window {w}");
        }
    }
    assert!(priced >= 30, "only {priced} priced models");
    for must in [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-5",
        "o3",
        "o4-mini",
        "claude-sonnet-4-5",
        "claude-3-5-haiku",
        "gemini-2.5-pro",
        "gemini-2.5-flash-lite",
        "deepseek-chat",
        "mistral-small-latest",
    ] {
        assert!(p.list.get(must).is_some(), "{must} missing");
    }
    assert!(!p.text.is_empty());
}

#[test]
fn bad_entries_are_reported_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(PRICING_FILE),
        "ok: { input_per_mtok: 1 }\nneg: { input_per_mtok: -1 }\ntypo: { inptu_per_mtok: 1 }\n",
    )
    .unwrap();
    let issues: Vec<String> = Pricing::load(dir.path())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0].contains("pricing.yaml:3:9: typo.inptu_per_mtok: unknown field"),
        "{issues:?}"
    );
    std::fs::write(
        dir.path().join(PRICING_FILE),
        "neg: { input_per_mtok: -1 }\n",
    )
    .unwrap();
    let issues = Pricing::load(dir.path()).unwrap_err();
    assert!(
        issues[0].to_string().contains("pricing.yaml:1:"),
        "{issues:?}"
    );
}
