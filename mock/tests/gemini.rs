//! End-to-end tests of the Gemini mode (`…/models/{model}:generateContent` and
//! `:streamGenerateContent`, with and without `?alt=sse`) against a `spawn`ed
//! server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;

use common::{send, Resp};
use serde_json::{json, Value};

const BODY: &str = r#"{"contents":[{"role":"user","parts":[{"text":"Say hi"}]}]}"#;
const GENERATE: &str = "/v1beta/models/gemini-2.0-flash:generateContent";
const STREAM: &str = "/v1beta/models/gemini-2.0-flash:streamGenerateContent";
const STREAM_SSE: &str = "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse";

fn post(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> Resp {
    let mut headers = vec![
        ("x-goog-api-key", "test-key"),
        ("content-type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    send(addr, "POST", path, &headers, BODY)
}

/// The chunk objects of an SSE answer, checking each HTTP chunk is exactly
/// one `data: …\r\n\r\n` event.
fn sse_chunks(r: &Resp) -> Vec<Value> {
    r.chunk_texts()
        .iter()
        .map(|text| {
            let data = text
                .strip_prefix("data: ")
                .and_then(|t| t.strip_suffix("\r\n\r\n"))
                .unwrap_or_else(|| panic!("chunk is not one SSE event: {text:?}"));
            assert!(!data.contains(['\r', '\n']), "{text:?}");
            serde_json::from_str(data).unwrap()
        })
        .collect()
}

fn text_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .map(|c| {
            c["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect()
}

#[test]
fn generate_content_shape_and_documented_usage() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = post(addr, GENERATE, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    let cand = &v["candidates"][0];
    assert_eq!(
        cand["content"],
        json!({"parts": [{"text": "Mock reply to: Say hi"}], "role": "model"})
    );
    assert_eq!(cand["finishReason"], "STOP");
    assert_eq!(cand["index"], 0);
    assert_eq!(v["modelVersion"], "gemini-2.0-flash");
    assert!(v["responseId"].as_str().unwrap().starts_with("mock"));
    // "Say hi": 2 words + 7; reply: 5 words + 1; no thoughts or cache by default.
    assert_eq!(
        v["usageMetadata"],
        json!({"promptTokenCount": 9, "candidatesTokenCount": 6, "totalTokenCount": 15})
    );
    // Vertex AI path shape, system instruction counted as a message.
    let path = "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent";
    let body = r#"{"systemInstruction":{"parts":[{"text":"Be terse."}]},"contents":[{"parts":[{"text":"Say hi"}]}]}"#;
    let v = send(addr, "POST", path, &[], body).json();
    assert_eq!(v["modelVersion"], "gemini-2.5-pro");
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 9 + 9);
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "Mock reply to: Say hi"
    );
}

#[test]
fn sse_stream_matches_the_json_answer() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let plain = post(addr, GENERATE, &[]).json();
    let r = post(addr, STREAM_SSE, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.chunked && r.complete);
    let chunks = sse_chunks(&r);
    assert_eq!(chunks.len(), 5, "one chunk per word");
    assert_eq!(
        text_of(&chunks),
        plain["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
    );
    let (last, early) = chunks.split_last().unwrap();
    for c in early {
        assert!(c["candidates"][0].get("finishReason").is_none());
        assert_eq!(
            c["usageMetadata"],
            json!({"promptTokenCount": 9, "totalTokenCount": 9})
        );
        assert_eq!(c["responseId"], plain["responseId"]);
    }
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"], plain["usageMetadata"]);
}

#[test]
fn json_array_stream_is_sent_element_by_element() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let sse = sse_chunks(&post(addr, STREAM_SSE, &[]));
    let r = post(addr, STREAM, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.chunked && r.complete);
    let pieces = r.chunk_texts();
    assert_eq!(pieces.len(), 5 + 1);
    assert!(pieces[0].starts_with("[{"), "{:?}", pieces[0]);
    for p in &pieces[1..5] {
        assert!(p.starts_with("\n,\r\n{"), "{p:?}");
    }
    assert_eq!(pieces[5], "]");
    let array: Vec<Value> = serde_json::from_slice(&r.body()).unwrap();
    assert_eq!(array, sse, "the same chunks either way");
}

#[test]
fn usage_overrides() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let exact = [("x-mock-usage", "100,30,40,12")];
    let u = &post(addr, GENERATE, &exact).json()["usageMetadata"];
    assert_eq!(
        *u,
        json!({"promptTokenCount": 100, "cachedContentTokenCount": 40,
               "candidatesTokenCount": 18, "thoughtsTokenCount": 12, "totalTokenCount": 130})
    );
    let chunks = sse_chunks(&post(addr, STREAM_SSE, &exact));
    assert_eq!(chunks.last().unwrap()["usageMetadata"], *u);
    assert_eq!(
        chunks[0]["usageMetadata"],
        json!({"promptTokenCount": 100, "cachedContentTokenCount": 40,
               "thoughtsTokenCount": 12, "totalTokenCount": 112})
    );

    let omit = [("x-mock-usage", "omit")];
    assert!(post(addr, GENERATE, &omit)
        .json()
        .get("usageMetadata")
        .is_none());
    let chunks = sse_chunks(&post(addr, STREAM_SSE, &omit));
    assert!(chunks.iter().all(|c| c.get("usageMetadata").is_none()));

    let raw = r#"{"promptTokenCount":-1,"candidatesTokenCount":"x"}"#;
    let r = post(addr, GENERATE, &[("x-mock-usage-raw", raw)]);
    assert!(r.text().ends_with(&format!("\"usageMetadata\":{raw}}}")));
    let chunks = sse_chunks(&post(addr, STREAM_SSE, &[("x-mock-usage-raw", raw)]));
    assert!(chunks
        .iter()
        .all(|c| c["usageMetadata"]["promptTokenCount"] == -1));

    // Reasoning is part of the completion count: more is a 400 naming the header.
    let r = post(addr, GENERATE, &[("x-mock-usage", "10,2,0,3")]);
    assert_eq!(r.status, 400);
    let e = &r.json()["error"];
    assert_eq!(e["status"], "INVALID_ARGUMENT");
    assert!(e["message"].as_str().unwrap().starts_with("x-mock-usage:"));
}

#[test]
fn errors_in_gemini_format() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    for (status, name) in [
        (429, "RESOURCE_EXHAUSTED"),
        (503, "UNAVAILABLE"),
        (500, "INTERNAL"),
        (403, "PERMISSION_DENIED"),
    ] {
        let code = status.to_string();
        for path in [GENERATE, STREAM_SSE, STREAM] {
            let r = post(addr, path, &[("x-mock-status", &code)]);
            assert_eq!(r.status, status);
            assert_eq!(r.header("content-type"), Some("application/json"));
            let e = &r.json()["error"];
            assert_eq!(e["code"], status);
            assert_eq!(e["status"], name);
            assert!(e["message"].is_string());
        }
    }
    let r = send(addr, "POST", GENERATE, &[], r#"{"contents":null}"#);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["status"], "INVALID_ARGUMENT");
    let r = send(addr, "POST", GENERATE, &[("x-mock-status", "200")], "{bad");
    assert_eq!(r.status, 200);
    assert_eq!(send(addr, "GET", GENERATE, &[], "").status, 405);
    let r = post(addr, GENERATE, &[("x-mock-chunk-bytes", "0")]);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], 400);
}

#[test]
fn stream_cut() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = post(addr, STREAM_SSE, &[("x-mock-stream-cut", "2")]);
    assert!(!r.complete);
    assert_eq!(sse_chunks(&r).len(), 2);
    // The array stream cut just before its closing bracket is not valid JSON.
    let r = post(addr, STREAM, &[("x-mock-stream-cut", "5")]);
    assert!(!r.complete);
    assert_eq!(r.chunks.len(), 5);
    assert!(serde_json::from_slice::<Value>(&r.body()).is_err());
}

#[test]
fn request_log_keeps_path_and_query() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    post(addr, STREAM_SSE, &[]);
    let v = send(addr, "GET", "/__mock/requests", &[], "").json();
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["path"], STREAM_SSE);
    assert_eq!(reqs[0]["headers"]["x-goog-api-key"], "test-key");
    assert_eq!(reqs[0]["body"], BODY);
}
