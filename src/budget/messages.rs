//! The text of a refusal: which limit, the numbers, and when to try again.

use crate::config::usd_text;
use crate::providers::errors::Refusal;
use crate::quota::Exceeded;

fn seconds_text(ms: u64) -> String {
    crate::ratelimit_headers::duration(ms.div_ceil(1000) * 1000)
}

pub(super) fn describe(e: &Exceeded, label: &str) -> (Refusal, String) {
    let amount = |v: u64| {
        if e.which.is_usd() {
            format!("${}", usd_text(v))
        } else {
            v.to_string()
        }
    };
    let what = e.which.as_str().replace('_', " ");
    let numbers = format!(
        "limit {}, used {}, requested {}",
        amount(e.limit),
        amount(e.used),
        amount(e.requested)
    );
    if e.too_large {
        return (
            Refusal::TooLarge,
            format!("Request too large for {label} on {what}: {numbers}. Lower max_tokens or the prompt size."),
        );
    }
    let when = e
        .retry_after_ms
        .map(|ms| format!(" Please try again in {}.", seconds_text(ms)))
        .unwrap_or_default();
    if e.which.is_rate() {
        (
            Refusal::RateLimit,
            format!("Rate limit reached for {label} on {what}: {numbers}.{when}"),
        )
    } else {
        (
            Refusal::Quota,
            format!("Budget exhausted for {label} on {what}: {numbers}.{when}"),
        )
    }
}
