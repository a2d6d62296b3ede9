//! OpenAI Chat Completions through the real `tollbooth.wasm` in the Envoy-faithful host, in both
//! stop-iteration modes with two workers. Assertions are on final state: what the client and
//! upstream received, filter state, metrics, logs.

use serde_json::{json, Value};
use tollbooth_integration::*;

const PRICES: &str = r#"{"default_prices":false,"tenant":{"header":"x-tenant-id","api_key_salt":"it-salt"},
  "attributes":{"team":"x-team","feature":"x-feature"},
  "prices":{"gpt-4o":{"input":2.5,"cached_input":1.25,"output":10},"gpt-4":{"input":30,"output":60},
            "gpt-3.5-turbo":{"input":0.5,"output":1.5},"gpt-4o-mini":{"input":0.15,"cached_input":0.075,"output":0.6}}}"#;

/// A response without usage: the filter must fall back on its own prompt count.
fn no_usage(model: &str) -> Value {
    json!({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":model,
           "choices":[{"index":0,"message":{"role":"assistant","content":"Understood."},"finish_reason":"stop"}]})
}

#[test]
fn cookbook_prompt_counts_match_openai_through_the_wasm() {
    for fixture_name in ["openai/cookbook_chat.json", "openai/cookbook_tools.json"] {
        let fx = fixture(fixture_name);
        for mode in MODES {
            let mut host = host(mode, 2, PRICES);
            for (i, (model, expected)) in
                fx["prompt_tokens"].as_object().unwrap().iter().enumerate()
            {
                let mut body = fx["request"].clone();
                body["model"] = json!(model);
                let sent = serde_json::to_vec(&body).unwrap();
                let x = host
                    .roundtrip(i % 2, &chat(&body), |up| {
                        assert_eq!(up.body, sent, "the upstream gets the body unchanged");
                        json_ok(&no_usage(model))
                    })
                    .unwrap();
                assert_eq!(
                    stamp(&x, mode, "x-llm-input-tokens"),
                    Some(expected.to_string().as_str()),
                    "{fixture_name} {model} {mode:?}"
                );
                assert_eq!(stamp(&x, mode, "x-llm-usage-source"), Some("estimate"));
            }
        }
    }
}

#[test]
fn documented_response_is_stamped_priced_and_counted() {
    let fx = fixture("openai/chat_response.json");
    for mode in MODES {
        let mut host = host(mode, 2, PRICES);
        let req = chat(&json!({"model":"gpt-4o","messages":[{"role":"user","content":"What is in this image?"}]}))
            .header("x-tenant-id", "acme")
            .header("x-team", "vision");
        for worker in [0, 1] {
            let x = host
                .roundtrip(worker, &req, |up| {
                    assert_eq!(up.header("x-llm-tenant"), Some("acme"));
                    assert_eq!(up.header("x-llm-team"), Some("vision"));
                    json_ok(&fx["response"])
                })
                .unwrap();
            assert_eq!(x.status, 200);
            assert_eq!(
                x.body,
                serde_json::to_vec(&fx["response"]).unwrap(),
                "client gets the body unchanged"
            );
            // 1117 × $2.50/M + 46 × $10/M = $0.0027925 + $0.00046 = $0.0032525
            assert_eq!(
                stamp(&x, mode, "x-llm-cost-usd"),
                Some("0.0032525"),
                "{mode:?}"
            );
            assert_eq!(stamp(&x, mode, "x-llm-input-tokens"), Some("1117"));
            assert_eq!(stamp(&x, mode, "x-llm-output-tokens"), Some("46"));
            assert_eq!(stamp(&x, mode, "x-llm-model"), Some("gpt-4o-2024-08-06"));
            assert_eq!(stamp(&x, mode, "x-llm-tenant"), Some("acme"));
            assert_eq!(stamp(&x, mode, "x-llm-usage-source"), Some("provider"));
            if mode.1 {
                assert!(
                    x.trailers.is_none(),
                    "≥1.35 mode stamps headers, not trailers"
                );
            } else {
                assert_eq!(
                    x.header("x-llm-cost-usd"),
                    None,
                    "default mode cannot hold headers back"
                );
            }
            let s = state(&x);
            assert_eq!(
                (
                    s["tenant"].as_str(),
                    s["cost_usd"].as_str(),
                    s["status"].as_u64()
                ),
                (Some("acme"), Some("0.0032525"), Some(200))
            );
            assert_eq!(s["attributes"]["team"], "vision");
        }
        // Both workers' VMs count into one stat, as in Envoy's global stats store.
        let base = "tollbooth.tenant.acme.model.gpt-4o-2024-08-06";
        assert_eq!(host.counter(&format!("{base}.requests")), Some(2));
        assert_eq!(host.counter(&format!("{base}.input_tokens")), Some(2234));
        assert_eq!(host.counter(&format!("{base}.output_tokens")), Some(92));
        // Each VM carries its own sub-micro-USD remainder: $0.0032525 is 3252 whole micro-USD
        // per worker with half a micro-USD carried in each VM.
        assert_eq!(host.counter(&format!("{base}.cost_micro_usd")), Some(6504));
    }
}

