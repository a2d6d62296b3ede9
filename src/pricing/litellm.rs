//! LiteLLM's model cost map format (`model_prices_and_context_window.json`, described at
//! <https://docs.litellm.ai/docs/proxy/model_cost_map> and
//! <https://docs.litellm.ai/docs/completion/token_usage>): model name → an object of rates in
//! USD per billable unit, so USD per token for token-priced models (`2.5e-06` is $2.50 per
//! million tokens), next to context limits and capability flags.
//!
//! Read here, per entry (every other key is ignored, and so is the `sample_spec` entry that
//! documents the format):
//!
//! | LiteLLM key | price |
//! |---|---|
//! | `input_cost_per_token` | input (an entry without it is not token-priced and is skipped) |
//! | `output_cost_per_token` | output (default 0) |
//! | `cache_read_input_token_cost` | cached input (default: input) |
//! | `cache_creation_input_token_cost` | 5-minute cache write (default: input) |
//! | `cache_creation_input_token_cost_above_1hr` | 1-hour cache write (default: 5-minute write) |
//!
//! Each key may carry a suffix for another price level: `_above_<N>k_tokens` (long context: the
//! whole request at this price once its input exceeds N × 1000 tokens; with several thresholds
//! the lowest is used), `_flex`, `_priority` and `_batches` (service tiers `flex`, `priority`
//! and `batch`). A level's missing cache read and write prices are the standard ones scaled by
//! the level's input price over the standard input price (flex at half price has half-price
//! cache reads); a missing input or output price is the standard one.
//!
//! Values must be JSON numbers (`null` counts as absent); they are converted from their decimal
//! text, never through float arithmetic ([`parse_usd_per_token`]).

use super::{Price, PriceEntry};
use crate::config::ConfigError;
use crate::money::parse_usd_per_token;
use serde_json::Value;
use std::collections::BTreeMap;

/// The key of LiteLLM's format-describing entry, which holds no prices.
pub const SAMPLE_SPEC: &str = "sample_spec";

#[derive(Clone, Copy)]
enum Field {
    Input,
    Cached,
    Write5m,
    Write1h,
    Output,
}

/// Key stems, longest first so that `…_above_1hr` is not read as a suffix.
const STEMS: [(&str, Field); 5] = [
    ("cache_creation_input_token_cost_above_1hr", Field::Write1h),
    ("cache_creation_input_token_cost", Field::Write5m),
    ("cache_read_input_token_cost", Field::Cached),
    ("input_cost_per_token", Field::Input),
    ("output_cost_per_token", Field::Output),
];

/// Which price level a key's suffix names.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Standard,
    LongContext(u64),
    Tier(&'static str),
}

fn level_of(suffix: &str) -> Option<Level> {
    match suffix {
        "" => Some(Level::Standard),
        "_flex" => Some(Level::Tier("flex")),
        "_priority" => Some(Level::Tier("priority")),
        "_batches" => Some(Level::Tier("batch")),
        _ => {
            let k = suffix.strip_prefix("_above_")?.strip_suffix("k_tokens")?;
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let tokens = k.parse::<u64>().ok()?.checked_mul(1000)?;
            (tokens > 0).then_some(Level::LongContext(tokens))
        }
    }
}

/// Prices of one level as given; `None` where the entry leaves them out.
#[derive(Default, Clone, Copy)]
struct Given {
    input: Option<u64>,
    cached: Option<u64>,
    write_5m: Option<u64>,
    write_1h: Option<u64>,
    output: Option<u64>,
}

impl Given {
    fn set(&mut self, field: Field, pico: u64) {
        let slot = match field {
            Field::Input => &mut self.input,
            Field::Cached => &mut self.cached,
            Field::Write5m => &mut self.write_5m,
            Field::Write1h => &mut self.write_1h,
            Field::Output => &mut self.output,
        };
        *slot = Some(pico);
    }

