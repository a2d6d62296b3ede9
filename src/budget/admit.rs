//! Admission: reserve a request's worst case against every policy it falls under, or refuse.

use super::messages::describe;
use super::undo::{forget_sighting, loop_key, release, soft_downgrade};
use super::{attribute_slot, tenant_slot};
use crate::config::{Budgets, Policy};
use crate::host::Host;
use crate::providers::errors::Refusal;
use crate::quota::loops::Sightings;
use crate::quota::stats::TenantStats;
use crate::quota::{update, Counters, Demand, Limits, Reservation, Slot, Which};
use crate::ratelimit_headers::{Bucket, RateLimitView};

/// What the filter knows about a request when its body is complete.
#[derive(Clone)]
pub struct Ask<'a> {
    pub tenant: &'a str,
    pub attributes: &'a [(String, String)],
    pub run: Option<&'a str>,
    pub fingerprint: Option<u64>,
    pub model: &'a str,
    pub input_tokens: u64,
    /// The output limit the request sets, if any.
    pub max_tokens: Option<u64>,
    /// Worst-case pico-USD per input and output token for a model (`None`: unpriced).
    pub price: &'a dyn Fn(&str) -> Option<(u64, u64)>,
    /// The body is held whole, so its output limit can be rewritten (capped, clamped).
    pub rewritable: bool,
    /// The model can be rewritten as well (a downgrade): the body names it, not the path.
    pub model_rewritable: bool,
}

/// One reservation to settle: in `slot`, subject `subject` under `limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub slot: String,
    pub subject: String,
    pub limits: Limits,
    pub reservation: Reservation,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admitted {
    pub holds: Vec<Hold>,
    pub view: RateLimitView,
    /// Rewrite the request's output limit to this.
    pub max_tokens: Option<u64>,
    /// Rewrite the request's model to this (a soft budget was spent).
    pub model: Option<String>,
    /// Would-be refusals of shadow policies: the limit and the message.
    pub shadowed: Vec<(&'static str, String)>,
    pub lost_races: u32,
    /// A spike this request's tenant is in (logged, counted; throttled only if configured).
    pub spike: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub why: Refusal,
    /// 429, 403 for a model the policy does not allow, 400 for a max_tokens cap that cannot be
    /// applied.
    pub status: u32,
    pub message: String,
    pub retry_after_ms: Option<u64>,
    /// The limit that refused, for metrics: `tokens_per_minute`, `loop`, `model`…
    pub limit: &'static str,
    pub lost_races: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Admit(Admitted),
    Refuse(Refused),
    /// Shared data failed; the budget fail mode decides.
    Unavailable(String),
}

/// One subject's part in a request.
pub(super) struct Part<'p> {
    pub(super) slot: String,
    pub(super) subject: String,
    pub(super) label: String,
    pub(super) limits: Limits,
    pub(super) policy: Option<&'p Policy>,
    pub(super) shadow: bool,
}

fn parts<'p>(b: &'p Budgets, ask: &Ask<'_>) -> Vec<Part<'p>> {
    let mut out = Vec::new();
    let tslot = tenant_slot(b, ask.tenant);
    if let Some(p) = b.tenant_policy(ask.tenant) {
        out.push(Part {
            slot: tslot.clone(),
            subject: format!("t:{}", ask.tenant),
            label: format!("tenant {}", ask.tenant),
            limits: p.limits.clone(),
            policy: Some(p),
            shadow: p.shadow,
        });
    }
    if let (Some(run), Some(rule)) = (ask.run, &b.runs) {
        out.push(Part {
            slot: tslot.clone(),
            // The tenant's length keeps `acme` + run `x:y` apart from `acme:x` + run `y`.
            subject: format!("r:{}:{}:{run}", ask.tenant.len(), ask.tenant),
            label: format!("run {run} of tenant {}", ask.tenant),
            limits: rule.limits.clone(),
            policy: None,
            shadow: rule.shadow,
        });
    }
    for (name, value) in ask.attributes {
        if let Some(p) = b.attribute_policy(name, value) {
            let subject = format!("a:{name}={value}");
            out.push(Part {
                slot: attribute_slot(b, &subject),
                subject,
                label: format!("{name} {value}"),
                limits: p.limits.clone(),
                policy: Some(p),
                shadow: p.shadow,
            });
        }
    }
    out
}

fn cost_nano(price: Option<(u64, u64)>, input: u64, output: u64) -> u64 {
    let Some((pi, po)) = price else { return 0 };
    let pico = u128::from(input) * u128::from(pi) + u128::from(output) * u128::from(po);
    crate::money::pico_to_nano_ceil(pico)
}

/// Whether something `ask` falls under may refuse it: not everything is in shadow mode.
pub fn enforcing(b: &Budgets, ask: &Ask<'_>) -> bool {
    parts(b, ask).iter().any(|p| !p.shadow)
        || b.loops
            .is_some_and(|l| !l.shadow && ask.fingerprint.is_some())
        || b.spikes.is_some_and(|s| s.throttle)
}

