use super::super::tests::{cases, cfg, Case};
use super::*;
use crate::json_stream::{JsonArrayStream, DEFAULT_MAX_ELEMENT_BYTES};
use crate::providers::gemini::parse_request;
use crate::providers::{Api, Endpoint, Finish, StreamMeter};
use crate::sse::SseParser;
use crate::tokens::tests::tokenizer;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const STREAM_ERROR: &[u8] = include_bytes!("../../../../tests/fixtures/gemini/stream_error.json");

/// The events of a response body pushed in these pieces: SSE data, or JSON-array elements.
fn events(sse: bool, pieces: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if sse {
        let mut parser = SseParser::new();
        for p in pieces {
            parser
                .push(p, &mut |ev| out.push(ev.data.to_vec()))
                .unwrap();
        }
        assert_eq!(parser.finish(), crate::sse::EndOfStream::Clean);
    } else {
        let mut parser = JsonArrayStream::new(DEFAULT_MAX_ELEMENT_BYTES);
        for p in pieces {
            parser.push(p, &mut |e| out.push(e.to_vec())).unwrap();
        }
        parser.finish().unwrap();
    }
    out
}

fn metered(events: &[Vec<u8>]) -> GeminiStreamMeter {
    let mut m = GeminiStreamMeter::new();
    for e in events {
        m.on_chunk(e);
    }
    m
}

fn stream_cases() -> Vec<(Case, bool)> {
    cases()
        .into_iter()
        .filter(|c| c.endpoint().stream)
        .map(|c| {
            let sse = c.case["response_content_type"] == "text/event-stream";
            (c, sse)
        })
        .collect()
}

fn request() -> RequestInfo {
    let ep = Endpoint {
        api: Api::Gemini,
        model: Some("gemini-2.0-flash".into()),
        stream: true,
    };
    let body = br#"{"contents":[{"parts":[{"text":"Write a story about a magic backpack."}]}]}"#;
    parse_request(body, &ep, &cfg(), tokenizer()).unwrap()
}

#[test]
fn documented_streams_give_their_expected_usage_however_cut() {
    let cases = stream_cases();
    assert_eq!(cases.len(), 3);
    for (case, sse) in &cases {
        let req = case.request_info();
        let body = case.response;
        let whole = events(*sse, &[body]);
        assert_eq!(whole.len(), 3, "{}", case.name);
        let info = metered(&whole).finish(&req, tokenizer(), true);
        case.check(&info);
        assert_eq!(info.finish, Some(Finish::Stop), "finishReason: STOP");
        for cut in 0..=body.len() {
            let (a, b) = body.split_at(cut);
            let pieces = events(*sse, &[a, b]);
            assert_eq!(pieces, whole, "{} cut at {cut}", case.name);
            let finish = metered(&pieces).finish(&req, tokenizer(), true).finish;
            assert_eq!(finish, info.finish, "{} cut at {cut}", case.name);
        }
    }
}

#[test]
fn a_stream_cut_after_the_prompt_count_keeps_it_and_estimates_the_output() {
    let (case, sse) = stream_cases()
        .into_iter()
        .find(|(c, _)| c.name == "stream_sse")
        .unwrap();
    let req = case.request_info();
    let all = events(sse, &[case.response]);
    // Only the first chunk ("Once", promptTokenCount 8) arrived.
    let info = metered(&all[..1]).finish(&req, tokenizer(), false);
    let once = tokenizer().count(req.encoding, "Once");
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (8, once)
    );
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.problem, None);
    assert_eq!(info.model.as_deref(), Some("gemini-2.0-flash"));
    assert_eq!(info.finish, None, "no finishReason yet");
    // Once the last chunk arrived, a cut no longer matters.
    let info = metered(&all).finish(&req, tokenizer(), false);
    case.check(&info);
}

#[test]
fn a_vertex_stream_cut_before_its_counts_is_estimated() {
    let (case, sse) = stream_cases()
        .into_iter()
        .find(|(c, _)| c.name == "vertex_stream_json_array")
        .unwrap();
    let req = case.request_info();
    let all = events(sse, &[case.response]);
    let m = metered(&all[..2]);
    assert!(!m.has_provider_usage());
    let info = m.finish(&req, tokenizer(), false);
    let text = "The sky is blue because air scatters blue sunlight";
    assert_eq!(
        info.usage,
        Usage {
            input_tokens: req.estimated_input_tokens,
            output_tokens: tokenizer().count(req.encoding, text),
            source: UsageSource::Estimate,
            ..Usage::default()
        }
    );
    assert_eq!(info.problem, None, "a cut stream is expected to lack usage");
    // The same stream, said to have completed without counts, is a problem.
    let info = metered(&all[..2]).finish(&req, tokenizer(), true);
    assert_eq!(info.problem.map(|p| p.0), Some(Invalid::BadUsage));
}

#[test]
fn an_error_inside_the_stream_is_recorded() {
    let req = request();
    let all = events(false, &[STREAM_ERROR]);
    let m = metered(&all);
    assert_eq!(
        m.error_message(),
        Some("The model is overloaded. Please try again later.")
    );
    assert_eq!(m.error().unwrap()["status"], "UNAVAILABLE");
    assert_eq!(m.chunks(), 2);
    let info = m.finish(&req, tokenizer(), true);
    // The prompt count arrived, the output count never did: the text is counted.
    let text = "Here is the first part of a long answer about [brackets] and \"quotes\"";
    assert_eq!(info.usage.input_tokens, 5);
    assert_eq!(
        info.usage.output_tokens,
        tokenizer().count(req.encoding, text)
    );
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.problem, None);
    assert_eq!(info.finish, Some(Finish::Error));
    // An error with no usage at all is no usage problem either.
    let info = metered(&all[1..]).finish(&req, tokenizer(), true);
    assert_eq!((info.problem, info.usage.output_tokens), (None, 0));
}

