//! Bodies and trailers in both directions, forwarded as the filter releases them.

use std::time::Duration;

use crate::support::*;

#[test]
fn a_chunked_post_reaches_the_upstream_intact_and_the_connection_is_reused() {
    let up = Upstream::start();
    let front = front(up.addr, Setup::default());
    let body: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut c = Client::connect(front.listen);
    c.send(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.test\r\n\
          transfer-encoding: chunked\r\nexpect: 100-continue\r\n\r\n",
    );
    for piece in body.chunks(30_000) {
        c.send(format!("{:x}\r\n", piece.len()).as_bytes());
        c.send(piece);
        c.send(b"\r\n");
        std::thread::sleep(Duration::from_millis(10));
    }
    c.send(b"0\r\n\r\n");
    let r = c.response();
    assert_eq!(
        r.interim,
        [100],
        "Envoy answers Expect: 100-continue itself"
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), r#"{"ok":true}"#);
    let got = up.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(got[0].body, body);
    assert_eq!(got[0].header("host"), Some("api.test"));
    assert!(
        got[0].header("x-request-id").is_some(),
        "added as Envoy does"
    );
    assert_eq!(got[0].header("expect"), None);

    // Keep-alive: the same connection serves the next request.
    c.send(&post("/again", "", "{}"));
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), r#"{"ok":true}"#);
    // The upstream's content-length stays (Envoy's HTTP/1 codec frames the body with it).
    assert!(!r.chunked && r.header("content-length") == Some("11"));
    assert_eq!(up.received()[1].body, b"{}");
    front.shutdown();
}

#[test]
fn a_streamed_response_reaches_the_client_before_the_upstream_finishes() {
    let up = Upstream::start();
    let front = front(up.addr, Setup::default());
    let mut c = Client::connect(front.listen);
    c.send(&get("/gate", ""));
    let mut r = c.head();
    assert_eq!(r.status, 200);
    assert!(r.chunked);
    // The upstream holds "second" back until the client has "first": a front that buffered
    // the response would make this read time out.
    assert_eq!(c.chunk(&mut r).unwrap(), b"first\n");
    up.open_gate();
    assert_eq!(c.chunk(&mut r).unwrap(), b"second\n");
    assert!(c.chunk(&mut r).is_none());

    // Server-sent events arrive one by one.
    c.send(&get("/sse", "x-probe-log: sse\r\n"));
    let mut r = c.head();
    let mut events = Vec::new();
    while let Some(chunk) = c.chunk(&mut r) {
        events.push(String::from_utf8(chunk).unwrap());
    }
    assert_eq!(
        events,
        [
            "data: {\"n\":0}\n\n",
            "data: {\"n\":1}\n\n",
            "data: {\"n\":2}\n\n"
        ]
    );
    front.shutdown();
}

#[test]
fn trailers_added_by_the_filter_reach_clients_that_accept_them() {
    let up = Upstream::start();
    let front = front(up.addr, Setup::default());
    let mut c = Client::connect(front.listen);
    c.send(&post(
        "/x",
        "te: trailers\r\nx-probe-set-trailer: x-usage=42\r\n",
        "{}",
    ));
    let r = c.response();
    assert_eq!(r.status, 200);
    assert!(r.chunked, "trailers need chunked encoding");
    assert_eq!(r.body_str(), r#"{"ok":true}"#);
    assert_eq!(r.trailer("x-usage"), Some("42"));
    assert_eq!(up.received()[0].header("te"), None, "hop-by-hop");

    // A filter that keeps content-length cannot get trailers through: Envoy drops them.
    c.send(&post(
        "/x",
        "te: trailers\r\nx-probe-set-trailer: x-usage=42\r\nx-probe-keep-length: 1\r\n",
        "{}",
    ));
    let r = c.response();
    assert_eq!(r.body_str(), r#"{"ok":true}"#);
    assert!(!r.chunked && r.trailers.is_empty());

    // Without TE: trailers the trailers are dropped; the body is intact.
    c.send(&post("/x", "x-probe-set-trailer: x-usage=42\r\n", "{}"));
    let r = c.response();
    assert_eq!(r.body_str(), r#"{"ok":true}"#);
    assert!(r.trailers.is_empty());
    front.shutdown();
}

#[test]
fn a_local_reply_never_reaches_the_upstream() {
    let up = Upstream::start();
    let front = front(up.addr, Setup::default());
    let mut c = Client::connect(front.listen);
    c.send(&post("/x", "x-probe-local-reply: 429\r\n", "{}"));
    let r = c.response();
    assert_eq!(r.status, 429);
    assert_eq!(r.body_str(), "denied by probe");
    assert_eq!(r.header("x-probe-local"), Some("1"));
    assert_eq!(r.header("x-probe-saw-response-headers"), Some("429"));
    assert!(up.received().is_empty());

    // Answered before the request body arrived: the connection cannot be reused.
    c.send(b"POST /x HTTP/1.1\r\nHost: a\r\ncontent-length: 10\r\nx-probe-local-reply: 403\r\n\r\n12345");
    let r = c.response();
    assert_eq!(r.status, 403);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());
    assert!(up.received().is_empty());
    front.shutdown();
}

#[test]
fn an_unreachable_upstream_is_a_503_through_the_filter() {
    let front = front(closed_port(), Setup::default());
    let mut c = Client::connect(front.listen);
    c.send(&get("/x", ""));
    let r = c.response();
    assert_eq!(r.status, 503);
    assert!(
        r.body_str().starts_with("upstream connect error"),
        "{}",
        r.body_str()
    );
    assert_eq!(r.header("x-probe-saw-response-headers"), Some("503"));
    front.shutdown();
}

#[test]
fn a_client_that_goes_away_mid_response_still_gets_its_stream_logged() {
    let up = Upstream::start();
    let log = temp_file("disconnect.log");
    let setup = Setup {
        access_log: Some(log.clone()),
        ..Setup::default()
    };
    let front = front(up.addr, setup);
    let mut c = Client::connect(front.listen);
    c.send(&get("/gate", "x-probe-set-property: tollbooth=cut\r\n"));
    let mut r = c.head();
    assert_eq!(c.chunk(&mut r).unwrap(), b"first\n");
    drop(c);
    let line = eventually("the access log line", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["filter_state"]["wasm.tollbooth"], "cut");
    assert_eq!(v["reset"], "downstream_remote_disconnect");
    assert_eq!(v["status"], 200);
    up.open_gate();
    front.shutdown();
}
