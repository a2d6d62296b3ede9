//! The real `tollbooth-host` binary: the command line, the startup line, signals, exit codes.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_tollbooth-host");

fn config_file(name: &str, text: &str) -> String {
    let p = temp_file(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// Waits (bounded) for the process to exit.
fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > WAIT {
            let _ = child.kill();
            panic!("tollbooth-host did not exit");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn the_binary_proxies_and_exits_cleanly_on_sigterm() {
    let up = Upstream::start();
    let wasm = probe_wasm();
    let config = config_file("ok.conf", "");
    let mut child = Command::new(BIN)
        .args(["--wasm", wasm.to_str().unwrap(), "--config", &config])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &up.addr.to_string(),
        ])
        .args([
            "--workers",
            "1",
            "--admin",
            "127.0.0.1:0",
            "--log-level",
            "info",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the startup lines on a thread, so a silent binary cannot hang the test.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // `listening on` first (scripts wait for it), then the admin's line.
    let line = rx.recv_timeout(WAIT).expect("listening line");
    let addr: std::net::SocketAddr = line.strip_prefix("listening on ").unwrap().parse().unwrap();
    assert_ne!(addr.port(), 0);
    let line = rx.recv_timeout(WAIT).expect("admin line");
    let admin: std::net::SocketAddr = line.strip_prefix("admin on ").unwrap().parse().unwrap();

    let mut c = Client::connect(addr);
    c.send(&post(
        "/v1/chat/completions",
        "te: trailers\r\nx-probe-set-trailer: x-cost=1\r\nx-probe-log: hello from the probe\r\n",
        "{}",
    ));
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.trailer("x-cost"), Some("1"));
    assert_eq!(up.received()[0].body, b"{}");
    let mut a = Client::connect(admin);
    a.send(&get("/ready", ""));
    assert_eq!(a.response().body_str(), "LIVE\n");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(wait_exit(&mut child).success(), "exit 0 on SIGTERM");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("[worker 0] [info] probe: hello from the probe"),
        "{stderr}"
    );
}

#[test]
fn a_rejected_configuration_exits_2_with_the_filters_reason() {
    let wasm = probe_wasm();
    let config = config_file("reject.conf", "reject=price table is empty");
    let mut child = Command::new(BIN)
        .args(["--wasm", wasm.to_str().unwrap(), "--config", &config])
        .args(["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(2));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("price table is empty"), "{stderr}");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(!stdout.contains("listening on"), "{stdout}");

    let mut bad = Command::new(BIN)
        .arg("--nope")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(wait_exit(&mut bad).code(), Some(2));
}
