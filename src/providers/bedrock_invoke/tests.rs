use super::*;
use crate::eventstream::Decoder;
use crate::providers::anthropic::{estimate_prompt_tokens, MESSAGES};
use crate::providers::{Api, Finish};
use crate::tokens::tests::tokenizer;
use base64::Engine as _;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! case_file {
    ($case:literal, $file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cases/bedrock/",
            $case,
            "/",
            $file
        ))
        .as_slice()
    };
}

const STREAM_BIN: &[u8] = case_file!("invoke_stream_claude", "response.bin");
const STREAM_EVENTS: &[u8] = case_file!("invoke_stream_claude", "events.jsonl");

fn cfg() -> Config {
    Config::parse(b"{}").unwrap()
}

/// What `detect` gives for `/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke…`.
fn endpoint(stream: bool) -> Endpoint {
    Endpoint {
        api: Api::BedrockInvoke,
        model: Some("anthropic.claude-3-5-sonnet-20240620-v1:0".into()),
        stream,
    }
}

fn request(stream: bool) -> RequestInfo {
    let body = case_file!("invoke_claude", "request.json");
    parse_request(body, &endpoint(stream), &cfg(), tokenizer()).unwrap()
}

/// A case's `expected` counts and model.
fn expected(case_json: &[u8]) -> (String, u64, u64) {
    let case: Value = serde_json::from_slice(case_json).unwrap();
    let e = &case["expected"];
    assert_eq!(e["usage_source"], "provider");
    for zero in [
        "cached_tokens",
        "cache_write_5m_tokens",
        "cache_write_1h_tokens",
        "reasoning_tokens",
    ] {
        assert_eq!(e[zero], 0, "{zero}");
    }
    (
        e["model"].as_str().unwrap().to_string(),
        e["input_tokens"].as_u64().unwrap(),
        e["output_tokens"].as_u64().unwrap(),
    )
}

// ---- A test encoder, from the AWS event stream layout (see src/eventstream.rs) ----

