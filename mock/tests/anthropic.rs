//! End-to-end tests of the Anthropic Messages mode (`POST /v1/messages`),
//! JSON and streamed, against a `spawn`ed server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{send, Resp};
use serde_json::{json, Value};

const MODEL: &str = "claude-sonnet-4-20250514";
const JSON_REQ: &str = r#"{"model":"claude-sonnet-4-20250514","max_tokens":1024,"messages":[{"role":"user","content":"Say hi"}]}"#;
const STREAM_REQ: &str = r#"{"model":"claude-sonnet-4-20250514","max_tokens":1024,"messages":[{"role":"user","content":"Say hi"}],"stream":true}"#;
/// What the official SDK sends besides the body.
const SDK_HEADERS: [(&str, &str); 3] = [
    ("x-api-key", "sk-ant-test"),
    ("anthropic-version", "2023-06-01"),
    ("content-type", "application/json"),
];

fn post(addr: SocketAddr, extra: &[(&str, &str)], body: &str) -> Resp {
    let mut headers = SDK_HEADERS.to_vec();
    headers.extend_from_slice(extra);
    send(addr, "POST", "/v1/messages", &headers, body)
}

/// `(event name, data)` of each chunk, checking each chunk is exactly one
/// `event: …\ndata: …\n\n` block.
fn events(r: &Resp) -> Vec<(String, Value)> {
    r.chunk_texts()
        .iter()
        .map(|text| {
            let (name, data) = text
                .strip_prefix("event: ")
                .and_then(|t| t.strip_suffix("\n\n"))
                .and_then(|t| t.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("chunk is not one named SSE event: {text:?}"));
            assert!(!data.contains('\n'), "{text:?}");
            let data: Value = serde_json::from_str(data).unwrap();
            assert_eq!(data["type"], name, "{text}");
            (name.to_owned(), data)
        })
        .collect()
}

fn streamed_text(evs: &[(String, Value)]) -> String {
    evs.iter()
        .filter(|(name, _)| name == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap()
        })
        .collect()
}

#[test]
fn message_shape_and_documented_usage() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = post(addr, &[], JSON_REQ);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("request-id").unwrap().starts_with("req_mock"));
    let v = r.json();
    assert!(v["id"].as_str().unwrap().starts_with("msg_mock"), "{v}");
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], MODEL);
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "Mock reply to: Say hi"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["stop_sequence"].is_null());
    // "Say hi": 2 words + 7; reply: 5 words + 1.
    let u = &v["usage"];
    assert_eq!(u["input_tokens"], 9);
    assert_eq!(u["output_tokens"], 6);
    assert_eq!(u["cache_creation_input_tokens"], 0);
    assert_eq!(u["cache_read_input_tokens"], 0);
    assert_eq!(
        u["cache_creation"],
        json!({"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0})
    );
    // Reproducible byte for byte, and under any prefix.
    let again = send(
        addr,
        "POST",
        "/anthropic/v1/messages",
        &SDK_HEADERS,
        JSON_REQ,
    );
    assert_eq!(again.body(), r.body());
    // The system prompt counts as one more message ("You are terse." = 3 words).
    let with_system = r#"{"model":"m","max_tokens":5,"system":"You are terse.","messages":[{"role":"user","content":[{"type":"text","text":"Say hi"}]}]}"#;
    let v = post(addr, &[], with_system).json();
    assert_eq!(v["usage"]["input_tokens"], 9 + 10);
    assert_eq!(v["content"][0]["text"], "Mock reply to: Say hi");
}

#[test]
fn stream_events_and_text_equal_the_json_answer() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let plain = post(addr, &[], JSON_REQ).json();
    let r = post(addr, &[], STREAM_REQ);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.header("content-length").is_none());
    assert!(r.header("request-id").unwrap().starts_with("req_mock"));
    assert!(r.complete);
    let evs = events(&r);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 5]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    let start = &evs[0].1["message"];
    // The id hashes the body, which differs by `"stream":true`.
    assert!(start["id"].as_str().unwrap().starts_with("msg_mock"));
    assert_ne!(start["id"], plain["id"]);
    assert_eq!(start["model"], MODEL);
    assert_eq!(start["content"], json!([]));
    assert!(start["stop_reason"].is_null());
    assert_eq!(start["usage"]["input_tokens"], 9);
    assert_eq!(start["usage"]["output_tokens"], 1);
    assert_eq!(
        evs[1].1,
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    );
    assert_eq!(
        streamed_text(&evs),
        plain["content"][0]["text"].as_str().unwrap()
    );
    assert_eq!(evs[8].1, json!({"type": "content_block_stop", "index": 0}));
    assert_eq!(
        evs[9].1,
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": 6}})
    );
    // Deterministic; x-mock-content streams word by word too.
    assert_eq!(post(addr, &[], STREAM_REQ).body(), r.body());
    let content = ("x-mock-content", "odd\tspacing,  kept");
    let evs = events(&post(addr, &[content], STREAM_REQ));
    assert_eq!(streamed_text(&evs), content.1);
    let (name, delta) = &evs[evs.len() - 2];
    assert_eq!(name, "message_delta");
    assert_eq!(delta["usage"]["output_tokens"], 3 + 1);
}

