//! What the filter tells the world about a metered request: response header/trailer fields and
//! the filter-state JSON object (`%FILTER_STATE(wasm.tollbooth:PLAIN)%` in Envoy access logs).

use crate::money::format_usd;
use crate::usage::Usage;
use serde::Serialize;
use std::collections::BTreeMap;

/// The result of metering one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub tenant: String,
    pub model: String,
    pub provider: &'static str,
    pub usage: Usage,
    /// `None` when the model has no price.
    pub cost_pico: Option<u128>,
    pub attributes: Vec<(String, String)>,
    /// HTTP status of the response, if one arrived.
    pub status: Option<u16>,
}

/// Header (or trailer) fields, names prefixed with `prefix` (default `x-llm-`).
pub fn fields(outcome: &Outcome, prefix: &str) -> Vec<(String, String)> {
    named_fields(outcome, &FieldNames::new(prefix))
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// The names of the [`fields`] for one prefix, made once per configuration.
#[derive(Debug, Clone)]
pub struct FieldNames {
    tenant: String,
    model: String,
    input: String,
    output: String,
    cached: String,
    reasoning: String,
    cache_write: String,
    cost: String,
    source: String,
}

impl FieldNames {
    pub fn new(prefix: &str) -> Self {
        let name = |field: &str| format!("{prefix}{field}");
        FieldNames {
            tenant: name("tenant"),
            model: name("model"),
            input: name("input-tokens"),
            output: name("output-tokens"),
            cached: name("cached-tokens"),
            reasoning: name("reasoning-tokens"),
            cache_write: name("cache-write-tokens"),
            cost: name("cost-usd"),
            source: name("usage-source"),
        }
    }
}

/// [`fields`] with names made beforehand.
pub fn named_fields<'n>(outcome: &Outcome, names: &'n FieldNames) -> Vec<(&'n str, String)> {
    let u = &outcome.usage;
    let mut out = Vec::with_capacity(9);
    out.push((names.tenant.as_str(), outcome.tenant.clone()));
    out.push((names.model.as_str(), outcome.model.clone()));
    out.push((names.input.as_str(), u.input_tokens.to_string()));
    out.push((names.output.as_str(), u.output_tokens.to_string()));
    out.push((names.cached.as_str(), u.cached_tokens.to_string()));
    out.push((names.reasoning.as_str(), u.reasoning_tokens.to_string()));
    let writes = u.cache_write_5m_tokens + u.cache_write_1h_tokens;
    if writes > 0 {
        out.push((names.cache_write.as_str(), writes.to_string()));
    }
    if let Some(cost) = outcome.cost_pico {
        out.push((names.cost.as_str(), format_usd(cost)));
    }
    out.push((names.source.as_str(), u.source.as_str().to_string()));
    out
}

/// The filter-state JSON object: the same fields plus provider, status and attributes. Its
/// members come out sorted by name (as from a `serde_json::Map`), the attributes too (a repeated
/// attribute keeps its last value).
pub fn filter_state(outcome: &Outcome) -> String {
    let u = &outcome.usage;
    let state = FilterState {
        attributes: outcome
            .attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        cache_write_1h_tokens: u.cache_write_1h_tokens,
        cache_write_5m_tokens: u.cache_write_5m_tokens,
        cached_tokens: u.cached_tokens,
        cost_usd: outcome.cost_pico.map(format_usd),
        input_tokens: u.input_tokens,
        model: &outcome.model,
        output_tokens: u.output_tokens,
        provider: outcome.provider,
        reasoning_tokens: u.reasoning_tokens,
        status: outcome.status,
        tenant: &outcome.tenant,
        usage_source: u.source.as_str(),
    };
    serde_json::to_string(&state).unwrap_or_default()
}

/// The filter-state object, written straight from the outcome (no `Value` tree); members in
/// name order.
#[derive(Serialize)]
struct FilterState<'a> {
    attributes: BTreeMap<&'a str, &'a str>,
    cache_write_1h_tokens: u64,
    cache_write_5m_tokens: u64,
    cached_tokens: u64,
    cost_usd: Option<String>,
    input_tokens: u64,
    model: &'a str,
    output_tokens: u64,
    provider: &'a str,
    reasoning_tokens: u64,
    status: Option<u16>,
    tenant: &'a str,
    usage_source: &'a str,
}

