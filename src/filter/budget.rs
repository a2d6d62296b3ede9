//! Budgets in the request path: admission when the request body is complete (a refusal is
//! answered locally in the provider's error format), OpenAI's rate-limit headers on the
//! response, settlement when the exchange is metered.

use super::{HttpFilter, Metering, Shared, State};
use crate::budget::{self, Admitted, Ask, Verdict};
use crate::host::{Action, Host, LogLevel, Map};
use crate::providers::errors::{self, Refusal};
use crate::providers::{rewrite, Api, RequestInfo};
use crate::stamp::Outcome;

/// What a budget made of the request.
pub(super) enum Admission {
    /// Go on, with the body rewritten to this when a rewrite was asked for.
    Go(Option<Vec<u8>>),
    /// Answered locally.
    Refused(Action),
}

fn now_ms(host: &mut impl Host) -> u64 {
    host.now_ns() / 1_000_000
}

impl HttpFilter {
    /// Admits the request against the configured budgets, or refuses it.
    pub(super) fn admit(
        &mut self,
        host: &mut impl Host,
        shared: &Shared,
        body: &[u8],
        info: &RequestInfo,
        held: bool,
    ) -> Admission {
        let (Some(b), State::Metering(m)) = (&shared.config.budgets, &mut self.state) else {
            return Admission::Go(None);
        };
        let fingerprint = b.loops.as_ref().and_then(|rule| {
            let doc = serde_json::from_slice(body).ok()?;
            crate::fingerprint::conversation_tail(m.endpoint.api, &doc, rule.tail_messages)
        });
        let prices = &shared.config.prices;
        let input = info.estimated_input_tokens;
        let price = |model: &str| {
            prices.lookup(model).map(|e| {
                let p = e.price_for(info.service_tier.as_deref(), input);
                // Worst case per input token: a cache write can cost more than plain input.
                (
                    p.input.max(p.cache_write_5m).max(p.cache_write_1h),
                    p.output,
                )
            })
        };
        let max_tokens = match m.endpoint.api {
            Api::OpenAiEmbeddings => Some(0),
            _ => info
                .max_output_tokens
                .map(|n| n.saturating_mul(info.choices.max(1))),
        };
        let ask = Ask {
            tenant: &m.attribution.tenant,
            attributes: &m.attribution.attributes,
            run: m.run.as_deref(),
            fingerprint,
            model: &info.model,
            input_tokens: input,
            max_tokens,
            price: &price,
            rewritable: held,
            // Gemini, Vertex, Bedrock and Azure deployments name the model in the path.
            model_rewritable: held && m.endpoint.model.is_none(),
        };
        let now = now_ms(host);
        let verdict = budget::admit(host, b, &ask, now);
        // Shadow policies refuse nothing, not even when the budget state is unavailable.
        let fail_closed = b.fail_closed && budget::enforcing(b, &ask);
        let tenant = m.attribution.tenant.clone();
        let mut metrics = shared.metrics.borrow_mut();
        match verdict {
            Verdict::Admit(a) => {
                metrics.budget_races(host, a.lost_races);
                for (limit, s) in &a.shadowed {
                    host.log(LogLevel::Info, &format!("tollbooth: shadow budget: {s}"));
                    metrics.budget_shadowed(host, &tenant, limit);
                }
                if a.spike {
                    host.log(
                        LogLevel::Warn,
                        &format!("tollbooth: spend spike in progress for tenant {tenant}"),
                    );
                }
                let rewritten = rewrite_for(host, m, body, &a, info);
                m.budget = Some(a);
                Admission::Go(rewritten)
            }
            Verdict::Refuse(r) => {
                metrics.budget_races(host, r.lost_races);
                metrics.budget_refused(host, &tenant, r.limit);
                drop(metrics);
                host.log(
                    LogLevel::Info,
                    &format!("tollbooth: refused ({}): {}", r.limit, r.message),
                );
                let action = if r.status != 429 {
                    let code = match r.limit {
                        "model" => "model_not_allowed",
                        _ => "max_tokens_not_allowed",
                    };
                    let (body, extra) = errors::invalid_request(self.provider, &r.message, code);
                    let mut headers = vec![("content-type", "application/json")];
                    headers.extend(extra);
                    self.local_reply(host, r.status, &headers, &body)
                } else {
                    self.refuse(host, r.why, &r.message, r.retry_after_ms)
                };
                Admission::Refused(action)
            }
            Verdict::Unavailable(e) => {
                metrics.budget_error(host);
                drop(metrics);
                if fail_closed {
                    host.log(
                        LogLevel::Error,
                        &format!("tollbooth: budget state unavailable, request refused: {e}"),
                    );
                    let message = "Budget state unavailable; try again shortly.";
                    return Admission::Refused(self.refuse(
                        host,
                        Refusal::RateLimit,
                        message,
                        Some(1000),
                    ));
                }
                host.log(
                    LogLevel::Warn,
                    &format!(
                        "tollbooth: budget state unavailable, request admitted unchecked: {e}"
                    ),
                );
                Admission::Go(None)
            }
        }
    }

