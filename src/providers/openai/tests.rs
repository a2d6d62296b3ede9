use super::*;
use crate::tokens::tests::tokenizer;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn cfg() -> Config {
    Config::parse(b"{}").unwrap()
}

/// A cookbook fixture: its request with `model` set, and the API-reported prompt tokens.
fn cookbook(text: &str) -> Vec<(String, Vec<u8>, u64)> {
    let fixture: Value = serde_json::from_str(text).unwrap();
    let expected = fixture["prompt_tokens"].as_object().unwrap();
    assert!(!expected.is_empty());
    expected
        .iter()
        .map(|(model, tokens)| {
            let mut req = fixture["request"].clone();
            req["model"] = json!(model);
            (
                model.clone(),
                serde_json::to_vec(&req).unwrap(),
                tokens.as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn cookbook_messages_match_what_openai_reported() {
    for (model, body, expected) in cookbook(include_str!(
        "../../../tests/fixtures/openai/cookbook_chat.json"
    )) {
        let info = parse_request(&body, &CHAT, &cfg(), tokenizer()).unwrap();
        assert_eq!(info.estimated_input_tokens, expected, "{model}");
    }
}

#[test]
fn cookbook_tools_match_what_openai_reported() {
    for (model, body, expected) in cookbook(include_str!(
        "../../../tests/fixtures/openai/cookbook_tools.json"
    )) {
        let info = parse_request(&body, &CHAT, &cfg(), tokenizer()).unwrap();
        assert_eq!(info.estimated_input_tokens, expected, "{model}");
    }
}

#[test]
fn request_fields() {
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":50,"max_tokens":9,"n":2,"stream":true,"user":"u-1"}"#;
    let info = parse_request(body, &CHAT, &cfg(), tokenizer()).unwrap();
    assert_eq!(info.model, "gpt-4o");
    assert_eq!(info.max_output_tokens, Some(50));
    assert_eq!(info.choices, 2);
    assert!(info.stream);
    assert_eq!(info.user.as_deref(), Some("u-1"));
    assert_eq!(info.encoding, Encoding::O200kBase);
}

#[test]
fn content_parts_tool_calls_and_tool_results_are_counted() {
    let t = tokenizer();
    let plain = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"Describe this picture please"}]}"#;
    let parts = br#"{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"Describe this picture please"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}"#;
    let a = parse_request(plain, &CHAT, &cfg(), t)
        .unwrap()
        .estimated_input_tokens;
    let b = parse_request(parts, &CHAT, &cfg(), t)
        .unwrap()
        .estimated_input_tokens;
    assert_eq!(
        b,
        a + IMAGE_PART_TOKENS,
        "text parts count like a string; an image adds its minimum"
    );
    let with_call = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"18C and sunny"}]}"#;
    let without = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"Weather?"}]}"#;
    let extra = parse_request(with_call, &CHAT, &cfg(), t)
        .unwrap()
        .estimated_input_tokens
        - parse_request(without, &CHAT, &cfg(), t)
            .unwrap()
            .estimated_input_tokens;
    let expected = 2 * TOKENS_PER_MESSAGE
        + t.count(Encoding::O200kBase, "assistant")
        + TOKENS_PER_MESSAGE
        + t.count(Encoding::O200kBase, "get_weather")
        + t.count(Encoding::O200kBase, "{\"city\":\"Paris\"}")
        + t.count(Encoding::O200kBase, "tool")
        + t.count(Encoding::O200kBase, "18C and sunny");
    assert_eq!(extra, expected);
}

