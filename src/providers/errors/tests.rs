use super::*;
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn each_provider_gets_its_own_shape() {
    let parse = |p| {
        let (body, headers) = invalid_request(p, "too big", "tollbooth_body_too_large");
        (serde_json::from_slice::<Value>(&body).unwrap(), headers)
    };
    let (v, h) = parse(Provider::OpenAi);
    assert_eq!(v["error"]["code"], "tollbooth_body_too_large");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(h.is_empty());
    let (v, _) = parse(Provider::Anthropic);
    assert_eq!(
        (v["type"].as_str(), v["error"]["message"].as_str()),
        (Some("error"), Some("too big"))
    );
    let (v, _) = parse(Provider::Gemini);
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(v["error"]["code"], 400);
    let (v, h) = parse(Provider::Bedrock);
    assert_eq!(v["message"], "too big");
    assert_eq!(h, vec![("x-amzn-errortype", "ValidationException")]);
}

const ALL_KINDS: [Refusal; 4] = [
    Refusal::RateLimit,
    Refusal::Quota,
    Refusal::Loop,
    Refusal::TooLarge,
];

fn body(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap()
}

/// The reply's headers as (&str, &str) pairs, in order.
fn headers(reply: &Reply) -> Vec<(&str, &str)> {
    reply
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn refusals_are_always_429_json() {
    for provider in Provider::ALL {
        for why in ALL_KINDS {
            for wait in [None, Some(0), Some(1), Some(6000)] {
                let reply = refused(provider, why, "no", wait);
                assert_eq!(reply.status, 429, "{provider:?} {why:?}");
                assert!(body(&reply).is_object(), "{provider:?} {why:?}");
                assert_eq!(
                    reply.headers.first(),
                    Some(&("content-type".to_string(), "application/json".to_string()))
                );
            }
        }
    }
}

#[test]
fn openai_and_azure_bodies() {
    for provider in [Provider::OpenAi, Provider::Azure] {
        for (why, code) in [
            (Refusal::RateLimit, "rate_limit_exceeded"),
            (Refusal::Quota, "insufficient_quota"),
            (Refusal::Loop, "rate_limit_exceeded"),
            (Refusal::TooLarge, "rate_limit_exceeded"),
        ] {
            let v = body(&refused(provider, why, "Tenant budget spent", Some(1500)));
            assert_eq!(
                v,
                serde_json::json!({"error": {"message": "Tenant budget spent",
                    "type": code, "param": null, "code": code}}),
                "{provider:?} {why:?}"
            );
        }
    }
}

#[test]
fn anthropic_body_is_a_rate_limit_error_for_every_kind() {
    for why in ALL_KINDS {
        let v = body(&refused(Provider::Anthropic, why, "slow down", None));
        assert_eq!(
            v,
            serde_json::json!({"type": "error",
                "error": {"type": "rate_limit_error", "message": "slow down"}})
        );
    }
}

#[test]
fn gemini_body_with_retry_info() {
    let v = body(&refused(
        Provider::Gemini,
        Refusal::RateLimit,
        "wait",
        Some(6000),
    ));
    assert_eq!(
        v,
        serde_json::json!({"error": {"code": 429, "message": "wait",
            "status": "RESOURCE_EXHAUSTED", "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                 "reason": "RATE_LIMIT_EXCEEDED", "domain": "tollbooth"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "6s"}]}})
    );
}

#[test]
fn gemini_body_without_a_known_wait_has_no_retry_info() {
    let v = body(&refused(Provider::Gemini, Refusal::Loop, "loop", None));
    let details = v["error"]["details"].as_array().unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(
        details[0]["@type"],
        "type.googleapis.com/google.rpc.ErrorInfo"
    );
    assert_eq!(details[0]["reason"], "LOOP_DETECTED");
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(v["error"]["code"], 429);
}

#[test]
fn gemini_error_info_reason_tells_the_kinds_apart() {
    let reasons: Vec<Value> = ALL_KINDS
        .iter()
        .map(|&why| {
            body(&refused(Provider::Gemini, why, "m", None))["error"]["details"][0]["reason"]
                .clone()
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "RATE_LIMIT_EXCEEDED",
            "BUDGET_EXHAUSTED",
            "LOOP_DETECTED",
            "REQUEST_TOO_LARGE"
        ]
    );
}

#[test]
fn retry_delay_is_a_protobuf_duration() {
    // JSON form of google.protobuf.Duration: 0, 3, 6 or 9 fractional digits, then "s".
    for (ms, text) in [
        (0, "0s"),
        (1, "0.001s"),
        (999, "0.999s"),
        (1000, "1s"),
        (1500, "1.500s"),
        (6000, "6s"),
        (61_020, "61.020s"),
        (86_400_000, "86400s"),
    ] {
        assert_eq!(proto_duration(ms), text);
        let v = body(&refused(Provider::Gemini, Refusal::Quota, "m", Some(ms)));
        assert_eq!(v["error"]["details"][1]["retryDelay"], text);
    }
}

#[test]
fn bedrock_error_types() {
    for (why, kind) in [
        (Refusal::RateLimit, "ThrottlingException"),
        (Refusal::Quota, "ServiceQuotaExceededException"),
        (Refusal::Loop, "ThrottlingException"),
        (Refusal::TooLarge, "ThrottlingException"),
    ] {
        let reply = refused(Provider::Bedrock, why, "Too many tokens", None);
        assert_eq!(
            body(&reply),
            serde_json::json!({"message": "Too many tokens"})
        );
        let found: Vec<_> = headers(&reply)
            .into_iter()
            .filter(|(k, _)| *k == "x-amzn-errortype")
            .collect();
        assert_eq!(found, [("x-amzn-errortype", kind)], "{why:?}");
    }
}

#[test]
fn only_bedrock_names_an_aws_error_type() {
    for provider in [
        Provider::OpenAi,
        Provider::Azure,
        Provider::Anthropic,
        Provider::Gemini,
    ] {
        let reply = refused(provider, Refusal::Quota, "m", Some(1));
        assert!(headers(&reply)
            .iter()
            .all(|(k, _)| *k != "x-amzn-errortype"));
    }
}

#[test]
fn rate_limit_headers_round_the_wait_up() {
    for (ms, secs) in [
        (0, "0"),
        (1, "1"),
        (999, "1"),
        (1000, "1"),
        (1001, "2"),
        (1500, "2"),
        (59_000, "59"),
        (3_600_000, "3600"),
    ] {
        for provider in Provider::ALL {
            let reply = refused(provider, Refusal::RateLimit, "m", Some(ms));
            let ms_text = ms.to_string();
            let mut expected = vec![("content-type", "application/json")];
            if provider == Provider::Bedrock {
                expected.push(("x-amzn-errortype", "ThrottlingException"));
            }
            expected.push(("retry-after", secs));
            expected.push(("retry-after-ms", &ms_text));
            assert_eq!(headers(&reply), expected, "{provider:?} {ms}");
        }
    }
}

#[test]
fn without_a_known_wait_there_is_no_retry_after() {
    let reply = refused(Provider::OpenAi, Refusal::RateLimit, "m", None);
    assert_eq!(headers(&reply), [("content-type", "application/json")]);
}

#[test]
fn only_a_rate_limit_lets_the_sdk_retry() {
    for provider in Provider::ALL {
        for why in ALL_KINDS {
            for wait in [None, Some(2500)] {
                let reply = refused(provider, why, "m", wait);
                let should_retry: Vec<_> = headers(&reply)
                    .into_iter()
                    .filter(|(k, _)| *k == "x-should-retry")
                    .map(|(_, v)| v)
                    .collect();
                if why == Refusal::RateLimit {
                    assert!(should_retry.is_empty(), "{provider:?}");
                } else {
                    assert_eq!(should_retry, ["false"], "{provider:?} {why:?}");
                }
            }
        }
    }
}

#[test]
fn quota_reply_headers_in_full() {
    let reply = refused(Provider::OpenAi, Refusal::Quota, "m", Some(3_600_000));
    assert_eq!(
        headers(&reply),
        [
            ("content-type", "application/json"),
            ("retry-after", "3600"),
            ("retry-after-ms", "3600000"),
            ("x-should-retry", "false"),
        ]
    );
    let reply = refused(Provider::Bedrock, Refusal::TooLarge, "m", None);
    assert_eq!(
        headers(&reply),
        [
            ("content-type", "application/json"),
            ("x-amzn-errortype", "ThrottlingException"),
            ("x-should-retry", "false"),
        ]
    );
}

#[test]
fn messages_are_json_escaped() {
    let message = "budget \"tenant-a\" spent\n\\ done";
    for provider in Provider::ALL {
        let v = body(&refused(provider, Refusal::Quota, message, None));
        let found = match provider {
            Provider::Bedrock => &v["message"],
            Provider::Anthropic | Provider::OpenAi | Provider::Azure | Provider::Gemini => {
                &v["error"]["message"]
            }
        };
        assert_eq!(found, message, "{provider:?}");
    }
}