/// Reserves `ask` against every policy it falls under at `now_ms`, or says why not.
pub fn admit(host: &mut impl Host, b: &Budgets, ask: &Ask<'_>, now_ms: u64) -> Verdict {
    let now_s = now_ms / 1000;
    let parts = parts(b, ask);
    let mut admitted = Admitted::default();
    // Stateless rules first: model lists and the max_tokens cap.
    let mut output = ask.max_tokens.unwrap_or(b.default_output_tokens);
    for part in &parts {
        let Some(p) = part.policy else { continue };
        if !p.allows_model(ask.model) {
            let message = format!("Model {} is not allowed for {}.", ask.model, part.label);
            if part.shadow {
                admitted.shadowed.push(("model", message));
                continue;
            }
            return Verdict::Refuse(Refused {
                why: Refusal::Quota,
                status: 403,
                message,
                retry_after_ms: None,
                limit: "model",
                lost_races: 0,
            });
        }
        if let Some(cap) = p.max_tokens {
            if output > cap || ask.max_tokens.is_none() {
                if part.shadow {
                    admitted.shadowed.push((
                        "max_tokens",
                        format!("max_tokens above {cap} for {}", part.label),
                    ));
                } else if !ask.rewritable {
                    // The cap cannot be applied: refuse rather than let the request past it.
                    return Verdict::Refuse(Refused {
                        why: Refusal::TooLarge,
                        status: 400,
                        message: format!(
                            "max_tokens is missing or above {cap}, the most allowed for {}, and the request is too large for the gateway to lower it. Set max_tokens (for all choices together) to at most {cap}.",
                            part.label
                        ),
                        retry_after_ms: None,
                        limit: "max_tokens",
                        lost_races: 0,
                    });
                } else {
                    // A request without max_tokens is given the cap, not the default estimate.
                    output = if ask.max_tokens.is_none() && admitted.max_tokens.is_none() {
                        cap
                    } else {
                        output.min(cap)
                    };
                    admitted.max_tokens = Some(output);
                }
            }
        }
    }
    // Soft budgets: read (no write) whether one is spent, and downgrade.
    let mut model = ask.model.to_string();
    let downgrade = ask
        .model_rewritable
        .then(|| soft_downgrade(host, &parts, now_ms))
        .flatten();
    if let Some(target) = downgrade {
        // Never to a model that a policy the request falls under does not allow.
        let allowed = parts
            .iter()
            .all(|p| p.shadow || p.policy.is_none_or(|p| p.allows_model(&target)));
        if target != model && allowed {
            model = target.clone();
            admitted.model = Some(target);
        }
    }
    let price = (ask.price)(&model);
    let mut demand = Demand {
        input: ask.input_tokens,
        output,
        nano_usd: cost_nano(price, ask.input_tokens, output),
    };
    // One update per slot, the tenant's first.
    let mut slots: Vec<&str> = Vec::new();
    for p in &parts {
        if !slots.contains(&p.slot.as_str()) {
            slots.push(&p.slot);
        }
    }
    let tslot = tenant_slot(b, ask.tenant);
    if !slots.contains(&tslot.as_str()) && (b.loops.is_some() || b.spikes.is_some()) {
        slots.insert(0, &tslot);
    }
    // The loop sighting recorded in the tenant's slot, to take back if a later slot refuses.
    let mut sighted = None;
    for slot in slots {
        let in_slot: Vec<&Part<'_>> = parts.iter().filter(|p| p.slot == slot).collect();
        let is_tenant_slot = slot == tslot;
        let result = update(host, slot, |s| {
            let mut d = demand;
            let r = reserve_in_slot(b, ask, price, &in_slot, is_tenant_slot, s, &mut d, now_ms);
            let changed = r.is_ok();
            ((r, d), changed)
        });
        match result {
            Err(e) => {
                release(host, &admitted.holds, now_s);
                forget_sighting(host, &tslot, ask, sighted);
                return Verdict::Unavailable(e.to_string());
            }
            Ok(((Err(mut refused), _), races)) => {
                release(host, &admitted.holds, now_s);
                forget_sighting(host, &tslot, ask, sighted);
                refused.lost_races = admitted.lost_races + races;
                return Verdict::Refuse(refused);
            }
            Ok(((Ok(done), d), races)) => {
                if is_tenant_slot && b.loops.is_some() {
                    sighted = ask.fingerprint;
                }
                admitted.lost_races += races;
                if d.output < demand.output {
                    admitted.max_tokens = Some(d.output);
                }
                demand = d;
                admitted.shadowed.extend(done.shadowed);
                admitted.spike |= done.spike;
                for (i, reservation, view) in done.holds {
                    if let Some(part) = in_slot.get(i) {
                        admitted.holds.push(Hold {
                            slot: part.slot.clone(),
                            subject: part.subject.clone(),
                            limits: part.limits.clone(),
                            reservation,
                        });
                    }
                    admitted.view.requests = admitted.view.requests.or(view.requests);
                    admitted.view.tokens = admitted.view.tokens.or(view.tokens);
                }
            }
        }
    }
    Verdict::Admit(admitted)
}

