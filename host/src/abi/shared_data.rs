//! Shared data and shared queues (cpp-host `exports::get_shared_data` etc.).

use super::mem::{self, Ctx};
use super::Defs;
use crate::headers::lossy;
use crate::shared::SharedDataError;
use crate::status;

pub(super) fn add(d: &mut Defs<'_>) -> anyhow::Result<()> {
    d.env(
        "proxy_get_shared_data",
        |mut c: Ctx<'_>,
         k: u32,
         k_len: u32,
         ptr: u32,
         size: u32,
         cas_ptr: u32|
         -> wasmtime::Result<u32> {
            let Some(key) = mem::read_str(&c, k, k_len) else {
                return Ok(status::INVALID_MEMORY_ACCESS);
            };
            let Some((value, cas)) = c.data().shared.data.guest_get(&key) else {
                return Ok(status::NOT_FOUND);
            };
            let code = mem::copy_out(&mut c, &value, ptr, size)?;
            if code != status::OK {
                return Ok(code);
            }
            Ok(if mem::write_u32(&mut c, cas_ptr, cas) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            })
        },
    )?;
    d.env(
        "proxy_set_shared_data",
        |c: Ctx<'_>, k: u32, k_len: u32, v: u32, v_len: u32, cas: u32| -> u32 {
            let (Some(key), Some(value)) = (mem::read_str(&c, k, k_len), mem::read(&c, v, v_len))
            else {
                return status::INVALID_MEMORY_ACCESS;
            };
            match c.data().shared.data.set(&key, &value, cas) {
                Ok(_) => status::OK,
                Err(SharedDataError::CasMismatch) => status::CAS_MISMATCH,
                Err(SharedDataError::NotFound) => status::NOT_FOUND,
            }
        },
    )?;
    // Queues are registered to the root context, which gets `proxy_on_queue_ready`.
    d.env(
        "proxy_register_shared_queue",
        |mut c: Ctx<'_>, n: u32, n_len: u32, ret: u32| -> u32 {
            let Some(name) = mem::read_str(&c, n, n_len) else {
                return status::INVALID_MEMORY_ACCESS;
            };
            let st = c.data();
            let token = st.shared.queues.register(&name, st.worker, st.root_id);
            if mem::write_u32(&mut c, ret, token) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            }
        },
    )?;
    d.env(
        "proxy_resolve_shared_queue",
        |mut c: Ctx<'_>, vm: u32, vm_len: u32, n: u32, n_len: u32, ret: u32| -> u32 {
            let (Some(vm_id), Some(name)) =
                (mem::read(&c, vm, vm_len), mem::read_str(&c, n, n_len))
            else {
                return status::INVALID_MEMORY_ACCESS;
            };
            // Only this host's vm_id has queues.
            let vm_id = lossy(&vm_id);
            if !vm_id.is_empty() && vm_id != c.data().shared.opts.vm_id {
                return status::NOT_FOUND;
            }
            match c.data().shared.queues.resolve(&name) {
                Some(token) if mem::write_u32(&mut c, ret, token) => status::OK,
                Some(_) => status::INVALID_MEMORY_ACCESS,
                None => status::NOT_FOUND,
            }
        },
    )?;
    d.env(
        "proxy_dequeue_shared_queue",
        |mut c: Ctx<'_>, token: u32, ptr: u32, size: u32| -> wasmtime::Result<u32> {
            match c.data().shared.queues.dequeue(token) {
                Err(()) => Ok(status::NOT_FOUND),
                Ok(None) => Ok(status::EMPTY),
                Ok(Some(v)) => mem::copy_out(&mut c, &v, ptr, size),
            }
        },
    )?;
    d.env(
        "proxy_enqueue_shared_queue",
        |c: Ctx<'_>, token: u32, v: u32, v_len: u32| -> u32 {
            let Some(value) = mem::read(&c, v, v_len) else {
                return status::INVALID_MEMORY_ACCESS;
            };
            if c.data().shared.queues.enqueue(token, &value) {
                status::OK
            } else {
                status::NOT_FOUND
            }
        },
    )?;
    Ok(())
}
