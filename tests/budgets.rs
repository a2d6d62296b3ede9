//! Budgets through the real `tollbooth.wasm` on the Envoy-faithful host: several worker VMs
//! sharing one shared-data store, interleaved and truly concurrent requests, and the host's
//! controllable clock driving refills, window rollover and the expiry of leaked reservations.

use serde_json::{json, Value};
use std::time::Duration;
use tollbooth_host::Host;
use tollbooth_integration::*;

/// A configuration with the tenant named by `x-tenant`, one priced model, and `budgets`.
fn config(budgets: Value) -> String {
    json!({
        "tenant": {"header": "x-tenant"},
        "default_prices": false,
        "prices": {"gpt-4o-mini": {"input": "0.15", "output": "0.60"}},
        "budgets": budgets,
    })
    .to_string()
}

fn ask(tenant: &str, content: &str, max_tokens: u64) -> Request {
    chat(&json!({"model": "gpt-4o-mini", "max_tokens": max_tokens,
                 "messages": [{"role": "user", "content": content}]}))
    .header("x-tenant", tenant)
}

fn body(x: &Exchange) -> Value {
    serde_json::from_slice(&x.body).unwrap_or(Value::Null)
}

/// 24 requests opened round-robin on 4 workers, each body complete before any response: the
/// per-minute request limit admits exactly 10 whatever the interleaving.
#[test]
fn interleaved_requests_on_four_workers_admit_exactly_the_limit() {
    for mode in MODES {
        let cfg = config(json!({"tenants": {"acme": {"requests_per_minute": 10}}}));
        let mut host = host_at(mode, 4, &cfg);
        let payload = serde_json::to_vec(&json!({"model": "gpt-4o-mini", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]}))
        .unwrap();
        let mut ids = Vec::new();
        for i in 0..24 {
            let id = host.open(i % 4).unwrap();
            let headers = vec![
                (":method", "POST"),
                (":path", "/v1/chat/completions"),
                (":authority", "api.openai.com"),
                ("content-type", "application/json"),
                ("x-tenant", "acme"),
            ];
            host.request_headers(id, headers, false).unwrap();
            ids.push(id);
        }
        // Bodies arrive in another order than the headers did.
        for (n, id) in ids.iter().rev().enumerate() {
            let (a, b) = payload.split_at(n % payload.len());
            host.request_body(*id, a, false).unwrap();
            host.request_body(*id, b, true).unwrap();
        }
        let mut admitted = 0;
        for id in &ids {
            let view = host.stream(*id).unwrap();
            match view.local_reply {
                Some(r) => assert_eq!(r.status, 429, "{mode:?}"),
                None => {
                    assert!(view.upstream_complete, "{mode:?}");
                    admitted += 1;
                }
            }
        }
        assert_eq!(admitted, 10, "{mode:?}");
        assert_eq!(
            host.counter("tollbooth.tenant.acme.limit.requests_per_minute.refused_requests"),
            Some(14)
        );
    }
}

/// Four worker threads race on one tenant's budget with the clock stopped: exactly the limit
/// is admitted, and compare-and-swap races were lost and retried on the way.
#[test]
fn worker_threads_racing_on_one_budget_never_overshoot() {
    let mut lost = 0;
    for round in 0..5 {
        let cfg = config(json!({"tenants": {"*": {"requests_per_minute": 150}}}));
        let mut host = host_at(MODES[0], 4, &cfg);
        let tenant = format!("race-{round}");
        let workers = host.take_workers();
        let handles: Vec<_> = workers
            .into_iter()
            .map(|mut w| {
                let tenant = tenant.clone();
                std::thread::spawn(move || {
                    let mut ok = 0;
                    for _ in 0..60 {
                        let x = w
                            .roundtrip(&ask(&tenant, "hi", 5), |_| chat_answer(8, 5))
                            .unwrap();
                        match x.status {
                            200 => ok += 1,
                            429 => {}
                            s => panic!("status {s}"),
                        }
                    }
                    ok
                })
            })
            .collect();
        let admitted: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(admitted, 150, "round {round}: 240 requests, limit 150");
        lost = host.counter("tollbooth.budget.cas_retries").unwrap_or(0);
        eprintln!("round {round}: 150 of 240 admitted, {lost} compare-and-swap races lost");
        if lost > 0 {
            break;
        }
    }
    assert!(lost > 0, "no compare-and-swap race was lost in 5 rounds");
}

