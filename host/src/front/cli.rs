//! The `tollbooth-host` command line.

use std::net::{SocketAddr, ToSocketAddrs};

use super::FrontOptions;
use crate::{LogLevel, StopMode};

pub const USAGE: &str = "usage: tollbooth-host --wasm PATH --config FILE \
--listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT [--workers N (default 2)] \
[--allow-on-headers-stop-iteration] [--admin 127.0.0.1:PORT] [--access-log PATH|-] \
[--buffer-limit BYTES] [--log-level trace|debug|info|warn|error|critical]";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Box<FrontOptions>),
    Help,
}

fn addr(flag: &str, v: &str) -> Result<SocketAddr, String> {
    v.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("{flag}: not an address: {v:?}"))
}

/// Parses the arguments (without the program name). Reads the `--config` file.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let (mut wasm, mut config, mut listen, mut upstream) = (None, None, None, None);
    let mut workers = 2usize;
    let mut stop_mode = StopMode::Default;
    let (mut admin, mut access_log, mut buffer_limit) = (None, None, None);
    let mut log_level = LogLevel::Info;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if matches!(flag.as_str(), "-h" | "--help") {
            return Ok(Command::Help);
        }
        if flag == "--allow-on-headers-stop-iteration" {
            stop_mode = StopMode::AllowOnHeadersStopIteration;
            continue;
        }
        let value = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{flag} needs a value")),
        };
        match flag.as_str() {
            "--wasm" => wasm = Some(value),
            "--config" => config = Some(value),
            "--listen" => listen = Some(addr(&flag, &value)?),
            "--upstream" => upstream = Some(addr(&flag, &value)?),
            "--admin" => admin = Some(addr(&flag, &value)?),
            "--access-log" => access_log = Some(value),
            "--workers" => {
                workers = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| format!("--workers: expected 1..=256, got {value:?}"))?
            }
            "--buffer-limit" => {
                buffer_limit = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--buffer-limit: not a byte count: {value:?}"))?,
                )
            }
            "--log-level" => {
                log_level = LogLevel::parse(&value)
                    .ok_or_else(|| format!("--log-level: unknown level {value:?}"))?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let missing = |name: &str| format!("{name} is required");
    let wasm = wasm.ok_or_else(|| missing("--wasm"))?;
    let config_path = config.ok_or_else(|| missing("--config"))?;
    let listen = listen.ok_or_else(|| missing("--listen"))?;
    let upstream = upstream.ok_or_else(|| missing("--upstream"))?;
    let config = std::fs::read(&config_path)
        .map_err(|e| format!("--config: cannot read {config_path}: {e}"))?;
    let mut opts = FrontOptions::new(wasm, listen, upstream);
    opts.config = config;
    opts.workers = workers;
    opts.stop_mode = stop_mode;
    opts.admin = admin;
    opts.access_log = access_log;
    opts.buffer_limit = buffer_limit;
    opts.log_level = log_level;
    Ok(Command::Run(Box::new(opts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<FrontOptions, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Command::Run(o) => Ok(*o),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn parses_the_documented_flags() {
        let dir = std::env::temp_dir().join(format!("tollbooth-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("c.json");
        std::fs::write(&cfg, "{}").unwrap();
        let cfg = cfg.to_str().unwrap();
        let o = run(&[
            "--wasm",
            "f.wasm",
            "--config",
            cfg,
            "--listen",
            "127.0.0.1:0",
            "--upstream=127.0.0.1:9",
            "--workers",
            "3",
            "--allow-on-headers-stop-iteration",
            "--admin",
            "127.0.0.1:0",
            "--access-log",
            "-",
            "--buffer-limit",
            "2048",
            "--log-level",
            "debug",
        ])
        .unwrap();
        assert_eq!(o.config, b"{}");
        assert_eq!(o.upstream.port(), 9);
        assert_eq!(o.workers, 3);
        assert_eq!(o.stop_mode, StopMode::AllowOnHeadersStopIteration);
        assert_eq!(o.access_log.as_deref(), Some("-"));
        assert_eq!(o.buffer_limit, Some(2048));
        assert_eq!(o.log_level, LogLevel::Debug);
        let d = run(&[
            "--wasm",
            "f",
            "--config",
            cfg,
            "--listen",
            "127.0.0.1:1",
            "--upstream",
            "127.0.0.1:2",
        ])
        .unwrap();
        assert_eq!(
            (d.workers, d.stop_mode, d.admin),
            (2, StopMode::Default, None)
        );
        assert!(run(&["--wasm", "f"])
            .unwrap_err()
            .contains("--config is required"));
        assert!(run(&["--workers", "0"]).is_err());
        assert!(run(&["--nope", "1"]).is_err());
        assert!(run(&["--listen"]).is_err());
        assert!(run(&[
            "--config",
            "/nonexistent/x",
            "--wasm",
            "f",
            "--listen",
            "127.0.0.1:1",
            "--upstream",
            "127.0.0.1:2"
        ])
        .is_err());
        assert_eq!(run(&["--help"]).unwrap_err(), "help");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
