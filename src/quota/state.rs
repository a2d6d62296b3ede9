//! One subject's budget state (a tenant, an attribute value, an agent run) and its arithmetic:
//! per-minute buckets that refill continuously, UTC day and month windows, lifetime totals,
//! and the reservations still open against them.
//!
//! Per-minute buckets count what was used in *ticks* of 1/60,000 of a unit, so a limit of `L`
//! per minute drains exactly `L` ticks per millisecond: no rounding, whatever the limit.
//! Windows and totals count reservations apart (`pending`, each with an expiry) from settled
//! use, so a reservation whose request never settles stops counting when it expires.

use super::calendar;

/// Ticks in one unit of a per-minute bucket (milliseconds in a minute).
pub const TICKS: u64 = 60_000;
/// Reservations expiring within the same this-many seconds share one pending entry.
const PENDING_GRAIN_S: u64 = 16;
const VERSION: u64 = 1;

/// Limits that apply to one subject. USD amounts are nano-USD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub input_tokens_per_minute: Option<u64>,
    pub output_tokens_per_minute: Option<u64>,
    pub tokens_per_day: Option<u64>,
    pub usd_per_day: Option<u64>,
    pub usd_per_month: Option<u64>,
    /// Lifetime totals (agent runs).
    pub requests_total: Option<u64>,
    pub tokens_total: Option<u64>,
    pub usd_total: Option<u64>,
}

/// What one request asks for (reserved) or used (settled). `nano_usd` is its cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    pub input: u64,
    pub output: u64,
    pub nano_usd: u64,
}

impl Demand {
    pub fn tokens(&self) -> u64 {
        self.input.saturating_add(self.output)
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    RequestsPerMinute,
    TokensPerMinute,
    InputTokensPerMinute,
    OutputTokensPerMinute,
    TokensPerDay,
    UsdPerDay,
    UsdPerMonth,
    RunRequests,
    RunTokens,
    RunUsd,
}

impl Which {
    pub fn as_str(self) -> &'static str {
        match self {
            Which::RequestsPerMinute => "requests_per_minute",
            Which::TokensPerMinute => "tokens_per_minute",
            Which::InputTokensPerMinute => "input_tokens_per_minute",
            Which::OutputTokensPerMinute => "output_tokens_per_minute",
            Which::TokensPerDay => "tokens_per_day",
            Which::UsdPerDay => "usd_per_day",
            Which::UsdPerMonth => "usd_per_month",
            Which::RunRequests => "run_max_requests",
            Which::RunTokens => "run_max_tokens",
            Which::RunUsd => "run_max_usd",
        }
    }

    /// Per-minute limits refill by themselves; the rest are spent budgets.
    pub fn is_rate(self) -> bool {
        matches!(
            self,
            Which::RequestsPerMinute
                | Which::TokensPerMinute
                | Which::InputTokensPerMinute
                | Which::OutputTokensPerMinute
        )
    }

    pub fn is_usd(self) -> bool {
        matches!(self, Which::UsdPerDay | Which::UsdPerMonth | Which::RunUsd)
    }
}

/// A refusal: the limit, what was already used (settled and reserved) and what was asked, in
/// the limit's unit, and when enough comes back (`None`: not before a window ends that is
/// not going to, or never for a run; `too_large`: the request alone exceeds the limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub which: Which,
    pub limit: u64,
    pub used: u64,
    pub requested: u64,
    pub retry_after_ms: Option<u64>,
    pub too_large: bool,
}

/// Reserved amounts waiting for their requests to settle; dropped at `expires_s`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pending {
    pub expires_s: u64,
    pub tokens: u64,
    pub nano_usd: u64,
}

/// What a request reserved, to settle later.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reservation {
    pub demand: Demand,
    pub expires_s: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Last change (seconds), for sweeping.
    pub touched_s: u64,
    /// When the per-minute buckets were last drained (milliseconds).
    pub minute_ms: u64,
    /// Per-minute buckets, in ticks.
    pub requests: u64,
    pub tokens: u64,
    pub input: u64,
    pub output: u64,
    pub day: u64,
    pub tokens_day: u64,
    pub usd_day: u64,
    pub month: u64,
    pub usd_month: u64,
    pub requests_total: u64,
    pub tokens_total: u64,
    pub usd_total: u64,
    pub pending: Vec<Pending>,
}

fn bucket_drain(used: u64, limit: Option<u64>, elapsed_ms: u64) -> u64 {
    match limit {
        Some(l) => used.saturating_sub(l.saturating_mul(elapsed_ms)),
        None => 0,
    }
}

/// Checks `need` units against a per-minute bucket holding `used` ticks.
fn bucket_check(which: Which, used: u64, limit: Option<u64>, need: u64) -> Result<(), Exceeded> {
    let Some(limit) = limit else { return Ok(()) };
    let cap = limit.saturating_mul(TICKS);
    let want = used.saturating_add(need.saturating_mul(TICKS));
    if want <= cap {
        return Ok(());
    }
    let too_large = need > limit;
    Err(Exceeded {
        which,
        limit,
        used: used.div_ceil(TICKS),
        requested: need,
        retry_after_ms: (!too_large && limit > 0).then(|| (want - cap).div_ceil(limit)),
        too_large,
    })
}

