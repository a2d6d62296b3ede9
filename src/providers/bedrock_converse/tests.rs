use super::*;
use crate::providers::Api;
use crate::tokens::tests::tokenizer;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use serde_json::json;

macro_rules! case {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cases/bedrock/",
            $path
        ))
        .as_slice()
    };
}

const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";

fn cfg() -> Config {
    Config::parse(b"{}").unwrap()
}

fn endpoint(model: &str, stream: bool) -> Endpoint {
    Endpoint {
        api: Api::BedrockConverse,
        model: Some(model.into()),
        stream,
    }
}

fn request(body: &[u8], stream: bool) -> RequestInfo {
    parse_request(body, &endpoint(HAIKU, stream), &cfg(), tokenizer()).unwrap()
}

/// A case's `expected` block.
fn expected(case_json: &[u8]) -> Value {
    serde_json::from_slice::<Value>(case_json).unwrap()["expected"].clone()
}

/// The usage a case expects, for a case whose numbers are all checkable.
fn expected_usage(case_json: &[u8]) -> Usage {
    let e = expected(case_json);
    let n = |k: &str| e[k].as_u64().unwrap();
    assert_eq!(e["usage_source"], "provider");
    Usage {
        input_tokens: n("input_tokens"),
        output_tokens: n("output_tokens"),
        cached_tokens: n("cached_tokens"),
        cache_write_5m_tokens: n("cache_write_5m_tokens"),
        cache_write_1h_tokens: n("cache_write_1h_tokens"),
        reasoning_tokens: n("reasoning_tokens"),
        source: UsageSource::Provider,
    }
}

// ---- Requests ----

#[test]
fn request_fields_come_from_the_path_and_inference_config() {
    let body = case!("converse/request.json");
    let info = request(body, false);
    assert_eq!(info.model, HAIKU);
    assert!(!info.stream);
    assert_eq!(info.max_output_tokens, Some(512));
    assert_eq!(info.choices, 1);
    assert_eq!(info.user, None);
    assert_eq!(info.service_tier, None);
    assert!(request(body, true).stream);
    // Documented case: the path's percent-decoded model ID is the model.
    let e = expected(case!("converse/case.json"));
    assert_eq!(e["model"], HAIKU);
}

#[test]
fn prompt_estimate_counts_every_text_the_model_reads() {
    let body = include_bytes!("../../../tests/fixtures/bedrock/converse_tool_round_trip.json");
    let info = request(body, false);
    let c = |s: &str| tokenizer().count(info.encoding, s);
    let texts = [
        // system: text and guardrail text (the cache point counts nothing)
        "You are a radio assistant.",
        "Do not give medical advice.",
        // messages' roles and text
        "user",
        "Which song is played most on WZPZ?",
        "assistant",
        "I will check the station's charts.",
        // the tool call: name and input as compact JSON
        "top_song",
        r#"{"sign":"WZPZ"}"#,
        "user",
        // the tool result: json as compact JSON, then text (the image counts nothing)
        r#"{"artist":"Elemental Hotel","song":"8 a.m. Sunrise"}"#,
        "Charts updated hourly.",
        // the tool definition
        "top_song",
        "Returns the most played song on a radio station.",
        r#"{"properties":{"sign":{"description":"The station's call sign, such as WZPZ.","type":"string"}},"required":["sign"],"type":"object"}"#,
    ];
    let framing = 3 + 3 * 3; // reply priming, three messages
    let want: u64 = framing + texts.iter().map(|t| c(t)).sum::<u64>();
    assert_eq!(info.estimated_input_tokens, want);
    assert_eq!(info.max_output_tokens, Some(1024));
    assert_eq!(info.service_tier.as_deref(), Some("optimized"));
}

#[test]
fn prompt_variables_are_counted() {
    let info = request(
        br#"{"promptVariables":{"genre":{"text":"jazz"},"era":{"text":"the fifties"}}}"#,
        false,
    );
    let c = |s: &str| tokenizer().count(info.encoding, s);
    assert_eq!(
        info.estimated_input_tokens,
        3 + c("jazz") + c("the fifties")
    );
}

#[test]
fn bad_requests_are_classified() {
    let ep = endpoint(HAIKU, false);
    let err =
        |body: &[u8], ep: &Endpoint| parse_request(body, ep, &cfg(), tokenizer()).unwrap_err().0;
    assert_eq!(err(b"", &ep), Invalid::EmptyBody);
    assert_eq!(err(b"{\"messages\":", &ep), Invalid::InvalidJson);
    assert_eq!(err(b"[]", &ep), Invalid::InvalidJson);
    assert_eq!(err(b"\xff{}", &ep), Invalid::NotUtf8);
    let no_model = Endpoint {
        api: Api::BedrockConverse,
        model: None,
        stream: false,
    };
    assert_eq!(err(b"{}", &no_model), Invalid::MissingModel);
    assert_eq!(err(b"{}", &endpoint("", false)), Invalid::MissingModel);
}

