use super::*;
use crate::providers::{Finish, Invalid, StreamMeter};
use crate::sse::SseParser;
use crate::tokens::tests::tokenizer;
use crate::usage::UsageSource;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! case {
    ($name:literal, $file:literal) => {
        include_bytes!(concat!(
            "../../../tests/fixtures/cases/openai/",
            $name,
            "/",
            $file
        ))
    };
}

const TEXT_REQUEST: &[u8] = case!("responses", "request.json");
const TEXT_RESPONSE: &[u8] = case!("responses", "response.json");
const REASONING_REQUEST: &[u8] = case!("responses_reasoning", "request.json");
const REASONING_RESPONSE: &[u8] = case!("responses_reasoning", "response.json");
const FUNCTIONS_REQUEST: &[u8] = case!("responses_functions", "request.json");
const FUNCTIONS_RESPONSE: &[u8] = case!("responses_functions", "response.json");
const STREAM_REQUEST: &[u8] = case!("responses_stream", "request.json");
const STREAM: &[u8] = case!("responses_stream", "response.sse");
const FUNCTION_STREAM: &[u8] =
    include_bytes!("../../../tests/fixtures/openai/responses_stream_function_call.sse");
/// The text the documented stream's deltas spell.
const HI: &str = "Hi there! How can I assist you today?";

fn cfg() -> Config {
    Config::parse(b"{}").unwrap()
}

fn parse(body: &[u8]) -> RequestInfo {
    parse_request(body, &RESPONSES, &cfg(), tokenizer()).unwrap()
}

fn request(body: &Value) -> RequestInfo {
    parse(&serde_json::to_vec(body).unwrap())
}

fn count(s: &str) -> u64 {
    tokenizer().count(Encoding::O200kBase, s)
}

#[test]
fn plain_documented_requests_are_estimated_as_billed() {
    // Documented usage: "Text input" 36 input tokens, "Streaming" 37. RESPONSES_OVERHEAD was
    // read off these two examples (18 above the chat formula in both).
    assert_eq!(parse(TEXT_REQUEST).estimated_input_tokens, 36);
    assert_eq!(parse(STREAM_REQUEST).estimated_input_tokens, 37);
    // Tools and reasoning models cost more than the estimate sees: it stays a lower bound.
    let functions = parse(FUNCTIONS_REQUEST).estimated_input_tokens;
    assert!(functions > 36 && functions < 291, "{functions}");
    let reasoning = parse(REASONING_REQUEST).estimated_input_tokens;
    assert!(reasoning > 18 && reasoning < 81, "{reasoning}");
}

#[test]
fn request_fields() {
    let info = request(&json!({
        "model": "gpt-4.1", "input": "hi", "stream": true, "max_output_tokens": 500,
        "service_tier": "flex", "user": "u-1",
    }));
    assert_eq!(info.model, "gpt-4.1");
    assert_eq!(info.encoding, Encoding::O200kBase);
    assert!(info.stream);
    assert_eq!(info.max_output_tokens, Some(500));
    assert_eq!(info.service_tier.as_deref(), Some("flex"));
    assert_eq!(info.user.as_deref(), Some("u-1"));
    assert_eq!(info.choices, 1);
    let safety = request(&json!({"model": "gpt-4.1", "input": "hi", "safety_identifier": "s"}));
    assert_eq!(safety.user.as_deref(), Some("s"));
    let err = parse_request(br#"{"input":"hi"}"#, &RESPONSES, &cfg(), tokenizer());
    assert_eq!(err.unwrap_err().0, Invalid::MissingModel);
}

#[test]
fn input_items_are_counted_like_chat_messages() {
    let est =
        |input: Value| request(&json!({"model": "gpt-4o", "input": input})).estimated_input_tokens;
    let base = RESPONSES_OVERHEAD + REPLY_PRIMING;
    let text = "Tell me a three sentence bedtime story about a unicorn.";
    let as_string = est(json!(text));
    assert_eq!(as_string, base + 3 + count("user") + count(text));
    assert_eq!(
        est(json!([{"role": "user", "content": text}])),
        as_string,
        "an easy message is the string"
    );
    assert_eq!(
        est(
            json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}])
        ),
        as_string,
        "text parts count like a string"
    );
    let with_image = est(json!([{"role": "user", "content": [
        {"type": "input_text", "text": text},
        {"type": "input_image", "image_url": "https://x/y.png"},
    ]}]));
    assert_eq!(with_image, as_string + IMAGE_PART_TOKENS);
    let args = r#"{"location":"Boston, MA","unit":"celsius"}"#;
    let turn = est(json!([
        {"role": "user", "content": text},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
        {"type": "function_call", "call_id": "c1", "name": "get_current_weather", "arguments": args},
        {"type": "function_call_output", "call_id": "c1", "output": "18C and sunny"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "item_reference", "id": "msg_1"},
    ]));
    assert_eq!(
        turn,
        as_string
            + (3 + count("assistant") + count("Let me check."))
            + (3 + count("get_current_weather") + count(args))
            + (3 + count("18C and sunny"))
    );
}

