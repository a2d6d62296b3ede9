//! Work done once when a configuration is applied, so that the first request of a VM costs what
//! the ones after it do: a sample counted with each encoding (its code and the table pages it
//! reads: the tables are static data, nothing is built), and one exchange of each common
//! kind run through a throwaway filter (its own metrics, no budgets, a host that answers from
//! memory), which also touches the code and memory a first request would.

use super::{HttpFilter, Shared};
use crate::config::Config;
use crate::host::{Body, Host, HostError, LogLevel, Map};
use crate::tokens::Encoding;
use std::rc::Rc;

/// Text with the kinds of pieces the encodings' pre-tokenizers split: words, capitals,
/// contractions, numbers, punctuation, whitespace runs and line breaks, non-Latin scripts and
/// emoji.
const SAMPLE: &str = "You are a helpful assistant. Hi! I'm here; it's 2024-07-18, 12:34.\n\n\
    def f(x):\n    return {\"a\": [1, 2.5e3]}  # \u{e7}a va? \u{4f60}\u{597d} \u{1f44b}\tEND";

const REQUEST: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hi"}]}"#;

const STREAM_REQUEST: &str =
    r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;

const RESPONSE: &str = r#"{"id":"chatcmpl-0","object":"chat.completion","created":0,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":2,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;

const EVENTS: [&str; 4] = [
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n\n",
    "data: [DONE]\n\n",
];

/// Tokenizes a sample with every encoding, then runs a JSON and a streamed exchange through a
/// throwaway filter built on `shared`'s configuration (routes reset to the default, no
/// budgets, fail-open) and tokenizer. Nothing reaches the real host: no log, metric or header.
/// Returns how many of the exchanges were metered (all of them, unless something is broken).
pub fn warm_up(shared: &Shared) -> usize {
    for enc in Encoding::ALL {
        if shared.tokenizer.has(enc) {
            let _ = shared.tokenizer.count(enc, SAMPLE);
        }
    }
    let Ok(default) = Config::parse(b"{}") else {
        return 0;
    };
    let mut config = shared.config.clone();
    config.routes = default.routes;
    config.budgets = None;
    config.fail_closed = false;
    let throwaway = Rc::new(Shared::new(config, Rc::clone(&shared.tokenizer)));
    let json = exchange(&throwaway, REQUEST, "application/json", &[RESPONSE]);
    let stream = exchange(&throwaway, STREAM_REQUEST, "text/event-stream", &EVENTS);
    usize::from(json) + usize::from(stream)
}

/// Runs one exchange; whether it was metered.
fn exchange(shared: &Rc<Shared>, request: &str, content_type: &str, response: &[&str]) -> bool {
    let mut host = WarmHost {
        request: vec![
            (":method", "POST".into()),
            (":path", "/v1/chat/completions".into()),
            (":authority", "api.openai.com".into()),
            ("content-type", "application/json".into()),
            ("authorization", "Bearer warm-up".into()),
            ("content-length", request.len().to_string()),
        ],
        response: vec![
            (":status", "200".into()),
            ("content-type", content_type.into()),
        ],
        body: request.as_bytes().to_vec(),
    };
    let mut filter = HttpFilter::new(Some(Rc::clone(shared)));
    filter.on_request_headers(&mut host, false);
    filter.on_request_body(&mut host, request.len(), true);
    filter.on_response_headers(&mut host, false);
    let last = response.len().saturating_sub(1);
    for (i, chunk) in response.iter().enumerate() {
        host.body = chunk.as_bytes().to_vec();
        filter.on_response_body(&mut host, chunk.len(), i == last);
    }
    let metered = matches!(filter.state, super::State::Done);
    filter.on_log(&mut host);
    metered
}

/// A host that answers from memory and drops everything the filter sends.
struct WarmHost {
    request: Vec<(&'static str, String)>,
    response: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Host for WarmHost {
    fn log(&mut self, _: LogLevel, _: &str) {}
    fn header(&mut self, map: Map, name: &str) -> Result<Option<Vec<u8>>, HostError> {
        let headers = match map {
            Map::RequestHeaders => &self.request,
            Map::ResponseHeaders => &self.response,
            Map::ResponseTrailers => return Ok(None),
        };
        let value = headers.iter().find(|(n, _)| *n == name);
        Ok(value.map(|(_, v)| v.as_bytes().to_vec()))
    }
    fn set_header(&mut self, _: Map, _: &str, _: &str) -> Result<(), HostError> {
        Ok(())
    }
    fn add_header(&mut self, _: Map, _: &str, _: &str) -> Result<(), HostError> {
        Ok(())
    }
    fn remove_header(&mut self, _: Map, _: &str) -> Result<(), HostError> {
        Ok(())
    }
    fn body(&mut self, _: Body, start: usize, len: usize) -> Result<Vec<u8>, HostError> {
        let end = start.saturating_add(len).min(self.body.len());
        Ok(self.body.get(start..end).unwrap_or_default().to_vec())
    }
    fn set_body(&mut self, _: Body, _: usize, _: usize, _: &[u8]) -> Result<(), HostError> {
        Ok(())
    }
    fn set_property(&mut self, _: &str, _: &[u8]) -> Result<(), HostError> {
        Ok(())
    }
    fn send_local_response(
        &mut self,
        _: u32,
        _: &[(&str, &str)],
        _: &[u8],
    ) -> Result<(), HostError> {
        Ok(())
    }
    fn define_counter(&mut self, _: &str) -> Result<u32, HostError> {
        Ok(0)
    }
    fn define_gauge(&mut self, _: &str) -> Result<u32, HostError> {
        Ok(0)
    }
    fn set_gauge(&mut self, _: u32, _: u64) -> Result<(), HostError> {
        Ok(())
    }
    fn now_ns(&mut self) -> u64 {
        0
    }
    fn shared_get(&mut self, _: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
        Ok(None)
    }
    fn shared_set(&mut self, _: &str, _: &[u8], _: u32) -> Result<(), HostError> {
        Ok(())
    }
    fn increment_counter(&mut self, _: u32, _: u64) -> Result<(), HostError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