#[test]
fn usage_overrides() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let exact = [
        ("x-mock-usage", "100, 50, 20, 10"),
        ("x-mock-cache-write", "15,5"),
    ];
    let u = &post(addr, &exact, JSON_REQ).json()["usage"];
    assert_eq!(u["input_tokens"], 100 - 20 - 20);
    assert_eq!(u["cache_read_input_tokens"], 20);
    assert_eq!(u["cache_creation_input_tokens"], 20);
    assert_eq!(u["cache_creation"]["ephemeral_5m_input_tokens"], 15);
    assert_eq!(u["cache_creation"]["ephemeral_1h_input_tokens"], 5);
    assert_eq!(u["output_tokens"], 50);
    let evs = events(&post(addr, &exact, STREAM_REQ));
    let start = &evs[0].1["message"]["usage"];
    assert_eq!(start["input_tokens"], 60);
    assert_eq!(start["cache_read_input_tokens"], 20);
    assert_eq!(start["cache_creation_input_tokens"], 20);
    assert_eq!(evs[9].1["usage"], json!({"output_tokens": 50}));

    // Omitted: no usage anywhere.
    let omit = [("x-mock-usage", "omit")];
    assert!(post(addr, &omit, JSON_REQ).json().get("usage").is_none());
    let evs = events(&post(addr, &omit, STREAM_REQ));
    assert!(evs[0].1["message"].get("usage").is_none());
    assert!(evs[9].1.get("usage").is_none());

    // Raw: spliced verbatim, in both stream events that carry usage.
    let raw = r#"{"input_tokens":-5,"output_tokens":1.5}"#;
    let r = post(addr, &[("x-mock-usage-raw", raw)], JSON_REQ);
    assert!(
        r.text().ends_with(&format!("\"usage\":{raw}}}")),
        "{}",
        r.text()
    );
    let evs = events(&post(addr, &[("x-mock-usage-raw", raw)], STREAM_REQ));
    assert_eq!(evs[0].1["message"]["usage"]["input_tokens"], -5);
    assert_eq!(evs[9].1["usage"]["output_tokens"], 1.5);

    // Reads + writes beyond the prompt cannot be expressed: 400 naming the header.
    let r = post(
        addr,
        &[("x-mock-usage", "10,5,6"), ("x-mock-cache-write", "5")],
        JSON_REQ,
    );
    assert_eq!(r.status, 400);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.starts_with("x-mock-cache-write:"), "{msg}");
}

#[test]
fn errors_in_anthropic_format() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    for (status, kind) in [
        ("429", "rate_limit_error"),
        ("529", "overloaded_error"),
        ("401", "authentication_error"),
        ("500", "api_error"),
    ] {
        // Errors are never streamed.
        let r = post(addr, &[("x-mock-status", status)], STREAM_REQ);
        assert_eq!(r.status.to_string(), status);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v = r.json();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], kind);
        assert!(v["error"]["message"].is_string());
        assert_eq!(r.header("retry-after").is_some(), status == "429");
    }
    // Invalid requests, unless a success status is forced.
    let no_max = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let r = post(addr, &[], no_max);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"}})
    );
    assert_eq!(post(addr, &[], "{nope").status, 400);
    let r = post(addr, &[("x-mock-status", "200")], no_max);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["type"], "message");
    // Malformed override headers and wrong methods, in Anthropic's format.
    let r = post(addr, &[("x-mock-usage", "1")], JSON_REQ);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("x-mock-usage:"));
    let r = send(addr, "GET", "/v1/messages", &[], "");
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["type"], "error");
}

#[test]
fn stream_cut_and_chunking() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = post(addr, &[("x-mock-stream-cut", "4")], STREAM_REQ);
    assert_eq!(r.status, 200);
    assert!(!r.complete, "no terminating chunk");
    let evs = events(&r);
    assert_eq!(evs.len(), 4);
    assert_eq!(evs[3].0, "content_block_delta");
    // Events split further into 7-byte chunks reassemble to the same stream.
    let whole = post(addr, &[], STREAM_REQ);
    let r = post(
        addr,
        &[("x-mock-chunk-bytes", "7"), ("x-mock-chunk-delay-ms", "0")],
        STREAM_REQ,
    );
    assert!(r.complete);
    assert!(r.chunks.iter().all(|c| c.len() <= 7));
    assert_eq!(r.body(), whole.body());
    // A JSON answer in chunks, cut after two of them.
    let r = post(
        addr,
        &[("x-mock-chunk-bytes", "10"), ("x-mock-stream-cut", "2")],
        JSON_REQ,
    );
    assert!(!r.complete);
    assert_eq!(r.body().len(), 20);
}

#[test]
fn delay_and_request_log() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let start = Instant::now();
    assert_eq!(
        post(addr, &[("x-mock-delay-ms", "150")], JSON_REQ).status,
        200
    );
    assert!(start.elapsed() >= Duration::from_millis(150));
    let v = send(addr, "GET", "/__mock/requests", &[], "").json();
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["path"], "/v1/messages");
    assert_eq!(reqs[0]["headers"]["x-api-key"], "sk-ant-test");
    assert_eq!(reqs[0]["headers"]["anthropic-version"], "2023-06-01");
    assert_eq!(reqs[0]["body"], JSON_REQ);
}
