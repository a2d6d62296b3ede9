//! Header and trailer maps (Envoy `Context::getMap`/`getConstMap` and the header hostcalls in
//! `source/extensions/common/wasm/context.cc`).
//!
//! A map is reachable only while the filter holds it: Envoy drops its pointer when a callback
//! returns Continue or the stream is resumed. Then reads of a value and every change give
//! `BadArgument`; reading all pairs gives an empty map with `Ok` (`getHeaderMapPairs` turns a
//! null map into no pairs). In `proxy_on_log` the final maps are readable again and a missing
//! one is `NotFound`.

use super::mem::{self, Ctx};
use super::Defs;
use crate::headers::{deserialize_pairs, lossy, serialize_pairs, HeaderMap};
use crate::status;
use crate::stream::Half;
use crate::vm::VmState;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sel {
    ReqHeaders,
    ReqTrailers,
    RespHeaders,
    RespTrailers,
    /// gRPC metadata and HTTP-call maps: there are no callouts, so they are never present.
    Callout,
}

fn sel(t: u32) -> Result<Sel, u32> {
    Ok(match t {
        0 => Sel::ReqHeaders,
        1 => Sel::ReqTrailers,
        2 => Sel::RespHeaders,
        3 => Sel::RespTrailers,
        4..=7 => Sel::Callout,
        _ => return Err(status::BAD_ARGUMENT),
    })
}

/// Envoy `getConstMap`. `Ok(None)`: the map is not available now.
fn read_map(st: &VmState, t: u32) -> Result<Option<&HeaderMap>, u32> {
    let sel = sel(t)?;
    let Some(s) = st.stream() else {
        return Ok(None);
    };
    if s.log_phase {
        return Ok(match sel {
            Sel::ReqHeaders => s
                .req
                .out_headers
                .as_ref()
                .or((s.req.phase != Default::default()).then_some(&s.req.headers)),
            Sel::RespHeaders => s.resp.out_headers.as_ref(),
            Sel::RespTrailers => s.resp.out_trailers.as_ref(),
            Sel::ReqTrailers | Sel::Callout => None,
        });
    }
    Ok(match sel {
        Sel::ReqHeaders => held(&s.req, false),
        Sel::ReqTrailers => held(&s.req, true),
        Sel::RespHeaders => held(&s.resp, false),
        Sel::RespTrailers => held(&s.resp, true),
        Sel::Callout => None,
    })
}

fn held(h: &Half, trailers: bool) -> Option<&HeaderMap> {
    if trailers {
        h.trailers.as_ref().filter(|_| h.trailers_access)
    } else {
        Some(&h.headers).filter(|_| h.headers_access)
    }
}

/// Envoy `getMap`: the mutable map, or `BadArgument`.
fn write_map(st: &mut VmState, t: u32) -> Result<&mut HeaderMap, u32> {
    let sel = sel(t)?;
    let s = st.stream_mut().ok_or(status::BAD_ARGUMENT)?;
    if s.log_phase {
        return Err(status::BAD_ARGUMENT);
    }
    match sel {
        Sel::ReqHeaders if s.req.headers_access => Ok(&mut s.req.headers),
        Sel::RespHeaders if s.resp.headers_access => Ok(&mut s.resp.headers),
        Sel::ReqTrailers => trailers(&mut s.req),
        Sel::RespTrailers => trailers(&mut s.resp),
        _ => Err(status::BAD_ARGUMENT),
    }
}

/// Trailers, created empty when the filter changes them during the body callback that ends
/// the stream and there are none yet (Envoy `addDecodedTrailers`/`addEncodedTrailers`).
fn trailers(h: &mut Half) -> Result<&mut HeaderMap, u32> {
    if h.trailers.is_none() && h.body_access && h.body_eos {
        h.trailers_access = true;
    }
    if !h.trailers_access {
        return Err(status::BAD_ARGUMENT);
    }
    Ok(h.trailers.get_or_insert_with(HeaderMap::new))
}

