//! `proxy_get_property` / `proxy_set_property` (cpp-host `exports::get_property`, Envoy
//! `Context::setProperty`).

use super::mem::{self, Ctx};
use super::Defs;
use crate::headers::lossy;
use crate::status;

pub(super) fn add(d: &mut Defs<'_>) -> anyhow::Result<()> {
    d.env(
        "proxy_get_property",
        |mut c: Ctx<'_>, p: u32, p_len: u32, ptr: u32, size: u32| -> wasmtime::Result<u32> {
            let Some(path) = mem::read(&c, p, p_len) else {
                return Ok(status::INVALID_MEMORY_ACCESS);
            };
            match crate::properties::get(c.data(), &path) {
                Ok(value) => mem::copy_out(&mut c, &value, ptr, size),
                Err(code) => Ok(code),
            }
        },
    )?;
    // Envoy stores the value as filter state `wasm.<path>` (a CelState of bytes, mutable);
    // without stream info (root context) it is NotFound.
    d.env(
        "proxy_set_property",
        |mut c: Ctx<'_>, p: u32, p_len: u32, v: u32, v_len: u32| -> u32 {
            let (Some(path), Some(value)) = (mem::read(&c, p, p_len), mem::read(&c, v, v_len))
            else {
                return status::INVALID_MEMORY_ACCESS;
            };
            match c.data_mut().stream_mut() {
                Some(s) => {
                    s.filter_state
                        .insert(format!("wasm.{}", lossy(&path)), value);
                    status::OK
                }
                None => status::NOT_FOUND,
            }
        },
    )?;
    Ok(())
}
