//! The price table: model name → prices in pico-USD per token, looked up by exact name, else by
//! the longest configured prefix (`gpt-4o-2024-08-06` prices as `gpt-4o`).

use crate::money::PICO_PER_USD;
use crate::usage::Usage;

/// Prices for one model, pico-USD per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub input: u64,
    /// Cached (prompt-cache hit) input tokens; defaults to the input price.
    pub cached_input: u64,
    /// Output tokens, reasoning tokens included (they are billed as output).
    pub output: u64,
}

/// Immutable price table, sorted for longest-prefix lookup.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    /// Sorted by name length, longest first, so the first prefix hit is the longest.
    entries: Vec<(String, Price)>,
}

impl PriceTable {
    pub fn new(entries: impl IntoIterator<Item = (String, Price)>) -> Self {
        let mut entries: Vec<_> = entries.into_iter().collect();
        entries.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Self { entries }
    }

    /// The price for `model`: an exact entry, else the longest entry that is a prefix of it.
    pub fn lookup(&self, model: &str) -> Option<&Price> {
        self.entries
            .iter()
            .find(|(name, _)| name == model)
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|(name, _)| model.starts_with(name.as_str()))
            })
            .map(|(_, price)| price)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Cost of `usage` at `price`, in pico-USD. Cached tokens are part of the input tokens and
/// billed at the cached price; reasoning tokens are part of the output tokens.
pub fn cost_pico(price: &Price, usage: &Usage) -> u128 {
    let cached = usage.cached_tokens.min(usage.input_tokens);
    let uncached = usage.input_tokens - cached;
    u128::from(uncached) * u128::from(price.input)
        + u128::from(cached) * u128::from(price.cached_input)
        + u128::from(usage.output_tokens) * u128::from(price.output)
}

/// Whole US dollars in `pico`, for sanity checks in tests and logs.
pub fn whole_usd(pico: u128) -> u128 {
    pico / PICO_PER_USD
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{format_usd, parse_usd_per_million};
    use crate::usage::UsageSource;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn price(input: &str, cached: &str, output: &str) -> Price {
        Price {
            input: parse_usd_per_million(input).unwrap(),
            cached_input: parse_usd_per_million(cached).unwrap(),
            output: parse_usd_per_million(output).unwrap(),
        }
    }

    fn table() -> PriceTable {
        PriceTable::new([
            ("gpt-4".to_string(), price("30", "30", "60")),
            ("gpt-4o".to_string(), price("2.50", "1.25", "10")),
            ("gpt-4o-mini".to_string(), price("0.15", "0.075", "0.60")),
        ])
    }

    #[test]
    fn exact_then_longest_prefix() {
        let t = table();
        assert_eq!(t.lookup("gpt-4o").unwrap().input, 2_500_000);
        assert_eq!(t.lookup("gpt-4o-2024-08-06").unwrap().input, 2_500_000);
        assert_eq!(t.lookup("gpt-4o-mini-2024-07-18").unwrap().input, 150_000);
        assert_eq!(t.lookup("gpt-4-0613").unwrap().input, 30_000_000);
        assert!(t.lookup("claude-3-5-sonnet").is_none());
    }

    #[test]
    fn cost_splits_cached_and_output() {
        let t = table();
        let usage = Usage {
            input_tokens: 1_000,
            output_tokens: 500,
            cached_tokens: 400,
            reasoning_tokens: 100,
            source: UsageSource::Provider,
        };
        // 600 × $2.50/M + 400 × $1.25/M + 500 × $10/M = $0.0015 + $0.0005 + $0.005 = $0.007
        let cost = cost_pico(t.lookup("gpt-4o").unwrap(), &usage);
        assert_eq!(format_usd(cost), "0.007");
        assert_eq!(whole_usd(cost), 0);
    }

    #[test]
    fn cached_above_input_is_clamped() {
        let usage = Usage {
            input_tokens: 10,
            cached_tokens: 50,
            ..Usage::default()
        };
        // All ten input tokens at the cached price, none at the full price.
        assert_eq!(cost_pico(&price("2", "1", "0"), &usage), 10 * 1_000_000);
    }
}
