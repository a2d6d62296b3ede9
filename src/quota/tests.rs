use super::state::TICKS;
use super::*;
use crate::fake::FakeHost;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

// 2026-11-22T10:00:00Z.
const T0_MS: u64 = 1_795_341_600_000;

fn demand(input: u64, output: u64, nano_usd: u64) -> Demand {
    Demand {
        input,
        output,
        nano_usd,
    }
}

/// Refresh, check, reserve at `now_ms`, as the filter does.
fn admit(c: &mut Counters, l: &Limits, d: Demand, now_ms: u64) -> Result<Reservation, Exceeded> {
    c.refresh(l, now_ms);
    c.check(l, &d, now_ms)?;
    Ok(c.reserve(&d, now_ms / 1000, 600))
}

#[test]
fn sixty_requests_per_minute_refill_one_per_second() {
    let l = Limits {
        requests_per_minute: Some(60),
        ..Limits::default()
    };
    let mut c = Counters::default();
    for i in 0..60 {
        assert!(
            admit(&mut c, &l, Demand::default(), T0_MS).is_ok(),
            "request {i}"
        );
    }
    let e = admit(&mut c, &l, Demand::default(), T0_MS).unwrap_err();
    assert_eq!(e.which, Which::RequestsPerMinute);
    assert_eq!(
        e.retry_after_ms,
        Some(1000),
        "one request comes back each second"
    );
    assert!(!e.too_large);
    assert!(admit(&mut c, &l, Demand::default(), T0_MS + 999).is_err());
    assert!(admit(&mut c, &l, Demand::default(), T0_MS + 1000).is_ok());
    assert!(admit(&mut c, &l, Demand::default(), T0_MS + 1000).is_err());
    assert_eq!(c.bucket(Which::RequestsPerMinute, 60), (0, 60_000));
}

#[test]
fn a_token_bucket_says_how_long_until_the_request_fits() {
    let l = Limits {
        tokens_per_minute: Some(1000),
        ..Limits::default()
    };
    let mut c = Counters::default();
    admit(&mut c, &l, demand(100, 500, 0), T0_MS).unwrap();
    // 600 used, 600 more asked: 200 over; 1000 per minute come back at 1/60 per ms... 12 s.
    let e = admit(&mut c, &l, demand(100, 500, 0), T0_MS).unwrap_err();
    assert_eq!(
        (e.which, e.limit, e.used, e.requested),
        (Which::TokensPerMinute, 1000, 600, 600)
    );
    assert_eq!(e.retry_after_ms, Some(12_000));
    assert!(admit(&mut c, &l, demand(100, 500, 0), T0_MS + 11_999).is_err());
    assert!(admit(&mut c, &l, demand(100, 500, 0), T0_MS + 12_000).is_ok());
}

#[test]
fn a_request_larger_than_the_limit_is_too_large_not_retryable() {
    let l = Limits {
        tokens_per_minute: Some(1000),
        requests_per_minute: Some(1),
        ..Limits::default()
    };
    let mut c = Counters::default();
    admit(&mut c, &l, demand(1, 1, 0), T0_MS).unwrap();
    // Both the request bucket (wait) and the token bucket (never) refuse: too large wins.
    let e = admit(&mut c, &l, demand(900, 200, 0), T0_MS).unwrap_err();
    assert_eq!(e.which, Which::TokensPerMinute);
    assert!(e.too_large);
    assert_eq!(e.retry_after_ms, None);
}

#[test]
fn settling_refunds_what_was_reserved_and_not_used() {
    let l = Limits {
        tokens_per_minute: Some(1000),
        output_tokens_per_minute: Some(600),
        ..Limits::default()
    };
    let mut c = Counters::default();
    let r = admit(&mut c, &l, demand(100, 500, 0), T0_MS).unwrap();
    assert!(admit(&mut c, &l, demand(100, 500, 0), T0_MS).is_err());
    c.settle(&r, &demand(100, 50, 0), T0_MS / 1000);
    assert_eq!(c.tokens, 150 * TICKS);
    assert_eq!(c.output, 50 * TICKS);
    assert!(admit(&mut c, &l, demand(100, 500, 0), T0_MS).is_ok());
    // Using more than reserved is charged too: the bucket goes into debt.
    let l = Limits {
        tokens_per_minute: Some(1000),
        ..Limits::default()
    };
    let mut d = Counters::default();
    let r = admit(&mut d, &l, demand(10, 10, 0), T0_MS).unwrap();
    d.settle(&r, &demand(10, 1990, 0), T0_MS / 1000);
    assert_eq!(d.tokens, 2000 * TICKS);
    let e = admit(&mut d, &l, demand(1, 0, 0), T0_MS).unwrap_err();
    // 1001 over a 1000/min bucket: 60.06 s.
    assert_eq!(e.retry_after_ms, Some(60_060));
}

