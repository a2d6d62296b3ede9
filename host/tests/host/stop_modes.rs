//! `Pause` from a headers callback in both stop modes, and header changes after release.

use tollbooth_host::{HeaderMap, HostOptions, StopMode};

use crate::support::*;

fn paused_post() -> HeaderMap {
    HeaderMap::from([
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        (":authority", "api.example.com"),
        ("content-length", "11"),
        ("x-probe-pause-headers", "1"),
    ])
}

#[test]
fn default_mode_withholds_body_callbacks_until_the_filter_resumes() {
    let mut host = host_with(opts(1), "tick_ms=100");
    let id = host.open(0).unwrap();
    host.request_headers(id, paused_post(), false).unwrap();
    host.request_body(id, b"hello ", false).unwrap();
    host.request_body(id, b"world", true).unwrap();

    let before = host.stream(id).unwrap();
    assert_eq!(before.upstream_headers, None, "headers wait");
    assert_eq!(
        before.state("probe_req_body_sizes"),
        None,
        "no body callback while stopped"
    );

    // The probe resumes paused streams on its tick.
    host.advance(std::time::Duration::from_millis(100));
    let after = host.stream(id).unwrap();
    assert_eq!(
        after.state_str("probe_req_body_sizes").as_deref(),
        Some("11"),
        "one accumulated buffer"
    );
    assert!(after.upstream_complete);
    assert_eq!(after.upstream_body, b"hello world");
    // The headers went upstream when the stream resumed: changing them then is BadArgument.
    assert_eq!(
        after.state_str("probe_body_header_status").as_deref(),
        Some("2")
    );
    assert_eq!(
        after.upstream_headers.unwrap().get("x-probe-body-seen"),
        None
    );
}

#[test]
fn allow_mode_delivers_body_while_headers_wait_and_their_changes_apply() {
    let mut host = host_with(allow_mode(), "");
    let id = host.open(0).unwrap();
    let mut headers = paused_post();
    headers.add("x-probe-body-pause", "1");
    host.request_headers(id, headers, false).unwrap();
    host.request_body(id, b"hello ", false).unwrap();
    let mid = host.stream(id).unwrap();
    assert_eq!(mid.state_str("probe_req_body_sizes").as_deref(), Some("6"));
    assert_eq!(mid.upstream_headers, None);
    host.request_body(id, b"world", true).unwrap();

    let v = host.stream(id).unwrap();
    assert_eq!(v.state_str("probe_req_body_sizes").as_deref(), Some("6,11"));
    assert_eq!(
        v.state_str("probe_body_header_status").as_deref(),
        Some("0")
    );
    let up = v.upstream_headers.unwrap();
    assert_eq!(
        up.get("x-probe-body-seen"),
        Some("11"),
        "header set in the last body callback applied"
    );
    assert_eq!(v.upstream_body, b"hello world");
    assert!(v.upstream_complete);
}

#[test]
fn allow_mode_headers_leave_with_the_first_continued_chunk() {
    let mut host = host_with(allow_mode(), "");
    let id = host.open(0).unwrap();
    host.request_headers(id, paused_post(), false).unwrap();
    host.request_body(id, b"hello ", false).unwrap();
    host.request_body(id, b"world", true).unwrap();
    let v = host.stream(id).unwrap();
    assert_eq!(
        v.upstream_headers
            .as_ref()
            .unwrap()
            .get("x-probe-body-seen"),
        Some("6")
    );
    // The second body callback ran after the headers were released: BadArgument, no effect.
    assert_eq!(
        v.state_str("probe_body_header_status").as_deref(),
        Some("2")
    );
    assert_eq!(v.upstream_body, b"hello world");
}

#[test]
fn header_maps_after_release_are_bad_argument_and_changes_never_arrive() {
    for mode in [StopMode::Default, StopMode::AllowOnHeadersStopIteration] {
        let mut host = host_with(
            HostOptions {
                stop_mode: mode,
                ..opts(1)
            },
            "",
        );
        let req = post("{}").header("x-probe-late-header", "1");
        let ex = host.roundtrip(0, &req, echo(200, "{\"ok\":true}")).unwrap();
        assert_eq!(
            ex.state_str("probe_late_req").as_deref(),
            Some("replace=2,get=2"),
            "{mode:?}"
        );
        assert_eq!(
            ex.state_str("probe_late_resp").as_deref(),
            Some("replace=2"),
            "{mode:?}"
        );
        assert_eq!(ex.upstream.as_ref().unwrap().header("x-late"), None);
        assert_eq!(ex.header("x-late"), None);
        assert_eq!(ex.status, 200);
    }
}

#[test]
fn paused_response_headers_hold_the_body_until_resumed() {
    let mut host = host_with(opts(1), "tick_ms=50");
    let id = host.open(0).unwrap();
    host.request_headers(
        id,
        HeaderMap::from([
            (":method", "GET"),
            (":path", "/"),
            (":authority", "a"),
            ("x-probe-pause-resp-headers", "1"),
        ]),
        true,
    )
    .unwrap();
    host.response_headers(id, HeaderMap::from([(":status", "200")]), false)
        .unwrap();
    host.response_body(id, b"abc", false).unwrap();
    host.response_body(id, b"def", true).unwrap();
    let v = host.stream(id).unwrap();
    assert_eq!(v.downstream_headers, None);
    assert_eq!(v.state("probe_resp_body_sizes"), None);
    host.advance(std::time::Duration::from_millis(50));
    let v = host.stream(id).unwrap();
    assert_eq!(v.status(), Some(200));
    assert_eq!(v.downstream_body, b"abcdef");
    assert_eq!(v.state_str("probe_resp_body_sizes").as_deref(), Some("6"));
    assert!(v.downstream_complete);
}

#[test]
fn a_stream_the_filter_never_resumes_times_out_with_408() {
    let mut host = host();
    let req = post("{}").header("x-probe-pause-headers", "1");
    let ex = host
        .roundtrip(0, &req, |_| panic!("upstream must not be called"))
        .unwrap();
    assert!(ex.stalled);
    assert_eq!(ex.status, 408);
    assert!(ex.upstream.is_none());
    // The timeout reply passes through the filter's response callbacks.
    assert_eq!(ex.header("x-probe-saw-response-headers"), Some("408"));
}
