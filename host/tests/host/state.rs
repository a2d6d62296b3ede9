//! Shared data, metrics, properties, filter state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tollbooth_host::{envoy_stat_name, MetricValue, Request, SharedData, SharedDataError};

use crate::support::*;

#[test]
fn shared_data_semantics() {
    let d = SharedData::new();
    assert_eq!(d.get("k"), None);
    let c1 = d.set("k", b"1", 0).unwrap();
    assert_ne!(c1, 0);
    let c2 = d.set("k", b"2", c1).unwrap();
    assert_ne!(c2, c1);
    assert_eq!(d.set("k", b"3", c1), Err(SharedDataError::CasMismatch));
    assert_eq!(d.get("k"), Some((b"2".to_vec(), c2)));
    d.set("a", b"", 0).unwrap();
    assert_eq!(d.keys(), vec!["a".to_owned(), "k".to_owned()]);
}

#[test]
fn filters_increment_shared_data_across_workers() {
    let mut host = host_with(opts(2), "");
    for w in [0, 1, 0, 1, 1] {
        let ex = host
            .roundtrip(
                w,
                &Request::get("/").header("x-probe-shared-incr", "hits"),
                echo(200, ""),
            )
            .unwrap();
        assert_eq!(ex.state_str("probe_shared_attempts").as_deref(), Some("1"));
    }
    assert_eq!(
        host.shared_data().get("hits").map(|(v, _)| v),
        Some(b"5".to_vec())
    );
}

#[test]
fn a_competing_write_between_get_and_set_makes_the_filter_retry() {
    let mut host = host();
    host.shared_data().set("budget", b"5", 0).unwrap();
    let fired = Arc::new(AtomicBool::new(false));
    let f = fired.clone();
    host.shared_data().on_get(move |key| {
        (key == "budget" && !f.swap(true, Ordering::SeqCst)).then(|| b"100".to_vec())
    });
    let ex = host
        .roundtrip(
            0,
            &Request::get("/").header("x-probe-shared-incr", "budget"),
            echo(200, ""),
        )
        .unwrap();
    assert!(fired.load(Ordering::SeqCst));
    assert_eq!(
        ex.state_str("probe_shared_attempts").as_deref(),
        Some("2"),
        "CasMismatch, then retry"
    );
    assert_eq!(
        host.shared_data().get("budget").map(|(v, _)| v),
        Some(b"101".to_vec())
    );
}

#[test]
fn a_first_write_is_unconditional() {
    // The SDK sets with cas 0 when the get found nothing, so a competing first write is lost.
    let mut host = host();
    host.shared_data().on_get(|_| Some(b"100".to_vec()));
    let ex = host
        .roundtrip(
            0,
            &Request::get("/").header("x-probe-shared-incr", "fresh"),
            echo(200, ""),
        )
        .unwrap();
    assert_eq!(ex.state_str("probe_shared_attempts").as_deref(), Some("1"));
    assert_eq!(
        host.shared_data().get("fresh").map(|(v, _)| v),
        Some(b"1".to_vec())
    );
}

#[test]
fn metrics_defined_in_two_workers_are_one_stat() {
    let mut host = host_with(opts(2), "");
    for w in [0, 1, 1] {
        host.roundtrip(
            w,
            &Request::get("/").header("x-probe-metric", "probe.requests"),
            echo(200, ""),
        )
        .unwrap();
    }
    assert_eq!(host.counter("probe.requests"), Some(3));
    assert_eq!(
        host.metrics().get("probe.requests"),
        Some(&MetricValue::Counter(3))
    );
    assert_eq!(
        envoy_stat_name("probe.requests"),
        "wasmcustom.probe.requests"
    );
    assert!(host
        .metrics_store()
        .envoy_snapshot()
        .contains_key("wasmcustom.probe.requests"));
}

#[test]
fn counter_increment_by_zero_is_bad_argument() {
    let mut host = host();
    let ex = host
        .roundtrip(
            0,
            &Request::get("/").header("x-probe-metric-incr", "probe.zero=0"),
            echo(200, ""),
        )
        .unwrap();
    assert_eq!(ex.state_str("probe_metric_status").as_deref(), Some("2"));
    assert_eq!(host.counter("probe.zero"), Some(0));
    let ex = host
        .roundtrip(
            0,
            &Request::get("/").header("x-probe-metric-incr", "probe.zero=5"),
            echo(200, ""),
        )
        .unwrap();
    assert_eq!(ex.state_str("probe_metric_status").as_deref(), Some("0"));
    assert_eq!(host.counter("probe.zero"), Some(5));
}

