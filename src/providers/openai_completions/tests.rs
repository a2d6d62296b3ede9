use super::*;
use crate::providers::openai_stream::{is_usage_only_chunk, prepare_stream_request, StreamMeter};
use crate::providers::{Finish, Invalid};
use crate::sse::SseParser;
use crate::tokens::tests::tokenizer;
use crate::usage::UsageSource;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const REQUEST: &[u8] =
    include_bytes!("../../../tests/fixtures/cases/openai/completions/request.json");
const RESPONSE: &[u8] =
    include_bytes!("../../../tests/fixtures/cases/openai/completions/response.json");
const STREAM_REQUEST: &[u8] =
    include_bytes!("../../../tests/fixtures/cases/openai/completions_stream/request.json");
const STREAM: &[u8] =
    include_bytes!("../../../tests/fixtures/cases/openai/completions_stream/response.sse");
/// The text of the documented completion.
const TEXT: &str = "\n\nThis is indeed a test";

fn cfg() -> Config {
    Config::parse(b"{}").unwrap()
}

fn request(body: &serde_json::Value) -> RequestInfo {
    parse_request(
        &serde_json::to_vec(body).unwrap(),
        &COMPLETIONS,
        &cfg(),
        tokenizer(),
    )
    .unwrap()
}

#[test]
fn documented_request_is_estimated_as_the_api_billed_it() {
    let info = parse_request(REQUEST, &COMPLETIONS, &cfg(), tokenizer()).unwrap();
    assert_eq!(info.model, "gpt-3.5-turbo-instruct");
    assert_eq!(info.encoding, Encoding::Cl100kBase);
    // The documented response bills 5 prompt tokens for "Say this is a test".
    assert_eq!(info.estimated_input_tokens, 5);
    assert_eq!(info.max_output_tokens, Some(7));
    assert_eq!(info.choices, 1);
    assert!(!info.stream);
    assert!(
        parse_request(STREAM_REQUEST, &COMPLETIONS, &cfg(), tokenizer())
            .unwrap()
            .stream
    );
}

#[test]
fn every_prompt_shape_is_counted() {
    let say = json!("Say this is a test"); // 5 tokens, as documented
    let tokens = json!([1212, 318, 257, 1332, 13]);
    for (prompt, tokens, prompts) in [
        (say.clone(), 5, 1),
        (json!([say, say, "Say this is a test"]), 15, 3),
        (tokens.clone(), 5, 1),
        (json!([tokens, [1, 2, 3]]), 8, 2),
        (json!([]), 0, 1),
    ] {
        let info = request(&json!({"model": "gpt-3.5-turbo-instruct", "prompt": prompt}));
        assert_eq!(info.estimated_input_tokens, tokens, "{prompt}");
        assert_eq!(info.choices, prompts, "{prompt}");
    }
    let none = request(&json!({"model": "gpt-3.5-turbo-instruct"}));
    assert_eq!(
        none.estimated_input_tokens, DEFAULT_PROMPT_TOKENS,
        "no prompt is <|endoftext|>"
    );
    let suffix = request(&json!({"model": "gpt-3.5-turbo-instruct", "prompt": say, "suffix": say}));
    assert_eq!(
        suffix.estimated_input_tokens, 10,
        "the suffix is prompt too"
    );
}

#[test]
fn best_of_completions_are_all_counted_per_prompt() {
    let body = |extra: serde_json::Value| {
        let mut b = json!({"model": "gpt-3.5-turbo-instruct", "prompt": ["a", "b"]});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        request(&b).choices
    };
    assert_eq!(body(json!({})), 2);
    assert_eq!(body(json!({"n": 3})), 6);
    assert_eq!(body(json!({"n": 2, "best_of": 5})), 10);
    assert_eq!(body(json!({"best_of": 4})), 8);
    assert_eq!(body(json!({"n": 0})), 2, "at least one per prompt");
}

