//! The per-request state machine, host-free: the adapter forwards each proxy-wasm HTTP callback
//! here with a [`Host`]. Request bodies are copied as they stream past (fail-open) or held until
//! complete (fail-closed, so an invalid request never reaches the upstream). Response bodies are
//! copied as they stream past and the results go out as trailers; with Envoy ≥1.35
//! `allow_on_headers_stop_iteration`, JSON responses are held whole so the results can go out as
//! response headers.

use crate::attribution::Attribution;
use crate::config::{Config, Provider};
use crate::decode::ContentDecoder;
use crate::host::{Action, Host, LogLevel, Map};
use crate::metrics::Recorder;
use crate::providers::{bedrock_invoke, Api, Endpoint, Invalid, Problem, RequestInfo};
use crate::tokens::Tokenizer;
use crate::usage::Usage;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Per-VM state shared by every HTTP context: built once per configuration.
pub struct Shared {
    pub config: Config,
    pub tokenizer: Rc<Tokenizer>,
    pub metrics: RefCell<Recorder>,
    /// The names of the result headers (`header_prefix` applied).
    pub stamp_names: crate::stamp::FieldNames,
    /// Price lookups in `config.prices`, remembered.
    pub price_memo: crate::pricing::PriceMemo,
    /// Body bytes copied by this VM's live streams, against `max_copied_bytes_per_vm`.
    pub copied: Cell<usize>,
}

impl Shared {
    pub fn new(config: Config, tokenizer: Rc<Tokenizer>) -> Self {
        let metrics = RefCell::new(Recorder::new(
            &config.metrics_prefix,
            config.max_tenants,
            config.max_models,
        ));
        Self {
            stamp_names: crate::stamp::FieldNames::new(&config.header_prefix),
            price_memo: crate::pricing::PriceMemo::default(),
            config,
            tokenizer,
            metrics,
            copied: Cell::new(0),
        }
    }
}

/// Where the results of a request go when it is finalized.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    ResponseHeaders,
    ResponseTrailers,
    Nowhere,
}

struct Metering {
    provider: Provider,
    endpoint: Endpoint,
    /// The request body is held until complete, so it can be rewritten.
    hold_request: bool,
    /// Streamed requests may be given `stream_options.include_usage` (OpenAI Chat and
    /// Completions, not on Azure api-versions that predate it).
    inject_ok: bool,
    /// The upstream was asked to report usage in the stream.
    expects_usage: bool,
    /// Remove the usage-only chunk from the stream (the filter asked for it, the client did not).
    strip_usage: bool,
    /// A streamed response being metered event by event.
    stream: Option<Box<ResponseStream>>,
    /// The streamed response reached its end (not cut by a reset or a disconnect).
    stream_ended: bool,
    /// Decodes a gzip or deflate response for metering (the client gets the original bytes).
    decoder: Option<ContentDecoder>,
    /// Why the compressed response could not be decoded.
    decode_failed: Option<String>,
    /// Usage from response headers (Bedrock InvokeModel's `x-amzn-bedrock-*-token-count`),
    /// taken when the body has none.
    header_usage: Option<Usage>,
    attribution: Attribution,
    /// The agent run the request belongs to (`budgets.runs.header`).
    run: Option<String>,
    /// What the budgets reserved for this request, to settle when it is metered.
    budget: Option<crate::budget::Admitted>,
    request_body: Vec<u8>,
    request: Option<RequestInfo>,
    status: Option<u16>,
    /// JSON with identity encoding: worth copying and parsing.
    response_parseable: bool,
    response_body: Vec<u8>,
    response_overflow: bool,
    /// Response headers are waiting for the body (≥1.35 mode).
    headers_held: bool,
    /// Bytes held with `Pause` so far (fail-closed request; held response), for reading the
    /// buffer when the stream ends with trailers.
    request_held: usize,
    response_held: usize,
}

enum State {
    Start,
    /// Not LLM traffic, or not meterable: nothing more to do.
    Passthrough,
    Metering(Box<Metering>),
    /// The filter answered locally (fail-closed).
    Rejected,
    Done,
}

pub struct HttpFilter {
    shared: Option<Rc<Shared>>,
    state: State,
    /// Bytes this stream counts against the VM's copy budget; given back once the copies are
    /// dropped (the request body once parsed, the response body once metered).
    reserved: usize,
    /// The provider the request was detected for, for error replies in its format.
    provider: Provider,
}

