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
