use super::*;
use crate::providers::detect::detect;
use crate::providers::{Api, Finish};
use crate::tokens::tests::tokenizer;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// One documented exchange under `tests/fixtures/cases/gemini/`.
pub(crate) struct Case {
    pub name: &'static str,
    pub case: Value,
    pub request: &'static [u8],
    pub response: &'static [u8],
}

macro_rules! case {
    ($name:literal, $response:literal) => {
        Case {
            name: $name,
            case: serde_json::from_str(include_str!(concat!(
                "../../../tests/fixtures/cases/gemini/",
                $name,
                "/case.json"
            )))
            .unwrap(),
            request: include_bytes!(concat!(
                "../../../tests/fixtures/cases/gemini/",
                $name,
                "/request.json"
            )),
            response: include_bytes!(concat!(
                "../../../tests/fixtures/cases/gemini/",
                $name,
                "/",
                $response
            )),
        }
    };
}

pub(crate) fn cases() -> Vec<Case> {
    vec![
        case!("generate_content", "response.json"),
        case!("stream_sse", "response.sse"),
        case!("stream_json_array", "response.json"),
        case!("thinking", "response.json"),
        case!("cached_content", "response.json"),
        case!("vertex_generate_content", "response.json"),
        case!("vertex_stream_json_array", "response.json"),
    ]
}

impl Case {
    pub fn path(&self) -> &str {
        self.case["path"].as_str().unwrap()
    }

    pub fn endpoint(&self) -> Endpoint {
        let (_, ep) = detect(None, self.path(), &[]).unwrap();
        assert_eq!(ep.api, Api::Gemini, "{}", self.name);
        ep
    }

    pub fn request_info(&self) -> RequestInfo {
        parse_request(self.request, &self.endpoint(), &cfg(), tokenizer()).unwrap()
    }

    /// Checks a result against the case's hand-written `expected`.
    pub fn check(&self, info: &ResponseInfo) {
        let e = &self.case["expected"];
        let n = |k: &str| e[k].as_u64().unwrap();
        let u = &info.usage;
        assert_eq!(info.model.as_deref(), e["model"].as_str(), "{}", self.name);
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cached_tokens,
                u.cache_write_5m_tokens,
                u.cache_write_1h_tokens,
                u.reasoning_tokens
            ),
            (
                n("input_tokens"),
                n("output_tokens"),
                n("cached_tokens"),
                n("cache_write_5m_tokens"),
                n("cache_write_1h_tokens"),
                n("reasoning_tokens")
            ),
            "{}",
            self.name
        );
        assert_eq!(
            Some(u.source.as_str()),
            e["usage_source"].as_str(),
            "{}",
            self.name
        );
        assert_eq!(info.problem, None, "{}", self.name);
        // Written by hand from the response's finishReason.
        assert_eq!(
            info.finish.map(Finish::as_str),
            self.case["expected_finish"].as_str(),
            "{}",
            self.name
        );
    }
}

pub(crate) fn cfg() -> Config {
    Config::parse(b"{}").unwrap()
}

fn endpoint(model: &str, stream: bool) -> Endpoint {
    Endpoint {
        api: Api::Gemini,
        model: Some(model.into()),
        stream,
    }
}

fn request(body: &[u8]) -> RequestInfo {
    parse_request(
        body,
        &endpoint("gemini-2.0-flash", false),
        &cfg(),
        tokenizer(),
    )
    .unwrap()
}

