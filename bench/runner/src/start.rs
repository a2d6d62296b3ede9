//! Module compilation, VM start with the tokenizer, linear memory.

use std::time::{Duration, Instant};

use crate::stats::{human, median};
use crate::traffic::{self, FILTER_CONFIG};
use crate::{host, mib, Report, Row, Settings};

fn time<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(Duration, T)> {
    let t = Instant::now();
    let v = f()?;
    Ok((t.elapsed(), v))
}

/// Median of `n` runs of `f`.
fn median_of(
    n: usize,
    mut f: impl FnMut() -> anyhow::Result<Duration>,
) -> anyhow::Result<Duration> {
    let mut v = (0..n.max(1))
        .map(|_| f())
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(median(&mut v))
}

fn wt(e: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:#}")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn figures(s: &Settings, r: &mut Report) -> anyhow::Result<()> {
    let n = s.scale.vm_starts;
    let bytes = std::fs::read(&s.filter_wasm)
        .map_err(|e| anyhow::anyhow!("{}: {e}", s.filter_wasm.display()))?;

    // Compilation, outside the host's caches: wasmtime with the host's engine configuration
    // (the defaults), once; then the compiled artefact read back, as the host's disk cache does.
    let engine = wasmtime::Engine::new(&wasmtime::Config::new()).map_err(wt)?;
    let (cold, module) = time(|| wasmtime::Module::new(&engine, &bytes).map_err(wt))?;
    let compiled = module.serialize().map_err(wt)?;
    let cached = median_of(n, || {
        // SAFETY: `compiled` was produced just above by `Module::serialize` with this engine.
        let (d, _) =
            time(|| unsafe { wasmtime::Module::deserialize(&engine, &compiled) }.map_err(wt))?;
        Ok(d)
    })?;
    r.rows.push(Row::info(
        "compile_cold",
        format!(
            "module compilation, cold (Cranelift; {} module)",
            mib(bytes.len())
        ),
        human(cold.as_secs_f64()),
    ));
    r.rows.push(Row::info(
        "compile_cached",
        "module from compiled artefact (deserialize)",
        human(cached.as_secs_f64()),
    ));

    // The first load fills the host's in-process module cache; the runs after it are what
    // each worker pays: instantiate, `_initialize`, `proxy_on_vm_start`, `proxy_on_configure`
    // (which loads the encodings).
    let mut h = host(&s.filter_wasm, FILTER_CONFIG)?;
    let memory = h.vm_memory_bytes(0);
    let load = median_of(n, || {
        let (d, _) = time(|| host(&s.filter_wasm, FILTER_CONFIG))?;
        Ok(d)
    })?;
    r.rows.push(Row::at_most(
        "vm_start",
        "VM start incl. tokenizer: Host::load + configure, 1 worker (module cached; incl. reading + hashing the .wasm)",
        ms(load),
        human(load.as_secs_f64()),
        30.0,
        "≤ 30 ms",
    ));
    let fresh = median_of(n, || {
        let (d, _) = time(|| h.reload(FILTER_CONFIG.as_bytes()))?;
        Ok(d)
    })?;
    r.rows.push(Row::at_most(
        "vm_start_fresh",
        "VM start incl. tokenizer: fresh VM + configure (Host::reload: instantiate, start, configure)",
        ms(fresh),
        human(fresh.as_secs_f64()),
        30.0,
        "≤ 30 ms",
    ));
    let _ = host(&s.passthrough_wasm, "")?;
    let pass = median_of(n, || {
        let (d, _) = time(|| host(&s.passthrough_wasm, ""))?;
        Ok(d)
    })?;
    r.rows.push(Row::info(
        "vm_start_passthrough",
        "the same Host::load + configure with the pass-through module (host's own share)",
        human(pass.as_secs_f64()),
    ));
    r.rows.push(Row::at_most(
        "memory",
        "linear memory per VM after start (both default encodings)",
        memory as f64 / (1024.0 * 1024.0),
        mib(memory),
        16.0,
        "≤ 16 MiB",
    ));
    first_request(s, r)
}

/// Memory swept to evict the CPU caches, as a VM start does (it touches some 40 MB building
/// the tokenizer).
pub struct CacheSweep(Vec<u8>);

impl CacheSweep {
    pub fn new() -> Self {
        CacheSweep(vec![0; 64 << 20])
    }

    /// Writes one byte per cache line of the whole buffer.
    pub fn run(&mut self) {
        for (i, b) in self.0.iter_mut().enumerate().step_by(64) {
            *b = b.wrapping_add(i as u8);
        }
        std::hint::black_box(&self.0);
    }
}

impl Default for CacheSweep {
    fn default() -> Self {
        Self::new()
    }
}

/// The first request on a fresh VM against the same request later on that VM from a new
/// tenant (another API key: its counters are defined on first use, as the first request's
/// are), right after another VM started (which leaves the CPU caches as a VM start does):
/// state initialised on the first request instead of at VM start makes the first one dearer.
/// The warm steady state is shown too.
pub fn first_request(s: &Settings, r: &mut Report) -> anyhow::Result<()> {
    let x = traffic::json_exchange(traffic::chat_request("Hi", false), true);
    let mut h = host(&s.filter_wasm, FILTER_CONFIG)?;
    let mut other = host(&s.filter_wasm, FILTER_CONFIG)?;
    let (mut first, mut warm, mut cold) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..s.scale.first_requests.max(1) {
        h.reload(FILTER_CONFIG.as_bytes())?;
        let (t, view) = traffic::drive(&mut h, &x)?;
        traffic::check_metered(&view, "provider", 1)?;
        first.push(t.total);
        for _ in 0..5 {
            warm.push(traffic::drive(&mut h, &x)?.0.total);
        }
        other.reload(FILTER_CONFIG.as_bytes())?;
        let key = format!("Bearer sk-bench-new-{i}");
        cold.push(traffic::drive_as(&mut h, &x, &key)?.0.total);
    }
    let (first, warm, cold) = (median(&mut first), median(&mut warm), median(&mut cold));
    let ratio = first.as_secs_f64() / cold.as_secs_f64().max(1e-9);
    r.rows.push(Row::at_most(
        "first_request",
        "first request on a fresh VM vs a new tenant's later on it, right after another VM started (caches as cold), tiny chat; lazy init shows as > 1.25×",
        ratio,
        format!(
            "{ratio:.2}× ({} vs {} cold; {} warm)",
            human(first.as_secs_f64()),
            human(cold.as_secs_f64()),
            human(warm.as_secs_f64())
        ),
        1.25,
        "≤ 1.25×",
    ));
    Ok(())
}
