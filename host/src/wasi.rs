//! The WASI preview1 subset proxy-wasm hosts provide (cpp-host `exports.cc`, the
//! `wasi_unstable_*` functions, registered for both `wasi_unstable` and
//! `wasi_snapshot_preview1`). There is no file system: stdout and stderr go to the log (info
//! and error), clocks read the host clock, and the rest reports "no such file" or `ENOSYS`.
//! Functions not defined here are stubbed with `ENOSYS` by the linker.

use wasmtime::Caller;

use crate::abi::mem::{self, Ctx};
use crate::abi::Defs;
use crate::logs::LogLevel;
use crate::vm::VmState;

const SUCCESS: u32 = 0;
const BADF: u32 = 8;
const FAULT: u32 = 21;
const INVAL: u32 = 28;
const NOENT: u32 = 44;
const NOSYS: u32 = 52;
const NOTSUP: u32 = 58;
/// cpp-host `PROXY_WASM_HOST_WASI_RANDOM_GET_MAX_SIZE_BYTES`.
const RANDOM_MAX: u32 = 64 * 1024;

pub(crate) fn add(d: &mut Defs<'_>) -> anyhow::Result<()> {
    for m in ["wasi_snapshot_preview1", "wasi_unstable"] {
        d.func(m, "fd_write", fd_write)?;
        d.func(
            m,
            "fd_read",
            |_c: Ctx<'_>, _fd: u32, _iovs: u32, _len: u32, _nread: u32| -> u32 { NOSYS },
        )?;
        d.func(m, "fd_close", |_c: Ctx<'_>, _fd: u32| -> u32 { SUCCESS })?;
        d.func(
            m,
            "fd_seek",
            |_c: Ctx<'_>, _fd: u32, _off: i64, _whence: u32, _ret: u32| -> u32 { SUCCESS },
        )?;
        d.func(
            m,
            "fd_fdstat_get",
            |mut c: Ctx<'_>, fd: u32, out: u32| -> u32 {
                if fd != 1 && fd != 2 {
                    return BADF;
                }
                // filetype/flags 0, rights_base = FD_WRITE (64), rights_inheriting 0.
                let mut stat = [0u8; 24];
                stat[8] = 64;
                if mem::write(&mut c, out, &stat) {
                    SUCCESS
                } else {
                    FAULT
                }
            },
        )?;
        d.func(
            m,
            "fd_fdstat_set_flags",
            |_c: Ctx<'_>, _fd: u32, _flags: u32| -> u32 { NOSYS },
        )?;
        d.func(
            m,
            "fd_prestat_get",
            |_c: Ctx<'_>, _fd: u32, _buf: u32| -> u32 { BADF },
        )?;
        d.func(
            m,
            "fd_prestat_dir_name",
            |_c: Ctx<'_>, _fd: u32, _p: u32, _l: u32| -> u32 { NOSYS },
        )?;
        d.func(
            m,
            "fd_filestat_get",
            |_c: Ctx<'_>, _fd: u32, _buf: u32| -> u32 { BADF },
        )?;
        d.func(
            m,
            "path_open",
            |_c: Ctx<'_>,
             _fd: u32,
             _df: u32,
             _p: u32,
             _pl: u32,
             _of: u32,
             _rb: i64,
             _ri: i64,
             _ff: u32,
             _ret: u32|
             -> u32 { NOENT },
        )?;
        d.func(m, "environ_get", |_c: Ctx<'_>, _a: u32, _b: u32| -> u32 {
            SUCCESS
        })?;
        d.func(m, "environ_sizes_get", sizes_zero)?;
        d.func(m, "args_get", |_c: Ctx<'_>, _a: u32, _b: u32| -> u32 {
            SUCCESS
        })?;
        d.func(m, "args_sizes_get", sizes_zero)?;
        d.func(
            m,
            "clock_time_get",
            |mut c: Ctx<'_>, id: u32, _precision: u64, out: u32| -> u32 {
                let clock = &c.data().shared.clock;
                let now = match id {
                    0 => clock.now_ns(),
                    1 => clock.monotonic_ns(),
                    _ => return NOTSUP,
                };
                if mem::write_u64(&mut c, out, now) {
                    SUCCESS
                } else {
                    FAULT
                }
            },
        )?;
        d.func(
            m,
            "clock_res_get",
            |mut c: Ctx<'_>, id: u32, out: u32| -> u32 {
                if id > 1 {
                    return NOTSUP;
                }
                if mem::write_u64(&mut c, out, 1) {
                    SUCCESS
                } else {
                    FAULT
                }
            },
        )?;
        d.func(
            m,
            "random_get",
            |mut c: Ctx<'_>, buf: u32, len: u32| -> u32 {
                if len > RANDOM_MAX {
                    return INVAL;
                }
                let bytes = random_bytes(c.data_mut(), len as usize);
                if mem::write(&mut c, buf, &bytes) {
                    SUCCESS
                } else {
                    FAULT
                }
            },
        )?;
        d.func(m, "sched_yield", |_c: Ctx<'_>| -> u32 { SUCCESS })?;
        d.func(
            m,
            "poll_oneoff",
            |mut c: Ctx<'_>, _in: u32, _out: u32, _n: u32, nevents: u32| -> u32 {
                if mem::write_u32(&mut c, nevents, 0) {
                    SUCCESS
                } else {
                    FAULT
                }
            },
        )?;
        // cpp-host only logs; a WASI program traps right after anyway (`unreachable`).
        d.func(
            m,
            "proc_exit",
            |c: Ctx<'_>, code: u32| -> wasmtime::Result<()> {
                c.data()
                    .log(LogLevel::Error, format!("wasi proc_exit({code})"));
                wasmtime::bail!("guest called proc_exit({code})")
            },
        )?;
    }
    Ok(())
}

fn sizes_zero(mut c: Ctx<'_>, count: u32, size: u32) -> u32 {
    if mem::write_u32(&mut c, count, 0) && mem::write_u32(&mut c, size, 0) {
        SUCCESS
    } else {
        FAULT
    }
}

/// `fd_write` to stdout/stderr becomes a log line (trailing newline removed), like cpp-host's
/// `writevImpl`.
fn fd_write(mut c: Caller<'_, VmState>, fd: u32, iovs: u32, iovs_len: u32, nwritten: u32) -> u32 {
    let level = match fd {
        1 => LogLevel::Info,
        2 => LogLevel::Error,
        _ => return BADF,
    };
    let mut text = Vec::new();
    for i in 0..iovs_len {
        let Some(iov) = mem::read(&c, iovs.wrapping_add(i * 8), 8) else {
            return FAULT;
        };
        let buf = u32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
        let len = u32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]);
        if len == 0 {
            continue;
        }
        let Some(bytes) = mem::read(&c, buf, len) else {
            return FAULT;
        };
        text.extend_from_slice(&bytes);
    }
    let written = text.len() as u32;
    if !text.is_empty() {
        if text.last() == Some(&b'\n') {
            text.pop();
        }
        c.data()
            .log(level, String::from_utf8_lossy(&text).into_owned());
    }
    if mem::write_u32(&mut c, nwritten, written) {
        SUCCESS
    } else {
        FAULT
    }
}

/// splitmix64; randomness for the guest's hash maps, not for secrets.
fn random_bytes(st: &mut VmState, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        st.rng = st.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = st.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}