fn edit(c: &mut Ctx<'_>, t: u32, f: impl FnOnce(&mut HeaderMap)) -> u32 {
    match write_map(c.data_mut(), t) {
        Ok(map) => {
            f(map);
            status::OK
        }
        Err(code) => code,
    }
}

pub(super) fn add(d: &mut Defs<'_>) -> anyhow::Result<()> {
    d.env(
        "proxy_get_header_map_pairs",
        |mut c: Ctx<'_>, t: u32, ptr: u32, size: u32| -> wasmtime::Result<u32> {
            let bytes = match read_map(c.data(), t) {
                Err(code) => return Ok(code),
                Ok(Some(m)) if !m.is_empty() => serialize_pairs(&m.to_vec()),
                Ok(_) => Vec::new(),
            };
            mem::copy_out(&mut c, &bytes, ptr, size)
        },
    )?;
    d.env(
        "proxy_set_header_map_pairs",
        |mut c: Ctx<'_>, t: u32, ptr: u32, size: u32| -> u32 {
            let Some(raw) = mem::read(&c, ptr, size) else {
                return status::INVALID_MEMORY_ACCESS;
            };
            let pairs = deserialize_pairs(&raw).unwrap_or_default();
            edit(&mut c, t, |m| {
                *m = pairs.iter().map(|(k, v)| (lossy(k), lossy(v))).collect();
            })
        },
    )?;
    d.env(
        "proxy_get_header_map_value",
        |mut c: Ctx<'_>,
         t: u32,
         k: u32,
         k_len: u32,
         ptr: u32,
         size: u32|
         -> wasmtime::Result<u32> {
            let Some(key) = mem::read_str(&c, k, k_len) else {
                return Ok(status::INVALID_MEMORY_ACCESS);
            };
            let value = {
                let st = c.data();
                match read_map(st, t) {
                    Err(code) => return Ok(code),
                    Ok(None) if st.stream().is_some_and(|s| s.log_phase) => {
                        return Ok(status::NOT_FOUND)
                    }
                    Ok(None) => return Ok(status::BAD_ARGUMENT),
                    Ok(Some(m)) => match m.get(&key) {
                        Some(v) => v.as_bytes().to_vec(),
                        None => return Ok(status::NOT_FOUND),
                    },
                }
            };
            mem::copy_out(&mut c, &value, ptr, size)
        },
    )?;
    d.env(
        "proxy_remove_header_map_value",
        |mut c: Ctx<'_>, t: u32, k: u32, k_len: u32| -> u32 {
            let Some(key) = mem::read_str(&c, k, k_len) else {
                return status::INVALID_MEMORY_ACCESS;
            };
            edit(&mut c, t, |m| m.remove(&key))
        },
    )?;
    d.env(
        "proxy_replace_header_map_value",
        |mut c: Ctx<'_>, t: u32, k: u32, k_len: u32, v: u32, v_len: u32| -> u32 {
            let (Some(key), Some(value)) =
                (mem::read_str(&c, k, k_len), mem::read_str(&c, v, v_len))
            else {
                return status::INVALID_MEMORY_ACCESS;
            };
            edit(&mut c, t, |m| m.set(&key, &value))
        },
    )?;
    d.env(
        "proxy_add_header_map_value",
        |mut c: Ctx<'_>, t: u32, k: u32, k_len: u32, v: u32, v_len: u32| -> u32 {
            let (Some(key), Some(value)) =
                (mem::read_str(&c, k, k_len), mem::read_str(&c, v, v_len))
            else {
                return status::INVALID_MEMORY_ACCESS;
            };
            edit(&mut c, t, |m| m.add(&key, &value))
        },
    )?;
    d.env(
        "proxy_get_header_map_size",
        |mut c: Ctx<'_>, t: u32, ret: u32| -> u32 {
            let size = match write_map(c.data_mut(), t) {
                Ok(m) => m.byte_size() as u32,
                Err(code) => return code,
            };
            if mem::write_u32(&mut c, ret, size) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            }
        },
    )?;
    Ok(())
}
