use super::*;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn run(api: Api, body: Value, max: Option<u64>, model: Option<&str>) -> Value {
    let out = apply(api, false, body.to_string().as_bytes(), max, model).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn each_api_gets_its_own_output_field() {
    // Field names from each API reference: OpenAI chat `max_completion_tokens`/`max_tokens`,
    // Completions and Anthropic Messages `max_tokens`, Responses `max_output_tokens`, Gemini
    // `generationConfig.maxOutputTokens`, Bedrock Converse `inferenceConfig.maxTokens`.
    let v = run(
        Api::OpenAiChat,
        json!({"model": "gpt-4o", "messages": []}),
        Some(9),
        None,
    );
    assert_eq!(v["max_tokens"], 9);
    let v = run(
        Api::OpenAiChat,
        json!({"model": "o3-mini", "messages": []}),
        Some(9),
        None,
    );
    assert_eq!(v["max_completion_tokens"], 9);
    assert!(v.get("max_tokens").is_none());
    let v = run(
        Api::OpenAiChat,
        json!({"model": "gpt-4o", "max_completion_tokens": 100}),
        Some(9),
        None,
    );
    assert_eq!(v["max_completion_tokens"], 9);
    let v = run(
        Api::AnthropicMessages,
        json!({"model": "claude", "max_tokens": 1024}),
        Some(9),
        None,
    );
    assert_eq!(v["max_tokens"], 9);
    let v = run(
        Api::OpenAiResponses,
        json!({"model": "gpt-4o", "input": "hi"}),
        Some(9),
        None,
    );
    assert_eq!(v["max_output_tokens"], 9);
    let v = run(
        Api::Gemini,
        json!({"contents": [], "generationConfig": {"temperature": 1}}),
        Some(9),
        None,
    );
    assert_eq!(
        v["generationConfig"],
        json!({"temperature": 1, "maxOutputTokens": 9})
    );
    let v = run(Api::BedrockConverse, json!({"messages": []}), Some(9), None);
    assert_eq!(v["inferenceConfig"]["maxTokens"], 9);
    assert!(apply(Api::OpenAiEmbeddings, false, b"{}", Some(1), None).is_err());
}

#[test]
fn the_model_is_rewritten_only_where_the_body_names_it() {
    let v = run(
        Api::OpenAiChat,
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}),
        None,
        Some("gpt-4o-mini"),
    );
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["messages"][0]["content"], "x");
    assert!(apply(Api::Gemini, true, b"{\"contents\":[]}", None, Some("m")).is_err());
    assert!(apply(Api::OpenAiChat, false, b"[1]", None, Some("m")).is_err());
}

/// A downgrade to a reasoning model carries the output limit in the only field it takes:
/// `max_tokens` is "not compatible with o-series models"
/// (<https://platform.openai.com/docs/api-reference/chat/create#chat-create-max_tokens>).
#[test]
fn a_downgrade_to_a_reasoning_model_moves_the_output_limit() {
    let body = json!({"model": "gpt-4o", "max_tokens": 500, "messages": []});
    let v = run(Api::OpenAiChat, body.clone(), None, Some("o4-mini"));
    assert_eq!(v["max_completion_tokens"], 500);
    assert!(v.get("max_tokens").is_none(), "{v}");
    let v = run(Api::OpenAiChat, body, Some(100), Some("o4-mini"));
    assert_eq!(v["max_completion_tokens"], 100);
    assert!(v.get("max_tokens").is_none(), "{v}");
    let v = run(
        Api::OpenAiChat,
        json!({"model": "gpt-4o", "messages": []}),
        Some(100),
        Some("o4-mini"),
    );
    assert_eq!(v["max_completion_tokens"], 100);
    assert!(v.get("max_tokens").is_none(), "{v}");
}
