use super::*;

fn priced(input: f64, output: f64) -> ModelInfo {
    ModelInfo {
        input_per_mtok: Some(input),
        output_per_mtok: Some(output),
        ..ModelInfo::default()
    }
}

fn catalog() -> Arc<PriceList> {
    let mut m = IndexMap::new();
    m.insert(
        "gpt-4o".to_string(),
        ModelInfo {
            context_window: Some(128_000),
            ..priced(2.5, 10.0)
        },
    );
    m.insert("claude-sonnet-4".to_string(), priced(3.0, 15.0));
    Arc::new(PriceList::new(m))
}

#[test]
fn dated_names_fall_back_to_the_undated_entry() {
    let c = catalog();
    assert_eq!(
        c.get("gpt-4o-2024-08-06").unwrap().input_per_mtok,
        Some(2.5)
    );
    assert_eq!(
        c.get("claude-sonnet-4-20250514").unwrap().output_per_mtok,
        Some(15.0)
    );
    assert!(c.get("gpt-4o-mini").is_none(), "only dates are stripped");
    assert!(c.get("gpt-4o-1234").is_none());
    assert!(c.get("-2024-08-06").is_none());
    assert_eq!(undated("x-2024-8-06"), None);
}

#[test]
fn listed_values_win_field_by_field_and_unlisted_models_use_the_catalog() {
    let mut listed = IndexMap::new();
    listed.insert(
        "gpt-4o".to_string(),
        ModelInfo {
            input_per_mtok: Some(1.0),
            quality: Some(0.5),
            ..ModelInfo::default()
        },
    );
    let models = Models::new(listed, catalog());
    let m = models.get("gpt-4o").unwrap();
    assert_eq!(m.input_per_mtok, Some(1.0), "routes.yaml wins");
    assert_eq!(m.output_per_mtok, Some(10.0), "gaps from the catalog");
    assert_eq!(m.context_window, Some(128_000));
    assert_eq!(m.quality, Some(0.5));
    assert_eq!(
        models.get("claude-sonnet-4").unwrap().input_per_mtok,
        Some(3.0)
    );
    assert!(!models.contains_key("claude-sonnet-4"), "not listed");
    assert_eq!(models.keys().collect::<Vec<_>>(), ["gpt-4o"]);
    assert!(models.get("unknown").is_none());
}