fn response(body: Value) -> ResponseInfo {
    let req = request(br#"{"contents":[{"parts":[{"text":"Hello there"}]}]}"#);
    parse_response(&serde_json::to_vec(&body).unwrap(), &req, tokenizer())
}

#[test]
fn documented_responses_give_their_expected_usage() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| !c.endpoint().stream) {
        let req = case.request_info();
        case.check(&parse_response(case.response, &req, tokenizer()));
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn documented_requests_name_the_path_model() {
    for case in cases() {
        let req = case.request_info();
        let expected = case.path().split("/models/").nth(1).unwrap();
        let expected = expected.split(':').next().unwrap();
        assert_eq!(req.model, expected, "{}", case.name);
        assert_eq!(req.stream, case.path().contains(":stream"), "{}", case.name);
        assert!(req.estimated_input_tokens > 0, "{}", case.name);
        assert_eq!(req.choices, 1);
        assert_eq!(req.user, None);
    }
}

#[test]
fn request_fields() {
    let body = include_bytes!("../../../tests/fixtures/gemini/request_tools.json");
    let info = parse_request(
        body,
        &endpoint("models/gemini-2.5-pro", true),
        &cfg(),
        tokenizer(),
    )
    .unwrap();
    assert_eq!(info.model, "gemini-2.5-pro");
    assert!(info.stream);
    assert_eq!(info.max_output_tokens, Some(100));
    assert_eq!(info.choices, 2);
    // Gemini models are not in tiktoken's table: the configured default encoding.
    assert_eq!(info.encoding, cfg().default_encoding);
    // Proto field names work too; candidateCount 0 still means one candidate.
    let snake =
        br#"{"contents":[],"generation_config":{"max_output_tokens":7,"candidate_count":0}}"#;
    let info = request(snake);
    assert_eq!((info.max_output_tokens, info.choices), (Some(7), 1));
}

#[test]
fn the_model_comes_from_the_path_else_the_body() {
    let body = br#"{"model":"models/gemini-1.5-pro","contents":[]}"#;
    let no_path = Endpoint {
        model: None,
        ..endpoint("", false)
    };
    let t = tokenizer();
    assert_eq!(
        parse_request(body, &no_path, &cfg(), t).unwrap().model,
        "gemini-1.5-pro"
    );
    assert_eq!(request(body).model, "gemini-2.0-flash");
    let err = parse_request(br#"{"contents":[]}"#, &no_path, &cfg(), t).unwrap_err();
    assert_eq!(err.0, Invalid::MissingModel);
    for (bad, why) in [
        (&b""[..], Invalid::EmptyBody),
        (b"[1]", Invalid::InvalidJson),
        (b"{\"contents\":", Invalid::InvalidJson),
        (b"\xff{}", Invalid::NotUtf8),
    ] {
        let err = parse_request(bad, &endpoint("m", false), &cfg(), t).unwrap_err();
        assert_eq!(err.0, why, "{bad:?}");
    }
}

#[test]
fn the_estimate_counts_contents_system_instruction_calls_and_declarations() {
    let body = include_bytes!("../../../tests/fixtures/gemini/request_tools.json");
    let req: Value = serde_json::from_slice(body).unwrap();
    let info = request(body);
    let count = |s: &str| tokenizer().count(info.encoding, s);
    let parts = &req["contents"];
    let expected = count("You are a lighting assistant. Keep answers short.")
        + count("Turn the lights down to a romantic level")
        + count(&parts[1]["parts"][0]["functionCall"].to_string())
        + count(&parts[2]["parts"][0]["functionResponse"].to_string())
        + count(&req["tools"][0]["functionDeclarations"][0].to_string());
    assert_eq!(info.estimated_input_tokens, expected);
    // The same request with proto field names, and a string system instruction.
    let snake = json!({
        "system_instruction": "You are a lighting assistant. Keep answers short.",
        "contents": [
            {"role": "user", "parts": [{"text": "Turn the lights down to a romantic level"}]},
            {"role": "model", "parts": [{"function_call": parts[1]["parts"][0]["functionCall"]}]},
            {"role": "user", "parts": [{"function_response": parts[2]["parts"][0]["functionResponse"]}]},
        ],
        "tools": [{"function_declarations": req["tools"][0]["functionDeclarations"]}],
    });
    assert_eq!(
        request(&serde_json::to_vec(&snake).unwrap()).estimated_input_tokens,
        expected
    );
}

#[test]
fn images_count_their_minimum_and_other_media_nothing() {
    let text = request(br#"{"contents":[{"parts":[{"text":"What is this?"}]}]}"#);
    let image = request(
        br#"{"contents":[{"parts":[{"text":"What is this?"},{"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}},{"file_data":{"mime_type":"image/png","file_uri":"gs://b/x.png"}},{"fileData":{"mimeType":"audio/mp3","fileUri":"gs://b/x.mp3"}}]}]}"#,
    );
    assert_eq!(
        image.estimated_input_tokens,
        text.estimated_input_tokens + 2 * IMAGE_PART_TOKENS
    );
}

#[test]
fn usage_is_normalised() {
    // Tool-use prompt tokens are input; thoughts are output and reasoning.
    let info = response(json!({
        "usageMetadata": {"promptTokenCount": 100, "toolUsePromptTokenCount": 40, "cachedContentTokenCount": 60,
            "candidatesTokenCount": 30, "thoughtsTokenCount": 200, "totalTokenCount": 370},
        "modelVersion": "gemini-2.5-pro",
    }));
    assert_eq!(info.model.as_deref(), Some("gemini-2.5-pro"));
    assert_eq!(
        info.usage,
        Usage {
            input_tokens: 140,
            output_tokens: 230,
            cached_tokens: 60,
            reasoning_tokens: 200,
            source: UsageSource::Provider,
            ..Usage::default()
        }
    );
    // Zero counts are omitted from proto3 JSON: a blocked prompt reports its prompt only.
    let info = response(json!({
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
    }));
    assert_eq!((info.usage.input_tokens, info.usage.output_tokens), (9, 0));
    assert_eq!(info.usage.source, UsageSource::Provider);
    assert_eq!(info.finish, Some(Finish::ContentFilter), "a blocked prompt");
}

#[test]
fn finish_reasons_are_normalised() {
    let finish = |candidates: Value| response(json!({"candidates": candidates})).finish;
    let one =
        |reason: &str| json!([{"content": {"parts": [{"text": "Hi"}]}, "finishReason": reason}]);
    for (reason, want) in [
        ("STOP", Finish::Stop),
        ("MAX_TOKENS", Finish::Length),
        ("SAFETY", Finish::ContentFilter),
        ("RECITATION", Finish::ContentFilter),
        ("LANGUAGE", Finish::ContentFilter),
        ("BLOCKLIST", Finish::ContentFilter),
        ("PROHIBITED_CONTENT", Finish::ContentFilter),
        ("SPII", Finish::ContentFilter),
        ("IMAGE_SAFETY", Finish::ContentFilter),
        ("OTHER", Finish::Other),
        ("MALFORMED_FUNCTION_CALL", Finish::Other),
        ("FINISH_REASON_UNSPECIFIED", Finish::Other),
    ] {
        assert_eq!(finish(one(reason)), Some(want), "{reason}");
    }
    // Gemini stops with STOP after a function call: the candidate asked for tools.
    let call = json!([{"content": {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]}, "finishReason": "STOP"}]);
    assert_eq!(finish(call), Some(Finish::ToolCalls));
    // Several candidates: the least successful; none with a reason: no finish.
    let two = json!([
        {"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"},
        {"index": 1, "content": {"parts": [{"text": "Hel"}]}, "finishReason": "MAX_TOKENS"},
    ]);
    assert_eq!(finish(two), Some(Finish::Length));
    assert_eq!(
        finish(json!([{"content": {"parts": [{"text": "Hi"}]}}])),
        None
    );
    let error =
        response(json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}));
    assert_eq!(error.finish, Some(Finish::Error));
}

