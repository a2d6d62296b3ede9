//! Per-request and per-event overhead of the filter over the pass-through module, a 10 KB
//! prompt end to end, and the host's throughput with each.

use std::time::{Duration, Instant};

use tollbooth_host::{Host, Request, Response};

use crate::corpus;
use crate::gateway;
use crate::stats::{diff, human, interleaved, Probe};
use crate::traffic::{self, check_metered, check_passed, drive, Exchange};
use crate::{Report, Row, Settings};

pub fn figures(s: &Settings, f: &mut Host, p: &mut Host, r: &mut Report) -> anyhow::Result<()> {
    let prose = corpus::prose(&s.repo, s.scale.e2e.max(s.scale.chat) * 2)?;
    fixed(s, f, p, &prose.text, r)?;
    sse(s, f, p, r)?;
    end_to_end(s, f, p, &prose.text, r)?;
    throughput(s, f, p, r)
}

/// A 2 KB chat request with a JSON response. Everything the filter adds is (filter −
/// pass-through); the part that grows with the prompt (JSON and tokenization of the prompt) is
/// what the 2 KB request costs more than a tiny one, beyond what it costs the pass-through;
/// the rest is the fixed overhead.
fn fixed(
    s: &Settings,
    f: &mut Host,
    p: &mut Host,
    text: &str,
    r: &mut Report,
) -> anyhow::Result<()> {
    let tiny = traffic::json_exchange(traffic::chat_request("Hi", false), true);
    let two_k = traffic::json_exchange(traffic::chat_request_of_size(text, s.scale.chat), true);
    check_metered(&drive(f, &two_k)?.1, "provider", 1)?;
    check_passed(&drive(p, &two_k)?.1)?;
    let [f_tiny, p_tiny, f_2k, p_2k] = both_twice(s, f, p, &tiny, &two_k)?;
    let total = diff(f_2k, p_2k);
    let prompt = diff(f_2k, f_tiny) - diff(p_2k, p_tiny);
    let fixed = total - prompt;
    let size = two_k.request.len();
    r.rows.push(Row::info(
        "overhead_total",
        format!("filter − pass-through, {size} B chat request + JSON response, all included"),
        human(total),
    ));
    r.rows.push(Row::info(
        "overhead_prompt",
        "  of which the prompt's size (tokenizing + parsing it): (2 KB − tiny), filter − pass-through",
        human(prompt),
    ));
    r.rows.push(Row::at_most(
        "overhead_fixed",
        "  fixed filter overhead, tokenization excluded (= tiny-prompt filter − pass-through)",
        fixed * 1e6,
        human(fixed),
        20.0,
        "≤ 20 µs",
    ));
    Ok(())
}

/// Probes on one host that take turns (each probe borrows the host only while it runs).
pub(crate) struct Turns<'h> {
    host: std::rc::Rc<std::cell::RefCell<&'h mut Host>>,
}

impl<'h> Turns<'h> {
    pub(crate) fn new(host: &'h mut Host) -> Self {
        Turns {
            host: std::rc::Rc::new(std::cell::RefCell::new(host)),
        }
    }

    pub(crate) fn probe<'a>(&mut self, x: &'a Exchange) -> Probe<'a>
    where
        'h: 'a,
    {
        let host = self.host.clone();
        Box::new(move || Ok(drive(&mut host.borrow_mut(), x)?.0.total))
    }

    /// A probe timing only the request body callback with `end_of_stream`.
    pub(crate) fn request_end<'a>(&mut self, x: &'a Exchange) -> Probe<'a>
    where
        'h: 'a,
    {
        let host = self.host.clone();
        Box::new(move || Ok(drive(&mut host.borrow_mut(), x)?.0.request_end))
    }
}

/// Medians of exchanges `a` and `b`, each through the filter and the pass-through, measured
/// interleaved: `[filter a, pass-through a, filter b, pass-through b]`.
fn both_twice(
    s: &Settings,
    f: &mut Host,
    p: &mut Host,
    a: &Exchange,
    b: &Exchange,
) -> anyhow::Result<[Duration; 4]> {
    let (mut fh, mut ph) = (Turns::new(f), Turns::new(p));
    let mut probes = vec![fh.probe(a), ph.probe(a), fh.probe(b), ph.probe(b)];
    let m = interleaved(s.scale.light, &mut probes)?;
    let [fa, pa, fb, pb] = m[..] else {
        anyhow::bail!("four medians expected");
    };
    Ok([fa, pa, fb, pb])
}

/// Per SSE event: the slope between a long and a short stream, filter − pass-through.
fn sse(s: &Settings, f: &mut Host, p: &mut Host, r: &mut Report) -> anyhow::Result<()> {
    let n = s.scale.events;
    let n0 = (n / 100).max(1);
    let long = traffic::sse_exchange(n);
    let short = traffic::sse_exchange(n0);
    check_metered(&drive(f, &long)?.1, "provider", 1)?;
    check_passed(&drive(p, &long)?.1)?;
    let [f_long, p_long, f_short, p_short] = both_twice(s, f, p, &long, &short)?;
    let per_event = (diff(f_long, p_long) - diff(f_short, p_short)) / (n - n0) as f64;
    r.rows.push(Row::at_most(
        "sse_event",
        format!("per SSE event, filter − pass-through (slope {n0} → {n} chat chunks, one per body callback)"),
        per_event * 1e6,
        human(per_event),
        2.0,
        "≤ 2 µs",
    ));
    Ok(())
}

