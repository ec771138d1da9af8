use super::*;

#[test]
fn text_and_tool_call_deltas_add_up() {
    let mut c = Collector::default();
    for chunk in [
        json!({"id":"c1","created":5,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}),
        json!({"id":"c1","choices":[{"index":0,"delta":{"content":"lo"}}]}),
        json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"get","arguments":"{\"a\":"}}]}}]}),
        json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":"tool_calls"}]}),
        json!({"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}),
    ] {
        c.feed(&chunk);
    }
    let v = c.finish();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["id"], "c1");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_1");
    assert_eq!(call["function"]["arguments"], "{\"a\":1}");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["usage"]["total_tokens"], 5);
}
