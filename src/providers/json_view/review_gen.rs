//! Review helper: a deterministic generator of nasty JSON-ish documents for differential tests
//! of the one-pass readers against the `Value` readings they replaced. No outside crates: a
//! xorshift generator, so every run checks the same documents.

/// The tests' seeded generator.
pub(crate) use crate::test_rng::TestRng as Rng;

/// Keys the readers look for, some spelt with escapes, and a few they do not.
const KEYS: &[&str] = &[
    "model",
    "m\\u006fdel",
    "usage",
    "us\\u0061ge",
    "choices",
    "error",
    "service_tier",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "cached_tokens",
    "reasoning_tokens",
    "prompt_cache_hit_tokens",
    "index",
    "finish_reason",
    "text",
    "delta",
    "content",
    "refusal",
    "function_call",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "message",
    "x",
    "",
    "\\u0000",
    "k",
    "n",
    "z",
    "l",
    "o",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "7",
    "1.0",
    "1e2",
    "1E+2",
    "0.5",
    "-1",
    "100000000",
    "100000001",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "1e400",
    "-1e400",
    "1e-400",
    "123456789012345678901234567890",
    "2.5e-3",
    "9007199254740993",
];

const STRINGS: &[&str] = &[
    "\"\"",
    "\"stop\"",
    "\"length\"",
    "\"gpt-4o\"",
    "\"a\\u0000b\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud800\"",
    "\"\\udc00x\"",
    "\"\\ud800\\u0041\"",
    "\"caf\u{e9}\"",
    "\"\\\"q\\\\\"",
    "\"tab\\t\\n\"",
    "\"\\/\"",
    "\"default\"",
    "\"\u{1f600}\"",
    "\"\\u00e9\"",
];

const SPACE: &[&str] = &["", "", "", " ", "\n", "\t", "\r\n ", "  "];

/// A random JSON value (possibly invalid only through its number or string palette).
pub(crate) fn value(rng: &mut Rng, depth: usize, out: &mut String) {
    let kind = if depth == 0 {
        rng.below(4)
    } else {
        rng.below(7)
    };
    match kind {
        0 => out.push_str(rng.pick(NUMBERS)),
        1 => out.push_str(rng.pick(STRINGS)),
        2 => out.push_str(rng.pick(&["null", "true", "false", "null"])),
        3 => out.push_str(rng.pick(&["{}", "[]", "0", "null"])),
        4 | 5 => object(rng, depth - 1, out),
        _ => {
            out.push('[');
            let n = rng.below(4);
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(rng.pick(SPACE));
                value(rng, depth - 1, out);
            }
            out.push(']');
        }
    }
}

/// A random JSON object of the readers' keys (duplicates likely).
pub(crate) fn object(rng: &mut Rng, depth: usize, out: &mut String) {
    out.push('{');
    let n = rng.below(6);
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(rng.pick(SPACE));
        out.push('"');
        out.push_str(rng.pick(KEYS));
        out.push('"');
        out.push_str(rng.pick(SPACE));
        out.push(':');
        out.push_str(rng.pick(SPACE));
        value(rng, depth, out);
    }
    out.push_str(rng.pick(SPACE));
    out.push('}');
}

/// A document: an object, sometimes damaged (truncated, trailing garbage, a BOM, a stray
/// non-UTF-8 byte, a byte changed).
pub(crate) fn document(rng: &mut Rng) -> Vec<u8> {
    let mut s = String::new();
    s.push_str(rng.pick(SPACE));
    object(rng, 4, &mut s);
    s.push_str(rng.pick(SPACE));
    let mut bytes = s.into_bytes();
    match rng.below(12) {
        0 => {
            let cut = rng.below(bytes.len());
            bytes.truncate(cut);
        }
        1 => bytes.extend_from_slice(rng.pick(&[" x", "}", ",", " {}", "\0"]).as_bytes()),
        2 => {
            let mut b = "\u{feff}".as_bytes().to_vec();
            b.extend_from_slice(&bytes);
            bytes = b;
        }
        3 => {
            let at = rng.below(bytes.len());
            bytes.insert(at, 0xff);
        }
        4 => {
            let at = rng.below(bytes.len());
            let b = [b'"', b'\\', b',', b':', b'[', b'}', b'0', b'\x01'][rng.below(8)];
            if let Some(x) = bytes.get_mut(at) {
                *x = b;
            }
        }
        _ => {}
    }
    bytes
}

/// `depth` nested arrays around `inner`.
pub(crate) fn nested(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth))
}