#[test]
fn bodies_split_at_every_byte_meter_the_same() {
    let fx = fixture("openai/chat_response.json");
    let body =
        json!({"model":"gpt-4o","messages":[{"role":"user","content":"Grüße — naïve café ☕"}]});
    for mode in MODES {
        let mut host = host(mode, 2, PRICES);
        let whole = host
            .roundtrip(0, &chat(&body), |_| json_ok(&fx["response"]))
            .unwrap();
        for size in [1, 2, 3, 7, 64] {
            let x = host
                .roundtrip(1, &chat(&body).chunking(Chunking::Fixed(size)), |up| {
                    assert_eq!(up.body, serde_json::to_vec(&body).unwrap());
                    json_ok(&fx["response"]).chunking(Chunking::Fixed(size))
                })
                .unwrap();
            assert_eq!(x.body, whole.body, "chunk size {size}");
            assert_eq!(state(&x), state(&whole), "chunk size {size} {mode:?}");
            assert_eq!(stamp(&x, mode, "x-llm-cost-usd"), Some("0.0032525"));
        }
    }
}

#[test]
fn api_keys_become_salted_tenants_and_never_leak() {
    for mode in MODES {
        let mut host = host(mode, 2, PRICES);
        let req = chat(&json!({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}))
            .header("authorization", "Bearer sk-proj-TOPSECRET123");
        let x = host
            .roundtrip(0, &req, |up| {
                assert_eq!(
                    up.header("authorization"),
                    Some("Bearer sk-proj-TOPSECRET123"),
                    "the key still reaches the provider"
                );
                json_ok(&no_usage("gpt-4o"))
            })
            .unwrap();
        let tenant = stamp(&x, mode, "x-llm-tenant").unwrap().to_string();
        assert!(tenant.starts_with("key-") && tenant.len() == 16, "{tenant}");
        let again = host
            .roundtrip(1, &req, |_| json_ok(&no_usage("gpt-4o")))
            .unwrap();
        assert_eq!(
            stamp(&again, mode, "x-llm-tenant"),
            Some(tenant.as_str()),
            "stable across workers"
        );
        let seen = format!(
            "{:?} {:?} {:?} {:?}",
            x.headers,
            x.trailers,
            x.filter_state,
            host.logs()
        );
        assert!(!seen.contains("TOPSECRET"));
        assert!(host.metrics().keys().all(|k| !k.contains("TOPSECRET")));
    }
}

#[test]
fn other_traffic_passes_untouched_and_unbuffered() {
    for mode in MODES {
        let mut host = host(mode, 2, PRICES);
        for req in [
            Request::get("/v1/models"),
            Request::post(
                "/v1/audio/speech",
                r#"{"model":"tts-1","input":"x","voice":"alloy"}"#,
            )
            .header("content-type", "application/json"),
            Request::new("PUT", "/v1/chat/completions")
                .body("{}")
                .header("content-type", "application/json"),
        ] {
            let x = host
                .roundtrip(0, &req.clone().chunking(Chunking::Fixed(3)), |up| {
                    assert!(up.header("x-llm-tenant").is_none());
                    assert_eq!(up.body, req.body);
                    json_ok(&json!({"ok": true}))
                })
                .unwrap();
            assert_eq!(x.status, 200);
            assert!(
                x.trailers.is_none() && x.filter_state.is_empty() && x.logs.is_empty(),
                "{}: {x:?}",
                req.path
            );
        }
        assert!(host.metrics().is_empty());
    }
}

