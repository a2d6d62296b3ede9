//! Read–modify–write of a slot with compare-and-swap and bounded retries.

use super::slot::{slot_key, Slot};
use crate::host::{Host, HostError};

/// Why a slot could not be updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A hostcall failed with this status.
    Host(u32),
    /// The value is not a slot this version can read.
    Corrupt,
    /// Every attempt met a concurrent write.
    Contended(u32),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Host(s) => write!(f, "shared data: status {s}"),
            StoreError::Corrupt => write!(f, "shared data: unreadable slot"),
            StoreError::Contended(n) => write!(f, "shared data: {n} attempts lost the race"),
        }
    }
}

/// Attempts per update before giving up. Each lost race means another worker's update
/// landed, so this bounds the wait, not progress.
pub const MAX_ATTEMPTS: u32 = 64;

/// Applies `f` to the slot at `key` and writes it back if `f` says it changed it, retrying
/// from a fresh read when another worker wrote in between. `f` may run several times and must
/// depend only on the slot it is given. Returns `f`'s result and the number of lost races.
pub fn update<T>(
    host: &mut impl Host,
    key: &str,
    mut f: impl FnMut(&mut Slot) -> (T, bool),
) -> Result<(T, u32), StoreError> {
    for attempt in 0..MAX_ATTEMPTS {
        let (mut slot, cas) = match host.shared_get(key) {
            Ok(Some((bytes, cas))) => (Slot::decode(&bytes).ok_or(StoreError::Corrupt)?, cas),
            // Slots are created at configuration; one missing can only be created blindly.
            Ok(None) => (Slot::default(), 0),
            Err(e) => return Err(StoreError::Host(e.0)),
        };
        let (out, changed) = f(&mut slot);
        if !changed {
            return Ok((out, attempt));
        }
        match host.shared_set(key, &slot.encode(), cas) {
            Ok(()) => return Ok((out, attempt)),
            Err(HostError::CAS_MISMATCH) => continue,
            Err(e) => return Err(StoreError::Host(e.0)),
        }
    }
    Err(StoreError::Contended(MAX_ATTEMPTS))
}

/// Creates the slots that do not exist yet (at configuration, before any request of this
/// VM; Envoy configures the main thread's VM before the workers' — so no two writers race).
/// Returns how many were created.
pub fn create_slots(host: &mut impl Host, namespace: &str, slots: u32) -> Result<u32, StoreError> {
    let empty = Slot::default().encode();
    let mut created = 0;
    for i in 0..slots {
        let key = slot_key(namespace, slots, i);
        match host.shared_get(&key) {
            Ok(Some(_)) => {}
            Ok(None) => {
                host.shared_set(&key, &empty, 0)
                    .map_err(|e| StoreError::Host(e.0))?;
                created += 1;
            }
            Err(e) => return Err(StoreError::Host(e.0)),
        }
    }
    Ok(created)
}
