//! `make bench` (issue 5): the filter's figures measured in one run and printed as one table.
//!
//! Everything about wasm is measured inside `tollbooth_host::Host` (wasmtime), in-process, on
//! worker 0 of a one-worker host: the real `tollbooth.wasm` against a pass-through module
//! (`bench/passthrough`, Continue everywhere) driven with the same traffic, so what the host
//! and the ABI cost by themselves cancels out. Native microbenchmarks of the host-free core are
//! criterion's (`benches/core.rs` in the root crate); their medians are appended to the table.
//!
//! - [`start`]: module compilation, VM start with the tokenizer, linear memory.
//! - [`overhead`]: fixed per-request overhead, per SSE event, a 10 KB prompt end to end, and
//!   throughput: as a gateway ([`gateway`]: the host's HTTP front between clients and a mock
//!   upstream) and in-process.
//! - [`tokenize`]: tokenizer throughput through the filter, adversarial inputs, linearity.

pub mod corpus;
pub mod gateway;
pub mod native;
pub mod overhead;
pub mod spin;
pub mod start;
pub mod stats;
pub mod table;
pub mod tokenize;
pub mod traffic;

use std::path::{Path, PathBuf};
use std::process::Command;

use stats::Reps;
pub use table::{render, Row};
use tollbooth_host::{Host, HostOptions};

/// Every row id the table has, in order (without the native rows, which depend on criterion's
/// output).
pub const ROW_IDS: &[&str] = &[
    "compile_cold",
    "compile_cached",
    "vm_start",
    "vm_start_fresh",
    "vm_start_passthrough",
    "memory",
    "first_request",
    "overhead_total",
    "overhead_prompt",
    "overhead_fixed",
    "sse_event",
    "e2e_10k",
    "throughput",
    "throughput_inprocess",
    "tok_prose",
    "tok_code",
    "adv_one_char",
    "adv_letters",
    "adv_lowercase",
    "adv_base64",
    "adv_nested",
    "linear_100k",
    "linear_1m",
    "memory_after",
];

/// Sizes and repetitions.
#[derive(Debug, Clone)]
pub struct Scale {
    /// Prose, code, one character, base64 and the largest linearity size (1 MB).
    pub big: usize,
    /// Random letters and the middle linearity size (100 KB).
    pub mid: usize,
    /// The smallest linearity size (1 KB).
    pub small: usize,
    /// Nested JSON text (`[`×n `]`×n).
    pub nested: usize,
    /// The end-to-end prompt (10 KB).
    pub e2e: usize,
    /// The chat request of the fixed-overhead figure (2 KB).
    pub chat: usize,
    /// SSE events in the long stream (the short one has `events / 100`, at least 1).
    pub events: usize,
    /// VM starts measured.
    pub vm_starts: usize,
    /// Fresh VMs whose first request is measured (each also starts a second VM).
    pub first_requests: usize,
    /// Throughput loop, per variant.
    pub throughput_ms: u64,
    /// Gateway throughput: time per variant, split in rounds that alternate the variants.
    pub gateway_ms: u64,
    pub gateway_rounds: u32,
    /// Gateway throughput: concurrent keep-alive clients.
    pub gateway_clients: usize,
    /// Repetitions of cheap exchanges (a few µs to a few ms each).
    pub light: Reps,
    /// Repetitions of the 1 MB prompts (hundreds of ms each today).
    pub heavy: Reps,
}

impl Scale {
    /// The figures of issue 5.
    pub fn full() -> Scale {
        Scale {
            big: 1_000_000,
            mid: 100_000,
            small: 1_000,
            nested: 200_000,
            e2e: 10_000,
            chat: 2_048,
            events: 1_000,
            vm_starts: 5,
            first_requests: 9,
            throughput_ms: 1_000,
            gateway_ms: 3_000,
            gateway_rounds: 2,
            gateway_clients: 8,
            light: Reps::new(20, 50, 2_000, 1_500),
            heavy: Reps::new(1, 3, 7, 2_500),
        }
    }

    /// Tiny sizes, for the smoke test: every figure, in a second or two.
    pub fn smoke() -> Scale {
        Scale {
            big: 4_000,
            mid: 2_000,
            small: 500,
            nested: 1_000,
            e2e: 1_000,
            chat: 2_048,
            events: 20,
            vm_starts: 1,
            first_requests: 1,
            throughput_ms: 20,
            gateway_ms: 100,
            gateway_rounds: 1,
            gateway_clients: 2,
            light: Reps::new(1, 3, 3, 0),
            heavy: Reps::new(0, 2, 2, 0),
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct Settings {
    pub filter_wasm: PathBuf,
    pub passthrough_wasm: PathBuf,
    /// The repository, where the prose and code corpora come from.
    pub repo: PathBuf,
    /// criterion's output directory, for the native rows.
    pub criterion_dir: Option<PathBuf>,
    pub scale: Scale,
}

/// The table's rows and the notes printed above it (corpora, what each figure includes).
#[derive(Debug, Clone)]
pub struct Report {
    pub notes: Vec<String>,
    pub rows: Vec<Row>,
}

/// Host options of every figure: one worker, buffer limit raised for the 1 MB prompts, fixed
/// random seed, a small log store.
pub fn host_options() -> HostOptions {
    HostOptions {
        workers: 1,
        buffer_limit: Some(traffic::HOST_BUFFER_LIMIT),
        random_seed: Some(1),
        max_log_entries: 1_000,
        ..HostOptions::default()
    }
}

/// A configured host running `wasm` (`config`: plugin configuration).
pub fn host(wasm: &Path, config: &str) -> anyhow::Result<Host> {
    let mut host = Host::load(wasm, host_options())?;
    host.configure(config.as_bytes())?;
    Ok(host)
}

/// Measures everything.
pub fn run(s: &Settings) -> anyhow::Result<Report> {
    let mut report = Report {
        notes: Vec::new(),
        rows: Vec::new(),
    };
    start::figures(s, &mut report)?;
    let mut filter = host(&s.filter_wasm, traffic::FILTER_CONFIG)?;
    let mut pass = host(&s.passthrough_wasm, "")?;
    overhead::figures(s, &mut filter, &mut pass, &mut report)?;
    tokenize::figures(s, &mut filter, &mut pass, &mut report)?;
    let after = filter.vm_memory_bytes(0);
    report.rows.push(Row::info(
        "memory_after",
        "linear memory per VM after this run (1 MB prompts)",
        mib(after),
    ));
    if let Some(dir) = &s.criterion_dir {
        report.rows.extend(native::rows(dir)?);
    }
    Ok(report)
}

pub fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The pass-through module: `$TOLLBOOTH_PASSTHROUGH_WASM`, else built from `bench/passthrough`
/// with cargo into `<target dir>/passthrough` (`CARGO_TARGET_DIR`, else `repo/target`).
pub fn passthrough_wasm(repo: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("TOLLBOOTH_PASSTHROUGH_WASM") {
        return Ok(PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"))
        .join("passthrough");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip1",
            "--manifest-path",
        ])
        .arg(repo.join("bench/passthrough/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "building bench/passthrough failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(target.join("wasm32-wasip1/release/tollbooth_bench_passthrough.wasm"))
}
