//! Logging, time, ticks, stream control, local replies, contexts, and the calls that reach
//! outside Envoy (HTTP/gRPC callouts, foreign functions), which answer as Envoy does when the
//! target is unknown.

use super::mem::{self, Ctx};
use super::Defs;
use crate::headers::{deserialize_pairs, lossy};
use crate::logs::LogLevel;
use crate::status;
use crate::stream::{Dir, LocalReply};
use crate::vm::Deferred;

pub(super) fn add(d: &mut Defs<'_>) -> anyhow::Result<()> {
    // cpp-host `exports::log`: level above Critical is BadArgument.
    d.env(
        "proxy_log",
        |c: Ctx<'_>, level: u32, ptr: u32, len: u32| -> u32 {
            let Some(level) = LogLevel::from_u32(level) else {
                return status::BAD_ARGUMENT;
            };
            let Some(message) = mem::read_str(&c, ptr, len) else {
                return status::INVALID_MEMORY_ACCESS;
            };
            c.data().log(level, message);
            status::OK
        },
    )?;
    d.env("proxy_get_log_level", |mut c: Ctx<'_>, ret: u32| -> u32 {
        let level = c.data().shared.opts.log_level as u32;
        if mem::write_u32(&mut c, ret, level) {
            status::OK
        } else {
            status::INVALID_MEMORY_ACCESS
        }
    })?;
    d.env(
        "proxy_get_current_time_nanoseconds",
        |mut c: Ctx<'_>, ret: u32| -> u32 {
            let now = c.data().shared.clock.now_ns();
            if mem::write_u64(&mut c, ret, now) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            }
        },
    )?;
    // One timer per root context (cpp-host `ContextBase::setTimerPeriod`); 0 disables it.
    d.env(
        "proxy_set_tick_period_milliseconds",
        |mut c: Ctx<'_>, period: u32| -> u32 {
            c.data_mut().tick_period_ms = Some(period);
            status::OK
        },
    )?;
    d.env(
        "proxy_continue_stream",
        |mut c: Ctx<'_>, kind: u32| -> u32 { stream_control(&mut c, kind, true) },
    )?;
    d.env("proxy_close_stream", |mut c: Ctx<'_>, kind: u32| -> u32 {
        stream_control(&mut c, kind, false)
    })?;
    // ABI 0.1.0 spellings.
    d.env("proxy_continue_request", |mut c: Ctx<'_>| -> u32 {
        stream_control(&mut c, 0, true)
    })?;
    d.env("proxy_continue_response", |mut c: Ctx<'_>| -> u32 {
        stream_control(&mut c, 1, true)
    })?;
    d.env("proxy_send_local_response", send_local_response)?;
    d.env(
        "proxy_set_effective_context",
        |mut c: Ctx<'_>, id: u32| -> u32 {
            let st = c.data_mut();
            if id == st.root_id || st.streams.contains_key(&id) {
                st.effective = id;
                status::OK
            } else {
                status::BAD_ARGUMENT
            }
        },
    )?;
    // cpp-host `WasmBase::done`: only a root context whose shutdown waits on it can be done.
    d.env("proxy_done", |_c: Ctx<'_>| -> u32 { status::NOT_FOUND })?;
    d.env("proxy_clear_route_cache", |_c: Ctx<'_>| -> u32 {
        status::OK
    })?;
    // Envoy `Context::httpCall`: an unknown cluster is BadArgument. The host has no clusters.
    d.env(
        "proxy_http_call",
        |mut c: Ctx<'_>,
         up: u32,
         up_len: u32,
         h: u32,
         h_len: u32,
         b: u32,
         b_len: u32,
         t: u32,
         t_len: u32,
         _timeout: u32,
         token: u32|
         -> u32 {
            let readable = [(up, up_len), (h, h_len), (b, b_len), (t, t_len)]
                .iter()
                .all(|&(p, l)| mem::read(&c, p, l).is_some());
            if !readable || !mem::write_u32(&mut c, token, 0) {
                return status::INVALID_MEMORY_ACCESS;
            }
            let cluster = mem::read_str(&c, up, up_len).unwrap_or_default();
            c.data().log(
                LogLevel::Debug,
                format!("proxy_http_call to unknown cluster {cluster:?}: BadArgument"),
            );
            status::BAD_ARGUMENT
        },
    )?;
    // Envoy `Context::grpcCall`/`grpcStream`: an unknown cluster is ParseFailure.
    d.env(
        "proxy_grpc_call",
        |_c: Ctx<'_>,
         _a: u32,
         _b: u32,
         _d: u32,
         _e: u32,
         _f: u32,
         _g: u32,
         _h: u32,
         _i: u32,
         _j: u32,
         _k: u32,
         _t: u32,
         _r: u32|
         -> u32 { status::PARSE_FAILURE },
    )?;
    d.env(
        "proxy_grpc_stream",
        |_c: Ctx<'_>,
         _a: u32,
         _b: u32,
         _d: u32,
         _e: u32,
         _f: u32,
         _g: u32,
         _h: u32,
         _i: u32,
         _r: u32|
         -> u32 { status::PARSE_FAILURE },
    )?;
    d.env(
        "proxy_grpc_send",
        |_c: Ctx<'_>, _t: u32, _p: u32, _l: u32, _e: u32| -> u32 { status::BAD_ARGUMENT },
    )?;
    d.env("proxy_grpc_cancel", |_c: Ctx<'_>, _t: u32| -> u32 {
        status::BAD_ARGUMENT
    })?;
    d.env("proxy_grpc_close", |_c: Ctx<'_>, _t: u32| -> u32 {
        status::BAD_ARGUMENT
    })?;
    d.env(
        "proxy_get_status",
        |mut c: Ctx<'_>, code: u32, ptr: u32, size: u32| -> wasmtime::Result<u32> {
            if !mem::write_u32(&mut c, code, 0) {
                return Ok(status::INVALID_MEMORY_ACCESS);
            }
            mem::copy_out(&mut c, b"", ptr, size)
        },
    )?;
    // No foreign functions are registered.
    d.env(
        "proxy_call_foreign_function",
        |c: Ctx<'_>,
         name: u32,
         name_len: u32,
         args: u32,
         args_len: u32,
         _r: u32,
         _rs: u32|
         -> u32 {
            if mem::read(&c, name, name_len).is_none() || mem::read(&c, args, args_len).is_none() {
                return status::INVALID_MEMORY_ACCESS;
            }
            status::NOT_FOUND
        },
    )?;
    Ok(())
}

