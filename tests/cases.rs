//! Every documented exchange under `tests/fixtures/cases/<provider>/<name>/` through the real
//! `tollbooth.wasm`, in both stop-iteration modes with two workers, the response split in two at
//! every byte offset (a dense deterministic sample for long bodies). Each case's `case.json`
//! names the documentation it follows and the usage that documentation reports; the filter
//! state must give exactly that usage at every split, and the client must receive the
//! upstream's bytes.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tollbooth_integration::*;

const CONFIG: &str = r#"{"azure":{"deployments":{"my-gpt4o":"gpt-4o"}}}"#;

/// Bodies up to this size are split at every offset; longer ones at this many sampled offsets.
const EVERY_OFFSET_UP_TO: usize = 1200;

struct Case {
    name: String,
    spec: Value,
    request: Vec<u8>,
    response: Vec<u8>,
}

fn cases() -> Vec<Case> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/cases");
    let mut out = Vec::new();
    for provider in sorted_dirs(&root) {
        for dir in sorted_dirs(&provider) {
            let spec: Value = serde_json::from_slice(&read(&dir.join("case.json"))).unwrap();
            let file = |key: &str| read(&dir.join(spec[key].as_str().unwrap()));
            out.push(Case {
                name: dir.strip_prefix(&root).unwrap().display().to_string(),
                request: file("request"),
                response: file("response"),
                spec,
            });
        }
    }
    out
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Offsets to split a body of `len` bytes at: all of them, or a deterministic sample that
/// always includes both ends.
fn offsets(len: usize) -> Vec<usize> {
    if len <= EVERY_OFFSET_UP_TO {
        return (0..=len).collect();
    }
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15 ^ len as u64;
    let mut picks: Vec<usize> = (0..EVERY_OFFSET_UP_TO)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % (len + 1)
        })
        .chain([0, len])
        .collect();
    picks.sort_unstable();
    picks.dedup();
    picks
}

/// The filter state's usage fields, for comparison with `expected`.
fn usage_of(state: &Value) -> Value {
    json!({
        "model": state["model"],
        "input_tokens": state["input_tokens"],
        "output_tokens": state["output_tokens"],
        "cached_tokens": state["cached_tokens"],
        "cache_write_5m_tokens": state["cache_write_5m_tokens"],
        "cache_write_1h_tokens": state["cache_write_1h_tokens"],
        "reasoning_tokens": state["reasoning_tokens"],
        "usage_source": state["usage_source"],
    })
}

/// `expected` with `null` fields ("not checkable by hand") taken from `actual`.
fn fill_unchecked(expected: &Value, actual: &Value) -> Value {
    let mut e = expected.clone();
    e.as_object_mut()
        .unwrap()
        .remove("expected_output_tokens_at_least");
    for (k, v) in e.as_object_mut().unwrap() {
        if v.is_null() {
            *v = actual[k.as_str()].clone();
        }
    }
    e
}

/// USD per million tokens, written as a decimal, in pico-USD per token (= micro-USD per
/// million): exact for up to six decimals.
fn pico(v: &Value) -> u128 {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    assert!(frac.len() <= 6, "{text}");
    let frac = format!("{frac:0<6}");
    whole.parse::<u128>().unwrap() * 1_000_000 + frac.parse::<u128>().unwrap()
}

