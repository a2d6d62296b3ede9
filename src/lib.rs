//! tollbooth — a proxy-wasm HTTP filter that meters LLM traffic inline: who called, which model,
//! how many tokens, what it cost; stamped on the response, in filter state and in metrics.
//!
//! Everything but [`adapter`] is host-free: plain Rust driven through the [`host::Host`] trait,
//! unit-tested natively and under wasm32. The adapter is the only code that makes hostcalls.

pub mod attribution;
pub mod budget;
pub mod config;
pub mod decode;
pub mod eventstream;
pub mod filter;
pub mod fingerprint;
pub mod host;
pub mod json_stream;
pub mod metrics;
pub mod money;
pub mod pricing;
pub mod providers;
pub mod quota;
pub mod ratelimit_headers;
pub mod route;
pub mod sse;
pub mod stamp;
pub mod tokens;
pub mod usage;

#[cfg(target_os = "wasi")]
mod adapter;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
pub(crate) mod test_rng;
