//! Sweeping: subjects with nothing left to remember are dropped from their slots, on a timer,
//! by one VM at a time (elected through a compare-and-swap on a lease key).

use crate::config::Budgets;
use crate::host::{Host, HostError};
use crate::quota::codec::{Reader, Writer};
use crate::quota::loops::Sightings;
use crate::quota::stats::TenantStats;
use crate::quota::{slot_key, update, Counters, Limits, StoreError};

/// How often each VM's timer fires; one sweep runs per period across all VMs.
pub const SWEEP_PERIOD_MS: u32 = 60_000;
/// A tenant or attribute subject untouched this long is dropped whatever it holds (every
/// window it could count in has ended).
const MAX_AGE_S: u64 = 35 * 86_400;

/// Sweeps every slot if this VM wins the lease for this period; returns the number of
/// subjects dropped, or `None` when another VM holds the lease.
pub fn sweep(host: &mut impl Host, b: &Budgets, now_ms: u64) -> Result<Option<u64>, StoreError> {
    let key = super::sweep_key(b);
    let (due, cas) = match host.shared_get(&key) {
        Ok(Some((v, cas))) => (Reader(&v).u64().unwrap_or(0), cas),
        Ok(None) => (0, 0),
        Err(e) => return Err(StoreError::Host(e.0)),
    };
    if now_ms < due {
        return Ok(None);
    }
    let mut next = Writer::default();
    next.u64(now_ms + u64::from(SWEEP_PERIOD_MS) - 1000);
    match host.shared_set(&key, &next.0, cas) {
        Ok(()) => {}
        Err(HostError::CAS_MISMATCH) => return Ok(None),
        Err(e) => return Err(StoreError::Host(e.0)),
    }
    let now_s = now_ms / 1000;
    let mut dropped = 0;
    for i in 0..b.slots {
        let (n, _) = update(host, &slot_key(&b.namespace, b.slots, i), |s| {
            let before = s.entries.len();
            s.entries
                .retain(|subject, value| !is_stale(b, subject, value, now_ms, now_s));
            let n = (before - s.entries.len()) as u64;
            (n, n > 0)
        })?;
        dropped += n;
    }
    Ok(Some(dropped))
}

/// The limits whose state a subject must keep: its policy's, with a soft budget counting
/// like a hard one (the day's or month's spend decides the downgrade).
fn limits_of(b: &Budgets, subject: &str) -> Option<Limits> {
    let policy = match subject.strip_prefix("t:") {
        Some(tenant) => b.tenant_policy(tenant),
        None => {
            let (name, value) = subject.strip_prefix("a:")?.split_once('=')?;
            b.attribute_policy(name, value)
        }
    }?;
    let mut limits = policy.limits.clone();
    limits.usd_per_day = limits.usd_per_day.or(policy.soft_usd_per_day);
    limits.usd_per_month = limits.usd_per_month.or(policy.soft_usd_per_month);
    Some(limits)
}

fn is_stale(b: &Budgets, subject: &str, value: &[u8], now_ms: u64, now_s: u64) -> bool {
    match subject.get(..2) {
        Some("t:") | Some("a:") => {
            let Some(mut c) = Counters::decode(value) else {
                return true;
            };
            if c.touched_s + MAX_AGE_S <= now_s {
                return true;
            }
            let limits = limits_of(b, subject).unwrap_or_default();
            c.refresh(&limits, now_ms);
            c.is_idle(&limits, now_s)
        }
        Some("r:") => {
            let idle = b.runs.as_ref().map_or(0, |r| r.idle_seconds);
            // A request still in flight (its reservation not expired) keeps the run alive.
            Counters::decode(value).is_none_or(|c| {
                c.touched_s.saturating_add(idle) <= now_s
                    && c.pending.iter().all(|p| p.expires_s <= now_s)
            })
        }
        Some("l:") => {
            let window = b.loops.as_ref().map_or(0, |l| l.window_seconds);
            Sightings::decode(value).is_none_or(|s| s.is_idle(now_s, window))
        }
        Some("s:") => TenantStats::decode(value).is_none_or(|s| s.minute * 60 + 86_400 <= now_s),
        _ => true,
    }
}
