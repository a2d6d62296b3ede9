//! The price table: the built-in table, `litellm_prices`, `prices`, and costs priced through
//! them. Expected prices are the providers' list prices in USD per million tokens, typed here
//! by hand ($3 per million is 3_000_000 pico-USD per token).

use super::parse;
use crate::config::prices::{default_table, DEFAULT_PRICES_JSON};
use crate::config::raw::RawPriceFile;
use crate::money::{format_usd, parse_usd_per_million};
use crate::pricing::{cost_pico, Price, PriceEntry};
use crate::usage::Usage;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn usd(per_million: &str) -> u64 {
    parse_usd_per_million(per_million).unwrap()
}

fn fields(p: &Price) -> [u64; 5] {
    [
        p.input,
        p.cached_input,
        p.cache_write_5m,
        p.cache_write_1h,
        p.output,
    ]
}

#[test]
fn builtin_table_parses_with_date_and_sources() {
    let file: RawPriceFile = serde_json::from_str(DEFAULT_PRICES_JSON).unwrap();
    let (as_of, entries) = default_table().unwrap();
    assert_eq!(as_of, file.as_of);
    let b = as_of.as_bytes();
    assert!(
        b.len() == 10 && b[4] == b'-' && b[7] == b'-' && as_of.starts_with("20"),
        "{as_of}"
    );
    assert!(!file.sources.is_empty());
    assert!(file.sources.iter().all(|s| s.starts_with("https://")));
    assert!(!file.notes.is_empty());
    assert!(entries.len() >= 40, "{}", entries.len());
    let c = parse("").unwrap();
    assert_eq!(c.prices_as_of.as_deref(), Some(as_of.as_str()));
    assert_eq!(c.prices.len(), entries.len());
}

/// Every entry of the built-in table holds together: cache reads cost at most the input, cache
/// writes at least, output at least the input (embeddings have no output), long-context prices
/// at least the standard ones, flex is half the standard price (OpenAI bills flex at Batch API
/// rates), priority costs more, and Anthropic's cache prices follow its published multipliers.
#[test]
fn builtin_table_is_sane() {
    let (_, entries) = default_table().unwrap();
    let check = |name: &str, p: &Price| {
        assert!(p.input > 0, "{name}");
        assert!(p.cached_input <= p.input, "{name}");
        assert!(p.cache_write_5m >= p.input, "{name}");
        assert!(p.cache_write_1h >= p.cache_write_5m, "{name}");
        if name.contains("embedding") {
            assert_eq!(p.output, 0, "{name}");
        } else {
            assert!(p.output >= p.input, "{name}");
        }
        if name.starts_with("claude-") && name != "claude-3-haiku" {
            assert_eq!(p.cached_input * 10, p.input, "{name}: reads are 0.1x input");
            assert_eq!(p.cache_write_5m * 4, p.input * 5, "{name}: 5m writes 1.25x");
            assert_eq!(p.cache_write_1h, p.input * 2, "{name}: 1h writes 2x");
        } else if !name.starts_with("claude-") {
            assert_eq!(p.cache_write_5m, p.input, "{name}: no cache write premium");
            assert_eq!(p.cache_write_1h, p.input, "{name}: no cache write premium");
        }
    };
    for (name, e) in &entries {
        check(name, &e.standard);
        if let Some((above, long)) = &e.long_context {
            assert_eq!(*above, 200_000, "{name}");
            check(name, long);
            for (s, l) in fields(&e.standard).iter().zip(fields(long)) {
                assert!(l >= *s, "{name}: long context costs more");
            }
        }
        for (tier, p) in &e.service_tiers {
            check(name, p);
            let pairs = fields(&e.standard).into_iter().zip(fields(p));
            match tier.as_str() {
                "flex" => pairs.for_each(|(s, f)| assert_eq!(f * 2, s, "{name}: flex")),
                "priority" => pairs.for_each(|(s, q)| assert!(q > s, "{name}: priority")),
                other => panic!("{name}: unexpected tier {other}"),
            }
        }
    }
}

