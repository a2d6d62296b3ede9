//! `tollbooth-bench`: measures issue 5's figures and prints one table (see the crate docs).
//!
//! Usage: `tollbooth-bench [--smoke]`. Paths come from the environment:
//! `TOLLBOOTH_WASM` (the filter; default `target/wasm32-wasip1/release/tollbooth.wasm`),
//! `TOLLBOOTH_PASSTHROUGH_WASM` (default: built from `bench/passthrough`),
//! `TOLLBOOTH_CRITERION_DIR` (criterion's output, for the native rows; default none).

use std::path::PathBuf;
use std::time::Instant;

use tollbooth_bench::{passthrough_wasm, render, run, Scale, Settings};

fn main() -> anyhow::Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let repo = repo.canonicalize().unwrap_or(repo);
    let smoke = std::env::args().skip(1).any(|a| a == "--smoke");
    let filter_wasm = std::env::var_os("TOLLBOOTH_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target/wasm32-wasip1/release/tollbooth.wasm"));
    anyhow::ensure!(
        filter_wasm.is_file(),
        "{} is missing: run `make wasm` (or set TOLLBOOTH_WASM)",
        filter_wasm.display()
    );
    let settings = Settings {
        passthrough_wasm: passthrough_wasm(&repo)?,
        filter_wasm,
        criterion_dir: std::env::var_os("TOLLBOOTH_CRITERION_DIR").map(PathBuf::from),
        scale: if smoke { Scale::smoke() } else { Scale::full() },
        repo,
    };
    let start = Instant::now();
    let report = run(&settings)?;
    println!("filter: {}", settings.filter_wasm.display());
    println!("pass-through: {}", settings.passthrough_wasm.display());
    for n in &report.notes {
        println!("corpus {n}");
    }
    println!();
    print!("{}", render(&report.rows));
    println!("(measured in {:.1} s)", start.elapsed().as_secs_f64());
    Ok(())
}
