//! How each documented exchange under `tests/fixtures/cases/<provider>/<name>/` ended, host-free.
//! The case's path picks the endpoint ([`detect`]); its request goes through
//! [`parse_request`]; its response through [`parse_response`], or, for a stream, through the
//! meter [`stream_meter`] gives, fed by the framing the filter would use for the case's content
//! type (SSE, AWS event stream, or Gemini's JSON array). The result's
//! [`ResponseInfo::finish`] must be the case's top-level `"expected_finish"`, written by hand
//! from the response file ([`Finish::as_str`], or `null` for a response that reports no
//! reason); a case without the key is not checked.
//!
//! `expected_finish` sits beside `expected`, not inside it: `tests/cases.rs` compares
//! `expected` field for field with what the filter reports, and the filter does not report the
//! finish yet.
//!
//! Native only: the cases are read from the directories.
#![cfg(not(target_arch = "wasm32"))]

use super::detect::detect;
use super::{
    injects_usage, parse_request, parse_response, stream_meter, Api, Finish, ResponseInfo,
};
use crate::config::Config;
use crate::eventstream::{event_name, Decoder};
use crate::json_stream::JsonArrayStream;
use crate::sse::SseParser;
use crate::tokens::tests::tokenizer;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The configuration of the end-to-end harness (its Azure deployment).
const CONFIG: &[u8] = br#"{"azure":{"deployments":{"my-gpt4o":"gpt-4o"}}}"#;

/// Every case directory, sorted, with its parsed `case.json`.
fn cases() -> Vec<(PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases");
    let mut out = Vec::new();
    for provider in sorted_dirs(&root) {
        for dir in sorted_dirs(&provider) {
            let spec = serde_json::from_slice(&read(&dir.join("case.json"))).unwrap();
            out.push((dir, spec));
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

/// The case's response, its body delivered in the given pieces.
fn run(spec: &Value, request: &[u8], pieces: &[&[u8]]) -> ResponseInfo {
    let cfg = Config::parse(CONFIG).unwrap();
    let tok = tokenizer();
    let (_, ep) = detect(None, spec["path"].as_str().unwrap(), &cfg.azure_deployments).unwrap();
    let req = parse_request(&ep, request, &cfg, tok).unwrap();
    let content_type = spec["response_content_type"].as_str().unwrap();
    let streamed = content_type != "application/json" || (ep.api == Api::Gemini && ep.stream);
    if !streamed {
        return parse_response(ep.api, &pieces.concat(), &req, tok);
    }
    let mut meter = stream_meter(ep.api, injects_usage(ep.api)).unwrap();
    match content_type {
        "text/event-stream" => {
            let mut parser = SseParser::new();
            for piece in pieces {
                parser
                    .push(piece, &mut |ev| meter.on_event(ev.event, ev.data))
                    .unwrap();
            }
        }
        "application/vnd.amazon.eventstream" => {
            let mut decoder = Decoder::new();
            for piece in pieces {
                decoder
                    .push(piece, &mut |m| {
                        let name = event_name(&m).unwrap_or_default();
                        meter.on_event(name.as_bytes(), m.payload());
                    })
                    .unwrap();
            }
        }
        _ => {
            let mut array = JsonArrayStream::default();
            for piece in pieces {
                array
                    .push(piece, &mut |element| meter.on_event(b"", element))
                    .unwrap();
            }
        }
    }
    meter.finish(&req, tok, true)
}

#[test]
fn documented_exchanges_end_as_their_responses_say() {
    let cases = cases();
    assert!(!cases.is_empty());
    let mut checked = 0;
    for (dir, spec) in &cases {
        let name = dir.display();
        let file = |key: &str| read(&dir.join(spec[key].as_str().unwrap()));
        let (request, response) = (file("request"), file("response"));
        let Some(expected) = spec.get("expected_finish") else {
            continue;
        };
        assert!(
            expected.is_null() || expected.is_string(),
            "{name}: expected_finish is a string or null"
        );
        let whole = run(spec, &request, &[&response]).finish;
        assert_eq!(whole.map(Finish::as_str), expected.as_str(), "{name}");
        // Split in two at (a sample of) every offset, the finish is the same.
        let step = response.len() / 100 + 1;
        for cut in (0..=response.len()).step_by(step) {
            let (a, b) = response.split_at(cut);
            assert_eq!(
                run(spec, &request, &[a, b]).finish,
                whole,
                "{name} cut {cut}"
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no case declares expected_finish");
}

/// The finishes that `expected_finish` may name are exactly [`Finish::as_str`]'s.
#[test]
fn expected_finishes_are_finish_names() {
    let names = [
        Finish::Stop,
        Finish::ToolCalls,
        Finish::Length,
        Finish::ContentFilter,
        Finish::Error,
        Finish::Other,
    ]
    .map(Finish::as_str);
    for (dir, spec) in cases() {
        if let Some(name) = spec.get("expected_finish").and_then(Value::as_str) {
            assert!(names.contains(&name), "{}: {name}", dir.display());
        }
    }
}
