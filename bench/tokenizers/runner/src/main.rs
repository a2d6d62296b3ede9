//! Runs the tokenizer candidate modules (tok-guest builds) under wasmtime, with the same
//! wasmtime version and default `Config` as the project's host, and prints one table.
//!
//! usage: tok-runner [--reps N] [--budget-ms MS] CORPUS_DIR REFERENCE.wasm [OTHER.wasm ...]
//!
//! For each module: compile time; for each load set (both encodings, o200k only, cl100k only)
//! a fresh instance: VM start (instantiate + `_initialize` + `bench_load`) time and linear
//! memory before/after the load. Then, on the instance with both encodings, every corpus file
//! with each encoding: one run (its count is compared with the reference module's), then more
//! runs while under the budget, up to N; the best run gives MB/s and ms per MB.

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmtime::{Caller, Config, Engine, Extern, Instance, Linker, Memory, Module, Store};

const SUCCESS: i32 = 0;
const ENCODINGS: [(u32, &str); 2] = [(1, "o200k_base"), (2, "cl100k_base")];

struct Guest {
    store: Store<u64>,
    instance: Instance,
    memory: Memory,
}

fn mem_of(c: &mut Caller<'_, u64>) -> Option<Memory> {
    match c.get_export("memory") {
        Some(Extern::Memory(m)) => Some(m),
        _ => None,
    }
}

fn write_u32(c: &mut Caller<'_, u64>, at: u32, v: u32) -> i32 {
    match mem_of(c) {
        Some(m) => match m.write(&mut *c, at as usize, &v.to_le_bytes()) {
            Ok(()) => SUCCESS,
            Err(_) => 21,
        },
        None => 21,
    }
}

/// The WASI preview1 functions the guests import (like host/src/wasi.rs: no file system).
fn linker(engine: &Engine, module: &Module) -> Result<Linker<u64>> {
    let mut l: Linker<u64> = Linker::new(engine);
    let m = "wasi_snapshot_preview1";
    l.func_wrap(
        m,
        "fd_write",
        |mut c: Caller<'_, u64>, _fd: u32, iovs: u32, n: u32, out: u32| -> i32 {
            let Some(mem) = mem_of(&mut c) else { return 21 };
            let mut total = 0u32;
            for i in 0..n {
                let mut iov = [0u8; 8];
                if mem.read(&c, (iovs + i * 8) as usize, &mut iov).is_err() {
                    return 21;
                }
                let p = u32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]) as usize;
                let len = u32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]) as usize;
                let data = mem.data(&c);
                if let Some(s) = data.get(p..p + len) {
                    eprint!("[guest] {}", String::from_utf8_lossy(s));
                }
                total += len as u32;
            }
            write_u32(&mut c, out, total)
        },
    )?;
    l.func_wrap(
        m,
        "random_get",
        |mut c: Caller<'_, u64>, buf: u32, len: u32| -> i32 {
            let Some(mem) = mem_of(&mut c) else { return 21 };
            let mut bytes = Vec::with_capacity(len as usize);
            while bytes.len() < len as usize {
                *c.data_mut() = c.data().wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = *c.data();
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
            }
            bytes.truncate(len as usize);
            match mem.write(&mut c, buf as usize, &bytes) {
                Ok(()) => SUCCESS,
                Err(_) => 21,
            }
        },
    )?;
    l.func_wrap(
        m,
        "clock_time_get",
        |mut c: Caller<'_, u64>, _id: u32, _prec: u64, out: u32| -> i32 {
            let Some(mem) = mem_of(&mut c) else { return 21 };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            match mem.write(&mut c, out as usize, &now.to_le_bytes()) {
                Ok(()) => SUCCESS,
                Err(_) => 21,
            }
        },
    )?;
    for name in ["environ_sizes_get", "args_sizes_get"] {
        l.func_wrap(m, name, |mut c: Caller<'_, u64>, a: u32, b: u32| -> i32 {
            write_u32(&mut c, a, 0).max(write_u32(&mut c, b, 0))
        })?;
    }
    for name in ["environ_get", "args_get"] {
        l.func_wrap(m, name, |_c: Caller<'_, u64>, _a: u32, _b: u32| -> i32 {
            SUCCESS
        })?;
    }
    l.func_wrap(
        m,
        "proc_exit",
        |_c: Caller<'_, u64>, code: u32| -> wasmtime::Result<()> {
            wasmtime::bail!("guest called proc_exit({code})")
        },
    )?;
    l.define_unknown_imports_as_traps(module)?;
    Ok(l)
}

fn start(engine: &Engine, module: &Module, mask: u32) -> Result<(Guest, Duration, u64)> {
    let l = linker(engine, module)?;
    let t0 = Instant::now();
    let mut store = Store::new(engine, 0x5eed_u64);
    let instance = l.instantiate(&mut store, module)?;
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
        init.call(&mut store, ())?;
    }
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| anyhow!("no memory export"))?;
    let before = memory.data_size(&store) as u64;
    let load = instance.get_typed_func::<u32, u32>(&mut store, "bench_load")?;
    if load.call(&mut store, mask)? != 0 {
        bail!("bench_load({mask}) failed");
    }
    let took = t0.elapsed();
    Ok((
        Guest {
            store,
            instance,
            memory,
        },
        took,
        before,
    ))
}

