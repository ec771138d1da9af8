//! Tests of the files and batches endpoints: the life of a file, and a
//! batch that only accepts a file of its own server.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::tests::util::*;
use crate::{MockConfig, MockServer};

fn jsonl(lines: &[Value]) -> Vec<u8> {
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    format!("{}\n", text.join("\n")).into_bytes()
}

fn chat_line(id: &str) -> Value {
    json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "gpt-batch", "messages": [{"role": "user", "content": "hi"}]}})
}

async fn upload(mock: &MockServer, bytes: Vec<u8>, purpose: &str) -> Value {
    let form = Form::new()
        .text("purpose", purpose.to_owned())
        .part("file", Part::bytes(bytes).file_name("input.jsonl"));
    let res = post_form(mock, "/v1/files", form).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn get(mock: &MockServer, path: &str) -> (u16, Value) {
    status_json(client().get(format!("{}{path}", mock.url()))).await
}

async fn create_batch(mock: &MockServer, file_id: &Value) -> (u16, Value) {
    let body = json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions",
        "completion_window": "24h", "metadata": {"job": "nightly"}});
    let url = format!("{}/v1/batches", mock.url());
    status_json(client().post(url).json(&body)).await
}

#[tokio::test]
async fn a_file_can_be_uploaded_listed_read_and_deleted() {
    let mock = start(MockConfig::default()).await;
    let bytes = jsonl(&[chat_line("a"), chat_line("b")]);
    let file = upload(&mock, bytes.clone(), "batch").await;
    assert_eq!(file["id"], "file-mock1");
    assert_eq!(file["object"], "file");
    assert_eq!(file["bytes"], bytes.len());
    assert_eq!(file["filename"], "input.jsonl");
    assert_eq!(file["purpose"], "batch");
    assert_eq!(file["status"], "processed");
    assert!(file["created_at"].as_u64().unwrap() > 1_600_000_000);
    let form = mock.last_request().unwrap().form.unwrap();
    assert_eq!(form.get("file").unwrap().len(), bytes.len());

    upload(&mock, b"other".to_vec(), "user_data").await;
    let (_, list) = get(&mock, "/v1/files").await;
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["file-mock2", "file-mock1"]);
    assert_eq!(list["first_id"], "file-mock2");
    assert_eq!(list["has_more"], false);
    let (_, batch_files) = get(&mock, "/files?purpose=batch").await;
    assert_eq!(batch_files["data"].as_array().unwrap().len(), 1);

    let (status, got) = get(&mock, "/v1/files/file-mock1").await;
    assert_eq!((status, &got), (200, &file));
    let content = client()
        .get(format!("{}/v1/files/file-mock1/content", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        content.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(content.bytes().await.unwrap().to_vec(), bytes);

    let url = format!("{}/v1/files/file-mock1", mock.url());
    let (status, deleted) = status_json(client().delete(&url)).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": "file-mock1", "object": "file", "deleted": true})
    );
    let (status, gone) = get(&mock, "/v1/files/file-mock1").await;
    assert_eq!(status, 404);
    assert_eq!(gone["error"]["message"], "No such File object: file-mock1");
    assert_eq!(status_json(client().delete(&url)).await.0, 404);
}

#[tokio::test]
async fn uploads_need_a_file_and_a_known_purpose() {
    let mock = start(MockConfig::default()).await;
    let cases = [
        (Form::new().text("purpose", "batch"), "file"),
        (Form::new().part("file", file_part("a.jsonl", 3)), "purpose"),
        (
            Form::new()
                .text("purpose", "training")
                .part("file", file_part("a.jsonl", 3)),
            "purpose",
        ),
    ];
    for (form, param) in cases {
        let res = post_form(&mock, "/v1/files", form).await;
        let (status, body) = (res.status().as_u16(), res.json().await.unwrap());
        assert_invalid(status, &body, param);
    }
}