#[test]
fn gauges_and_histograms() {
    let mut host = host();
    let req = Request::get("/")
        .header("x-probe-gauge", "probe.inflight=7")
        .header("x-probe-histogram", "probe.tokens=30");
    host.roundtrip(0, &req, echo(200, "")).unwrap();
    let req = Request::get("/").header("x-probe-histogram", "probe.tokens=12");
    host.roundtrip(0, &req, echo(200, "")).unwrap();
    assert_eq!(host.gauge("probe.inflight"), Some(7));
    assert_eq!(host.histogram("probe.tokens"), Some(vec![30, 12]));
}

fn prop(host: &mut tollbooth_host::Host, name: &str) -> (Option<String>, Option<Vec<u8>>) {
    let req = Request::get("/v1/chat?x=1")
        .header("x-probe-property", name)
        .header("x-tenant", "acme");
    let ex = host.roundtrip(0, &req, echo(200, "")).unwrap();
    (
        ex.header("x-probe-property").map(str::to_owned),
        ex.state("probe_property").map(<[u8]>::to_vec),
    )
}

#[test]
fn properties_as_envoy_encodes_them() {
    let mut host = host();
    assert_eq!(
        prop(&mut host, "request.path").0.as_deref(),
        Some("/v1/chat?x=1")
    );
    assert_eq!(
        prop(&mut host, "request.url_path").0.as_deref(),
        Some("/v1/chat")
    );
    assert_eq!(prop(&mut host, "request.method").0.as_deref(), Some("GET"));
    assert_eq!(
        prop(&mut host, "request.host").0.as_deref(),
        Some("api.example.com")
    );
    assert_eq!(prop(&mut host, "request.scheme").0.as_deref(), Some("http"));
    assert_eq!(
        prop(&mut host, "request.protocol").0.as_deref(),
        Some("HTTP/1.1")
    );
    assert_eq!(
        prop(&mut host, "request.headers.x-tenant").0.as_deref(),
        Some("acme")
    );
    assert_eq!(prop(&mut host, "request.id").0.map(|v| v.len()), Some(36));
    assert_eq!(
        prop(&mut host, "source.address").0.as_deref(),
        Some("10.0.0.7:43210")
    );
    assert_eq!(
        prop(&mut host, "source.port").1,
        Some(43210i64.to_le_bytes().to_vec())
    );
    assert_eq!(
        prop(&mut host, "destination.port").1,
        Some(8080i64.to_le_bytes().to_vec())
    );
    assert_eq!(
        prop(&mut host, "plugin_name").0.as_deref(),
        Some("tollbooth")
    );
    assert_eq!(
        prop(&mut host, "plugin_root_id").0.as_deref(),
        Some("tollbooth")
    );
    assert_eq!(
        prop(&mut host, "plugin_vm_id").0.as_deref(),
        Some("tollbooth")
    );
    let node = host.options().node_id.clone();
    assert_eq!(prop(&mut host, "xds.node.id").0, Some(node.clone()));
    assert_eq!(prop(&mut host, "node.id").0, Some(node));
    assert_eq!(
        prop(&mut host, "no.such.thing").0.as_deref(),
        Some("<missing>")
    );

    host.clock().set(1_700_000_000_123_456_789);
    assert_eq!(
        prop(&mut host, "request.time").1,
        Some(1_700_000_000_123_456_789i64.to_le_bytes().to_vec())
    );
}

#[test]
fn request_attributes_follow_the_request_headers_lifetime() {
    let mut host = host();
    let req = Request::get("/p")
        .header("x-probe-resp-property", "request.path")
        .header("x-probe-log-property", "request.path");
    let ex = host.roundtrip(0, &req, echo(200, "")).unwrap();
    // Envoy evaluates request.* on the request headers the filter holds: gone once released ...
    assert_eq!(ex.header("x-probe-resp-property"), Some("<missing>"));
    // ... and back in the access-log phase.
    assert_eq!(ex.state_str("probe_log_property").as_deref(), Some("/p"));

    let req = Request::get("/p").header("x-probe-resp-property", "response.code");
    let ex = host.roundtrip(0, &req, echo(201, "")).unwrap();
    assert_eq!(
        ex.state("probe_resp_property"),
        Some(&201i64.to_le_bytes()[..])
    );
}

#[test]
fn set_property_is_filter_state_under_wasm_prefix() {
    let mut host = host();
    let ex = host
        .roundtrip(
            0,
            &Request::get("/").header("x-probe-set-property", "tollbooth.tenant=acme"),
            echo(200, ""),
        )
        .unwrap();
    assert_eq!(
        s(ex.filter_state
            .get("wasm.tollbooth.tenant")
            .map(Vec::as_slice))
        .as_deref(),
        Some("acme")
    );
    // get_property falls back to filter state for unknown names.
    let req = Request::get("/")
        .header("x-probe-set-property", "mine=v1")
        .header("x-probe-resp-property", "mine");
    let ex = host.roundtrip(0, &req, echo(200, "")).unwrap();
    assert_eq!(ex.header("x-probe-resp-property"), Some("v1"));
}
