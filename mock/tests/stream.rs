//! End-to-end tests of Chat Completions streaming (`"stream": true`) against a
//! `spawn`ed server, with the raw-`TcpStream` client of `common`, which reads
//! the chunked body chunk by chunk, noting when each arrived.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{send, Resp};
use serde_json::{json, Value};

fn post(addr: SocketAddr, headers: &[(&str, &str)], body: &str) -> Resp {
    send(addr, "POST", "/v1/chat/completions", headers, body)
}

/// The SSE events, checking each chunk is exactly one `data: …\n\n`.
fn events(r: &Resp) -> Vec<String> {
    r.chunk_texts()
        .into_iter()
        .map(|text| {
            let data = text
                .strip_prefix("data: ")
                .and_then(|t| t.strip_suffix("\n\n"))
                .unwrap_or_else(|| panic!("chunk is not one SSE event: {text:?}"));
            assert!(!data.contains('\n'), "{text:?}");
            data.to_owned()
        })
        .collect()
}

/// The events before `[DONE]` as JSON (asserting `[DONE]` is last).
fn chunk_objects(r: &Resp) -> Vec<Value> {
    let events = events(r);
    let (done, rest) = events.split_last().expect("no events");
    assert_eq!(done, "[DONE]");
    rest.iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

const STREAM: &str =
    r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Say hi"}],"stream":true}"#;
const STREAM_USAGE: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Say hi"}],"stream":true,"stream_options":{"include_usage":true}}"#;
const PLAIN: &str =
    r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Say hi"}],"stream":false}"#;

fn plain_json(addr: SocketAddr, headers: &[(&str, &str)]) -> Value {
    serde_json::from_slice(&post(addr, headers, PLAIN).body()).unwrap()
}

fn reassembled(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

#[test]
fn event_sequence_and_chunk_shape() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = post(addr, &[], STREAM);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.header("content-length").is_none());
    assert!(r.header("x-request-id").unwrap().starts_with("req_mock"));
    assert!(r.complete, "ends with the terminating chunk");
    let chunks = chunk_objects(&r);
    // role, 5 words ("Mock reply to: Say hi"), stop; no usage chunk.
    assert_eq!(chunks.len(), 7);
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-mock"), "{id}");
    for c in &chunks {
        assert_eq!(c["id"], id);
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["created"], 1_700_000_000);
        assert_eq!(c["model"], "gpt-4o");
        assert_eq!(c["system_fingerprint"], "fp_mock");
        assert!(c.get("usage").is_none(), "no include_usage: {c}");
        let choices = c["choices"].as_array().unwrap();
        assert_eq!(choices.len(), 1);
        assert_eq!(choices[0]["index"], 0);
        assert!(choices[0].get("logprobs").unwrap().is_null());
        assert!(choices[0].get("finish_reason").is_some());
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let words: Vec<&str> = chunks[1..6]
        .iter()
        .map(|c| {
            assert!(c["choices"][0]["finish_reason"].is_null());
            assert!(c["choices"][0]["delta"].get("role").is_none());
            c["choices"][0]["delta"]["content"].as_str().unwrap()
        })
        .collect();
    assert_eq!(words, ["Mock", " reply", " to:", " Say", " hi"]);
    assert_eq!(chunks[6]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[6]["choices"][0]["finish_reason"], "stop");
    // Deterministic byte for byte.
    assert_eq!(post(addr, &[], STREAM).body(), r.body());
}

#[test]
fn deltas_reassemble_to_the_non_streaming_reply() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let plain = plain_json(addr, &[]);
    let chunks = chunk_objects(&post(addr, &[], STREAM));
    assert_eq!(
        reassembled(&chunks),
        plain["choices"][0]["message"]["content"].as_str().unwrap()
    );
    // Header values cannot hold newlines or outer whitespace; inner runs stay.
    let content = ("x-mock-content", "odd\tspacing,  kept \t exactly");
    let chunks = chunk_objects(&post(addr, &[content], STREAM));
    assert_eq!(reassembled(&chunks), content.1);
    assert_eq!(chunks.len(), 1 + 4 + 1);
}

