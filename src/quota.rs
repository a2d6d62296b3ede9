//! Budgets: per-minute buckets, calendar windows and run totals kept in proxy-wasm shared data.
