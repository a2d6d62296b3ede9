use super::*;
use crate::tokens::tests::tokenizer;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

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

fn cfg() -> Config {
    Config::parse(b"{}").unwrap()
}

fn request(body: &[u8]) -> RequestInfo {
    parse_request(body, &MESSAGES, &cfg(), tokenizer()).unwrap()
}

fn count(text: &str) -> u64 {
    tokenizer().count(cfg().default_encoding, text)
}

/// A case's `expected` block as (model, usage).
pub(super) fn expected(case_json: &[u8]) -> (String, Usage) {
    let case: Value = serde_json::from_slice(case_json).unwrap();
    let e = &case["expected"];
    let n = |k: &str| e[k].as_u64().unwrap();
    let source = match e["usage_source"].as_str().unwrap() {
        "provider" => UsageSource::Provider,
        "estimate" => UsageSource::Estimate,
        other => panic!("{other}"),
    };
    let usage = Usage {
        input_tokens: n("input_tokens"),
        output_tokens: n("output_tokens"),
        cached_tokens: n("cached_tokens"),
        cache_write_5m_tokens: n("cache_write_5m_tokens"),
        cache_write_1h_tokens: n("cache_write_1h_tokens"),
        reasoning_tokens: n("reasoning_tokens"),
        source,
    };
    (e["model"].as_str().unwrap().to_string(), usage)
}

// ---- Requests ----

#[test]
fn request_fields() {
    let body = br#"{"model":"claude-sonnet-4-20250514","max_tokens":1024,"stream":true,
        "metadata":{"user_id":"u-42"},"service_tier":"standard_only",
        "messages":[{"role":"user","content":"Hello, world"}]}"#;
    let info = request(body);
    assert_eq!(info.model, "claude-sonnet-4-20250514");
    assert!(info.stream);
    assert_eq!(info.max_output_tokens, Some(1024));
    assert_eq!(info.choices, 1);
    assert_eq!(info.user.as_deref(), Some("u-42"));
    assert_eq!(info.service_tier.as_deref(), Some("standard_only"));
    assert_eq!(info.encoding, cfg().default_encoding);
}

#[test]
fn path_model_and_path_stream_stand_in_for_the_body() {
    // Vertex AI: `…/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict`.
    let ep = Endpoint {
        api: Api::AnthropicMessages,
        model: Some("claude-sonnet-4@20250514".into()),
        stream: true,
    };
    let body = br#"{"anthropic_version":"vertex-2023-10-16","max_tokens":256,"messages":[{"role":"user","content":"Hi"}]}"#;
    let info = parse_request(body, &ep, &cfg(), tokenizer()).unwrap();
    assert_eq!(info.model, "claude-sonnet-4@20250514");
    assert!(info.stream);
    // A body `model` wins over the path's.
    let body = br#"{"model":"claude-3-haiku-20240307","messages":[]}"#;
    let info = parse_request(body, &ep, &cfg(), tokenizer()).unwrap();
    assert_eq!(info.model, "claude-3-haiku-20240307");
}

