use super::*;

fn concat(pieces: &[Bytes]) -> Vec<u8> {
    pieces.iter().flat_map(|p| p.iter().copied()).collect()
}

#[test]
fn huge_event_is_one_event_of_the_asked_size() {
    let pieces = huge_event(Dialect::OpenAi, 300_000);
    let all = concat(&pieces);
    assert_eq!(all.len(), 300_000);
    assert!(pieces.iter().all(|p| p.len() <= PIECE));
    let text = String::from_utf8(all).unwrap();
    assert_eq!(text.matches("\n\n").count(), 1, "one event");
    let data = text.strip_prefix("data: ").unwrap().trim_end();
    let v: serde_json::Value = serde_json::from_str(data).unwrap();
    assert!(v["choices"][0]["delta"]["content"].as_str().unwrap().len() > 299_000);
}

#[test]
fn huge_json_stays_valid_json() {
    let json = Bytes::from_static(b"{\"id\":\"x\",\"choices\":[]}");
    let all = concat(&huge_json(&json, 200_000));
    assert_eq!(all.len(), 200_000);
    let v: serde_json::Value = serde_json::from_slice(&all).unwrap();
    assert_eq!(v["id"], "x");
}

#[test]
fn noise_has_no_line_ends_or_fields() {
    let n = noise();
    assert_eq!(n.len(), NOISE_LEN);
    assert!(!n.iter().any(|b| matches!(b, b'\n' | b'\r' | b':')));
    assert!(std::str::from_utf8(&n).is_err(), "binary, not text");
}
