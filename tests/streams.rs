//! Streamed responses through the real `tollbooth.wasm`, driven callback by callback in both
//! stop-iteration modes: the request rewrite as the upstream sees it, and streams that end
//! early (a client that goes away, an upstream that cuts the stream).

use serde_json::{json, Value};
use tollbooth_integration::*;

const CONFIG: &str = r#"{"prices":{"gpt-4o-mini":{"input":0.15,"output":0.60}}}"#;
/// The documented stream shape (see the fixture's header comment).
const STREAM: &[u8] = include_bytes!("fixtures/sse/openai_chat_stream.sse");

fn request_body() -> Vec<u8> {
    serde_json::to_vec(&json!({"model":"gpt-4o-mini","stream":true,
        "messages":[{"role":"user","content":"Say hello in French"}]}))
    .unwrap()
}

/// Opens a stream, sends the request, and answers with SSE headers.
fn started(host: &mut Host, worker: usize) -> tollbooth_host::StreamId {
    let body = request_body();
    let id = host.open(worker).unwrap();
    let len = body.len().to_string();
    host.request_headers(
        id,
        vec![
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            (":authority", "api.openai.com"),
            ("content-type", "application/json"),
            ("content-length", len.as_str()),
        ],
        false,
    )
    .unwrap();
    host.request_body(id, &body, true).unwrap();
    host.response_headers(
        id,
        vec![(":status", "200"), ("content-type", "text/event-stream")],
        false,
    )
    .unwrap();
    id
}

fn state_of(view: &tollbooth_host::StreamView) -> Value {
    serde_json::from_slice(view.state("wasm.tollbooth").expect("filter state")).unwrap()
}

/// The stream up to and including the event that carries `marker`.
fn through(marker: &str) -> &'static [u8] {
    let text = std::str::from_utf8(STREAM).unwrap();
    let at = text.find(marker).unwrap();
    let end = at + text[at..].find("\n\n").unwrap() + 2;
    &STREAM[..end]
}

#[test]
fn the_upstream_is_asked_for_usage_without_a_stale_content_length() {
    for mode in MODES {
        let mut host = host(mode, 2, CONFIG);
        let id = started(&mut host, 1);
        let view = host.stream(id).unwrap();
        let up = view.upstream_headers.as_ref().unwrap();
        assert_eq!(up.get("content-length"), None, "{mode:?}");
        let sent: Value = serde_json::from_slice(&view.upstream_body).unwrap();
        assert_eq!(sent["stream_options"], json!({"include_usage": true}));
        assert_eq!(sent["messages"][0]["content"], "Say hello in French");
    }
}

#[test]
fn a_client_that_goes_away_is_charged_for_what_was_streamed() {
    for mode in MODES {
        let mut host = host(mode, 2, CONFIG);
        let id = started(&mut host, 0);
        // Only the role chunk and the "Hello" delta arrive, then the client disconnects.
        host.response_body(id, through(r#""content":"Hello""#), false)
            .unwrap();
        let view = host.finish(id).unwrap();
        let state = state_of(&view);
        assert_eq!(state["usage_source"], "estimate", "{mode:?}");
        // "Hello" is one o200k_base token.
        assert_eq!(state["output_tokens"], 1);
        assert!(state["input_tokens"].as_u64().unwrap() > 0);
        assert!(state["cost_usd"].is_string());
        assert!(view.downstream_trailers.is_none());
    }
}

#[test]
fn an_upstream_that_cuts_the_stream_mid_event_is_estimated() {
    for mode in MODES {
        let mut host = host(mode, 2, CONFIG);
        let id = started(&mut host, 0);
        let head = through(r#""content":"Hello""#);
        host.response_body(id, head, false).unwrap();
        // Half of the next event, then the end of the stream.
        let next = &STREAM[head.len()..head.len() + 40];
        host.response_body(id, next, true).unwrap();
        let view = host.finish(id).unwrap();
        let state = state_of(&view);
        assert_eq!(state["usage_source"], "estimate", "{mode:?}");
        assert_eq!(state["output_tokens"], 1);
        // The client got every byte the upstream sent, then the comment.
        assert!(view.downstream_body.starts_with(head));
        assert!(view.downstream_body[head.len()..].starts_with(next));
        let trailers = view.downstream_trailers.as_ref().unwrap();
        assert_eq!(trailers.get("x-llm-usage-source"), Some("estimate"));
    }
}