/// One message with string headers (type 7): prelude (total length, headers length, CRC-32 of
/// both), headers, payload, CRC-32 of everything before it.
fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(u8::try_from(name.len()).unwrap());
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = u32::try_from(16 + h.len() + payload.len()).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&u32::try_from(h.len()).unwrap().to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// A `chunk` event wrapping one Anthropic event's bytes.
fn chunk(event: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(event);
    let payload = format!(r#"{{"bytes":"{b64}"}}"#);
    frame(
        &[
            (":event-type", "chunk"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.as_bytes(),
    )
}

fn exception(kind: &str, message: &str) -> Vec<u8> {
    let payload = serde_json::to_vec(&json!({ "message": message })).unwrap();
    frame(
        &[
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        &payload,
    )
}

/// A stream of one chunk per line of `events`.
fn stream_of(events: &[u8]) -> Vec<u8> {
    events
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .flat_map(chunk)
        .collect()
}

/// (event, data) as the framing layer hands them to a meter: `:event-type`, or
/// `:exception-type` for an exception, and the payload.
fn decoded(pieces: &[&[u8]]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    for piece in pieces {
        decoder
            .push(piece, &mut |m| {
                let event = m.event_type().or(m.exception_type()).unwrap_or("");
                out.push((event.as_bytes().to_vec(), m.payload().to_vec()));
            })
            .unwrap();
    }
    decoder.finish().unwrap();
    out
}

fn meter(events: &[(Vec<u8>, Vec<u8>)]) -> BedrockInvokeStreamMeter {
    let mut m = BedrockInvokeStreamMeter::new();
    for (event, data) in events {
        m.on_event(event, data);
    }
    m
}

fn metered(events: &[(Vec<u8>, Vec<u8>)], completed: bool) -> ResponseInfo {
    let mut m: Box<dyn super::super::StreamMeter> = Box::new(BedrockInvokeStreamMeter::new());
    for (event, data) in events {
        m.on_event(event, data);
    }
    m.finish(&request(true), tokenizer(), completed)
}

// ---- InvokeModel ----

#[test]
fn request_takes_the_model_from_the_path() {
    let info = request(false);
    assert_eq!(info.model, "anthropic.claude-3-5-sonnet-20240620-v1:0");
    assert!(!info.stream);
    assert!(request(true).stream);
    assert_eq!(info.max_output_tokens, Some(1024));
    // The same estimate as the Anthropic parser: "Hello world" is Hello / world.
    let body: Value = serde_json::from_slice(case_file!("invoke_claude", "request.json")).unwrap();
    let est = estimate_prompt_tokens(body.as_object().unwrap(), info.encoding, tokenizer());
    assert_eq!(info.estimated_input_tokens, est);
    assert_eq!(est, crate::providers::anthropic::REPLY_PRIMING + 3 + 2);

    // The path's model wins over a body `model`; without a path model the body's is used.
    let body = br#"{"model":"claude-x","anthropic_version":"bedrock-2023-05-31","messages":[]}"#;
    let info = parse_request(body, &endpoint(false), &cfg(), tokenizer()).unwrap();
    assert_eq!(info.model, "anthropic.claude-3-5-sonnet-20240620-v1:0");
    let info = parse_request(body, &MESSAGES, &cfg(), tokenizer()).unwrap();
    assert_eq!(info.model, "claude-x");
    let body = br#"{"anthropic_version":"bedrock-2023-05-31","messages":[]}"#;
    assert_eq!(
        parse_request(body, &MESSAGES, &cfg(), tokenizer())
            .unwrap_err()
            .0,
        Invalid::MissingModel
    );
}

#[test]
fn documented_invoke_response_and_headers() {
    let (model, input, output) = expected(case_file!("invoke_claude", "case.json"));
    let info = parse_response(
        case_file!("invoke_claude", "response.json"),
        &request(false),
        tokenizer(),
    );
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (input, output)
    );
    assert_eq!(info.usage.source, UsageSource::Provider);
    assert_eq!(info.model.as_deref(), Some(model.as_str()));
    assert_eq!(info.finish, Some(Finish::Stop), "stop_reason: end_turn");

    let case: Value = serde_json::from_slice(case_file!("invoke_claude", "case.json")).unwrap();
    let h = |name: &str| case["response_headers"][name].as_str().map(str::as_bytes);
    let from_headers = usage_from_headers(
        h("x-amzn-bedrock-input-token-count"),
        h("x-amzn-bedrock-output-token-count"),
    );
    assert_eq!(from_headers, Some(info.usage));
}

#[test]
fn header_counts_are_strict() {
    assert_eq!(
        usage_from_headers(Some(b"0"), Some(b"100000000"))
            .map(|u| (u.input_tokens, u.output_tokens)),
        Some((0, 100_000_000))
    );
    assert_eq!(
        usage_from_headers(Some(b"007"), Some(b"8")).map(|u| u.input_tokens),
        Some(7)
    );
    assert_eq!(usage_from_headers(None, Some(b"8")), None);
    assert_eq!(usage_from_headers(Some(b"8"), None), None);
    for bad in [
        &b""[..],
        b"-1",
        b"+5",
        b" 5",
        b"5 ",
        b"1e3",
        b"12a",
        b"1.0",
        b"0x10",
        b"100000001",
        b"99999999999999999999999",
        "\u{0663}".as_bytes(),
    ] {
        assert_eq!(usage_from_headers(Some(bad), Some(b"1")), None, "{bad:?}");
        assert_eq!(usage_from_headers(Some(b"1"), Some(bad)), None, "{bad:?}");
    }
}

// ---- InvokeModelWithResponseStream ----

#[test]
fn invoke_stream_fixture_is_reproducible() {
    let built = stream_of(STREAM_EVENTS);
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("TOLLBOOTH_WRITE_FIXTURES").is_some() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cases/bedrock/invoke_stream_claude/response.bin"
        );
        std::fs::write(path, &built).unwrap();
    }
    assert_eq!(built, STREAM_BIN);
}

#[test]
fn documented_stream_split_at_every_byte() {
    let (model, input, output) = expected(case_file!("invoke_stream_claude", "case.json"));
    let whole = metered(&decoded(&[STREAM_BIN]), true);
    assert_eq!(
        (whole.usage.input_tokens, whole.usage.output_tokens),
        (input, output)
    );
    assert_eq!(whole.usage.source, UsageSource::Provider);
    assert_eq!(whole.model.as_deref(), Some(model.as_str()));
    assert_eq!(whole.problem, None);
    assert_eq!(whole.finish, Some(Finish::Stop), "stop_reason: end_turn");
    for i in 0..=STREAM_BIN.len() {
        let (a, b) = STREAM_BIN.split_at(i);
        assert_eq!(metered(&decoded(&[a, b]), true), whole, "split at {i}");
    }
    let m = meter(&decoded(&[STREAM_BIN]));
    assert_eq!(
        m.invocation_metrics()
            .map(|u| (u.input_tokens, u.output_tokens)),
        Some((25, 15))
    );
    assert!(m.anthropic().saw_message_stop());
    assert_eq!(m.bad_chunks(), 0);
}

#[test]
fn invocation_metrics_stand_in_for_missing_message_delta() {
    let events: Vec<u8> = STREAM_EVENTS
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty() && !l.windows(13).any(|w| w == b"message_delta"))
        .flat_map(|l| l.iter().copied().chain([b'\n']))
        .collect();
    let info = metered(&decoded(&[&stream_of(&events)]), true);
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (25, 15)
    );
    assert_eq!(info.usage.source, UsageSource::Provider);
    assert_eq!(info.problem, None);
    assert_eq!(info.model.as_deref(), Some("claude-3-5-sonnet-20240620"));

    // Unusable metrics do not replace anything and are reported.
    let events = br#"{"type":"message_start","message":{"model":"m","usage":{"input_tokens":25,"output_tokens":1}}}
{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":-3,"outputTokenCount":15}}
"#;
    let info = metered(&decoded(&[&stream_of(events)]), false);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, 25);
    assert_eq!(info.problem.map(|p| p.0), Some(Invalid::BadUsage));
}

