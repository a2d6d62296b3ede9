//! Review: the one-pass chunk reading against the `Value` reading (`chunk_tests`' reference) on
//! generated chunks: duplicate members, wrong types, escapes, nasty numbers, damaged data.

use super::chunk_tests::{reference_is_usage_only, reference_on_event};
use super::*;
use crate::providers::json_view::review_gen::{document, value, Rng};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Leaves: mostly strings and small counts, sometimes anything.
fn leaf(rng: &mut Rng, out: &mut String) {
    match rng.below(4) {
        0 => value(rng, 1, out),
        1 => out.push_str(rng.pick(&[
            "0",
            "1",
            "2",
            "-1",
            "1.0",
            "-0",
            "18446744073709551615",
            "null",
        ])),
        _ => out.push_str(rng.pick(&[
            "\"Hel\"",
            "\"lo\"",
            "\"\"",
            "\"\\u00e9\"",
            "\"\\ud83d\\ude00\"",
            "\"a\\nb\"",
            "\"stop\"",
            "\"length\"",
            "\"f\"",
            "\"{\\\"a\\\":1}\"",
        ])),
    }
}

type Gen = fn(&mut Rng, &mut String);

fn obj(rng: &mut Rng, out: &mut String, members: &[(&str, Gen)]) {
    if rng.below(12) == 0 {
        value(rng, 1, out);
        return;
    }
    out.push('{');
    let n = rng.below(members.len() + 2);
    for i in 0..n {
        if i > 0 {
            out.push_str(rng.pick(&[",", " ,\n"]));
        }
        let (key, gen) = members[rng.below(members.len())];
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        gen(rng, out);
    }
    out.push('}');
}

fn arr(rng: &mut Rng, out: &mut String, item: Gen) {
    if rng.below(12) == 0 {
        value(rng, 1, out);
        return;
    }
    out.push('[');
    for i in 0..rng.below(4) {
        if i > 0 {
            out.push(',');
        }
        item(rng, out);
    }
    out.push(']');
}

fn function(rng: &mut Rng, out: &mut String) {
    obj(
        rng,
        out,
        &[
            ("name", leaf),
            ("arguments", leaf),
            ("n\\u0061me", leaf),
            ("x", leaf),
        ],
    );
}

fn tool_call(rng: &mut Rng, out: &mut String) {
    obj(
        rng,
        out,
        &[("index", leaf), ("function", function), ("id", leaf)],
    );
}

fn delta(rng: &mut Rng, out: &mut String) {
    obj(
        rng,
        out,
        &[
            ("content", leaf),
            ("refusal", leaf),
            ("role", leaf),
            ("function_call", function),
            ("tool_calls", |rng, out| arr(rng, out, tool_call)),
        ],
    );
}

fn choice(rng: &mut Rng, out: &mut String) {
    obj(
        rng,
        out,
        &[
            ("index", leaf),
            ("finish_reason", leaf),
            ("text", leaf),
            ("delta", delta),
        ],
    );
}

fn usage(rng: &mut Rng, out: &mut String) {
    obj(
        rng,
        out,
        &[
            ("prompt_tokens", leaf),
            ("completion_tokens", leaf),
            ("prompt_cache_hit_tokens", leaf),
            ("prompt_tokens_details", |rng, out| {
                obj(rng, out, &[("cached_tokens", leaf)])
            }),
            ("completion_tokens_details", |rng, out| {
                obj(rng, out, &[("reasoning_tokens", leaf)])
            }),
        ],
    );
}

