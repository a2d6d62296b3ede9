//! Budgets kept in proxy-wasm shared data, atomic across every worker VM: per-minute buckets,
//! UTC day and month windows, agent-run totals, prompt-loop sightings and per-tenant spend
//! statistics. Everything here is host-free arithmetic on compact binary values plus a
//! compare-and-swap loop over the [`crate::host::Host`] seam.

pub mod calendar;
pub mod codec;
pub mod loops;
pub mod slot;
pub mod state;
pub mod stats;
pub mod store;

pub use slot::{slot_key, slot_of, Slot};
pub use state::{Counters, Demand, Exceeded, Limits, Reservation, Which};
pub use store::{create_slots, update, StoreError};

#[cfg(test)]
mod tests;