#[test]
fn instructions_and_function_tools_are_counted() {
    let plain = request(&json!({"model": "gpt-4o", "input": "Hello!"})).estimated_input_tokens;
    let instructed = request(&json!({"model": "gpt-4o", "input": "Hello!",
        "instructions": "You are a helpful assistant."}));
    assert_eq!(
        instructed.estimated_input_tokens,
        plain + 3 + count("developer") + count("You are a helpful assistant.")
    );
    let tool = json!({"type": "function", "name": "f", "description": "Does f.",
        "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}});
    let with_tool = request(&json!({"model": "gpt-4o", "input": "Hello!", "tools": [tool]}));
    let with_search = request(&json!({"model": "gpt-4o", "input": "Hello!",
        "tools": [tool, {"type": "web_search"}]}));
    let tokens = |s: &str| count(s);
    assert_eq!(
        with_tool.estimated_input_tokens,
        plain + tool_tokens(&[&tool], Encoding::O200kBase, &tokens)
    );
    assert_eq!(with_search, with_tool, "built-in tools add nothing");
}

// ---- non-streamed responses ----

#[test]
fn documented_responses_usage_is_taken() {
    // Each is `"status": "completed"`; the "Functions" one's output is a function_call item.
    for (req, resp, model, usage, finish) in [
        (
            TEXT_REQUEST,
            TEXT_RESPONSE,
            "gpt-5.4",
            (36, 87, 0, 0),
            Finish::Stop,
        ),
        (
            REASONING_REQUEST,
            REASONING_RESPONSE,
            "o1-2024-12-17",
            (81, 1035, 0, 832),
            Finish::Stop,
        ),
        (
            FUNCTIONS_REQUEST,
            FUNCTIONS_RESPONSE,
            "gpt-5.4",
            (291, 23, 0, 0),
            Finish::ToolCalls,
        ),
    ] {
        let info = parse_response(resp, &parse(req), tokenizer());
        assert_eq!(info.model.as_deref(), Some(model));
        assert_eq!(info.problem, None, "{model}");
        assert_eq!(info.finish, Some(finish), "{model}");
        let u = info.usage;
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cached_tokens,
                u.reasoning_tokens
            ),
            usage,
            "{model}"
        );
        assert_eq!(u.source, UsageSource::Provider);
    }
}

