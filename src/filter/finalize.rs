//! The end of an exchange: usage, price, stamps, filter state, metrics.

use super::{HttpFilter, Metering, State, Target};
use crate::attribution::clean_value;
use crate::host::{Host, LogLevel, Map};
use crate::pricing::cost_pico;
use crate::providers::{self, openai, RequestInfo, ResponseInfo};
use crate::stamp::{self, Outcome};
use crate::tokens::Tokenizer;
use crate::usage::{Usage, UsageSource};

impl HttpFilter {
    /// Meters the exchange once: prices the usage, stamps it to `target`, sets the filter
    /// state and counts it in the metrics. Returns what was metered, the first time.
    pub(super) fn finalize(&mut self, host: &mut impl Host, target: Target) -> Option<Outcome> {
        let (Some(shared), State::Metering(mut m)) = (
            self.shared.clone(),
            std::mem::replace(&mut self.state, State::Done),
        ) else {
            return None;
        };
        // Nothing is copied from here on, and the copies go with `m`.
        self.release_copies();
        if let Some(e) = m.decode_failed.take() {
            host.log(
                LogLevel::Warn,
                &format!("tollbooth: compressed response not decoded: {e}"),
            );
            let reason = crate::providers::Invalid::ContentEncoding.as_str();
            shared.metrics.borrow_mut().invalid(host, reason);
        }
        let req = m.request.take()?;
        let req = &req;
        // A stream whose events could not all be read (one past the cap, corrupt framing) is
        // metered like a cut one: its last usage seen may not be the final one.
        let intact = m.stream.as_ref().is_some_and(|s| s.broken.is_none());
        let mut info = match m.stream.as_mut().and_then(|s| s.meter.take()) {
            Some(meter) if ok_status(m.status) => {
                meter.finish(req, &shared.tokenizer, m.stream_ended && intact)
            }
            _ => response_info(&m, req, &shared.tokenizer),
        };
        // Bedrock InvokeModel also reports the counts in response headers: better than an
        // estimate when the body had none.
        if let Some(usage) = m.header_usage.filter(|_| ok_status(m.status)) {
            if info.usage.source != UsageSource::Provider {
                info.usage = usage;
                info.problem = None;
            }
        }
        if let Some((reason, detail)) = &info.problem {
            host.log(
                LogLevel::Warn,
                &format!(
                    "tollbooth: response usage not taken ({}): {detail}",
                    reason.as_str()
                ),
            );
            shared.metrics.borrow_mut().invalid(host, reason.as_str());
        }
        // The model comes from the request or response body: keep it safe as a header value.
        let model = clean_value(info.model.as_deref().unwrap_or(&req.model).as_bytes())
            .unwrap_or_else(|| "unknown".into());
        let prices = &shared.config.prices;
        let memo = &shared.price_memo;
        let entry = memo
            .lookup(prices, &model)
            .or_else(|| memo.lookup(prices, &req.model));
        let tier = info.service_tier.as_deref().or(req.service_tier.as_deref());
        let price = entry.map(|e| e.price_for(tier, info.usage.input_tokens));
        let outcome = Outcome {
            tenant: m.attribution.tenant.clone(),
            model,
            provider: m.provider.as_str(),
            usage: info.usage,
            cost_pico: price.map(|p| cost_pico(p, &info.usage)),
            attributes: m.attribution.attributes.clone(),
            status: m.status,
        };
        let cfg = &shared.config;
        if target != Target::Nowhere {
            for (name, value) in stamp::named_fields(&outcome, &shared.stamp_names) {
                match target {
                    Target::ResponseHeaders => {
                        self.set_or_log(host, Map::ResponseHeaders, name, &value)
                    }
                    _ => {
                        if let Err(e) = host.add_header(Map::ResponseTrailers, name, &value) {
                            host.log(
                                LogLevel::Warn,
                                &format!("tollbooth: trailer {name}: status {}", e.0),
                            );
                        }
                    }
                }
            }
        }
        if let Some(path) = &cfg.filter_state {
            if let Err(e) = host.set_property(path, stamp::filter_state(&outcome).as_bytes()) {
                host.log(
                    LogLevel::Warn,
                    &format!("tollbooth: filter state: status {}", e.0),
                );
            }
        }
        shared.metrics.borrow_mut().record(host, &outcome);
        let kind = goodput_kind(&m, &info, intact);
        let cost = outcome.cost_pico.unwrap_or(0);
        shared
            .metrics
            .borrow_mut()
            .goodput(host, &outcome.tenant, kind, cost);
        super::budget::settle(host, &shared, &m, &outcome, kind == "good");
        Some(outcome)
    }
}

/// `good` for a successful completion, else the kind of waste: `error` (a non-2xx answer, an
/// error reported by the provider), `aborted` (no answer, or a stream cut before its end),
/// `length`, `content_filter`, `other`.
fn goodput_kind(m: &Metering, info: &ResponseInfo, intact: bool) -> &'static str {
    match m.status {
        None => return "aborted",
        Some(s) if !(200..300).contains(&s) => return "error",
        _ => {}
    }
    if m.stream.is_some() && !(m.stream_ended && intact) {
        return "aborted";
    }
    match info.finish {
        Some(f) if !f.is_success() => f.as_str(),
        _ => "good",
    }
}

fn ok_status(status: Option<u16>) -> bool {
    status.is_none_or(|s| (200..300).contains(&s))
}

/// Usage for a finished (or abandoned) exchange.
fn response_info(m: &Metering, req: &RequestInfo, tok: &Tokenizer) -> ResponseInfo {
    if !ok_status(m.status) {
        let usage = Usage {
            source: UsageSource::None,
            ..Usage::default()
        };
        return ResponseInfo {
            usage,
            model: None,
            problem: None,
            service_tier: None,
            finish: None,
        };
    }
    if m.response_parseable && !m.response_overflow && !m.response_body.is_empty() {
        return providers::parse_response(m.endpoint.api, &m.response_body, req, tok);
    }
    openai::estimate_only(req, 0, None)
}
