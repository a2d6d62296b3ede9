use super::*;
use crate::config::Config;
use crate::eventstream::encode_for_tests::{event, exception, frame};
use crate::eventstream::{event_name, Decoder, Error};
use crate::providers::bedrock_converse::parse_request;
use crate::providers::{Api, Endpoint, Finish, StreamMeter};
use crate::tokens::tests::tokenizer;
use crate::usage::UsageSource;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

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

const STREAM: &[u8] = case!("converse-stream/response.bin");
const ERROR_STREAM: &[u8] = case!("converse-stream-error/response.bin");

/// The text the deltas of [`STREAM`] spell out.
const STREAM_TEXT: &str =
    "Waves fold into foam,\nsalt wind carries gull cries home,\nthe tide keeps its time.";
/// The text the deltas of [`ERROR_STREAM`] spell out before the exception.
const ERROR_TEXT: &str = "The capital of France is Paris";

fn request(body: &[u8]) -> RequestInfo {
    let ep = Endpoint {
        api: Api::BedrockConverse,
        model: Some("anthropic.claude-3-haiku-20240307-v1:0".into()),
        stream: true,
    };
    parse_request(body, &ep, &Config::parse(b"{}").unwrap(), tokenizer()).unwrap()
}

fn stream_request() -> RequestInfo {
    request(case!("converse-stream/request.json"))
}

fn count(s: &str) -> u64 {
    tokenizer().count(stream_request().encoding, s)
}

/// Decodes `chunks` as one stream, feeding every message to a fresh meter by
/// [`event_name`], as the filter's framing layer will; stops at the first decoding error.
fn feed_with(
    mut meter: ConverseStreamMeter,
    chunks: &[&[u8]],
) -> (ConverseStreamMeter, Result<(), Error>) {
    let mut decoder = Decoder::new();
    let mut result = Ok(());
    for chunk in chunks {
        result = decoder.push(chunk, &mut |m| {
            meter.on_event(event_name(&m).unwrap_or("").as_bytes(), m.payload())
        });
        if result.is_err() {
            break;
        }
    }
    (meter, result.and_then(|()| decoder.finish()))
}

fn feed(chunks: &[&[u8]]) -> (ConverseStreamMeter, Result<(), Error>) {
    feed_with(ConverseStreamMeter::new(), chunks)
}

/// The stream an events list (`response.events.json`) describes, encoded.
fn encode_events(json: &[u8]) -> Vec<u8> {
    let doc: Value = serde_json::from_slice(json).unwrap();
    let mut out = Vec::new();
    for m in doc["messages"].as_array().unwrap() {
        let headers: Vec<(&str, &str)> = m["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap(), h[1].as_str().unwrap()))
            .collect();
        out.extend(frame(&headers, m["payload"].as_str().unwrap().as_bytes()));
    }
    out
}

#[test]
fn stream_fixtures_are_their_event_lists() {
    let cases = [
        (
            "converse-stream",
            case!("converse-stream/response.events.json"),
            STREAM,
        ),
        (
            "converse-stream-error",
            case!("converse-stream-error/response.events.json"),
            ERROR_STREAM,
        ),
    ];
    for (name, events, committed) in cases {
        let encoded = encode_events(events);
        #[cfg(not(target_arch = "wasm32"))]
        if std::env::var_os("TOLLBOOTH_WRITE_FIXTURES").is_some() {
            let path = format!(
                "{}/tests/fixtures/cases/bedrock/{name}/response.bin",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::write(path, &encoded).unwrap();
            continue;
        }
        assert!(encoded == committed, "{name}: response.bin is stale");
    }
}

#[test]
fn metadata_usage_is_taken() {
    let (meter, result) = feed(&[STREAM]);
    assert_eq!(result, Ok(()));
    assert_eq!(meter.events(), 7);
    assert_eq!(meter.ignored(), 0);
    assert_eq!(meter.error(), None);
    assert_eq!(meter.stop_reason(), Some("end_turn"));
    assert!(meter.has_provider_usage());
    let req = stream_request();
    assert_eq!(
        meter.output_tokens(req.encoding, tokenizer()),
        count(STREAM_TEXT)
    );
    let info = meter.finish(&req, tokenizer(), true);
    // converse-stream/case.json: the metadata event's usage as documented there.
    let e: Value = serde_json::from_slice(case!("converse-stream/case.json")).unwrap();
    let e = &e["expected"];
    assert_eq!(e["usage_source"], "provider");
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (
            e["input_tokens"].as_u64().unwrap(),
            e["output_tokens"].as_u64().unwrap()
        )
    );
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (15, 22)
    );
    assert_eq!(info.usage.source, UsageSource::Provider);
    assert_eq!((info.problem, info.model), (None, None));
    assert_eq!(info.finish, Some(Finish::Stop), "stopReason: end_turn");
}

