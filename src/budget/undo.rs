//! Reads and undos around admission: the soft-budget check, and taking back what a request
//! refused by a later slot had already recorded (its reservations, its loop sighting).

use super::admit::{Ask, Hold, Part};
use crate::host::Host;
use crate::quota::loops::Sightings;
use crate::quota::{update, Counters, Slot};

/// The model to downgrade to when a soft budget of a (non-shadow) policy is spent.
pub(super) fn soft_downgrade(
    host: &mut impl Host,
    parts: &[Part<'_>],
    now_ms: u64,
) -> Option<String> {
    for part in parts {
        let Some(p) = part.policy else { continue };
        let Some(target) = &p.downgrade_to else {
            continue;
        };
        if part.shadow {
            continue;
        }
        let Ok(Some((bytes, _))) = host.shared_get(&part.slot) else {
            continue;
        };
        let Some(slot) = Slot::decode(&bytes) else {
            continue;
        };
        let mut c = slot.read(&part.subject, Counters::decode);
        c.refresh(&part.limits, now_ms);
        let pending = c
            .pending
            .iter()
            .fold(0u64, |sum, x| sum.saturating_add(x.nano_usd));
        let spent =
            |used: u64, soft: Option<u64>| soft.is_some_and(|s| used.saturating_add(pending) >= s);
        if spent(c.usd_day, p.soft_usd_per_day) || spent(c.usd_month, p.soft_usd_per_month) {
            return Some(target.clone());
        }
    }
    None
}

pub(super) fn loop_key(ask: &Ask<'_>) -> String {
    format!(
        "l:{}:{}:{}",
        ask.tenant.len(),
        ask.tenant,
        ask.run.unwrap_or("")
    )
}

/// Takes back the loop sighting of a request that a later slot refused: a refused request
/// (and the client's retries of it) is not a repeat of the conversation.
pub(super) fn forget_sighting(
    host: &mut impl Host,
    tslot: &str,
    ask: &Ask<'_>,
    fingerprint: Option<u64>,
) {
    let Some(fp) = fingerprint else { return };
    let key = loop_key(ask);
    let _ = update(host, tslot, |s| {
        let Some(mut seen) = s.entries.get(&key).and_then(|v| Sightings::decode(v)) else {
            return ((), false);
        };
        let changed = seen.unsee(fp);
        if changed {
            s.entries.insert(key.clone(), seen.encode());
        }
        ((), changed)
    });
}

/// Cancels reservations already made when a later slot refuses.
pub(super) fn release(host: &mut impl Host, holds: &[Hold], _now_s: u64) {
    for h in holds {
        let _ = update(host, &h.slot, |s| {
            let Some(mut c) = s.entries.get(&h.subject).and_then(|v| Counters::decode(v)) else {
                return ((), false);
            };
            c.cancel(&h.reservation);
            s.entries.insert(h.subject.clone(), c.encode());
            ((), true)
        });
    }
}
