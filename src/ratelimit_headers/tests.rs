use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn durations_read_like_go() {
    // Expected strings follow Go's time.Duration.String() and OpenAI's documented examples
    // (`1s`, `6m0s`).
    for (ms, text) in [
        (0, "0s"),
        (1, "1ms"),
        (20, "20ms"),
        (999, "999ms"),
        (1000, "1s"),
        (1500, "1.5s"),
        (1050, "1.05s"),
        (1001, "1.001s"),
        (59_999, "59.999s"),
        (60_000, "1m0s"),
        (60_500, "1m0.5s"),
        (90_000, "1m30s"),
        (360_000, "6m0s"),
        (3_599_999, "59m59.999s"),
        (3_600_000, "1h0m0s"),
        (3_723_500, "1h2m3.5s"),
        (86_400_000, "24h0m0s"),
    ] {
        assert_eq!(duration(ms), text, "{ms} ms");
    }
}

#[test]
fn the_longest_duration_does_not_overflow() {
    // u64::MAX ms = 5124095576030h 25m 51.615s.
    assert_eq!(duration(u64::MAX), "5124095576030h25m51.615s");
}

#[test]
fn no_buckets_no_headers() {
    assert!(RateLimitView::default().headers().is_empty());
}

#[test]
fn both_buckets_give_the_six_documented_headers_in_order() {
    let view = RateLimitView {
        requests: Some(Bucket {
            limit: 60,
            remaining: 59,
            reset_ms: 1000,
        }),
        tokens: Some(Bucket {
            limit: 150_000,
            remaining: 149_984,
            reset_ms: 6,
        }),
    };
    let expected: Vec<(&str, String)> = vec![
        ("x-ratelimit-limit-requests", "60".into()),
        ("x-ratelimit-remaining-requests", "59".into()),
        ("x-ratelimit-reset-requests", "1s".into()),
        ("x-ratelimit-limit-tokens", "150000".into()),
        ("x-ratelimit-remaining-tokens", "149984".into()),
        ("x-ratelimit-reset-tokens", "6ms".into()),
    ];
    assert_eq!(view.headers(), expected);
}

#[test]
fn one_bucket_gives_its_three_headers_only() {
    let bucket = Bucket {
        limit: 10,
        remaining: 0,
        reset_ms: 360_000,
    };
    let requests = RateLimitView {
        requests: Some(bucket),
        tokens: None,
    };
    assert_eq!(
        requests.headers(),
        vec![
            ("x-ratelimit-limit-requests", "10".to_string()),
            ("x-ratelimit-remaining-requests", "0".to_string()),
            ("x-ratelimit-reset-requests", "6m0s".to_string()),
        ]
    );
    let tokens = RateLimitView {
        requests: None,
        tokens: Some(bucket),
    };
    assert_eq!(
        tokens.headers(),
        vec![
            ("x-ratelimit-limit-tokens", "10".to_string()),
            ("x-ratelimit-remaining-tokens", "0".to_string()),
            ("x-ratelimit-reset-tokens", "6m0s".to_string()),
        ]
    );
}
