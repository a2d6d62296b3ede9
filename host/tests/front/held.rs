//! Streams the filter holds: resumed from a tick on the worker's real-time clock, or ended by
//! Envoy's stream idle timeout; and `allow_on_headers_stop_iteration`.

use std::time::{Duration, Instant};

use crate::support::*;

#[test]
fn a_tick_resumes_a_held_request_on_real_time() {
    let up = Upstream::start();
    let setup = Setup {
        config: "tick_ms=200".into(),
        ..Setup::default()
    };
    let front = front(up.addr, setup);
    let start = Instant::now();
    let mut c = Client::connect(front.listen);
    c.send(&post("/x", "x-probe-pause-headers: 1\r\n", "{\"a\":1}"));
    let r = c.response();
    // Only a tick resumes the request: the idle timeout is 5 minutes.
    assert_eq!(r.status, 200);
    assert!(start.elapsed() < Duration::from_secs(5));
    let got = up.received();
    assert_eq!(got[0].body, b"{\"a\":1}");
    assert!(front.host().counter("probe.ticks").unwrap_or(0) >= 1);
    front.shutdown();
}

#[test]
fn a_request_held_forever_gets_envoys_idle_timeout() {
    let up = Upstream::start();
    let setup = Setup {
        idle_timeout: Duration::from_millis(300),
        ..Setup::default()
    };
    let front = front(up.addr, setup);
    let mut c = Client::connect(front.listen);
    c.send(&post("/x", "x-probe-pause-headers: 1\r\n", "{}"));
    let r = c.response();
    assert_eq!(r.status, 408);
    assert_eq!(r.body_str(), "stream timeout");
    assert!(up.received().is_empty());
    front.shutdown();
}

#[test]
fn with_allow_on_headers_stop_iteration_body_callbacks_may_still_change_the_headers() {
    let up = Upstream::start();
    let setup = Setup {
        config: "tick_ms=100".into(),
        allow_mode: true,
        ..Setup::default()
    };
    let front = front(up.addr, setup);
    let mut c = Client::connect(front.listen);
    c.send(&post("/x", "x-probe-pause-headers: 1\r\n", "{\"a\":1}"));
    assert_eq!(c.response().status, 200);
    let got = up.received();
    assert_eq!(got[0].header("x-probe-body-seen"), Some("7"));
    assert_eq!(got[0].body, b"{\"a\":1}");
    front.shutdown();
}