impl Drop for HttpFilter {
    fn drop(&mut self) {
        self.release_copies();
    }
}

impl HttpFilter {
    /// A filter for one HTTP stream; without a configuration it passes everything through.
    pub fn new(shared: Option<Rc<Shared>>) -> Self {
        Self {
            shared,
            state: State::Start,
            reserved: 0,
            provider: Provider::OpenAi,
        }
    }

    pub fn on_response_headers(&mut self, host: &mut impl Host, end_of_stream: bool) -> Action {
        let (Some(shared), State::Metering(m)) = (self.shared.clone(), &mut self.state) else {
            return Action::Continue;
        };
        let status = host.header(Map::ResponseHeaders, ":status").ok().flatten();
        m.status = status.and_then(|s| std::str::from_utf8(&s).ok()?.parse().ok());
        let content_type = host
            .header(Map::ResponseHeaders, "content-type")
            .ok()
            .flatten()
            .unwrap_or_default();
        let encoding = host
            .header(Map::ResponseHeaders, "content-encoding")
            .ok()
            .flatten();
        let identity = encoding
            .as_deref()
            .is_none_or(|e| e.trim_ascii().eq_ignore_ascii_case(b"identity"));
        let max = shared.config.max_body_bytes;
        m.decoder = encoding
            .as_deref()
            .filter(|_| !identity)
            .and_then(|e| ContentDecoder::for_encoding(e, max));
        let readable = identity || m.decoder.is_some();
        m.response_parseable = is_json(&content_type) && readable;
        if m.endpoint.api == Api::BedrockInvoke {
            let mut get = |n: &str| host.header(Map::ResponseHeaders, n).ok().flatten();
            let input = get("x-amzn-bedrock-input-token-count");
            let output = get("x-amzn-bedrock-output-token-count");
            m.header_usage =
                bedrock_invoke::usage_from_headers(input.as_deref(), output.as_deref());
        }
        let ok = m.status.is_some_and(|s| (200..300).contains(&s));
        if ok && readable && !end_of_stream {
            m.stream = stream_for(m, &content_type, &shared);
            if m.stream.is_some() {
                // A stream is metered as it passes, never held whole: only each push's output
                // is bounded, not the total.
                m.decoder = encoding
                    .as_deref()
                    .filter(|_| !identity)
                    .and_then(|e| ContentDecoder::for_encoding(e, usize::MAX));
            }
        }
        if !readable {
            let e = String::from_utf8_lossy(encoding.as_deref().unwrap_or_default()).into_owned();
            host.log(
                LogLevel::Warn,
                &format!("tollbooth: response is `{e}`-encoded; output tokens not counted"),
            );
            shared
                .metrics
                .borrow_mut()
                .invalid(host, Invalid::ContentEncoding.as_str());
        }
        // Known at response-headers time, so they work in both stop-iteration modes.
        Self::stamp_rate_limits(host, m);
        if end_of_stream {
            self.finalize(host, Target::ResponseHeaders);
            return Action::Continue;
        }
        // Streams stay streams: only a whole JSON body is held for header stamping.
        if shared.config.headers_wait_for_body && m.response_parseable && m.stream.is_none() {
            m.headers_held = true;
            return Action::Pause;
        }
        drop_content_length(host);
        Action::Continue
    }

    pub fn on_response_body(
        &mut self,
        host: &mut impl Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        let (Some(shared), State::Metering(m)) = (self.shared.clone(), &mut self.state) else {
            return Action::Continue;
        };
        if m.stream.is_some() {
            return self.stream_body(host, &shared, body_size, end_of_stream);
        }
        if m.headers_held {
            if end_of_stream {
                let raw = copy_response(host, &shared, &mut self.reserved, body_size, m);
                m.take_body(&raw, true);
                self.finalize(host, Target::ResponseHeaders);
                return Action::Continue;
            }
            if body_size < shared.config.hold_limit() {
                m.response_held = body_size;
                return Action::Pause;
            }
            // Too large to hold (Envoy would fail the stream past its buffer limit): keep a
            // copy, release headers and body, and send the results as trailers.
            m.headers_held = false;
            let raw = copy_response(host, &shared, &mut self.reserved, body_size, m);
            m.take_body(&raw, false);
            drop_content_length(host);
            return Action::Continue;
        }
        if m.response_parseable && !m.response_overflow {
            if m.response_body.len() + body_size > shared.config.max_body_bytes {
                m.response_overflow = true;
                m.response_body = Vec::new();
            } else {
                let chunk = copy_response(host, &shared, &mut self.reserved, body_size, m);
                m.take_body(&chunk, end_of_stream);
            }
        }
        if end_of_stream {
            self.finalize(host, Target::ResponseTrailers);
        }
        Action::Continue
    }

