//! Review: every streamed API's documented stream, mutated (bytes flipped, inserted, removed,
//! cut) and delivered in random pieces with every kind of end, through the fake host. The filter
//! never panics, never pauses a stream, and forwards the bytes unchanged (plus, for a stream
//! that ended between events, its final comment).

use super::test_support::shared;
use super::*;
use crate::fake::FakeHost;
use crate::sse::{EndOfStream, SseParser};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! case {
    ($dir:literal, $path:literal, $ct:expr, $resp:literal) => {
        (
            $path,
            $ct,
            include_bytes!(concat!(
                "../../tests/fixtures/cases/",
                $dir,
                "/request.json"
            ))
            .as_slice(),
            include_bytes!(concat!("../../tests/fixtures/cases/", $dir, "/", $resp)).as_slice(),
        )
    };
}

const SSE: &str = "text/event-stream";
const ES: &str = "application/vnd.amazon.eventstream";

/// (path, response content type, request, response).
const CASES: [(&str, &str, &[u8], &[u8]); 9] = [
    case!(
        "anthropic/stream_basic",
        "/v1/messages",
        SSE,
        "response.sse"
    ),
    case!(
        "anthropic/stream_error",
        "/v1/messages",
        SSE,
        "response.sse"
    ),
    case!(
        "bedrock/converse-stream",
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream",
        ES,
        "response.bin"
    ),
    case!(
        "bedrock/invoke_stream_claude",
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream",
        ES,
        "response.bin"
    ),
    case!(
        "gemini/stream_json_array",
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
        "application/json",
        "response.json"
    ),
    case!(
        "gemini/stream_sse",
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
        SSE,
        "response.sse"
    ),
    case!(
        "openai/chat_stream",
        "/v1/chat/completions",
        SSE,
        "response.sse"
    ),
    case!(
        "openai/completions_stream",
        "/v1/completions",
        SSE,
        "response.sse"
    ),
    case!(
        "openai/responses_stream",
        "/v1/responses",
        SSE,
        "response.sse"
    ),
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..rng.below(3) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 => {
                let junk: Vec<u8> = (0..rng.below(8) + 1)
                    .map(|_| *b"\r\n:{}[],\"\\ data\x00\xff".get(rng.below(17)).unwrap())
                    .collect();
                out.splice(at..at, junk);
            }
            2 => {
                let end = (at + rng.below(40)).min(out.len());
                out.drain(at..end);
            }
            3 => out.truncate(at),
            _ => {}
        }
    }
    out
}

/// One exchange; returns what the client received.
fn run(rng: &mut Rng, case: (&str, &str, &[u8], &[u8]), upstream: &[u8], held: bool) -> Vec<u8> {
    let (path, content_type, request, _) = case;
    let cfg = if held {
        r#"{"allow_on_headers_stop_iteration":true}"#
    } else {
        "{}"
    };
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
    assert_eq!(f.on_request_headers(&mut host, false), Action::Continue);
    host.released.push(Map::RequestHeaders);
    host.request_body = request.to_vec();
    assert_eq!(
        f.on_request_body(&mut host, request.len(), true),
        Action::Continue
    );
    host.response_headers = [(":status", "200"), ("content-type", content_type)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(f.on_response_headers(&mut host, false), Action::Continue);
    host.released.push(Map::ResponseHeaders);
    let mut pieces = Vec::new();
    let mut rest = upstream;
    while !rest.is_empty() {
        let (a, b) = rest.split_at(rng.below(64).min(rest.len()).max(1));
        pieces.push(a);
        rest = b;
    }
    let end = rng.below(4);
    let mut client = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let last = end == 0 && i + 1 == pieces.len();
        host.response_body = piece.to_vec();
        assert_eq!(
            f.on_response_body(&mut host, piece.len(), last),
            Action::Continue
        );
        client.extend_from_slice(&host.response_body);
    }
    match end {
        0 if !pieces.is_empty() => {}
        0 | 1 => {
            host.response_body.clear();
            assert_eq!(f.on_response_body(&mut host, 0, true), Action::Continue);
            client.extend_from_slice(&host.response_body);
        }
        2 => assert_eq!(f.on_response_trailers(&mut host), Action::Continue),
        _ => {}
    }
    f.on_log(&mut host);
    assert!(host.properties.contains_key("tollbooth"), "metered");
    client
}

/// The events an SSE client sees in `bytes`: (type, data).
fn events(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    let _ = p.push(bytes, &mut |e| {
        out.push((e.event.to_vec(), e.data.to_vec()))
    });
    out
}

#[test]
fn mutated_streams_pass_unchanged_and_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in CASES {
        for i in 0..150 {
            let upstream = if i == 0 {
                case.3.to_vec()
            } else {
                mutate(&mut rng, case.3)
            };
            let held = rng.below(2) == 0;
            let client = run(&mut rng, case, &upstream, held);
            let asked = case.2.windows(13).any(|w| w == b"include_usage");
            if case.0.ends_with("/completions") && !asked {
                // The filter asked for usage: the client sees every event but the usage one.
                let usage_only = |data: &[u8]| {
                    serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|v| {
                        v["choices"].as_array().is_some_and(|c| c.is_empty())
                            && !v["usage"].is_null()
                    })
                };
                let expected: Vec<_> = events(&upstream)
                    .into_iter()
                    .filter(|(_, d)| !usage_only(d))
                    .collect();
                assert_eq!(events(&client), expected, "{} #{i}", case.0);
                continue;
            }
            let (body, extra) = client.split_at(upstream.len().min(client.len()));
            assert_eq!(body, upstream.as_slice(), "{} #{i}", case.0);
            if extra.is_empty() {
                continue;
            }
            // Only a comment, after an SSE stream that ended between events.
            assert!(case.1 == SSE, "{} #{i}", case.0);
            assert!(extra.starts_with(b": tollbooth {") && extra.ends_with(b"}\n\n"));
            let mut p = SseParser::new();
            let _ = p.push(&upstream, &mut |_| {});
            assert_eq!(p.finish(), EndOfStream::Clean, "{} #{i}", case.0);
        }
    }
}
