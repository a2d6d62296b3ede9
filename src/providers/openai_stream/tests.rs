use super::*;
use crate::config::Config;
use crate::providers::openai::parse_request;
use crate::sse::SseParser;
use crate::tokens::tests::tokenizer;
use crate::usage::UsageSource;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const CHAT: &[u8] = include_bytes!("../../../tests/fixtures/sse/openai_chat_stream.sse");
const TOOLS: &[u8] = include_bytes!("../../../tests/fixtures/openai/chat_stream_tool_calls.sse");

/// The text the deltas of [`CHAT`] spell out.
const CHAT_TEXT: &str = "Hello! Ça va? 👋";

use crate::providers::openai::CHAT as CHAT_ENDPOINT;

fn request(model: &str) -> RequestInfo {
    let body = json!({
        "model": model,
        "messages": [{"role": "user", "content": "Hello!"}],
        "stream": true,
    });
    let cfg = Config::parse(b"{}").unwrap();
    parse_request(
        &serde_json::to_vec(&body).unwrap(),
        &CHAT_ENDPOINT,
        &cfg,
        tokenizer(),
    )
    .unwrap()
}

/// The data of every event of an SSE stream pushed in the given pieces.
fn events(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    for piece in pieces {
        parser
            .push(piece, &mut |ev| out.push(ev.data.to_vec()))
            .unwrap();
    }
    out
}

fn meter(data: &[Vec<u8>]) -> StreamMeter {
    let mut m = StreamMeter::new(true);
    for d in data {
        m.on_event(d);
    }
    m
}

fn parsed(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

// ---- prepare_stream_request ----

#[test]
fn absent_stream_options_are_inserted_leaving_the_rest_byte_for_byte() {
    let body = br#"  {"model":"gpt-4o", "messages":[{"role":"user","content":"hi"}],"stream":true,"temperature":0.7}"#;
    let prepared = prepare_stream_request(body).unwrap();
    assert!(!prepared.client_asked_for_usage);
    let new = prepared.body.unwrap();
    assert_eq!(
        String::from_utf8(new.clone()).unwrap(),
        r#"  {"stream_options":{"include_usage":true},"model":"gpt-4o", "messages":[{"role":"user","content":"hi"}],"stream":true,"temperature":0.7}"#
    );
    let mut expected = parsed(body);
    expected["stream_options"] = json!({"include_usage": true});
    assert_eq!(parsed(&new), expected);
}

#[test]
fn include_usage_false_or_missing_is_set_keeping_other_options() {
    for opts in [
        json!({"include_usage": false, "include_obfuscation": false}),
        json!({"include_obfuscation": false}),
        json!({"include_usage": null, "include_obfuscation": false}),
    ] {
        let body = json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            "stream": true,
            "stream_options": opts,
            "max_completion_tokens": 50,
            "seed": 42,
        });
        let prepared = prepare_stream_request(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert!(!prepared.client_asked_for_usage, "{opts}");
        let mut expected = body.clone();
        expected["stream_options"] = json!({"include_usage": true, "include_obfuscation": false});
        assert_eq!(parsed(&prepared.body.unwrap()), expected, "{opts}");
    }
}

#[test]
fn null_stream_options_become_an_object() {
    let body = br#"{"model":"gpt-4o","messages":[],"stream":true,"stream_options":null}"#;
    let prepared = prepare_stream_request(body).unwrap();
    assert!(!prepared.client_asked_for_usage);
    assert_eq!(
        parsed(&prepared.body.unwrap()),
        json!({"model":"gpt-4o","messages":[],"stream":true,"stream_options":{"include_usage":true}})
    );
}

#[test]
fn include_usage_already_true_is_not_rewritten() {
    let body = br#"{"model":"gpt-4o","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#;
    assert_eq!(
        prepare_stream_request(body),
        Some(StreamRequest {
            body: None,
            client_asked_for_usage: true
        })
    );
}