/// Everything a meter reports, for comparing runs.
fn outcome(meter: ConverseStreamMeter, completed: bool) -> (ResponseInfo, Option<StreamError>) {
    let error = meter.error().cloned();
    (
        meter.finish(&stream_request(), tokenizer(), completed),
        error,
    )
}

#[test]
fn split_at_every_byte_offset_meters_identically() {
    for stream in [STREAM, ERROR_STREAM] {
        let (meter, result) = feed(&[stream]);
        assert_eq!(result, Ok(()));
        let whole = outcome(meter, true);
        for i in 0..=stream.len() {
            let (a, b) = stream.split_at(i);
            let (meter, result) = feed(&[a, b]);
            assert_eq!(result, Ok(()), "split at {i}");
            assert_eq!(outcome(meter, true), whole, "split at {i}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(outcome(feed(&bytes).0, true), whole);
    }
}

#[test]
fn an_exception_ends_the_stream_with_an_estimate() {
    let req = request(case!("converse-stream-error/request.json"));
    let (meter, result) = feed(&[ERROR_STREAM]);
    assert_eq!(result, Ok(()));
    assert_eq!(
        meter.error(),
        Some(&StreamError {
            kind: "modelStreamErrorException".into(),
            message: Some("The model stream was interrupted.".into()),
        })
    );
    assert!(!meter.has_provider_usage());
    let info = meter.finish(&req, tokenizer(), true);
    // The exception explains the missing metadata: no problem even on a completed stream.
    assert_eq!(info.problem, None);
    assert_eq!(info.finish, Some(Finish::Error));
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    let output = tokenizer().count(req.encoding, ERROR_TEXT);
    assert_eq!(info.usage.output_tokens, output);
    let e: Value = serde_json::from_slice(case!("converse-stream-error/case.json")).unwrap();
    assert_eq!(e["expected"]["usage_source"], "estimate");
    assert!(
        output
            >= e["expected"]["expected_output_tokens_at_least"]
                .as_u64()
                .unwrap()
    );
}

#[test]
fn a_corrupted_frame_leaves_an_estimate_of_what_came_before() {
    // Flip one payload byte of the last frame (metadata): its message CRC fails, the decoder
    // stops, and the meter has the text deltas but no usage.
    let mut stream = STREAM.to_vec();
    let at = stream.len() - 10;
    stream[at] ^= 0x20;
    let (meter, result) = feed(&[&stream]);
    assert!(
        matches!(result, Err(Error::MessageCrc { .. })),
        "{result:?}"
    );
    assert!(!meter.has_provider_usage());
    let req = stream_request();
    let info = meter.finish(&req, tokenizer(), false);
    assert_eq!(info.problem, None);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    assert_eq!(info.usage.input_tokens, req.estimated_input_tokens);
    assert_eq!(info.usage.output_tokens, count(STREAM_TEXT));

    // A corrupted prelude of the second frame: nothing after the first is metered.
    let mut stream = STREAM.to_vec();
    let second = u32::from_be_bytes(stream[..4].try_into().unwrap()) as usize;
    stream[second + 1] ^= 0x01;
    let (meter, result) = feed(&[&stream]);
    assert!(
        matches!(result, Err(Error::PreludeCrc { .. })),
        "{result:?}"
    );
    assert_eq!(meter.events(), 1);
    assert_eq!(
        meter.finish(&req, tokenizer(), false).usage.output_tokens,
        0
    );
}

#[test]
fn a_completed_stream_without_metadata_is_a_problem_a_cut_one_is_not() {
    let end = STREAM.len() - u32::from_be_bytes(last_frame_prelude(STREAM)) as usize;
    let cut = &STREAM[..end];
    let req = stream_request();
    let info = feed(&[cut]).0.finish(&req, tokenizer(), false);
    assert_eq!(info.problem, None);
    assert_eq!(info.usage.output_tokens, count(STREAM_TEXT));
    assert_eq!(
        info.finish,
        Some(Finish::Stop),
        "messageStop came before the cut"
    );
    let info = feed(&[cut]).0.finish(&req, tokenizer(), true);
    assert_eq!(info.problem.unwrap().0, Invalid::BadUsage);
    assert_eq!(info.usage.source, UsageSource::Estimate);
    // Cut before messageStop too: no finish.
    let end = cut.len() - u32::from_be_bytes(last_frame_prelude(cut)) as usize;
    let info = feed(&[&cut[..end]]).0.finish(&req, tokenizer(), false);
    assert_eq!(info.finish, None);
    // An exception after messageStop: an error all the same.
    let mut late = cut.to_vec();
    late.extend(exception(
        "internalServerException",
        br#"{"message":"Internal error"}"#,
    ));
    let info = feed(&[&late]).0.finish(&req, tokenizer(), true);
    assert_eq!(info.finish, Some(Finish::Error));
}

/// The total length of the last frame of a stream of whole frames.
fn last_frame_prelude(stream: &[u8]) -> [u8; 4] {
    let mut at = 0;
    loop {
        let len: [u8; 4] = stream[at..at + 4].try_into().unwrap();
        let next = at + u32::from_be_bytes(len) as usize;
        if next == stream.len() {
            return len;
        }
        at = next;
    }
}

#[test]
fn tool_use_and_reasoning_deltas_are_estimated_per_block() {
    let mut stream = event("messageStart", br#"{"role":"assistant"}"#);
    for (name, payload) in [
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"The user wants "}}}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"the weather."}}}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"c2lnbmF0dXJl"}}}"#,
        ),
        ("contentBlockStop", r#"{"contentBlockIndex":0}"#),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":1,"delta":{"text":"Checking now."}}"#,
        ),
        (
            "contentBlockStart",
            r#"{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"tooluse_9","name":"get_weather"}}}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"city\":"}}}"#,
        ),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":2,"delta":{"toolUse":{"input":"\"Lyon\"}"}}}"#,
        ),
        ("contentBlockStop", r#"{"contentBlockIndex":2}"#),
        ("messageStop", r#"{"stopReason":"tool_use"}"#),
    ] {
        stream.extend(event(name, payload.as_bytes()));
    }
    let (meter, result) = feed(&[&stream]);
    assert_eq!(result, Ok(()));
    assert_eq!(meter.stop_reason(), Some("tool_use"));
    let info = meter.finish(&stream_request(), tokenizer(), false);
    assert_eq!(info.finish, Some(Finish::ToolCalls));
    assert_eq!(
        info.usage.output_tokens,
        count("The user wants the weather.")
            + count("Checking now.")
            + count("get_weather")
            + count(r#"{"city":"Lyon"}"#)
    );
}

#[test]
fn metadata_with_cache_usage_and_a_served_tier() {
    let mut stream = event(
        "contentBlockDelta",
        br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
    );
    stream.extend(event(
        "metadata",
        br#"{"usage":{"inputTokens":4,"outputTokens":1,"totalTokens":105,"cacheReadInputTokens":100},
            "metrics":{"latencyMs":100},"performanceConfig":{"latency":"optimized"}}"#,
    ));
    let info = feed(&[&stream])
        .0
        .finish(&stream_request(), tokenizer(), true);
    assert_eq!(
        (
            info.usage.input_tokens,
            info.usage.cached_tokens,
            info.usage.output_tokens
        ),
        (104, 100, 1)
    );
    assert_eq!(info.service_tier.as_deref(), Some("optimized"));
}

