use super::*;
use crate::config::Config;
use crate::providers::anthropic::tests::expected;
use crate::providers::anthropic::{parse_request, MESSAGES};
use crate::sse::SseParser;
use crate::tokens::tests::tokenizer;
use crate::usage::Usage;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn request() -> RequestInfo {
    let body = br#"{"model":"claude-sonnet-4-5-20250929","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Hello"}]}"#;
    parse_request(body, &MESSAGES, &Config::parse(b"{}").unwrap(), tokenizer()).unwrap()
}

fn request_for(body: &[u8]) -> RequestInfo {
    parse_request(body, &MESSAGES, &Config::parse(b"{}").unwrap(), tokenizer()).unwrap()
}

fn count(text: &str) -> u64 {
    tokenizer().count(request().encoding, text)
}

/// A meter fed `events`, each a JSON value sent with its `type` as the SSE event name.
fn meter(events: &[Value]) -> AnthropicStreamMeter {
    let mut m = AnthropicStreamMeter::new();
    for e in events {
        let name = e["type"].as_str().unwrap_or("").as_bytes().to_vec();
        m.on_event(&name, &serde_json::to_vec(e).unwrap());
    }
    m
}

fn start(usage: Value) -> Value {
    json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
        "content": [], "model": "claude-sonnet-4-5-20250929", "stop_reason": null, "usage": usage}})
}

fn text_delta(index: u64, text: &str) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})
}

fn delta(usage: Value) -> Value {
    json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": usage})
}

#[test]
fn message_delta_usage_is_cumulative_and_latest_fields_win() {
    let m = meter(&[
        start(
            json!({"input_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}),
        ),
        text_delta(0, "Hi"),
        delta(json!({"output_tokens": 10})),
        // A later message_delta repeats the input counts (as newer API versions do) and raises
        // the output: the totals are its numbers, not sums.
        delta(
            json!({"input_tokens": 12, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 7,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 7},
            "output_tokens": 20, "service_tier": null}),
        ),
        json!({"type": "message_stop"}),
    ]);
    assert!(m.has_provider_usage());
    let info = m.finish(&request(), tokenizer(), true);
    assert_eq!(
        info.usage,
        Usage {
            input_tokens: 24,
            output_tokens: 20,
            cached_tokens: 5,
            cache_write_5m_tokens: 0,
            cache_write_1h_tokens: 7,
            reasoning_tokens: 0,
            source: UsageSource::Provider,
        }
    );
    assert_eq!(info.problem, None);
}

#[test]
fn service_tier_and_model_come_from_message_start() {
    let info = meter(&[
        start(json!({"input_tokens": 3, "output_tokens": 1, "service_tier": "priority"})),
        delta(json!({"output_tokens": 2})),
    ])
    .finish(&request(), tokenizer(), true);
    assert_eq!(info.service_tier.as_deref(), Some("priority"));
    assert_eq!(info.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    assert_eq!(info.usage.source, UsageSource::Provider);
}

#[test]
fn stream_cut_before_message_delta() {
    let events = [
        start(json!({"input_tokens": 25, "cache_read_input_tokens": 40, "output_tokens": 1})),
        text_delta(0, "Hello there, how are"),
    ];
    // Cut (reset or client gone): message_start's input, the larger output, no problem.
    let info = meter(&events).finish(&request(), tokenizer(), false);
    assert_eq!(info.usage.input_tokens, 65);
    assert_eq!(info.usage.cached_tokens, 40);
    assert_eq!(info.usage.output_tokens, count("Hello there, how are"));
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.problem, None);
    assert_eq!(info.finish, None, "no stop_reason arrived");
    // Ended normally with no message_delta and no error: the same numbers, flagged.
    let info = meter(&events).finish(&request(), tokenizer(), true);
    assert_eq!(info.usage.output_tokens, count("Hello there, how are"));
    assert_eq!(info.problem.map(|p| p.0), Some(Invalid::BadUsage));
    // message_start's output wins when the counted deltas are fewer.
    let info = meter(&[start(json!({"input_tokens": 25, "output_tokens": 9}))]).finish(
        &request(),
        tokenizer(),
        false,
    );
    assert_eq!(info.usage.output_tokens, 9);
}

#[test]
fn error_after_message_delta_keeps_the_provider_usage() {
    let info = meter(&[
        start(json!({"input_tokens": 25, "output_tokens": 1})),
        delta(json!({"output_tokens": 15})),
        json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}),
    ])
    .finish(&request(), tokenizer(), true);
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (25, 15)
    );
    assert_eq!(info.usage.source, UsageSource::Provider);
    assert_eq!(
        info.finish,
        Some(Finish::Error),
        "the error wins over end_turn"
    );
    // Cut after message_delta, before message_stop: the stop_reason seen stays.
    let info = meter(&[
        start(json!({"input_tokens": 25, "output_tokens": 1})),
        delta(json!({"output_tokens": 15})),
    ])
    .finish(&request(), tokenizer(), false);
    assert_eq!(info.finish, Some(Finish::Stop));
}

