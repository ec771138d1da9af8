use super::*;

fn items(n: usize) -> Vec<Value> {
    (0..n).map(|i| json!({"id": format!("msg_{i}")})).collect()
}

#[test]
fn input_items_page_like_openai() {
    let page = input_items(items(5), "").unwrap();
    assert_eq!(page["first_id"], "msg_4");
    assert_eq!(page["has_more"], false);
    let page = input_items(items(5), "order=asc&limit=2&after=msg_1").unwrap();
    assert_eq!(page["data"], json!([{"id": "msg_2"}, {"id": "msg_3"}]));
    assert_eq!(page["has_more"], true);
    assert_eq!(input_items(items(1), "limit=0").unwrap_err().status(), 400);
    assert_eq!(input_items(items(1), "order=up").unwrap_err().status(), 400);
}