/// `proxy_continue_stream` / `proxy_close_stream`: deferred until the VM call returns (Envoy
/// `Context::continueStream`/`closeStream` use `addAfterVmCallAction`). Without a stream (root
/// context) they do nothing and return Ok, as Envoy's do without filter callbacks.
fn stream_control(c: &mut Ctx<'_>, kind: u32, resume: bool) -> u32 {
    let dir = match kind {
        0 => Dir::Request,
        1 => Dir::Response,
        2 => return status::OK,
        3 if resume => return status::UNIMPLEMENTED,
        3 => return status::OK,
        _ => return status::BAD_ARGUMENT,
    };
    let st = c.data_mut();
    let ctx = st.ctx();
    if st.streams.contains_key(&ctx) {
        let action = if resume {
            Deferred::Continue(dir)
        } else {
            Deferred::Close(dir)
        };
        st.deferred.push((ctx, action));
    }
    status::OK
}

#[allow(clippy::too_many_arguments)]
fn send_local_response(
    mut c: Ctx<'_>,
    code: u32,
    details: u32,
    details_len: u32,
    body: u32,
    body_len: u32,
    headers: u32,
    headers_len: u32,
    grpc_status: i32,
) -> u32 {
    let (Some(details), Some(body), Some(headers)) = (
        mem::read(&c, details, details_len),
        mem::read(&c, body, body_len),
        mem::read(&c, headers, headers_len),
    ) else {
        return status::INVALID_MEMORY_ACCESS;
    };
    let headers = deserialize_pairs(&headers)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (lossy(&k).to_ascii_lowercase(), lossy(&v)))
        .collect();
    // Envoy stores details with whitespace replaced (`StringUtil::replaceAllEmptySpace`).
    let details = lossy(&details).replace(|ch: char| ch.is_whitespace(), "_");
    let reply = LocalReply {
        status: code,
        details,
        body,
        headers,
        grpc_status,
    };
    let st = c.data_mut();
    let ctx = st.ctx();
    if st.streams.contains_key(&ctx) {
        st.deferred.push((ctx, Deferred::LocalReply(reply)));
    }
    // cpp-host `exports::send_local_response`: the callback's result becomes a stop.
    st.stop_next = true;
    status::OK
}
