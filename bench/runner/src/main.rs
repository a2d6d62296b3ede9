//! `tollbooth-bench`: measures issue 5's figures and prints one table (see the crate docs).
//!
//! Usage: `tollbooth-bench [--smoke]`. For profiling and quick checks (see
//! [`tollbooth_bench::spin`] and [`tollbooth_bench::gateway`]):
//! - `--spin <tiny|2k|sse> <seconds> [passthrough]`: loops one exchange, prints the mean;
//! - `--first <tiny|2k|sse> <vms> [passthrough]`: first exchange on fresh VMs vs later ones;
//! - `--steps <tiny|2k|sse> <runs>`: each callback of the first exchanges on a fresh VM, in µs;
//! - `--first-row <label> <runs>`: the `first_request` row alone;
//! - `--gateway <label> <seconds> [passthrough]`: one gateway run, requests per second.
//!
//! Paths come from the environment:
//! `TOLLBOOTH_WASM` (the filter; default `target/wasm32-wasip1/release/tollbooth.wasm`),
//! `TOLLBOOTH_PASSTHROUGH_WASM` (default: built from `bench/passthrough`),
//! `TOLLBOOTH_CRITERION_DIR` (criterion's output, for the native rows; default none).

use std::path::PathBuf;
use std::time::Instant;

use tollbooth_bench::{passthrough_wasm, render, run, Scale, Settings};

fn main() -> anyhow::Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let repo = repo.canonicalize().unwrap_or(repo);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
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
    if let [flag, name, secs, rest @ ..] = &args[..] {
        if flag == "--first" {
            let pass = rest.iter().any(|a| a == "passthrough");
            let m = tollbooth_bench::spin::first(&settings, name, secs.parse()?, pass)?;
            let us = m.map(|d| d.as_secs_f64() * 1e6);
            println!(
                "{name}: first {:.1} µs (request body {:.1} µs), steady {:.1} µs ({:.1} µs)",
                us[0], us[1], us[2], us[3]
            );
            return Ok(());
        }
        if flag == "--steps" {
            for _ in 0..secs.parse::<usize>()? {
                for r in tollbooth_bench::spin::steps(&settings, name)? {
                    println!("{r:.1?}");
                }
                println!();
            }
            return Ok(());
        }
        if flag == "--first-row" {
            for _ in 0..secs.parse::<usize>()? {
                let mut r = tollbooth_bench::Report {
                    notes: Vec::new(),
                    rows: Vec::new(),
                };
                tollbooth_bench::start::first_request(&settings, &mut r)?;
                for row in r.rows {
                    println!("{name}: {}", row.measured);
                }
            }
            return Ok(());
        }
        if flag == "--gateway" {
            let pass = rest.iter().any(|a| a == "passthrough");
            let (rate, metered) = tollbooth_bench::gateway::once(&settings, secs.parse()?, pass)?;
            println!("{name}: {rate:.0} req/s ({metered} metered)");
            return Ok(());
        }
        if flag == "--spin" {
            let pass = rest.iter().any(|a| a == "passthrough");
            let (mean, n) = tollbooth_bench::spin::spin(&settings, name, secs.parse()?, pass)?;
            println!(
                "{name}: {n} exchanges, {:.2} µs each",
                mean.as_secs_f64() * 1e6
            );
            return Ok(());
        }
    }
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