#[test]
fn cached_tokens_and_service_tier_are_read() {
    let body = json!({"model": "gpt-4o", "service_tier": "flex", "output": [], "usage": {
        "input_tokens": 2000, "input_tokens_details": {"cached_tokens": 1536},
        "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 100}, "total_tokens": 2300}});
    let req = request(&json!({"model": "gpt-4o", "input": "hi"}));
    let info = parse_response(&serde_json::to_vec(&body).unwrap(), &req, tokenizer());
    assert_eq!(info.usage.cached_tokens, 1536);
    assert_eq!(info.usage.reasoning_tokens, 100);
    assert_eq!(info.usage.uncached_input_tokens(), 464);
    assert_eq!(info.service_tier.as_deref(), Some("flex"));
}

#[test]
fn without_usage_the_output_items_are_counted() {
    let story = "In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool that reflected the stars. As she dipped her horn into the water, the pool began to shimmer, revealing a pathway to a magical realm of endless night skies. Filled with wonder, Lumina whispered a wish for all who dream to find their own hidden magic, and as she glanced back, her hoofprints sparkled like stardust.";
    for (req, resp, output) in [
        (TEXT_REQUEST, TEXT_RESPONSE, count(story)),
        (
            FUNCTIONS_REQUEST,
            FUNCTIONS_RESPONSE,
            count("get_current_weather") + count(r#"{"location":"Boston, MA","unit":"celsius"}"#),
        ),
    ] {
        let mut body: Value = serde_json::from_slice(resp).unwrap();
        body["usage"] = Value::Null;
        let req = parse(req);
        let info = parse_response(&serde_json::to_vec(&body).unwrap(), &req, tokenizer());
        assert_eq!(info.usage.source, UsageSource::Estimate);
        assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
        assert_eq!(info.usage.output_tokens, output);
        assert_eq!(info.problem, None);
    }
}

#[test]
fn malformed_usage_is_a_problem() {
    let req = request(&json!({"model": "gpt-4o", "input": "hi"}));
    for usage in [
        json!({"input_tokens": 5}),
        json!({"input_tokens": 5, "output_tokens": -1}),
        json!({"input_tokens": 5, "output_tokens": 1, "input_tokens_details": {"cached_tokens": 6}}),
        json!({"input_tokens": 5, "output_tokens": 1, "output_tokens_details": {"reasoning_tokens": 2}}),
        json!({"prompt_tokens": 5, "completion_tokens": 1}),
    ] {
        let body = json!({"model": "gpt-4o", "output": [], "usage": usage});
        let info = parse_response(&serde_json::to_vec(&body).unwrap(), &req, tokenizer());
        assert_eq!(
            info.problem.map(|p| p.0),
            Some(Invalid::BadUsage),
            "{usage}"
        );
        assert_eq!(info.usage.source, UsageSource::Estimate);
    }
}

// ---- streams ----

/// (event, data) of every SSE event of a stream pushed in the given pieces.
fn events(pieces: &[&[u8]]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    for piece in pieces {
        parser
            .push(piece, &mut |ev| {
                out.push((ev.event.to_vec(), ev.data.to_vec()))
            })
            .unwrap();
    }
    out
}

fn meter(events: &[(Vec<u8>, Vec<u8>)]) -> ResponsesStreamMeter {
    let mut m = ResponsesStreamMeter::new();
    for (event, data) in events {
        m.on_event(event, data);
    }
    m
}

fn metered(req: &[u8], events: &[(Vec<u8>, Vec<u8>)], completed: bool) -> ResponseInfo {
    meter(events).finish(&parse(req), tokenizer(), completed)
}

#[test]
fn documented_stream_gives_the_usage_split_at_every_byte() {
    for (req, stream, usage, finish) in [
        (STREAM_REQUEST, STREAM, (37, 11), Finish::Stop),
        (
            FUNCTIONS_REQUEST,
            FUNCTION_STREAM,
            (291, 23),
            Finish::ToolCalls,
        ),
    ] {
        let whole = metered(req, &events(&[stream]), true);
        assert_eq!((whole.usage.input_tokens, whole.usage.output_tokens), usage);
        assert_eq!(whole.finish, Some(finish));
        assert_eq!(whole.usage.source, UsageSource::Provider);
        assert_eq!(whole.model.as_deref(), Some("gpt-5.4"));
        assert_eq!(whole.problem, None);
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(metered(req, &events(&[a, b]), true), whole, "cut at {cut}");
        }
    }
    let m = meter(&events(&[FUNCTION_STREAM]));
    assert_eq!(m.terminal(), Some(Terminal::Completed));
    assert!(m.has_provider_usage());
    let info = m.finish(&parse(FUNCTIONS_REQUEST), tokenizer(), true);
    assert_eq!(
        info.service_tier.as_deref(),
        Some("default"),
        "the served tier, not the requested `auto`"
    );
}

#[test]
fn cut_stream_is_charged_for_the_deltas_received() {
    let all = events(&[STREAM]);
    let cut = all.len() - 1; // without response.completed
    let info = metered(STREAM_REQUEST, all.get(..cut).unwrap(), false);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, 37);
    assert_eq!(info.usage.output_tokens, count(HI), "the deltas, joined");
    assert_eq!(info.model.as_deref(), Some("gpt-5.4"));
    assert_eq!(info.problem, None, "a cut stream is no usage problem");
    assert_eq!(info.finish, None, "no terminal event");
    let ended = metered(STREAM_REQUEST, all.get(..cut).unwrap(), true);
    assert_eq!(ended.problem.map(|p| p.0), Some(Invalid::BadUsage));
    let functions = events(&[FUNCTION_STREAM]);
    let info = metered(
        FUNCTIONS_REQUEST,
        functions.get(..functions.len() - 1).unwrap(),
        false,
    );
    assert_eq!(
        info.usage.output_tokens,
        count("get_current_weather") + count(r#"{"location":"Boston, MA","unit":"celsius"}"#)
    );
}

#[test]
fn event_type_comes_from_the_data_or_the_sse_field() {
    let all = events(&[STREAM]);
    // Without `event:` lines the data's `type` names each event.
    let untyped: Vec<_> = all.iter().map(|(_, d)| (Vec::new(), d.clone())).collect();
    let whole = metered(STREAM_REQUEST, &all, true);
    assert_eq!(metered(STREAM_REQUEST, &untyped, true), whole);
    // Without `type` in the data, the SSE event name.
    let mut m = ResponsesStreamMeter::new();
    m.on_event(
        b"response.output_text.delta",
        br#"{"output_index":0,"delta":"Hi there!"}"#,
    );
    m.on_event(
        b"response.completed",
        br#"{"response":{"model":"gpt-4o","usage":{"input_tokens":3,"output_tokens":4}}}"#,
    );
    let info = m.finish(&parse(STREAM_REQUEST), tokenizer(), true);
    assert_eq!((info.usage.input_tokens, info.usage.output_tokens), (3, 4));
    assert_eq!(info.model.as_deref(), Some("gpt-4o"));
}

#[test]
fn failed_incomplete_and_error_events() {
    let req = parse(STREAM_REQUEST);
    // The documented response.failed example: an error and no usage.
    let mut m = ResponsesStreamMeter::new();
    m.on_event(b"response.output_text.delta", br#"{"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":"Hi there!"}"#);
    m.on_event(b"response.failed", br#"{"type":"response.failed","response":{"id":"resp_123","object":"response","status":"failed","error":{"code":"server_error","message":"The model failed to generate a response."},"model":"gpt-4o-mini-2024-07-18","output":[],"usage":null},"sequence_number":1}"#);
    assert_eq!(m.terminal(), Some(Terminal::Failed));
    assert_eq!(
        m.error_message(),
        Some("The model failed to generate a response.")
    );
    let info = m.finish(&req, tokenizer(), true);
    assert_eq!(info.problem, None);
    assert_eq!(info.finish, Some(Finish::Error));
    assert_eq!(info.usage.output_tokens, count("Hi there!"));
    assert_eq!(info.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    // The documented error event.
    let mut m = ResponsesStreamMeter::new();
    m.on_event(b"error", br#"{"type":"error","code":"ERR_SOMETHING","message":"Something went wrong","param":null,"sequence_number":1}"#);
    assert_eq!(m.error_message(), Some("Something went wrong"));
    let info = m.finish(&req, tokenizer(), true);
    assert_eq!(info.problem, None);
    assert_eq!(info.finish, Some(Finish::Error));
    // An incomplete response that reports usage is billed by it.
    let mut m = ResponsesStreamMeter::new();
    m.on_event(b"response.incomplete", br#"{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"model":"gpt-4o","usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":0},"output_tokens":16,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":53}},"sequence_number":9}"#);
    assert_eq!(m.terminal(), Some(Terminal::Incomplete));
    let info = m.finish(&req, tokenizer(), true);
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (37, 16)
    );
    assert_eq!(info.usage.source, UsageSource::Provider);
    assert_eq!(
        info.finish,
        Some(Finish::Length),
        "incomplete: max_output_tokens"
    );
}

#[test]
fn malformed_data_and_usage() {
    let req = parse(STREAM_REQUEST);
    let mut m = ResponsesStreamMeter::new();
    for data in [&b"not json"[..], b"[1,2]", b"", b"\xff\xfe", b"[DONE]"] {
        m.on_event(b"", data);
    }
    assert_eq!(m.ignored(), 4, "[DONE] is skipped silently");
    m.on_event(b"", br#"{"type":"response.completed","response":{"usage":{"input_tokens":-3,"output_tokens":4}}}"#);
    assert_eq!(m.events(), 1);
    let info = m.finish(&req, tokenizer(), true);
    assert_eq!(info.problem.map(|p| p.0), Some(Invalid::BadUsage));
    assert_eq!(info.usage.source, UsageSource::Estimate);
}

#[test]
fn works_behind_the_stream_meter_trait() {
    let mut m: Box<dyn StreamMeter> = Box::new(ResponsesStreamMeter::new());
    for (event, data) in events(&[STREAM]) {
        m.on_event(&event, &data);
    }
    let info = m.finish(&parse(STREAM_REQUEST), tokenizer(), true);
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (37, 11)
    );
}

#[test]
fn text_past_the_cap_is_extrapolated() {
    let mut m = ResponsesStreamMeter::with_max_text_bytes(8);
    for delta in ["Hi there", "! How can", " I assist"] {
        let data = json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": delta});
        m.on_event(b"", &serde_json::to_vec(&data).unwrap());
    }
    let info = m.finish(&parse(STREAM_REQUEST), tokenizer(), false);
    let kept = count("Hi there");
    assert_eq!(info.usage.output_tokens, kept + (kept * 18).div_ceil(8));
}