    /// Response trailers end the response; the results join them (or the held headers).
    pub fn on_response_trailers(&mut self, host: &mut impl Host) -> Action {
        let (Some(shared), State::Metering(m)) = (self.shared.clone(), &mut self.state) else {
            return Action::Continue;
        };
        if let Some(stream) = m.stream.as_mut() {
            let (_, held) = stream.end();
            m.stream_ended = true;
            if !held.is_empty() {
                host.log(
                    LogLevel::Warn,
                    "tollbooth: response trailers arrived inside an event; its bytes are dropped",
                );
            }
            self.finalize(host, Target::ResponseTrailers);
        } else if m.headers_held {
            let held = m.response_held;
            let raw = copy_response(host, &shared, &mut self.reserved, held, m);
            m.take_body(&raw, true);
            self.finalize(host, Target::ResponseHeaders);
        } else {
            self.finalize(host, Target::ResponseTrailers);
        }
        Action::Continue
    }

    /// The stream is over: meter what was seen if the response never completed.
    pub fn on_log(&mut self, host: &mut impl Host) {
        self.finalize(host, Target::Nowhere);
    }

    /// Gives this stream's copies back to the VM's copy budget, once they were dropped.
    fn release_copies(&mut self) {
        if let Some(shared) = &self.shared {
            shared
                .copied
                .set(shared.copied.get().saturating_sub(self.reserved));
        }
        self.reserved = 0;
    }

    fn set_or_log(&self, host: &mut impl Host, map: Map, name: &str, value: &str) {
        if let Err(e) = host.set_header(map, name, value) {
            host.log(
                LogLevel::Warn,
                &format!("tollbooth: header {name}: status {}", e.0),
            );
        }
    }
}

impl Metering {
    /// Adds copied response bytes to the body to parse, decoded when the response is
    /// compressed; `end` finishes the decoding. Undecodable data (corrupt, past the caps) makes
    /// the body unreadable, so the response is estimated.
    fn take_body(&mut self, raw: &[u8], end: bool) {
        if self.response_overflow {
            return;
        }
        let Some(decoder) = self.decoder.as_mut() else {
            self.response_body.extend_from_slice(raw);
            return;
        };
        let decoded = decoder.push(raw).and_then(|mut out| {
            if end {
                out.extend(decoder.finish()?);
            }
            Ok(out)
        });
        match decoded {
            Ok(out) => self.response_body.extend_from_slice(&out),
            Err(e) => {
                self.response_overflow = true;
                self.response_body = Vec::new();
                self.decode_failed.get_or_insert(e);
            }
        }
    }
}

/// The results will follow as trailers. Envoy's HTTP/1 codec can only send trailers on a
/// chunked response, so drop content-length while the headers are still ours: Envoy then frames
/// the (unchanged) body as chunked (checked against Envoy 1.40). HTTP/2 is unaffected.
fn drop_content_length(host: &mut impl Host) {
    if let Err(e) = host.remove_header(Map::ResponseHeaders, "content-length") {
        host.log(
            LogLevel::Warn,
            &format!("tollbooth: dropping content-length: status {}", e.0),
        );
    }
}

fn too_large(max: usize) -> Problem {
    (
        Invalid::BodyTooLarge,
        format!("body larger than max_body_bytes ({max})"),
    )
}

/// `application/json`, with or without parameters.
fn is_json(content_type: &[u8]) -> bool {
    let ct = content_type.trim_ascii();
    let base = ct.split(|b| *b == b';').next().unwrap_or(ct).trim_ascii();
    base.eq_ignore_ascii_case(b"application/json")
}

mod budget;
mod copy;
mod finalize;
mod request;
mod stream;
mod streaming;
pub mod warm;

use copy::copy_response;
use stream::ResponseStream;
use streaming::stream_for;

#[cfg(test)]
mod review_big_events;
#[cfg(test)]
mod review_fuzz;
#[cfg(test)]
mod review_paths;
#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
