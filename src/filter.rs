//! The per-request state machine, host-free: the adapter forwards each proxy-wasm HTTP callback
//! here with a [`Host`]. Request bodies are copied as they stream past (fail-open) or held until
//! complete (fail-closed, so an invalid request never reaches the upstream). Response bodies are
//! copied as they stream past and the results go out as trailers; with Envoy ≥1.35
//! `allow_on_headers_stop_iteration`, JSON responses are held whole so the results can go out as
//! response headers.

use crate::attribution::{attribute, Attribution};
use crate::config::{Config, Provider};
use crate::host::{Action, Body, Host, LogLevel, Map};
use crate::metrics::Recorder;
use crate::providers::{openai, Invalid, Problem, RequestInfo};
use crate::tokens::Tokenizer;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Per-VM state shared by every HTTP context: built once per configuration.
pub struct Shared {
    pub config: Config,
    pub tokenizer: Rc<Tokenizer>,
    pub metrics: RefCell<Recorder>,
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
    attribution: Attribution,
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
    /// Bytes this stream counts against the VM's copy budget; given back on drop.
    reserved: usize,
}

impl Drop for HttpFilter {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared
                .copied
                .set(shared.copied.get().saturating_sub(self.reserved));
        }
    }
}

impl HttpFilter {
    /// A filter for one HTTP stream; without a configuration it passes everything through.
    pub fn new(shared: Option<Rc<Shared>>) -> Self {
        Self {
            shared,
            state: State::Start,
            reserved: 0,
        }
    }

    pub fn on_request_headers(&mut self, host: &mut impl Host, end_of_stream: bool) -> Action {
        let Some(shared) = self.shared.clone() else {
            self.state = State::Passthrough;
            return Action::Continue;
        };
        let cfg = &shared.config;
        let mut get = |name: &str| host.header(Map::RequestHeaders, name).ok().flatten();
        let method = get(":method");
        let path = get(":path")
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .unwrap_or_default();
        let authority = get(":authority").map(|a| String::from_utf8_lossy(&a).into_owned());
        let route = cfg.route(&path, authority.as_deref());
        let (Some(route), Some(b"POST")) = (route, method.as_deref()) else {
            self.state = State::Passthrough;
            return Action::Continue;
        };
        let attribution = attribute(cfg, |name| {
            host.header(Map::RequestHeaders, name).ok().flatten()
        });
        // Ask for an uncompressed response so it can be metered (Envoy's compressor can still
        // compress towards the client).
        if let Err(e) = host.remove_header(Map::RequestHeaders, "accept-encoding") {
            host.log(
                LogLevel::Warn,
                &format!("tollbooth: accept-encoding: status {}", e.0),
            );
        }
        if cfg.upstream_headers {
            let tenant_header = format!("{}tenant", cfg.header_prefix);
            self.set_or_log(
                host,
                Map::RequestHeaders,
                &tenant_header,
                &attribution.tenant,
            );
            for (name, _) in &cfg.attributes {
                let header = format!("{}{name}", cfg.header_prefix);
                match attribution.attributes.iter().find(|(n, _)| n == name) {
                    Some((_, value)) => self.set_or_log(host, Map::RequestHeaders, &header, value),
                    // Never forward a client's own claim for an attribute it did not send.
                    None => {
                        if let Err(e) = host.remove_header(Map::RequestHeaders, &header) {
                            host.log(
                                LogLevel::Warn,
                                &format!("tollbooth: header {header}: status {}", e.0),
                            );
                        }
                    }
                }
            }
        }
        let content_type = host
            .header(Map::RequestHeaders, "content-type")
            .ok()
            .flatten()
            .unwrap_or_default();
        let problem = if !is_json(&content_type) {
            Some((
                Invalid::ContentType,
                format!(
                    "content-type `{}` is not JSON",
                    String::from_utf8_lossy(&content_type)
                ),
            ))
        } else if end_of_stream {
            Some((Invalid::EmptyBody, "request has no body".to_string()))
        } else {
            None
        };
        if let Some(problem) = problem {
            return self.invalid_request(host, &shared, problem);
        }
        self.state = State::Metering(Box::new(Metering {
            provider: route.provider,
            attribution,
            request_body: Vec::new(),
            request: None,
            status: None,
            response_parseable: false,
            response_body: Vec::new(),
            response_overflow: false,
            headers_held: false,
            request_held: 0,
            response_held: 0,
        }));
        Action::Continue
    }

    pub fn on_request_body(
        &mut self,
        host: &mut impl Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        let (Some(shared), State::Metering(m)) = (self.shared.clone(), &mut self.state) else {
            return Action::Continue;
        };
        let cfg = &shared.config;
        if cfg.fail_closed {
            // Hold the whole body (Pause keeps Envoy buffering) until it can be judged.
            if body_size > cfg.hold_limit() {
                return self.invalid_request(host, &shared, too_large(cfg.hold_limit()));
            }
            if !end_of_stream {
                m.request_held = body_size;
                return Action::Pause;
            }
            match copy_body(host, &shared, &mut self.reserved, Body::Request, body_size) {
                Some(body) => m.request_body = body,
                None => return self.invalid_request(host, &shared, over_budget(cfg)),
            }
        } else {
            // Copy what streams past; each Continue releases it upstream at once.
            if m.request_body.len() + body_size > cfg.max_body_bytes {
                return self.invalid_request(host, &shared, too_large(cfg.max_body_bytes));
            }
            match copy_body(host, &shared, &mut self.reserved, Body::Request, body_size) {
                Some(chunk) => m.request_body.extend_from_slice(&chunk),
                None => return self.invalid_request(host, &shared, over_budget(cfg)),
            }
            if !end_of_stream {
                return Action::Continue;
            }
        }
        self.end_request(host, &shared)
    }