#[test]
fn malformed_metadata_usage_is_a_problem_and_an_estimate() {
    let mut stream = event(
        "contentBlockDelta",
        br#"{"contentBlockIndex":0,"delta":{"text":"Hello"}}"#,
    );
    stream.extend(event(
        "metadata",
        br#"{"usage":{"inputTokens":4,"outputTokens":"1"}}"#,
    ));
    let (meter, _) = feed(&[&stream]);
    assert!(!meter.has_provider_usage());
    let info = meter.finish(&stream_request(), tokenizer(), true);
    assert_eq!(info.problem.unwrap().0, Invalid::BadUsage);
    assert_eq!(info.usage.output_tokens, count("Hello"));
}

#[test]
fn event_names_and_unmodeled_errors() {
    let mut stream = exception("throttlingException", br#"{"message":"Too many requests"}"#);
    stream.extend(frame(
        &[
            (":message-type", "error"),
            (":error-code", "InternalFailure"),
            (":error-message", "oops"),
        ],
        b"",
    ));
    stream.extend(frame(&[(":content-type", "application/json")], b"{}"));
    stream.extend(event("contentBlockDelta", b"not json"));
    let mut names = Vec::new();
    Decoder::new()
        .push(&stream, &mut |m| {
            names.push(event_name(&m).map(str::to_string))
        })
        .unwrap();
    assert_eq!(
        names,
        [
            Some("throttlingException".to_string()),
            Some("InternalFailure".to_string()),
            None,
            Some("contentBlockDelta".to_string()),
        ]
    );
    let (meter, _) = feed(&[&stream]);
    // The last error wins; the nameless message and the non-JSON event are ignored.
    assert_eq!(
        meter.error(),
        Some(&StreamError {
            kind: "InternalFailure".into(),
            message: None
        })
    );
    assert_eq!((meter.events(), meter.ignored()), (0, 2));
}

#[test]
fn text_past_the_cap_is_extrapolated() {
    let mut stream = Vec::new();
    for _ in 0..8 {
        stream.extend(event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"hello world "}}"#,
        ));
    }
    let (capped, _) = feed_with(ConverseStreamMeter::with_max_text_bytes(48), &[&stream]);
    let kept = count(&"hello world ".repeat(4));
    // Half the bytes were kept: the other half is charged at the same rate.
    assert_eq!(
        capped.output_tokens(stream_request().encoding, tokenizer()),
        2 * kept
    );
    let (nothing_kept, _) = feed_with(ConverseStreamMeter::with_max_text_bytes(0), &[&stream]);
    assert_eq!(
        nothing_kept.output_tokens(stream_request().encoding, tokenizer()),
        (8 * 12_u64).div_ceil(4)
    );
}

#[test]
fn works_through_the_stream_meter_trait() {
    let mut meter: Box<dyn StreamMeter> = Box::new(ConverseStreamMeter::new());
    let mut decoder = Decoder::new();
    decoder
        .push(STREAM, &mut |m| {
            meter.on_event(event_name(&m).unwrap_or("").as_bytes(), m.payload())
        })
        .unwrap();
    let info = meter.finish(&stream_request(), tokenizer(), true);
    assert_eq!(
        (info.usage.input_tokens, info.usage.output_tokens),
        (15, 22)
    );
}