#[test]
fn service_tier_folds_service_tier_and_latency() {
    let tier = |v: Value| service_tier(v.as_object().unwrap());
    let some = |s: &str| Some(s.to_string());
    assert_eq!(tier(json!({})), None);
    assert_eq!(tier(json!({"serviceTier": {"type": "flex"}})), some("flex"));
    assert_eq!(
        tier(
            json!({"serviceTier": {"type": "priority"}, "performanceConfig": {"latency": "optimized"}})
        ),
        some("priority")
    );
    assert_eq!(
        tier(
            json!({"serviceTier": {"type": "default"}, "performanceConfig": {"latency": "optimized"}})
        ),
        some("optimized")
    );
    assert_eq!(
        tier(json!({"performanceConfig": {"latency": "optimized"}})),
        some("optimized")
    );
    assert_eq!(
        tier(json!({"performanceConfig": {"latency": "standard"}})),
        some("standard")
    );
    assert_eq!(
        tier(json!({"serviceTier": {"type": "default"}})),
        some("default")
    );
    assert_eq!(tier(json!({"serviceTier": "flex"})), None);
}

// ---- Responses ----

fn response_case(case_json: &[u8], req_body: &[u8], resp_body: &[u8]) {
    let req = request(req_body, false);
    let info = parse_response(resp_body, &req, tokenizer());
    assert_eq!(info.problem, None);
    assert_eq!(info.usage, expected_usage(case_json));
    assert_eq!(info.model, None);
    // Written by hand from the response's stopReason.
    let case: Value = serde_json::from_slice(case_json).unwrap();
    let want = case["expected_finish"].as_str();
    assert!(want.is_some());
    assert_eq!(info.finish.map(Finish::as_str), want);
}

#[test]
fn stop_reasons_are_normalised() {
    let req = request(case!("converse/request.json"), false);
    for (reason, want) in [
        ("end_turn", Finish::Stop),
        ("stop_sequence", Finish::Stop),
        ("tool_use", Finish::ToolCalls),
        ("max_tokens", Finish::Length),
        ("model_context_window_exceeded", Finish::Length),
        ("guardrail_intervened", Finish::ContentFilter),
        ("content_filtered", Finish::ContentFilter),
        ("malformed_model_output", Finish::Other),
        ("malformed_tool_use", Finish::Other),
    ] {
        let body = json!({"output": {"message": {"role": "assistant", "content": [{"text": "Hi"}]}},
            "stopReason": reason, "usage": {"inputTokens": 5, "outputTokens": 1, "totalTokens": 6}});
        let info = parse_response(&serde_json::to_vec(&body).unwrap(), &req, tokenizer());
        assert_eq!(info.finish, Some(want), "{reason}");
    }
    let body = br#"{"usage":{"inputTokens":5,"outputTokens":1,"totalTokens":6}}"#;
    assert_eq!(parse_response(body, &req, tokenizer()).finish, None);
}

#[test]
fn documented_usage_is_taken() {
    response_case(
        case!("converse/case.json"),
        case!("converse/request.json"),
        case!("converse/response.json"),
    );
}

#[test]
fn cache_reads_and_writes_are_added_to_the_input() {
    response_case(
        case!("converse-cache/case.json"),
        case!("converse-cache/request.json"),
        case!("converse-cache/response.json"),
    );
    response_case(
        case!("converse-cache-1h/case.json"),
        case!("converse-cache-1h/request.json"),
        case!("converse-cache-1h/response.json"),
    );
}

fn usage_of(usage: Value) -> Result<Usage, String> {
    provider_usage(&usage)
}

