use super::*;

fn run(stream: &mut AzureStream, data: &str) -> Result<Vec<ChunkOut>, AdapterError> {
    let mut out = Vec::new();
    stream.event("", data, &mut out).map(|()| out)
}

#[test]
fn stream_events_keep_deltas_and_drop_filter_annotations() {
    let mut s = AzureStream::default();
    let prompt_filter = r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0}]}"#;
    assert_eq!(run(&mut s, prompt_filter).unwrap(), []);
    let delta = r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"content_filter_results":{}}]}"#;
    assert_eq!(
        run(&mut s, delta).unwrap(),
        [ChunkOut::Json(serde_json::from_str(delta).unwrap())]
    );
    let async_filter =
        r#"{"choices":[{"index":0,"content_filter_offsets":{},"finish_reason":null}],"id":""}"#;
    assert_eq!(run(&mut s, async_filter).unwrap(), []);
    // Two choices, one without a delta: only that one goes.
    let mixed = r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"content_filter_results":{}}]}"#;
    let out = run(&mut s, mixed).unwrap();
    let ChunkOut::Json(v) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(v["choices"].as_array().unwrap().len(), 1);
    let usage = r#"{"id":"c1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
    assert_eq!(
        run(&mut s, usage).unwrap().len(),
        1,
        "the usage chunk is kept"
    );
    let error = r#"{"error":{"message":"filtered","code":"content_filter"}}"#;
    assert_eq!(
        run(&mut s, error).unwrap().len(),
        1,
        "in-band errors are kept"
    );
    assert_eq!(
        run(&mut s, "[DONE]").unwrap(),
        [ChunkOut::Raw("[DONE]".into())]
    );
    let err = run(&mut s, "<html>busy</html>").unwrap_err();
    assert!(err.to_string().contains("not JSON"), "{err}");
    let err = run(&mut s, r#"{"choices":{"a":1}}"#).unwrap_err();
    assert!(err.to_string().contains("unexpected shape"), "{err}");
}

#[test]
fn a_stream_cut_after_its_finish_reason_is_completed() {
    let mut finished = AzureStream::default();
    let last = r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
    run(&mut finished, last).unwrap();
    let mut end = Vec::new();
    finished.finish(&mut end).unwrap();
    assert_eq!(end, [ChunkOut::Raw("[DONE]".into())]);
    let mut cut = AzureStream::default();
    run(
        &mut cut,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"a"}}]}"#,
    )
    .unwrap();
    let mut end = Vec::new();
    cut.finish(&mut end).unwrap();
    assert!(end.is_empty());
}

#[test]
fn deployments_and_api_version_shape_the_path() {
    let options = serde_json::json!({"api_version": "2025-01-01-preview", "deployments": {"gpt-4o": "prod-4o", "o3": "team a/o3"}});
    let mut ctx = Ctx {
        endpoint: "chat",
        model: "gpt-4o".into(),
        api_key: Some("k".into()),
        options: Arc::new(options.as_object().cloned().unwrap()),
        ..Ctx::default()
    };
    let plan = AZURE.plan(&ctx).unwrap();
    assert_eq!(
        plan.path,
        "/deployments/prod-4o/chat/completions?api-version=2025-01-01-preview"
    );
    assert_eq!(plan.headers, [("api-key".into(), "k".into())]);
    ctx.model = "o3".into();
    ctx.endpoint = "embeddings";
    let plan = AZURE.plan(&ctx).unwrap();
    assert_eq!(
        plan.path,
        "/deployments/team%20a%2Fo3/embeddings?api-version=2025-01-01-preview"
    );
    ctx.model = "unmapped".into();
    ctx.options = Arc::default();
    assert_eq!(
        AZURE.plan(&ctx).unwrap().path,
        "/deployments/unmapped/embeddings?api-version=2024-10-21"
    );
}

#[test]
fn the_golden_stream_keeps_every_delta() {
    let sse = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/azure/chat_stream.sse"
    ))
    .unwrap();
    let mut parser = crate::transform::sse::SseParser::new(1 << 20);
    let mut events = Vec::new();
    parser.feed(sse.as_bytes(), &mut events).unwrap();
    parser.finish(&mut events);
    let mut s = AzureStream::default();
    let mut out = Vec::new();
    for ev in &events {
        s.event(&ev.event, &ev.data, &mut out).unwrap();
    }
    s.finish(&mut out).unwrap();
    assert_eq!(out.last(), Some(&ChunkOut::Raw("[DONE]".into())));
    for c in &out {
        if let ChunkOut::Json(v) = c {
            let choices = v["choices"].as_array().unwrap();
            assert!(
                choices.iter().all(|c| c.get("delta").is_some()) || v["usage"].is_object(),
                "{v}"
            );
        }
    }
}