/// Sequential requests whose real prompt is 50 tokens longer than the filter's estimate: the
/// per-minute token limit is overshot by at most that one request's error.
#[test]
fn token_overshoot_is_bounded_by_one_requests_estimation_error() {
    for mode in MODES {
        let cfg = config(json!({"tenants": {"acme": {"tokens_per_minute": 1000}}}));
        let mut host = host_at(mode, 2, &cfg);
        let mut used = 0u64;
        let mut admitted = 0;
        for i in 0..20 {
            let x = host
                .roundtrip(i % 2, &ask("acme", "Say hello", 100), |up| {
                    let v: Value = serde_json::from_slice(&up.body).unwrap();
                    assert_eq!(v["max_tokens"], 100);
                    chat_answer(10 + 50, 100)
                })
                .unwrap();
            if x.status == 429 {
                break;
            }
            admitted += 1;
            used += 160;
        }
        assert!(used <= 1000 + 50, "{mode:?}: {used} tokens admitted");
        assert!(used > 1000 - 160, "{mode:?}: {used} tokens: under-admitted");
        assert!(admitted >= 5, "{mode:?}");
    }
}

/// A daily dollar budget: refused with the seconds to UTC midnight, admitted again after it.
#[test]
fn a_daily_budget_rolls_over_at_utc_midnight() {
    // gpt-4o-mini at $0.15 / $0.60 per million: 1000 in + 1000 out reserve $0.00075.
    let cfg = config(json!({"tenants": {"acme": {"usd_per_day": "0.002"}}}));
    let mut host = host_at(MODES[1], 2, &cfg);
    let day_end_s = 14 * 3600; // from 10:00 UTC
    let long = "word ".repeat(990);
    let mut admitted = 0;
    let refusal = loop {
        let x = host
            .roundtrip(0, &ask("acme", &long, 1000), |_| chat_answer(1000, 1000))
            .unwrap();
        if x.status == 429 {
            break x;
        }
        admitted += 1;
        assert!(admitted < 10);
    };
    assert_eq!(admitted, 2, "$0.00075 each against $0.002");
    assert_eq!(
        refusal.header("retry-after"),
        Some(day_end_s.to_string().as_str())
    );
    assert_eq!(refusal.header("x-should-retry"), Some("false"));
    assert_eq!(body(&refusal)["error"]["code"], "insufficient_quota");
    host.advance(Duration::from_secs(day_end_s - 1));
    let again = |host: &mut Host| {
        host.roundtrip(1, &ask("acme", &long, 1000), |_| chat_answer(1000, 1000))
            .unwrap()
            .status
    };
    assert_eq!(again(&mut host), 429, "23:59:59");
    host.advance(Duration::from_secs(1));
    assert_eq!(again(&mut host), 200, "00:00:00");
}