    /// Request trailers end the request: the body is complete.
    pub fn on_request_trailers(&mut self, host: &mut impl Host) -> Action {
        let (Some(shared), State::Metering(m)) = (self.shared.clone(), &mut self.state) else {
            return Action::Continue;
        };
        if shared.config.fail_closed {
            let held = m.request_held;
            match copy_body(host, &shared, &mut self.reserved, Body::Request, held) {
                Some(body) => m.request_body = body,
                None => return self.invalid_request(host, &shared, over_budget(&shared.config)),
            }
        }
        self.end_request(host, &shared)
    }

    /// Parses the complete request body.
    fn end_request(&mut self, host: &mut impl Host, shared: &Shared) -> Action {
        let State::Metering(m) = &mut self.state else {
            return Action::Continue;
        };
        let cfg = &shared.config;
        let body = std::mem::take(&mut m.request_body);
        let parsed = match m.provider {
            Provider::OpenAi => openai::parse_request(&body, cfg, &shared.tokenizer),
        };
        match parsed {
            Ok(info) => {
                m.request = Some(info);
                Action::Continue
            }
            Err(problem) => self.invalid_request(host, shared, problem),
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
        m.response_parseable = is_json(&content_type) && identity;
        if !identity {
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
        if end_of_stream {
            self.finalize(host, Target::ResponseHeaders);
            return Action::Continue;
        }
        if shared.config.headers_wait_for_body && m.response_parseable {
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
        if m.headers_held {
            if end_of_stream {
                m.response_body = copy_response(host, &shared, &mut self.reserved, body_size, m);
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
            m.response_body = copy_response(host, &shared, &mut self.reserved, body_size, m);
            drop_content_length(host);
            return Action::Continue;
        }
        if m.response_parseable && !m.response_overflow {
            if m.response_body.len() + body_size > shared.config.max_body_bytes {
                m.response_overflow = true;
                m.response_body = Vec::new();
            } else {
                let chunk = copy_response(host, &shared, &mut self.reserved, body_size, m);
                m.response_body.extend_from_slice(&chunk);
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
        if m.headers_held {
            let held = m.response_held;
            m.response_body = copy_response(host, &shared, &mut self.reserved, held, m);
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

    /// A request that cannot be metered: one log line and a metric, then pass it through
    /// (fail-open) or answer 400 in OpenAI's error format (fail-closed).
    fn invalid_request(
        &mut self,
        host: &mut impl Host,
        shared: &Shared,
        (reason, detail): Problem,
    ) -> Action {
        let code = reason.as_str();
        shared.metrics.borrow_mut().invalid(host, code);
        if !shared.config.fail_closed {
            host.log(
                LogLevel::Warn,
                &format!("tollbooth: request passed through unmetered ({code}): {detail}"),
            );
            self.state = State::Passthrough;
            return Action::Continue;
        }
        host.log(
            LogLevel::Warn,
            &format!("tollbooth: request rejected ({code}): {detail}"),
        );
        self.state = State::Rejected;
        let body = openai::error_body(
            &format!("Request rejected by the gateway: {detail}"),
            &format!("tollbooth_{code}"),
        );
        if let Err(e) =
            host.send_local_response(400, &[("content-type", "application/json")], &body)
        {
            host.log(
                LogLevel::Error,
                &format!("tollbooth: local reply failed: status {}", e.0),
            );
            return Action::Continue;
        }
        Action::Pause
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

/// Copies `len` bytes of the body buffered for this callback, if the VM's copy budget allows.
fn copy_body(
    host: &mut impl Host,
    shared: &Shared,
    reserved: &mut usize,
    body: Body,
    len: usize,
) -> Option<Vec<u8>> {
    let in_use = shared.copied.get();
    if in_use.saturating_add(len) > shared.config.max_copied_bytes_per_vm {
        return None;
    }
    shared.copied.set(in_use + len);
    *reserved += len;
    Some(host.body(body, 0, len).unwrap_or_default())
}

/// A response copy; over the VM's budget the response is estimated instead (logged, counted).
fn copy_response(
    host: &mut impl Host,
    shared: &Shared,
    reserved: &mut usize,
    len: usize,
    m: &mut Metering,
) -> Vec<u8> {
    if let Some(bytes) = copy_body(host, shared, reserved, Body::Response, len) {
        return bytes;
    }
    if !m.response_overflow {
        let (reason, detail) = over_budget(&shared.config);
        host.log(
            LogLevel::Warn,
            &format!(
                "tollbooth: response not read ({}): {detail}",
                reason.as_str()
            ),
        );
        shared.metrics.borrow_mut().invalid(host, reason.as_str());
    }
    m.response_overflow = true;
    Vec::new()
}

fn over_budget(cfg: &Config) -> Problem {
    (
        Invalid::OverBudget,
        format!(
            "this VM already copies max_copied_bytes_per_vm ({}) of bodies",
            cfg.max_copied_bytes_per_vm
        ),
    )
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

mod finalize;

#[cfg(test)]
mod tests;
