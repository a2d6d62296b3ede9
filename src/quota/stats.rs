//! Per-tenant spend statistics: tokens per minute against a moving baseline (spike
//! detection), and goodput — spend on successful completions versus waste.

use super::codec::{Reader, Writer};

const VERSION: u64 = 1;
/// Minutes without traffic after which the baseline is rebuilt rather than decayed.
const MAX_FOLD: u64 = 1440;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantStats {
    /// The minute (since the epoch) `current` counts.
    pub minute: u64,
    pub current: u64,
    /// Exponential moving average of tokens per minute, in thousandths.
    pub baseline_milli: u64,
    /// Whole minutes folded into the baseline.
    pub minutes: u64,
    /// The minute a spike was last reported in, plus one (0: never).
    pub reported: u64,
    pub good_requests: u64,
    pub good_nano_usd: u64,
    pub waste_requests: u64,
    pub waste_nano_usd: u64,
}

/// Spike detection settings: a minute above `factor_milli`/1000 × the baseline, once the
/// baseline has `warmup_minutes` and the minute at least `min_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpikeRule {
    pub factor_milli: u64,
    pub min_tokens: u64,
    /// The moving average's span: each minute weighs 1/`baseline_minutes`.
    pub baseline_minutes: u64,
    pub warmup_minutes: u64,
}

impl TenantStats {
    /// Moves to `now_s`'s minute, folding every finished minute (empty ones count as 0) into
    /// the baseline.
    pub fn roll(&mut self, now_s: u64, rule: &SpikeRule) {
        let now_minute = now_s / 60;
        if self.minute == 0 && self.minutes == 0 && self.current == 0 {
            self.minute = now_minute;
            return;
        }
        let n = rule.baseline_minutes.max(1);
        let gap = now_minute.saturating_sub(self.minute);
        if gap > MAX_FOLD {
            self.minute = now_minute;
            self.current = 0;
            self.baseline_milli = 0;
            self.minutes = 0;
            return;
        }
        for _ in 0..gap {
            let sample = self.current.saturating_mul(1000);
            self.baseline_milli = self.baseline_milli - self.baseline_milli / n + sample / n;
            self.current = 0;
            self.minutes = self.minutes.saturating_add(1);
        }
        self.minute = self.minute.max(now_minute);
    }

    /// Whether this minute's tokens are a spike under `rule` (call [`TenantStats::roll`]
    /// first).
    pub fn is_spike(&self, rule: &SpikeRule) -> bool {
        self.minutes >= rule.warmup_minutes
            && self.current >= rule.min_tokens
            && u128::from(self.current) * 1_000_000
                > u128::from(rule.factor_milli) * u128::from(self.baseline_milli)
    }

    /// Reports a spike once per minute: true the first time it is called in a minute.
    pub fn first_report(&mut self) -> bool {
        if self.reported == self.minute + 1 {
            return false;
        }
        self.reported = self.minute + 1;
        true
    }

    /// Average cost of a successful request, micro-USD (0 before the first).
    pub fn micro_usd_per_good_request(&self) -> u64 {
        if self.good_requests == 0 {
            return 0;
        }
        self.good_nano_usd / self.good_requests / 1000
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(VERSION);
        for v in [
            self.minute,
            self.current,
            self.baseline_milli,
            self.minutes,
            self.reported,
            self.good_requests,
            self.good_nano_usd,
            self.waste_requests,
            self.waste_nano_usd,
        ] {
            w.u64(v);
        }
        w.0
    }

    pub fn decode(bytes: &[u8]) -> Option<TenantStats> {
        if bytes.is_empty() {
            return Some(TenantStats::default());
        }
        let mut r = Reader(bytes);
        if r.u64()? != VERSION {
            return None;
        }
        let s = TenantStats {
            minute: r.u64()?,
            current: r.u64()?,
            baseline_milli: r.u64()?,
            minutes: r.u64()?,
            reported: r.u64()?,
            good_requests: r.u64()?,
            good_nano_usd: r.u64()?,
            waste_requests: r.u64()?,
            waste_nano_usd: r.u64()?,
        };
        r.is_empty().then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const RULE: SpikeRule = SpikeRule {
        factor_milli: 3000,
        min_tokens: 500,
        baseline_minutes: 10,
        warmup_minutes: 5,
    };

    #[test]
    fn a_steady_tenant_builds_a_baseline_and_a_burst_is_a_spike() {
        let mut s = TenantStats::default();
        let t0 = 1_795_341_600; // a minute boundary
        for m in 0..30 {
            s.roll(t0 + m * 60, &RULE);
            s.current += 1000;
            assert!(!s.is_spike(&RULE), "minute {m}: steady traffic");
        }
        s.roll(t0 + 30 * 60, &RULE);
        // 30 minutes of 1000 folded at 1/10 each: 1000 × (1 − 0.9^30) ≈ 957.6 (exact in
        // integers: computed step by step below).
        let mut expect: u64 = 0;
        for _ in 0..30 {
            expect = expect - expect / 10 + 1_000_000 / 10;
        }
        assert_eq!(s.baseline_milli, expect);
        s.current = 2800;
        assert!(!s.is_spike(&RULE), "2.8× is under 3×");
        s.current = 3000;
        assert!(s.is_spike(&RULE), "3000 > 3 × {}", expect / 1000);
        assert!(s.first_report());
        assert!(!s.first_report(), "once per minute");
        s.roll(t0 + 31 * 60, &RULE);
        assert!(!s.is_spike(&RULE));
    }

    #[test]
    fn no_spike_before_warmup_or_below_the_floor() {
        let mut s = TenantStats::default();
        s.roll(60_000, &RULE);
        s.current = 10_000;
        assert!(!s.is_spike(&RULE), "no baseline yet");
        let mut quiet = TenantStats::default();
        for m in 0..10 {
            quiet.roll(60_000 + m * 60, &RULE);
            quiet.current = 10;
        }
        quiet.roll(60_000 + 600, &RULE);
        quiet.current = 400;
        assert!(!quiet.is_spike(&RULE), "under min_tokens");
        quiet.current = 500;
        assert!(quiet.is_spike(&RULE));
    }

    #[test]
    fn goodput_averages_and_round_trips() {
        let s = TenantStats {
            good_requests: 4,
            good_nano_usd: 10_000_000,
            waste_requests: 1,
            ..TenantStats::default()
        };
        assert_eq!(s.micro_usd_per_good_request(), 2500);
        assert_eq!(TenantStats::decode(&s.encode()), Some(s));
        assert_eq!(TenantStats::default().micro_usd_per_good_request(), 0);
    }
}
