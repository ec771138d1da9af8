//! Tests of the Bedrock mock: SigV4 against AWS's test suite, the 403s of
//! signed requests over HTTP, Converse replies, validation and the event
//! stream.

mod auth;
mod converse;
mod stream;
mod vectors;

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{json, Value};

use super::amz_date::format_amz_date;
use super::sigv4;
use super::AwsAuth;
use crate::reply::unix_now;
use crate::state::RecordedRequest;
use crate::tests::util::client;
use crate::MockServer;

const MODEL: &str = "anthropic.claude-3-5-sonnet-20241022-v2%3A0";

/// The mock's credentials in these tests.
fn creds() -> AwsAuth {
    AwsAuth::new("AKIDMOCK", "mock/secret+key", "us-east-1")
}

/// A Converse body with one user message.
fn converse_body() -> Value {
    json!({
        "messages": [{"role": "user", "content": [{"text": "Hello there, mock!"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 64, "temperature": 0.5},
    })
}

/// A request to send: the mock's path and headers, signed or not.
struct Outgoing {
    req: RecordedRequest,
}

impl Outgoing {
    fn new(mock: &MockServer, path: &str, body: &Value) -> Self {
        let req = RecordedRequest {
            method: "POST".into(),
            path: path.into(),
            query: None,
            headers: vec![
                ("host".into(), mock.addr().to_string()),
                ("content-type".into(), "application/json".into()),
            ],
            body: Bytes::from(body.to_string()),
            form: None,
        };
        Self { req }
    }

    fn converse(mock: &MockServer, body: &Value) -> Self {
        Self::new(mock, &format!("/model/{MODEL}/converse"), body)
    }

    /// Signs with `auth` at `skew_secs` from now.
    fn signed_at(mut self, auth: &AwsAuth, skew_secs: i64) -> Self {
        let now = unix_now().saturating_add_signed(skew_secs);
        sigv4::sign(&mut self.req, auth, &format_amz_date(now));
        self
    }

    fn signed(self, auth: &AwsAuth) -> Self {
        self.signed_at(auth, 0)
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.req.headers.push((name.into(), value.into()));
        self
    }

    async fn send(self, mock: &MockServer) -> reqwest::Response {
        let mut builder = client().post(format!("{}{}", mock.url(), self.req.path));
        for (name, value) in &self.req.headers {
            if name != "host" {
                builder = builder.header(name, value);
            }
        }
        builder.body(self.req.body).send().await.unwrap()
    }
}

/// The error type and message of a Bedrock error response.
async fn error_of(res: reqwest::Response) -> (u16, String, String) {
    let status = res.status().as_u16();
    let kind = res.headers()["x-amzn-errortype"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = res.json().await.unwrap();
    (status, kind, body["message"].as_str().unwrap().to_owned())
}

/// One decoded event-stream message.
#[derive(Debug)]
struct Message {
    headers: HashMap<String, String>,
    payload: Value,
}

impl Message {
    fn header(&self, name: &str) -> &str {
        &self.headers[name]
    }
}

/// Decodes a whole event stream, checking both CRCs of every message.
fn decode(mut bytes: &[u8]) -> Vec<Message> {
    let be32 = |b: &[u8]| u32::from_be_bytes(b[..4].try_into().unwrap());
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let total = be32(bytes) as usize;
        let headers_len = be32(&bytes[4..]) as usize;
        assert_eq!(
            be32(&bytes[8..]),
            crc32fast::hash(&bytes[..8]),
            "prelude crc"
        );
        let message = &bytes[..total];
        assert_eq!(
            be32(&message[total - 4..]),
            crc32fast::hash(&message[..total - 4]),
            "message crc"
        );
        let mut headers = HashMap::new();
        let mut h = &message[12..12 + headers_len];
        while !h.is_empty() {
            let name_len = h[0] as usize;
            let name = String::from_utf8(h[1..1 + name_len].to_vec()).unwrap();
            assert_eq!(h[1 + name_len], 7, "string header");
            let at = 2 + name_len;
            let value_len = u16::from_be_bytes([h[at], h[at + 1]]) as usize;
            let value = String::from_utf8(h[at + 2..at + 2 + value_len].to_vec()).unwrap();
            headers.insert(name, value);
            h = &h[at + 2 + value_len..];
        }
        let payload = serde_json::from_slice(&message[12 + headers_len..total - 4]).unwrap();
        out.push(Message { headers, payload });
        bytes = &bytes[total..];
    }
    out
}
