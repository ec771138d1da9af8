use super::*;
use serde_json::json;

#[test]
fn json_round_trips_through_rhai_values() {
    let v = json!({"a": [1, 2.5, "x", null, true], "b": {"c": -7}, "big": 18446744073709551615u64});
    let back = from_dynamic(&to_dynamic(v.clone())).unwrap();
    assert_eq!(back["a"], v["a"]);
    assert_eq!(back["b"], v["b"]);
    // Past i64, numbers are floats (as in any JavaScript client).
    assert_eq!(back["big"].as_f64(), Some(18446744073709551615.0));
    assert_eq!(from_dynamic(&to_dynamic_ref(&v)).unwrap()["b"], v["b"]);
}

#[test]
fn what_json_cannot_hold_is_an_error() {
    assert!(from_dynamic(&Dynamic::from_float(f64::NAN)).is_err());
    assert!(from_dynamic(&Dynamic::from(std::time::Instant::now())).is_err());
}
