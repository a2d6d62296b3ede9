//! `tollbooth-host`: proxies real HTTP/1.1 traffic through a proxy-wasm filter the way Envoy
//! would. Prints `listening on ADDR` and then (with `--admin`) `admin on ADDR` once both accept
//! connections; exits 0 on SIGTERM/SIGINT, 2 on bad arguments or a rejected configuration.

use std::io::Write;
use std::process::ExitCode;

use tollbooth_host::front::cli::{self, Command, USAGE};
use tollbooth_host::front::{Front, StartError};

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(opts)) => opts,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("tollbooth-host: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let front = match Front::start(*opts) {
        Ok(f) => f,
        Err(StartError::Rejected(r)) => {
            eprintln!("tollbooth-host: {r}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("tollbooth-host: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Both listeners accept connections already; `listening on` comes first, then the admin.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {}", front.listen);
    if let Some(admin) = front.admin {
        let _ = writeln!(out, "admin on {admin}");
    }
    let _ = out.flush();
    let waited = wait_for_signal();
    front.shutdown();
    match waited {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollbooth-host: {e}");
            ExitCode::FAILURE
        }
    }
}

fn wait_for_signal() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            r = tokio::signal::ctrl_c() => r?,
        }
        Ok(())
    })
}