#[test]
fn nothing_seen_is_an_estimate() {
    let req = request();
    let info = AnthropicStreamMeter::new().finish(&req, tokenizer(), false);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    assert_eq!(info.usage.output_tokens, 0);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.problem, None);
    // Deltas without message_start (a broken upstream) are counted; a normal end is flagged.
    let info = meter(&[text_delta(0, "Bonjour")]).finish(&req, tokenizer(), true);
    assert_eq!(info.usage.output_tokens, count("Bonjour"));
    assert_eq!(info.problem.map(|p| p.0), Some(Invalid::BadUsage));
}

#[test]
fn unusable_counts_are_a_problem() {
    let req = request();
    for events in [
        vec![
            start(json!({"input_tokens": -5, "output_tokens": 1})),
            delta(json!({"output_tokens": 3})),
        ],
        vec![
            start(json!({"input_tokens": 5, "output_tokens": 1})),
            delta(json!({"output_tokens": "3"})),
        ],
        // message_delta alone lacks the input count.
        vec![delta(json!({"output_tokens": 3}))],
        vec![start(
            json!({"input_tokens": 5, "output_tokens": 1, "cache_creation_input_tokens": 1,
            "cache_creation": {"ephemeral_1h_input_tokens": 2}}),
        )],
    ] {
        let m = meter(&events);
        assert!(!m.has_provider_usage());
        let info = m.finish(&req, tokenizer(), false);
        assert_eq!(
            info.problem.map(|p| p.0),
            Some(Invalid::BadUsage),
            "{events:?}"
        );
        assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
        assert_eq!(info.usage.source, UsageSource::Estimate);
    }
}

#[test]
fn thinking_text_and_tool_input_are_counted_per_block() {
    let m = meter(&[
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me solve this step by step"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": ": 27 * 453 = 12231"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        text_delta(1, "27 * 453 = "),
        text_delta(1, "12,231"),
        json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {}}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"expr\": "}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "\"27*453\"}"}}),
        json!({"type": "ping"}),
        json!({"type": "some_future_event", "data": 1}),
    ]);
    assert_eq!(m.events(), 12);
    assert_eq!(
        m.output_tokens(request().encoding, tokenizer()),
        count("Let me solve this step by step: 27 * 453 = 12231")
            + count("27 * 453 = 12,231")
            + count("calculator")
            + count("{\"expr\": \"27*453\"}")
    );
}

#[test]
fn event_type_falls_back_to_the_sse_event_name() {
    let mut m = AnthropicStreamMeter::new();
    m.on_event(
        b"message_start",
        br#"{"message":{"model":"claude-x","usage":{"input_tokens":4,"output_tokens":1}}}"#,
    );
    m.on_event(b"message_delta", br#"{"usage":{"output_tokens":6}}"#);
    m.on_event(b"ping", b"not json");
    m.on_event(b"", b"[1]");
    assert_eq!(m.ignored(), 2);
    assert_eq!(m.model(), Some("claude-x"));
    let info = m.finish(&request(), tokenizer(), true);
    assert_eq!((info.usage.input_tokens, info.usage.output_tokens), (4, 6));
    assert_eq!(info.usage.source, UsageSource::Provider);
}

#[test]
fn text_past_the_cap_is_extrapolated() {
    let words = "lorem ipsum dolor sit amet ".repeat(4); // 108 bytes
    let mut m = AnthropicStreamMeter::with_max_text_bytes(words.len());
    for _ in 0..3 {
        let e = text_delta(0, &words);
        m.on_event(b"content_block_delta", &serde_json::to_vec(&e).unwrap());
    }
    let kept = count(&words);
    assert_eq!(m.output_tokens(request().encoding, tokenizer()), kept * 3);
    // Nothing fits: a token per four bytes.
    let mut m = AnthropicStreamMeter::with_max_text_bytes(0);
    m.on_event(
        b"",
        &serde_json::to_vec(&text_delta(0, "abcdefghi")).unwrap(),
    );
    assert_eq!(m.output_tokens(request().encoding, tokenizer()), 3);
}

// ---- Documented streams (tests/fixtures/cases/anthropic) ----

macro_rules! case_file {
    ($case:literal, $file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cases/anthropic/",
            $case,
            "/",
            $file
        ))
        .as_slice()
    };
}

