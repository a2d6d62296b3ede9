use super::*;
use crate::config::Config;
use crate::fake::FakeHost;
use crate::providers::errors::Refusal;
use crate::quota::Demand;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

// 2026-11-22T10:00:00Z.
pub(super) const T0: u64 = 1_795_341_600_000;

pub(super) fn budgets(json: &str) -> Budgets {
    let doc = format!(r#"{{"attributes": {{"team": "x-team"}}, "budgets": {json}}}"#);
    Config::parse(doc.as_bytes()).unwrap().budgets.unwrap()
}

/// $2.50 / $10 per million tokens (2_500_000 and 10_000_000 pico-USD per token) for
/// `big`, a tenth of that for `small`.
pub(super) fn price(model: &str) -> Option<(u64, u64)> {
    match model {
        "big" => Some((2_500_000, 10_000_000)),
        "small" => Some((250_000, 1_000_000)),
        _ => None,
    }
}

pub(super) fn ask<'a>(tenant: &'a str, input: u64, max_tokens: Option<u64>) -> Ask<'a> {
    Ask {
        tenant,
        attributes: &[],
        run: None,
        fingerprint: None,
        model: "big",
        input_tokens: input,
        max_tokens,
        price: &price,
        rewritable: true,
        model_rewritable: true,
    }
}

pub(super) fn vm(shared: &FakeHost, b: &Budgets) -> FakeHost {
    let mut h = FakeHost {
        shared: shared.shared.clone(),
        ..FakeHost::default()
    };
    crate::quota::create_slots(&mut h, &b.namespace, b.slots).unwrap();
    h
}

pub(super) fn admitted(v: Verdict) -> Admitted {
    match v {
        Verdict::Admit(a) => a,
        other => panic!("expected admission, got {other:?}"),
    }
}

