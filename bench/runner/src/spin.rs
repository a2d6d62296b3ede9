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
pub fn first(s: &Settings, name: &str, n: usize) -> anyhow::Result<[Duration; 4]> {
    let x = exchange(s, name)?;
    let mut h = host(&s.filter_wasm, traffic::FILTER_CONFIG)?;
    let (mut ft, mut fr, mut st, mut sr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n.max(1) {
        h.reload(traffic::FILTER_CONFIG.as_bytes())?;
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