const BASIC: &[u8] = case_file!("stream_basic", "response.sse");
const TOOL_USE: &[u8] = case_file!("stream_tool_use", "response.sse");
const ERROR: &[u8] = case_file!("stream_error", "response.sse");
/// An older hand-written stream in the documented shape (cache fields 0, non-ASCII text).
const SSE_FIXTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sse/anthropic_messages_stream.sse"
));

/// (event, data) of every SSE event of a stream pushed in the given pieces.
fn sse_events(pieces: &[&[u8]]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    for piece in pieces {
        parser
            .push(piece, &mut |ev| {
                out.push((ev.event.to_vec(), ev.data.to_vec()))
            })
            .unwrap();
    }
    out
}

fn metered(events: &[(Vec<u8>, Vec<u8>)], req: &RequestInfo, completed: bool) -> ResponseInfo {
    let mut m: Box<dyn crate::providers::StreamMeter> = Box::new(AnthropicStreamMeter::new());
    for (event, data) in events {
        m.on_event(event, data);
    }
    m.finish(req, tokenizer(), completed)
}

/// Meters `stream` whole and split in two at every byte offset; all must agree.
fn metered_at_every_split(stream: &[u8], req: &RequestInfo) -> ResponseInfo {
    let whole = metered(&sse_events(&[stream]), req, true);
    for i in 0..=stream.len() {
        let (a, b) = stream.split_at(i);
        assert_eq!(
            metered(&sse_events(&[a, b]), req, true),
            whole,
            "split at {i}"
        );
    }
    whole
}

#[test]
fn documented_basic_stream_split_at_every_byte() {
    let req = request_for(case_file!("stream_basic", "request.json"));
    assert!(req.stream);
    let info = metered_at_every_split(BASIC, &req);
    let (model, usage) = expected(case_file!("stream_basic", "case.json"));
    assert_eq!((usage.input_tokens, usage.output_tokens), (25, 15));
    assert_eq!(info.usage, usage);
    assert_eq!(info.model.as_deref(), Some(model.as_str()));
    assert_eq!(info.problem, None);
    assert_eq!(info.finish, Some(Finish::Stop), "stop_reason: end_turn");
}

#[test]
fn documented_tool_use_stream_split_at_every_byte() {
    let req = request_for(case_file!("stream_tool_use", "request.json"));
    let info = metered_at_every_split(TOOL_USE, &req);
    let (model, usage) = expected(case_file!("stream_tool_use", "case.json"));
    assert_eq!((usage.input_tokens, usage.output_tokens), (472, 89));
    assert_eq!(info.usage, usage);
    assert_eq!(info.model.as_deref(), Some(model.as_str()));
    assert_eq!(
        info.finish,
        Some(Finish::ToolCalls),
        "stop_reason: tool_use"
    );

    let mut m = AnthropicStreamMeter::new();
    for (event, data) in sse_events(&[TOOL_USE]) {
        m.on_event(&event, &data);
    }
    assert_eq!(m.stop_reason(), Some("tool_use"));
    assert!(m.saw_message_stop());
    assert!(m.has_provider_usage());
    // The deltas: the text block, and the tool's name and input JSON.
    let enc = req.encoding;
    assert_eq!(
        m.output_tokens(enc, tokenizer()),
        count("Okay, let's check the weather for San Francisco, CA:")
            + count("get_weather")
            + count(r#"{"location": "San Francisco, CA", "unit": "fahrenheit"}"#)
    );
}

#[test]
fn older_sse_fixture_with_zero_cache_fields() {
    let req = request_for(case_file!("stream_basic", "request.json"));
    let info = metered_at_every_split(SSE_FIXTURE, &req);
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (25, 15)
    );
    assert_eq!(info.usage.source, UsageSource::Provider);
    assert_eq!(info.model.as_deref(), Some("claude-sonnet-4-20250514"));
}

#[test]
fn error_mid_stream_keeps_message_start_counts_split_at_every_byte() {
    let req = request_for(case_file!("stream_error", "request.json"));
    let info = metered_at_every_split(ERROR, &req);
    let (model, usage) = expected(case_file!("stream_error", "case.json"));
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.source),
        (25, 2, UsageSource::Estimate)
    );
    assert_eq!(info.usage, usage);
    assert_eq!(info.model.as_deref(), Some(model.as_str()));
    assert_eq!(
        info.problem, None,
        "the error explains the missing message_delta"
    );
    assert_eq!(info.finish, Some(Finish::Error), "event: error");

    let mut m = AnthropicStreamMeter::new();
    for (event, data) in sse_events(&[ERROR]) {
        m.on_event(&event, &data);
    }
    assert_eq!(m.error_type(), Some("overloaded_error"));
    assert!(!m.saw_message_stop());
}