#[test]
fn daily_dollars_reset_at_utc_midnight() {
    let l = Limits {
        usd_per_day: Some(1_000_000_000), // $1
        ..Limits::default()
    };
    let mut c = Counters::default();
    let r = admit(&mut c, &l, demand(0, 0, 600_000_000), T0_MS).unwrap();
    c.settle(&r, &demand(0, 0, 700_000_000), T0_MS / 1000);
    let e = admit(&mut c, &l, demand(0, 0, 400_000_000), T0_MS).unwrap_err();
    assert_eq!(e.which, Which::UsdPerDay);
    assert_eq!((e.used, e.requested), (700_000_000, 400_000_000));
    // 10:00 UTC: 14 hours to midnight.
    assert_eq!(e.retry_after_ms, Some(14 * 3600 * 1000));
    let midnight = T0_MS + 14 * 3600 * 1000;
    assert!(admit(&mut c, &l, demand(0, 0, 400_000_000), midnight - 1000).is_err());
    assert!(admit(&mut c, &l, demand(0, 0, 400_000_000), midnight).is_ok());
    assert_eq!(
        c.usd_day, 0,
        "the new day starts empty; the reservation is pending"
    );
}

#[test]
fn monthly_dollars_count_across_days_and_reset_with_the_month() {
    let l = Limits {
        usd_per_month: Some(3_000),
        ..Limits::default()
    };
    let mut c = Counters::default();
    for day in 0..3 {
        let now = T0_MS + day * 86_400_000;
        let r = admit(&mut c, &l, demand(0, 0, 1000), now).unwrap();
        c.settle(&r, &demand(0, 0, 1000), now / 1000);
    }
    let now = T0_MS + 3 * 86_400_000; // 2026-11-25
    let e = admit(&mut c, &l, demand(0, 0, 1), now).unwrap_err();
    assert_eq!(e.which, Which::UsdPerMonth);
    // From 2026-11-25T10:00Z to 2026-12-01T00:00Z: 5 days 14 hours.
    assert_eq!(e.retry_after_ms, Some((5 * 86_400 + 14 * 3600) * 1000));
    assert!(admit(&mut c, &l, demand(0, 0, 1), now + e.retry_after_ms.unwrap()).is_ok());
}

#[test]
fn a_reservation_never_settled_expires() {
    let l = Limits {
        tokens_per_day: Some(1000),
        ..Limits::default()
    };
    let mut c = Counters::default();
    let r = admit(&mut c, &l, demand(100, 800, 0), T0_MS).unwrap();
    assert!(r.expires_s >= T0_MS / 1000 + 600 && r.expires_s < T0_MS / 1000 + 616);
    assert!(admit(&mut c, &l, demand(100, 100, 0), T0_MS + 1000).is_err());
    let after = r.expires_s * 1000;
    assert!(admit(&mut c, &l, demand(100, 100, 0), after - 1000).is_err());
    assert!(admit(&mut c, &l, demand(100, 100, 0), after).is_ok());
    // Settling the expired reservation late charges what was used, nothing more.
    c.settle(&r, &demand(100, 20, 0), after / 1000);
    assert_eq!(c.tokens_day, 120);
    assert_eq!(c.pending.iter().map(|p| p.tokens).sum::<u64>(), 200);
}

#[test]
fn run_totals_never_come_back() {
    let l = Limits {
        requests_total: Some(2),
        usd_total: Some(10),
        ..Limits::default()
    };
    let mut c = Counters::default();
    let r = admit(&mut c, &l, demand(0, 0, 4), T0_MS).unwrap();
    c.settle(&r, &demand(0, 0, 4), T0_MS / 1000);
    admit(&mut c, &l, demand(0, 0, 4), T0_MS).unwrap();
    let e = admit(&mut c, &l, demand(0, 0, 1), T0_MS + 86_400_000 * 40).unwrap_err();
    assert_eq!(e.which, Which::RunRequests);
    assert_eq!(e.retry_after_ms, None);
    assert!(!e.too_large);
}

#[test]
fn output_room_is_the_tightest_token_limit() {
    let l = Limits {
        tokens_per_minute: Some(1000),
        output_tokens_per_minute: Some(300),
        tokens_per_day: Some(5000),
        ..Limits::default()
    };
    let mut c = Counters::default();
    admit(&mut c, &l, demand(100, 100, 0), T0_MS).unwrap();
    // TPM: 800 left − 500 input = 300; OTPM: 200 left; day: 4800 − 500 = 4300.
    assert_eq!(c.output_room(&l, 500), Some(200));
    assert_eq!(c.output_room(&l, 700), Some(100));
    assert_eq!(c.output_room(&Limits::default(), 700), None);
}