/// Checks `need` against a window or total holding `used`; `retry_after_ms` is when it resets.
fn window_check(
    which: Which,
    used: u64,
    limit: Option<u64>,
    need: u64,
    retry_after_ms: Option<u64>,
) -> Result<(), Exceeded> {
    let Some(limit) = limit else { return Ok(()) };
    if used.saturating_add(need) <= limit {
        return Ok(());
    }
    let too_large = need > limit;
    Err(Exceeded {
        which,
        limit,
        used,
        requested: need,
        retry_after_ms: retry_after_ms.filter(|_| !too_large),
        too_large,
    })
}

impl Counters {
    /// Brings the state to `now_ms`: drains the buckets, starts new windows, drops expired
    /// reservations.
    pub fn refresh(&mut self, limits: &Limits, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.minute_ms);
        self.requests = bucket_drain(self.requests, limits.requests_per_minute, elapsed);
        self.tokens = bucket_drain(self.tokens, limits.tokens_per_minute, elapsed);
        self.input = bucket_drain(self.input, limits.input_tokens_per_minute, elapsed);
        self.output = bucket_drain(self.output, limits.output_tokens_per_minute, elapsed);
        self.minute_ms = self.minute_ms.max(now_ms);
        let now_s = now_ms / 1000;
        let (day, month) = (calendar::day(now_s), calendar::month(now_s));
        if self.day != day {
            self.day = day;
            self.tokens_day = 0;
            self.usd_day = 0;
        }
        if self.month != month {
            self.month = month;
            self.usd_month = 0;
        }
        self.pending.retain(|p| p.expires_s > now_s);
    }

    fn pending_sum(&self) -> (u64, u64) {
        self.pending.iter().fold((0u64, 0u64), |(t, u), p| {
            (t.saturating_add(p.tokens), u.saturating_add(p.nano_usd))
        })
    }

    /// Whether `demand` fits every limit now (call [`Counters::refresh`] first). The first
    /// limit it does not fit is returned; a request too large for a limit is reported before
    /// one that only has to wait.
    pub fn check(&self, limits: &Limits, d: &Demand, now_ms: u64) -> Result<(), Exceeded> {
        let now_s = now_ms / 1000;
        let day_end = Some(calendar::secs_to_next_day(now_s).saturating_mul(1000));
        let month_end = Some(calendar::secs_to_next_month(now_s).saturating_mul(1000));
        let (ptok, pusd) = self.pending_sum();
        let tokens = d.tokens();
        let checks = [
            bucket_check(
                Which::RequestsPerMinute,
                self.requests,
                limits.requests_per_minute,
                1,
            ),
            bucket_check(
                Which::TokensPerMinute,
                self.tokens,
                limits.tokens_per_minute,
                tokens,
            ),
            bucket_check(
                Which::InputTokensPerMinute,
                self.input,
                limits.input_tokens_per_minute,
                d.input,
            ),
            bucket_check(
                Which::OutputTokensPerMinute,
                self.output,
                limits.output_tokens_per_minute,
                d.output,
            ),
            window_check(
                Which::TokensPerDay,
                self.tokens_day.saturating_add(ptok),
                limits.tokens_per_day,
                tokens,
                day_end,
            ),
            window_check(
                Which::UsdPerDay,
                self.usd_day.saturating_add(pusd),
                limits.usd_per_day,
                d.nano_usd,
                day_end,
            ),
            window_check(
                Which::UsdPerMonth,
                self.usd_month.saturating_add(pusd),
                limits.usd_per_month,
                d.nano_usd,
                month_end,
            ),
            window_check(
                Which::RunRequests,
                self.requests_total,
                limits.requests_total,
                1,
                None,
            ),
            window_check(
                Which::RunTokens,
                self.tokens_total.saturating_add(ptok),
                limits.tokens_total,
                tokens,
                None,
            ),
            window_check(
                Which::RunUsd,
                self.usd_total.saturating_add(pusd),
                limits.usd_total,
                d.nano_usd,
                None,
            ),
        ];
        let failed = checks.iter().filter_map(|c| c.err());
        let mut first: Option<Exceeded> = None;
        for e in failed {
            match first {
                None => first = Some(e),
                Some(f) if e.too_large && !f.too_large => first = Some(e),
                // The longest wait decides when the request can pass.
                Some(f) if !f.too_large && f.retry_after_ms.is_some() => {
                    if e.retry_after_ms.is_none_or(|r| Some(r) > f.retry_after_ms) {
                        first = Some(e);
                    }
                }
                Some(_) => {}
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Counts `demand` as used until it settles; reservations against windows and totals
    /// expire at `expires_s`.
    pub fn reserve(&mut self, d: &Demand, now_s: u64, ttl_s: u64) -> Reservation {
        self.touched_s = now_s;
        self.requests = self.requests.saturating_add(TICKS);
        self.tokens = self.tokens.saturating_add(d.tokens().saturating_mul(TICKS));
        self.input = self.input.saturating_add(d.input.saturating_mul(TICKS));
        self.output = self.output.saturating_add(d.output.saturating_mul(TICKS));
        self.requests_total = self.requests_total.saturating_add(1);
        let expires_s = now_s
            .saturating_add(ttl_s)
            .div_ceil(PENDING_GRAIN_S)
            .saturating_mul(PENDING_GRAIN_S);
        match self.pending.iter_mut().find(|p| p.expires_s == expires_s) {
            Some(p) => {
                p.tokens = p.tokens.saturating_add(d.tokens());
                p.nano_usd = p.nano_usd.saturating_add(d.nano_usd);
            }
            None => self.pending.push(Pending {
                expires_s,
                tokens: d.tokens(),
                nano_usd: d.nano_usd,
            }),
        }
        Reservation {
            demand: *d,
            expires_s,
        }
    }

    /// Undoes a reservation entirely (the request was refused by another limit). Settling it
    /// as unused refunds the token buckets and the pending amounts; the request counts are
    /// given back here.
    pub fn cancel(&mut self, r: &Reservation) {
        self.requests = self.requests.saturating_sub(TICKS);
        self.requests_total = self.requests_total.saturating_sub(1);
        self.settle(r, &Demand::default(), self.touched_s);
    }

    /// Replaces a reservation by what the request actually used: buckets are refunded or
    /// charged the difference, windows and totals charged the actual use. A reservation that
    /// already expired is only charged.
    pub fn settle(&mut self, r: &Reservation, actual: &Demand, now_s: u64) {
        self.touched_s = now_s;
        let adjust = |used: u64, reserved: u64, actual: u64| {
            if actual >= reserved {
                used.saturating_add((actual - reserved).saturating_mul(TICKS))
            } else {
                used.saturating_sub((reserved - actual).saturating_mul(TICKS))
            }
        };
        let res = &r.demand;
        self.tokens = adjust(self.tokens, res.tokens(), actual.tokens());
        self.input = adjust(self.input, res.input, actual.input);
        self.output = adjust(self.output, res.output, actual.output);
        if let Some(i) = self.pending.iter().position(|p| p.expires_s == r.expires_s) {
            if let Some(p) = self.pending.get_mut(i) {
                p.tokens = p.tokens.saturating_sub(res.tokens());
                p.nano_usd = p.nano_usd.saturating_sub(res.nano_usd);
                if p.tokens == 0 && p.nano_usd == 0 {
                    self.pending.remove(i);
                }
            }
        }
        self.tokens_day = self.tokens_day.saturating_add(actual.tokens());
        self.usd_day = self.usd_day.saturating_add(actual.nano_usd);
        self.usd_month = self.usd_month.saturating_add(actual.nano_usd);
        self.tokens_total = self.tokens_total.saturating_add(actual.tokens());
        self.usd_total = self.usd_total.saturating_add(actual.nano_usd);
    }

    /// Whole units left in a per-minute bucket and the milliseconds until it is full again.
    pub fn bucket(&self, which: Which, limit: u64) -> (u64, u64) {
        let used = match which {
            Which::RequestsPerMinute => self.requests,
            Which::TokensPerMinute => self.tokens,
            Which::InputTokensPerMinute => self.input,
            Which::OutputTokensPerMinute => self.output,
            _ => 0,
        };
        let remaining = limit.saturating_mul(TICKS).saturating_sub(used) / TICKS;
        let reset = if limit == 0 { 0 } else { used.div_ceil(limit) };
        (remaining, reset)
    }

    /// Most output tokens a request with `input` tokens could still be given by the token
    /// limits (`None`: no token limit applies).
    pub fn output_room(&self, limits: &Limits, input: u64) -> Option<u64> {
        let (ptok, _) = self.pending_sum();
        let room = |used_ticks: u64, limit: Option<u64>, less: u64| {
            limit.map(|l| {
                (l.saturating_mul(TICKS).saturating_sub(used_ticks) / TICKS).saturating_sub(less)
            })
        };
        let window = |used: u64, limit: Option<u64>| {
            limit.map(|l| l.saturating_sub(used).saturating_sub(input))
        };
        [
            room(self.tokens, limits.tokens_per_minute, input),
            room(self.output, limits.output_tokens_per_minute, 0),
            window(self.tokens_day.saturating_add(ptok), limits.tokens_per_day),
            window(self.tokens_total.saturating_add(ptok), limits.tokens_total),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Nothing left that matters under `limits` (call [`Counters::refresh`] first): no
    /// bucket use, no open reservation, and no use in a window that a limit still counts.
    /// Lifetime totals are not considered: a run's state is dropped by age instead.
    pub fn is_idle(&self, limits: &Limits, now_s: u64) -> bool {
        let today = self.day == calendar::day(now_s);
        let this_month = self.month == calendar::month(now_s);
        let day_counts = limits.tokens_per_day.is_some() || limits.usd_per_day.is_some();
        self.requests == 0
            && self.tokens == 0
            && self.input == 0
            && self.output == 0
            && self.pending.is_empty()
            && !(day_counts && today && (self.tokens_day > 0 || self.usd_day > 0))
            && !(limits.usd_per_month.is_some() && this_month && self.usd_month > 0)
    }
}

mod codec;