#[test]
fn non_stream_invalid_or_ill_typed_requests_are_left_alone() {
    for body in [
        &br#"{"model":"gpt-4o","messages":[]}"#[..],
        br#"{"model":"gpt-4o","messages":[],"stream":false}"#,
        br#"{"model":"gpt-4o","messages":[],"stream":"true"}"#,
        br#"{"model":"gpt-4o","messages":[],"stream":true"#,
        b"not json",
        b"",
        b"[1,2]",
        b"\xff\xfe",
        br#"{"model":"gpt-4o","stream":true,"stream_options":"yes"}"#,
        br#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":"true"}}"#,
    ] {
        assert_eq!(
            prepare_stream_request(body),
            None,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

// ---- StreamMeter ----

#[test]
fn documented_stream_gives_the_provider_usage_split_at_every_byte() {
    let whole = events(&[CHAT]);
    assert_eq!(whole.len(), 7, "six chunks and [DONE]");
    let usage_only: Vec<bool> = whole.iter().map(|d| is_usage_only_chunk(d)).collect();
    assert_eq!(usage_only, [false, false, false, false, false, true, false]);

    let expected = Usage {
        input_tokens: 9,
        output_tokens: 6,
        cached_tokens: 0,
        reasoning_tokens: 0,
        source: UsageSource::Provider,
        ..Usage::default()
    };
    let req = request("gpt-4o-mini");
    for cut in 0..=CHAT.len() {
        let (a, b) = CHAT.split_at(cut);
        let data = events(&[a, b]);
        assert_eq!(data, whole, "cut at {cut}");
        let m = meter(&data);
        assert!(m.saw_done() && m.has_provider_usage());
        assert_eq!(m.finish_reasons().get(&0).map(String::as_str), Some("stop"));
        let info = m.finish(&req, tokenizer(), true);
        assert_eq!(info.usage, expected, "cut at {cut}");
        assert_eq!(info.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
        assert_eq!(info.problem, None);
        assert_eq!(info.finish, Some(Finish::Stop), "finish_reason: stop");
    }
    let bytes: Vec<&[u8]> = CHAT.chunks(1).collect();
    assert_eq!(events(&bytes), whole, "one byte at a time");
}

#[test]
fn stream_without_usage_is_estimated_from_the_joined_deltas() {
    let data: Vec<Vec<u8>> = events(&[CHAT])
        .into_iter()
        .filter(|d| !is_usage_only_chunk(d))
        .collect();
    let req = request("gpt-4o-mini");
    let tok = tokenizer();
    let joined = tok.count(req.encoding, CHAT_TEXT);
    assert!(joined > 0);

    let info = meter(&data).finish(&req, tok, true);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    assert_eq!(info.usage.output_tokens, joined);
    assert_eq!(info.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!(
        info.problem.map(|p| p.0),
        Some(Invalid::BadUsage),
        "a completed stream that asked for usage should have had it"
    );

    // A server that was not asked for usage (or is known to ignore it): no problem.
    let mut m = StreamMeter::new(false);
    for d in &data {
        m.on_event(d);
    }
    let info = m.finish(&req, tok, true);
    assert_eq!(info.usage.output_tokens, joined);
    assert_eq!(info.problem, None);
}

#[test]
fn cut_stream_is_charged_for_what_arrived() {
    // Cut inside the fourth chunk: "Hello" and "! Ça va? " arrived, the wave did not.
    let at = CHAT.windows(4).position(|w| w == "👋".as_bytes()).unwrap();
    let data = events(&[CHAT.get(..at).unwrap()]);
    let m = meter(&data);
    assert!(m.finish_reasons().is_empty() && !m.saw_done());
    let req = request("gpt-4o-mini");
    let info = m.finish(&req, tokenizer(), false);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    assert_eq!(
        info.usage.output_tokens,
        tokenizer().count(req.encoding, "Hello! Ça va? ")
    );
    assert_eq!(info.problem, None, "a cut stream is expected to lack usage");
    assert_eq!(info.finish, None, "no choice finished");
    // Cut after the finish_reason, before the usage chunk and [DONE]: the reason seen stays.
    let data = events(&[CHAT]);
    let info = meter(data.get(..5).unwrap()).finish(&req, tokenizer(), false);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.finish, Some(Finish::Stop));
}

#[test]
fn tool_call_deltas() {
    let data = events(&[TOOLS]);
    let req = request("gpt-4o");
    let tok = tokenizer();

    let m = meter(&data);
    assert_eq!(
        m.finish_reasons().get(&0).map(String::as_str),
        Some("tool_calls")
    );
    let info = m.finish(&req, tok, true);
    assert_eq!(info.usage.source, UsageSource::Provider);
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (81, 46)
    );
    assert_eq!(info.finish, Some(Finish::ToolCalls));
    for cut in 0..=TOOLS.len() {
        let (a, b) = TOOLS.split_at(cut);
        let info = meter(&events(&[a, b])).finish(&req, tok, true);
        assert_eq!(info.finish, Some(Finish::ToolCalls), "cut at {cut}");
    }

    // Without the usage chunk: each call's name and joined arguments, counted separately.
    let without: Vec<Vec<u8>> = data
        .into_iter()
        .filter(|d| !is_usage_only_chunk(d))
        .collect();
    let info = meter(&without).finish(&req, tok, false);
    let count = |s: &str| tok.count(req.encoding, s);
    let expected = 2 * count("get_weather")
        + count(r#"{"location": "Paris, France"}"#)
        + count(r#"{"location": "Bogotá, Colombia"}"#);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.output_tokens, expected);
    assert_eq!(info.model.as_deref(), Some("gpt-4o-2024-08-06"));
}

#[test]
fn choices_and_legacy_function_calls_are_counted_apart() {
    let chunk = |index: u64, delta: Value| {
        serde_json::to_vec(&json!({"object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":index,"delta":delta,"finish_reason":null}],"usage":null})).unwrap()
    };
    let data = vec![
        chunk(0, json!({"content": "Hello"})),
        chunk(1, json!({"content": "Good"})),
        chunk(0, json!({"content": " world"})),
        chunk(1, json!({"content": "bye"})),
        chunk(2, json!({"refusal": "I can't"})),
        chunk(
            3,
            json!({"function_call": {"name": "lookup", "arguments": "{\"q\":"}}),
        ),
        chunk(3, json!({"function_call": {"arguments": "\"x\"}"}})),
    ];
    let req = request("gpt-4o");
    let tok = tokenizer();
    let count = |s: &str| tok.count(req.encoding, s);
    let info = meter(&data).finish(&req, tok, false);
    assert_eq!(
        info.usage.output_tokens,
        count("Hello world")
            + count("Goodbye")
            + count("I can't")
            + count("lookup")
            + count(r#"{"q":"x"}"#)
    );
}

#[test]
fn malformed_usage_falls_back_to_the_estimate() {
    let req = request("gpt-4o-mini");
    let content = br#"{"object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi there"},"finish_reason":"stop"}],"usage":null}"#;
    for usage in [
        json!({"prompt_tokens": -1, "completion_tokens": 2}),
        json!({"prompt_tokens": 9, "completion_tokens": 2.5}),
        json!({"prompt_tokens": "9", "completion_tokens": 2}),
        json!({"prompt_tokens": 9}),
        json!({"prompt_tokens": 9, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 10}}),
        json!({"prompt_tokens": 9, "completion_tokens": 2, "completion_tokens_details": {"reasoning_tokens": -3}}),
    ] {
        let last = serde_json::to_vec(&json!({"object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":usage})).unwrap();
        assert!(is_usage_only_chunk(&last));
        let info =
            meter(&[content.to_vec(), last, b"[DONE]".to_vec()]).finish(&req, tokenizer(), true);
        assert_eq!(info.usage.source, UsageSource::Estimate, "{usage}");
        assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
        assert_eq!(
            info.usage.output_tokens,
            tokenizer().count(req.encoding, "Hi there")
        );
        assert_eq!(
            info.problem.map(|p| p.0),
            Some(Invalid::BadUsage),
            "{usage}"
        );
    }
}

#[test]
fn cached_and_reasoning_details_are_taken() {
    let last = br#"{"choices":[],"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":256}}}"#;
    let info = meter(&[last.to_vec()]).finish(&request("o3-mini"), tokenizer(), true);
    assert_eq!(
        info.usage,
        Usage {
            input_tokens: 2006,
            output_tokens: 300,
            cached_tokens: 1920,
            reasoning_tokens: 256,
            source: UsageSource::Provider,
            ..Usage::default()
        }
    );
}

#[test]
fn non_json_data_is_ignored_without_panic() {
    let mut m = StreamMeter::new(true);
    for data in [
        &b"not json"[..],
        b"",
        b"\xff\xfe\xfd",
        b"[1,2,3]",
        b"42",
        b"{\"choices\":",
        br#"{"choices":5,"usage":"lots","model":7}"#,
        br#"{"choices":[1,null,{"index":-1,"delta":{"content":5,"tool_calls":{"x":1}}}]}"#,
        br#"{"choices":[{"index":0,"delta":{"tool_calls":[null,{"index":"a","function":{"arguments":[]}}]}}]}"#,
        b"[DONE]",
    ] {
        m.on_event(data);
    }
    assert_eq!(m.ignored(), 6);
    assert_eq!(m.chunks(), 3);
    assert!(m.saw_done());
    assert!(m.model().is_none());
    let req = request("gpt-4o");
    let info = m.finish(&req, tokenizer(), true);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.output_tokens, 0);
    assert_eq!(
        info.problem.map(|p| p.0),
        Some(Invalid::BadUsage),
        "`usage: \"lots\"` is malformed"
    );
}

#[test]
fn error_mid_stream_is_reported_and_what_arrived_charged() {
    let data = [
        br#"{"object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Once upon"},"finish_reason":null}],"usage":null}"#.to_vec(),
        br#"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#.to_vec(),
    ];
    let m = meter(&data);
    assert_eq!(
        m.error_message(),
        Some("The server had an error while processing your request.")
    );
    assert_eq!(
        m.error().and_then(|e| e.get("type")),
        Some(&json!("server_error"))
    );
    let req = request("gpt-4o");
    let info = m.finish(&req, tokenizer(), true);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(
        info.usage.output_tokens,
        tokenizer().count(req.encoding, "Once upon")
    );
    assert_eq!(info.problem, None, "the error explains the missing usage");
    assert_eq!(info.finish, Some(Finish::Error));
    // An error after a choice finished still makes the stream an error.
    let finished = br#"{"object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#;
    let info = meter(&[finished.to_vec(), data[1].clone()]).finish(&req, tokenizer(), true);
    assert_eq!(info.finish, Some(Finish::Error));
}

#[test]
fn several_choices_give_the_least_successful_finish() {
    let chunk = |index: u64, reason: &str| {
        serde_json::to_vec(&json!({"object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":index,"delta":{},"finish_reason":reason}],"usage":null})).unwrap()
    };
    let req = request("gpt-4o");
    let finish = |data: &[Vec<u8>]| meter(data).finish(&req, tokenizer(), true).finish;
    assert_eq!(
        finish(&[chunk(0, "stop"), chunk(1, "length"), chunk(2, "tool_calls")]),
        Some(Finish::Length)
    );
    assert_eq!(
        finish(&[chunk(1, "function_call"), chunk(0, "stop")]),
        Some(Finish::ToolCalls)
    );
    assert_eq!(
        finish(&[chunk(0, "content_filter"), chunk(1, "length")]),
        Some(Finish::ContentFilter)
    );
    assert_eq!(
        finish(&[chunk(0, "stop"), chunk(1, "whatever")]),
        Some(Finish::Other)
    );
}