/// A 10 KB prompt, JSON response with usage: the whole stream through the filter.
fn end_to_end(
    s: &Settings,
    f: &mut Host,
    p: &mut Host,
    text: &str,
    r: &mut Report,
) -> anyhow::Result<()> {
    let mut n = s.scale.e2e.min(text.len());
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    let x = traffic::json_exchange(
        traffic::chat_request(text.get(..n).unwrap_or(""), false),
        true,
    );
    check_metered(&drive(f, &x)?.1, "provider", 1)?;
    let m = {
        let (mut fh, mut ph) = (Turns::new(f), Turns::new(p));
        let mut probes = vec![fh.probe(&x), ph.probe(&x)];
        interleaved(s.scale.light, &mut probes)?
    };
    let [t, tp] = m[..] else {
        anyhow::bail!("two medians expected");
    };
    r.rows.push(Row::at_most(
        "e2e_10k",
        format!("{n} B prompt metered end to end (whole stream through the host, JSON response)"),
        t.as_secs_f64() * 1e3,
        format!(
            "{} (pass-through {})",
            human(t.as_secs_f64()),
            human(tp.as_secs_f64())
        ),
        1.0,
        "< 1 ms",
    ));
    Ok(())
}

/// Gateway throughput, the target's figure: the host's HTTP front with the filter against the
/// same front with the pass-through module (see [`crate::gateway`]), small chat requests from
/// keep-alive clients, rounds alternating the two.
fn throughput(s: &Settings, f: &mut Host, p: &mut Host, r: &mut Report) -> anyhow::Result<()> {
    let prose = corpus::prose(&s.repo, 4_096)?;
    let body = traffic::chat_request_of_size(&prose.text, 300);
    let upstream = gateway::Upstream::start(traffic::chat_response(true))?;
    let load = gateway::Load {
        workers: 2,
        clients: s.scale.gateway_clients,
        duration: Duration::from_millis(s.scale.gateway_ms) / s.scale.gateway_rounds.max(1),
    };
    let (mut filter, mut pass) = ((0u64, 0.0), (0u64, 0.0));
    for round in 0..s.scale.gateway_rounds.max(1) {
        for with_filter in [round % 2 == 0, round % 2 == 1] {
            let (wasm, config) = if with_filter {
                (&s.filter_wasm, traffic::FILTER_CONFIG)
            } else {
                (&s.passthrough_wasm, "")
            };
            let (rate, front) = gateway::measure(wasm, config, upstream.addr, &body, load)?;
            let secs = rate.requests as f64 / rate.per_second.max(1e-9);
            if with_filter {
                let metered = gateway::metered(&front);
                anyhow::ensure!(
                    metered >= rate.requests,
                    "the filter metered {metered} of {} requests",
                    rate.requests
                );
                filter = (filter.0 + rate.requests, filter.1 + secs);
            } else {
                pass = (pass.0 + rate.requests, pass.1 + secs);
            }
            front.shutdown();
        }
    }
    let rf = filter.0 as f64 / filter.1.max(1e-9);
    let rp = pass.0 as f64 / pass.1.max(1e-9);
    let ratio = rf / rp * 100.0;
    r.rows.push(Row::at_least(
        "throughput",
        format!(
            "gateway throughput with the filter / with pass-through: host's HTTP front, 2 workers, {} keep-alive clients, {} B chat + JSON response, mock upstream, all on 127.0.0.1",
            load.clients,
            body.len()
        ),
        ratio,
        format!("{ratio:.0} % ({rf:.0} vs {rp:.0} req/s)"),
        90.0,
        "≥ 90 %",
    ));
    in_process(s, f, p, r)
}

/// Roundtrips per second for a tiny chat request, in-process on one thread, in alternating
/// slices of each host. For information: with no network, HTTP or scheduling around it the
/// pass-through costs a few µs per exchange, so the ratio only restates the fixed overhead.
fn in_process(s: &Settings, f: &mut Host, p: &mut Host, r: &mut Report) -> anyhow::Result<()> {
    let req = Request::post("/v1/chat/completions", traffic::chat_request("Hi", false))
        .header("content-type", "application/json");
    let resp =
        Response::ok(traffic::chat_response(true)).header("content-type", "application/json");
    let slices = 5u32;
    let slice = Duration::from_millis(s.scale.throughput_ms) / slices;
    let run = |h: &mut Host| -> anyhow::Result<(u64, Duration)> {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < slice || n == 0 {
            let x = h.roundtrip(0, &req, |_| resp.clone())?;
            anyhow::ensure!(x.status == 200 && x.vm_error.is_none(), "roundtrip failed");
            n += 1;
        }
        Ok((n, start.elapsed()))
    };
    let (mut nf, mut tf, mut np, mut tp) = (0, Duration::ZERO, 0, Duration::ZERO);
    for _ in 0..slices {
        let (n, t) = run(f)?;
        nf += n;
        tf += t;
        let (n, t) = run(p)?;
        np += n;
        tp += t;
    }
    let rf = nf as f64 / tf.as_secs_f64();
    let rp = np as f64 / tp.as_secs_f64();
    let ratio = rf / rp * 100.0;
    r.rows.push(Row::info(
        "throughput_inprocess",
        "  in-process only (Host::roundtrip, 1 thread, tiny chat; no network or HTTP: the pass-through costs a few µs, so this restates the fixed overhead)",
        format!("{ratio:.0} % ({rf:.0} vs {rp:.0} req/s)"),
    ));
    Ok(())
}
