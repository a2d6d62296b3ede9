//! Budget enforcement: which policies a request falls under, its reservation against each
//! (one compare-and-swap per shared-data slot), the refusal when one does not fit, and the
//! settlement once its usage is known. Host-free: shared data and the clock come through the
//! [`crate::host::Host`] seam.
//!
//! Subjects and their names in a slot: `t:<tenant>` (tenant limits), `a:<attr>=<value>`
//! (attribute limits), `r:<tenant>:<run>` (run budget), `l:<tenant>:<run>` (loop sightings),
//! `s:<tenant>` (spend statistics). Every subject of a tenant lives in the tenant's slot, so a
//! request's tenant-side checks are one atomic update.

mod admit;
mod messages;
mod settle;
mod sweep;
mod undo;

pub use admit::{admit, enforcing, Admitted, Ask, Refused, Verdict};
pub use settle::{settle, Outcome, Settled};
pub use sweep::{sweep, SWEEP_PERIOD_MS};

use crate::config::Budgets;
use crate::quota::{slot_key, slot_of};

/// The slot key every subject of `tenant` lives in.
pub fn tenant_slot(b: &Budgets, tenant: &str) -> String {
    slot_key(
        &b.namespace,
        b.slots,
        slot_of(&format!("t:{tenant}"), b.slots),
    )
}

/// The slot key of an attribute value's subject.
pub fn attribute_slot(b: &Budgets, subject: &str) -> String {
    slot_key(&b.namespace, b.slots, slot_of(subject, b.slots))
}

/// The shared-data key that elects one VM to sweep.
pub fn sweep_key(b: &Budgets) -> String {
    format!("tollbooth/v1/{}/{}/sweep", b.namespace, b.slots)
}

#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod tests;
