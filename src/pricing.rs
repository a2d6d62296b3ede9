//! The price table: model name → prices in pico-USD per token, looked up by exact name, else by
//! the longest configured prefix (`gpt-4o-2024-08-06` prices as `gpt-4o`), else the same on the
//! name stripped of Bedrock and Vertex AI decorations. [`litellm`] reads LiteLLM's price format.

use crate::money::PICO_PER_USD;
use crate::usage::Usage;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

pub mod litellm;

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

/// Immutable price table: exact names, else the longest configured prefix, else the same after
/// normalising a cloud model id ([`PriceTable::lookup`]).
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    entries: BTreeMap<String, PriceEntry>,
    /// The length of the longest entry name: no longer prefix of a model name can be one.
    longest: usize,
}

/// Bedrock cross-region inference profile prefixes (`us.anthropic.claude-…`).
const BEDROCK_REGIONS: [&str; 7] = ["us", "us-gov", "eu", "apac", "jp", "au", "global"];
/// Bedrock model-provider prefixes (`anthropic.claude-…`, `meta.llama3-…`).
const BEDROCK_PROVIDERS: [&str; 8] = [
    "anthropic",
    "amazon",
    "meta",
    "mistral",
    "cohere",
    "ai21",
    "deepseek",
    "openai",
];

impl PriceTable {
    /// A table of the given entries; a name given twice keeps its last entry.
    pub fn new(entries: impl IntoIterator<Item = (String, PriceEntry)>) -> Self {
        let entries: BTreeMap<String, PriceEntry> = entries.into_iter().collect();
        let longest = entries.keys().map(String::len).max().unwrap_or(0);
        Self { entries, longest }
    }

    /// The entry for `model`: an exact entry, else the longest entry that is a prefix of it.
    /// When neither exists, the same is tried on the model name with cloud decorations removed,
    /// one after another: everything up to the last `/` (an ARN's `…:inference-profile/`,
    /// `models/`), a Vertex AI `@version` suffix (`claude-sonnet-4@20250514`), a Bedrock
    /// cross-region prefix (`us.`, `us-gov.`, `eu.`, `apac.`, `jp.`, `au.`, `global.`) and a
    /// Bedrock provider prefix (`anthropic.`, `meta.`…). So
    /// `us.anthropic.claude-sonnet-4-20250514-v1:0` is priced as `claude-sonnet-4` unless the
    /// table has an entry for a longer form of it.
    pub fn lookup(&self, model: &str) -> Option<&PriceEntry> {
        self.lookup_entry(model).map(|(_, e)| e)
    }

    /// [`PriceTable::lookup`] with the name of the entry found.
    fn lookup_entry(&self, model: &str) -> Option<(&str, &PriceEntry)> {
        let mut previous = None;
        normalisations(model).into_iter().find_map(|name| {
            if previous == Some(name) {
                return None;
            }
            previous = Some(name);
            self.exact_or_prefix(name)
        })
    }

    fn exact_or_prefix(&self, model: &str) -> Option<(&str, &PriceEntry)> {
        // Only prefixes as long as an entry name at most (a client's `model` can be megabytes).
        (0..=model.len().min(self.longest))
            .rev()
            .filter_map(|end| model.get(..end))
            .find_map(|prefix| self.entries.get_key_value(prefix))
            .map(|(k, e)| (k.as_str(), e))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every (name, entry), in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PriceEntry)> {
        self.entries
            .iter()
            .map(|(name, entry)| (name.as_str(), entry))
    }
}

/// [`PriceTable::lookup`] remembered per model name, for one table: a name is looked up once,
/// then found with one hash lookup (unknown names cost the most to look up). At most
/// [`PriceMemo::MAX_NAMES`] names of at most [`PriceMemo::MAX_NAME_BYTES`] bytes are kept
/// (a request's `model` is the client's, of any length up to the body limit); others are looked
/// up every time.
#[derive(Debug, Default)]
pub struct PriceMemo {
    /// Model name → the table entry's name, or `None` for an unpriced model.
    names: RefCell<HashMap<String, Option<String>>>,
}

impl PriceMemo {
    pub const MAX_NAMES: usize = 1024;
    /// Longer names are not remembered, so the memo holds at most 256 KiB of names.
    pub const MAX_NAME_BYTES: usize = 256;

    /// `table.lookup(model)`; `table` must be the same table on every call.
    pub fn lookup<'t>(&self, table: &'t PriceTable, model: &str) -> Option<&'t PriceEntry> {
        if let Some(found) = self.names.borrow().get(model) {
            return found.as_deref().and_then(|name| table.entries.get(name));
        }
        let found = table.lookup_entry(model);
        let mut names = self.names.borrow_mut();
        if names.len() < Self::MAX_NAMES && model.len() <= Self::MAX_NAME_BYTES {
            names.insert(model.to_owned(), found.map(|(name, _)| name.to_owned()));
        }
        found.map(|(_, e)| e)
    }
}

/// The names [`PriceTable::lookup`] tries for `model`, each a further-stripped form of the last.
fn normalisations(model: &str) -> [&str; 5] {
    let path = model.rsplit_once('/').map_or(model, |(_, last)| last);
    let version = path.split_once('@').map_or(path, |(name, _)| name);
    let region = strip_dotted(version, &BEDROCK_REGIONS);
    let provider = strip_dotted(region, &BEDROCK_PROVIDERS);
    [model, path, version, region, provider]
}

/// `s` without a leading `<name>.` for the first of `names` it starts with.
fn strip_dotted<'a>(s: &'a str, names: &[&str]) -> &'a str {
    names
        .iter()
        .find_map(|name| s.strip_prefix(name)?.strip_prefix('.'))
        .unwrap_or(s)
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
mod review_tests;
#[cfg(test)]
mod tests;
