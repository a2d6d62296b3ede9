//! The documented exchanges under `tests/fixtures/cases/openai/` and `…/azure/`, host-free: each
//! case's path picks the endpoint, its request and response go through the parser (or stream
//! meter, fed by [`crate::sse::SseParser`]) of that API, and the usage and model must be the
//! case's `expected`, which was written from the documentation.

use super::detect::detect;
use super::{openai, openai_completions, openai_embeddings, openai_responses, openai_stream};
use super::{Api, RequestInfo, ResponseInfo, StreamMeter};
use crate::config::Config;
use crate::sse::SseParser;
use crate::tokens::tests::tokenizer;
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! case {
    ($dir:literal, $response:literal) => {
        (
            $dir,
            include_str!(concat!("../../tests/fixtures/cases/", $dir, "/case.json")),
            include_bytes!(concat!(
                "../../tests/fixtures/cases/",
                $dir,
                "/request.json"
            )),
            include_bytes!(concat!("../../tests/fixtures/cases/", $dir, "/", $response)),
        )
    };
}

const CASES: &[(&str, &str, &[u8], &[u8])] = &[
    case!("openai/chat", "response.json"),
    case!("openai/chat_stream", "response.sse"),
    case!(
        "openai/chat_stream_sse_fixture",
        "../../../sse/openai_chat_stream.sse"
    ),
    case!("openai/completions", "response.json"),
    case!("openai/completions_stream", "response.sse"),
    case!("openai/embeddings", "response.json"),
    case!("openai/embeddings_array", "response.json"),
    case!("openai/responses", "response.json"),
    case!("openai/responses_reasoning", "response.json"),
    case!("openai/responses_functions", "response.json"),
    case!("openai/responses_stream", "response.sse"),
    case!("azure/chat", "response.json"),
];

fn run(case: &Value, request: &[u8], response: &[u8]) -> (RequestInfo, ResponseInfo) {
    let cfg = Config::parse(b"{}").unwrap();
    let tok = tokenizer();
    let path = case["path"].as_str().unwrap();
    let deployments = [("my-gpt4o".to_string(), "gpt-4o".to_string())];
    let (_, ep) = detect(None, path, &deployments).unwrap();
    let req = match ep.api {
        Api::OpenAiChat => openai::parse_request(request, &ep, &cfg, tok),
        Api::OpenAiCompletions => openai_completions::parse_request(request, &ep, &cfg, tok),
        Api::OpenAiEmbeddings => openai_embeddings::parse_request(request, &ep, &cfg, tok),
        Api::OpenAiResponses => openai_responses::parse_request(request, &ep, &cfg, tok),
        other => panic!("{other:?} is not an OpenAI API"),
    }
    .unwrap();
    let resp = if case["response_content_type"] == "text/event-stream" {
        let mut meter: Box<dyn StreamMeter> = match ep.api {
            Api::OpenAiResponses => Box::new(openai_responses::ResponsesStreamMeter::new()),
            _ => Box::new(openai_stream::StreamMeter::new(true)),
        };
        let mut parser = SseParser::new();
        parser
            .push(response, &mut |ev| meter.on_event(ev.event, ev.data))
            .unwrap();
        meter.finish(&req, tok, true)
    } else {
        match ep.api {
            Api::OpenAiChat => openai::parse_response(response, &req, tok),
            Api::OpenAiCompletions => openai_completions::parse_response(response, &req, tok),
            Api::OpenAiEmbeddings => openai_embeddings::parse_response(response, &req, tok),
            _ => openai_responses::parse_response(response, &req, tok),
        }
    };
    (req, resp)
}

#[test]
fn documented_cases_give_the_documented_usage() {
    for (dir, case, request, response) in CASES {
        let case: Value = serde_json::from_str(case).unwrap();
        assert!(
            case["doc"].as_str().unwrap().contains("https://"),
            "{dir}: name the documentation"
        );
        let (req, resp) = run(&case, request, response);
        let e = &case["expected"];
        let u = resp.usage;
        let got = serde_json::json!({
            "model": resp.model.clone().unwrap_or(req.model.clone()),
            "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "cached_tokens": u.cached_tokens, "cache_write_5m_tokens": u.cache_write_5m_tokens,
            "cache_write_1h_tokens": u.cache_write_1h_tokens, "reasoning_tokens": u.reasoning_tokens,
            "usage_source": u.source.as_str(),
        });
        assert_eq!(&got, e, "{dir}");
        assert_eq!(resp.problem, None, "{dir}");
        // The request estimate matches the documented bill, except where the module docs say
        // it is a lower bound (Responses with tools, reasoning models).
        if !dir.ends_with("_functions") && !dir.ends_with("_reasoning") {
            assert_eq!(
                Some(req.estimated_input_tokens),
                e["input_tokens"].as_u64(),
                "{dir}"
            );
        }
    }
}

/// Every case directory of these providers is in [`CASES`] (native only: wasm has no files).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn every_case_directory_is_listed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases");
    let mut dirs = Vec::new();
    for provider in ["openai", "azure"] {
        for entry in std::fs::read_dir(root.join(provider)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            dirs.push(format!("{provider}/{name}"));
        }
    }
    dirs.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.0.to_string()).collect();
    listed.sort();
    assert_eq!(listed, dirs);
}
