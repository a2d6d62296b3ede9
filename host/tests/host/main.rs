//! tollbooth-host's own tests, run against the probe filter (`host/probe-filter`). They assert
//! what the peers and stores ended up with, not which hostcalls ran.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bodies;
mod lifecycle;
mod replies;
mod state;
mod stop_modes;
mod support;