/// A request in flight when its VM goes away (a plugin reload) never settles: its reservation
/// holds the budget until it expires. The state survives the reload, and a changed limit
/// applies to the next request.
#[test]
fn a_leaked_reservation_expires_and_budgets_survive_a_reload() {
    let budgets = |limit: u64| {
        json!({"reservation_ttl_seconds": 60,
               "tenants": {"acme": {"tokens_per_day": limit}}})
    };
    let mut host = host_at(MODES[1], 2, &config(budgets(400)));
    let id = host.open(0).unwrap();
    let payload = serde_json::to_vec(&json!({"model": "gpt-4o-mini", "max_tokens": 200,
        "messages": [{"role": "user", "content": "hi"}]}))
    .unwrap();
    host.request_headers(
        id,
        vec![
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            ("content-type", "application/json"),
            ("x-tenant", "acme"),
        ],
        false,
    )
    .unwrap();
    host.request_body(id, &payload, true).unwrap();
    assert!(host.stream(id).unwrap().upstream_complete, "admitted");
    // The VMs are replaced mid-request: the reservation can never be settled.
    host.reload(config(budgets(400)).as_bytes()).unwrap();
    let x = host
        .roundtrip(1, &ask("acme", "hi", 200), |_| chat_answer(8, 1))
        .unwrap();
    assert_eq!(x.status, 429, "the leaked reservation still counts");
    // It expires within a reservation TTL (rounded up to 16 s).
    host.advance(Duration::from_secs(60 + 16));
    let x = host
        .roundtrip(1, &ask("acme", "hi", 200), |_| chat_answer(8, 2))
        .unwrap();
    assert_eq!(x.status, 200);
    let x = host
        .roundtrip(0, &ask("acme", "hi", 400), |_| chat_answer(8, 2))
        .unwrap();
    assert_eq!(x.status, 429, "10 used + 400 + the prompt asked, of 400");
    // A larger limit applies at once; what was used is kept.
    host.reload(config(budgets(100_000)).as_bytes()).unwrap();
    assert_eq!(
        host.roundtrip(0, &ask("acme", "hi", 200), |_| chat_answer(8, 2))
            .unwrap()
            .status,
        200
    );
    host.reload(config(budgets(15)).as_bytes()).unwrap();
    let x = host
        .roundtrip(0, &ask("acme", "hi", 1), |_| chat_answer(8, 2))
        .unwrap();
    assert_eq!(x.status, 429, "20 used today: nothing left of 15");
}

/// The tick sweeps subjects with nothing left to remember out of shared data.
#[test]
fn the_timer_sweeps_idle_subjects() {
    let cfg = config(json!({"slots": 1, "tenants": {"*": {"requests_per_minute": 60}}}));
    let mut host = host_at(MODES[0], 2, &cfg);
    let key = "tollbooth/v1/default/1/0";
    let empty = host.shared_data().get(key).unwrap().0;
    for t in ["a", "b", "c"] {
        assert_eq!(
            host.roundtrip(0, &ask(t, "hi", 5), |_| chat_answer(8, 5))
                .unwrap()
                .status,
            200
        );
    }
    let full = host.shared_data().get(key).unwrap().0;
    assert!(full.len() > empty.len() + 3 * 4, "three subjects stored");
    // One minute on, the buckets are full again and the day's tokens are all that is left;
    // the day after, nothing is.
    host.advance(Duration::from_secs(86_400));
    let after = host.shared_data().get(key).unwrap().0;
    assert_eq!(after, empty, "swept");
}