    fn refuse(
        &mut self,
        host: &mut impl Host,
        why: Refusal,
        message: &str,
        retry_after_ms: Option<u64>,
    ) -> Action {
        let reply = errors::refused(self.provider, why, message, retry_after_ms);
        let headers: Vec<(&str, &str)> = reply
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.local_reply(host, reply.status, &headers, &reply.body)
    }

    fn local_reply(
        &mut self,
        host: &mut impl Host,
        status: u32,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Action {
        self.state = State::Rejected;
        self.release_copies();
        if let Err(e) = host.send_local_response(status, headers, body) {
            host.log(
                LogLevel::Error,
                &format!("tollbooth: local reply failed: status {}", e.0),
            );
            return Action::Continue;
        }
        Action::Pause
    }

    /// OpenAI's `x-ratelimit-*` headers, while the response headers are still ours.
    pub(super) fn stamp_rate_limits(host: &mut impl Host, m: &Metering) {
        let Some(a) = &m.budget else { return };
        for (name, value) in a.view.headers() {
            if let Err(e) = host.set_header(Map::ResponseHeaders, name, &value) {
                host.log(
                    LogLevel::Warn,
                    &format!("tollbooth: header {name}: status {}", e.0),
                );
            }
        }
    }
}

/// The body with the budget's rewrites, when there are any and they can be made.
fn rewrite_for(
    host: &mut impl Host,
    m: &Metering,
    body: &[u8],
    a: &Admitted,
    info: &RequestInfo,
) -> Option<Vec<u8>> {
    if a.max_tokens.is_none() && a.model.is_none() {
        return None;
    }
    let model = &info.model;
    let path_model = m.endpoint.model.is_some();
    // The budget's output limit covers every choice; the request's field is per choice.
    let per_choice = a.max_tokens.map(|n| (n / info.choices.max(1)).max(1));
    match rewrite::apply(
        m.endpoint.api,
        path_model,
        body,
        per_choice,
        a.model.as_deref(),
    ) {
        Ok(b) => {
            if let Some(to) = &a.model {
                host.log(
                    LogLevel::Info,
                    &format!(
                        "tollbooth: soft budget spent for tenant {}: {model} downgraded to {to}",
                        m.attribution.tenant
                    ),
                );
            }
            Some(b)
        }
        Err(e) => {
            host.log(
                LogLevel::Warn,
                &format!("tollbooth: budget rewrite not made: {e}"),
            );
            None
        }
    }
}

/// Settles the request's reservations with what it used.
pub(super) fn settle(
    host: &mut impl Host,
    shared: &Shared,
    m: &Metering,
    outcome: &Outcome,
    good: bool,
) {
    let Some(b) = &shared.config.budgets else {
        return;
    };
    let Some(a) = &m.budget else { return };
    let usage = &outcome.usage;
    let used = crate::quota::Demand {
        input: usage.input_tokens,
        output: usage.output_tokens,
        nano_usd: outcome.cost_pico.map_or(0, crate::money::pico_to_nano_ceil),
    };
    let tenant = &m.attribution.tenant;
    let now = now_ms(host);
    let s = budget::settle(
        host,
        b,
        tenant,
        &a.holds,
        &budget::Outcome { used, good },
        now,
    );
    for e in &s.errors {
        host.log(
            LogLevel::Warn,
            &format!("tollbooth: budget not settled: {e}"),
        );
    }
    let mut metrics = shared.metrics.borrow_mut();
    metrics.budget_races(host, s.lost_races);
    if !s.errors.is_empty() {
        metrics.budget_error(host);
    }
    if let Some(spike) = &s.spike {
        host.log(LogLevel::Warn, &format!("tollbooth: spend spike: {spike}"));
        metrics.spike(host, tenant);
    }
    if let Some(avg) = s.micro_usd_per_good_request {
        metrics.cost_per_good_request(host, tenant, avg);
    }
}