#[test]
fn thoughts_already_inside_candidates_are_not_added_twice() {
    // totalTokenCount = prompt + candidates: the candidates count includes the thoughts.
    let inside = response(
        json!({"usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 500,
        "thoughtsTokenCount": 450, "totalTokenCount": 510}}),
    );
    assert_eq!(
        (inside.usage.output_tokens, inside.usage.reasoning_tokens),
        (500, 450)
    );
    // Without a total, or with the documented total, they are apart.
    for total in [json!(null), json!(960)] {
        let apart = response(
            json!({"usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 500,
            "thoughtsTokenCount": 450, "totalTokenCount": total}}),
        );
        assert_eq!(apart.usage.output_tokens, 950, "total {total}");
    }
}

#[test]
fn bad_usage_falls_back_to_an_estimate() {
    let text = "The capital of France is Paris.";
    let expected_output = tokenizer().count(request(b"{}").encoding, text);
    for usage in [
        json!({"promptTokenCount": -1, "candidatesTokenCount": 5}),
        json!({"promptTokenCount": 5, "candidatesTokenCount": "5"}),
        json!({"promptTokenCount": 5, "candidatesTokenCount": 1.5}),
        json!({"promptTokenCount": 5, "cachedContentTokenCount": 6}),
        json!({"promptTokenCount": 1_000_000_000_000u64}),
        json!("12 tokens"),
    ] {
        let info = response(json!({
            "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}}],
            "usageMetadata": usage,
            "modelVersion": "gemini-2.0-flash",
        }));
        assert_eq!(
            info.problem.as_ref().map(|p| p.0),
            Some(Invalid::BadUsage),
            "{usage}"
        );
        assert_eq!(info.usage.source, UsageSource::Estimate);
        assert_eq!(info.usage.output_tokens, expected_output, "{usage}");
        assert_eq!(info.model.as_deref(), Some("gemini-2.0-flash"));
    }
}

#[test]
fn missing_usage_is_estimated_from_every_candidate() {
    let t = tokenizer();
    let req = request(br#"{"contents":[{"parts":[{"text":"Hello there"}]}]}"#);
    let call = json!({"name": "get_weather", "args": {"city": "Paris"}});
    let body = json!({
        "candidates": [
            {"content": {"parts": [{"text": "Thinking about it", "thought": true}, {"text": "Hi!"}]}},
            {"index": 1, "content": {"parts": [{"functionCall": call}]}},
        ],
        // Vertex AI sends usageMetadata without counts on early stream chunks.
        "usageMetadata": {"trafficType": "ON_DEMAND"},
    });
    let info = parse_response(&serde_json::to_vec(&body).unwrap(), &req, t);
    let count = |s: &str| t.count(req.encoding, s);
    assert_eq!(info.problem, None);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    assert_eq!(
        info.usage.output_tokens,
        count("Thinking about it") + count("Hi!") + count(&call.to_string())
    );
    assert_eq!(info.model, None);
}

#[test]
fn an_unreadable_response_is_an_estimate_with_its_problem() {
    let req = request(br#"{"contents":[{"parts":[{"text":"Hello there"}]}]}"#);
    let info = parse_response(b"<html>502</html>", &req, tokenizer());
    assert_eq!(info.problem.map(|p| p.0), Some(Invalid::InvalidJson));
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    assert_eq!(info.usage.output_tokens, 0);
}