#[test]
fn azure_deployment_names_the_model() {
    let ep = Endpoint {
        model: Some("gpt-35-turbo-instruct".into()),
        ..COMPLETIONS
    };
    let info = parse_request(br#"{"prompt":"hi"}"#, &ep, &cfg(), tokenizer()).unwrap();
    assert_eq!(info.model, "gpt-35-turbo-instruct");
    assert_eq!(info.encoding, Encoding::Cl100kBase);
    let err = parse_request(br#"{"prompt":"hi"}"#, &COMPLETIONS, &cfg(), tokenizer());
    assert_eq!(err.unwrap_err().0, Invalid::MissingModel);
}

#[test]
fn documented_response_usage_is_taken() {
    let req = parse_request(REQUEST, &COMPLETIONS, &cfg(), tokenizer()).unwrap();
    let info = parse_response(RESPONSE, &req, tokenizer());
    assert_eq!(info.model.as_deref(), Some("gpt-3.5-turbo-instruct"));
    assert_eq!(info.usage.input_tokens, 5);
    assert_eq!(info.usage.output_tokens, 7);
    assert_eq!(info.usage.source, UsageSource::Provider);
    assert_eq!(info.problem, None);
    assert_eq!(info.finish, Some(Finish::Length), "finish_reason: length");
}

#[test]
fn response_without_usage_counts_each_choice_text() {
    let t = tokenizer();
    let req = parse_request(REQUEST, &COMPLETIONS, &cfg(), t).unwrap();
    let mut resp: serde_json::Value = serde_json::from_slice(RESPONSE).unwrap();
    resp.as_object_mut().unwrap().remove("usage");
    resp["choices"] = json!([
        {"text": TEXT, "index": 0, "logprobs": null, "finish_reason": "length"},
        {"text": " Yes", "index": 1, "logprobs": null, "finish_reason": "length"},
    ]);
    let info = parse_response(&serde_json::to_vec(&resp).unwrap(), &req, t);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, 5);
    assert_eq!(
        info.usage.output_tokens,
        t.count(Encoding::Cl100kBase, TEXT) + t.count(Encoding::Cl100kBase, " Yes")
    );
    assert_eq!(info.problem, None);
    let bad = br#"{"model":"m","choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":2}}"#;
    assert_eq!(
        parse_response(bad, &req, t).problem.map(|p| p.0),
        Some(Invalid::BadUsage)
    );
}

// ---- streaming: the chat stream meter serves Completions ----

fn stream_events(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    for piece in pieces {
        parser
            .push(piece, &mut |ev| out.push(ev.data.to_vec()))
            .unwrap();
    }
    out
}

fn metered(events: &[Vec<u8>], completed: bool) -> ResponseInfo {
    let req = parse_request(STREAM_REQUEST, &COMPLETIONS, &cfg(), tokenizer()).unwrap();
    let mut m = StreamMeter::new(true);
    for e in events {
        m.on_event(e);
    }
    m.finish(&req, tokenizer(), completed)
}

#[test]
fn stream_request_gets_include_usage() {
    let prepared = prepare_stream_request(STREAM_REQUEST).unwrap();
    assert!(!prepared.client_asked_for_usage);
    let body: serde_json::Value = serde_json::from_slice(&prepared.body.unwrap()).unwrap();
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["prompt"], "Say this is a test");
}

#[test]
fn documented_stream_gives_the_usage_split_at_every_byte() {
    let whole = metered(&stream_events(&[STREAM]), true);
    assert_eq!(whole.usage.input_tokens, 5);
    assert_eq!(whole.usage.output_tokens, 7);
    assert_eq!(whole.usage.source, UsageSource::Provider);
    assert_eq!(whole.model.as_deref(), Some("gpt-3.5-turbo-instruct"));
    assert_eq!(whole.finish, Some(Finish::Length), "finish_reason: length");
    for cut in 0..=STREAM.len() {
        let (a, b) = STREAM.split_at(cut);
        assert_eq!(
            metered(&stream_events(&[a, b]), true),
            whole,
            "cut at {cut}"
        );
    }
}

#[test]
fn usage_chunk_is_recognised_and_text_deltas_are_estimated() {
    let events = stream_events(&[STREAM]);
    let usage_only: Vec<bool> = events.iter().map(|e| is_usage_only_chunk(e)).collect();
    assert_eq!(usage_only.iter().filter(|u| **u).count(), 1);
    assert_eq!(usage_only.get(events.len() - 2), Some(&true));
    let without: Vec<Vec<u8>> = events
        .into_iter()
        .filter(|e| !is_usage_only_chunk(e))
        .collect();
    let info = metered(&without, true);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, 5);
    assert_eq!(
        info.usage.output_tokens,
        tokenizer().count(Encoding::Cl100kBase, TEXT),
        "the choices' text, joined"
    );
    assert_eq!(info.problem.map(|p| p.0), Some(Invalid::BadUsage));
    let mut m = StreamMeter::new(true);
    for e in &stream_events(&[STREAM]) {
        m.on_event(e);
    }
    assert_eq!(
        m.finish_reasons().get(&0).map(String::as_str),
        Some("length")
    );
}
