//! Buffers: bodies, configurations (Envoy `Context::getBuffer`, cpp-host
//! `exports::get_buffer_bytes`/`set_buffer_bytes`, Envoy `Buffer::copyFrom`).

use super::mem::{self, Ctx};
use super::Defs;
use crate::status;
use crate::vm::VmState;

enum Buf<'a> {
    /// `getBuffer` returned null.
    Missing,
    /// A buffer that is there but read-only (configurations, or a body with nothing behind it:
    /// Envoy then wraps a null instance, which reads as empty and refuses writes).
    Const(&'a [u8]),
    Mut(&'a mut Vec<u8>),
}

fn buffer(st: &mut VmState, t: u32) -> Result<Buf<'_>, u32> {
    const EMPTY: &[u8] = &[];
    Ok(match t {
        0 | 1 => {
            let ctx = st.ctx();
            match st.streams.get_mut(&ctx) {
                Some(s) => {
                    let half = if t == 0 { &mut s.req } else { &mut s.resp };
                    if half.body_access && !s.log_phase {
                        Buf::Mut(&mut half.buffer)
                    } else {
                        Buf::Const(EMPTY)
                    }
                }
                None => Buf::Const(EMPTY),
            }
        }
        // Network data, gRPC receive buffer, call data: empty here.
        2 | 3 | 5 | 8 => Buf::Const(EMPTY),
        // HTTP call response body: only while a call response is delivered; there are none.
        4 => Buf::Missing,
        6 => Buf::Const(&st.shared.opts.vm_config),
        7 => match &st.plugin_config {
            Some(c) => Buf::Const(c),
            None => Buf::Missing,
        },
        _ => return Err(status::BAD_ARGUMENT),
    })
}

pub(super) fn add(d: &mut Defs<'_>) -> anyhow::Result<()> {
    d.env(
        "proxy_get_buffer_bytes",
        |mut c: Ctx<'_>,
         t: u32,
         start: u32,
         len: u32,
         ptr: u32,
         size: u32|
         -> wasmtime::Result<u32> {
            let data = {
                let whole: &[u8] = match buffer(c.data_mut(), t) {
                    Err(code) => return Ok(code),
                    Ok(Buf::Missing) => return Ok(status::NOT_FOUND),
                    Ok(Buf::Const(b)) => b,
                    Ok(Buf::Mut(b)) => b,
                };
                // Don't overread (cpp-host): clamp to the buffer, empty past its end.
                let start = start as usize;
                let end = start.saturating_add(len as usize).min(whole.len());
                whole.get(start..end).unwrap_or_default().to_vec()
            };
            mem::copy_out(&mut c, &data, ptr, size)
        },
    )?;
    d.env(
        "proxy_set_buffer_bytes",
        |mut c: Ctx<'_>, t: u32, start: u32, len: u32, ptr: u32, size: u32| -> u32 {
            let Some(data) = mem::read(&c, ptr, size) else {
                return status::INVALID_MEMORY_ACCESS;
            };
            let buf = match buffer(c.data_mut(), t) {
                Err(code) => return code,
                Ok(Buf::Missing) => return status::NOT_FOUND,
                Ok(Buf::Const(_)) => return status::BAD_ARGUMENT,
                Ok(Buf::Mut(b)) => b,
            };
            // Envoy `Buffer::copyFrom`: at 0, drain `len` bytes and prepend; at or past the end,
            // append; anything else is BadArgument.
            let (start, len) = (start as usize, len as usize);
            if start == 0 {
                buf.drain(..len.min(buf.len()));
                buf.splice(0..0, data);
                status::OK
            } else if start >= buf.len() {
                buf.extend_from_slice(&data);
                status::OK
            } else {
                status::BAD_ARGUMENT
            }
        },
    )?;
    d.env(
        "proxy_get_buffer_status",
        |mut c: Ctx<'_>, t: u32, len_ptr: u32, flags_ptr: u32| -> u32 {
            let len = match buffer(c.data_mut(), t) {
                Err(code) => return code,
                Ok(Buf::Missing) => return status::NOT_FOUND,
                Ok(Buf::Const(b)) => b.len(),
                Ok(Buf::Mut(b)) => b.len(),
            };
            if mem::write_u32(&mut c, len_ptr, len as u32) && mem::write_u32(&mut c, flags_ptr, 0) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            }
        },
    )?;
    Ok(())
}
