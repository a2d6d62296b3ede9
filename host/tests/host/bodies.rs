//! Body buffering, body rewriting and trailers.

use tollbooth_host::{Chunking, HostOptions, Response};

use crate::support::*;

#[test]
fn body_size_counts_everything_buffered_and_continue_releases_it() {
    let mut host = host();
    let req = post("abcdefghij")
        .header("x-probe-body-pause", "1")
        .chunking(Chunking::Fixed(4));
    let ex = host.roundtrip(0, &req, echo(200, "ok")).unwrap();
    assert_eq!(
        ex.state_str("probe_req_body_sizes").as_deref(),
        Some("4,8,10")
    );
    assert_eq!(
        ex.state_str("probe_req_body").as_deref(),
        Some("abcdefghij"),
        "get_buffer_bytes sees the whole buffer"
    );
    assert_eq!(ex.upstream.unwrap().body, b"abcdefghij");
}

#[test]
fn without_pause_each_chunk_is_released_on_its_own() {
    let mut host = host();
    let req = post("abcdefghij").chunking(Chunking::Sizes(vec![3, 3]));
    let ex = host.roundtrip(0, &req, echo(200, "ok")).unwrap();
    assert_eq!(
        ex.state_str("probe_req_body_sizes").as_deref(),
        Some("3,3,4")
    );
    assert_eq!(ex.upstream.unwrap().body, b"abcdefghij");
}

#[test]
fn set_buffer_bytes_replaces_the_buffered_body() {
    let mut host = host();
    let req = post("original body")
        .header("x-probe-body-pause", "1")
        .header("x-probe-body-replace", "XYZ")
        .chunking(Chunking::Fixed(5));
    let ex = host.roundtrip(0, &req, |up| {
        assert_eq!(up.body, b"XYZ");
        Response::ok("the response body").chunking(Chunking::Fixed(4))
    });
    let ex = ex.unwrap();
    assert_eq!(ex.upstream.as_ref().unwrap().body, b"XYZ");
    assert_eq!(ex.body_str(), "the response body");

    let req = post("x")
        .header("x-probe-resp-body-pause", "1")
        .header("x-probe-resp-body-replace", "short");
    let ex = host
        .roundtrip(0, &req, |_| {
            Response::ok("0123456789").chunking(Chunking::Fixed(3))
        })
        .unwrap();
    assert_eq!(
        ex.state_str("probe_resp_body_sizes").as_deref(),
        Some("3,6,9,10")
    );
    assert_eq!(
        ex.state_str("probe_resp_body").as_deref(),
        Some("0123456789")
    );
    assert_eq!(ex.body_str(), "short");
}

#[test]
fn trailer_added_in_the_last_response_body_callback_reaches_the_client() {
    let mut host = host();
    let req = post("{}").header("x-probe-set-trailer", "x-usage=42");
    let ex = host
        .roundtrip(0, &req, |_| {
            Response::ok("data: [DONE]").chunking(Chunking::Fixed(5))
        })
        .unwrap();
    assert_eq!(ex.body_str(), "data: [DONE]");
    let trailers = ex.trailers.expect("trailers created");
    assert_eq!(trailers.get("x-usage"), Some("42"));
    assert_eq!(ex.status, 200);
}

#[test]
fn upstream_trailers_pass_through_both_ways() {
    let mut host = host();
    let req = post("body").trailer("x-req-trailer", "1");
    let ex = host.roundtrip(0, &req, |up| {
        assert_eq!(
            up.trailers.as_ref().and_then(|t| t.get("x-req-trailer")),
            Some("1")
        );
        Response::ok("resp").trailer("grpc-status", "0")
    });
    let ex = ex.unwrap();
    assert_eq!(ex.trailers.as_ref().unwrap().get("grpc-status"), Some("0"));
    assert_eq!(ex.state_str("probe_resp_trailers").as_deref(), Some("1"));
}

#[test]
fn buffering_past_the_limit_is_413_for_requests_and_500_for_responses() {
    let opts = HostOptions {
        buffer_limit: Some(8),
        ..opts(1)
    };
    let mut host = host_with(opts, "");
    let req = post("0123456789abcdefghij")
        .header("x-probe-body-pause", "1")
        .chunking(Chunking::Fixed(5));
    let ex = host
        .roundtrip(0, &req, |_| panic!("upstream must not be called"))
        .unwrap();
    assert_eq!(ex.status, 413);
    assert_eq!(ex.body_str(), "Payload Too Large");
    assert_eq!(
        ex.local_reply.as_ref().unwrap().details,
        "request_payload_too_large"
    );
    // Sent through the filter chain: the filter saw the 413.
    assert_eq!(ex.header("x-probe-saw-response-headers"), Some("413"));

    // The response headers already went to the client: all Envoy can do is reset.
    let req = post("x").header("x-probe-resp-body-pause", "1");
    let ex = host
        .roundtrip(0, &req, |_| {
            Response::ok("0123456789abcdefghij").chunking(Chunking::Fixed(5))
        })
        .unwrap();
    assert_eq!(ex.status, 200);
    assert!(
        ex.reset
            .as_deref()
            .unwrap_or_default()
            .contains("response_payload_too_large"),
        "{:?}",
        ex.reset
    );
    assert!(ex.body.is_empty());

    // Headers still held (allow_on_headers_stop_iteration): a 500 goes straight to the client.
    let opts = HostOptions {
        buffer_limit: Some(8),
        ..allow_mode()
    };
    let mut host = host_with(opts, "");
    let req = post("x")
        .header("x-probe-resp-body-pause", "1")
        .header("x-probe-pause-resp-headers", "1");
    let ex = host
        .roundtrip(0, &req, |_| {
            Response::ok("0123456789abcdefghij").chunking(Chunking::Fixed(5))
        })
        .unwrap();
    assert_eq!(ex.status, 500);
    assert_eq!(ex.body_str(), "Internal Server Error");
    assert_eq!(
        ex.local_reply.as_ref().unwrap().details,
        "response_payload_too_large"
    );
    // Not through the filter chain: the header the filter set on the upstream response is gone.
    assert_eq!(ex.header("x-probe-saw-response-headers"), None);
}
