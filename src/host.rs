//! The seam between the filter and its host. The adapter implements [`Host`] with proxy-wasm
//! hostcalls; native tests implement it with a fake. Every call returns errors as values.

/// A hostcall failed; the proxy-wasm status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError(pub u32);

impl HostError {
    /// `WasmResult::NotFound`.
    pub const NOT_FOUND: HostError = HostError(1);
    /// `WasmResult::BadArgument`.
    pub const BAD_ARGUMENT: HostError = HostError(2);
    /// `WasmResult::CasMismatch`: a shared-data value changed since it was read.
    pub const CAS_MISMATCH: HostError = HostError(8);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Critical,
}

/// What a callback tells the host to do with the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    Pause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    RequestHeaders,
    ResponseHeaders,
    ResponseTrailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Request,
    Response,
}

pub trait Host {
    fn log(&mut self, level: LogLevel, message: &str);
    fn header(&mut self, map: Map, name: &str) -> Result<Option<Vec<u8>>, HostError>;
    /// Sets (replaces) a header.
    fn set_header(&mut self, map: Map, name: &str, value: &str) -> Result<(), HostError>;
    /// Adds a header; on [`Map::ResponseTrailers`] during the last body callback this creates
    /// the trailers.
    fn add_header(&mut self, map: Map, name: &str, value: &str) -> Result<(), HostError>;
    fn remove_header(&mut self, map: Map, name: &str) -> Result<(), HostError>;
    /// Bytes `start..start+len` of the body buffered for the current callback.
    fn body(&mut self, body: Body, start: usize, len: usize) -> Result<Vec<u8>, HostError>;
    /// Changes the body buffered for the current callback as Envoy's `Buffer::copyFrom` via
    /// `proxy_set_buffer_bytes` does: `start == 0` replaces the first `len` bytes with `data`
    /// (`len` ≥ the buffered size replaces it all); `start` ≥ the buffered size appends `data`;
    /// anything else is `BadArgument`.
    fn set_body(
        &mut self,
        body: Body,
        start: usize,
        len: usize,
        data: &[u8],
    ) -> Result<(), HostError>;
    fn set_property(&mut self, path: &str, value: &[u8]) -> Result<(), HostError>;
    fn send_local_response(
        &mut self,
        status: u32,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), HostError>;
    fn define_counter(&mut self, name: &str) -> Result<u32, HostError>;
    fn define_gauge(&mut self, name: &str) -> Result<u32, HostError>;
    fn set_gauge(&mut self, id: u32, value: u64) -> Result<(), HostError>;
    /// Wall-clock time in nanoseconds since the Unix epoch (`proxy_get_current_time_nanoseconds`).
    fn now_ns(&mut self) -> u64;
    /// A shared-data value with its cas; `None` when the key does not exist.
    fn shared_get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError>;
    /// Sets a shared-data value if its cas is still `cas`; 0 sets it unconditionally, and so
    /// does any cas on a missing key (cpp-host `SharedData::set`). A stale cas gives
    /// [`HostError::CAS_MISMATCH`].
    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), HostError>;
    /// Adds `delta` (> 0) to a counter.
    fn increment_counter(&mut self, id: u32, delta: u64) -> Result<(), HostError>;
}
