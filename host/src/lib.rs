//! tollbooth-host: a proxy-wasm (ABI 0.2.1) host on wasmtime that behaves like Envoy.
//!
//! No Envoy can be installed where tollbooth is developed, so its tests run the real filter
//! (`wasm32-wasip1`) in this host instead. Every behaviour that matters to a filter follows
//! Envoy's wasm extension (`source/extensions/common/wasm/context.cc`), proxy-wasm-cpp-host
//! (`src/exports.cc`, `src/context.cc`) and Envoy's filter manager; each such rule cites its
//! source where it is implemented. `shared/envoy-semantics.md` in the steering repo lists the
//! facts the host must reproduce.
//!
//! Layout:
//! - [`Host`]: W worker VMs of one plugin plus the stores they share (shared data, metrics,
//!   clock, logs); drives HTTP streams step by step ([`Host::open`], [`Host::request_headers`],
//!   ...) or in one go ([`Host::roundtrip`]).
//! - [`Worker`]: one VM; it owns its wasmtime store and can be moved to a thread.
//! - `abi/` and `wasi.rs`: the imports the module links against.
//! - [`front`]: the `tollbooth-host` binary's HTTP/1.1 proxy, one thread per worker VM.

mod abi;
mod clock;
mod error;
mod filter_manager;
pub mod front;
mod headers;
mod host;
mod local_reply;
mod logs;
mod metrics;
mod module_cache;
mod options;
mod properties;
mod released;
mod roundtrip;
mod shared;
mod stream;
mod vm;
mod wasi;
mod worker_api;

pub use clock::Clock;
pub use error::{ConfigRejected, HostError};
pub use headers::HeaderMap;
pub use host::{Host, WasmSource};
pub use logs::{LogEntry, LogLevel, LogSink, LogTap};
pub use metrics::{envoy_stat_name, MetricKind, MetricValue, Metrics, ENVOY_CUSTOM_STAT_PREFIX};
pub use options::{HostOptions, StopMode};
pub use released::{Output, Released};
pub use roundtrip::{Chunking, Exchange, Request, Response, UpstreamRequest};
pub use shared::{SharedData, SharedDataError};
pub use stream::{LocalReply, StreamId, StreamInfo, StreamView};
pub use vm::Worker;

/// proxy-wasm status codes (ABI 0.2.1 `WasmResult`), as returned by hostcalls.
pub mod status {
    pub const OK: u32 = 0;
    pub const NOT_FOUND: u32 = 1;
    pub const BAD_ARGUMENT: u32 = 2;
    pub const SERIALIZATION_FAILURE: u32 = 3;
    pub const PARSE_FAILURE: u32 = 4;
    pub const INVALID_MEMORY_ACCESS: u32 = 6;
    pub const EMPTY: u32 = 7;
    pub const CAS_MISMATCH: u32 = 8;
    pub const INTERNAL_FAILURE: u32 = 10;
    pub const UNIMPLEMENTED: u32 = 12;
}
