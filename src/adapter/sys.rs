//! Raw proxy-wasm ABI 0.2.1 imports (signatures as in proxy-wasm-rust-sdk 0.2.5 `hostcalls.rs`
//! and the proxy-wasm spec), wrapped so that every status comes back as a value.

use crate::host::{HostError, LogLevel};
use std::ptr::null_mut;

pub const MAP_REQUEST_HEADERS: u32 = 0;
pub const MAP_RESPONSE_HEADERS: u32 = 2;
pub const MAP_RESPONSE_TRAILERS: u32 = 3;
pub const BUFFER_REQUEST_BODY: u32 = 0;
pub const BUFFER_RESPONSE_BODY: u32 = 1;
pub const BUFFER_PLUGIN_CONFIGURATION: u32 = 7;
const METRIC_COUNTER: u32 = 0;
const METRIC_GAUGE: u32 = 1;
const STATUS_OK: u32 = 0;
const STATUS_NOT_FOUND: u32 = 1;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        out: *mut *mut u8,
        out_size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map: u32, key: *const u8, key_size: usize) -> u32;
    fn proxy_get_buffer_bytes(
        buffer: u32,
        start: usize,
        max_size: usize,
        out: *mut *mut u8,
        out_size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer: u32,
        start: usize,
        size: usize,
        data: *const u8,
        data_size: usize,
    ) -> u32;
    fn proxy_set_property(
        path: *const u8,
        path_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    #[allow(clippy::too_many_arguments)]
    fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name: *const u8,
        name_size: usize,
        out_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
}

fn status(code: u32) -> Result<(), HostError> {
    if code == STATUS_OK {
        Ok(())
    } else {
        Err(HostError(code))
    }
}

/// Takes ownership of bytes the host allocated in this module's memory (through
/// `proxy_on_memory_allocate`).
///
/// # Safety
/// `ptr` is null or was returned by the host for exactly `len` bytes allocated with the
/// module's allocator.
unsafe fn take(ptr: *mut u8, len: usize) -> Vec<u8> {
    if ptr.is_null() || len == 0 {
        return Vec::new();
    }
    // SAFETY: per the contract above, the host allocated `len` bytes at `ptr` with our allocator.
    unsafe { Vec::from_raw_parts(ptr, len, len) }
}

pub fn log(level: LogLevel, message: &str) {
    // SAFETY: pointer and length describe a live string.
    let _ = unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) };
}

pub fn get_header(map: u32, name: &str) -> Result<Option<Vec<u8>>, HostError> {
    let (mut ptr, mut len) = (null_mut(), 0usize);
    // SAFETY: valid key slice and out-pointers.
    let code =
        unsafe { proxy_get_header_map_value(map, name.as_ptr(), name.len(), &mut ptr, &mut len) };
    match code {
        // SAFETY: on Ok the host returned an allocation of `len` bytes.
        STATUS_OK => Ok(Some(unsafe { take(ptr, len) })),
        STATUS_NOT_FOUND => Ok(None),
        other => Err(HostError(other)),
    }
}

pub fn replace_header(map: u32, name: &str, value: &str) -> Result<(), HostError> {
    // SAFETY: valid slices.
    status(unsafe {
        proxy_replace_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    })
}

pub fn add_header(map: u32, name: &str, value: &str) -> Result<(), HostError> {
    // SAFETY: valid slices.
    status(unsafe {
        proxy_add_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    })
}

pub fn remove_header(map: u32, name: &str) -> Result<(), HostError> {
    // SAFETY: valid slice.
    status(unsafe { proxy_remove_header_map_value(map, name.as_ptr(), name.len()) })
}

pub fn get_buffer(buffer: u32, start: usize, max_size: usize) -> Result<Vec<u8>, HostError> {
    if max_size == 0 {
        return Ok(Vec::new());
    }
    let (mut ptr, mut len) = (null_mut(), 0usize);
    // SAFETY: valid out-pointers.
    let code = unsafe { proxy_get_buffer_bytes(buffer, start, max_size, &mut ptr, &mut len) };
    match code {
        // SAFETY: on Ok the host returned an allocation of `len` bytes.
        STATUS_OK => Ok(unsafe { take(ptr, len) }),
        STATUS_NOT_FOUND => Ok(Vec::new()),
        other => Err(HostError(other)),
    }
}

pub fn set_buffer(buffer: u32, start: usize, len: usize, data: &[u8]) -> Result<(), HostError> {
    // SAFETY: valid slice.
    status(unsafe { proxy_set_buffer_bytes(buffer, start, len, data.as_ptr(), data.len()) })
}

pub fn set_property(path: &str, value: &[u8]) -> Result<(), HostError> {
    // A one-segment path; segments would be NUL-separated.
    // SAFETY: valid slices.
    status(unsafe { proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len()) })
}

pub fn send_local_response(
    code: u32,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), HostError> {
    let map = serialize_map(headers);
    let details = "tollbooth";
    // SAFETY: valid slices; grpc_status -1 means "not gRPC".
    status(unsafe {
        proxy_send_local_response(
            code,
            details.as_ptr(),
            details.len(),
            body.as_ptr(),
            body.len(),
            map.as_ptr(),
            map.len(),
            -1,
        )
    })
}

pub fn define_counter(name: &str) -> Result<u32, HostError> {
    let mut id = 0u32;
    // SAFETY: valid slice and out-pointer.
    status(unsafe { proxy_define_metric(METRIC_COUNTER, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

pub fn increment_metric(id: u32, offset: i64) -> Result<(), HostError> {
    // SAFETY: plain values.
    status(unsafe { proxy_increment_metric(id, offset) })
}

pub fn define_gauge(name: &str) -> Result<u32, HostError> {
    let mut id = 0u32;
    // SAFETY: valid slice and out-pointer.
    status(unsafe { proxy_define_metric(METRIC_GAUGE, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

pub fn record_metric(id: u32, value: u64) -> Result<(), HostError> {
    // SAFETY: plain values.
    status(unsafe { proxy_record_metric(id, value) })
}

pub fn now_ns() -> u64 {
    let mut t = 0u64;
    // SAFETY: valid out-pointer.
    match unsafe { proxy_get_current_time_nanoseconds(&mut t) } {
        STATUS_OK => t,
        _ => 0,
    }
}

pub fn set_tick_period(ms: u32) -> Result<(), HostError> {
    // SAFETY: plain value.
    status(unsafe { proxy_set_tick_period_milliseconds(ms) })
}

pub fn get_shared_data(key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
    let (mut ptr, mut len, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: valid key slice and out-pointers.
    let code =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut ptr, &mut len, &mut cas) };
    match code {
        // SAFETY: on Ok the host returned an allocation of `len` bytes.
        STATUS_OK => Ok(Some((unsafe { take(ptr, len) }, cas))),
        STATUS_NOT_FOUND => Ok(None),
        other => Err(HostError(other)),
    }
}

pub fn set_shared_data(key: &str, value: &[u8], cas: u32) -> Result<(), HostError> {
    // SAFETY: valid slices.
    status(unsafe {
        proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas)
    })
}

/// proxy-wasm header map encoding: count, then (name length, value length) pairs, then each
/// name and value followed by a NUL (u32 little-endian numbers).
fn serialize_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}
