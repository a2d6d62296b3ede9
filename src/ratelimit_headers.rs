//! OpenAI's `x-ratelimit-*` response headers, computed from a tenant's budget state.
//!
//! OpenAI documents six headers ("Rate limits in headers",
//! <https://platform.openai.com/docs/guides/rate-limits>): the limit, the remaining budget and
//! the time until the bucket is full again, for requests and for tokens, e.g.
//! `x-ratelimit-reset-requests: 1s` and `x-ratelimit-reset-tokens: 6m0s`. The reset values are
//! formatted like Go's `time.Duration.String()` (<https://pkg.go.dev/time#Duration.String>),
//! here at millisecond precision: see [`duration`].

/// What a tenant's per-minute limits look like after this request was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitView {
    pub requests: Option<Bucket>,
    pub tokens: Option<Bucket>,
}

/// One per-minute bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub limit: u64,
    pub remaining: u64,
    /// Milliseconds until the bucket is full again.
    pub reset_ms: u64,
}

impl RateLimitView {
    /// `x-ratelimit-{limit,remaining,reset}-requests` when `requests` is set, then the same
    /// three for `tokens`.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(6);
        if let Some(b) = self.requests {
            out.push(("x-ratelimit-limit-requests", b.limit.to_string()));
            out.push(("x-ratelimit-remaining-requests", b.remaining.to_string()));
            out.push(("x-ratelimit-reset-requests", duration(b.reset_ms)));
        }
        if let Some(b) = self.tokens {
            out.push(("x-ratelimit-limit-tokens", b.limit.to_string()));
            out.push(("x-ratelimit-remaining-tokens", b.remaining.to_string()));
            out.push(("x-ratelimit-reset-tokens", duration(b.reset_ms)));
        }
        out
    }
}

/// A duration of `ms` milliseconds as Go's `time.Duration.String()` writes it: `0s`, `20ms`
/// under a second, else hours, minutes and seconds with the larger units only when non-zero
/// and the seconds' fraction without trailing zeros (`1.5s`, `59.999s`, `6m0s`, `1h2m3.5s`).
pub fn duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (hours, minutes) = (ms / 3_600_000, ms / 60_000 % 60);
    let (secs, millis) = (ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&secs.to_string());
    if millis > 0 {
        let frac = format!("{millis:03}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('s');
    out
}

#[cfg(test)]
mod tests;