struct SlotDone {
    holds: Vec<(usize, Reservation, RateLimitView)>,
    shadowed: Vec<(&'static str, String)>,
    spike: bool,
}

/// Checks and reserves every part in one slot (all or none); `d` may be clamped.
#[allow(clippy::too_many_arguments)]
fn reserve_in_slot(
    b: &Budgets,
    ask: &Ask<'_>,
    price: Option<(u64, u64)>,
    parts: &[&Part<'_>],
    tenant_slot: bool,
    slot: &mut Slot,
    d: &mut Demand,
    now_ms: u64,
) -> Result<SlotDone, Refused> {
    let now_s = now_ms / 1000;
    let mut done = SlotDone {
        holds: Vec::new(),
        shadowed: Vec::new(),
        spike: false,
    };
    let refuse = |why, message, retry_after_ms, limit| Refused {
        why,
        status: 429,
        message,
        retry_after_ms,
        limit,
        lost_races: 0,
    };
    if tenant_slot {
        if let (Some(rule), Some(fp)) = (&b.loops, ask.fingerprint) {
            let key = loop_key(ask);
            let mut seen = slot.read(&key, Sightings::decode);
            let mut trial = seen.clone();
            let count = trial.see(fp, now_s, rule.window_seconds);
            if count >= rule.threshold {
                let run = ask.run.map(|r| format!(", run {r}")).unwrap_or_default();
                let message = format!(
                    "Loop detected: the same conversation was sent {count} times within {}s by tenant {}{run}. Change the request or wait before repeating it.",
                    rule.window_seconds, ask.tenant
                );
                if !rule.shadow {
                    let first = seen
                        .entries
                        .iter()
                        .find(|e| e.fingerprint == fp)
                        .map_or(now_s, |e| e.first_s);
                    let wait = (first + rule.window_seconds).saturating_sub(now_s) * 1000;
                    return Err(refuse(Refusal::Loop, message, Some(wait), "loop"));
                }
                done.shadowed.push(("loop", message));
            }
            seen = trial;
            slot.entries.insert(key, seen.encode());
        }
        if let Some(spikes) = &b.spikes {
            let key = format!("s:{}", ask.tenant);
            let mut stats = slot.read(&key, TenantStats::decode);
            stats.roll(now_s, &spikes.rule);
            if stats.is_spike(&spikes.rule) {
                done.spike = true;
                if spikes.throttle {
                    let wait = (60 - now_s % 60) * 1000;
                    return Err(refuse(
                        Refusal::RateLimit,
                        format!(
                            "Spend spike for tenant {}: {} tokens this minute against a baseline of {} per minute.",
                            ask.tenant,
                            stats.current,
                            stats.baseline_milli / 1000
                        ),
                        Some(wait),
                        "spike",
                    ));
                }
            }
            slot.entries.insert(key, stats.encode());
        }
    }
    let mut states: Vec<Counters> = Vec::new();
    for part in parts {
        let mut c = slot.read(&part.subject, Counters::decode);
        c.refresh(&part.limits, now_ms);
        states.push(c);
    }
    for (part, c) in parts.iter().zip(&states) {
        let mut result = c.check(&part.limits, d, now_ms);
        if let Err(e) = result {
            let clamp = part.policy.is_some_and(|p| p.clamp_max_tokens);
            let token_limit = !e.which.is_usd()
                && e.which != Which::RequestsPerMinute
                && e.which != Which::RunRequests;
            if clamp && token_limit && !part.shadow && ask.rewritable {
                if let Some(room) = c.output_room(&part.limits, d.input) {
                    if room >= b.min_output_tokens && room < d.output {
                        let trial = Demand {
                            output: room,
                            nano_usd: cost_nano(price, d.input, room),
                            ..*d
                        };
                        if c.check(&part.limits, &trial, now_ms).is_ok() {
                            *d = trial;
                            result = Ok(());
                        }
                    }
                }
            }
        }
        if let Err(e) = result {
            let (why, message) = describe(&e, &part.label);
            if part.shadow {
                done.shadowed.push((e.which.as_str(), message));
                continue;
            }
            return Err(refuse(why, message, e.retry_after_ms, e.which.as_str()));
        }
    }
    // Every part fits (or is in shadow): reserve in all of them.
    for (i, (part, mut c)) in parts.iter().zip(states).enumerate() {
        let reservation = c.reserve(d, now_s, b.reservation_ttl_seconds);
        let bucket = |which, limit: Option<u64>| {
            limit.map(|limit| {
                let (remaining, reset_ms) = c.bucket(which, limit);
                Bucket {
                    limit,
                    remaining,
                    reset_ms,
                }
            })
        };
        let view = RateLimitView {
            requests: bucket(Which::RequestsPerMinute, part.limits.requests_per_minute),
            tokens: bucket(Which::TokensPerMinute, part.limits.tokens_per_minute),
        };
        slot.entries.insert(part.subject.clone(), c.encode());
        done.holds.push((i, reservation, view));
    }
    Ok(done)
}