#[test]
fn builtin_table_prices_dated_and_cloud_model_ids() {
    let c = parse("").unwrap();
    let input = |m: &str| c.prices.lookup(m).map(|e| e.standard.input);
    let cases = [
        ("gpt-5-2025-08-07", "1.25"),
        ("gpt-5-mini-2025-08-07", "0.25"),
        ("gpt-5-nano", "0.05"),
        ("gpt-4.1-2025-04-14", "2"),
        ("gpt-4.1-mini-2025-04-14", "0.40"),
        ("gpt-4o-2024-08-06", "2.50"),
        ("gpt-4o-2024-05-13", "5"),
        ("gpt-4o-mini-2024-07-18", "0.15"),
        ("o1-2024-12-17", "15"),
        ("o1-mini-2024-09-12", "1.10"),
        ("o3-2025-04-16", "2"),
        ("o3-mini-2025-01-31", "1.10"),
        ("o4-mini-2025-04-16", "1.10"),
        ("gpt-4-0613", "30"),
        ("gpt-4-turbo-2024-04-09", "10"),
        ("gpt-3.5-turbo-0125", "0.50"),
        ("text-embedding-3-large", "0.13"),
        ("text-embedding-ada-002", "0.10"),
        ("claude-opus-4-1-20250805", "15"),
        ("claude-opus-4-20250514", "15"),
        ("claude-opus-4-0", "15"),
        ("claude-sonnet-4-0", "3"),
        ("claude-sonnet-4-5-20250929", "3"),
        ("claude-sonnet-4-20250514", "3"),
        ("claude-3-7-sonnet-20250219", "3"),
        ("claude-3-5-haiku-20241022", "0.80"),
        ("claude-haiku-4-5-20251001", "1"),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "1"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "0.80"),
        ("eu.anthropic.claude-opus-4-1-20250805-v1:0", "15"),
        ("claude-3-7-sonnet@20250219", "3"),
        ("gemini-2.5-pro", "1.25"),
        ("gemini-2.5-flash", "0.30"),
        ("gemini-2.5-flash-lite", "0.10"),
        ("gemini-2.5-flash-lite-preview-06-17", "0.10"),
        ("gemini-2.0-flash-001", "0.10"),
        ("gemini-2.0-flash-lite-001", "0.075"),
        ("models/gemini-2.5-flash", "0.30"),
    ];
    for (model, price) in cases {
        assert_eq!(input(model), Some(usd(price)), "{model}");
    }
    let embedding = c.prices.lookup("text-embedding-3-small").unwrap();
    assert_eq!(
        (embedding.standard.input, embedding.standard.output),
        (usd("0.02"), 0)
    );
    assert_eq!(input("llama-3-70b"), None);
    // Models released after the table's date do not take an older model's price by prefix.
    for later in [
        "claude-opus-4-5",
        "claude-opus-4-8",
        "claude-sonnet-5",
        "claude-opus-5",
    ] {
        assert_eq!(input(later), None, "{later}");
    }
}

