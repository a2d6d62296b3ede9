//! Guest memory access for hostcalls. Bad pointers never trap the host: they give
//! `InvalidMemoryAccess`, as cpp-host's `getMemory`/`setWord` failures do.

use wasmtime::Caller;

use crate::status;
use crate::vm::VmState;

pub(crate) type Ctx<'a> = Caller<'a, VmState>;

pub(crate) fn read(c: &Ctx<'_>, ptr: u32, len: u32) -> Option<Vec<u8>> {
    let memory = c.data().memory?;
    let start = ptr as usize;
    let end = start.checked_add(len as usize)?;
    memory.data(c).get(start..end).map(<[u8]>::to_vec)
}

pub(crate) fn read_str(c: &Ctx<'_>, ptr: u32, len: u32) -> Option<String> {
    read(c, ptr, len).map(|b| String::from_utf8_lossy(&b).into_owned())
}

pub(crate) fn write(c: &mut Ctx<'_>, ptr: u32, bytes: &[u8]) -> bool {
    let Some(memory) = c.data().memory else {
        return false;
    };
    let start = ptr as usize;
    let Some(end) = start.checked_add(bytes.len()) else {
        return false;
    };
    match memory.data_mut(c).get_mut(start..end) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

pub(crate) fn write_u32(c: &mut Ctx<'_>, ptr: u32, v: u32) -> bool {
    write(c, ptr, &v.to_le_bytes())
}

pub(crate) fn write_u64(c: &mut Ctx<'_>, ptr: u32, v: u64) -> bool {
    write(c, ptr, &v.to_le_bytes())
}

/// Allocates `len` bytes in the guest with its `malloc`/`proxy_on_memory_allocate`. A trap in
/// the allocator is the guest's trap and propagates.
pub(crate) fn alloc(c: &mut Ctx<'_>, len: u32) -> wasmtime::Result<Option<u32>> {
    let Some(malloc) = c.data().malloc.clone() else {
        return Ok(None);
    };
    let addr = malloc.call(&mut *c, len)?;
    Ok(if addr == 0 { None } else { Some(addr) })
}

/// cpp-host `WasmBase::copyToPointerSize`: copies `data` into fresh guest memory (nothing is
/// allocated for empty data, the pointer is then 0) and writes pointer and size.
pub(crate) fn copy_out(
    c: &mut Ctx<'_>,
    data: &[u8],
    ptr_ptr: u32,
    size_ptr: u32,
) -> wasmtime::Result<u32> {
    let mut addr = 0;
    if !data.is_empty() {
        let Ok(len) = u32::try_from(data.len()) else {
            return Ok(status::INVALID_MEMORY_ACCESS);
        };
        match alloc(c, len)? {
            Some(a) => addr = a,
            None => return Ok(status::INVALID_MEMORY_ACCESS),
        }
        if !write(c, addr, data) {
            return Ok(status::INVALID_MEMORY_ACCESS);
        }
    }
    if !write_u32(c, ptr_ptr, addr) || !write_u32(c, size_ptr, data.len() as u32) {
        return Ok(status::INVALID_MEMORY_ACCESS);
    }
    Ok(status::OK)
}
