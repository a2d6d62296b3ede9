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
    /// Prompt-cache writes with a 5-minute lifetime; defaults to the input price.
    pub cache_write_5m: u64,
    /// Prompt-cache writes with a 1-hour lifetime; defaults to the 5-minute write price.
    pub cache_write_1h: u64,
    /// Output tokens, reasoning tokens included (they are billed as output).
    pub output: u64,
}

impl Price {
    /// A price with only input and output set; cache reads and writes at the input price.
    pub fn flat(input: u64, output: u64) -> Self {
        Self {
            input,
            cached_input: input,
            cache_write_5m: input,
            cache_write_1h: input,
            output,
        }
    }
}

/// Everything configured for one model: the standard price, an optional long-context tier and
/// optional service-tier prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceEntry {
    pub standard: Price,
    /// `(threshold, price)`: a request whose input tokens exceed `threshold` is billed entirely
    /// at `price` (Anthropic's and Google's long-context pricing, e.g. above 200k tokens).
    pub long_context: Option<(u64, Price)>,
    /// Prices by service tier name (`flex`, `priority`, `batch`…), as the request's or the
    /// response's `service_tier` names it.
    pub service_tiers: Vec<(String, Price)>,
}

impl PriceEntry {
    pub fn new(standard: Price) -> Self {
        Self {
            standard,
            long_context: None,
            service_tiers: Vec::new(),
        }
    }

    /// The price that applies to a request: its service tier's when one is configured, else the
    /// standard price or, past the long-context threshold, the long-context price.
    pub fn price_for(&self, service_tier: Option<&str>, input_tokens: u64) -> &Price {
        if let Some(tier) = service_tier {
            if let Some((_, price)) = self.service_tiers.iter().find(|(name, _)| name == tier) {
                return price;
            }
        }
        match &self.long_context {
            Some((threshold, price)) if input_tokens > *threshold => price,
            _ => &self.standard,
        }
    }
}

/// Immutable price table, sorted for longest-prefix lookup.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    /// Sorted by name length, longest first, so the first prefix hit is the longest.
    entries: Vec<(String, PriceEntry)>,
}

impl PriceTable {
    pub fn new(entries: impl IntoIterator<Item = (String, PriceEntry)>) -> Self {
        let mut entries: Vec<_> = entries.into_iter().collect();
        entries.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Self { entries }
    }

    /// The entry for `model`: an exact entry, else the longest entry that is a prefix of it.
    pub fn lookup(&self, model: &str) -> Option<&PriceEntry> {
        self.entries
            .iter()
            .find(|(name, _)| name == model)
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|(name, _)| model.starts_with(name.as_str()))
            })
            .map(|(_, entry)| entry)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Cost of `usage` at `price`, in pico-USD. Cache reads and writes are part of the input tokens
/// and billed at their own prices (clamped so that together they never exceed the input);
/// reasoning tokens are part of the output tokens.
pub fn cost_pico(price: &Price, usage: &Usage) -> u128 {
    let mut left = usage.input_tokens;
    let mut take = |n: u64| {
        let n = n.min(left);
        left -= n;
        u128::from(n)
    };
    let cached = take(usage.cached_tokens);
    let write_5m = take(usage.cache_write_5m_tokens);
    let write_1h = take(usage.cache_write_1h_tokens);
    u128::from(left) * u128::from(price.input)
        + cached * u128::from(price.cached_input)
        + write_5m * u128::from(price.cache_write_5m)
        + write_1h * u128::from(price.cache_write_1h)
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

    fn usd(m: &str) -> u64 {
        parse_usd_per_million(m).unwrap()
    }

    fn price(input: &str, cached: &str, output: &str) -> Price {
        Price {
            cached_input: usd(cached),
            ..Price::flat(usd(input), usd(output))
        }
    }

    fn table() -> PriceTable {
        PriceTable::new([
            (
                "gpt-4".to_string(),
                PriceEntry::new(price("30", "30", "60")),
            ),
            (
                "gpt-4o".to_string(),
                PriceEntry::new(price("2.50", "1.25", "10")),
            ),
            (
                "gpt-4o-mini".to_string(),
                PriceEntry::new(price("0.15", "0.075", "0.60")),
            ),
        ])
    }

    #[test]
    fn exact_then_longest_prefix() {
        let t = table();
        assert_eq!(t.lookup("gpt-4o").unwrap().standard.input, 2_500_000);
        assert_eq!(
            t.lookup("gpt-4o-2024-08-06").unwrap().standard.input,
            2_500_000
        );
        assert_eq!(
            t.lookup("gpt-4o-mini-2024-07-18").unwrap().standard.input,
            150_000
        );
        assert_eq!(t.lookup("gpt-4-0613").unwrap().standard.input, 30_000_000);
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
            ..Usage::default()
        };
        // 600 × $2.50/M + 400 × $1.25/M + 500 × $10/M = $0.0015 + $0.0005 + $0.005 = $0.007
        let cost = cost_pico(&t.lookup("gpt-4o").unwrap().standard, &usage);
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

    #[test]
    fn cache_writes_are_billed_at_their_own_prices() {
        // Anthropic Claude Sonnet 4 prices (anthropic.com/pricing): $3 input, $0.30 cache read,
        // $3.75 5-minute write, $6 1-hour write, $15 output per million tokens.
        let p = Price {
            input: usd("3"),
            cached_input: usd("0.30"),
            cache_write_5m: usd("3.75"),
            cache_write_1h: usd("6"),
            output: usd("15"),
        };
        let usage = Usage {
            input_tokens: 10_000,
            cached_tokens: 4_000,
            cache_write_5m_tokens: 2_000,
            cache_write_1h_tokens: 1_000,
            output_tokens: 100,
            ..Usage::default()
        };
        // 3000×3 + 4000×0.30 + 2000×3.75 + 1000×6 + 100×15 = 9000+1200+7500+6000+1500 µ$ per M
        assert_eq!(format_usd(cost_pico(&p, &usage)), "0.0252");
        // Writes beyond what is left of the input are clamped.
        let over = Usage {
            input_tokens: 10,
            cached_tokens: 6,
            cache_write_5m_tokens: 6,
            cache_write_1h_tokens: 6,
            ..Usage::default()
        };
        assert_eq!(
            cost_pico(&p, &over),
            6 * u128::from(usd("0.30")) + 4 * u128::from(usd("3.75"))
        );
    }

    #[test]
    fn long_context_and_service_tiers_pick_the_price() {
        let entry = PriceEntry {
            standard: price("3", "0.30", "15"),
            long_context: Some((200_000, price("6", "0.60", "22.50"))),
            service_tiers: vec![("flex".into(), price("1.5", "0.15", "7.5"))],
        };
        assert_eq!(entry.price_for(None, 200_000).input, usd("3"));
        assert_eq!(entry.price_for(None, 200_001).input, usd("6"));
        assert_eq!(entry.price_for(Some("flex"), 300_000).input, usd("1.5"));
        assert_eq!(entry.price_for(Some("default"), 10).input, usd("3"));
    }
}
