//! One wasmtime engine per process and a cache of compiled modules keyed by content, because
//! tests create many hosts and compiling a multi-megabyte filter costs seconds.
//!
//! Compiled modules are also kept on disk (`TOLLBOOTH_HOST_CACHE_DIR`, default
//! `$TMPDIR/tollbooth-host-cache`; `TOLLBOOTH_HOST_CACHE=0` turns it off) so separate test
//! binaries share them.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use wasmtime::{Config, Engine, Module};

static ENGINE: OnceLock<Engine> = OnceLock::new();
static MODULES: OnceLock<Mutex<HashMap<Key, Module>>> = OnceLock::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    fnv: u64,
    sip: u64,
    len: usize,
}

pub(crate) fn engine() -> &'static Engine {
    ENGINE.get_or_init(|| {
        // Defaults: Cranelift at `speed`, parallel compilation, signals-based bounds checks.
        let mut config = Config::new();
        // `TOLLBOOTH_HOST_PERFMAP=1`: write `/tmp/perf-<pid>.map` so `perf report` names the
        // guest's functions (build the filter unstripped to get its names).
        if std::env::var("TOLLBOOTH_HOST_PERFMAP").is_ok_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        Engine::new(&config).unwrap_or_else(|_| Engine::default())
    })
}

/// The compiled module for `bytes`, compiling at most once per process (and per disk cache).
pub(crate) fn module(bytes: &[u8]) -> anyhow::Result<Module> {
    let key = key(bytes);
    let cache = MODULES.get_or_init(Default::default);
    // Held while compiling: concurrent tests want the same module and wait for it.
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = cache.get(&key) {
        return Ok(m.clone());
    }
    let module = load_or_compile(bytes, key)?;
    cache.insert(key, module.clone());
    Ok(module)
}

fn load_or_compile(bytes: &[u8], key: Key) -> anyhow::Result<Module> {
    let engine = engine();
    let path = disk_path(engine, key);
    if let Some(path) = &path {
        if path.exists() {
            // SAFETY: the file was written by `Module::serialize` below, for this engine
            // configuration (the name carries its compatibility hash), into a directory only
            // this cache writes; wasmtime still checks the version and configuration header.
            if let Ok(m) = unsafe { Module::deserialize_file(engine, path) } {
                return Ok(m);
            }
        }
    }
    let module =
        Module::new(engine, bytes).map_err(|e| anyhow::anyhow!("compiling wasm module: {e:#}"))?;
    if let Some(path) = path {
        if let Ok(serialized) = module.serialize() {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, serialized).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
            prune(&path);
        }
    }
    Ok(module)
}

fn disk_path(engine: &Engine, key: Key) -> Option<PathBuf> {
    if std::env::var("TOLLBOOTH_HOST_CACHE").is_ok_and(|v| v == "0") {
        return None;
    }
    let dir = std::env::var_os("TOLLBOOTH_HOST_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tollbooth-host-cache"));
    std::fs::create_dir_all(&dir).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    Some(dir.join(format!(
        "{:016x}{:016x}-{}-{:016x}.cwasm",
        key.fnv,
        key.sip,
        key.len,
        h.finish()
    )))
}

/// Keeps the newest few compiled modules next to `keep` (each filter build adds one).
fn prune(keep: &std::path::Path) {
    const MAX_FILES: usize = 12;
    let Some(dir) = keep.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= MAX_FILES {
        return;
    }
    files.sort();
    for (_, path) in &files[..files.len() - MAX_FILES] {
        if path != keep {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn key(bytes: &[u8]) -> Key {
    let mut fnv: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        fnv ^= u64::from(*b);
        fnv = fnv.wrapping_mul(0x0100_0000_01b3);
    }
    let mut sip = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut sip);
    Key {
        fnv,
        sip: sip.finish(),
        len: bytes.len(),
    }
}