#[test]
fn the_latest_usage_wins_even_a_malformed_one() {
    let req = request();
    let chunk = |usage: Value| serde_json::to_vec(&json!({"usageMetadata": usage})).unwrap();
    let good =
        chunk(json!({"promptTokenCount": 8, "candidatesTokenCount": 4, "totalTokenCount": 12}));
    let bad = chunk(json!({"promptTokenCount": 8, "candidatesTokenCount": -4}));
    let empty = chunk(json!({"trafficType": "ON_DEMAND"}));
    let info = metered(&[good.clone(), empty.clone()]).finish(&req, tokenizer(), true);
    assert_eq!(
        (info.usage.output_tokens, info.usage.source),
        (4, UsageSource::Provider)
    );
    let info = metered(&[good.clone(), bad.clone()]).finish(&req, tokenizer(), true);
    assert_eq!(info.problem.map(|p| p.0), Some(Invalid::BadUsage));
    assert_eq!(info.usage.source, UsageSource::Estimate);
    let info = metered(&[bad, good]).finish(&req, tokenizer(), true);
    assert_eq!((info.problem, info.usage.output_tokens), (None, 4));
}

#[test]
fn candidates_and_kinds_are_counted_apart_and_non_objects_ignored() {
    let req = request();
    let t = tokenizer();
    let count = |s: &str| t.count(req.encoding, s);
    let call = json!({"name": "get_weather", "args": {"city": "Paris"}});
    let chunks = [
        json!({"candidates": [
            {"content": {"parts": [{"text": "Let me think", "thought": true}]}},
            {"index": 1, "content": {"parts": [{"text": "Hel"}]}},
        ]}),
        json!({"candidates": [
            {"content": {"parts": [{"text": " about it", "thought": true}, {"text": "Sunny"}]}, "finishReason": "STOP"},
            {"index": 1, "content": {"parts": [{"text": "lo"}, {"functionCall": call}]}, "finishReason": "MAX_TOKENS"},
        ], "modelVersion": "gemini-2.5-flash"}),
    ];
    let mut data: Vec<Vec<u8>> = chunks
        .iter()
        .map(|c| serde_json::to_vec(c).unwrap())
        .collect();
    data.push(b"[1, 2]".to_vec());
    data.push(b"not json".to_vec());
    let m = metered(&data);
    assert_eq!((m.chunks(), m.ignored()), (2, 2));
    assert_eq!(m.model(), Some("gemini-2.5-flash"));
    assert_eq!(m.finish_reasons().get(&0).map(String::as_str), Some("STOP"));
    assert_eq!(
        m.finish_reasons().get(&1).map(String::as_str),
        Some("MAX_TOKENS")
    );
    let expected =
        count("Let me think about it") + count("Sunny") + count("Hello") + count(&call.to_string());
    assert_eq!(m.output_tokens(req.encoding, t), expected);
    let info = m.finish(&req, t, false);
    assert_eq!(info.usage.output_tokens, expected);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    assert_eq!(
        info.finish,
        Some(Finish::Length),
        "STOP and MAX_TOKENS: the worse"
    );
}

#[test]
fn finish_from_the_chunks_seen() {
    let req = request();
    let chunk = |v: Value| serde_json::to_vec(&v).unwrap();
    let finish = |data: &[Vec<u8>]| metered(data).finish(&req, tokenizer(), true).finish;
    // A function call streamed in one chunk, STOP in the next: the candidate asked for tools.
    let call = chunk(
        json!({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]}}]}),
    );
    let stop = chunk(
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]},
        "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 5}}),
    );
    assert_eq!(
        finish(&[call.clone(), stop.clone()]),
        Some(Finish::ToolCalls)
    );
    assert_eq!(finish(std::slice::from_ref(&stop)), Some(Finish::Stop));
    assert_eq!(finish(&[call]), None, "cut before finishReason");
    // A blocked prompt; an error after the last chunk.
    let blocked = chunk(
        json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}}),
    );
    assert_eq!(finish(&[blocked]), Some(Finish::ContentFilter));
    let error =
        chunk(json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}));
    assert_eq!(finish(&[stop, error]), Some(Finish::Error));
}

#[test]
fn text_past_the_cap_is_extrapolated() {
    let req = request();
    let t = tokenizer();
    let part = |s: &str| {
        serde_json::to_vec(&json!({"candidates": [{"content": {"parts": [{"text": s}]}}]})).unwrap()
    };
    let word = "lorem ipsum ";
    let mut m = GeminiStreamMeter::with_max_text_bytes(word.len() * 4);
    for _ in 0..12 {
        m.on_chunk(&part(word));
    }
    let kept = t.count(req.encoding, &word.repeat(4));
    // 8 more words past the cap, at the kept text's rate.
    assert_eq!(
        m.output_tokens(req.encoding, t),
        kept + (kept * 8).div_ceil(4)
    );
    // Nothing kept at all: four bytes a token.
    let mut m = GeminiStreamMeter::with_max_text_bytes(0);
    m.on_chunk(&part("abcdefgh"));
    assert_eq!(m.output_tokens(req.encoding, t), 2);
}

#[test]
fn works_as_a_boxed_stream_meter() {
    let (case, sse) = stream_cases().into_iter().next().unwrap();
    let mut m: Box<dyn StreamMeter> = Box::new(GeminiStreamMeter::default());
    for e in events(sse, &[case.response]) {
        m.on_event(b"", &e);
    }
    case.check(&m.finish(&case.request_info(), tokenizer(), true));
}