/// Refusals speak each provider's error format.
#[test]
fn refusals_speak_each_providers_format() {
    let cfg = config(json!({"tenants": {"*": {"requests_per_minute": 1}}}));
    let mut host = host_at(MODES[0], 1, &cfg);
    let cases = [
        (
            "/v1/chat/completions",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/v1/messages",
            json!({"model": "claude-3-5-haiku-latest", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/v1beta/models/gemini-2.0-flash:generateContent",
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
    ];
    for (i, (path, payload)) in cases.iter().enumerate() {
        let tenant = format!("t{i}");
        let r = Request::post(path, serde_json::to_vec(payload).unwrap())
            .header("content-type", "application/json")
            .header("x-tenant", &tenant);
        assert_eq!(
            host.roundtrip(0, &r, |_| json_ok(&json!({})))
                .unwrap()
                .status,
            200
        );
        let x = host.roundtrip(0, &r, |_| json_ok(&json!({}))).unwrap();
        assert_eq!(x.status, 429, "{path}");
        assert_eq!(x.header("retry-after"), Some("60"), "{path}");
        assert_eq!(x.header("retry-after-ms"), Some("60000"), "{path}");
        assert_eq!(
            x.header("x-should-retry"),
            None,
            "a rate limit is worth retrying"
        );
        let v = body(&x);
        let message = format!("Rate limit reached for tenant {tenant} on requests per minute: limit 1, used 1, requested 1. Please try again in 1m0s.");
        match i {
            0 => {
                assert_eq!(v["error"]["code"], "rate_limit_exceeded");
                assert_eq!(v["error"]["message"], message);
            }
            1 => {
                assert_eq!(v["type"], "error");
                assert_eq!(v["error"]["type"], "rate_limit_error");
                assert_eq!(v["error"]["message"], message);
            }
            _ => {
                assert_eq!(v["error"]["code"], 429);
                assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
                assert_eq!(v["error"]["message"], message);
            }
        }
    }
}

/// OpenAI's rate-limit headers on every metered response, JSON or stream, in both modes.
#[test]
fn rate_limit_headers_are_on_every_metered_response() {
    for mode in MODES {
        let cfg = config(
            json!({"tenants": {"acme": {"requests_per_minute": 60, "tokens_per_minute": 10000}}}),
        );
        let mut host = host_at(mode, 2, &cfg);
        let x = host
            .roundtrip(0, &ask("acme", "hi", 100), |_| chat_answer(8, 5))
            .unwrap();
        assert_eq!(x.header("x-ratelimit-limit-requests"), Some("60"));
        assert_eq!(x.header("x-ratelimit-remaining-requests"), Some("59"));
        assert_eq!(x.header("x-ratelimit-reset-requests"), Some("1s"));
        assert_eq!(x.header("x-ratelimit-limit-tokens"), Some("10000"));
        let remaining: u64 = x
            .header("x-ratelimit-remaining-tokens")
            .unwrap()
            .parse()
            .unwrap();
        // The reservation (estimate + 100) is settled to 13 only after the headers left.
        assert!(remaining < 10000 - 100, "{remaining}");
        let stream = Response::ok(include_bytes!("fixtures/sse/openai_chat_stream.sse").to_vec())
            .header("content-type", "text/event-stream");
        let mut r = ask("acme", "hi", 100);
        r.body = serde_json::to_vec(
            &json!({"model": "gpt-4o-mini", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .unwrap();
        let x = host.roundtrip(1, &r, |_| stream).unwrap();
        assert_eq!(
            x.header("x-ratelimit-remaining-requests"),
            Some("58"),
            "{mode:?}"
        );
        let next: u64 = x
            .header("x-ratelimit-remaining-tokens")
            .unwrap()
            .parse()
            .unwrap();
        assert!(next < remaining + 100, "{mode:?}");
    }
}

/// Shadow mode refuses nothing, and logs and counts what it would have refused.
#[test]
fn shadow_mode_counts_and_blocks_nothing() {
    let cfg = config(json!({"tenants": {"acme": {"requests_per_minute": 2, "shadow": true}}}));
    let mut host = host_at(MODES[0], 2, &cfg);
    for i in 0..5 {
        let x = host
            .roundtrip(i % 2, &ask("acme", "hi", 5), |_| chat_answer(8, 5))
            .unwrap();
        assert_eq!(x.status, 200);
    }
    assert_eq!(
        host.counter("tollbooth.tenant.acme.limit.requests_per_minute.shadow_refusals"),
        Some(3)
    );
    assert!(host.logs().iter().any(|l| l
        .message
        .contains("shadow budget: Rate limit reached for tenant acme")));
}

/// The third identical conversation tail in a run is refused; a new tail passes.
#[test]
fn a_looping_run_is_stopped() {
    let cfg = config(json!({"runs": {"header": "x-agent-run-id"},
                             "loops": {"threshold": 3, "window_seconds": 60}}));
    let mut host = host_at(MODES[0], 2, &cfg);
    let step = |history: &str, last: &str| {
        chat(&json!({"model": "gpt-4o-mini", "messages": [
            {"role": "user", "content": history},
            {"role": "assistant", "content": "calling the tool"},
            {"role": "tool", "content": last}]}))
        .header("x-tenant", "acme")
        .header("x-agent-run-id", "run-7")
    };
    for (i, history) in ["plan a trip", "plan a trip again"].iter().enumerate() {
        let x = host
            .roundtrip(i, &step(history, "error: timeout"), |_| chat_answer(8, 5))
            .unwrap();
        assert_eq!(x.status, 200);
    }
    let x = host
        .roundtrip(0, &step("and again", "error: timeout"), |_| {
            chat_answer(8, 5)
        })
        .unwrap();
    assert_eq!(x.status, 429);
    let v = body(&x);
    assert!(v["error"]["message"].as_str().unwrap().starts_with(
        "Loop detected: the same conversation was sent 3 times within 60s by tenant acme, run run-7."
    ));
    assert_eq!(x.header("x-should-retry"), Some("false"));
    assert_eq!(
        host.counter("tollbooth.tenant.acme.limit.loop.refused_requests"),
        Some(1)
    );
    let x = host
        .roundtrip(1, &step("and again", "result: 42"), |_| chat_answer(8, 5))
        .unwrap();
    assert_eq!(x.status, 200, "a new tail");
}

/// A request asking for more output than the tenant's tokens per minute leave is clamped: the
/// upstream receives the lower max_tokens, with a body length that matches.
#[test]
fn max_tokens_are_clamped_to_what_the_budget_leaves() {
    for mode in MODES {
        let cfg = config(
            json!({"tenants": {"acme": {"tokens_per_minute": 1000, "clamp_max_tokens": true}}}),
        );
        let mut host = host_at(mode, 1, &cfg);
        let r = ask("acme", "hi", 5000);
        let mut seen = None;
        let x = host
            .roundtrip(0, &r, |up| {
                seen = Some(up.clone());
                chat_answer(8, 5)
            })
            .unwrap();
        assert_eq!(x.status, 200, "{mode:?}");
        let up = seen.unwrap();
        let v: Value = serde_json::from_slice(&up.body).unwrap();
        let clamped = v["max_tokens"].as_u64().unwrap();
        assert!(clamped < 1000 && clamped > 900, "{mode:?}: {clamped}");
        assert_eq!(up.header("content-length"), None, "{mode:?}: sent chunked");
    }
}

/// Goodput: a truncated answer is waste, a stop is good.
#[test]
fn goodput_splits_good_answers_from_waste() {
    let cfg = config(json!({"tenants": {"acme": {}}}));
    let mut host = host_at(MODES[0], 1, &cfg);
    host.roundtrip(0, &ask("acme", "hi", 5), |_| chat_answer(8, 5))
        .unwrap();
    let cut = json_ok(&json!({"model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "o"}}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13}}));
    host.roundtrip(0, &ask("acme", "hi", 5), |_| cut).unwrap();
    host.roundtrip(0, &ask("acme", "hi", 5), |_| {
        Response::new(500).body("oops")
    })
    .unwrap();
    let c = |n: &str| host.counter(&format!("tollbooth.tenant.acme.outcome.{n}"));
    assert_eq!(c("good.goodput_requests"), Some(1));
    assert_eq!(c("length.goodput_requests"), Some(1));
    assert_eq!(c("error.goodput_requests"), Some(1));
    // 8 × $0.15 + 5 × $0.60 per million = $0.0000042 → 4 micro-USD (with carry).
    assert_eq!(c("good.goodput_cost_micro_usd"), Some(4));
    assert_eq!(
        host.gauge("tollbooth.tenant.acme.cost_per_good_request_micro_usd"),
        Some(4)
    );
}