#[test]
fn usage_chunk_only_with_include_usage() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let cases: [&[(&str, &str)]; 2] = [&[], &[("x-mock-usage", "100, 50, 20, 10")]];
    for headers in cases {
        let plain = plain_json(addr, headers);
        let r = post(addr, headers, STREAM_USAGE);
        assert!(r.complete);
        let chunks = chunk_objects(&r);
        assert_eq!(chunks.len(), 8, "one more chunk: the usage");
        let (last, rest) = chunks.split_last().unwrap();
        for c in rest {
            assert!(c.get("usage").unwrap().is_null(), "usage: null on {c}");
            assert_eq!(c["choices"].as_array().map(Vec::len), Some(1));
        }
        assert_eq!(last["choices"], json!([]));
        assert_eq!(last["object"], "chat.completion.chunk");
        assert_eq!(last["id"], chunks[0]["id"]);
        assert_eq!(
            last["usage"], plain["usage"],
            "same numbers as non-streaming"
        );
        assert_eq!(reassembled(&chunks), "Mock reply to: Say hi");
    }
    // The docs example: prompt 9, completion 6, total 15.
    let chunks = chunk_objects(&post(addr, &[], STREAM_USAGE));
    let usage = &chunks[7]["usage"];
    assert_eq!(usage["prompt_tokens"], 9);
    assert_eq!(usage["completion_tokens"], 6);
    assert_eq!(usage["total_tokens"], 15);
    // Without include_usage the usage headers change nothing.
    let chunks = chunk_objects(&post(addr, &[("x-mock-usage", "1,2")], STREAM));
    assert_eq!(chunks.len(), 7);
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
}

#[test]
fn usage_omit_and_raw_when_streaming() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let chunks = chunk_objects(&post(addr, &[("x-mock-usage", "omit")], STREAM_USAGE));
    assert_eq!(chunks.len(), 7, "no usage chunk at all");
    assert!(chunks.iter().all(|c| c["usage"].is_null()));
    let raw = r#"{"prompt_tokens":-5,"completion_tokens":1.5}"#;
    let r = post(addr, &[("x-mock-usage-raw", raw)], STREAM_USAGE);
    let events = events(&r);
    let usage_event = &events[events.len() - 2];
    assert!(
        usage_event.ends_with(&format!("\"choices\":[],\"usage\":{raw}}}")),
        "{usage_event}"
    );
    assert_eq!(chunk_objects(&r)[7]["usage"]["completion_tokens"], 1.5);
}

#[test]
fn errors_are_not_streamed() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = post(addr, &[("x-mock-status", "429")], STREAM_USAGE);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("content-length").is_some());
    let v: Value = serde_json::from_slice(&r.body()).unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    let r = post(addr, &[], r#"{"messages":[],"stream":true}"#);
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/json"));
    // A forced success status still streams.
    let r = post(addr, &[("x-mock-status", "201")], STREAM);
    assert_eq!(r.status, 201);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(chunk_objects(&r).len(), 7);
}

#[test]
fn stream_cut_drops_the_connection_after_n_events() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = post(addr, &[("x-mock-stream-cut", "3")], STREAM_USAGE);
    assert_eq!(r.status, 200);
    assert!(!r.complete, "no terminating chunk");
    let events = events(&r);
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e != "[DONE]"));
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    // Headers only.
    let r = post(addr, &[("x-mock-stream-cut", "0")], STREAM);
    assert_eq!(r.status, 200);
    assert!(!r.complete);
    assert!(r.chunks.is_empty());
    // More than there are: everything, [DONE] included, then still no
    // terminating chunk.
    let r = post(addr, &[("x-mock-stream-cut", "100")], STREAM);
    assert!(!r.complete);
    assert_eq!(chunk_objects(&r).len(), 7);
    // The server is unharmed.
    assert!(post(addr, &[], STREAM).complete);
}

#[test]
fn events_are_spread_over_time() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let pause = Duration::from_millis(100);
    let r = post(addr, &[("x-mock-chunk-delay-ms", "100")], STREAM);
    assert!(r.complete);
    let arrivals = &r.arrivals;
    assert_eq!(arrivals.len(), 8, "7 chunks + [DONE], one per HTTP chunk");
    let last = *arrivals.last().unwrap();
    // The server pauses between events, so the last cannot come sooner.
    assert!(last - r.started >= pause * 7, "{:?}", last - r.started);
    // And the first is not held back until the end (only a client stalled for 5 pauses at the
    // start could see less).
    assert!(last - arrivals[0] >= pause * 2, "{arrivals:?}");
    // Default pause: 5 ms.
    let r = post(addr, &[], STREAM);
    let span = *r.arrivals.last().unwrap() - r.started;
    assert!(span >= Duration::from_millis(5 * 7), "{span:?}");
}
