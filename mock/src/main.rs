//! `mock-llm --listen 127.0.0.1:PORT`: runs the mock LLM upstream in the
//! foreground. Prints `listening on ADDR` once bound. See the library docs for
//! the endpoints and the `x-mock-*` headers.

use std::io::Write;
use std::process::ExitCode;

const DEFAULT_LISTEN: &str = "127.0.0.1:8000";
const USAGE: &str =
    "usage: mock-llm [--listen 127.0.0.1:PORT]   (default 127.0.0.1:8000, loopback only)";

fn main() -> ExitCode {
    let listen = match parse_args(std::env::args().skip(1)) {
        Ok(Some(addr)) => addr,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("mock-llm: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&listen) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-llm: {listen}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(None)` means help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<String>, String> {
    let mut listen = DEFAULT_LISTEN.to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            other => match other.strip_prefix("--listen=") {
                Some(addr) => listen = addr.to_owned(),
                None => return Err(format!("unknown argument {other:?}")),
            },
        }
    }
    Ok(Some(listen))
}

fn run(listen: &str) -> std::io::Result<()> {
    let std_listener = tollbooth_mock::bind_loopback(listen)?;
    let addr = std_listener.local_addr()?;
    std_listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let mut out = std::io::stdout();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
        tollbooth_mock::serve(listener).await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Option<String>, String> {
        parse_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_listen() {
        assert_eq!(args(&[]), Ok(Some(DEFAULT_LISTEN.into())));
        assert_eq!(
            args(&["--listen", "127.0.0.1:9"]),
            Ok(Some("127.0.0.1:9".into()))
        );
        assert_eq!(
            args(&["--listen=127.0.0.1:9"]),
            Ok(Some("127.0.0.1:9".into()))
        );
        assert_eq!(args(&["--help"]), Ok(None));
        assert!(args(&["--listen"]).is_err());
        assert!(args(&["--nope"]).is_err());
    }
}
