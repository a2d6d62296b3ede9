//! The request phase: routing and attribution at request headers, the body copied as it
//! streams past (or held, fail-closed), parsed at its end; unmeterable requests passed through or
//! refused.

use super::budget::Admission;
use super::copy::{copy_body, over_budget};
use super::{is_json, too_large, HttpFilter, Metering, Shared, State};
use crate::attribution::attribute;
use crate::host::{Action, Body, Host, LogLevel, Map};
use crate::providers::detect::{self, detect};
use crate::providers::openai_stream::prepare_stream_request;
use crate::providers::{self, errors, Invalid, Problem};

impl HttpFilter {
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
        let detected = route.and_then(|r| detect(r.provider, &path, &cfg.azure_deployments));
        let (Some((provider, endpoint)), Some(b"POST")) = (detected, method.as_deref()) else {
            self.state = State::Passthrough;
            return Action::Continue;
        };
        self.provider = provider;
        // Judged before anything is changed, so a request that is not meterable (a form post
        // to a path that merely looks like an LLM endpoint) passes untouched.
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
        // A streamed OpenAI request may need `stream_options.include_usage` added (a body
        // rewrite), so the body is held until complete when it fits; its content-length is
        // dropped now, while the headers can still change, and Envoy sends the body chunked.
        let declared = host
            .header(Map::RequestHeaders, "content-length")
            .ok()
            .flatten()
            .and_then(|v| std::str::from_utf8(&v).ok()?.trim().parse::<usize>().ok());
        let inject_ok = providers::injects_usage(endpoint.api)
            && detect::accepts_stream_options(provider, &path);
        let may_rewrite = inject_ok || cfg.budgets.as_ref().is_some_and(|b| b.may_rewrite());
        let hold_for_rewrite = may_rewrite && declared.is_none_or(|n| n <= cfg.hold_limit());
        if hold_for_rewrite && declared.is_some() {
            if let Err(e) = host.remove_header(Map::RequestHeaders, "content-length") {
                host.log(
                    LogLevel::Warn,
                    &format!("tollbooth: request content-length: status {}", e.0),
                );
            }
        }
        let run = cfg
            .budgets
            .as_ref()
            .and_then(|b| b.runs.as_ref())
            .and_then(|r| {
                let v = host.header(Map::RequestHeaders, &r.header).ok().flatten()?;
                crate::attribution::clean_value(&v)
            });
        // A budget may refuse the request or rewrite it: hold the body until it is judged.
        let hold_request = hold_for_rewrite || cfg.budgets.is_some();
        self.state = State::Metering(Box::new(Metering {
            provider,
            endpoint,
            hold_request,
            inject_ok,
            expects_usage: false,
            strip_usage: false,
            stream: None,
            stream_ended: false,
            decoder: None,
            decode_failed: None,
            header_usage: None,
            attribution,
            run,
            budget: None,
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
        if cfg.fail_closed || m.hold_request {
            // Hold the whole body (Pause keeps Envoy buffering) until it can be judged or
            // rewritten.
            if body_size > cfg.hold_limit() {
                if cfg.fail_closed {
                    return self.invalid_request(host, &shared, too_large(cfg.hold_limit()));
                }
                // Too large to hold for a rewrite: copy what is buffered and let it all go.
                if body_size > cfg.max_body_bytes {
                    return self.invalid_request(host, &shared, too_large(cfg.max_body_bytes));
                }
                m.hold_request = false;
                match copy_body(host, &shared, &mut self.reserved, Body::Request, body_size) {
                    Some(body) => m.request_body = body,
                    None => return self.invalid_request(host, &shared, over_budget(cfg)),
                }
                if !end_of_stream {
                    return Action::Continue;
                }
                return self.end_request(host, &shared, None);
            }
            if !end_of_stream {
                m.request_held = body_size;
                return Action::Pause;
            }
            match copy_body(host, &shared, &mut self.reserved, Body::Request, body_size) {
                Some(body) => m.request_body = body,
                None => return self.invalid_request(host, &shared, over_budget(cfg)),
            }
            return self.end_request(host, &shared, Some(body_size));
        }
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
        self.end_request(host, &shared, None)
    }

    /// Request trailers end the request: the body is complete.
    pub fn on_request_trailers(&mut self, host: &mut impl Host) -> Action {
        let (Some(shared), State::Metering(m)) = (self.shared.clone(), &mut self.state) else {
            return Action::Continue;
        };
        if shared.config.fail_closed || m.hold_request {
            let held = m.request_held;
            match copy_body(host, &shared, &mut self.reserved, Body::Request, held) {
                Some(body) => m.request_body = body,
                None => return self.invalid_request(host, &shared, over_budget(&shared.config)),
            }
            return self.end_request(host, &shared, Some(held));
        }
        self.end_request(host, &shared, None)
    }

    /// Parses the complete request body. `held` is the size of the buffered body when all of
    /// it is still held (so it can be rewritten).
    pub(super) fn end_request(
        &mut self,
        host: &mut impl Host,
        shared: &Shared,
        held: Option<usize>,
    ) -> Action {
        let State::Metering(m) = &mut self.state else {
            return Action::Continue;
        };
        let cfg = &shared.config;
        let body = std::mem::take(&mut m.request_body);
        let parsed = providers::parse_request(&m.endpoint, &body, cfg, &shared.tokenizer);
        let info = match parsed {
            Ok(info) => info,
            Err(problem) => return self.invalid_request(host, shared, problem),
        };
        let rewritten = match self.admit(host, shared, &body, &info, held.is_some()) {
            Admission::Refused(action) => return action,
            Admission::Go(rewritten) => rewritten,
        };
        let State::Metering(m) = &mut self.state else {
            return Action::Continue;
        };
        let mut new_body = None;
        let mut asked_for_usage = false;
        if let Some(new) = rewritten {
            match held {
                Some(_) => new_body = Some(new),
                None => host.log(
                    LogLevel::Info,
                    "tollbooth: request too large to hold; budget rewrite not made",
                ),
            }
        }
        if info.stream && providers::injects_usage(m.endpoint.api) {
            let source = new_body.as_deref().unwrap_or(&body);
            if let Some(plan) = prepare_stream_request(source) {
                m.expects_usage = plan.client_asked_for_usage;
                asked_for_usage = plan.client_asked_for_usage;
                match (plan.body, held) {
                    (Some(_), _) if !m.inject_ok => host.log(
                        LogLevel::Info,
                        "tollbooth: this api-version does not take stream_options; output will be estimated",
                    ),
                    (Some(new), Some(_)) => {
                        new_body = Some(new);
                        m.expects_usage = true;
                        m.strip_usage = true;
                    }
                    (Some(_), None) => host.log(
                        LogLevel::Info,
                        "tollbooth: streamed request too large to add include_usage; output will be estimated",
                    ),
                    (None, _) => {}
                }
            }
        }
        if let (Some(new), Some(size)) = (new_body, held) {
            if let Err(e) = host.set_body(Body::Request, 0, size, &new) {
                host.log(
                    LogLevel::Warn,
                    &format!("tollbooth: request body not rewritten: status {}", e.0),
                );
                m.expects_usage = asked_for_usage;
                m.strip_usage = false;
            }
        }
        m.request = Some(info);
        drop(body);
        self.release_copies();
        Action::Continue
    }

    /// A request that cannot be metered: one log line and a metric, then pass it through
    /// (fail-open) or answer 400 in the provider's error format (fail-closed).
    pub(super) fn invalid_request(
        &mut self,
        host: &mut impl Host,
        shared: &Shared,
        (reason, detail): Problem,
    ) -> Action {
        let code = reason.as_str();
        shared.metrics.borrow_mut().invalid(host, code);
        // The request's copy (if any) goes with the metering state.
        self.state = State::Passthrough;
        self.release_copies();
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
        let (body, extra) = errors::invalid_request(
            self.provider,
            &format!("Request rejected by the gateway: {detail}"),
            &format!("tollbooth_{code}"),
        );
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(extra);
        if let Err(e) = host.send_local_response(400, &headers, &body) {
            host.log(
                LogLevel::Error,
                &format!("tollbooth: local reply failed: status {}", e.0),
            );
            return Action::Continue;
        }
        Action::Pause
    }
}
