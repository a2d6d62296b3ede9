//! Review: the one-pass response reading against the full reading on generated documents
//! biased towards usable `usage` objects, with duplicates, wrong types, nasty numbers and
//! strings, and damaged bodies.

use super::super::{
    choices_finish, output_tokens, parse_request, parse_response_with, provider_usage, CHAT,
};
use super::*;
use crate::config::Config;
use crate::providers::json_view::review_gen::{value, Rng};
use crate::providers::RequestInfo;
use crate::tokens::tests::tokenizer;
use crate::usage::UsageSource;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn request() -> RequestInfo {
    let cfg = Config::parse(b"{}").unwrap();
    let body = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}"#;
    parse_request(body, &CHAT, &cfg, tokenizer()).unwrap()
}

fn full(body: &[u8], req: &RequestInfo) -> ResponseInfo {
    parse_response_with(
        body,
        req,
        tokenizer(),
        provider_usage,
        output_tokens,
        choices_finish,
    )
}

const COUNTS: &[&str] = &[
    "0",
    "1",
    "5",
    "19",
    "100000000",
    "null",
    "-0",
    "1.0",
    "-1",
    "100000001",
    "\"3\"",
    "[]",
    "{}",
    "18446744073709551615",
    "1e400",
    "true",
];

fn count(rng: &mut Rng, out: &mut String) {
    if rng.below(3) == 0 {
        out.push_str(rng.pick(COUNTS));
    } else {
        out.push_str(rng.pick(&["0", "1", "2", "3", "10", "20"]));
    }
}

fn member(rng: &mut Rng, out: &mut String, key: &str, f: impl FnOnce(&mut Rng, &mut String)) {
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
    f(rng, out);
    out.push(',');
}

fn usage(rng: &mut Rng, out: &mut String) {
    if rng.below(10) == 0 {
        value(rng, 2, out);
        return;
    }
    out.push('{');
    for _ in 0..rng.below(8) {
        match rng.below(9) {
            0 | 1 => member(rng, out, "prompt_tokens", count),
            2 | 3 => member(rng, out, "completion_tokens", count),
            4 => member(rng, out, "prompt_cache_hit_tokens", count),
            5 => member(rng, out, "prompt_tokens_details", |rng, out| {
                out.push_str("{\"cached_tokens\":");
                count(rng, out);
                out.push('}');
            }),
            6 => member(rng, out, "completion_tokens_details", |rng, out| {
                out.push_str("{\"reasoning_tokens\":");
                count(rng, out);
                out.push('}');
            }),
            7 => {
                let key = rng.pick(&["total_tokens", "prompt_tokens_details"]);
                member(rng, out, key, |rng, out| value(rng, 2, out))
            }
            _ => member(rng, out, "prompt_tokens_detail", count),
        }
    }
    // Always a usable pair last, half the time, so many documents have a usage.
    if rng.below(2) == 0 {
        out.push_str("\"prompt_tokens\":30,\"completion_tokens\":20,");
    }
    out.push_str("\"z\":0}");
}

fn choices(rng: &mut Rng, out: &mut String) {
    if rng.below(6) == 0 {
        value(rng, 2, out);
        return;
    }
    out.push('[');
    for i in 0..rng.below(5) {
        if i > 0 {
            out.push(',');
        }
        match rng.below(5) {
            0 => value(rng, 1, out),
            _ => {
                out.push_str("{\"finish_reason\":");
                out.push_str(rng.pick(&[
                    "\"stop\"",
                    "\"length\"",
                    "\"\"",
                    "null",
                    "\"content_filter\"",
                    "\"tool_calls\"",
                    "\"insufficient_system_resource\"",
                    "\"st\\u006fp\"",
                    "7",
                    "\"weird\"",
                ]));
                out.push('}');
            }
        }
    }
    out.push(']');
}

fn body(rng: &mut Rng) -> Vec<u8> {
    let mut out = String::from("{");
    for _ in 0..rng.below(7) {
        match rng.below(8) {
            0 | 1 => member(rng, &mut out, "usage", usage),
            2 => member(rng, &mut out, "choices", choices),
            3 => {
                let key = rng.pick(&["model", "service_tier"]);
                member(rng, &mut out, key, |rng, out| {
                    let v = [
                        r#""gpt-4o""#,
                        r#""""#,
                        "null",
                        "5",
                        r#""\u0000""#,
                        r#""\ud800""#,
                    ];
                    out.push_str(rng.pick(&v))
                })
            }
            4 => member(rng, &mut out, "error", |rng, out| value(rng, 1, out)),
            _ => {
                let key = rng.pick(&["x", "id", "us\\u0061ge"]);
                member(rng, &mut out, key, |rng, out| value(rng, 2, out))
            }
        }
    }
    out.push_str("\"id\":\"x\"}");
    let mut bytes = out.into_bytes();
    match rng.below(10) {
        0 => bytes.truncate(rng.below(bytes.len())),
        1 => bytes.extend_from_slice(b" x"),
        2 => bytes.splice(0..0, "\u{feff}".bytes()).for_each(drop),
        _ => {}
    }
    bytes
}

#[test]
fn generated_responses_answer_as_the_full_reading_or_not_at_all() {
    let req = request();
    let mut rng = Rng::new(0xfa57);
    let (mut answered, mut usable) = (0, 0);
    for _ in 0..20_000 {
        let b = body(&mut rng);
        let expected = full(&b, &req);
        let fast = with_usage(&b);
        if expected.problem.is_none() && expected.usage.source == UsageSource::Provider {
            usable += 1;
        }
        if let Some(got) = fast {
            assert_eq!(got, expected, "{}", String::from_utf8_lossy(&b));
            answered += 1;
        }
    }
    // The fast path is meant for the common case: it should answer most usable bodies.
    assert!(answered > 1000, "answered {answered} of {usable}");
    assert_eq!(
        answered, usable,
        "bodies with a usable usage left to the full reading"
    );
}