#[test]
fn states_round_trip_and_an_empty_value_is_fresh() {
    let l = Limits {
        tokens_per_minute: Some(1000),
        usd_per_month: Some(10),
        ..Limits::default()
    };
    let mut c = Counters::default();
    let r = admit(&mut c, &l, demand(3, 4, 5), T0_MS).unwrap();
    admit(&mut c, &l, demand(1, 1, 1), T0_MS + 20_000).unwrap();
    c.settle(&r, &demand(3, 2, 1), T0_MS / 1000 + 1);
    let bytes = c.encode();
    assert!(bytes.len() < 80, "{} bytes", bytes.len());
    assert_eq!(Counters::decode(&bytes), Some(c));
    assert_eq!(Counters::decode(&[]), Some(Counters::default()));
    assert_eq!(Counters::decode(&[2]), None, "another version");
    assert_eq!(Counters::decode(&bytes[..bytes.len() - 1]), None);
}

#[test]
fn a_state_is_idle_once_buckets_drain_and_windows_pass() {
    let l = Limits {
        tokens_per_minute: Some(600),
        tokens_per_day: Some(10_000),
        ..Limits::default()
    };
    let mut c = Counters::default();
    let r = admit(&mut c, &l, demand(100, 100, 0), T0_MS).unwrap();
    c.settle(&r, &demand(100, 100, 0), T0_MS / 1000);
    c.refresh(&l, T0_MS + 60_000);
    assert!(
        !c.is_idle(&l, (T0_MS + 60_000) / 1000),
        "today's 200 tokens still count"
    );
    assert!(
        c.is_idle(&Limits::default(), (T0_MS + 60_000) / 1000),
        "unless no limit counts them"
    );
    let tomorrow = T0_MS + 86_400_000;
    c.refresh(&l, tomorrow);
    assert!(c.is_idle(&l, tomorrow / 1000));
}

#[test]
fn updates_retry_after_a_lost_race_and_keep_both_writes() {
    let mut a = FakeHost::default();
    let mut b = FakeHost {
        shared: a.shared.clone(),
        ..FakeHost::default()
    };
    assert_eq!(create_slots(&mut a, "ns", 4).unwrap(), 4);
    assert_eq!(create_slots(&mut b, "ns", 4).unwrap(), 0, "already there");
    let key = slot_key("ns", 4, 1);
    let bump = |slot: &mut Slot| {
        let e = slot.entries.entry("n".into()).or_default();
        e.push(1);
        (e.len(), true)
    };
    assert_eq!(update(&mut a, &key, bump).unwrap(), (1, 0));
    *a.shared.conflicts.borrow_mut() = 3;
    assert_eq!(
        update(&mut b, &key, bump).unwrap(),
        (2, 3),
        "three lost races"
    );
    *a.shared.conflicts.borrow_mut() = 1000;
    assert_eq!(
        update(&mut a, &key, bump).unwrap_err(),
        StoreError::Contended(store::MAX_ATTEMPTS)
    );
    *a.shared.conflicts.borrow_mut() = 0;
    // Not changed: nothing written.
    let before = a.shared.data.borrow().get(&key).cloned();
    assert_eq!(
        update(&mut a, &key, |s| (s.entries.len(), false)).unwrap(),
        (1, 0)
    );
    assert_eq!(a.shared.data.borrow().get(&key).cloned(), before);
    a.shared
        .data
        .borrow_mut()
        .insert(key.clone(), (vec![7, 7], 99));
    assert_eq!(update(&mut a, &key, bump).unwrap_err(), StoreError::Corrupt);
}

#[test]
fn a_cancelled_reservation_leaves_no_trace() {
    let l = Limits {
        requests_per_minute: Some(10),
        tokens_per_minute: Some(1000),
        tokens_per_day: Some(5000),
        requests_total: Some(3),
        ..Limits::default()
    };
    let mut c = Counters::default();
    c.refresh(&l, T0_MS);
    let before = c.clone();
    let r = admit(&mut c, &l, demand(100, 200, 7), T0_MS).unwrap();
    c.cancel(&r);
    assert_eq!(
        (
            c.requests,
            c.tokens,
            c.input,
            c.output,
            c.tokens_day,
            c.requests_total
        ),
        (0, 0, 0, 0, 0, 0)
    );
    assert!(c.pending.is_empty());
    assert_eq!(c.day, before.day);
}