    /// This level's price over the standard price `base`. A missing input-side price (cache
    /// read or write) is `base`'s scaled by this level's input price over `base`'s input price
    /// (half-price flex has half-price cache reads, 2× long context has 2× cache writes); a
    /// missing input or output price is `base`'s.
    fn over(&self, base: &Price) -> Price {
        let input = self.input.unwrap_or(base.input);
        let scale = |given: Option<u64>, standard: u64| {
            given.unwrap_or_else(|| {
                if base.input == 0 {
                    return standard;
                }
                let scaled = (u128::from(standard) * u128::from(input)
                    + u128::from(base.input / 2))
                    / u128::from(base.input);
                u64::try_from(scaled).unwrap_or(u64::MAX)
            })
        };
        Price {
            input,
            cached_input: scale(self.cached, base.cached_input),
            cache_write_5m: scale(self.write_5m, base.cache_write_5m),
            cache_write_1h: scale(self.write_1h, base.cache_write_1h),
            output: self.output.unwrap_or(base.output),
        }
    }
}

/// Converts a `litellm_prices` section (`section` is its field path, for errors) into price
/// entries: every token-priced entry under its own name, and for a provider-prefixed name
/// (`anthropic/claude-…`, `bedrock/us-east-1/anthropic.claude-…`) also under the part after the
/// last `/`, unless the section has that name itself or several prefixed names share it with
/// different prices.
pub fn entries(
    section: &str,
    map: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, PriceEntry>, ConfigError> {
    let mut out = BTreeMap::new();
    let mut aliases: BTreeMap<&str, Vec<PriceEntry>> = BTreeMap::new();
    for (model, value) in map {
        if model == SAMPLE_SPEC {
            continue;
        }
        let Some(entry) = entry(&format!("{section}.{model}"), value)? else {
            continue;
        };
        if let Some((_, last)) = model.rsplit_once('/') {
            if !last.is_empty() && !map.contains_key(last) {
                aliases.entry(last).or_default().push(entry.clone());
            }
        }
        out.insert(model.clone(), entry);
    }
    for (alias, candidates) in aliases {
        if let Some((first, rest)) = candidates.split_first() {
            if rest.iter().all(|e| e == first) {
                out.insert(alias.to_string(), first.clone());
            }
        }
    }
    Ok(out)
}

/// One LiteLLM entry; `None` when it has no per-token input price.
fn entry(field: &str, value: &Value) -> Result<Option<PriceEntry>, ConfigError> {
    let Value::Object(keys) = value else {
        return Err(error(field, "must be an object (a LiteLLM model entry)"));
    };
    let mut levels: BTreeMap<Level, Given> = BTreeMap::new();
    for (key, value) in keys {
        let Some((field_kind, level)) = STEMS.iter().find_map(|(stem, f)| {
            let suffix = key.strip_prefix(stem)?;
            Some((*f, level_of(suffix)?))
        }) else {
            continue;
        };
        let path = format!("{field}.{key}");
        let text = match value {
            Value::Null => continue,
            Value::Number(n) => n.to_string(),
            _ => return Err(error(&path, "must be a number (USD per token)")),
        };
        let pico =
            parse_usd_per_token(&text).map_err(|m| error(&path, format!("{m} (USD per token)")))?;
        levels.entry(level).or_default().set(field_kind, pico);
    }
    let Some(given) = levels.remove(&Level::Standard) else {
        return Ok(None);
    };
    let Some(input) = given.input else {
        return Ok(None);
    };
    let write_5m = given.write_5m.unwrap_or(input);
    let standard = Price {
        input,
        cached_input: given.cached.unwrap_or(input),
        cache_write_5m: write_5m,
        cache_write_1h: given.write_1h.unwrap_or(write_5m),
        output: given.output.unwrap_or(0),
    };
    let mut entry = PriceEntry::new(standard);
    // BTreeMap order: the lowest long-context threshold comes first, tiers by name.
    for (level, given) in levels {
        match level {
            Level::Standard => {}
            Level::LongContext(above) => {
                if entry.long_context.is_none() {
                    entry.long_context = Some((above, given.over(&standard)));
                }
            }
            Level::Tier(name) => entry
                .service_tiers
                .push((name.to_string(), given.over(&standard))),
        }
    }
    Ok(Some(entry))
}

fn error(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        message: message.into(),
    }
}
