//! The admin listener, a small part of Envoy's: `/stats` (text, `?format=json`),
//! `/stats/prometheus`, `/ready` and `/logs` (the last filter log lines).
//!
//! Only the filter's metrics exist here, under Envoy's `wasmcustom.` prefix. Histograms show
//! as Envoy's text format does (`P0(interval,cumulative) ...`, computed over every recorded
//! value, so both numbers are the same) and in the JSON `histograms` entry; Prometheus gets
//! their `_sum`, `_count` and a single `+Inf` bucket.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::{LogSink, MetricValue, Metrics};

const QUANTILES: [f64; 10] = [0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 100.0];
const LOG_LINES: usize = 200;

#[derive(Clone)]
pub(crate) struct Admin {
    pub metrics: Arc<Metrics>,
    pub logs: Arc<LogSink>,
}

fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(values: &[u64]) -> Vec<u64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v
}

fn q_label(q: f64) -> String {
    format!("P{q}")
}

pub(crate) fn stats_text(metrics: &Metrics) -> String {
    let mut out = String::new();
    for (name, value) in metrics.envoy_snapshot() {
        let shown = match value {
            MetricValue::Counter(v) | MetricValue::Gauge(v) => v.to_string(),
            MetricValue::Histogram(h) if h.is_empty() => "No recorded values".to_owned(),
            MetricValue::Histogram(h) => {
                let s = sorted(&h);
                QUANTILES
                    .iter()
                    .map(|q| {
                        let v = quantile(&s, *q);
                        format!("{}({v},{v})", q_label(*q))
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        out.push_str(&format!("{name}: {shown}\n"));
    }
    out
}

pub(crate) fn stats_json(metrics: &Metrics) -> Value {
    let mut stats = Vec::new();
    let mut computed = Vec::new();
    for (name, value) in metrics.envoy_snapshot() {
        match value {
            MetricValue::Counter(v) | MetricValue::Gauge(v) => {
                stats.push(json!({"name": name, "value": v}))
            }
            MetricValue::Histogram(h) => {
                let s = sorted(&h);
                let values: Vec<Value> = QUANTILES
                    .iter()
                    .map(|q| {
                        let v = (!s.is_empty()).then(|| quantile(&s, *q));
                        json!({"interval": v, "cumulative": v})
                    })
                    .collect();
                computed.push(json!({"name": name, "values": values}));
            }
        }
    }
    if !computed.is_empty() {
        stats.push(json!({"histograms": {
            "supported_quantiles": QUANTILES,
            "computed_quantiles": computed,
        }}));
    }
    json!({ "stats": stats })
}

/// Envoy's Prometheus names: `envoy_` and the stat name with every other character `_`.
fn prom_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("envoy_{clean}")
}

pub(crate) fn stats_prometheus(metrics: &Metrics) -> String {
    let mut out = String::new();
    for (name, value) in metrics.envoy_snapshot() {
        let n = prom_name(&name);
        match value {
            MetricValue::Counter(v) => out.push_str(&format!("# TYPE {n} counter\n{n}{{}} {v}\n")),
            MetricValue::Gauge(v) => out.push_str(&format!("# TYPE {n} gauge\n{n}{{}} {v}\n")),
            MetricValue::Histogram(h) => {
                let sum: u64 = h.iter().sum();
                let count = h.len();
                out.push_str(&format!(
                    "# TYPE {n} histogram\n{n}_bucket{{le=\"+Inf\"}} {count}\n\
                     {n}_sum{{}} {sum}\n{n}_count{{}} {count}\n"
                ));
            }
        }
    }
    out
}

fn logs_text(logs: &LogSink) -> String {
    let entries = logs.entries();
    let skip = entries.len().saturating_sub(LOG_LINES);
    entries
        .iter()
        .skip(skip)
        .map(|e| format!("[worker {}] [{}] {}\n", e.worker, e.level.name(), e.message))
        .collect()
}

fn respond(admin: &Admin, method: &http::Method, uri: &http::Uri) -> (u16, &'static str, String) {
    const TEXT: &str = "text/plain; charset=UTF-8";
    if method != http::Method::GET && method != http::Method::HEAD {
        return (405, TEXT, "method not allowed\n".to_owned());
    }
    let query = uri.query().unwrap_or("");
    let json = query.split('&').any(|kv| kv == "format=json");
    match uri.path() {
        "/stats" if json => (
            200,
            "application/json",
            stats_json(&admin.metrics).to_string(),
        ),
        "/stats" => (200, TEXT, stats_text(&admin.metrics)),
        "/stats/prometheus" => (
            200,
            "text/plain; version=0.0.4",
            stats_prometheus(&admin.metrics),
        ),
        "/ready" => (200, TEXT, "LIVE\n".to_owned()),
        "/logs" => (200, TEXT, logs_text(&admin.logs)),
        _ => (404, TEXT, "not found\n".to_owned()),
    }
}

/// Serves the admin endpoints until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, admin: Admin) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let admin = admin.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let (status, ctype, body) = respond(&admin, req.method(), req.uri());
                let resp = http::Response::builder()
                    .status(status)
                    .header(http::header::CONTENT_TYPE, ctype)
                    .body(Full::new(Bytes::from(body)))
                    .unwrap_or_default();
                async move { Ok::<_, Infallible>(resp) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_names() {
        let s = sorted(&[5, 1, 3, 2, 4]);
        assert_eq!(quantile(&s, 0.0), 1);
        assert_eq!(quantile(&s, 50.0), 3);
        assert_eq!(quantile(&s, 100.0), 5);
        assert_eq!(q_label(99.5), "P99.5");
        assert_eq!(q_label(25.0), "P25");
        assert_eq!(
            prom_name("wasmcustom.tollbooth.model.gpt-4o.requests"),
            "envoy_wasmcustom_tollbooth_model_gpt_4o_requests"
        );
    }
}
