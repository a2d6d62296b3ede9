//! The one-pass reading against the full one: wherever it answers, the answer is the same.

use super::super::{
    choices_finish, output_tokens, parse_request, parse_response_with, provider_usage, CHAT,
};
use super::*;
use crate::config::Config;
use crate::tokens::tests::tokenizer;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn full(body: &[u8]) -> ResponseInfo {
    let cfg = Config::parse(b"{}").unwrap();
    let req = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});
    let req = parse_request(&serde_json::to_vec(&req).unwrap(), &CHAT, &cfg, tokenizer()).unwrap();
    parse_response_with(
        body,
        &req,
        tokenizer(),
        provider_usage,
        output_tokens,
        choices_finish,
    )
}

const USAGE: &str = r#"{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":2}}"#;

#[test]
fn answers_as_the_full_reading_or_not_at_all() {
    let message = r#"{"index":0,"message":{"role":"assistant","content":"Hello! \"Hi\" \u00e9"},"finish_reason":"stop"}"#;
    let bodies: Vec<String> = vec![
        format!(r#"{{"id":"x","model":"gpt-4o-mini-2024-07-18","choices":[{message}],"usage":{USAGE},"service_tier":"default"}}"#),
        format!(r#"{{"model":"","choices":[{message},{{"finish_reason":"length"}},3,{{"finish_reason":""}},{{"finish_reason":7}}],"usage":{USAGE}}}"#),
        format!(r#"{{"model":5,"service_tier":null,"choices":{{}},"usage":{USAGE},"error":null}}"#),
        format!(r#"{{"choices":[{message}],"usage":{USAGE},"error":{{"message":"x"}}}}"#),
        format!(r#"{{"model":"a","model":"b","usage":null,"usage":{USAGE},"choices":[{{"finish_reason":"stop"}}],"choices":[{{"finish_reason":"content_filter"}}]}}"#),
        format!(r#"{{"usage":{USAGE},"usage":null,"choices":[{message}]}}"#),
        format!(r#"{{"choices":[{message}]}}"#),
        r#"{"choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":1}}"#.into(),
        r#"{"usage":{"prompt_tokens":5,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":9}}}"#.into(),
        r#"{"usage":{"prompt_tokens":5,"completion_tokens":1,"prompt_cache_hit_tokens":2}}"#.into(),
        format!(r#"{{"usage":{USAGE},"x":1e400}}"#),
        r#"{"usage":{"prompt_tokens":5,"completion_tokens":1,"prompt_tokens_details":{"reasoning_tokens":9},"completion_tokens_details":{"cached_tokens":9}}}"#.into(),
        r#"{"usage":{"prompt_tokens":5,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2},"prompt_cache_hit_tokens":"bad"}}"#.into(),
        r#"{"usage":{"prompt_tokens":5,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":null},"prompt_cache_hit_tokens":"bad"}}"#.into(),
        r#"{"usage":{"prompt_tokens":5,"completion_tokens":3,"prompt_tokens_details":[1],"completion_tokens_details":5}}"#.into(),
        r#"{"usage":{"prompt_tokens":5.0,"completion_tokens":3}}"#.into(),
        r#"{"usage":{"prompt_tokens":100000001,"completion_tokens":3}}"#.into(),
        r#"{"usage":{"prompt_tokens":100000000,"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":4}}}"#.into(),
        r#"{"usage":{"prompt_tokens":7,"prompt_tokens":null,"completion_tokens":3}}"#.into(),
        r#"{"usage":{"prompt_tokens":7,"completion_tokens":3,"completion_tokens":{}}}"#.into(),
        r#"{"usage":5}"#.into(),
        format!(r#"{{"usage":{USAGE}}} trailing"#),
        format!(r#"[{{"usage":{USAGE}}}]"#),
        String::new(),
    ];
    let mut answered = 0;
    for body in &bodies {
        let expected = full(body.as_bytes());
        if let Some(got) = with_usage(body.as_bytes()) {
            assert_eq!(got, expected, "{body}");
            answered += 1;
        } else {
            assert!(
                expected.problem.is_some()
                    || expected.usage.source != crate::usage::UsageSource::Provider,
                "the full reading found a usable usage in {body}"
            );
        }
    }
    assert_eq!(answered, 9);
    let mut bad_utf8 = format!(r#"{{"usage":{USAGE},"x":""#).into_bytes();
    bad_utf8.extend_from_slice(b"\xff\"}");
    assert_eq!(with_usage(&bad_utf8), None);
}