pub(super) fn refused(v: Verdict) -> Refused {
    match v {
        Verdict::Refuse(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn requests_per_minute_admit_exactly_the_limit_then_say_when() {
    let b = budgets(r#"{"tenants": {"acme": {"requests_per_minute": 3}}}"#);
    let mut h = vm(&FakeHost::default(), &b);
    for i in 0..3 {
        let a = admitted(admit(&mut h, &b, &ask("acme", 10, Some(10)), T0));
        let view = a.view.requests.unwrap();
        assert_eq!((view.limit, view.remaining), (3, 2 - i));
    }
    let r = refused(admit(&mut h, &b, &ask("acme", 10, Some(10)), T0));
    assert_eq!(
        (r.why, r.status, r.limit),
        (Refusal::RateLimit, 429, "requests_per_minute")
    );
    // Three per minute: one comes back every 20 s.
    assert_eq!(r.retry_after_ms, Some(20_000));
    assert!(
        r.message.starts_with("Rate limit reached for tenant acme on requests per minute: limit 3, used 3, requested 1."),
        "{}",
        r.message
    );
    // A tenant without a policy is not limited.
    admitted(admit(&mut h, &b, &ask("globex", 10, Some(10)), T0));
    admitted(admit(&mut h, &b, &ask("acme", 10, Some(10)), T0 + 20_000));
}

#[test]
fn the_default_policy_counts_each_unknown_tenant_apart() {
    let b = budgets(r#"{"tenants": {"*": {"requests_per_minute": 1}, "vip": {}}}"#);
    let mut h = vm(&FakeHost::default(), &b);
    admitted(admit(&mut h, &b, &ask("a", 1, Some(1)), T0));
    admitted(admit(&mut h, &b, &ask("b", 1, Some(1)), T0));
    refused(admit(&mut h, &b, &ask("a", 1, Some(1)), T0));
    for _ in 0..5 {
        admitted(admit(&mut h, &b, &ask("vip", 1, Some(1)), T0));
    }
}

#[test]
fn an_attribute_refusal_gives_back_the_tenant_reservation() {
    let b = budgets(
        r#"{"tenants": {"acme": {"requests_per_minute": 2}},
            "attributes": {"team": {"search": {"tokens_per_day": 150}}}}"#,
    );
    let mut h = vm(&FakeHost::default(), &b);
    let attrs = [("team".to_string(), "search".to_string())];
    let a = Ask {
        attributes: &attrs,
        ..ask("acme", 50, Some(50))
    };
    admitted(admit(&mut h, &b, &a, T0));
    let r = refused(admit(&mut h, &b, &a, T0));
    assert_eq!((r.why, r.limit), (Refusal::Quota, "tokens_per_day"));
    assert!(r.message.contains("team search"), "{}", r.message);
    // 10:00 UTC: the day ends in 14 h.
    assert_eq!(r.retry_after_ms, Some(14 * 3_600_000));
    // The refused request's tenant reservation was cancelled: one request left this minute.
    let without_team = ask("acme", 1, Some(1));
    admitted(admit(&mut h, &b, &without_team, T0));
    refused(admit(&mut h, &b, &without_team, T0));
}

#[test]
fn dollars_per_day_use_the_worst_case_price_and_settle_to_the_actual() {
    // 1000 in + 1000 out of `big`: $0.0025 + $0.01 = $0.0125 reserved.
    let b = budgets(r#"{"tenants": {"acme": {"usd_per_day": "0.02"}}}"#);
    let mut h = vm(&FakeHost::default(), &b);
    let a = admitted(admit(&mut h, &b, &ask("acme", 1000, Some(1000)), T0));
    assert_eq!(a.holds[0].reservation.demand.nano_usd, 12_500_000);
    let r = refused(admit(&mut h, &b, &ask("acme", 1000, Some(1000)), T0));
    assert_eq!((r.why, r.limit), (Refusal::Quota, "usd_per_day"));
    assert!(
        r.message
            .contains("limit $0.02, used $0.0125, requested $0.0125"),
        "{}",
        r.message
    );
    // It used 100 output tokens: $0.0035. Now $0.0165 is left: another fits.
    let used = Demand {
        input: 1000,
        output: 100,
        nano_usd: 3_500_000,
    };
    let s = settle(
        &mut h,
        &b,
        "acme",
        &a.holds,
        &Outcome { used, good: true },
        T0 + 5000,
    );
    assert_eq!(s.micro_usd_per_good_request, Some(3500));
    admitted(admit(&mut h, &b, &ask("acme", 1000, Some(1000)), T0 + 5000));
}

#[test]
fn shadow_policies_admit_and_say_what_they_would_have_refused() {
    let b = budgets(
        r#"{"tenants": {"acme": {"requests_per_minute": 1, "shadow": true, "deny_models": ["big"]}}}"#,
    );
    let mut h = vm(&FakeHost::default(), &b);
    let first = admitted(admit(&mut h, &b, &ask("acme", 1, Some(1)), T0));
    assert_eq!(
        first.shadowed,
        vec![(
            "model",
            "Model big is not allowed for tenant acme.".to_string()
        )]
    );
    let second = admitted(admit(&mut h, &b, &ask("acme", 1, Some(1)), T0));
    assert_eq!(second.shadowed.len(), 2);
    assert_eq!(second.shadowed[1].0, "requests_per_minute");
    assert!(second.shadowed[1].1.starts_with("Rate limit reached"));
    assert_eq!(second.view.requests.unwrap().remaining, 0, "still counted");
}

#[test]
fn model_lists_refuse_with_403() {
    let b = budgets(r#"{"tenants": {"acme": {"allow_models": ["sm*"]}}}"#);
    let mut h = vm(&FakeHost::default(), &b);
    let r = refused(admit(&mut h, &b, &ask("acme", 1, Some(1)), T0));
    assert_eq!((r.status, r.limit), (403, "model"));
    admitted(admit(
        &mut h,
        &b,
        &Ask {
            model: "small",
            ..ask("acme", 1, Some(1))
        },
        T0,
    ));
}

#[test]
fn max_tokens_is_capped_and_clamped_to_what_is_left() {
    let b = budgets(
        r#"{"default_output_tokens": 5000,
            "tenants": {"capped": {"max_tokens": 800},
                        "clamped": {"tokens_per_minute": 1000, "clamp_max_tokens": true}}}"#,
    );
    let mut h = vm(&FakeHost::default(), &b);
    let a = admitted(admit(&mut h, &b, &ask("capped", 10, None), T0));
    assert_eq!(a.max_tokens, Some(800), "no max_tokens: the cap is set");
    let a = admitted(admit(&mut h, &b, &ask("capped", 10, Some(500)), T0));
    assert_eq!(a.max_tokens, None, "under the cap: unchanged");
    let a = admitted(admit(&mut h, &b, &ask("clamped", 100, Some(2000)), T0));
    assert_eq!(a.max_tokens, Some(900));
    assert_eq!(a.holds[0].reservation.demand.output, 900);
    // Nothing left: 0 < min_output_tokens (16), so refused.
    let r = refused(admit(&mut h, &b, &ask("clamped", 100, Some(2000)), T0));
    assert_eq!(r.limit, "tokens_per_minute");
}

#[test]
fn a_spent_soft_budget_downgrades_the_model() {
    let b = budgets(
        r#"{"tenants": {"acme": {"soft_usd_per_day": "0.01", "usd_per_day": "1", "downgrade_to": "small"}}}"#,
    );
    let mut h = vm(&FakeHost::default(), &b);
    let a = admitted(admit(&mut h, &b, &ask("acme", 1000, Some(1000)), T0));
    assert_eq!(a.model, None);
    // $0.0125 reserved: past the soft $0.01.
    let a = admitted(admit(&mut h, &b, &ask("acme", 1000, Some(1000)), T0));
    assert_eq!(a.model.as_deref(), Some("small"));
    assert_eq!(
        a.holds[0].reservation.demand.nano_usd, 1_250_000,
        "priced as `small`"
    );
}

#[test]
fn the_nth_repeat_of_a_conversation_is_a_loop() {
    let b = budgets(r#"{"loops": {"threshold": 3, "window_seconds": 60}}"#);
    let mut h = vm(&FakeHost::default(), &b);
    let run = |r: &'static str, fp: u64| Ask {
        run: Some(r),
        fingerprint: Some(fp),
        ..ask("acme", 1, Some(1))
    };
    admitted(admit(&mut h, &b, &run("r1", 7), T0));
    admitted(admit(&mut h, &b, &run("r1", 7), T0 + 10_000));
    admitted(admit(&mut h, &b, &run("r2", 7), T0 + 10_000));
    admitted(admit(&mut h, &b, &run("r1", 8), T0 + 10_000));
    let r = refused(admit(&mut h, &b, &run("r1", 7), T0 + 20_000));
    assert_eq!((r.why, r.limit), (Refusal::Loop, "loop"));
    assert!(r.message.starts_with(
        "Loop detected: the same conversation was sent 3 times within 60s by tenant acme, run r1."
    ));
    assert_eq!(r.retry_after_ms, Some(40_000), "the window opened at T0");
    admitted(admit(&mut h, &b, &run("r1", 7), T0 + 60_000));
}

#[test]
fn a_run_budget_stops_the_run_not_the_tenant() {
    let b = budgets(r#"{"runs": {"header": "x-agent-run-id", "max_requests": 2}}"#);
    let mut h = vm(&FakeHost::default(), &b);
    let run = |r: &'static str| Ask {
        run: Some(r),
        ..ask("acme", 1, Some(1))
    };
    admitted(admit(&mut h, &b, &run("r1"), T0));
    admitted(admit(&mut h, &b, &run("r1"), T0));
    let r = refused(admit(&mut h, &b, &run("r1"), T0));
    assert_eq!(
        (r.why, r.limit, r.retry_after_ms),
        (Refusal::Quota, "run_max_requests", None)
    );
    assert!(r.message.contains("run r1 of tenant acme"), "{}", r.message);
    admitted(admit(&mut h, &b, &run("r2"), T0));
    admitted(admit(&mut h, &b, &ask("acme", 1, Some(1)), T0));
}

#[test]
fn a_spike_is_reported_once_and_throttled_when_asked() {
    let b = budgets(
        r#"{"spikes": {"factor": 3, "min_tokens_per_minute": 100, "baseline_minutes": 5, "warmup_minutes": 5, "throttle": true}}"#,
    );
    let mut h = vm(&FakeHost::default(), &b);
    let used = |t: u64| Outcome {
        used: Demand {
            input: t,
            output: 0,
            nano_usd: 0,
        },
        good: true,
    };
    for m in 0..10 {
        let now = T0 + m * 60_000;
        let a = admitted(admit(&mut h, &b, &ask("acme", 1, Some(1)), now));
        let s = settle(&mut h, &b, "acme", &a.holds, &used(100), now);
        assert_eq!(s.spike, None, "minute {m}");
    }
    let now = T0 + 10 * 60_000;
    let a = admitted(admit(&mut h, &b, &ask("acme", 1, Some(1)), now));
    let s = settle(&mut h, &b, "acme", &a.holds, &used(1000), now);
    assert!(s
        .spike
        .unwrap()
        .starts_with("tenant acme: 1000 tokens this minute"));
    let r = refused(admit(&mut h, &b, &ask("acme", 1, Some(1)), now + 1000));
    assert_eq!(
        (r.why, r.limit, r.retry_after_ms),
        (Refusal::RateLimit, "spike", Some(59_000))
    );
}

#[test]
fn two_vms_share_one_budget() {
    let b = budgets(r#"{"tenants": {"acme": {"requests_per_minute": 4}}}"#);
    let shared = FakeHost::default();
    let (mut one, mut two) = (vm(&shared, &b), vm(&shared, &b));
    *shared.shared.conflicts.borrow_mut() = 2;
    admitted(admit(&mut one, &b, &ask("acme", 1, Some(1)), T0));
    let a = admitted(admit(&mut two, &b, &ask("acme", 1, Some(1)), T0));
    assert_eq!(a.lost_races, 0);
    admitted(admit(&mut one, &b, &ask("acme", 1, Some(1)), T0));
    admitted(admit(&mut two, &b, &ask("acme", 1, Some(1)), T0));
    refused(admit(&mut one, &b, &ask("acme", 1, Some(1)), T0));
    *shared.shared.conflicts.borrow_mut() = 1000;
    assert!(matches!(
        admit(&mut two, &b, &ask("acme", 1, Some(1)), T0 + 60_000),
        Verdict::Unavailable(_)
    ));
}

#[test]
fn one_vm_sweeps_per_period_and_drops_only_what_is_idle() {
    let b = budgets(
        r#"{"slots": 4, "tenants": {"*": {"tokens_per_minute": 600}}, "runs": {"header": "x-run", "idle_seconds": 3600}}"#,
    );
    let shared = FakeHost::default();
    let (mut one, mut two) = (vm(&shared, &b), vm(&shared, &b));
    admitted(admit(&mut one, &b, &ask("a", 100, Some(100)), T0));
    admitted(admit(
        &mut one,
        &b,
        &Ask {
            run: Some("r"),
            ..ask("b", 1, Some(1))
        },
        T0,
    ));
    let count = || -> usize {
        shared
            .shared
            .data
            .borrow()
            .values()
            .filter_map(|(v, _)| crate::quota::Slot::decode(v))
            .map(|s| s.entries.len())
            .sum()
    };
    assert_eq!(count(), 3);
    assert_eq!(
        sweep(&mut one, &b, T0 + 1000).unwrap(),
        Some(0),
        "all still in use"
    );
    assert_eq!(
        sweep(&mut two, &b, T0 + 2000).unwrap(),
        None,
        "the lease is taken"
    );
    // Two minutes on: tenant buckets drained (their reservations still pending).
    let later = T0 + 120_000;
    assert_eq!(sweep(&mut two, &b, later).unwrap(), Some(0));
    // Past the reservation TTL (600 s) the tenants are idle; the run is kept an hour.
    assert_eq!(sweep(&mut one, &b, T0 + 700_000).unwrap(), Some(2));
    assert_eq!(count(), 1);
    assert_eq!(sweep(&mut one, &b, T0 + 3_700_000).unwrap(), Some(1));
    assert_eq!(count(), 0);
}
