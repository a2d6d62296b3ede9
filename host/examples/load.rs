//! Loads a filter into the host and reports how it went: compile time, stubbed imports,
//! configuration result, VM memory. Usage:
//! `cargo run -p tollbooth-host --example load -- FILTER.wasm [CONFIG.json] [WORKERS]`

use std::time::Instant;

use tollbooth_host::{Host, HostOptions};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let wasm = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: load FILTER.wasm [CONFIG] [WORKERS]"))?;
    let config = args
        .next()
        .map(std::fs::read)
        .transpose()?
        .unwrap_or_default();
    let workers = args.next().map(|w| w.parse()).transpose()?.unwrap_or(2);
    let t = Instant::now();
    let mut host = Host::load(
        wasm.as_str(),
        HostOptions {
            workers,
            echo_logs: true,
            ..HostOptions::default()
        },
    )?;
    println!("loaded {workers} VMs in {:?}", t.elapsed());
    println!("stubbed imports: {:?}", host.stubbed_imports());
    let t = Instant::now();
    match host.configure(&config) {
        Ok(()) => println!("configured in {:?}", t.elapsed()),
        Err(e) => println!("configuration rejected: {e}"),
    }
    for w in 0..host.workers() {
        println!(
            "worker {w}: {} bytes of linear memory",
            host.vm_memory_bytes(w)
        );
    }
    Ok(())
}