#[test]
fn default_prices_false_leaves_only_configured_ones() {
    let c = parse(r#"{"default_prices": false, "prices": {"m": {"input": 1}}}"#).unwrap();
    assert_eq!(c.prices_as_of, None);
    assert_eq!(c.prices.len(), 1);
    assert!(c.prices.lookup("gpt-4o").is_none());
    let c = parse(r#"{"default_prices": false}"#).unwrap();
    assert!(c.prices.is_empty());
}

fn usage(input: u64, cached: u64, write_5m: u64, write_1h: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        cached_tokens: cached,
        cache_write_5m_tokens: write_5m,
        cache_write_1h_tokens: write_1h,
        output_tokens: output,
        ..Usage::default()
    }
}

#[test]
fn long_context_anthropic_request_costs_the_long_context_prices() {
    let c = parse("").unwrap();
    // Claude Sonnet 4.5 above 200k input tokens: $6 input, $0.60 cache reads, $7.50 5-minute
    // and $12 1-hour cache writes, $22.50 output per million tokens.
    let long = usage(250_000, 50_000, 20_000, 10_000, 2_000);
    // 170000×6 + 50000×0.60 + 20000×7.50 + 10000×12 + 2000×22.50 (µ$ per token… per million)
    // = $1.02 + $0.03 + $0.15 + $0.12 + $0.045
    for model in [
        "claude-sonnet-4-5-20250929",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "claude-sonnet-4-5@20250929",
    ] {
        let entry = c.prices.lookup(model).unwrap();
        let price = entry.price_for(None, long.input_tokens);
        assert_eq!(format_usd(cost_pico(price, &long)), "1.365", "{model}");
    }
    // At exactly 200k input tokens the standard prices apply: 200000×3 + 1000×15.
    let at = usage(200_000, 0, 0, 0, 1_000);
    let entry = c.prices.lookup("claude-sonnet-4-20250514").unwrap();
    let price = entry.price_for(None, at.input_tokens);
    assert_eq!(format_usd(cost_pico(price, &at)), "0.615");
}

#[test]
fn flex_and_priority_requests_cost_their_tier_prices() {
    let c = parse("").unwrap();
    let entry = c.prices.lookup("o3-2025-04-16").unwrap();
    let u = Usage {
        reasoning_tokens: 600,
        ..usage(10_000, 4_000, 0, 0, 1_000)
    };
    let cost = |tier: Option<&str>| format_usd(cost_pico(entry.price_for(tier, 10_000), &u));
    // flex: 6000×$1 + 4000×$0.25 + 1000×$4 per million tokens.
    assert_eq!(cost(Some("flex")), "0.011");
    // priority: 6000×$3.50 + 4000×$0.875 + 1000×$14.
    assert_eq!(cost(Some("priority")), "0.0385");
    // standard (the response says "default"): 6000×$2 + 4000×$0.50 + 1000×$8.
    assert_eq!(cost(Some("default")), "0.022");
    assert_eq!(cost(None), "0.022");
    let mini = c.prices.lookup("gpt-5-mini-2025-08-07").unwrap();
    // 6000×$0.125 + 4000×$0.0125 + 1000×$1.
    let price = mini.price_for(Some("flex"), 10_000);
    assert_eq!(format_usd(cost_pico(price, &u)), "0.0018");
}

/// A LiteLLM-format section written by hand after LiteLLM's documented keys: rates in USD per
/// token with exponents, a long-context tier, service tiers, keys to ignore, the `sample_spec`
/// entry (with a value that would be rejected if it were read), provider-prefixed names.
const LITELLM_SAMPLE: &str = r#"{"default_prices": false, "litellm_prices": {
  "sample_spec": {
    "max_tokens": "the provider's output limit",
    "input_cost_per_token": "USD per input token",
    "litellm_provider": "one of the providers", "mode": "chat", "supports_vision": true
  },
  "claude-sonnet-4-5": {
    "max_tokens": 64000, "max_input_tokens": 200000, "max_output_tokens": 64000,
    "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
    "cache_creation_input_token_cost": 3.75e-06,
    "cache_creation_input_token_cost_above_1hr": 6e-06,
    "cache_read_input_token_cost": 3e-07,
    "input_cost_per_token_above_200k_tokens": 6e-06,
    "output_cost_per_token_above_200k_tokens": 2.25e-05,
    "cache_creation_input_token_cost_above_200k_tokens": 7.5e-06,
    "cache_read_input_token_cost_above_200k_tokens": 6e-07,
    "litellm_provider": "anthropic", "mode": "chat",
    "supports_function_calling": true, "supports_prompt_caching": true,
    "tool_use_system_prompt_tokens": 346,
    "search_context_cost_per_query": {"search_context_size_low": 0.01}
  },
  "gpt-5-mini": {
    "max_input_tokens": 272000, "input_cost_per_token": 25e-8,
    "output_cost_per_token": 0.000002, "cache_read_input_token_cost": 2.5E-8,
    "input_cost_per_token_flex": 1.25e-07, "output_cost_per_token_flex": 1e-06,
    "cache_read_input_token_cost_flex": 1.25e-08,
    "input_cost_per_token_priority": 4.5e-07, "output_cost_per_token_priority": 3.6e-06,
    "cache_read_input_token_cost_priority": 4.5e-08,
    "input_cost_per_token_batches": 1.25e-07, "output_cost_per_token_batches": 1e-06,
    "output_cost_per_reasoning_token": 2e-06, "input_cost_per_token_cache_hit": "n/a",
    "supported_endpoints": ["/v1/chat/completions"], "litellm_provider": "openai", "mode": "chat"
  },
  "text-embedding-3-small": {"input_cost_per_token": 2e-08, "output_cost_per_token": 0.0,
    "output_vector_size": 1536, "mode": "embedding"},
  "dall-e-3": {"output_cost_per_image": 0.04, "mode": "image_generation"},
  "null-output": {"input_cost_per_token": 1e-06, "output_cost_per_token": null},
  "anthropic/claude-haiku-4-5": {"input_cost_per_token": 1e-06, "output_cost_per_token": 5e-06},
  "vertex_ai/claude-sonnet-4-5": {"input_cost_per_token": 3.3e-06, "output_cost_per_token": 1.65e-05},
  "groq/shared-model": {"input_cost_per_token": 1e-07},
  "together_ai/shared-model": {"input_cost_per_token": 2e-07},
  "azure/eu/same-model": {"input_cost_per_token": 1e-06},
  "azure/us/same-model": {"input_cost_per_token": 1e-06},
  "bedrock/us-east-1/anthropic.claude-3-5-haiku-20241022-v1:0": {"input_cost_per_token": 8e-07}
}}"#;

