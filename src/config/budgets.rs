//! The `budgets` section: per-tenant and per-attribute limits, agent-run budgets, loop and
//! spike detection. Compiled into [`Budgets`]; every error names its field.

use super::{err, ConfigError};
use crate::money::parse_scaled;
use crate::quota::Limits;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A decimal written as a JSON number or string, parsed exactly.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum Amount {
    Number(serde_json::Number),
    Text(String),
}

impl Amount {
    fn scaled(&self, decimals: u32, field: &str) -> Result<u64, ConfigError> {
        let text = match self {
            Amount::Number(n) => n.to_string(),
            Amount::Text(s) => s.clone(),
        };
        parse_scaled(&text, decimals).map_err(|m| err(field, m))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudgets {
    namespace: Option<String>,
    slots: Option<u32>,
    #[serde(default)]
    fail_mode: super::raw::FailMode,
    default_output_tokens: Option<u64>,
    reservation_ttl_seconds: Option<u64>,
    min_output_tokens: Option<u64>,
    #[serde(default)]
    tenants: BTreeMap<String, RawPolicy>,
    #[serde(default)]
    attributes: BTreeMap<String, BTreeMap<String, RawPolicy>>,
    runs: Option<RawRuns>,
    loops: Option<RawLoops>,
    spikes: Option<RawSpikes>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    requests_per_minute: Option<u64>,
    tokens_per_minute: Option<u64>,
    input_tokens_per_minute: Option<u64>,
    output_tokens_per_minute: Option<u64>,
    tokens_per_day: Option<u64>,
    usd_per_day: Option<Amount>,
    usd_per_month: Option<Amount>,
    soft_usd_per_day: Option<Amount>,
    soft_usd_per_month: Option<Amount>,
    downgrade_to: Option<String>,
    #[serde(default)]
    allow_models: Vec<String>,
    #[serde(default)]
    deny_models: Vec<String>,
    max_tokens: Option<u64>,
    #[serde(default)]
    clamp_max_tokens: bool,
    #[serde(default)]
    shadow: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuns {
    header: String,
    max_requests: Option<u64>,
    max_tokens: Option<u64>,
    max_usd: Option<Amount>,
    idle_seconds: Option<u64>,
    #[serde(default)]
    shadow: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoops {
    threshold: u64,
    window_seconds: u64,
    tail_messages: Option<usize>,
    #[serde(default)]
    shadow: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpikes {
    factor: Amount,
    min_tokens_per_minute: Option<u64>,
    baseline_minutes: Option<u64>,
    warmup_minutes: Option<u64>,
    #[serde(default)]
    throttle: bool,
}

/// One set of limits and rules, for a tenant, an attribute value, or their default (`*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub limits: Limits,
    /// Above these (nano-USD spent today / this month), requests are downgraded.
    pub soft_usd_per_day: Option<u64>,
    pub soft_usd_per_month: Option<u64>,
    pub downgrade_to: Option<String>,
    pub allow_models: Vec<String>,
    pub deny_models: Vec<String>,
    /// Most output tokens a request may ask for; larger (or missing) asks are lowered to it.
    pub max_tokens: Option<u64>,
    /// Lower `max_tokens` to what the token limits still allow instead of refusing.
    pub clamp_max_tokens: bool,
    /// Log and count would-be refusals; refuse nothing.
    pub shadow: bool,
}

impl Policy {
    /// Whether the policy lets `model` through its allow and deny lists.
    pub fn allows_model(&self, model: &str) -> bool {
        let listed = |globs: &[String]| globs.iter().any(|g| glob_match(g, model));
        (self.allow_models.is_empty() || listed(&self.allow_models)) && !listed(&self.deny_models)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRule {
    /// Request header naming the run (lowercase).
    pub header: String,
    pub limits: Limits,
    pub idle_seconds: u64,
    pub shadow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopRule {
    /// The sighting that is refused: the `threshold`-th of one fingerprint in the window.
    pub threshold: u64,
    pub window_seconds: u64,
    pub tail_messages: usize,
    pub shadow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpikeConfig {
    pub rule: crate::quota::stats::SpikeRule,
    pub throttle: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budgets {
    pub namespace: String,
    pub slots: u32,
    /// Shared-data failures refuse the request (true) or admit it unchecked.
    pub fail_closed: bool,
    pub default_output_tokens: u64,
    pub reservation_ttl_seconds: u64,
    pub min_output_tokens: u64,
    /// Tenant name → policy; `*` applies to every tenant not named, each on its own.
    pub tenants: BTreeMap<String, Policy>,
    /// Attribute → value → policy; `*` for values not named.
    pub attributes: BTreeMap<String, BTreeMap<String, Policy>>,
    pub runs: Option<RunRule>,
    pub loops: Option<LoopRule>,
    pub spikes: Option<SpikeConfig>,
}

impl Budgets {
    /// Whether some policy may rewrite a request (cap or clamp `max_tokens`, downgrade).
    pub fn may_rewrite(&self) -> bool {
        let rewrites =
            |p: &Policy| p.max_tokens.is_some() || p.clamp_max_tokens || p.downgrade_to.is_some();
        self.tenants.values().any(rewrites)
            || self
                .attributes
                .values()
                .flat_map(|v| v.values())
                .any(rewrites)
    }

    pub fn tenant_policy(&self, tenant: &str) -> Option<&Policy> {
        self.tenants.get(tenant).or_else(|| self.tenants.get("*"))
    }

    pub fn attribute_policy(&self, name: &str, value: &str) -> Option<&Policy> {
        let values = self.attributes.get(name)?;
        values.get(value).or_else(|| values.get("*"))
    }
}

const MAX_SLOTS: u32 = 65_536;
/// The longest time setting accepted (windows, TTLs, idle times): a year.
const YEAR_S: u64 = 365 * 86_400;

pub(super) fn compile(
    raw: RawBudgets,
    attributes: &[(String, String)],
) -> Result<Budgets, ConfigError> {
    let namespace = raw.namespace.unwrap_or_else(|| "default".into());
    if namespace.is_empty()
        || !namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(err(
            "budgets.namespace",
            "use letters, digits, '-', '_' and '.'",
        ));
    }
    let slots = raw.slots.unwrap_or(256);
    if slots == 0 || slots > MAX_SLOTS {
        return Err(err(
            "budgets.slots",
            format!("must be between 1 and {MAX_SLOTS}"),
        ));
    }
    let positive = |v: Option<u64>, default: u64, field: &str| match v {
        Some(0) => Err(err(field, "must be greater than 0")),
        Some(v) => Ok(v),
        None => Ok(default),
    };
    let default_output_tokens = positive(
        raw.default_output_tokens,
        4096,
        "budgets.default_output_tokens",
    )?;
    let reservation_ttl_seconds = positive(
        raw.reservation_ttl_seconds,
        600,
        "budgets.reservation_ttl_seconds",
    )?;
    if reservation_ttl_seconds > YEAR_S {
        return Err(err(
            "budgets.reservation_ttl_seconds",
            format!("must be at most {YEAR_S} (a year)"),
        ));
    }
    let min_output_tokens = positive(raw.min_output_tokens, 16, "budgets.min_output_tokens")?;
    let mut tenants = BTreeMap::new();
    for (name, p) in raw.tenants {
        let field = format!("budgets.tenants.{name}");
        tenants.insert(name, compile_policy(p, &field)?);
    }
    let mut attrs = BTreeMap::new();
    for (name, values) in raw.attributes {
        let field = format!("budgets.attributes.{name}");
        if !attributes.iter().any(|(n, _)| *n == name) {
            return Err(err(
                field,
                "not an attribute: declare it under `attributes` first",
            ));
        }
        let mut compiled = BTreeMap::new();
        for (value, p) in values {
            let f = format!("{field}.{value}");
            compiled.insert(value, compile_policy(p, &f)?);
        }
        attrs.insert(name, compiled);
    }
    let runs = raw.runs.map(compile_runs).transpose()?;
    let loops = match raw.loops {
        Some(l) => {
            if l.threshold < 2 {
                return Err(err(
                    "budgets.loops.threshold",
                    "must be at least 2 (the repeat that is refused)",
                ));
            }
            Some(LoopRule {
                threshold: l.threshold,
                window_seconds: match l.window_seconds {
                    0 => {
                        return Err(err(
                            "budgets.loops.window_seconds",
                            "must be greater than 0",
                        ))
                    }
                    w if w > YEAR_S => {
                        return Err(err(
                            "budgets.loops.window_seconds",
                            format!("must be at most {YEAR_S} (a year)"),
                        ))
                    }
                    w => w,
                },
                tail_messages: match l.tail_messages {
                    Some(0) => {
                        return Err(err("budgets.loops.tail_messages", "must be at least 1"))
                    }
                    Some(n) => n,
                    None => 2,
                },
                shadow: l.shadow,
            })
        }
        None => None,
    };
    let spikes = match raw.spikes {
        Some(s) => {
            let factor_milli = s.factor.scaled(3, "budgets.spikes.factor")?;
            if factor_milli <= 1000 {
                return Err(err("budgets.spikes.factor", "must be greater than 1"));
            }
            Some(SpikeConfig {
                rule: crate::quota::stats::SpikeRule {
                    factor_milli,
                    min_tokens: s.min_tokens_per_minute.unwrap_or(1000),
                    baseline_minutes: positive(
                        s.baseline_minutes,
                        60,
                        "budgets.spikes.baseline_minutes",
                    )?,
                    warmup_minutes: s.warmup_minutes.unwrap_or(10),
                },
                throttle: s.throttle,
            })
        }
        None => None,
    };
    Ok(Budgets {
        namespace,
        slots,
        fail_closed: raw.fail_mode == super::raw::FailMode::Closed,
        default_output_tokens,
        reservation_ttl_seconds,
        min_output_tokens,
        tenants,
        attributes: attrs,
        runs,
        loops,
        spikes,
    })
}

fn usd(a: &Option<Amount>, field: &str) -> Result<Option<u64>, ConfigError> {
    a.as_ref()
        .map(|a| a.scaled(9, field))
        .transpose()
        .map(|v| v.map(|n| n.min(u64::MAX / 2)))
}

/// The largest count a limit may have: far above any real limit, and small enough that the
/// per-minute arithmetic (1/60,000-unit ticks, `u64`) cannot saturate.
const MAX_COUNT: u64 = 1_000_000_000_000;

fn count(v: Option<u64>, field: &str) -> Result<Option<u64>, ConfigError> {
    match v {
        Some(n) if n > MAX_COUNT => Err(err(field, format!("must be at most {MAX_COUNT}"))),
        other => Ok(other),
    }
}

fn compile_policy(p: RawPolicy, field: &str) -> Result<Policy, ConfigError> {
    let f = |name: &str| format!("{field}.{name}");
    let per_minute = [
        (p.requests_per_minute, "requests_per_minute"),
        (p.tokens_per_minute, "tokens_per_minute"),
        (p.input_tokens_per_minute, "input_tokens_per_minute"),
        (p.output_tokens_per_minute, "output_tokens_per_minute"),
        (p.tokens_per_day, "tokens_per_day"),
        (p.max_tokens, "max_tokens"),
    ];
    for (v, name) in per_minute {
        count(v, &f(name))?;
    }
    let limits = Limits {
        requests_per_minute: p.requests_per_minute,
        tokens_per_minute: p.tokens_per_minute,
        input_tokens_per_minute: p.input_tokens_per_minute,
        output_tokens_per_minute: p.output_tokens_per_minute,
        tokens_per_day: p.tokens_per_day,
        usd_per_day: usd(&p.usd_per_day, &f("usd_per_day"))?,
        usd_per_month: usd(&p.usd_per_month, &f("usd_per_month"))?,
        ..Limits::default()
    };
    let soft_usd_per_day = usd(&p.soft_usd_per_day, &f("soft_usd_per_day"))?;
    let soft_usd_per_month = usd(&p.soft_usd_per_month, &f("soft_usd_per_month"))?;
    if (soft_usd_per_day.is_some() || soft_usd_per_month.is_some()) && p.downgrade_to.is_none() {
        return Err(err(
            f("downgrade_to"),
            "a soft budget needs the model to downgrade to",
        ));
    }
    if p.downgrade_to.as_deref().is_some_and(str::is_empty) {
        return Err(err(f("downgrade_to"), "must name a model"));
    }
    if p.max_tokens == Some(0) {
        return Err(err(f("max_tokens"), "must be greater than 0"));
    }
    for (list, name) in [
        (&p.allow_models, "allow_models"),
        (&p.deny_models, "deny_models"),
    ] {
        if let Some(i) = list.iter().position(String::is_empty) {
            return Err(err(format!("{}[{i}]", f(name)), "empty model pattern"));
        }
    }
    // Limits are refused as written: a request-per-minute limit of 0 refuses everything,
    // which is allowed (a blocked tenant).
    Ok(Policy {
        limits,
        soft_usd_per_day,
        soft_usd_per_month,
        downgrade_to: p.downgrade_to,
        allow_models: p.allow_models,
        deny_models: p.deny_models,
        max_tokens: p.max_tokens,
        clamp_max_tokens: p.clamp_max_tokens,
        shadow: p.shadow,
    })
}

fn compile_runs(r: RawRuns) -> Result<RunRule, ConfigError> {
    let header = r.header.trim().to_ascii_lowercase();
    if header.is_empty() || header.starts_with(':') {
        return Err(err("budgets.runs.header", "must name a request header"));
    }
    for (v, name) in [
        (r.max_requests, "max_requests"),
        (r.max_tokens, "max_tokens"),
    ] {
        count(v, &format!("budgets.runs.{name}"))?;
    }
    Ok(RunRule {
        header,
        limits: Limits {
            requests_total: r.max_requests,
            tokens_total: r.max_tokens,
            usd_total: usd(&r.max_usd, "budgets.runs.max_usd")?,
            ..Limits::default()
        },
        idle_seconds: match r.idle_seconds {
            Some(0) => return Err(err("budgets.runs.idle_seconds", "must be greater than 0")),
            Some(s) if s > YEAR_S => {
                return Err(err(
                    "budgets.runs.idle_seconds",
                    format!("must be at most {YEAR_S} (a year)"),
                ))
            }
            Some(s) => s,
            None => 86_400,
        },
        shadow: r.shadow,
    })
}

/// `*` matches any run of characters (including none); everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if t.get(ti) == Some(c) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// USD from nano-USD, for messages: `1.5`.
pub fn usd_text(nano: u64) -> String {
    crate::money::format_usd(u128::from(nano) * 1000)
}
