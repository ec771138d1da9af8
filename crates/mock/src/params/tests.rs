//! Tests of the field checks' messages.

use serde_json::{json, Map, Value};

use super::{int_range, quoted_list, Invalid, Obj};

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn lists_values_as_openai_does() {
    assert_eq!(quoted_list(&["a"]), "'a'");
    assert_eq!(quoted_list(&["a", "b"]), "'a' and 'b'");
    assert_eq!(quoted_list(&["a", "b", "c"]), "'a', 'b', and 'c'");
}

#[test]
fn names_nested_fields_by_their_path() {
    let map = object(json!({"name": 3, "kind": "x", "n": 5, "t": 2.5}));
    let obj = Obj::new(&map, "tools[0]");
    let error = obj.str("name").unwrap_err();
    assert_eq!(error.param.as_deref(), Some("tools[0].name"));
    assert_eq!(
        error.message,
        "Invalid type for 'tools[0].name': expected a string, but got an integer instead."
    );
    assert_eq!(error.code, Some("invalid_type"));
    let missing = obj.required_str("other").unwrap_err();
    assert_eq!(missing, Invalid::missing("tools[0].other"));
    let value = obj.choice("kind", &["a", "b"]).unwrap_err();
    assert_eq!(
        value.message,
        "Invalid value: 'x'. Supported values are: 'a' and 'b'."
    );
    assert_eq!(obj.int("n", 1, 10).unwrap(), Some(5));
    assert_eq!(
        obj.int("n", 6, 10).unwrap_err(),
        int_range("tools[0].n", 5, 6, 10)
    );
    assert_eq!(obj.num("t", 0.0, 3.0).unwrap(), Some(2.5));
    assert_eq!(
        obj.num("t", 0.0, 1.0).unwrap_err().code,
        Some("above_max_value")
    );
    assert_eq!(
        Obj::new(&map, "")
            .only(&["name"])
            .unwrap_err()
            .param
            .as_deref(),
        Some("kind")
    );
}

#[test]
fn range_messages_say_which_bound() {
    let low = int_range("max_output_tokens", 5, 16, 100);
    assert_eq!(
        low.message,
        "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 5 instead."
    );
    assert_eq!(low.code, Some("integer_below_min_value"));
    assert_eq!(
        int_range("n", 11, 1, 10).code,
        Some("integer_above_max_value")
    );
}