#[test]
fn litellm_prices_convert_exactly() {
    let c = parse(LITELLM_SAMPLE).unwrap();
    assert_eq!(c.prices_as_of, None);
    let sonnet = c.prices.lookup("claude-sonnet-4-5-20250929").unwrap();
    let standard = Price {
        input: usd("3"),
        cached_input: usd("0.30"),
        cache_write_5m: usd("3.75"),
        cache_write_1h: usd("6"),
        output: usd("15"),
    };
    let long = Price {
        input: usd("6"),
        cached_input: usd("0.60"),
        cache_write_5m: usd("7.50"),
        // No 1-hour long-context key: the standard one scaled like the input ($3 → $6).
        cache_write_1h: usd("12"),
        output: usd("22.50"),
    };
    assert_eq!(
        sonnet,
        &PriceEntry {
            standard,
            long_context: Some((200_000, long)),
            service_tiers: vec![],
        }
    );
    let mini = c.prices.lookup("gpt-5-mini").unwrap();
    // No cache-write keys: writes cost the input price at every level.
    let level = |input: &str, cached: &str, output: &str| Price {
        cached_input: usd(cached),
        ..Price::flat(usd(input), usd(output))
    };
    assert_eq!(mini.standard, level("0.25", "0.025", "2"));
    assert_eq!(mini.long_context, None);
    assert_eq!(
        mini.service_tiers,
        vec![
            // No cache-read batch key: the standard one at half price, like the input.
            ("batch".to_string(), level("0.125", "0.0125", "1")),
            ("flex".to_string(), level("0.125", "0.0125", "1")),
            ("priority".to_string(), level("0.45", "0.045", "3.60")),
        ]
    );
    let embedding = c.prices.lookup("text-embedding-3-small").unwrap();
    assert_eq!(embedding.standard, Price::flat(usd("0.02"), 0));
    assert_eq!(
        c.prices.lookup("null-output").unwrap().standard,
        Price::flat(usd("1"), 0)
    );
    // Not priced per token: skipped. sample_spec: skipped.
    assert!(c.prices.lookup("dall-e-3").is_none());
    assert!(c.prices.lookup("sample_spec").is_none());
    // A flex request priced through the LiteLLM entry: 6000×$0.125 + 4000×$0.0125 + 1000×$1.
    let u = usage(10_000, 4_000, 0, 0, 1_000);
    let cost = cost_pico(mini.price_for(Some("flex"), 10_000), &u);
    assert_eq!(format_usd(cost), "0.0018");
}