impl Guest {
    fn memory_bytes(&mut self) -> Result<u64> {
        let f = self
            .instance
            .get_typed_func::<(), u64>(&mut self.store, "bench_memory_bytes")?;
        Ok(f.call(&mut self.store, ())?)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<u32> {
        let alloc = self
            .instance
            .get_typed_func::<u32, u32>(&mut self.store, "bench_alloc")?;
        let p = alloc.call(&mut self.store, bytes.len() as u32)?;
        self.memory.write(&mut self.store, p as usize, bytes)?;
        Ok(p)
    }

    fn count(&mut self, enc: u32, p: u32, len: u32) -> Result<(i64, Duration)> {
        let f = self
            .instance
            .get_typed_func::<(u32, u32, u32), i64>(&mut self.store, "bench_count")?;
        let t = Instant::now();
        let n = f.call(&mut self.store, (enc, p, len))?;
        Ok((n, t.elapsed()))
    }
}

const MIB: f64 = 1024.0 * 1024.0;

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut reps = 5usize;
    let mut budget = Duration::from_millis(3000);
    while let Some(a) = args.first().cloned() {
        match a.as_str() {
            "--reps" => {
                reps = args.get(1).context("--reps N")?.parse()?;
                args.drain(..2);
            }
            "--budget-ms" => {
                budget = Duration::from_millis(args.get(1).context("--budget-ms MS")?.parse()?);
                args.drain(..2);
            }
            _ => break,
        }
    }
    let corpus = PathBuf::from(args.first().context("usage: CORPUS_DIR MODULE.wasm ...")?);
    let modules: Vec<PathBuf> = args.iter().skip(1).map(PathBuf::from).collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let texts: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|p| Ok((stem(p), std::fs::read(p)?)))
        .collect::<Result<_>>()?;

    let engine = Engine::new(&Config::new())?;
    // reference[file][enc] = count of the first module
    let mut reference: Vec<[i64; 2]> = Vec::new();
    println!("reps ≤ {reps}, budget {budget:?} per (file, encoding); times are the best run");
    for path in &modules {
        let name = stem(path);
        let size = std::fs::metadata(path)?.len();
        let t = Instant::now();
        let module = Module::from_file(&engine, path)?;
        println!(
            "\n## {name}: module {:.2} MiB, compile {:.0} ms",
            size as f64 / MIB,
            t.elapsed().as_secs_f64() * 1e3
        );
        println!("| load set | VM start + load (ms) | memory before load (MiB) | after load (MiB) |");
        println!("|---|---|---|---|");
        for (mask, label) in [(3, "both"), (1, "o200k only"), (2, "cl100k only")] {
            let mut best: Option<(Duration, u64, u64)> = None;
            for _ in 0..3 {
                let (mut g, took, before) = start(&engine, &module, mask)?;
                let after = g.memory_bytes()?;
                if best.is_none_or(|b| took < b.0) {
                    best = Some((took, before, after));
                }
            }
            if let Some((took, before, after)) = best {
                println!(
                    "| {label} | {:.1} | {:.2} | {:.2} |",
                    took.as_secs_f64() * 1e3,
                    before as f64 / MIB,
                    after as f64 / MIB
                );
            }
        }
        let (mut g, _, _) = start(&engine, &module, 3)?;
        println!("\n| file | bytes | encoding | tokens | runs | best ms | MB/s | ms per MB | same as reference |");
        println!("|---|---|---|---|---|---|---|---|---|");
        let first = reference.is_empty();
        let mut mismatches = 0;
        for (fi, (fname, bytes)) in texts.iter().enumerate() {
            let p = g.put(bytes)?;
            let len = bytes.len() as u32;
            let mut counts = [0i64; 2];
            for (ei, (enc, ename)) in ENCODINGS.iter().enumerate() {
                let wall = Instant::now();
                let (n, mut bestd) = g.count(*enc, p, len)?;
                let mut runs = 1;
                while runs < reps && wall.elapsed() < budget {
                    let (n2, d) = g.count(*enc, p, len)?;
                    if n2 != n {
                        bail!("{name}: unstable count on {fname}");
                    }
                    bestd = bestd.min(d);
                    runs += 1;
                }
                if let Some(c) = counts.get_mut(ei) {
                    *c = n;
                }
                let same = if first {
                    "reference".to_string()
                } else {
                    let r = reference.get(fi).and_then(|r| r.get(ei)).copied().unwrap_or(-9);
                    if r == n {
                        "yes".to_string()
                    } else {
                        mismatches += 1;
                        format!("NO (reference {r})")
                    }
                };
                let mb = bytes.len() as f64 / 1e6;
                let s = bestd.as_secs_f64();
                println!(
                    "| {fname} | {} | {ename} | {n} | {runs} | {:.1} | {:.1} | {:.1} | {same} |",
                    bytes.len(),
                    s * 1e3,
                    mb / s,
                    s * 1e3 / mb
                );
            }
            if first {
                reference.push(counts);
            }
        }
        let after = g.memory_bytes()?;
        println!(
            "\nmemory after the corpus: {:.2} MiB (includes the corpus copies); mismatches: {mismatches}",
            after as f64 / MIB
        );
    }
    Ok(())
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
