//! The configuration document as written: serde structs that reject unknown fields, with the
//! documented defaults. [`super::compile`] turns them into the validated [`super::Config`].

use super::{err, ConfigError};
use crate::money::parse_usd_per_million;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) routes: Option<Vec<RawRoute>>,
    #[serde(default)]
    pub(super) tenant: RawTenant,
    #[serde(default)]
    pub(super) attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) allow_on_headers_stop_iteration: bool,
    #[serde(default)]
    pub(super) stamp: RawStamp,
    #[serde(default)]
    pub(super) metrics: RawMetrics,
    #[serde(default)]
    pub(super) tokenizer: RawTokenizer,
    #[serde(default)]
    pub(super) prices: BTreeMap<String, RawPrice>,
    /// Prices in LiteLLM's `model_prices_and_context_window.json` format; entries keep every
    /// key (unknown ones are ignored by [`crate::pricing::litellm`]).
    #[serde(default)]
    pub(super) litellm_prices: BTreeMap<String, serde_json::Value>,
    /// Start from the built-in table `examples/prices.json`.
    #[serde(default = "yes")]
    pub(super) default_prices: bool,
    #[serde(default)]
    pub(super) azure: RawAzure,
    pub(super) max_body_bytes: Option<u64>,
    pub(super) buffer_limit_bytes: Option<u64>,
    pub(super) max_copied_bytes_per_vm: Option<u64>,
    #[serde(default)]
    pub(super) fail_mode: FailMode,
    pub(super) budgets: Option<super::budgets::RawBudgets>,
}

fn yes() -> bool {
    true
}

/// A price table file (`examples/prices.json`): when its prices were read, from where, and the
/// prices in the `prices` format.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPriceFile {
    /// `YYYY-MM-DD`.
    pub(super) as_of: String,
    /// The pricing pages the prices come from.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) sources: Vec<String>,
    /// Remarks for the reader.
    #[serde(default)]
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) notes: Vec<String>,
    pub(super) prices: BTreeMap<String, RawPrice>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAzure {
    /// Deployment name → model name.
    #[serde(default)]
    pub(super) deployments: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    pub(super) path: String,
    pub(super) host: Option<String>,
    pub(super) provider: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTenant {
    pub(super) header: Option<String>,
    pub(super) from_api_key: bool,
    pub(super) api_key_salt: Option<String>,
    pub(super) default: String,
}

impl Default for RawTenant {
    fn default() -> Self {
        Self {
            header: None,
            from_api_key: true,
            api_key_salt: None,
            default: "anonymous".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStamp {
    pub(super) header_prefix: String,
    pub(super) upstream_headers: bool,
    pub(super) filter_state: String,
    pub(super) sse_comment: bool,
}

impl Default for RawStamp {
    fn default() -> Self {
        Self {
            header_prefix: "x-llm-".into(),
            upstream_headers: true,
            filter_state: "tollbooth".into(),
            sse_comment: true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMetrics {
    pub(super) prefix: String,
    pub(super) max_tenants: u64,
    pub(super) max_models: u64,
}

impl Default for RawMetrics {
    fn default() -> Self {
        Self {
            prefix: "tollbooth".into(),
            max_tenants: 100,
            max_models: 200,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTokenizer {
    pub(super) default_encoding: String,
    pub(super) models: BTreeMap<String, String>,
}

impl Default for RawTokenizer {
    fn default() -> Self {
        Self {
            default_encoding: "o200k_base".into(),
            models: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrice {
    pub(super) input: Decimal,
    pub(super) cached_input: Option<Decimal>,
    pub(super) cache_write_5m: Option<Decimal>,
    pub(super) cache_write_1h: Option<Decimal>,
    pub(super) output: Option<Decimal>,
    pub(super) long_context: Option<RawLongContext>,
    #[serde(default)]
    pub(super) service_tiers: BTreeMap<String, RawPriceLevel>,
}

/// One set of per-token prices, USD per million tokens.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPriceLevel {
    pub(super) input: Decimal,
    pub(super) cached_input: Option<Decimal>,
    pub(super) cache_write_5m: Option<Decimal>,
    pub(super) cache_write_1h: Option<Decimal>,
    pub(super) output: Option<Decimal>,
}

/// Prices for requests whose input exceeds `above_input_tokens`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLongContext {
    pub(super) above_input_tokens: u64,
    pub(super) input: Decimal,
    pub(super) cached_input: Option<Decimal>,
    pub(super) cache_write_5m: Option<Decimal>,
    pub(super) cache_write_1h: Option<Decimal>,
    pub(super) output: Option<Decimal>,
}

impl RawPrice {
    /// The standard level, the long-context level with its threshold, and the service tiers.
    pub(super) fn split(
        self,
    ) -> (
        RawPriceLevel,
        Option<(u64, RawPriceLevel)>,
        BTreeMap<String, RawPriceLevel>,
    ) {
        let standard = RawPriceLevel {
            input: self.input,
            cached_input: self.cached_input,
            cache_write_5m: self.cache_write_5m,
            cache_write_1h: self.cache_write_1h,
            output: self.output,
        };
        let long = self.long_context.map(|l| {
            let level = RawPriceLevel {
                input: l.input,
                cached_input: l.cached_input,
                cache_write_5m: l.cache_write_5m,
                cache_write_1h: l.cache_write_1h,
                output: l.output,
            };
            (l.above_input_tokens, level)
        });
        (standard, long, self.service_tiers)
    }
}

/// A decimal written as a JSON number or string; kept as text so it is parsed exactly.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Decimal {
    Number(serde_json::Number),
    Text(String),
}

impl Decimal {
    pub(super) fn pico_per_token(&self, field: &str) -> Result<u64, ConfigError> {
        let text = match self {
            Decimal::Number(n) => n.to_string(),
            Decimal::Text(s) => s.clone(),
        };
        parse_usd_per_million(&text)
            .map_err(|m| err(field, format!("{m} (USD per million tokens)")))
    }
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum FailMode {
    #[default]
    Open,
    Closed,
}
