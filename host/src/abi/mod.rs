//! The proxy-wasm ABI 0.2.1 imports (module `env`), split by area, and the linker that ties
//! them (plus WASI) to a module. Imports the host does not implement get a stub with the
//! import's own signature that returns `Unimplemented` (WASI: `ENOSYS`), so modules always link.

mod buffers;
mod headers;
pub(crate) mod mem;
mod metrics;
mod misc;
mod properties;
mod shared_data;

use std::collections::HashSet;

use wasmtime::{Engine, ExternType, IntoFunc, Linker, Module, Val, ValType};

use crate::logs::LogLevel;
use crate::status;
use crate::vm::VmState;

/// Records what the host defines, so unknown imports can be stubbed.
pub(crate) struct Defs<'a> {
    linker: &'a mut Linker<VmState>,
    names: HashSet<(String, String)>,
}

impl Defs<'_> {
    pub(crate) fn func<P, A>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<VmState, P, A>,
    ) -> anyhow::Result<()> {
        self.linker
            .func_wrap(module, name, f)
            .map_err(anyhow::Error::from)?;
        self.names.insert((module.to_owned(), name.to_owned()));
        Ok(())
    }

    /// Defines `name` in `env` (proxy-wasm hostcalls).
    pub(crate) fn env<P, A>(
        &mut self,
        name: &str,
        f: impl IntoFunc<VmState, P, A>,
    ) -> anyhow::Result<()> {
        self.func("env", name, f)
    }
}

/// A linker for `module`, and the imports it had to stub.
pub(crate) fn linker(
    engine: &Engine,
    module: &Module,
    strict: bool,
) -> anyhow::Result<(Linker<VmState>, Vec<String>)> {
    let mut linker = Linker::new(engine);
    let mut defs = Defs {
        linker: &mut linker,
        names: HashSet::new(),
    };
    misc::add(&mut defs)?;
    headers::add(&mut defs)?;
    buffers::add(&mut defs)?;
    properties::add(&mut defs)?;
    shared_data::add(&mut defs)?;
    metrics::add(&mut defs)?;
    crate::wasi::add(&mut defs)?;
    let names = std::mem::take(&mut defs.names);

    let mut stubbed = Vec::new();
    for import in module.imports() {
        let (m, n) = (import.module().to_owned(), import.name().to_owned());
        if names.contains(&(m.clone(), n.clone())) {
            continue;
        }
        let ExternType::Func(ty) = import.ty() else {
            anyhow::bail!(
                "module imports {m}.{n}, which is not a function; the host provides none"
            );
        };
        let full = format!("{m}.{n}");
        if strict {
            // What Envoy does: the VM fails to link ("Failed to load Wasm module due to a
            // missing import").
            anyhow::bail!("missing import {full} (strict_imports)");
        }
        let code = if m.starts_with("wasi") {
            52 /* ENOSYS */
        } else {
            status::UNIMPLEMENTED
        };
        let results: Vec<ValType> = ty.results().collect();
        let label = full.clone();
        linker
            .func_new(&m, &n, ty, move |caller, _params, out| {
                caller.data().log(
                    LogLevel::Warn,
                    format!("unimplemented import {label} called"),
                );
                for (slot, t) in out.iter_mut().zip(&results) {
                    *slot = match t {
                        ValType::I32 => Val::I32(code as i32),
                        ValType::I64 => Val::I64(i64::from(code)),
                        ValType::F32 => Val::F32(0),
                        ValType::F64 => Val::F64(0),
                        other => match Val::default_for_ty(other) {
                            Some(v) => v,
                            None => wasmtime::bail!("stub for {label} cannot return {other}"),
                        },
                    };
                }
                Ok(())
            })
            .map_err(anyhow::Error::from)?;
        stubbed.push(full);
    }
    Ok((linker, stubbed))
}