#[test]
fn text_past_the_cap_is_extrapolated() {
    let word = "lorem ipsum dolor sit amet ";
    let data: Vec<Vec<u8>> = (0..200)
        .map(|_| {
            serde_json::to_vec(&json!({"choices":[{"index":0,"delta":{"content":word}}]})).unwrap()
        })
        .collect();
    let req = request("gpt-4o");
    let tok = tokenizer();
    let exact = tok.count(req.encoding, &word.repeat(200));
    let capped = {
        let mut m = StreamMeter::with_max_text_bytes(false, word.len() * 50);
        for d in &data {
            m.on_event(d);
        }
        m.output_tokens(req.encoding, tok)
    };
    assert_eq!(meter(&data).output_tokens(req.encoding, tok), exact);
    // Within 2% of the exact count for repetitive text.
    assert!(capped.abs_diff(exact) * 50 <= exact, "{capped} vs {exact}");
}

#[test]
fn joined_text_counts_fewer_tokens_than_delta_by_delta() {
    // Why the meter keeps the text: a word split across deltas is two tokens if counted apart.
    let tok = tokenizer();
    let enc = Encoding::O200kBase;
    let deltas = ["Hel", "lo wor", "ld, how are y", "ou?"];
    let per_delta: u64 = deltas.iter().map(|d| tok.count(enc, d)).sum();
    let joined = tok.count(enc, &deltas.concat());
    assert!(joined < per_delta, "{joined} vs {per_delta}");
}
