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

#[test]
fn an_answer_without_output_is_priced_by_its_input_alone() {
    use crate::provider::Usage;
    let embedding = ModelInfo {
        input_per_mtok: Some(0.02),
        ..ModelInfo::default()
    };
    let input_only = Usage {
        prompt: 1_000_000,
        completion: 0,
        cached: 0,
    };
    assert_eq!(input_only.cost(&embedding), Some(0.02));
    let with_output = Usage {
        completion: 10,
        ..input_only
    };
    assert_eq!(
        with_output.cost(&embedding),
        None,
        "output at an unknown price"
    );
    assert_eq!(with_output.cost(&priced(1.0, 2.0)), Some(1.0 + 20.0 / 1e6));
}
