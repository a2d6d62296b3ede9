//! `tollbooth-bench --spin <exchange> <seconds> [filter|passthrough]`: drives one exchange
//! through the filter in a loop, for a profiler (`perf record`, with the host's
//! `TOLLBOOTH_HOST_PERFMAP=1`) to look at. Prints the mean time per exchange.

use std::time::{Duration, Instant};

use crate::corpus;
use crate::traffic::{self, drive, Exchange};
use crate::{host, Settings};

/// The exchanges: `tiny` (a short chat, JSON response), `2k` (a 2 KB chat), `sse` (a stream
/// of 1000 chunks).
pub fn exchange(s: &Settings, name: &str) -> anyhow::Result<Exchange> {
    Ok(match name {
        "tiny" => traffic::json_exchange(traffic::chat_request("Hi", false), true),
        "2k" => {
            let prose = corpus::prose(&s.repo, s.scale.chat * 2)?;
            traffic::json_exchange(
                traffic::chat_request_of_size(&prose.text, s.scale.chat),
                true,
            )
        }
        "sse" => traffic::sse_exchange(s.scale.events),
        other => anyhow::bail!("unknown exchange {other} (tiny, 2k, sse)"),
    })
}

/// Runs `name` for `secs` seconds; returns the mean time per exchange and the count.
pub fn spin(s: &Settings, name: &str, secs: f64, pass: bool) -> anyhow::Result<(Duration, u64)> {
    let x = exchange(s, name)?;
    let mut h = if pass {
        host(&s.passthrough_wasm, "")?
    } else {
        host(&s.filter_wasm, traffic::FILTER_CONFIG)?
    };
    let limit = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < limit {
        drive(&mut h, &x)?;
        n += 1;
    }
    Ok((
        start.elapsed() / u32::try_from(n.max(1)).unwrap_or(u32::MAX),
        n,
    ))
}

/// The first exchange `name` on `n` fresh VMs against the steady state: (first total, first
/// request-body callback, steady total, steady request-body callback), medians.
pub fn first(s: &Settings, name: &str, n: usize, pass: bool) -> anyhow::Result<[Duration; 4]> {
    let x = exchange(s, name)?;
    let (wasm, config) = if pass {
        (&s.passthrough_wasm, "")
    } else {
        (&s.filter_wasm, traffic::FILTER_CONFIG)
    };
    let mut h = host(wasm, config)?;
    let (mut ft, mut fr, mut st, mut sr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n.max(1) {
        h.reload(config.as_bytes())?;
        let (t, _) = drive(&mut h, &x)?;
        ft.push(t.total);
        fr.push(t.request_end);
        for _ in 0..5 {
            let (t, _) = drive(&mut h, &x)?;
            st.push(t.total);
            sr.push(t.request_end);
        }
    }
    use crate::stats::median;
    Ok([
        median(&mut ft),
        median(&mut fr),
        median(&mut st),
        median(&mut sr),
    ])
}

/// Each step of the first exchange `name` on a fresh VM, then of the next one, in µs: open +
/// request headers, request body, response headers, response body, finish.
pub fn steps(s: &Settings, name: &str) -> anyhow::Result<Vec<[f64; 5]>> {
    let x = exchange(s, name)?;
    let mut h = host(&s.filter_wasm, traffic::FILTER_CONFIG)?;
    h.reload(traffic::FILTER_CONFIG.as_bytes())?;
    let mut out = Vec::new();
    let mut other = host(&s.filter_wasm, traffic::FILTER_CONFIG)?;
    for round in 0..4 {
        if round == 2 {
            // The same request with the CPU caches as cold as a VM start leaves them.
            other.reload(traffic::FILTER_CONFIG.as_bytes())?;
        }
        let len = x.request.len().to_string();
        let request_headers = [
            (":authority", "api.openai.com"),
            (":path", "/v1/chat/completions"),
            (":method", "POST"),
            ("content-type", "application/json"),
            ("authorization", "Bearer sk-bench"),
            ("content-length", len.as_str()),
        ];
        let mut t = Instant::now();
        let mut lap = || {
            let d = t.elapsed().as_secs_f64() * 1e6;
            t = Instant::now();
            d
        };
        let id = h.open(0)?;
        h.request_headers(id, request_headers, false)?;
        let a = lap();
        h.request_body(id, &x.request, true)?;
        let b = lap();
        h.response_headers(
            id,
            [(":status", "200"), ("content-type", x.response_type)],
            false,
        )?;
        let c = lap();
        let last = x.response.len().saturating_sub(1);
        for (i, chunk) in x.response.iter().enumerate() {
            h.response_body(id, chunk, i == last)?;
        }
        let d = lap();
        h.finish(id)?;
        let e = lap();
        out.push([a, b, c, d, e]);
    }
    Ok(out)
}
