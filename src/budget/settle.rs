//! Settlement: replace each reservation by the request's actual use, and keep the tenant's
//! spend statistics (spike detection, goodput).

use super::admit::Hold;
use super::tenant_slot;
use crate::config::Budgets;
use crate::host::Host;
use crate::quota::stats::TenantStats;
use crate::quota::{update, Counters, Demand};

/// What a finished request used, and whether it was a success (2xx, finished by a stop or a
/// tool call) or waste.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub used: Demand,
    pub good: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// A spike first seen in this minute: the message to log.
    pub spike: Option<String>,
    /// The tenant's average cost of a successful request, micro-USD, when kept.
    pub micro_usd_per_good_request: Option<u64>,
    pub lost_races: u32,
    pub errors: Vec<String>,
}

/// Settles `holds` with `outcome` at `now_ms` and updates `tenant`'s statistics.
pub fn settle(
    host: &mut impl Host,
    b: &Budgets,
    tenant: &str,
    holds: &[Hold],
    outcome: &Outcome,
    now_ms: u64,
) -> Settled {
    let now_s = now_ms / 1000;
    let mut done = Settled::default();
    let tslot = tenant_slot(b, tenant);
    let mut slots: Vec<&str> = vec![&tslot];
    for h in holds {
        if !slots.contains(&h.slot.as_str()) {
            slots.push(&h.slot);
        }
    }
    for slot in slots {
        let result = update(host, slot, |s| {
            let mut spike = None;
            let mut average = None;
            for h in holds.iter().filter(|h| h.slot == slot) {
                let mut c = s.read(&h.subject, Counters::decode);
                c.refresh(&h.limits, now_ms);
                c.settle(&h.reservation, &outcome.used, now_s);
                s.entries.insert(h.subject.clone(), c.encode());
            }
            if slot == tslot {
                let key = format!("s:{tenant}");
                let mut stats = s.read(&key, TenantStats::decode);
                if b.spikes.is_none() {
                    // No baseline to keep; the minute only dates the statistics for sweeping.
                    stats.minute = now_s / 60;
                }
                if let Some(sp) = &b.spikes {
                    stats.roll(now_s, &sp.rule);
                    stats.current = stats.current.saturating_add(outcome.used.tokens());
                    if stats.is_spike(&sp.rule) && stats.first_report() {
                        spike = Some(format!(
                            "tenant {tenant}: {} tokens this minute against a baseline of {} per minute",
                            stats.current,
                            stats.baseline_milli / 1000
                        ));
                    }
                }
                if outcome.good {
                    stats.good_requests += 1;
                    stats.good_nano_usd = stats.good_nano_usd.saturating_add(outcome.used.nano_usd);
                } else {
                    stats.waste_requests += 1;
                    stats.waste_nano_usd =
                        stats.waste_nano_usd.saturating_add(outcome.used.nano_usd);
                }
                average = Some(stats.micro_usd_per_good_request());
                s.entries.insert(key, stats.encode());
            }
            ((spike, average), true)
        });
        match result {
            Ok(((spike, average), races)) => {
                done.lost_races += races;
                done.spike = done.spike.or(spike);
                done.micro_usd_per_good_request = done.micro_usd_per_good_request.or(average);
            }
            Err(e) => done.errors.push(e.to_string()),
        }
    }
    done
}