#[test]
fn cache_details_split_writes_by_ttl() {
    // Without cacheDetails every write has the default 5-minute TTL.
    let u = usage_of(json!({"inputTokens": 3, "outputTokens": 4, "cacheWriteInputTokens": 50}));
    assert_eq!(
        (u.unwrap().cache_write_5m_tokens, 0),
        (50, 0),
        "all 5m without details"
    );
    // Details listing less than the total: the rest is 5-minute.
    let u = usage_of(
        json!({"inputTokens": 3, "outputTokens": 4, "cacheWriteInputTokens": 50,
        "cacheDetails": [{"ttl": "1h", "inputTokens": 20}]}),
    )
    .unwrap();
    assert_eq!(
        (
            u.input_tokens,
            u.cache_write_1h_tokens,
            u.cache_write_5m_tokens
        ),
        (53, 20, 30)
    );
    // Details without cacheWriteInputTokens: their sum is the write count.
    let u = usage_of(json!({"inputTokens": 3, "outputTokens": 4,
        "cacheDetails": [{"ttl": "1h", "inputTokens": 20}, {"ttl": "5m", "inputTokens": 7}]}))
    .unwrap();
    assert_eq!(
        (
            u.input_tokens,
            u.cache_write_1h_tokens,
            u.cache_write_5m_tokens
        ),
        (30, 20, 7)
    );
}

#[test]
fn malformed_usage_is_refused() {
    for bad in [
        json!({"inputTokens": -1, "outputTokens": 4}),
        json!({"inputTokens": "3", "outputTokens": 4}),
        json!({"inputTokens": 3}),
        json!({"outputTokens": 4}),
        json!({"inputTokens": 3, "outputTokens": 4.5}),
        json!({"inputTokens": 3, "outputTokens": 4, "cacheReadInputTokens": 1_000_000_000_000u64}),
        json!({"inputTokens": 3, "outputTokens": 4, "cacheWriteInputTokens": true}),
        json!({"inputTokens": 3, "outputTokens": 4, "cacheWriteInputTokens": 5,
            "cacheDetails": [{"ttl": "1h", "inputTokens": 6}]}),
        json!({"inputTokens": 3, "outputTokens": 4, "cacheDetails": {"ttl": "1h"}}),
        json!({"inputTokens": 3, "outputTokens": 4, "cacheDetails": [{"ttl": "1h"}]}),
    ] {
        assert!(usage_of(bad.clone()).is_err(), "{bad}");
    }
}

#[test]
fn bad_usage_falls_back_to_an_estimate_with_a_problem() {
    let req = request(case!("converse/request.json"), false);
    let body = br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hello there"}]}},
        "usage":{"inputTokens":-5,"outputTokens":2,"totalTokens":-3}}"#;
    let info = parse_response(body, &req, tokenizer());
    assert_eq!(info.problem.unwrap().0, Invalid::BadUsage);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    assert_eq!(
        info.usage.output_tokens,
        tokenizer().count(req.encoding, "Hello there")
    );
}

#[test]
fn missing_usage_is_estimated_from_the_output_content() {
    let req = request(case!("converse-cache-1h/request.json"), false);
    let mut resp: Value = serde_json::from_slice(case!("converse-cache-1h/response.json")).unwrap();
    resp.as_object_mut().unwrap().remove("usage");
    resp["output"]["message"]["content"]
        .as_array_mut()
        .unwrap()
        .push(json!({"reasoningContent": {"reasoningText": {"text": "Order lookups need the tool."}}}));
    let info = parse_response(&serde_json::to_vec(&resp).unwrap(), &req, tokenizer());
    let c = |s: &str| tokenizer().count(req.encoding, s);
    assert_eq!(info.problem, None);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    assert_eq!(
        info.usage.output_tokens,
        c("Let me look that up.")
            + c("get_order_status")
            + c(r#"{"order_id":"8812"}"#)
            + c("Order lookups need the tool.")
    );
}

#[test]
fn unparsable_response_is_estimated_with_its_problem() {
    let req = request(case!("converse/request.json"), false);
    let info = parse_response(b"not json", &req, tokenizer());
    assert_eq!(info.problem.unwrap().0, Invalid::InvalidJson);
    assert_eq!(info.usage.output_tokens, 0);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
}

#[test]
fn the_response_tier_is_the_one_that_served() {
    let req = request(
        br#"{"messages":[],"performanceConfig":{"latency":"optimized"}}"#,
        false,
    );
    assert_eq!(req.service_tier.as_deref(), Some("optimized"));
    let body = br#"{"usage":{"inputTokens":1,"outputTokens":2,"totalTokens":3},
        "performanceConfig":{"latency":"standard"}}"#;
    let info = parse_response(body, &req, tokenizer());
    assert_eq!(info.service_tier.as_deref(), Some("standard"));
    let body = br#"{"usage":{"inputTokens":1,"outputTokens":2,"totalTokens":3},
        "serviceTier":{"type":"flex"}}"#;
    let info = parse_response(body, &req, tokenizer());
    assert_eq!(info.service_tier.as_deref(), Some("flex"));
}