#[test]
fn usage_details_and_unpriced_models() {
    for mode in MODES {
        let mut host = host(mode, 1, PRICES);
        let resp = json!({"model":"o3-2025-04-16","choices":[],"usage":{"prompt_tokens":2000,"completion_tokens":300,
            "prompt_tokens_details":{"cached_tokens":1536},"completion_tokens_details":{"reasoning_tokens":256}}});
        let x = host
            .roundtrip(
                0,
                &chat(&json!({"model":"o3","messages":[]})).header("x-tenant-id", "lab"),
                |_| json_ok(&resp),
            )
            .unwrap();
        assert_eq!(stamp(&x, mode, "x-llm-cached-tokens"), Some("1536"));
        assert_eq!(stamp(&x, mode, "x-llm-reasoning-tokens"), Some("256"));
        assert_eq!(
            stamp(&x, mode, "x-llm-cost-usd"),
            None,
            "o3 has no price in this table"
        );
        assert_eq!(
            host.counter("tollbooth.tenant.lab.model.o3-2025-04-16.unpriced_requests"),
            Some(1)
        );
        assert_eq!(
            host.counter("tollbooth.tenant.lab.model.o3-2025-04-16.cached_tokens"),
            Some(1536)
        );
    }
}

#[test]
fn bad_input_fails_open_with_one_log_line_and_a_metric() {
    let bodies: [(&[u8], &str, &str); 5] = [
        (b"{\"model\": \"gpt-4o\", \"messages\": [", "application/json", "invalid_json"),
        (b"{\"messages\": []}", "application/json", "missing_model"),
        (b"{\"model\": \"gpt\xff\"}", "application/json", "non_utf8"),
        (b"model=gpt-4o", "application/x-www-form-urlencoded", "content_type"),
        (b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "application/json", "invalid_json"),
    ];
    for mode in MODES {
        let mut host = host(mode, 2, PRICES);
        for (i, (body, ct, reason)) in bodies.iter().enumerate() {
            let req =
                Request::post("/v1/chat/completions", body.to_vec()).header("content-type", ct);
            let x = host
                .roundtrip(i % 2, &req, |up| {
                    assert_eq!(up.body, body.to_vec(), "forwarded unchanged");
                    json_ok(&no_usage("gpt-4o"))
                })
                .unwrap();
            assert_eq!(x.status, 200, "{reason}");
            assert!(x.vm_error.is_none());
            assert!(
                x.filter_state.is_empty() && x.trailers.is_none(),
                "{reason}: unmetered"
            );
            assert_eq!(x.logs.len(), 1, "{reason}: one log line, got {:?}", x.logs);
        }
        assert_eq!(
            host.counter("tollbooth.invalid.reason.invalid_json.requests"),
            Some(2)
        );
        assert_eq!(
            host.counter("tollbooth.invalid.reason.content_type.requests"),
            Some(1)
        );
    }
}

#[test]
fn bad_provider_usage_is_estimated_not_trusted() {
    for mode in MODES {
        let mut host = host(mode, 1, PRICES);
        for usage in [
            json!({"prompt_tokens":-3,"completion_tokens":1}),
            json!({"prompt_tokens":1.5,"completion_tokens":1}),
            json!({"prompt_tokens":1e15,"completion_tokens":1}),
        ] {
            let mut resp = no_usage("gpt-4o");
            resp["usage"] = usage;
            let x = host
                .roundtrip(
                    0,
                    &chat(&json!({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})),
                    |_| json_ok(&resp),
                )
                .unwrap();
            assert_eq!(stamp(&x, mode, "x-llm-usage-source"), Some("estimate"));
            assert!(x.vm_error.is_none());
        }
        assert_eq!(
            host.counter("tollbooth.invalid.reason.bad_usage.requests"),
            Some(3)
        );
    }
}

