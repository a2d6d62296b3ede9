//! Configuration, reloads, ticks and the clock, imports, logs.

use std::time::Duration;

use tollbooth_host::{Host, HostError, HostOptions, LogLevel, Request};

use crate::support::*;

#[test]
fn configure_rejection_carries_the_logged_reason() {
    let mut host = Host::load(probe_wasm(), opts(2)).unwrap();
    let err = host.configure(b"reject=price table is empty").unwrap_err();
    assert!(
        err.logs.iter().any(|l| l.contains("price table is empty")),
        "{err}"
    );
    assert!(err.to_string().contains("price table is empty"));
    assert!(err.crashed.is_none());
    host.configure(b"").unwrap();
}

#[test]
fn reload_keeps_shared_data_and_metrics() {
    let mut host = host();
    let incr = Request::get("/")
        .header("x-probe-shared-incr", "n")
        .header("x-probe-metric", "probe.r");
    host.roundtrip(0, &incr, echo(200, "")).unwrap();
    let stale = host.open(0).unwrap();
    host.reload(b"").unwrap();
    host.roundtrip(0, &incr, echo(200, "")).unwrap();
    assert_eq!(
        host.shared_data().get("n").map(|(v, _)| v),
        Some(b"2".to_vec())
    );
    assert_eq!(host.counter("probe.r"), Some(2));
    assert_eq!(host.stream(stale).unwrap_err(), HostError::NoStream);
    // A rejected reload keeps the running plugin.
    assert!(host.reload(b"reject=nope").is_err());
    host.roundtrip(0, &incr, echo(200, "")).unwrap();
    assert_eq!(
        host.shared_data().get("n").map(|(v, _)| v),
        Some(b"3".to_vec())
    );
}

#[test]
fn ticks_follow_the_controllable_clock() {
    let mut host = host_with(opts(2), "tick_ms=1000");
    host.advance(Duration::from_millis(999));
    assert_eq!(host.counter("probe.ticks"), None);
    host.advance(Duration::from_millis(2501));
    // Ticks at 1s, 2s and 3s on each of the two workers.
    assert_eq!(host.counter("probe.ticks"), Some(6));
}

#[test]
fn time_comes_from_the_host_clock() {
    let mut host = host();
    host.clock().set(1_700_000_000_000_000_000);
    let ex = host
        .roundtrip(
            0,
            &Request::get("/").header("x-probe-time", "1"),
            echo(200, ""),
        )
        .unwrap();
    assert_eq!(
        ex.state_str("probe_time").as_deref(),
        Some("1700000000000000000")
    );
    assert_eq!(
        ex.state_str("probe_wasi_time").as_deref(),
        Some("1700000000000000000")
    );
    host.clock().advance(Duration::from_secs(1));
    let ex = host
        .roundtrip(
            0,
            &Request::get("/").header("x-probe-time", "1"),
            echo(200, ""),
        )
        .unwrap();
    assert_eq!(
        ex.state_str("probe_time").as_deref(),
        Some("1700000001000000000")
    );
}

#[test]
fn unknown_imports_are_stubbed_with_unimplemented() {
    let mut host = host();
    assert!(
        host.stubbed_imports()
            .iter()
            .any(|i| i == "env.proxy_probe_nonexistent"),
        "{:?}",
        host.stubbed_imports()
    );
    let ex = host
        .roundtrip(
            0,
            &Request::get("/").header("x-probe-unknown-import", "1"),
            echo(200, ""),
        )
        .unwrap();
    assert_eq!(ex.state_str("probe_unknown_import").as_deref(), Some("12"));

    // Envoy itself refuses such a module.
    let strict = HostOptions {
        strict_imports: true,
        ..opts(1)
    };
    let err = Host::load(probe_wasm(), strict)
        .err()
        .expect("strict load fails");
    assert!(err.to_string().contains("proxy_probe_nonexistent"), "{err}");
}

#[test]
fn logs_are_recorded_per_worker_and_stream() {
    let mut host = host_with(opts(2), "");
    let started: Vec<usize> = host
        .logs()
        .iter()
        .filter(|l| l.message == "probe: vm started")
        .map(|l| l.worker)
        .collect();
    assert_eq!(started, vec![0, 1]);
    let ex = host
        .roundtrip(
            1,
            &Request::get("/").header("x-probe-log", "hello"),
            echo(200, ""),
        )
        .unwrap();
    let line = ex
        .logs
        .iter()
        .find(|l| l.message == "probe: hello")
        .expect("stream log");
    assert_eq!((line.worker, line.level), (1, LogLevel::Info));
    assert!(!host.take_logs().is_empty());
    assert!(host.logs().is_empty());
}

#[test]
fn vm_memory_is_reported() {
    let host = host();
    assert!(host.vm_memory_bytes(0) >= 64 * 1024);
    assert_eq!(host.vm_memory_bytes(7), 0);
}

#[test]
fn workers_can_run_on_their_own_threads() {
    let mut host = host_with(opts(2), "");
    // The key exists before the race: a set with cas 0 (what a guest passes after a get that
    // found nothing) is unconditional, as in Envoy, so two first writes could both succeed and
    // one increment be lost. That creation race is the guest's to handle, not this test's.
    host.shared_data().set("t", b"0", 0).unwrap();
    let workers = host.take_workers();
    let handles: Vec<_> = workers
        .into_iter()
        .map(|mut w| {
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let req = Request::get("/")
                        .header("x-probe-shared-incr", "t")
                        .header("x-probe-metric", "probe.t");
                    w.roundtrip(&req, |_| tollbooth_host::Response::ok(""))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        host.shared_data().get("t").map(|(v, _)| v),
        Some(b"20".to_vec())
    );
    assert_eq!(host.counter("probe.t"), Some(20));
}