#[test]
fn exception_mid_stream() {
    let head: Vec<u8> = STREAM_EVENTS
        .split(|b| *b == b'\n')
        .take(4) // message_start, content_block_start, ping, "Hello"
        .flat_map(|l| l.iter().copied().chain([b'\n']))
        .collect();
    let mut bytes = stream_of(&head);
    bytes.extend(exception(
        "modelStreamErrorException",
        "The model stream ended unexpectedly.",
    ));
    let events = decoded(&[&bytes]);
    let m = meter(&events);
    assert_eq!(
        m.exception(),
        Some((
            "modelStreamErrorException",
            Some("The model stream ended unexpectedly.")
        ))
    );
    assert_eq!(
        m.anthropic().error_type(),
        Some("modelStreamErrorException")
    );
    let info = metered(&events, true);
    // message_start's input; output: max(1, "Hello" = 1 token).
    assert_eq!((info.usage.input_tokens, info.usage.output_tokens), (25, 1));
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(
        info.problem, None,
        "the exception explains the missing usage"
    );
    assert_eq!(info.finish, Some(Finish::Error));
    // Cut at the same place without the exception: no finish yet.
    assert_eq!(metered(&decoded(&[&stream_of(&head)]), false).finish, None);
    // An exception after the whole documented stream still makes it an error.
    let mut late = STREAM_BIN.to_vec();
    late.extend(exception("internalServerException", "Internal error"));
    let info = metered(&decoded(&[&late]), true);
    assert_eq!(info.usage.source, UsageSource::Provider);
    assert_eq!(info.finish, Some(Finish::Error));

    // An exception before anything: the request estimate.
    let info = metered(
        &decoded(&[&exception("throttlingException", "Too many requests")]),
        true,
    );
    assert_eq!(
        info.usage.input_tokens,
        request(true).estimated_input_tokens
    );
    assert_eq!(info.usage.output_tokens, 0);
    assert_eq!(info.problem, None);
}

#[test]
fn bad_chunks_are_counted() {
    let mut m = BedrockInvokeStreamMeter::new();
    m.on_event(b"chunk", br#"{"bytes":"a*b="}"#);
    m.on_event(b"chunk", b"not json");
    m.on_event(b"chunk", br#"{"bytes":"W10="}"#); // `[]`
    assert_eq!(m.bad_chunks(), 3);
    assert_eq!(m.anthropic().events(), 0);
}