#[test]
fn fail_closed_answers_400_in_openai_format_and_holds_the_body() {
    let cfg = PRICES.replacen(
        '{',
        r#"{"fail_mode":"closed","routes":[{"path":"/v1/**"}],"#,
        1,
    );
    for mode in MODES {
        let mut host = host(mode, 2, &cfg);
        let req = Request::post("/v1/chat/completions", "{nope")
            .header("content-type", "application/json");
        let mut upstream_called = false;
        let x = host
            .roundtrip(0, &req, |_| {
                upstream_called = true;
                json_ok(&no_usage("gpt-4o"))
            })
            .unwrap();
        assert!(!upstream_called);
        assert_eq!(x.status, 400);
        let err: Value = serde_json::from_slice(&x.body).unwrap();
        assert_eq!(err["error"]["type"], "invalid_request_error");
        assert_eq!(err["error"]["code"], "tollbooth_invalid_json");
        assert!(
            x.stream.upstream_body.is_empty(),
            "the invalid body never reached the upstream"
        );
        // A valid request still goes through, chunked.
        let ok = host
            .roundtrip(
                1,
                &chat(&json!({"model":"gpt-4o","messages":[]})).chunking(Chunking::Fixed(5)),
                |_| json_ok(&no_usage("gpt-4o")),
            )
            .unwrap();
        assert_eq!(ok.status, 200);
    }
}

