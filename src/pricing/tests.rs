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

fn anthropic_table() -> PriceTable {
    PriceTable::new([
        (
            "claude-sonnet-4".to_string(),
            PriceEntry::new(price("3", "0.30", "15")),
        ),
        (
            "claude-sonnet-4-5".to_string(),
            PriceEntry::new(price("3.30", "0.33", "16.50")),
        ),
        (
            "claude-3-5-haiku".to_string(),
            PriceEntry::new(price("0.80", "0.08", "4")),
        ),
        (
            "anthropic.claude-3-5-haiku".to_string(),
            PriceEntry::new(price("1", "0.10", "5")),
        ),
        (
            "gemini-2.5-pro".to_string(),
            PriceEntry::new(price("1.25", "0.125", "10")),
        ),
    ])
}

fn input_of(t: &PriceTable, model: &str) -> Option<u64> {
    t.lookup(model).map(|e| e.standard.input)
}

#[test]
fn bedrock_and_vertex_ids_are_normalised() {
    let t = anthropic_table();
    let sonnet_4 = Some(usd("3"));
    let sonnet_45 = Some(usd("3.30"));
    // Bedrock model ids and cross-region inference profiles.
    assert_eq!(
        input_of(&t, "anthropic.claude-sonnet-4-20250514-v1:0"),
        sonnet_4
    );
    for region in ["us", "eu", "apac", "global", "us-gov", "jp", "au"] {
        let id = format!("{region}.anthropic.claude-sonnet-4-5-20250929-v1:0");
        assert_eq!(input_of(&t, &id), sonnet_45, "{id}");
    }
    // An inference-profile ARN: the id after the last '/'.
    assert_eq!(
        input_of(
            &t,
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0"
        ),
        sonnet_4
    );
    // Vertex AI ids carry an @version suffix, and may come as a resource path.
    assert_eq!(input_of(&t, "claude-sonnet-4@20250514"), sonnet_4);
    assert_eq!(input_of(&t, "claude-sonnet-4-5@20250929"), sonnet_45);
    assert_eq!(
        input_of(&t, "publishers/google/models/gemini-2.5-pro"),
        Some(usd("1.25"))
    );
    // A configured Bedrock entry is found before the stripped name.
    assert_eq!(
        input_of(&t, "us.anthropic.claude-3-5-haiku-20241022-v1:0"),
        Some(usd("1"))
    );
    assert_eq!(input_of(&t, "claude-3-5-haiku-20241022"), Some(usd("0.80")));
    // Only whole dotted prefixes are stripped.
    assert_eq!(input_of(&t, "usanthropic.claude-sonnet-4"), None);
    assert_eq!(input_of(&t, "anthropicclaude-sonnet-4"), None);
    assert_eq!(input_of(&t, "xx.anthropic.claude-sonnet-4"), None);
    assert_eq!(input_of(&t, "meta.llama3-70b-instruct-v1:0"), None);
    assert_eq!(input_of(&t, ""), None);
    assert_eq!(input_of(&t, "@"), None);
    assert_eq!(input_of(&t, "/"), None);
}

#[test]
fn longest_prefix_handles_multibyte_names() {
    let t = PriceTable::new([("modèle".to_string(), PriceEntry::new(price("1", "1", "2")))]);
    assert_eq!(input_of(&t, "modèle-1"), Some(usd("1")));
    assert_eq!(input_of(&t, "modé"), None);
    assert_eq!(t.len(), 1);
    assert_eq!(t.iter().next().map(|(n, _)| n), Some("modèle"));
}

#[test]
fn the_memo_finds_what_lookup_finds_and_stays_bounded() {
    let t = anthropic_table();
    let memo = PriceMemo::default();
    let names = [
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "claude-3-5-haiku-20241022",
        "claude-sonnet-4@20250514",
        "publishers/google/models/gemini-2.5-pro",
        "meta.llama3-70b-instruct-v1:0",
        "",
    ];
    for _ in 0..2 {
        for name in names {
            assert_eq!(memo.lookup(&t, name), t.lookup(name), "{name}");
        }
    }
    for i in 0..PriceMemo::MAX_NAMES + 10 {
        let name = format!("claude-sonnet-4-{i}");
        assert_eq!(memo.lookup(&t, &name), t.lookup(&name), "{name}");
    }
    assert_eq!(memo.names.borrow().len(), PriceMemo::MAX_NAMES);
    assert_eq!(memo.lookup(&t, names[0]), t.lookup(names[0]));
}
