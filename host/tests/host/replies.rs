//! Local replies, resets, crashes.

use tollbooth_host::{HeaderMap, HostError, HostOptions, Request};

use crate::support::*;

#[test]
fn local_reply_passes_through_the_filters_response_callbacks() {
    let mut host = host();
    let req = post("{}").header("x-probe-local-reply", "403");
    let ex = host
        .roundtrip(0, &req, |_| panic!("upstream must not be called"))
        .unwrap();
    assert_eq!(ex.status, 403);
    assert_eq!(ex.body_str(), "denied by probe");
    assert_eq!(ex.header("x-probe-local"), Some("1"));
    assert_eq!(ex.header("content-type"), Some("text/plain"));
    assert_eq!(ex.header("content-length"), Some("15"));
    assert_eq!(ex.header("x-probe-saw-response-headers"), Some("403"));
    assert_eq!(ex.state_str("probe_resp_body_sizes").as_deref(), Some("15"));
    assert_eq!(ex.state_str("probe_log_status").as_deref(), Some("403"));
    let reply = ex.local_reply.unwrap();
    assert_eq!(reply.status, 403);
    assert!(ex.upstream.is_none());
}

#[test]
fn local_reply_stops_request_callbacks() {
    let mut host = host();
    let id = host.open(0).unwrap();
    let h = HeaderMap::from([
        (":method", "POST"),
        (":path", "/"),
        (":authority", "a"),
        ("x-probe-local-reply", "429"),
    ]);
    host.request_headers(id, h, false).unwrap();
    host.request_body(id, b"ignored", true).unwrap();
    let v = host.finish(id).unwrap();
    assert_eq!(v.status(), Some(429));
    assert_eq!(v.state("probe_req_body_sizes"), None);
    assert_eq!(v.upstream_headers, None);
}

#[test]
fn close_stream_resets_it() {
    let mut host = host();
    let ex = host
        .roundtrip(0, &post("{}").header("x-probe-close", "1"), |_| {
            panic!("no upstream")
        })
        .unwrap();
    assert!(ex.reset.is_some());
    assert_eq!(ex.status, 0);
}

#[test]
fn a_trapping_guest_fails_its_streams_but_not_the_host() {
    let mut host = host_with(opts(2), "");
    let id = host.open(0).unwrap();
    let h = HeaderMap::from([
        (":method", "GET"),
        (":path", "/"),
        (":authority", "a"),
        ("x-probe-panic", "1"),
    ]);
    let err = host.request_headers(id, h, true).unwrap_err();
    match &err {
        HostError::VmCrashed { worker, message } => {
            assert_eq!(*worker, 0);
            assert!(message.contains("probe: panic requested"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Envoy answers the stream with 503 (fail closed) ...
    assert_eq!(host.stream(id).unwrap().status(), Some(503));
    assert!(host.crashed(0).is_some());
    // ... and every later stream on that VM too.
    let ex = host
        .roundtrip(0, &Request::get("/"), |_| panic!("no upstream"))
        .unwrap();
    assert_eq!(ex.status, 503);
    assert_eq!(ex.local_reply.unwrap().details, "wasm_fail_stream");
    assert!(ex.vm_error.is_some());
    // The other worker is fine.
    let ex = host
        .roundtrip(1, &Request::get("/"), echo(200, "ok"))
        .unwrap();
    assert_eq!(ex.status, 200);
    assert!(ex.vm_error.is_none());
}

#[test]
fn fail_open_lets_traffic_through_a_dead_vm() {
    let mut host = host_with(
        HostOptions {
            fail_open: true,
            ..opts(1)
        },
        "",
    );
    let ex = host
        .roundtrip(
            0,
            &Request::get("/").header("x-probe-panic", "1"),
            echo(200, "ok"),
        )
        .unwrap();
    assert!(ex.vm_error.is_some());
    assert_eq!(ex.status, 200);
    assert_eq!(ex.body_str(), "ok");
}

#[test]
fn bad_guest_pointers_are_refused_not_fatal() {
    let mut host = host();
    let ex = host
        .roundtrip(
            0,
            &Request::get("/").header("x-probe-bad-pointer", "1"),
            echo(200, "ok"),
        )
        .unwrap();
    assert_eq!(
        ex.state_str("probe_bad_pointer").as_deref(),
        Some("6"),
        "InvalidMemoryAccess"
    );
    assert_eq!(ex.status, 200);
    assert!(host.crashed(0).is_none());
}
