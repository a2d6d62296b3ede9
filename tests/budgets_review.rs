//! Review of the budget enforcement through the real `tollbooth.wasm`: each test pins a bug
//! found in review (it failed before the fix next to it).

use serde_json::{json, Value};
use tollbooth_integration::*;

fn config(extra: Value, budgets: Value) -> String {
    let mut doc = json!({
        "tenant": {"header": "x-tenant"},
        "default_prices": false,
        "prices": {
            "gpt-4o-mini": {"input": "0.15", "output": "0.60"},
            "gemini-2.0-flash": {"input": "0.10", "output": "0.40"},
            "gemini-2.0-flash-lite": {"input": "0.075", "output": "0.30"}
        },
        "budgets": budgets,
    });
    if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    doc.to_string()
}

/// What the upstream received as JSON, when the request got there.
fn sent(x: &Exchange) -> Option<Value> {
    x.upstream
        .as_ref()
        .map(|up| serde_json::from_slice(&up.body).unwrap())
}

/// `n` choices share the output the policy allows: the per-choice `max_tokens` sent upstream
/// never exceeds what the client asked for, and all choices together stay within the cap.
#[test]
fn a_cap_is_shared_by_the_choices_of_a_request() {
    for mode in MODES {
        let cfg = config(json!({}), json!({"tenants": {"acme": {"max_tokens": 300}}}));
        let mut host = host_at(mode, 1, &cfg);
        for asked in [Some(100), None] {
            let mut payload = json!({"model": "gpt-4o-mini", "n": 4,
                "messages": [{"role": "user", "content": "hi"}]});
            if let Some(n) = asked {
                payload["max_tokens"] = json!(n);
            }
            let r = chat(&payload).header("x-tenant", "acme");
            let x = host.roundtrip(0, &r, |_| chat_answer(8, 20)).unwrap();
            assert_eq!(x.status, 200, "{mode:?}");
            let per_choice = sent(&x).unwrap()["max_tokens"].as_u64().unwrap();
            assert!(
                per_choice * 4 <= 300 && asked.is_none_or(|a| per_choice <= a),
                "{mode:?}: asked {asked:?} for 4 choices, capped at 300 in all: sent {per_choice} each"
            );
        }
    }
}

/// A body too large to hold cannot be rewritten: the admission must not count on a rewrite
/// (a clamped or capped `max_tokens`) that is never made.
#[test]
fn a_body_too_large_to_rewrite_is_not_admitted_as_if_rewritten() {
    for mode in MODES {
        let cfg = config(
            json!({"buffer_limit_bytes": 2048}),
            json!({"tenants": {
                "capped": {"max_tokens": 100},
                "clamped": {"tokens_per_minute": 3000, "clamp_max_tokens": true}}}),
        );
        let mut host = host_at(mode, 1, &cfg);
        let long = "word ".repeat(800);
        for (tenant, limit) in [("capped", 100), ("clamped", 3000)] {
            let r = chat(&json!({"model": "gpt-4o-mini", "max_tokens": 5000,
                "messages": [{"role": "user", "content": long}]}))
            .header("x-tenant", tenant)
            .chunking(Chunking::Fixed(1000));
            let x = host.roundtrip(0, &r, |_| chat_answer(800, 5)).unwrap();
            assert!(!x.stalled, "{mode:?}");
            if let Some(v) = sent(&x) {
                let max = v["max_tokens"].as_u64().unwrap();
                assert!(
                    max <= limit,
                    "{mode:?} {tenant}: admitted with max_tokens {max} (status {})",
                    x.status
                );
            }
        }
    }
}

/// Gemini names its model in the path: a spent soft budget cannot downgrade it, and that
/// must not cost the request its max_tokens cap (nor price its reservation as the cheaper
/// model).
#[test]
fn a_downgrade_the_path_prevents_keeps_the_cap() {
    let cfg = config(
        json!({}),
        json!({"tenants": {"acme": {"soft_usd_per_day": "0.000001", "usd_per_day": "10",
            "downgrade_to": "gemini-2.0-flash-lite", "max_tokens": 50}}}),
    );
    let mut host = host_at(MODES[0], 1, &cfg);
    let r = Request::post(
        "/v1beta/models/gemini-2.0-flash:generateContent",
        serde_json::to_vec(&json!({
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"maxOutputTokens": 1000}}))
        .unwrap(),
    )
    .header("content-type", "application/json")
    .header("x-tenant", "acme");
    let reply = || {
        json_ok(&json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]},
                            "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5,
                              "totalTokenCount": 15},
            "modelVersion": "gemini-2.0-flash"}))
    };
    for i in 0..2 {
        let x = host.roundtrip(0, &r, |_| reply()).unwrap();
        assert_eq!(x.status, 200, "request {i}");
        let v = sent(&x).unwrap();
        assert_eq!(
            v["generationConfig"]["maxOutputTokens"], 50,
            "request {i}: capped"
        );
    }
}

/// Shadow policies refuse nothing, not even when shared data fails under `fail_mode: closed`.
#[test]
fn shadow_policies_do_not_refuse_when_shared_data_fails() {
    let cfg = config(
        json!({}),
        json!({"fail_mode": "closed",
               "tenants": {"acme": {"requests_per_minute": 10, "shadow": true},
                           "enforced": {"requests_per_minute": 10}}}),
    );
    let mut host = host_at(MODES[0], 1, &cfg);
    // Every slot read is followed by a competing write: each compare-and-swap loses.
    let data = host.shared_data().clone();
    let store = data.clone();
    data.on_get(move |key| {
        if key.ends_with("/sweep") {
            return None;
        }
        store.get(key).map(|(v, _)| v)
    });
    let ask = |tenant: &str| {
        chat(&json!({"model": "gpt-4o-mini", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]}))
        .header("x-tenant", tenant)
    };
    let x = host
        .roundtrip(0, &ask("enforced"), |_| chat_answer(8, 5))
        .unwrap();
    assert_eq!(x.status, 429, "fail-closed for an enforced policy");
    let x = host
        .roundtrip(0, &ask("acme"), |_| chat_answer(8, 5))
        .unwrap();
    assert_eq!(x.status, 200, "a shadow policy blocks nothing");
    data.clear_hook();
}