/// The final SSE comment line of a metered stream: `: tollbooth ` and the filter-state JSON
/// object, then a blank line. SSE clients ignore comment lines (WHATWG HTML §9.2.6: a line
/// starting with a colon is ignored), so this reaches only readers that look for it. The JSON
/// has no line breaks (serde_json escapes them in strings).
pub fn sse_comment(outcome: &Outcome) -> Vec<u8> {
    format!(": tollbooth {}\n\n", filter_state(outcome)).into_bytes()
}

#[cfg(test)]
mod review_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::UsageSource;
    use serde_json::Value;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn outcome(cost: Option<u128>) -> Outcome {
        Outcome {
            tenant: "acme".into(),
            model: "gpt-4o".into(),
            provider: "openai",
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
                cached_tokens: 2,
                reasoning_tokens: 1,
                source: UsageSource::Provider,
                ..Usage::default()
            },
            cost_pico: cost,
            attributes: vec![("team".into(), "search".into())],
            status: Some(200),
        }
    }

    #[test]
    fn fields_use_the_prefix_and_omit_cost_when_unpriced() {
        let f = fields(&outcome(Some(1_500_000_000)), "x-llm-");
        let get = |n: &str| f.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("x-llm-tenant"), Some("acme"));
        assert_eq!(get("x-llm-input-tokens"), Some("10"));
        assert_eq!(get("x-llm-cost-usd"), Some("0.0015"));
        assert_eq!(get("x-llm-usage-source"), Some("provider"));
        assert_eq!(
            get("x-llm-cache-write-tokens"),
            None,
            "only when there were writes"
        );
        let f = fields(&outcome(None), "x-gw-");
        assert!(f.iter().all(|(k, _)| k.starts_with("x-gw-")));
        assert!(!f.iter().any(|(k, _)| k.ends_with("cost-usd")));
    }

    /// The filter state as it was built before, through a `Value` tree.
    pub(super) fn reference_filter_state(outcome: &Outcome) -> String {
        let u = &outcome.usage;
        let attributes: serde_json::Map<String, Value> = outcome
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        serde_json::json!({
            "tenant": outcome.tenant,
            "model": outcome.model,
            "provider": outcome.provider,
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cached_tokens": u.cached_tokens,
            "reasoning_tokens": u.reasoning_tokens,
            "cache_write_5m_tokens": u.cache_write_5m_tokens,
            "cache_write_1h_tokens": u.cache_write_1h_tokens,
            "cost_usd": outcome.cost_pico.map(format_usd),
            "usage_source": u.source.as_str(),
            "status": outcome.status,
            "attributes": attributes,
        })
        .to_string()
    }

    #[test]
    fn filter_state_is_byte_for_byte_what_the_value_tree_gave() {
        let mut o = outcome(Some(1_500_000_000));
        assert_eq!(filter_state(&o), reference_filter_state(&o));
        o.tenant = "a \"quoted\"\n tenant \u{1F600}".into();
        o.model = "m\\odel".into();
        o.attributes = vec![
            ("z".into(), "last".into()),
            ("a".into(), "1".into()),
            ("z".into(), "again".into()),
            ("é".into(), "\u{7f}\u{1}".into()),
        ];
        o.status = None;
        o.usage.cache_write_1h_tokens = 7;
        o.usage.cache_write_5m_tokens = u64::MAX;
        o.usage.source = UsageSource::Estimate;
        assert_eq!(filter_state(&o), reference_filter_state(&o));
        o.cost_pico = None;
        o.attributes.clear();
        assert_eq!(filter_state(&o), reference_filter_state(&o));
    }

    #[test]
    fn filter_state_is_one_json_object() {
        let v: Value = serde_json::from_str(&filter_state(&outcome(Some(1_500_000_000)))).unwrap();
        assert_eq!(v["tenant"], "acme");
        assert_eq!(v["cost_usd"], "0.0015");
        assert_eq!(v["cached_tokens"], 2);
        assert_eq!(v["cache_write_5m_tokens"], 0);
        assert_eq!(v["attributes"]["team"], "search");
        assert_eq!(v["status"], 200);
        let v: Value = serde_json::from_str(&filter_state(&outcome(None))).unwrap();
        assert!(v["cost_usd"].is_null());
    }
}
