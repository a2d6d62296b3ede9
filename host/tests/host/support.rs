//! Builds the probe filter (once per test process) and sets up hosts around it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use tollbooth_host::{Host, HostOptions, Request, Response, StopMode};

/// Path of the probe filter's `.wasm`, built with `cargo build --release --target
/// wasm32-wasip1` in `host/probe-filter` (target dir: `TOLLBOOTH_PROBE_TARGET_DIR`, default
/// `target/probe-filter` in the workspace, which git ignores).
pub fn probe_wasm() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let manifest = root.join("probe-filter/Cargo.toml");
        let target_dir = std::env::var_os("TOLLBOOTH_PROBE_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("../target/probe-filter"));
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
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target_dir)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .output()
            .expect("running cargo to build the probe filter");
        assert!(
            out.status.success(),
            "building the probe filter failed (is the wasm32-wasip1 target installed?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target_dir.join("wasm32-wasip1/release/tollbooth_probe_filter.wasm")
    })
    .clone()
}

pub fn opts(workers: usize) -> HostOptions {
    HostOptions {
        workers,
        ..HostOptions::default()
    }
}

/// A configured host running the probe.
pub fn host_with(opts: HostOptions, config: &str) -> Host {
    let mut host = Host::load(probe_wasm(), opts).expect("load probe");
    host.configure(config.as_bytes()).expect("configure probe");
    host
}

pub fn host() -> Host {
    host_with(opts(1), "")
}

pub fn allow_mode() -> HostOptions {
    HostOptions {
        stop_mode: StopMode::AllowOnHeadersStopIteration,
        ..opts(1)
    }
}

pub fn echo(status: u16, body: &str) -> impl FnOnce(&tollbooth_host::UpstreamRequest) -> Response {
    let body = body.to_owned();
    move |_| {
        Response::new(status)
            .header("content-type", "application/json")
            .body(body)
    }
}

pub fn post(body: &str) -> Request {
    Request::post("/v1/chat/completions", body.as_bytes().to_vec())
}

pub fn s(v: Option<&[u8]>) -> Option<String> {
    v.map(|b| String::from_utf8_lossy(b).into_owned())
}