#[tokio::test]
async fn a_batch_takes_a_file_of_its_own_server_only() {
    let here = start(MockConfig::default()).await;
    let elsewhere = start(MockConfig::default()).await;
    let file = upload(&here, jsonl(&[chat_line("a"), chat_line("b")]), "batch").await;
    let (status, batch) = create_batch(&here, &file["id"]).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["id"], "batch_mock2");
    assert_eq!(batch["object"], "batch");
    assert_eq!(batch["status"], "validating");
    assert_eq!(batch["input_file_id"], "file-mock1");
    assert_eq!(batch["endpoint"], "/v1/chat/completions");
    assert_eq!(batch["completion_window"], "24h");
    assert_eq!(batch["model"], "gpt-batch");
    assert_eq!(batch["metadata"], json!({"job": "nightly"}));
    assert_eq!(
        batch["request_counts"],
        json!({"total": 2, "completed": 0, "failed": 0})
    );
    let created = batch["created_at"].as_u64().unwrap();
    assert_eq!(batch["expires_at"], created + 24 * 3600);

    let (status, error) = create_batch(&elsewhere, &file["id"]).await;
    assert_invalid(status, &error, "input_file_id");
    assert_eq!(error["error"]["message"], "No such File object: file-mock1");

    let other = upload(&here, b"{}".to_vec(), "user_data").await;
    let (status, error) = create_batch(&here, &other["id"]).await;
    assert_invalid(status, &error, "input_file_id");

    let (status, got) = get(&here, "/v1/batches/batch_mock2").await;
    assert_eq!((status, &got), (200, &batch));
    let (_, list) = get(&here, "/batches").await;
    assert_eq!(list["data"][0]["id"], "batch_mock2");
    assert_eq!(get(&here, "/v1/batches/batch_nope").await.0, 404);
}

#[tokio::test]
async fn a_bad_line_fails_the_batch() {
    let mock = start(MockConfig::default()).await;
    let mut wrong_url = chat_line("b");
    wrong_url["url"] = json!("/v1/embeddings");
    let bytes = jsonl(&[chat_line("a"), wrong_url]);
    let file = upload(&mock, bytes, "batch").await;
    let (status, batch) = create_batch(&mock, &file["id"]).await;
    assert_eq!(status, 200);
    assert_eq!(batch["status"], "failed");
    assert!(batch["failed_at"].is_u64());
    let error = &batch["errors"]["data"][0];
    assert_eq!(error["line"], 2);
    assert_eq!(
        error["message"],
        "The URL provided for this request does not match the batch endpoint."
    );
    let url = format!(
        "{}/v1/batches/{}/cancel",
        mock.url(),
        batch["id"].as_str().unwrap()
    );
    assert_eq!(status_json(client().post(url)).await.0, 400);
}

#[tokio::test]
async fn cancelling_answers_cancelling_and_leaves_the_batch_cancelled() {
    let mock = start(MockConfig::default()).await;
    let file = upload(&mock, jsonl(&[chat_line("a")]), "batch").await;
    let (_, batch) = create_batch(&mock, &file["id"]).await;
    let url = format!("{}/v1/batches/batch_mock2/cancel", mock.url());
    let (status, cancelling) = status_json(client().post(&url)).await;
    assert_eq!(status, 200, "{cancelling}");
    assert_eq!(cancelling["status"], "cancelling");
    assert!(cancelling["cancelling_at"].is_u64());
    assert_eq!(cancelling["id"], batch["id"]);
    let (_, after) = get(&mock, "/v1/batches/batch_mock2").await;
    assert_eq!(after["status"], "cancelled");
    assert!(after["cancelled_at"].is_u64());
    let (status, again) = status_json(client().post(&url)).await;
    assert_eq!((status, &again["status"]), (200, &json!("cancelled")));
    let missing = format!("{}/v1/batches/batch_x/cancel", mock.url());
    assert_eq!(status_json(client().post(missing)).await.0, 404);
}
