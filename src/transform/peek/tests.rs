use serde_json::Value;

use super::{event, Peek};

/// serde_json's verdict: a JSON object, and what the peek should report
/// (`Peek::default()` when serde_json validates it but cannot make a
/// `Value` of it: a number out of `f64`'s range, which the relay forwards).
fn oracle(json: &str) -> Option<Peek> {
    serde_json::from_str::<serde::de::IgnoredAny>(json).ok()?;
    if !json.trim_start().starts_with('{') {
        return None;
    }
    let Ok(v) = serde_json::from_str::<Value>(json) else {
        return Some(Peek::default());
    };
    let obj = v.as_object()?;
    let set = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
    let finished = obj
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null()))
        });
    Some(Peek {
        usage: set("usage"),
        error: set("error"),
        finished,
        escaped_keys: false,
    })
}

fn check(json: &str) {
    let got = event(json.as_bytes()).map(|p| Peek {
        escaped_keys: false,
        ..p
    });
    let want = oracle(json);
    if want == Some(Peek::default()) && serde_json::from_str::<Value>(json).is_err() {
        assert!(
            got.is_some(),
            "peek refuses {json:?}, which serde_json validates"
        );
        return;
    }
    assert_eq!(got, want, "peek and serde_json differ on {json:?}");
}

#[test]
fn an_openai_chunk_is_read_like_serde_json_reads_it() {
    for json in [
        r#"{"choices":[{"delta":{"content":"tok0 "},"finish_reason":null,"index":0,"logprobs":null}],"created":1796575985,"id":"chatcmpl-mock1","model":"gpt-4o-mini","object":"chat.completion.chunk","usage":null}"#,
        r#"{"choices":[{"delta":{},"finish_reason":"stop","index":0}],"usage":null}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#,
        r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
        r#"{"error":null,"usage":null,"choices":null}"#,
        r#"{"choices":[1,"x",null,{"finish_reason":"length"}]}"#,
        r#"{"choices":[{"delta":{"finish_reason":"not here"}}]}"#,
        r#"{"x":{"usage":1,"error":2,"choices":[{"finish_reason":"stop"}]}}"#,
        r#"  { "usage" : { } , "a" : [ ] }  "#,
        "{}",
        "{\"a\":\"\\u00e9\\n\\\"\\\\\\/\\b\\f\\r\\t\"}",
        r#"{"a":"héllo ✓ 😀"}"#,
        r#"{"n":[0,-0,1.5,-2e10,3E+2,4e-3,123456789012345678901234567890]}"#,
        r#"{"t":true,"f":false,"z":null}"#,
        r#"{"a":1,"a":2}"#,
    ] {
        check(json);
        assert!(event(json.as_bytes()).is_some(), "{json}");
    }
}

#[test]
fn what_is_not_one_json_object_is_refused() {
    for json in [
        "",
        " ",
        "[]",
        "1",
        "\"s\"",
        "null",
        "{",
        "}",
        "{}}",
        "{} {}",
        "{}x",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{,}",
        "{\"a\":1 \"b\":2}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":[1,]}",
        "{\"a\":[,1]}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":1e+}",
        "{\"a\":-}",
        "{\"a\":+1}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":True}",
        "{\"a\":NaN}",
        "{\"a\":Infinity}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u12g4\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"line\nbreak\"}",
        "{\"a\":\"open}",
        "{\"a\":1}\u{0}",
        "\u{feff}{}",
        "{\"a\":[}",
        "{\"a\":{]}",
    ] {
        assert_eq!(event(json.as_bytes()), None, "{json:?} was accepted");
        assert_eq!(oracle(json), None, "serde_json accepts {json:?}");
    }
}

/// Up to 127 levels, like serde_json's `Value` parser (its recursion limit
/// is 128); deeper is refused — serde_json's `IgnoredAny` has no limit,
/// but no client parses such an event into a value either.
#[test]
fn nesting_is_limited_like_serde_json_values() {
    for depth in [1, 2, 100, 126, 127, 128, 129, 200] {
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let arrays = format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        );
        for json in [objects, arrays] {
            if depth <= 127 {
                check(&json);
                assert!(event(json.as_bytes()).is_some(), "{depth} levels");
            } else {
                assert_eq!(event(json.as_bytes()), None, "{depth} levels");
                assert!(serde_json::from_str::<Value>(&json).is_err());
            }
        }
    }
}

#[test]
fn keys_written_with_escapes_are_flagged() {
    let p = event(br#"{"us\u0061ge":{"total_tokens":1}}"#).unwrap_or_default();
    assert!(p.escaped_keys && !p.usage);
    let p = event(br#"{"choices":[{"finish\u005freason":"stop"}]}"#).unwrap_or_default();
    assert!(p.escaped_keys && !p.finished);
    let p = event(br#"{"x":{"us\u0061ge":1}}"#).unwrap_or_default();
    assert!(!p.escaped_keys, "only the keys the peek reads matter");
}

/// Every prefix and every one-byte change of a real chunk gets the same
/// verdict as serde_json's.
#[test]
fn cuts_and_one_byte_changes_of_a_chunk_agree_with_serde_json() {
    let chunk = r#"{"choices":[{"delta":{"content":"a\"b\\c\u00e9","tool_calls":[{"index":0,"function":{"arguments":"{\"x\": [1, 2.5e-3]}"}}]},"finish_reason":null,"index":0,"logprobs":null}],"created":1796575985,"usage":{"prompt_tokens":3,"total_tokens":8},"error":null,"flag":true,"nothing":false}"#;
    for end in 0..chunk.len() {
        if chunk.is_char_boundary(end) {
            check(&chunk[..end]);
        }
    }
    let bytes = chunk.as_bytes();
    for i in 0..bytes.len() {
        for b in [
            b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', b'0', b'e', b'-', b'.', b'n',
            b'x', 0x01,
        ] {
            let mut changed = bytes.to_vec();
            changed[i] = b;
            if let Ok(s) = std::str::from_utf8(&changed) {
                check(s);
            }
        }
    }
}

/// The eight-bytes-at-a-time scan stops where a byte-at-a-time one does,
/// whatever the stopping byte, its position, and the bytes around it.
#[test]
fn plain_runs_end_at_the_first_quote_backslash_or_control_byte() {
    let naive = |b: &[u8]| {
        b.iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
            .unwrap_or(b.len())
    };
    for fill in [
        b'a',
        0x7f,
        0x80,
        0xff,
        b'!',
        b'#',
        b'[',
        b']',
        0x21,
        0x1f + 1,
    ] {
        for stop in [b'"', b'\\', 0x00, 0x01, 0x1f, b'\n'] {
            for len in 0..20 {
                for at in 0..=len {
                    let mut b = vec![fill; len];
                    if at < len {
                        b[at] = stop;
                    }
                    // a second stop later must not matter
                    b.push(stop);
                    b.extend_from_slice(&[0x00, b'"', fill]);
                    assert_eq!(super::plain_run(&b), naive(&b), "{b:?}");
                }
            }
        }
    }
}
