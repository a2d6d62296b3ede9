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

/// The counters of one tenant and model (or tenant and goodput outcome): their common name
/// prefix, the ids defined so far (by field), and the cost remainder.
#[derive(Debug, Default)]
struct Series {
    base: String,
    ids: [Option<u32>; RECORD_FIELDS.len()],
    carry: MicroCarry,
}

/// The fields [`Recorder::record`] counts, in slot order.
const RECORD_FIELDS: [&str; 9] = [
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "estimated_requests",
    "cost_micro_usd",
    "unpriced_requests",
];

/// The fields [`Recorder::goodput`] counts, in slot order.
const GOODPUT_FIELDS: [&str; 2] = ["goodput_requests", "goodput_cost_micro_usd"];

/// Per-VM metric state: defined ids, the tag caps, and cost remainders.
#[derive(Debug)]
pub struct Recorder {
    prefix: String,
    tenants: TagCap,
    models: TagCap,
    ids: HashMap<String, u32>,
    gauges: HashMap<String, u32>,
    /// Per tenant tag, per model tag: the request counters (ids looked up without building
    /// their names).
    series: HashMap<String, HashMap<String, Series>>,
    /// Per tenant tag, per outcome tag: the goodput counters.
    goodput: HashMap<String, HashMap<String, Series>>,
}

impl Recorder {
    pub fn new(prefix: &str, max_tenants: usize, max_models: usize) -> Self {
        Self {
            prefix: prefix.into(),
            tenants: TagCap::new(max_tenants),
            models: TagCap::new(max_models),
            ids: HashMap::new(),
            gauges: HashMap::new(),
            series: HashMap::new(),
            goodput: HashMap::new(),
        }
    }

    /// Counts one metered request.
    pub fn record(&mut self, host: &mut impl Host, outcome: &Outcome) {
        let admit = outcome.status.is_none_or(|s| (200..300).contains(&s));
        let tenant = self.tenants.tag(&outcome.tenant, admit);
        let model = self.models.tag(&outcome.model, admit);
        let prefix = &self.prefix;
        let Some(series) = series_of(&mut self.series, &tenant, &model, || {
            format!("{prefix}.tenant.{tenant}.model.{model}")
        }) else {
            return;
        };
        let u = &outcome.usage;
        let writes = u.cache_write_5m_tokens + u.cache_write_1h_tokens;
        let estimated = u64::from(u.source == UsageSource::Estimate);
        let counts = [
            1,
            u.input_tokens,
            u.output_tokens,
            u.cached_tokens,
            writes,
            u.reasoning_tokens,
            estimated,
        ];
        for (slot, delta) in counts.into_iter().enumerate() {
            add_in(host, series, &RECORD_FIELDS, slot, delta);
        }
        match outcome.cost_pico {
            Some(pico) => {
                let micros = series.carry.add(pico);
                add_in(host, series, &RECORD_FIELDS, 7, micros);
            }
            None => add_in(host, series, &RECORD_FIELDS, 8, 1),
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

/// The series of `a` and `b` in `map`, made with the name prefix `base()` on first use.
fn series_of<'m>(
    map: &'m mut HashMap<String, HashMap<String, Series>>,
    a: &str,
    b: &str,
    base: impl FnOnce() -> String,
) -> Option<&'m mut Series> {
    if !map.get(a).is_some_and(|inner| inner.contains_key(b)) {
        let series = Series {
            base: base(),
            ..Series::default()
        };
        map.entry(a.to_owned())
            .or_default()
            .insert(b.to_owned(), series);
    }
    map.get_mut(a)?.get_mut(b)
}

/// Adds `delta` to the counter `fields[slot]` of `series`, defining it on first use (as
/// [`Recorder::add`] does).
fn add_in(host: &mut impl Host, series: &mut Series, fields: &[&str], slot: usize, delta: u64) {
    if delta == 0 {
        return;
    }
    let (Some(field), Some(cached)) = (fields.get(slot), series.ids.get_mut(slot)) else {
        return;
    };
    let name = || format!("{}.{field}", series.base);
    let id = match *cached {
        Some(id) => id,
        None => match host.define_counter(&name()) {
            Ok(id) => {
                *cached = Some(id);
                id
            }
            Err(e) => {
                return host.log(
                    LogLevel::Warn,
                    &format!("tollbooth: define metric {}: status {}", name(), e.0),
                )
            }
        },
    };
    if let Err(e) = host.increment_counter(id, delta) {
        host.log(
            LogLevel::Warn,
            &format!("tollbooth: increment metric {}: status {}", name(), e.0),
        );
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
