//! Review of the budget enforcement: each test pins a bug found in review (it failed before
//! the fix next to it).

use super::tests::{admitted, ask, budgets, refused, vm, T0};
use super::*;
use crate::fake::FakeHost;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn team(value: &str) -> [(String, String); 1] {
    [("team".to_string(), value.to_string())]
}

/// A request refused by its attribute's slot gives back exactly what it reserved in the
/// tenant's slot: the tenant's token bucket must not be refunded twice (which would let the
/// next requests overshoot the tenant's limit).
#[test]
fn a_refusal_in_a_later_slot_refunds_the_tenant_bucket_once() {
    let b = budgets(
        r#"{"tenants": {"acme": {"tokens_per_minute": 1000}},
            "attributes": {"team": {"search": {"tokens_per_day": 150}}}}"#,
    );
    assert_ne!(tenant_slot(&b, "acme"), attribute_slot(&b, "a:team=search"));
    let mut h = vm(&FakeHost::default(), &b);
    let attrs = team("search");
    let with_team = Ask {
        attributes: &attrs,
        ..ask("acme", 50, Some(50))
    };
    admitted(admit(&mut h, &b, &with_team, T0));
    let r = refused(admit(&mut h, &b, &with_team, T0));
    assert_eq!(r.limit, "tokens_per_day");
    // The tenant holds 100 tokens this minute: 900 left.
    refused(admit(&mut h, &b, &ask("acme", 450, Some(451)), T0));
    admitted(admit(&mut h, &b, &ask("acme", 450, Some(450)), T0));
}

/// Retries of a request that another slot refused are not sightings of a loop: only requests
/// that were let through count.
#[test]
fn requests_refused_by_another_slot_are_not_loop_sightings() {
    let b = budgets(
        r#"{"attributes": {"team": {"search": {"requests_per_minute": 1}}},
            "loops": {"threshold": 3, "window_seconds": 600}}"#,
    );
    assert_ne!(tenant_slot(&b, "acme"), attribute_slot(&b, "a:team=search"));
    let mut h = vm(&FakeHost::default(), &b);
    let attrs = team("search");
    let a = Ask {
        attributes: &attrs,
        fingerprint: Some(7),
        ..ask("acme", 1, Some(1))
    };
    admitted(admit(&mut h, &b, &a, T0));
    for i in 1..=3 {
        let r = refused(admit(&mut h, &b, &a, T0 + i * 1000));
        assert_eq!(r.limit, "requests_per_minute", "retry {i}");
    }
    // One request went through so far: this is the second sighting.
    admitted(admit(&mut h, &b, &a, T0 + 61_000));
}

/// A soft budget's spend is state the sweep must keep: dropping it would end the downgrade
/// for the rest of the day.
#[test]
fn the_sweep_keeps_a_spent_soft_budget() {
    let b = budgets(
        r#"{"tenants": {"acme": {"requests_per_minute": 60, "soft_usd_per_day": "0.01", "downgrade_to": "small"}}}"#,
    );
    let mut h = vm(&FakeHost::default(), &b);
    let first = admitted(admit(&mut h, &b, &ask("acme", 1000, Some(1000)), T0));
    let used = crate::quota::Demand {
        input: 1000,
        output: 1000,
        nano_usd: 12_500_000,
    };
    settle(
        &mut h,
        &b,
        "acme",
        &first.holds,
        &Outcome { used, good: true },
        T0 + 1000,
    );
    let second = admitted(admit(&mut h, &b, &ask("acme", 1000, Some(1000)), T0 + 2000));
    assert_eq!(
        second.model.as_deref(),
        Some("small"),
        "$0.0125 of $0.01 spent"
    );
    settle(
        &mut h,
        &b,
        "acme",
        &second.holds,
        &Outcome { used, good: true },
        T0 + 3000,
    );
    sweep(&mut h, &b, T0 + 600_000).unwrap();
    let third = admitted(admit(
        &mut h,
        &b,
        &ask("acme", 1000, Some(1000)),
        T0 + 601_000,
    ));
    assert_eq!(third.model.as_deref(), Some("small"), "still spent today");
}