/// A usage with a usable pair of counts, its other members random.
fn good_usage(rng: &mut Rng, out: &mut String) {
    let mut rest = String::new();
    usage(rng, &mut rest);
    out.push_str(r#"{"prompt_tokens":9,"completion_tokens":4,"x":"#);
    out.push_str(&rest);
    out.push('}');
    if rng.below(2) == 0 {
        out.pop();
        out.push_str(r#","prompt_tokens_details":{"cached_tokens":2}}"#);
    }
}

fn chunk(rng: &mut Rng) -> Vec<u8> {
    let mut out = String::new();
    obj(
        rng,
        &mut out,
        &[
            ("choices", |rng, out| arr(rng, out, choice)),
            ("choices", |rng, out| arr(rng, out, choice)),
            ("usage", usage),
            ("usage", good_usage),
            ("usage", |_, out| out.push_str("null")),
            ("error", |rng, out| value(rng, 2, out)),
            ("model", leaf),
            ("service_tier", leaf),
            ("object", leaf),
        ],
    );
    let mut bytes = out.into_bytes();
    match rng.below(16) {
        0 => bytes.truncate(rng.below(bytes.len())),
        1 => bytes.extend_from_slice(b" }"),
        2 => bytes = b"[DONE]".to_vec(),
        3 => bytes = document(rng),
        _ => {}
    }
    bytes
}

#[test]
fn generated_chunks_meter_as_the_value_reading() {
    let mut rng = Rng::new(0xc4a2);
    let (mut chunks, mut usable, mut texts) = (0, 0, 0);
    for round in 0..400 {
        let max_text = [0, 8, 1 << 20][round % 3];
        let mut fast = StreamMeter::with_max_text_bytes(round % 2 == 0, max_text);
        let mut reference = StreamMeter::with_max_text_bytes(round % 2 == 0, max_text);
        for _ in 0..rng.below(40) {
            let e = chunk(&mut rng);
            fast.on_event(&e);
            reference_on_event(&mut reference, &e);
            assert_eq!(
                format!("{fast:?}"),
                format!("{reference:?}"),
                "after {}",
                String::from_utf8_lossy(&e)
            );
            assert_eq!(
                is_usage_only_chunk(&e),
                reference_is_usage_only(&e),
                "{}",
                String::from_utf8_lossy(&e)
            );
        }
        chunks += fast.chunks();
        usable += u64::from(fast.has_provider_usage());
        texts += u64::from(!fast.texts.nothing_kept());
    }
    assert!(
        chunks > 3000 && usable > 20 && texts > 100,
        "{chunks} {usable} {texts}"
    );
}

#[test]
fn edge_chunks_meter_as_the_value_reading() {
    let events: &[&[u8]] = &[
        br#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1},"usage":{"prompt_tokens":2,"completion_tokens":2}}"#,
        br#"{"choices":[],"usage":null,"usage":{"prompt_tokens":3,"completion_tokens":3}}"#,
        br#"{"choices":[{"index":0,"delta":{"content":"a"}},{"index":0,"delta":{"content":"b"}},{"index":18446744073709551615,"delta":{"content":"c"}},{"index":-0,"delta":{"content":"d"}}]}"#,
        br#"{"choices":[{"index":1,"index":null,"delta":{"content":"e"}}]}"#,
        br#"{"choices":[{"delta":{"content":"\u0000"}}]}"#,
        br#"{"choices":[{"delta":{"content":"\ud800"}}]}"#,
        br#"{"choices":[{"delta":{"tool_calls":[{"index":2,"function":{"name":"f","name":null}}]}}]}"#,
        br#"{"error":null,"error":{"message":"x"},"error":null}"#,
        br#"{"error":{"message":"y"},"error":null}"#,
        b"\xef\xbb\xbf{\"model\":\"bom\"}",
        b" [DONE]",
        b"[DONE] ",
        b"[DONE]\n",
        b"{\"model\":\"ok\"}\n",
    ];
    let mut fast = StreamMeter::new(true);
    let mut reference = StreamMeter::new(true);
    for e in events {
        fast.on_event(e);
        reference_on_event(&mut reference, e);
        assert_eq!(
            format!("{fast:?}"),
            format!("{reference:?}"),
            "after {}",
            String::from_utf8_lossy(e)
        );
    }
}