#[test]
fn litellm_provider_prefixed_names_are_also_indexed_by_their_last_part() {
    let c = parse(LITELLM_SAMPLE).unwrap();
    let input = |m: &str| c.prices.lookup(m).map(|e| e.standard.input);
    assert_eq!(input("anthropic/claude-haiku-4-5"), Some(usd("1")));
    assert_eq!(input("claude-haiku-4-5-20251001"), Some(usd("1")));
    // The unprefixed entry exists: it keeps its own price.
    assert_eq!(input("vertex_ai/claude-sonnet-4-5"), Some(usd("3.30")));
    assert_eq!(input("claude-sonnet-4-5"), Some(usd("3")));
    // Two providers, two prices: the short name would be ambiguous, so it is not indexed.
    assert_eq!(input("groq/shared-model"), Some(usd("0.10")));
    assert_eq!(input("shared-model"), None);
    // Two prefixes with one price: indexed.
    assert_eq!(input("same-model"), Some(usd("1")));
    assert_eq!(
        input("us.anthropic.claude-3-5-haiku-20241022-v1:0"),
        Some(usd("0.80"))
    );
}

#[test]
fn litellm_then_prices_override_the_builtin_table_per_model() {
    let c = parse(
        r#"{"litellm_prices": {"gpt-4o": {"input_cost_per_token": 3e-06, "output_cost_per_token": 1.2e-05},
                               "gpt-4.1": {"input_cost_per_token": 2.2e-06},
                               "azure/o3": {"input_cost_per_token": 2.2e-06}},
            "prices": {"gpt-4.1": {"input": 2.1}, "gpt-4o-mini": {"input": 0.2, "output": 0.8}}}"#,
    )
    .unwrap();
    let input = |m: &str| c.prices.lookup(m).map(|e| e.standard.input);
    assert_eq!(input("gpt-4o"), Some(usd("3")));
    // The whole entry is replaced: the built-in priority tier is gone.
    assert!(c.prices.lookup("gpt-4o").unwrap().service_tiers.is_empty());
    assert_eq!(input("gpt-4.1"), Some(usd("2.1")));
    assert_eq!(input("gpt-4o-mini"), Some(usd("0.2")));
    assert_eq!(input("o3"), Some(usd("2.2")));
    assert_eq!(input("o4-mini"), Some(usd("1.10")));
    assert!(c.prices_as_of.is_some());
}

#[test]
fn litellm_errors_name_the_field() {
    let cases = [
        (
            r#"{"gpt-4o": {"input_cost_per_token": "2.5e-06"}}"#,
            "litellm_prices.gpt-4o.input_cost_per_token",
            "number",
        ),
        (
            r#"{"gpt-4o": {"input_cost_per_token": -2.5e-06}}"#,
            "litellm_prices.gpt-4o.input_cost_per_token",
            "negative",
        ),
        (
            r#"{"gpt-4o": {"input_cost_per_token": true}}"#,
            "litellm_prices.gpt-4o.input_cost_per_token",
            "number",
        ),
        (
            r#"{"gpt-4o": {"input_cost_per_token": 2}}"#,
            "litellm_prices.gpt-4o.input_cost_per_token",
            "maximum",
        ),
        (
            r#"{"gpt-4o": {"input_cost_per_token": 1e-06, "output_cost_per_token_flex": -1e-06}}"#,
            "litellm_prices.gpt-4o.output_cost_per_token_flex",
            "negative",
        ),
        (
            r#"{"m": {"input_cost_per_token": 1e-06, "cache_read_input_token_cost_above_200k_tokens": [1]}}"#,
            "litellm_prices.m.cache_read_input_token_cost_above_200k_tokens",
            "number",
        ),
        (
            r#"{"anthropic/claude-x": {"cache_creation_input_token_cost_above_1hr": "6e-06"}}"#,
            "litellm_prices.anthropic/claude-x.cache_creation_input_token_cost_above_1hr",
            "number",
        ),
        (r#"{"gpt-4o": 5}"#, "litellm_prices.gpt-4o", "object"),
    ];
    for (section, field, words) in cases {
        let json = format!(r#"{{"litellm_prices": {section}}}"#);
        let e = parse(&json).unwrap_err();
        assert_eq!(e.field, field, "{json}: {e}");
        assert!(e.message.contains(words), "{json}: {e}");
    }
}
