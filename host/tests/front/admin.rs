//! Workers, the admin endpoints and the access log.

use std::collections::BTreeSet;

use crate::support::*;

#[test]
fn connections_are_spread_over_the_workers() {
    let up = Upstream::start();
    let log = temp_file("workers.log");
    let setup = Setup {
        access_log: Some(log.clone()),
        ..Setup::default()
    };
    let front = front(up.addr, setup);
    let mut clients: Vec<Client> = (0..4).map(|_| Client::connect(front.listen)).collect();
    for c in &mut clients {
        c.send(&get("/x", ""));
    }
    for c in &mut clients {
        assert_eq!(c.response().status, 200);
    }
    let lines = eventually("four access log lines", || {
        let text = std::fs::read_to_string(&log).ok()?;
        (text.lines().count() == 4).then_some(text)
    });
    let workers: BTreeSet<u64> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["worker"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        workers,
        BTreeSet::from([0, 1]),
        "round-robin over two workers"
    );
    front.shutdown();
}

#[test]
fn stats_show_the_filter_metrics_as_envoy_names_them() {
    let up = Upstream::start();
    let front = front(up.addr, Setup::default());
    let mut c = Client::connect(front.listen);
    for _ in 0..2 {
        c.send(&get(
            "/x",
            "x-probe-metric: probe.hits\r\nx-probe-gauge: probe.level=7\r\nx-probe-histogram: probe.ms=30\r\n",
        ));
        assert_eq!(c.response().status, 200);
    }
    let text = admin_get(&front, "/stats");
    assert_eq!(text.status, 200);
    let body = text.body_str();
    assert!(body.contains("wasmcustom.probe.hits: 2\n"), "{body}");
    assert!(body.contains("wasmcustom.probe.level: 7\n"), "{body}");
    assert!(
        body.contains("wasmcustom.probe.ms: P0(30,30) P25(30,30)"),
        "{body}"
    );
    let names: Vec<&str> = body.lines().map(|l| l.split(':').next().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    let json: serde_json::Value =
        serde_json::from_str(&admin_get(&front, "/stats?format=json").body_str()).unwrap();
    let stats = json["stats"].as_array().unwrap();
    assert!(stats.contains(&serde_json::json!({"name": "wasmcustom.probe.hits", "value": 2})));

    let prom = admin_get(&front, "/stats/prometheus").body_str();
    assert!(prom.contains("envoy_wasmcustom_probe_hits{} 2\n"), "{prom}");
    assert_eq!(admin_get(&front, "/ready").body_str(), "LIVE\n");
    assert!(admin_get(&front, "/logs")
        .body_str()
        .contains("[info] probe: configured"));
    assert_eq!(admin_get(&front, "/nope").status, 404);
    front.shutdown();
}

#[test]
fn the_access_log_has_one_json_line_per_stream_with_the_filter_state() {
    let up = Upstream::start();
    let log = temp_file("access.log");
    let setup = Setup {
        access_log: Some(log.clone()),
        ..Setup::default()
    };
    let front = front(up.addr, setup);
    let mut c = Client::connect(front.listen);
    c.send(&post(
        "/v1/chat/completions?q=1",
        "x-probe-set-property: tollbooth={\"cost_usd\":\"0.5\",\"tokens\":3}\r\n",
        "{\"model\":\"m\"}",
    ));
    assert_eq!(c.response().status, 200);
    let line = eventually("the access log line", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/v1/chat/completions?q=1");
    assert_eq!(v["status"], 200);
    assert_eq!(v["request_bytes"], 13);
    assert_eq!(v["response_bytes"], 11);
    assert!(v["duration_ms"].is_u64());
    assert!(v["worker"].is_u64());
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    let state = &v["filter_state"]["wasm.tollbooth"];
    assert_eq!(state["tokens"], 3, "parsed as JSON: {line}");
    assert_eq!(state["cost_usd"], "0.5");
    front.shutdown();
}