/// The expected cost, worked out here from `examples/prices.json` (the built-in table the
/// harness's configuration uses): the entry named by the case's `price_model`, else the
/// model's exact entry, else its longest prefix. `None` when the table has no entry.
fn expected_cost(spec: &Value, usage: &Value) -> Option<String> {
    let table: Value = serde_json::from_slice(&read(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/prices.json"),
    ))
    .unwrap();
    let prices = table["prices"].as_object().unwrap();
    let model = spec["price_model"]
        .as_str()
        .or(usage["model"].as_str())
        .unwrap();
    let entry = prices.get(model).or_else(|| {
        prices
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, e)| e)
    })?;
    let n = |k: &str| u128::from(usage[k].as_u64().unwrap());
    let input = n("input_tokens");
    let level = match &entry["long_context"] {
        lc if lc.is_object() && input > u128::from(lc["above_input_tokens"].as_u64().unwrap()) => {
            lc
        }
        _ => entry,
    };
    let p_in = pico(&level["input"]);
    let p = |k: &str, default: u128| level.get(k).map_or(default, pico);
    let (cached, w5, w1) = (
        n("cached_tokens"),
        n("cache_write_5m_tokens"),
        n("cache_write_1h_tokens"),
    );
    let p_w5 = p("cache_write_5m", p_in);
    let cost = (input - cached - w5 - w1) * p_in
        + cached * p("cached_input", p_in)
        + w5 * p_w5
        + w1 * p("cache_write_1h", p_w5)
        + n("output_tokens") * p("output", 0);
    // pico-USD → a trimmed decimal string of USD.
    let text = format!(
        "{}.{:012}",
        cost / 1_000_000_000_000,
        cost % 1_000_000_000_000
    );
    Some(text.trim_end_matches('0').trim_end_matches('.').to_string())
}

fn run_case(case: &Case, host: &mut Host, mode: (StopMode, bool), cut: usize) {
    let spec = &case.spec;
    let path = spec["path"].as_str().unwrap();
    // The request arrives in two pieces too, cut at a position that moves with `cut`.
    let req = Request::post(path, case.request.clone())
        .header("content-type", "application/json")
        .chunking(Chunking::Sizes(vec![cut % (case.request.len() + 1)]));
    let mut resp = Response::ok(case.response.clone())
        .header(
            "content-type",
            spec["response_content_type"].as_str().unwrap(),
        )
        .chunking(Chunking::Sizes(vec![cut]));
    for (k, v) in spec["response_headers"].as_object().into_iter().flatten() {
        resp = resp.header(k, v.as_str().unwrap());
    }
    let what = format!("{} {mode:?} cut {cut}", case.name);
    let x = host
        .roundtrip(cut % 2, &req, |_| resp.clone())
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(x.status, 200, "{what}");
    assert!(x.vm_error.is_none(), "{what}: {:?}", x.vm_error);
    let state = state(&x);
    let actual = usage_of(&state);
    let expected = fill_unchecked(&spec["expected"], &actual);
    assert_eq!(actual, expected, "{what}");
    assert_eq!(
        state["cost_usd"].as_str().map(str::to_string),
        expected_cost(spec, &actual),
        "{what}: cost"
    );
    let at_least = &spec["expected_output_tokens_at_least"];
    let at_least = at_least
        .as_u64()
        .or(spec["expected"]["expected_output_tokens_at_least"].as_u64());
    if let Some(min) = at_least {
        assert!(actual["output_tokens"].as_u64().unwrap() >= min, "{what}");
    }
    // The client receives the upstream's bytes: all of them, or all but the usage-only chunk
    // the filter asked for on its behalf.
    if spec["usage_chunk_removed"].as_bool() == Some(true) {
        assert!(!x.body_str().contains(r#""choices":[],"usage""#), "{what}");
        let upstream: Value = serde_json::from_slice(&x.upstream.as_ref().unwrap().body).unwrap();
        assert_eq!(upstream["stream_options"]["include_usage"], true, "{what}");
    } else {
        assert!(x.body.starts_with(&case.response), "{what}: body changed");
    }
    // Streams are stamped in trailers; whole JSON bodies in headers in the ≥1.35 mode.
    let streamed = spec["response_content_type"] != "application/json" || path.contains(":stream");
    let stamped = if mode.1 && !streamed {
        x.header("x-llm-input-tokens")
    } else {
        x.trailers
            .as_ref()
            .and_then(|t| t.get("x-llm-input-tokens"))
    };
    assert_eq!(
        stamped.map(str::to_string),
        Some(actual["input_tokens"].to_string()),
        "{what}"
    );
}

#[test]
fn documented_exchanges_meter_exactly_at_every_split() {
    let cases = cases();
    assert!(!cases.is_empty());
    for mode in MODES {
        let mut host = host(mode, 2, CONFIG);
        for case in &cases {
            for cut in offsets(case.response.len()) {
                run_case(case, &mut host, mode, cut);
            }
        }
    }
}
