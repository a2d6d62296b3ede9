//! Metrics: counters per tenant and model, with the tag values embedded in the name so Envoy's
//! `stats_config.stats_tags` regexes can extract them (Envoy adds the `wasmcustom.` prefix):
//!
//! `<prefix>.tenant.<tenant>.model.<model>.<field>` for requests, input_tokens, output_tokens,
//! cached_tokens, cache_write_tokens, reasoning_tokens, cost_micro_usd, unpriced_requests, estimated_requests;
//! `<prefix>.invalid.reason.<reason>.requests` for traffic that could not be metered.
//!
//! Tag values never contain dots: anything outside `[A-Za-z0-9_-]` becomes `_`. Each VM keeps
//! at most `max_tenants` distinct tenants and `max_models` distinct models; later ones are
//! counted as `other`. A non-2xx response (often an unauthenticated or malformed request) may
//! only use tags already admitted, so junk traffic cannot fill the caps.

use crate::host::{Host, LogLevel};
use crate::money::MicroCarry;
use crate::stamp::Outcome;
use crate::usage::UsageSource;
use std::collections::{HashMap, HashSet};

/// The tenant tag used once the per-VM tenant cap is reached.
pub const OTHER_TENANT: &str = "other";
const MAX_TAG_LEN: usize = 64;

/// A tag value safe inside a dotted stat name.
pub fn tag_value(raw: &str) -> String {
    let v: String = raw
        .chars()
        .take(MAX_TAG_LEN)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if v.is_empty() {
        "unknown".into()
    } else {
        v
    }
}

/// A bounded set of admitted tag values.
#[derive(Debug)]
struct TagCap {
    max: usize,
    seen: HashSet<String>,
}

impl TagCap {
    fn new(max: usize) -> Self {
        Self {
            max,
            seen: HashSet::new(),
        }
    }

    /// `raw`'s tag if already admitted, or admitted now (`admit` and room left); else `other`.
    fn tag(&mut self, raw: &str, admit: bool) -> String {
        let tag = tag_value(raw);
        if self.seen.contains(&tag) {
            return tag;
        }
        if admit && self.seen.len() < self.max {
            self.seen.insert(tag.clone());
            return tag;
        }
        OTHER_TENANT.into()
    }
}

/// Per-VM metric state: defined ids, the tag caps, and cost remainders.
#[derive(Debug)]
pub struct Recorder {
    prefix: String,
    tenants: TagCap,
    models: TagCap,
    ids: HashMap<String, u32>,
    gauges: HashMap<String, u32>,
    cost_carry: HashMap<String, MicroCarry>,
}

impl Recorder {
    pub fn new(prefix: &str, max_tenants: usize, max_models: usize) -> Self {
        Self {
            prefix: prefix.into(),
            tenants: TagCap::new(max_tenants),
            models: TagCap::new(max_models),
            ids: HashMap::new(),
            gauges: HashMap::new(),
            cost_carry: HashMap::new(),
        }
    }

    /// Counts one metered request.
    pub fn record(&mut self, host: &mut impl Host, outcome: &Outcome) {
        let admit = outcome.status.is_none_or(|s| (200..300).contains(&s));
        let tenant = self.tenants.tag(&outcome.tenant, admit);
        let model = self.models.tag(&outcome.model, admit);
        let base = format!("{}.tenant.{tenant}.model.{model}", self.prefix);
        let u = &outcome.usage;
        self.add(host, &format!("{base}.requests"), 1);
        self.add(host, &format!("{base}.input_tokens"), u.input_tokens);
        self.add(host, &format!("{base}.output_tokens"), u.output_tokens);
        self.add(host, &format!("{base}.cached_tokens"), u.cached_tokens);
        let writes = u.cache_write_5m_tokens + u.cache_write_1h_tokens;
        self.add(host, &format!("{base}.cache_write_tokens"), writes);
        self.add(
            host,
            &format!("{base}.reasoning_tokens"),
            u.reasoning_tokens,
        );
        if u.source == UsageSource::Estimate {
            self.add(host, &format!("{base}.estimated_requests"), 1);
        }
        match outcome.cost_pico {
            Some(pico) => {
                let name = format!("{base}.cost_micro_usd");
                let micros = self.cost_carry.entry(name.clone()).or_default().add(pico);
                self.add(host, &name, micros);
            }
            None => self.add(host, &format!("{base}.unpriced_requests"), 1),
        }
    }

    /// Counts a request that could not be metered, by reason.
    pub fn invalid(&mut self, host: &mut impl Host, reason: &str) {
        let name = format!(
            "{}.invalid.reason.{}.requests",
            self.prefix,
            tag_value(reason)
        );
        self.add(host, &name, 1);
    }

