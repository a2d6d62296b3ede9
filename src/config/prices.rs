//! The price table: the built-in table `examples/prices.json` (unless `default_prices` is
//! false), then `litellm_prices`, then `prices`, each replacing the previous one's entry for the
//! same model name.

use super::raw::{Decimal, RawPrice, RawPriceFile, RawPriceLevel};
use super::{err, ConfigError};
use crate::pricing::{litellm, Price, PriceEntry, PriceTable};
use serde_json::Value;
use std::collections::BTreeMap;

/// The built-in price table, in the `prices` format with its `as_of` date and sources.
pub(super) const DEFAULT_PRICES_JSON: &str = include_str!("../../examples/prices.json");

/// The compiled table and, when the built-in table is part of it, its `as_of` date.
pub(super) fn compile(
    prices: BTreeMap<String, RawPrice>,
    litellm_prices: &BTreeMap<String, Value>,
    default_prices: bool,
) -> Result<(PriceTable, Option<String>), ConfigError> {
    let mut table = BTreeMap::new();
    let mut as_of = None;
    if default_prices {
        let (date, defaults) = default_table()?;
        table.extend(defaults);
        as_of = Some(date);
    }
    table.extend(litellm::entries("litellm_prices", litellm_prices)?);
    for (model, p) in prices {
        let entry = compile_price(&format!("prices.{model}"), p)?;
        table.insert(model, entry);
    }
    Ok((PriceTable::new(table), as_of))
}

/// The built-in table's `as_of` date and entries. It is embedded, so an error here is a bug in
/// `examples/prices.json`; it is reported under `default_prices` (which turns the table off).
pub(super) fn default_table() -> Result<(String, BTreeMap<String, PriceEntry>), ConfigError> {
    let broken = |what: String| {
        err(
            "default_prices",
            format!("the built-in table examples/prices.json is invalid: {what}"),
        )
    };
    let mut de = serde_json::Deserializer::from_str(DEFAULT_PRICES_JSON);
    let file: RawPriceFile = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| broken(format!("{}: {}", e.path(), e.inner())))?;
    if !is_date(&file.as_of) {
        return Err(broken(format!("as_of `{}` is not YYYY-MM-DD", file.as_of)));
    }
    let mut entries = BTreeMap::new();
    for (model, p) in file.prices {
        let entry = compile_price(&format!("prices.{model}"), p)
            .map_err(|e| broken(format!("{}: {}", e.field, e.message)))?;
        entries.insert(model, entry);
    }
    Ok((file.as_of, entries))
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

pub(super) fn compile_price(field: &str, raw: RawPrice) -> Result<PriceEntry, ConfigError> {
    let (standard, long, tiers) = raw.split();
    let standard = compile_level(field, standard)?;
    let long_context = match long {
        None => None,
        Some((above, level)) => {
            let f = format!("{field}.long_context");
            if above == 0 {
                return Err(err(format!("{f}.above_input_tokens"), "must be above 0"));
            }
            Some((above, compile_level(&f, level)?))
        }
    };
    let mut service_tiers = Vec::new();
    for (tier, level) in tiers {
        let f = format!("{field}.service_tiers.{tier}");
        service_tiers.push((tier, compile_level(&f, level)?));
    }
    Ok(PriceEntry {
        standard,
        long_context,
        service_tiers,
    })
}

/// One price level: cache reads and 5-minute writes default to the input price, 1-hour writes
/// to the 5-minute price, output to zero (embeddings).
fn compile_level(field: &str, raw: RawPriceLevel) -> Result<Price, ConfigError> {
    let get = |d: &Decimal, f: &str| d.pico_per_token(&format!("{field}.{f}"));
    let input = get(&raw.input, "input")?;
    let or = |d: &Option<Decimal>, f: &str, default: u64| match d {
        Some(d) => get(d, f),
        None => Ok(default),
    };
    let cache_write_5m = or(&raw.cache_write_5m, "cache_write_5m", input)?;
    Ok(Price {
        input,
        cached_input: or(&raw.cached_input, "cached_input", input)?,
        cache_write_5m,
        cache_write_1h: or(&raw.cache_write_1h, "cache_write_1h", cache_write_5m)?,
        output: or(&raw.output, "output", 0)?,
    })
}