#[test]
fn error_responses_cost_nothing() {
    for mode in MODES {
        let mut host = host(mode, 1, PRICES);
        let resp = Response::new(429).header("content-type", "application/json").body(r#"{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}"#);
        let x = host
            .roundtrip(0, &chat(&json!({"model":"gpt-4o","messages":[]})), |_| resp)
            .unwrap();
        assert_eq!(x.status, 429);
        assert_eq!(stamp(&x, mode, "x-llm-usage-source"), Some("none"));
        assert_eq!(stamp(&x, mode, "x-llm-cost-usd"), Some("0"));
    }
}

#[test]
fn tenants_beyond_the_cap_count_as_other() {
    let cfg = PRICES.replacen('{', r#"{"metrics":{"max_tenants":2},"#, 1);
    let mut host = host(MODES[0], 1, &cfg);
    for t in ["a", "b", "c", "d"] {
        host.roundtrip(
            0,
            &chat(&json!({"model":"gpt-4o","messages":[]})).header("x-tenant-id", t),
            |_| json_ok(&no_usage("gpt-4o")),
        )
        .unwrap();
    }
    assert_eq!(
        host.counter("tollbooth.tenant.a.model.gpt-4o.requests"),
        Some(1)
    );
    assert_eq!(
        host.counter("tollbooth.tenant.other.model.gpt-4o.requests"),
        Some(2)
    );
    assert_eq!(
        host.counter("tollbooth.tenant.c.model.gpt-4o.requests"),
        None
    );
}

#[test]
fn bad_configuration_is_rejected_naming_the_field() {
    let mut host = Host::load(wasm_path(), HostOptions::default()).unwrap();
    let err = host
        .configure(br#"{"tenant": {"heder": "x-tenant"}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tenant.heder"), "{err}");
    let err = host
        .configure(br#"{"prices": {"gpt-4o": {"input": "cheap", "output": 1}}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("prices.gpt-4o.input"), "{err}");
    host.configure(b"{}")
        .expect("defaults are a valid configuration");
}

#[test]
fn reload_applies_new_prices_and_keeps_shared_data() {
    let mut host = host(MODES[0], 2, PRICES);
    host.shared_data()
        .set("tollbooth/probe", b"kept", 0)
        .unwrap();
    let req = chat(&json!({"model":"gpt-4o","messages":[]}));
    let usage = json!({"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":1000000,"completion_tokens":0}});
    let before = host.roundtrip(0, &req, |_| json_ok(&usage)).unwrap();
    assert_eq!(stamp(&before, MODES[0], "x-llm-cost-usd"), Some("2.5"));
    host.reload(br#"{"prices":{"gpt-4o":{"input":5,"output":20}}}"#)
        .unwrap();
    let after = host.roundtrip(1, &req, |_| json_ok(&usage)).unwrap();
    assert_eq!(stamp(&after, MODES[0], "x-llm-cost-usd"), Some("5"));
    assert_eq!(
        host.shared_data().get("tollbooth/probe").map(|(v, _)| v),
        Some(b"kept".to_vec())
    );
}

#[test]
fn arbitrary_bodies_never_kill_the_vm() {
    // A bounded, seeded sweep of hostile bodies through both directions.
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut host = host(MODES[1], 2, PRICES);
    for i in 0..150 {
        let len = (next() % 600) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
        if i % 3 == 0 {
            body = format!(
                r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":{}}}],"n":{}}}"#,
                json!(String::from_utf8_lossy(&body)),
                next() as i64
            )
            .into_bytes();
        }
        let resp = body.iter().rev().copied().collect::<Vec<u8>>();
        let x = host
            .roundtrip(
                i % 2,
                &chat(&json!(null))
                    .body(body.clone())
                    .chunking(Chunking::Fixed(1 + i % 9)),
                |_| Response::ok(resp.clone()).header("content-type", "application/json"),
            )
            .unwrap();
        assert!(x.vm_error.is_none(), "iteration {i}: {:?}", x.vm_error);
        assert_eq!(x.body, resp, "iteration {i}: response bytes untouched");
    }
    assert!(host.crashed(0).is_none() && host.crashed(1).is_none());
}

#[test]
fn a_megabyte_of_whitespace_does_not_kill_the_vm() {
    // tiktoken-rs panicked on ~1M consecutive spaces (fancy-regex backtrack limit), which took
    // the worker's VM down: every later request on it failed.
    let content = format!("{}x", " ".repeat(1_100_000));
    let body = json!({"model":"gpt-4o","messages":[{"role":"user","content":content}]});
    for mode in MODES {
        let mut host = host(
            mode,
            1,
            &PRICES.replacen('{', r#"{"buffer_limit_bytes":4194304,"#, 1),
        );
        let x = host
            .roundtrip(0, &chat(&body).chunking(Chunking::Fixed(65536)), |_| {
                json_ok(&no_usage("gpt-4o"))
            })
            .unwrap();
        assert!(x.vm_error.is_none(), "{:?}", x.vm_error);
        assert_eq!(stamp(&x, mode, "x-llm-usage-source"), Some("estimate"));
        let after = host
            .roundtrip(0, &chat(&json!({"model":"gpt-4o","messages":[]})), |_| {
                json_ok(&no_usage("gpt-4o"))
            })
            .unwrap();
        assert_eq!(after.status, 200, "the VM still serves");
        assert!(host.crashed(0).is_none());
    }
}

#[test]
fn streams_that_end_with_trailers_are_metered() {
    let fx = fixture("openai/chat_response.json");
    for mode in MODES {
        let mut host = host(mode, 1, PRICES);
        let req = chat(&json!({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}))
            .trailer("x-client-trailer", "1");
        let x = host
            .roundtrip(0, &req, |_| {
                json_ok(&fx["response"]).trailer("x-upstream-trailer", "2")
            })
            .unwrap();
        assert_eq!(
            stamp(&x, mode, "x-llm-cost-usd"),
            Some("0.0032525"),
            "{mode:?}"
        );
        assert_eq!(
            x.trailers
                .as_ref()
                .and_then(|t| t.get("x-upstream-trailer")),
            Some("2")
        );
    }
    // Fail-closed still judges a body that ended with trailers.
    let mut host = host(
        MODES[0],
        1,
        &PRICES.replacen(
            '{',
            r#"{"fail_mode":"closed","routes":[{"path":"/v1/**"}],"#,
            1,
        ),
    );
    let req = Request::post("/v1/chat/completions", "not json at all")
        .header("content-type", "application/json")
        .trailer("x-t", "1");
    let x = host
        .roundtrip(0, &req, |_| {
            panic!("an invalid body must not reach the upstream")
        })
        .unwrap();
    assert_eq!(x.status, 400);
}
