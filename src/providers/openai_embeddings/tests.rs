use super::*;
use crate::providers::Invalid;
use crate::tokens::tests::tokenizer;
use crate::tokens::Encoding;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const REQUEST: &[u8] =
    include_bytes!("../../../tests/fixtures/cases/openai/embeddings/request.json");
const RESPONSE: &[u8] =
    include_bytes!("../../../tests/fixtures/cases/openai/embeddings/response.json");
const ARRAY_REQUEST: &[u8] =
    include_bytes!("../../../tests/fixtures/cases/openai/embeddings_array/request.json");

fn cfg() -> Config {
    Config::parse(b"{}").unwrap()
}

fn request(body: &serde_json::Value) -> RequestInfo {
    parse_request(
        &serde_json::to_vec(body).unwrap(),
        &EMBEDDINGS,
        &cfg(),
        tokenizer(),
    )
    .unwrap()
}

#[test]
fn documented_input_is_counted_as_the_api_billed_it() {
    let info = parse_request(REQUEST, &EMBEDDINGS, &cfg(), tokenizer()).unwrap();
    assert_eq!(info.model, "text-embedding-ada-002");
    assert_eq!(info.encoding, Encoding::Cl100kBase);
    // The documented response: "usage": {"prompt_tokens": 8, "total_tokens": 8}.
    assert_eq!(info.estimated_input_tokens, 8);
    assert!(!info.stream);
    assert_eq!(info.max_output_tokens, None);
    // 8 for the documented input, 5 for "This is a test." (the documented [1212, 318, 257,
    // 1332, 13]).
    let array = parse_request(ARRAY_REQUEST, &EMBEDDINGS, &cfg(), tokenizer()).unwrap();
    assert_eq!(array.estimated_input_tokens, 13);
}

#[test]
fn token_arrays_count_their_length() {
    let tokens = json!([1212, 318, 257, 1332, 13]);
    for (input, expected) in [
        (tokens.clone(), 5),
        (json!([tokens, [1, 2, 3]]), 8),
        (json!("This is a test."), 5),
        (json!(["This is a test.", "This is a test."]), 10),
        (json!(null), 0),
        (json!(7), 0),
    ] {
        let info = request(&json!({"model": "text-embedding-3-small", "input": input}));
        assert_eq!(info.estimated_input_tokens, expected, "{input}");
    }
}

#[test]
fn embedding_models_use_cl100k() {
    for model in [
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
    ] {
        let info = request(&json!({"model": model, "input": "x"}));
        assert_eq!(info.encoding, Encoding::Cl100kBase, "{model}");
    }
}

#[test]
fn azure_deployment_names_the_model() {
    let ep = Endpoint {
        model: Some("text-embedding-3-large".into()),
        ..EMBEDDINGS
    };
    let info = parse_request(br#"{"input":"This is a test."}"#, &ep, &cfg(), tokenizer()).unwrap();
    assert_eq!(info.model, "text-embedding-3-large");
    assert_eq!(info.estimated_input_tokens, 5);
}

#[test]
fn documented_response_is_input_only() {
    let req = parse_request(REQUEST, &EMBEDDINGS, &cfg(), tokenizer()).unwrap();
    let info = parse_response(RESPONSE, &req, tokenizer());
    assert_eq!(info.model.as_deref(), Some("text-embedding-ada-002"));
    assert_eq!(
        info.usage,
        Usage {
            input_tokens: 8,
            output_tokens: 0,
            source: UsageSource::Provider,
            ..Usage::default()
        }
    );
    assert_eq!(info.problem, None);
    assert_eq!(info.finish, None, "embeddings report no finish");
}

#[test]
fn unusable_usage_falls_back_to_the_request_count() {
    let req = request(&json!({"model": "text-embedding-3-small", "input": "This is a test."}));
    for (usage, problem) in [
        (json!(null), None),
        (json!({"total_tokens": 5}), Some(Invalid::BadUsage)),
        (
            json!({"prompt_tokens": 6, "total_tokens": 5}),
            Some(Invalid::BadUsage),
        ),
        (
            json!({"prompt_tokens": "5", "total_tokens": 5}),
            Some(Invalid::BadUsage),
        ),
        (
            json!({"prompt_tokens": 5, "total_tokens": -5}),
            Some(Invalid::BadUsage),
        ),
    ] {
        let body = json!({"object": "list", "data": [], "model": "text-embedding-3-small", "usage": usage});
        let info = parse_response(&serde_json::to_vec(&body).unwrap(), &req, tokenizer());
        assert_eq!(info.problem.map(|p| p.0), problem, "{usage}");
        assert_eq!(info.usage.source, UsageSource::Estimate, "{usage}");
        assert_eq!(info.usage.input_tokens, 5, "{usage}");
        assert_eq!(info.usage.output_tokens, 0, "{usage}");
        assert_eq!(info.model.as_deref(), Some("text-embedding-3-small"));
    }
    let info = parse_response(b"not json", &req, tokenizer());
    assert_eq!(info.problem.map(|p| p.0), Some(Invalid::InvalidJson));
    assert_eq!(info.usage.input_tokens, 5);
    // A usage with only prompt_tokens is enough.
    let info = parse_response(br#"{"usage":{"prompt_tokens":4}}"#, &req, tokenizer());
    assert_eq!(info.usage.input_tokens, 4);
    assert_eq!(info.usage.source, UsageSource::Provider);
}
