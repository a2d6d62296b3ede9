//! Streamed OpenAI Chat Completions through the fake host: the `include_usage` rewrite, the
//! removed usage-only chunk, the final SSE comment and trailers, and disconnects.

use super::test_support::{gzip, headers, requested, shared, trailer};
use super::*;
use crate::fake::FakeHost;
use crate::tokens::tests::tokenizer;
use crate::tokens::Encoding;
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const CFG: &str = r#"{"prices":{"gpt-4o-mini":{"input":0.15,"output":0.60}}}"#;
/// The documented stream shape with `include_usage` (see the fixture's header comment).
const STREAM: &[u8] = include_bytes!("../../tests/fixtures/sse/openai_chat_stream.sse");
const USAGE_CHUNK_START: &str = r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[],"usage""#;

struct Run {
    host: FakeHost,
    /// The request body as the upstream receives it.
    upstream_body: Vec<u8>,
    /// The response bytes as the client receives them, chunk by chunk.
    client: Vec<u8>,
}

/// One streamed exchange: `request` sent whole, `response` in the given pieces; the stream ends
/// with the last piece when `complete`, else the client goes away (only `on_log`).
fn run(request: &str, pieces: &[&[u8]], complete: bool) -> Run {
    let mut host = FakeHost {
        request_headers: headers(&[
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            ("content-type", "application/json"),
            ("content-length", &request.len().to_string()),
        ]),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared(CFG)));
    assert_eq!(f.on_request_headers(&mut host, false), Action::Continue);
    host.released.push(Map::RequestHeaders);
    host.request_body = request.as_bytes().to_vec();
    assert_eq!(
        f.on_request_body(&mut host, request.len(), true),
        Action::Continue
    );
    let upstream_body = std::mem::take(&mut host.request_body);
    host.response_headers = headers(&[
        (":status", "200"),
        ("content-type", "text/event-stream; charset=utf-8"),
    ]);
    assert_eq!(f.on_response_headers(&mut host, false), Action::Continue);
    host.released.push(Map::ResponseHeaders);
    let mut client = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let last = complete && i == pieces.len() - 1;
        host.response_body = piece.to_vec();
        assert_eq!(
            f.on_response_body(&mut host, piece.len(), last),
            Action::Continue
        );
        client.extend_from_slice(&host.response_body);
    }
    f.on_log(&mut host);
    Run {
        host,
        upstream_body,
        client,
    }
}

const PLAIN: &str =
    r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;
const ASKS: &str = r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}"#;

#[test]
fn include_usage_is_added_and_its_chunk_removed_at_every_split() {
    let without_usage_chunk: Vec<u8> = {
        let text = std::str::from_utf8(STREAM).unwrap();
        let start = text.find(USAGE_CHUNK_START).unwrap();
        let end = start + text[start..].find("\n\n").unwrap() + 2;
        [&STREAM[..start], &STREAM[end..]].concat()
    };
    for cut in 0..=STREAM.len() {
        let r = run(PLAIN, &[&STREAM[..cut], &STREAM[cut..]], true);
        let sent: Value = serde_json::from_slice(&r.upstream_body).unwrap();
        assert_eq!(sent["stream_options"]["include_usage"], true);
        assert!(!r
            .host
            .request_headers
            .iter()
            .any(|(k, _)| k == "content-length"));
        // The client gets the stream without the usage chunk, then the comment.
        let (body, comment) = r.client.split_at(without_usage_chunk.len());
        assert_eq!(body, without_usage_chunk.as_slice(), "cut at {cut}");
        let comment = std::str::from_utf8(comment).unwrap();
        let json = comment
            .strip_prefix(": tollbooth ")
            .unwrap()
            .strip_suffix("\n\n")
            .unwrap();
        let state: Value = serde_json::from_str(json).unwrap();
        assert_eq!(state["input_tokens"], 9);
        assert_eq!(state["output_tokens"], 6);
        assert_eq!(state["usage_source"], "provider");
        assert_eq!(trailer(&r.host, "x-llm-output-tokens"), Some("6"));
        // 9 × $0.15/M + 6 × $0.60/M = $0.00000135 + $0.0000036
        assert_eq!(trailer(&r.host, "x-llm-cost-usd"), Some("0.00000495"));
    }
}

#[test]
fn a_client_that_asked_for_usage_gets_every_byte() {
    for cut in (0..=STREAM.len()).step_by(7) {
        let r = run(ASKS, &[&STREAM[..cut], &STREAM[cut..]], true);
        assert_eq!(r.upstream_body, ASKS.as_bytes(), "request untouched");
        assert_eq!(&r.client[..STREAM.len()], STREAM);
        assert!(r.client[STREAM.len()..].starts_with(b": tollbooth {"));
        assert_eq!(trailer(&r.host, "x-llm-usage-source"), Some("provider"));
    }
}

#[test]
fn byte_by_byte_delivery_forwards_each_event_once_complete() {
    let pieces: Vec<&[u8]> = STREAM.chunks(1).collect();
    let r = run(ASKS, &pieces, true);
    assert_eq!(&r.client[..STREAM.len()], STREAM);
    let r = run(PLAIN, &pieces, true);
    assert!(!String::from_utf8_lossy(&r.client).contains(r#""choices":[],"usage""#));
}

#[test]
fn a_disconnected_client_is_charged_for_what_was_streamed() {
    let text = std::str::from_utf8(STREAM).unwrap();
    let cut = text.find(USAGE_CHUNK_START).unwrap();
    let r = run(PLAIN, &[&STREAM[..cut]], false);
    assert!(r.host.response_trailers.is_empty(), "no end, no trailers");
    let state: Value = serde_json::from_slice(&r.host.properties["tollbooth"]).unwrap();
    assert_eq!(state["usage_source"], "estimate");
    // "Hello! Ça va? 👋" counted with o200k_base.
    let expected = tokenizer().count(Encoding::O200kBase, "Hello! Ça va? 👋");
    assert_eq!(state["output_tokens"], expected);
    assert!(state["input_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn the_comment_can_be_switched_off() {
    let cfg = r#"{"stamp":{"sse_comment":false}}"#;
    let (mut host, mut f) = requested(cfg, "/v1/chat/completions", ASKS);
    host.response_headers = headers(&[(":status", "200"), ("content-type", "text/event-stream")]);
    f.on_response_headers(&mut host, false);
    host.response_body = STREAM.to_vec();
    f.on_response_body(&mut host, STREAM.len(), true);
    assert_eq!(host.response_body, STREAM);
    assert_eq!(trailer(&host, "x-llm-input-tokens"), Some("9"));
}

#[test]
fn a_gzip_stream_is_metered_and_forwarded_untouched() {
    let body = gzip(STREAM);
    let (mut host, mut f) = requested(CFG, "/v1/chat/completions", PLAIN);
    host.response_headers = headers(&[
        (":status", "200"),
        ("content-type", "text/event-stream"),
        ("content-encoding", "gzip"),
    ]);
    f.on_response_headers(&mut host, false);
    let mut client = Vec::new();
    let pieces: Vec<&[u8]> = body.chunks(9).collect();
    for (i, piece) in pieces.iter().enumerate() {
        host.response_body = piece.to_vec();
        f.on_response_body(&mut host, piece.len(), i == pieces.len() - 1);
        client.extend_from_slice(&host.response_body);
    }
    assert_eq!(
        client, body,
        "compressed bytes pass unchanged, with no comment appended"
    );
    assert_eq!(trailer(&host, "x-llm-input-tokens"), Some("9"));
    assert_eq!(trailer(&host, "x-llm-output-tokens"), Some("6"));
}
