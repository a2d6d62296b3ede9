//! Metrics: counters per tenant and model, with the tag values embedded in the name so Envoy's
//! `stats_config.stats_tags` regexes can extract them (Envoy adds the `wasmcustom.` prefix):
//!
//! `<prefix>.tenant.<tenant>.model.<model>.<field>` for requests, input_tokens, output_tokens,
//! cached_tokens, reasoning_tokens, cost_micro_usd, unpriced_requests, estimated_requests;
//! `<prefix>.invalid.reason.<reason>.requests` for traffic that could not be metered.
//!
//! Tag values never contain dots: anything outside `[A-Za-z0-9_-]` becomes `_`. Each VM keeps
//! at most `max_tenants` distinct tenants; later ones are counted as `other`.

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

/// Per-VM metric state: defined ids, the tenant cap, and cost remainders.
#[derive(Debug)]
pub struct Recorder {
    prefix: String,
    max_tenants: usize,
    tenants: HashSet<String>,
    ids: HashMap<String, u32>,
    cost_carry: HashMap<String, MicroCarry>,
}

impl Recorder {
    pub fn new(prefix: &str, max_tenants: usize) -> Self {
        Self {
            prefix: prefix.into(),
            max_tenants,
            tenants: HashSet::new(),
            ids: HashMap::new(),
            cost_carry: HashMap::new(),
        }
    }

    /// The tenant's tag, or [`OTHER_TENANT`] once `max_tenants` distinct tenants were seen.
    pub fn tenant_tag(&mut self, tenant: &str) -> String {
        let tag = tag_value(tenant);
        if self.tenants.contains(&tag) {
            return tag;
        }
        if self.tenants.len() < self.max_tenants {
            self.tenants.insert(tag.clone());
            return tag;
        }
        OTHER_TENANT.into()
    }

    /// Counts one metered request.
    pub fn record(&mut self, host: &mut impl Host, outcome: &Outcome) {
        let tenant = self.tenant_tag(&outcome.tenant);
        let base = format!(
            "{}.tenant.{tenant}.model.{}",
            self.prefix,
            tag_value(&outcome.model)
        );
        let u = &outcome.usage;
        self.add(host, &format!("{base}.requests"), 1);
        self.add(host, &format!("{base}.input_tokens"), u.input_tokens);
        self.add(host, &format!("{base}.output_tokens"), u.output_tokens);
        self.add(host, &format!("{base}.cached_tokens"), u.cached_tokens);
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
        let mut r = Recorder::new("tollbooth", 10);
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
        let mut r = Recorder::new("t", 10);
        for _ in 0..10 {
            r.record(&mut host, &outcome("a", "m", Some(300_000))); // 0.3 micro-USD each
        }
        assert_eq!(host.counter("t.tenant.a.model.m.cost_micro_usd"), 3);
    }

    #[test]
    fn unpriced_and_invalid_are_counted() {
        let mut host = FakeHost::default();
        let mut r = Recorder::new("t", 10);
        r.record(&mut host, &outcome("a", "mystery", None));
        r.invalid(&mut host, "invalid_json");
        assert_eq!(
            host.counter("t.tenant.a.model.mystery.unpriced_requests"),
            1
        );
        assert_eq!(host.counter("t.invalid.reason.invalid_json.requests"), 1);
    }

    #[test]
    fn tenant_cap_folds_the_rest_into_other() {
        let mut host = FakeHost::default();
        let mut r = Recorder::new("t", 2);
        for tenant in ["a", "b", "c", "d", "a"] {
            r.record(&mut host, &outcome(tenant, "m", None));
        }
        assert_eq!(host.counter("t.tenant.a.model.m.requests"), 2);
        assert_eq!(host.counter("t.tenant.b.model.m.requests"), 1);
        assert_eq!(host.counter("t.tenant.other.model.m.requests"), 2);
        assert!(!host.defined("t.tenant.c.model.m.requests"));
    }
}