#[test]
fn bad_requests_are_classified() {
    let t = tokenizer();
    let cases: [(&[u8], Invalid); 6] = [
        (b"", Invalid::EmptyBody),
        (b"{not json", Invalid::InvalidJson),
        (b"[1,2]", Invalid::InvalidJson),
        (b"{\"model\": \"\xff\xfe\"}", Invalid::NotUtf8),
        (br#"{"messages": []}"#, Invalid::MissingModel),
        (br#"{"model": 42}"#, Invalid::MissingModel),
    ];
    for (body, want) in cases {
        assert_eq!(
            parse_request(body, &CHAT, &cfg(), t).unwrap_err().0,
            want,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        parse_request(deep.as_bytes(), &CHAT, &cfg(), t)
            .unwrap_err()
            .0,
        Invalid::InvalidJson
    );
}

fn request(model: &str) -> RequestInfo {
    RequestInfo {
        model: model.into(),
        stream: false,
        max_output_tokens: None,
        choices: 1,
        user: None,
        encoding: Encoding::O200kBase,
        estimated_input_tokens: 42,
        service_tier: None,
    }
}

#[test]
fn documented_response_usage_is_read() {
    let fixture: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/openai/chat_response.json"
    ))
    .unwrap();
    let body = serde_json::to_vec(&fixture["response"]).unwrap();
    let info = parse_response(&body, &request("gpt-4o"), tokenizer());
    assert_eq!(info.problem, None);
    assert_eq!(info.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(info.finish, Some(Finish::Stop), "finish_reason: stop");
    assert_eq!(
        info.usage,
        Usage {
            input_tokens: 1117,
            output_tokens: 46,
            cached_tokens: 0,
            reasoning_tokens: 0,
            source: UsageSource::Provider,
            ..Usage::default()
        }
    );
}

#[test]
fn cached_and_reasoning_details() {
    let body = br#"{"model":"o3","choices":[],"usage":{"prompt_tokens":2000,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1536},"completion_tokens_details":{"reasoning_tokens":256}}}"#;
    let u = parse_response(body, &request("o3"), tokenizer()).usage;
    assert_eq!(
        (
            u.input_tokens,
            u.output_tokens,
            u.cached_tokens,
            u.reasoning_tokens
        ),
        (2000, 300, 1536, 256)
    );
}

#[test]
fn missing_usage_is_estimated_from_the_returned_message() {
    let t = tokenizer();
    let body = br#"{"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how can I help?"},"finish_reason":"stop"}]}"#;
    let info = parse_response(body, &request("gpt-4o"), t);
    assert_eq!(info.problem, None);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, 42);
    assert_eq!(
        info.usage.output_tokens,
        t.count(Encoding::O200kBase, "Hello there, how can I help?")
    );
}

#[test]
fn malformed_usage_falls_back_to_the_estimate() {
    let t = tokenizer();
    for usage in [
        r#"{"prompt_tokens":-5,"completion_tokens":3}"#,
        r#"{"prompt_tokens":1.5,"completion_tokens":3}"#,
        r#"{"prompt_tokens":"10","completion_tokens":3}"#,
        r#"{"prompt_tokens":10}"#,
        r#"{"prompt_tokens":99999999999,"completion_tokens":3}"#,
        r#"{"prompt_tokens":10,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":11}}"#,
    ] {
        let body = format!(
            r#"{{"model":"gpt-4o","choices":[{{"message":{{"content":"ok"}}}}],"usage":{usage}}}"#
        );
        let info = parse_response(body.as_bytes(), &request("gpt-4o"), t);
        assert_eq!(
            info.problem.as_ref().map(|p| p.0),
            Some(Invalid::BadUsage),
            "{usage}"
        );
        assert_eq!(info.usage.source, UsageSource::Estimate);
        assert_eq!(info.usage.input_tokens, 42);
        assert_eq!(info.usage.output_tokens, t.count(Encoding::O200kBase, "ok"));
    }
}

#[test]
fn unparseable_response_is_estimated() {
    let info = parse_response(b"<html>bad gateway</html>", &request("gpt-4o"), tokenizer());
    assert_eq!(info.problem.map(|p| p.0), Some(Invalid::InvalidJson));
    assert_eq!((info.usage.input_tokens, info.usage.output_tokens), (42, 0));
}

#[test]
fn finish_reasons_are_normalised() {
    for (reason, want) in [
        ("stop", Finish::Stop),
        ("tool_calls", Finish::ToolCalls),
        ("function_call", Finish::ToolCalls),
        ("length", Finish::Length),
        ("content_filter", Finish::ContentFilter),
        ("insufficient_system_resource", Finish::Error),
        ("something_new", Finish::Other),
    ] {
        let body = json!({"model": "gpt-4o", "choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": reason}]});
        let info = parse_response(
            &serde_json::to_vec(&body).unwrap(),
            &request("gpt-4o"),
            tokenizer(),
        );
        assert_eq!(info.finish, Some(want), "{reason}");
    }
}

#[test]
fn several_choices_give_the_least_successful_finish() {
    let choice = |i: u64, reason: &str| json!({"index": i, "message": {"content": "ok"}, "finish_reason": reason});
    let finish = |choices: Vec<Value>| {
        let body = json!({"model": "gpt-4o", "choices": choices, "usage": {"prompt_tokens": 5, "completion_tokens": 6}});
        parse_response(
            &serde_json::to_vec(&body).unwrap(),
            &request("gpt-4o"),
            tokenizer(),
        )
        .finish
    };
    assert_eq!(
        finish(vec![
            choice(0, "stop"),
            choice(1, "length"),
            choice(2, "tool_calls")
        ]),
        Some(Finish::Length)
    );
    assert_eq!(
        finish(vec![choice(0, "stop"), choice(1, "tool_calls")]),
        Some(Finish::ToolCalls)
    );
    assert_eq!(
        finish(vec![choice(0, "content_filter"), choice(1, "length")]),
        Some(Finish::ContentFilter)
    );
    // No choice says how it ended (a usage-only body, or null reasons): no finish.
    assert_eq!(finish(vec![]), None);
    assert_eq!(
        finish(vec![
            json!({"index": 0, "message": {"content": "ok"}, "finish_reason": null})
        ]),
        None
    );
    // A body that is an error object.
    let error = br#"{"error":{"message":"The server had an error","type":"server_error"}}"#;
    assert_eq!(
        parse_response(error, &request("gpt-4o"), tokenizer()).finish,
        Some(Finish::Error)
    );
    assert_eq!(
        parse_response(b"<html>bad gateway</html>", &request("gpt-4o"), tokenizer()).finish,
        None
    );
}