    /// Adds to a counter, defining it on first use. A zero delta is skipped (Envoy answers
    /// BadArgument to increments ≤ 0); failures are logged, never fatal.
    fn add(&mut self, host: &mut impl Host, name: &str, delta: u64) {
        if delta == 0 {
            return;
        }
        let id = match self.ids.get(name) {
            Some(id) => *id,
            None => match host.define_counter(name) {
                Ok(id) => {
                    self.ids.insert(name.to_string(), id);
                    id
                }
                Err(e) => {
                    return host.log(
                        LogLevel::Warn,
                        &format!("tollbooth: define metric {name}: status {}", e.0),
                    )
                }
            },
        };
        if let Err(e) = host.increment_counter(id, delta) {
            host.log(
                LogLevel::Warn,
                &format!("tollbooth: increment metric {name}: status {}", e.0),
            );
        }
    }
}

mod budget;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;
    use crate::usage::Usage;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn outcome(tenant: &str, model: &str, cost: Option<u128>) -> Outcome {
        Outcome {
            tenant: tenant.into(),
            model: model.into(),
            provider: "openai",
            usage: Usage {
                input_tokens: 100,
                output_tokens: 20,
                cached_tokens: 0,
                reasoning_tokens: 0,
                source: UsageSource::Provider,
                ..Usage::default()
            },
            cost_pico: cost,
            attributes: vec![],
            status: Some(200),
        }
    }

    #[test]
    fn tag_values_have_no_dots() {
        assert_eq!(tag_value("gpt-3.5-turbo"), "gpt-3_5-turbo");
        assert_eq!(
            tag_value("meta-llama/Llama-3.1:8b"),
            "meta-llama_Llama-3_1_8b"
        );
        assert_eq!(tag_value(""), "unknown");
        assert_eq!(tag_value(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn records_per_tenant_and_model() {
        let mut host = FakeHost::default();
        let mut r = Recorder::new("tollbooth", 10, 100);
        r.record(&mut host, &outcome("acme", "gpt-4o", Some(2_500_000_000)));
        r.record(&mut host, &outcome("acme", "gpt-4o", Some(2_500_000_000)));
        assert_eq!(
            host.counter("tollbooth.tenant.acme.model.gpt-4o.requests"),
            2
        );
        assert_eq!(
            host.counter("tollbooth.tenant.acme.model.gpt-4o.input_tokens"),
            200
        );
        assert_eq!(
            host.counter("tollbooth.tenant.acme.model.gpt-4o.cost_micro_usd"),
            5_000
        );
        // Zero counts are never incremented (Envoy rejects increments of 0).
        assert!(!host.defined("tollbooth.tenant.acme.model.gpt-4o.cached_tokens"));
    }

    #[test]
    fn sub_micro_costs_add_up() {
        let mut host = FakeHost::default();
        let mut r = Recorder::new("t", 10, 100);
        for _ in 0..10 {
            r.record(&mut host, &outcome("a", "m", Some(300_000))); // 0.3 micro-USD each
        }
        assert_eq!(host.counter("t.tenant.a.model.m.cost_micro_usd"), 3);
    }

    #[test]
    fn unpriced_and_invalid_are_counted() {
        let mut host = FakeHost::default();
        let mut r = Recorder::new("t", 10, 100);
        r.record(&mut host, &outcome("a", "mystery", None));
        r.invalid(&mut host, "invalid_json");
        assert_eq!(
            host.counter("t.tenant.a.model.mystery.unpriced_requests"),
            1
        );
        assert_eq!(host.counter("t.invalid.reason.invalid_json.requests"), 1);
    }

    #[test]
    fn error_responses_cannot_fill_the_caps() {
        let mut host = FakeHost::default();
        let mut r = Recorder::new("t", 2, 2);
        r.record(&mut host, &outcome("a", "m", None));
        for junk in ["x1", "x2", "x3"] {
            let mut o = outcome(junk, junk, None);
            o.status = Some(401);
            r.record(&mut host, &o);
        }
        let mut known = outcome("a", "m", None);
        known.status = Some(429);
        r.record(&mut host, &known);
        assert_eq!(host.counter("t.tenant.other.model.other.requests"), 3);
        assert_eq!(
            host.counter("t.tenant.a.model.m.requests"),
            2,
            "known tags still count errors"
        );
        r.record(&mut host, &outcome("b", "n", None));
        assert_eq!(
            host.counter("t.tenant.b.model.n.requests"),
            1,
            "room was left for real tenants"
        );
        r.record(&mut host, &outcome("b", "n2", None));
        assert_eq!(
            host.counter("t.tenant.b.model.other.requests"),
            1,
            "model cap"
        );
    }

    #[test]
    fn tenant_cap_folds_the_rest_into_other() {
        let mut host = FakeHost::default();
        let mut r = Recorder::new("t", 2, 100);
        for tenant in ["a", "b", "c", "d", "a"] {
            r.record(&mut host, &outcome(tenant, "m", None));
        }
        assert_eq!(host.counter("t.tenant.a.model.m.requests"), 2);
        assert_eq!(host.counter("t.tenant.b.model.m.requests"), 1);
        assert_eq!(host.counter("t.tenant.other.model.m.requests"), 2);
        assert!(!host.defined("t.tenant.c.model.m.requests"));
    }
}
