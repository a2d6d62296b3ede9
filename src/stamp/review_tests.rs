//! Review: the filter state written straight from the outcome against the `Value` tree's JSON
//! (the code it replaced, restated here) on strings with every ASCII control character, quotes,
//! backslashes, non-ASCII, and attribute names that sort differently by bytes and by chars.

use super::tests::reference_filter_state;
use super::*;
use crate::usage::UsageSource;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn nasty_strings() -> Vec<String> {
    let mut all: String = (0u8..0x80).map(char::from).collect();
    all.push_str(
        "\u{80}\u{a0}\u{7ff}\u{800}\u{2028}\u{2029}\u{feff}\u{fffd}\u{ffff}\u{10000}\u{10ffff}",
    );
    vec![
        String::new(),
        all.clone(),
        all.chars().rev().collect(),
        "\"".into(),
        "\\".into(),
        "\\\"".into(),
        "\u{0}".into(),
        "</script>".into(),
        "é".into(),
        "\u{1f600}".into(),
        "z".into(),
        "Z".into(),
        "a".repeat(10_000),
    ]
}

#[test]
fn filter_state_equals_the_value_tree_for_nasty_strings() {
    let strings = nasty_strings();
    for (i, s) in strings.iter().enumerate() {
        let next = &strings[(i + 1) % strings.len()];
        let outcome = Outcome {
            tenant: s.clone(),
            model: next.clone(),
            provider: "openai",
            usage: Usage {
                input_tokens: u64::MAX,
                output_tokens: i as u64,
                cached_tokens: 0,
                reasoning_tokens: 1,
                cache_write_5m_tokens: 2,
                cache_write_1h_tokens: 3,
                source: [
                    UsageSource::Provider,
                    UsageSource::Estimate,
                    UsageSource::None,
                ][i % 3],
            },
            cost_pico: [None, Some(0), Some(1), Some(u128::MAX)][i % 4],
            // Every string as a name and as a value; repeated names keep their last value.
            attributes: strings
                .iter()
                .zip(strings.iter().rev())
                .map(|(k, v)| (k.clone(), v.clone()))
                .chain([(s.clone(), "again".to_string())])
                .collect(),
            status: [None, Some(0), Some(200), Some(u16::MAX)][i % 4],
        };
        let got = filter_state(&outcome);
        assert_eq!(got, reference_filter_state(&outcome), "tenant {s:?}");
        // One SSE comment line: no raw line break inside.
        let comment = sse_comment(&outcome);
        let line_breaks = comment
            .iter()
            .filter(|b| matches!(b, b'\n' | b'\r'))
            .count();
        assert_eq!(line_breaks, 2);
    }
}