#[test]
fn request_problems() {
    let problem = |body: &[u8]| {
        parse_request(body, &MESSAGES, &cfg(), tokenizer())
            .unwrap_err()
            .0
    };
    assert_eq!(problem(b""), Invalid::EmptyBody);
    assert_eq!(problem(b"\xff{}"), Invalid::NotUtf8);
    assert_eq!(problem(b"{\"model\":"), Invalid::InvalidJson);
    assert_eq!(problem(b"[]"), Invalid::InvalidJson);
    assert_eq!(problem(br#"{"messages":[]}"#), Invalid::MissingModel);
    assert_eq!(
        problem(br#"{"model":"","messages":[]}"#),
        Invalid::MissingModel
    );
    assert_eq!(
        problem(br#"{"model":7,"messages":[]}"#),
        Invalid::MissingModel
    );
}

#[test]
fn prompt_estimate_of_strings() {
    // "Hello, world" is Hello / , / world and "You are a scientist" You / are / a / scientist
    // in both o200k_base and cl100k_base.
    let info = request(br#"{"model":"claude-sonnet-4-20250514","system":"You are a scientist","messages":[{"role":"user","content":"Hello, world"}]}"#);
    assert_eq!(
        info.estimated_input_tokens,
        REPLY_PRIMING + TOKENS_PER_MESSAGE + 4 + TOKENS_PER_MESSAGE + 3
    );
    let info = request(br#"{"model":"claude-sonnet-4-20250514","messages":[]}"#);
    assert_eq!(info.estimated_input_tokens, REPLY_PRIMING);
}

#[test]
fn prompt_estimate_of_content_blocks() {
    let input = json!({"location": "San Francisco, CA"});
    let body = json!({
        "model": "claude-sonnet-4-20250514",
        "system": [{"type": "text", "text": "You are a scientist", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Hello, world"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Grass is green."}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Let me check the weather.", "signature": "EqQBCgIYAhIM"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": input},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "15 degrees"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "content": [{"type": "text", "text": "Sunny"}]},
            ]},
        ],
    });
    let info = request(&serde_json::to_vec(&body).unwrap());
    let text = count("Hello, world")
        + count("Grass is green.")
        + count("Let me check the weather.")
        + count("get_weather")
        + count(r#"{"location":"San Francisco, CA"}"#)
        + count("15 degrees")
        + count("Sunny")
        + 4; // "You are a scientist"
    assert_eq!(
        info.estimated_input_tokens,
        REPLY_PRIMING + 4 * TOKENS_PER_MESSAGE + IMAGE_BLOCK_TOKENS + text
    );
}

#[test]
fn prompt_estimate_adds_the_documented_tool_system_prompt() {
    let tool_req = case_file!("stream_tool_use", "request.json");
    let body: Value = serde_json::from_slice(tool_req).unwrap();
    let tool = &body["tools"][0];
    let tool_text = TOKENS_PER_TOOL
        + count("get_weather")
        + count("Get the current weather in a given location")
        + count(&tool["input_schema"].to_string());
    let message = TOKENS_PER_MESSAGE + count("What is the weather like in San Francisco?");
    // The case asks for tool_choice `any`: 313 tokens.
    assert_eq!(
        request(tool_req).estimated_input_tokens,
        REPLY_PRIMING + message + 313 + tool_text
    );
    let mut auto = body.clone();
    auto.as_object_mut().unwrap().remove("tool_choice");
    assert_eq!(
        request(&serde_json::to_vec(&auto).unwrap()).estimated_input_tokens,
        REPLY_PRIMING + message + 346 + tool_text
    );
}

// ---- Responses ----

#[test]
fn documented_response() {
    let req = request(case_file!("messages", "request.json"));
    let info = parse_response(case_file!("messages", "response.json"), &req, tokenizer());
    let (model, usage) = expected(case_file!("messages", "case.json"));
    assert_eq!(info.usage, usage);
    assert_eq!(usage.input_tokens, 2095);
    assert_eq!(info.model.as_deref(), Some(model.as_str()));
    assert_eq!(info.problem, None);
    assert_eq!(info.service_tier, None);
    assert_eq!(info.finish, Some(Finish::Stop), "stop_reason: end_turn");
}

#[test]
fn stop_reasons_are_normalised() {
    let req = request(case_file!("messages", "request.json"));
    for (reason, want) in [
        (json!("end_turn"), Some(Finish::Stop)),
        (json!("stop_sequence"), Some(Finish::Stop)),
        (json!("tool_use"), Some(Finish::ToolCalls)),
        (json!("max_tokens"), Some(Finish::Length)),
        (json!("model_context_window_exceeded"), Some(Finish::Length)),
        (json!("refusal"), Some(Finish::ContentFilter)),
        (json!("pause_turn"), Some(Finish::Other)),
        (json!(null), None),
    ] {
        let body = json!({"type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
            "content": [], "stop_reason": reason, "usage": {"input_tokens": 5, "output_tokens": 2}});
        let info = parse_response(&serde_json::to_vec(&body).unwrap(), &req, tokenizer());
        assert_eq!(info.finish, want, "{reason}");
    }
}

#[test]
fn prompt_caching_response_is_normalised() {
    let req = request(case_file!("prompt_caching", "request.json"));
    let info = parse_response(
        case_file!("prompt_caching", "response.json"),
        &req,
        tokenizer(),
    );
    let (model, usage) = expected(case_file!("prompt_caching", "case.json"));
    assert_eq!(info.usage, usage);
    assert_eq!(info.usage.uncached_input_tokens(), 21);
    assert_eq!(info.model.as_deref(), Some(model.as_str()));
    assert_eq!(info.service_tier.as_deref(), Some("standard"));
}

#[test]
fn cache_write_split() {
    let usage = |u: Value| provider_usage(&u);
    // No split: every write is a 5-minute one.
    let u = usage(json!({"input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 0})).unwrap();
    assert_eq!(
        (
            u.input_tokens,
            u.cache_write_5m_tokens,
            u.cache_write_1h_tokens
        ),
        (1003, 1000, 0)
    );
    // A split short of the total: the rest is 5-minute writes.
    let u = usage(
        json!({"input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": 600,
        "cache_creation": {"ephemeral_5m_input_tokens": 456, "ephemeral_1h_input_tokens": 100}}),
    )
    .unwrap();
    assert_eq!(
        (
            u.input_tokens,
            u.cache_write_5m_tokens,
            u.cache_write_1h_tokens
        ),
        (603, 500, 100)
    );
    // The split alone.
    let u = usage(json!({"input_tokens": 3, "output_tokens": 4,
        "cache_creation": {"ephemeral_1h_input_tokens": 100}}))
    .unwrap();
    assert_eq!(
        (
            u.input_tokens,
            u.cache_write_5m_tokens,
            u.cache_write_1h_tokens
        ),
        (103, 0, 100)
    );
    // Null cache fields are absent ones.
    let u = usage(
        json!({"input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": null,
        "cache_read_input_tokens": null, "cache_creation": null}),
    )
    .unwrap();
    assert_eq!(u.input_tokens, 3);
}

#[test]
fn malformed_usage_is_a_problem_and_estimated() {
    let req = request(case_file!("messages", "request.json"));
    for bad in [
        json!({"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 500,
               "cache_creation": {"ephemeral_5m_input_tokens": 456, "ephemeral_1h_input_tokens": 100}}),
        json!({"input_tokens": -1, "output_tokens": 5}),
        json!({"input_tokens": 10, "output_tokens": "5"}),
        json!({"input_tokens": 10}),
        json!({"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 1.5}),
        json!({"input_tokens": 10, "output_tokens": 5, "cache_creation": 7}),
        json!({"input_tokens": 10, "output_tokens": 5, "cache_creation": {"ephemeral_1h_input_tokens": 1_000_000_000u64}}),
        json!("lots"),
    ] {
        let body = json!({"type": "message", "model": "claude-sonnet-4-20250514",
            "content": [{"type": "text", "text": "Hi! My name is Claude."}], "usage": bad});
        let info = parse_response(&serde_json::to_vec(&body).unwrap(), &req, tokenizer());
        assert_eq!(
            info.problem.as_ref().map(|p| p.0),
            Some(Invalid::BadUsage),
            "{bad}"
        );
        assert_eq!(info.usage.source, UsageSource::Estimate);
        assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
        assert_eq!(info.usage.output_tokens, count("Hi! My name is Claude."));
        assert_eq!(info.model.as_deref(), Some("claude-sonnet-4-20250514"));
    }
}

#[test]
fn missing_usage_is_estimated_from_the_content() {
    let req = request(case_file!("messages", "request.json"));
    let body = json!({"type": "message", "content": [
        {"type": "thinking", "thinking": "The user wants the weather.", "signature": "x"},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"location": "Paris"}},
    ]});
    let info = parse_response(&serde_json::to_vec(&body).unwrap(), &req, tokenizer());
    assert_eq!(info.problem, None);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    assert_eq!(
        info.usage.output_tokens,
        count("The user wants the weather.")
            + count("Let me check.")
            + count("get_weather")
            + count(r#"{"location":"Paris"}"#)
    );
}

#[test]
fn error_and_unreadable_bodies() {
    let req = request(case_file!("messages", "request.json"));
    let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let info = parse_response(body, &req, tokenizer());
    assert_eq!(info.usage.source, UsageSource::None);
    assert_eq!(info.usage.input_tokens + info.usage.output_tokens, 0);
    assert_eq!(info.problem, None);
    assert_eq!(info.finish, Some(Finish::Error));
    for (body, reason) in [
        (&b"{"[..], Invalid::InvalidJson),
        (b"", Invalid::EmptyBody),
        (b"\xc3\x28", Invalid::NotUtf8),
    ] {
        let info = parse_response(body, &req, tokenizer());
        assert_eq!(info.problem.map(|p| p.0), Some(reason));
        assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
        assert_eq!(info.usage.source, UsageSource::Estimate);
    }
}
