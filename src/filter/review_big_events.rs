//! Review: streamed events larger than Envoy's buffer limit. A stream is never held by Envoy
//! (every chunk is released at once), so only the filter's own copy bounds an event: one that
//! fits `max_body_bytes` is metered, whatever `buffer_limit_bytes` says. OpenAI's
//! `response.completed` repeats the whole response (an image generation call's base64 image
//! included), and Gemini sends generated images inline, both in the event that carries usage.

use super::test_support::{shared, trailer};
use super::*;
use crate::fake::FakeHost;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Streams `response` in 16 KiB pieces; returns the host with the stamps.
fn run(cfg: &str, path: &str, content_type: &str, request: &[u8], response: &[u8]) -> FakeHost {
    let mut host = FakeHost {
        request_headers: [
            (":method", "POST"),
            (":path", path),
            ("content-type", "application/json"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared(cfg)));
    f.on_request_headers(&mut host, false);
    host.request_body = request.to_vec();
    f.on_request_body(&mut host, request.len(), true);
    host.response_headers = [(":status", "200"), ("content-type", content_type)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    f.on_response_headers(&mut host, false);
    let pieces: Vec<&[u8]> = response.chunks(16 * 1024).collect();
    for (i, piece) in pieces.iter().enumerate() {
        host.response_body = piece.to_vec();
        f.on_response_body(&mut host, piece.len(), i + 1 == pieces.len());
    }
    host
}

/// 1.5 MB of base64, the size of a generated 1024×1024 PNG.
fn image() -> String {
    "iVBORw0KGgo".repeat(140_000)
}

#[test]
fn a_responses_stream_with_a_generated_image_is_metered_from_its_usage() {
    let request = include_bytes!("../../tests/fixtures/cases/openai/responses_stream/request.json");
    let stream = include_str!("../../tests/fixtures/cases/openai/responses_stream/response.sse");
    // The completed response also lists an image generation call with its result, as the
    // image generation tool returns it
    // (https://platform.openai.com/docs/guides/tools-image-generation).
    let item = format!(
        r#""output":[{{"type":"image_generation_call","id":"ig_1","status":"completed","result":"{}"}},"#,
        image()
    );
    let at = stream.find("event: response.completed").unwrap();
    let (head, tail) = stream.split_at(at);
    let stream = format!("{head}{}", tail.replacen(r#""output":["#, &item, 1));
    let host = run(
        "{}",
        "/v1/responses",
        "text/event-stream",
        request,
        stream.as_bytes(),
    );
    assert_eq!(trailer(&host, "x-llm-usage-source"), Some("provider"));
    // The fixture's documented usage: 37 in, 11 out.
    assert_eq!(trailer(&host, "x-llm-input-tokens"), Some("37"));
    assert_eq!(trailer(&host, "x-llm-output-tokens"), Some("11"));
}

#[test]
fn a_gemini_stream_with_an_inline_image_is_metered_from_its_usage() {
    let request = include_bytes!("../../tests/fixtures/cases/gemini/stream_sse/request.json");
    let stream = include_str!("../../tests/fixtures/cases/gemini/stream_sse/response.sse");
    // The last chunk (with the final usage) also carries an image part
    // (https://ai.google.dev/gemini-api/docs/image-generation: `inlineData` parts).
    let part = format!(
        r#""parts":[{{"inlineData":{{"mimeType":"image/png","data":"{}"}}}},"#,
        image()
    );
    let at = stream.rfind("data: ").unwrap();
    let (head, tail) = stream.split_at(at);
    let sse = format!("{head}{}", tail.replacen(r#""parts":["#, &part, 1));
    let path = "/v1beta/models/gemini-2.0-flash:streamGenerateContent";
    let host = run(
        "{}",
        &format!("{path}?alt=sse"),
        "text/event-stream",
        request,
        sse.as_bytes(),
    );
    assert_eq!(trailer(&host, "x-llm-usage-source"), Some("provider"));
    // The documented final usageMetadata: 8 prompt, 22 candidates tokens.
    assert_eq!(trailer(&host, "x-llm-input-tokens"), Some("8"));
    assert_eq!(trailer(&host, "x-llm-output-tokens"), Some("22"));

    // The same chunks as a JSON array.
    let elements: Vec<&str> = sse
        .split("data: ")
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let array = format!("[{}]", elements.join(",\r\n"));
    let host = run("{}", path, "application/json", request, array.as_bytes());
    assert_eq!(trailer(&host, "x-llm-usage-source"), Some("provider"));
    assert_eq!(trailer(&host, "x-llm-output-tokens"), Some("22"));
}

/// Past `max_body_bytes`, the event with the final usage is lost: the stream is then metered
/// like a cut one (estimated output), never from an earlier chunk's partial usage as if it were
/// the provider's final count (Gemini repeats `usageMetadata` in every chunk, without
/// `candidatesTokenCount` until the end).
#[test]
fn a_lost_final_event_is_not_billed_from_partial_usage() {
    let request = include_bytes!("../../tests/fixtures/cases/gemini/stream_sse/request.json");
    let stream = include_str!("../../tests/fixtures/cases/gemini/stream_sse/response.sse");
    let part = format!(
        r#""parts":[{{"inlineData":{{"mimeType":"image/png","data":"{}"}}}},"#,
        image()
    );
    let at = stream.rfind("data: ").unwrap();
    let (head, tail) = stream.split_at(at);
    let sse = format!("{head}{}", tail.replacen(r#""parts":["#, &part, 1));
    let path = "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse";
    let cfg = r#"{"max_body_bytes":1048576}"#;
    let host = run(cfg, path, "text/event-stream", request, sse.as_bytes());
    assert_eq!(trailer(&host, "x-llm-usage-source"), Some("estimate"));
    let output: u64 = trailer(&host, "x-llm-output-tokens")
        .unwrap()
        .parse()
        .unwrap();
    assert!(output > 0, "the streamed text is counted");
}