/// A run whose request is still in flight is not idle, whatever `idle_seconds` says: sweeping
/// it would forget what the run already used.
#[test]
fn the_sweep_keeps_a_run_with_a_request_in_flight() {
    let b = budgets(r#"{"runs": {"header": "x-run", "idle_seconds": 60, "max_requests": 2}}"#);
    let mut h = vm(&FakeHost::default(), &b);
    let run = Ask {
        run: Some("r1"),
        ..ask("acme", 1, Some(1))
    };
    admitted(admit(&mut h, &b, &run, T0));
    // The first request streams for minutes; the sweep runs meanwhile.
    sweep(&mut h, &b, T0 + 120_000).unwrap();
    admitted(admit(&mut h, &b, &run, T0 + 121_000));
    let r = refused(admit(&mut h, &b, &run, T0 + 122_000));
    assert_eq!(r.limit, "run_max_requests");
}

/// A request asking for an absurd `max_tokens` reserves a saturated cost; the soft-budget
/// check must not overflow on it (a panic in debug builds, a wrapped sum that skips the
/// downgrade in release builds).
#[test]
fn a_saturated_reservation_does_not_overflow_the_soft_budget_check() {
    let b =
        budgets(r#"{"tenants": {"acme": {"soft_usd_per_day": "0.01", "downgrade_to": "small"}}}"#);
    let mut h = vm(&FakeHost::default(), &b);
    let first = admitted(admit(&mut h, &b, &ask("acme", 10, Some(10)), T0));
    let used = crate::quota::Demand {
        input: 10,
        output: 10,
        nano_usd: 1000,
    };
    settle(
        &mut h,
        &b,
        "acme",
        &first.holds,
        &Outcome { used, good: true },
        T0,
    );
    let huge = admitted(admit(&mut h, &b, &ask("acme", 10, Some(u64::MAX)), T0));
    assert_eq!(huge.holds[0].reservation.demand.nano_usd, u64::MAX);
    let next = admitted(admit(&mut h, &b, &ask("acme", 10, Some(10)), T0));
    assert_eq!(next.model.as_deref(), Some("small"));
}

/// A request without `max_tokens` is given the policy's cap (as documented: "larger (or
/// missing) asks are lowered to it"), not the smaller default output estimate.
#[test]
fn a_missing_max_tokens_is_set_to_the_cap() {
    let b =
        budgets(r#"{"default_output_tokens": 1000, "tenants": {"acme": {"max_tokens": 8000}}}"#);
    let mut h = vm(&FakeHost::default(), &b);
    let a = admitted(admit(&mut h, &b, &ask("acme", 10, None), T0));
    assert_eq!(a.max_tokens, Some(8000));
    assert_eq!(a.holds[0].reservation.demand.output, 8000);
}

/// A downgrade never sends a model that a policy the request falls under denies.
#[test]
fn a_downgrade_respects_the_other_policies_model_lists() {
    let b = budgets(
        r#"{"tenants": {"acme": {"soft_usd_per_day": "0.01", "usd_per_day": "1", "downgrade_to": "small"}},
            "attributes": {"team": {"search": {"deny_models": ["small"]}}}}"#,
    );
    let mut h = vm(&FakeHost::default(), &b);
    // $0.0125 reserved: past the soft $0.01.
    admitted(admit(&mut h, &b, &ask("acme", 1000, Some(1000)), T0));
    assert_eq!(
        admitted(admit(&mut h, &b, &ask("acme", 1000, Some(1000)), T0))
            .model
            .as_deref(),
        Some("small")
    );
    let attrs = team("search");
    let a = Ask {
        attributes: &attrs,
        ..ask("acme", 1000, Some(1000))
    };
    let a = admitted(admit(&mut h, &b, &a, T0));
    assert_eq!(a.model, None, "`small` is denied to team search");
}
