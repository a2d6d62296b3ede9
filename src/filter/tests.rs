//! The state machine driven through the fake host, asserting the final state: what the
//! upstream and client would see, filter state, metrics.

use super::test_support::{gzip, shared};
use super::*;
use crate::fake::FakeHost;
use crate::tokens::tests::tokenizer;
use crate::tokens::Encoding;
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const CFG: &str = r#"{"tenant":{"header":"x-tenant-id","api_key_salt":"s"},"attributes":{"team":"x-team"},
  "prices":{"gpt-4o":{"input":2.5,"cached_input":1.25,"output":10}}}"#;

fn request_headers(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h = vec![
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        (":authority", "api.openai.com"),
        ("content-type", "application/json"),
    ];
    h.extend_from_slice(extra);
    h.into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const REQUEST: &[u8] = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"Say hello"}]}"#;
const RESPONSE: &[u8] = br#"{"model":"gpt-4o-2024-08-06","choices":[{"message":{"role":"assistant","content":"Hello!"}}],
  "usage":{"prompt_tokens":1000,"completion_tokens":200,"prompt_tokens_details":{"cached_tokens":400},"completion_tokens_details":{"reasoning_tokens":50}}}"#;

/// Drives one exchange with whole bodies; returns the host and the filter.
fn exchange(
    cfg: &str,
    headers: Vec<(String, String)>,
    request: &[u8],
    status: &str,
    response: &[u8],
) -> FakeHost {
    let mut host = FakeHost {
        request_headers: headers,
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared(cfg)));
    assert_eq!(f.on_request_headers(&mut host, false), Action::Continue);
    host.released.push(Map::RequestHeaders);
    host.request_body = request.to_vec();
    let a = f.on_request_body(&mut host, request.len(), true);
    if host.local_response.is_some() {
        assert_eq!(a, Action::Pause);
        return host;
    }
    assert_eq!(a, Action::Continue);
    host.response_headers = vec![
        (":status".into(), status.into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), response.len().to_string()),
    ];
    let held = f.on_response_headers(&mut host, false) == Action::Pause;
    if !held {
        host.released.push(Map::ResponseHeaders);
    }
    host.response_body = response.to_vec();
    assert_eq!(
        f.on_response_body(&mut host, response.len(), true),
        Action::Continue
    );
    f.on_log(&mut host);
    host
}

/// The default request headers with `name` set to `value` instead.
fn replaced(name: &str, value: &str) -> Vec<(String, String)> {
    let mut h = request_headers(&[]);
    for (k, v) in &mut h {
        if k == name {
            *v = value.to_string();
        }
    }
    h
}

fn get<'a>(map: &'a [(String, String)], name: &str) -> Option<&'a str> {
    map.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn default_mode_stamps_trailers_state_and_metrics() {
    let host = exchange(
        CFG,
        request_headers(&[("x-tenant-id", "acme"), ("x-team", "search")]),
        REQUEST,
        "200",
        RESPONSE,
    );
    // Upstream saw the attribution headers.
    assert_eq!(get(&host.request_headers, "x-llm-tenant"), Some("acme"));
    assert_eq!(get(&host.request_headers, "x-llm-team"), Some("search"));
    // 600 × 2.5 + 400 × 1.25 + 200 × 10 = 1500 + 500 + 2000 micro-USD = $0.004
    let t = &host.response_trailers;
    assert_eq!(get(t, "x-llm-cost-usd"), Some("0.004"));
    assert_eq!(get(t, "x-llm-input-tokens"), Some("1000"));
    assert_eq!(get(t, "x-llm-cached-tokens"), Some("400"));
    assert_eq!(get(t, "x-llm-reasoning-tokens"), Some("50"));
    assert_eq!(get(t, "x-llm-model"), Some("gpt-4o-2024-08-06"));
    assert_eq!(get(t, "x-llm-usage-source"), Some("provider"));
    assert_eq!(get(&host.response_headers, "x-llm-cost-usd"), None);
    assert_eq!(
        get(&host.response_headers, "content-length"),
        None,
        "chunked, so trailers can follow"
    );
    let state: Value = serde_json::from_slice(&host.properties["tollbooth"]).unwrap();
    assert_eq!(state["tenant"], "acme");
    assert_eq!(state["attributes"]["team"], "search");
    assert_eq!(
        host.counter("tollbooth.tenant.acme.model.gpt-4o-2024-08-06.cost_micro_usd"),
        4000
    );
    assert_eq!(
        host.counter("tollbooth.tenant.acme.model.gpt-4o-2024-08-06.requests"),
        1
    );
}

#[test]
fn headers_mode_holds_json_responses_and_stamps_headers() {
    let cfg = CFG.replacen('{', r#"{"allow_on_headers_stop_iteration":true,"#, 1);
    let host = exchange(
        &cfg,
        request_headers(&[("x-tenant-id", "acme")]),
        REQUEST,
        "200",
        RESPONSE,
    );
    assert_eq!(get(&host.response_headers, "x-llm-cost-usd"), Some("0.004"));
    assert_eq!(get(&host.response_headers, "x-llm-tenant"), Some("acme"));
    assert!(host.response_trailers.is_empty());
    assert!(
        get(&host.response_headers, "content-length").is_some(),
        "a held body keeps its length"
    );
}

#[test]
fn api_key_tenant_never_exposes_the_key() {
    let host = exchange(
        CFG,
        request_headers(&[("authorization", "Bearer sk-live-SECRET")]),
        REQUEST,
        "200",
        RESPONSE,
    );
    let tenant = get(&host.response_trailers, "x-llm-tenant").unwrap();
    assert!(tenant.starts_with("key-"));
    let everything = format!(
        "{:?}{:?}{:?}",
        host.response_trailers, host.properties, host.logs
    );
    assert!(!everything.contains("SECRET"));
}

#[test]
fn unpriced_model_gets_tokens_but_no_cost() {
    let req = br#"{"model":"llama-3-70b","messages":[{"role":"user","content":"hi"}]}"#;
    let resp = br#"{"model":"llama-3-70b","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":2}}"#;
    let host = exchange(CFG, request_headers(&[]), req, "200", resp);
    assert_eq!(
        get(&host.response_trailers, "x-llm-input-tokens"),
        Some("8")
    );
    assert_eq!(get(&host.response_trailers, "x-llm-cost-usd"), None);
    assert_eq!(
        host.counter("tollbooth.tenant.anonymous.model.llama-3-70b.unpriced_requests"),
        1
    );
}

#[test]
fn missing_usage_is_estimated() {
    let resp = br#"{"model":"gpt-4o","choices":[{"message":{"content":"Hello!"}}]}"#;
    let host = exchange(CFG, request_headers(&[]), REQUEST, "200", resp);
    let tok = tokenizer();
    let expected_in = 3
        + 3
        + tok.count(Encoding::O200kBase, "user")
        + tok.count(Encoding::O200kBase, "Say hello");
    assert_eq!(
        get(&host.response_trailers, "x-llm-input-tokens"),
        Some(expected_in.to_string().as_str())
    );
    assert_eq!(
        get(&host.response_trailers, "x-llm-output-tokens"),
        Some(
            tok.count(Encoding::O200kBase, "Hello!")
                .to_string()
                .as_str()
        )
    );
    assert_eq!(
        get(&host.response_trailers, "x-llm-usage-source"),
        Some("estimate")
    );
    assert_eq!(
        host.counter("tollbooth.tenant.anonymous.model.gpt-4o.estimated_requests"),
        1
    );
}

#[test]
fn error_responses_cost_nothing() {
    let host = exchange(
        CFG,
        request_headers(&[]),
        REQUEST,
        "429",
        br#"{"error":{"message":"slow down"}}"#,
    );
    assert_eq!(
        get(&host.response_trailers, "x-llm-input-tokens"),
        Some("0")
    );
    assert_eq!(get(&host.response_trailers, "x-llm-cost-usd"), Some("0"));
    assert_eq!(
        get(&host.response_trailers, "x-llm-usage-source"),
        Some("none")
    );
}

#[test]
fn bad_usage_is_logged_counted_and_estimated() {
    let resp =
        br#"{"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":2}}"#;
    let host = exchange(CFG, request_headers(&[]), REQUEST, "200", resp);
    assert_eq!(
        get(&host.response_trailers, "x-llm-usage-source"),
        Some("estimate")
    );
    assert_eq!(
        host.counter("tollbooth.invalid.reason.bad_usage.requests"),
        1
    );
    assert_eq!(
        host.logs
            .iter()
            .filter(|(l, _)| *l == LogLevel::Warn)
            .count(),
        1
    );
}

#[test]
fn other_traffic_is_untouched() {
    for headers in [replaced(":path", "/v1/models"), replaced(":method", "GET")] {
        let before = headers.clone();
        let mut host = FakeHost {
            request_headers: headers,
            ..FakeHost::default()
        };
        let mut f = HttpFilter::new(Some(shared(CFG)));
        assert_eq!(f.on_request_headers(&mut host, false), Action::Continue);
        assert_eq!(host.request_headers, before);
        assert_eq!(f.on_request_body(&mut host, 10, true), Action::Continue);
        assert_eq!(f.on_response_headers(&mut host, false), Action::Continue);
        f.on_log(&mut host);
        assert!(
            host.properties.is_empty() && host.response_trailers.is_empty() && host.logs.is_empty()
        );
    }
}

#[test]
fn fail_open_passes_bad_requests_unmetered() {
    for (headers, body, reason) in [
        (request_headers(&[]), b"{oops".as_slice(), "invalid_json"),
        (
            request_headers(&[]),
            b"{\"messages\":[]}".as_slice(),
            "missing_model",
        ),
        (request_headers(&[]), b"\xff\xfe".as_slice(), "non_utf8"),
    ] {
        let host = exchange(CFG, headers, body, "200", RESPONSE);
        assert!(host.local_response.is_none());
        assert!(host.response_trailers.is_empty(), "{reason}: unmetered");
        assert_eq!(
            host.counter(&format!("tollbooth.invalid.reason.{reason}.requests")),
            1
        );
        assert_eq!(host.logs.len(), 1, "{reason}: exactly one log line");
    }
}

#[test]
fn fail_closed_answers_400_in_openai_format() {
    let cfg = CFG.replacen(
        '{',
        r#"{"fail_mode":"closed","routes":[{"path":"/v1/**"}],"#,
        1,
    );
    let host = exchange(&cfg, request_headers(&[]), b"{oops", "200", RESPONSE);
    let (status, body) = host.local_response.clone().unwrap();
    assert_eq!(status, 400);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "tollbooth_invalid_json");
    assert_eq!(
        host.counter("tollbooth.invalid.reason.invalid_json.requests"),
        1
    );
}

#[test]
fn fail_closed_answers_in_the_providers_own_format() {
    let cfg = CFG.replacen(
        '{',
        r#"{"fail_mode":"closed","routes":[{"path":"/v1/**"}],"#,
        1,
    );
    let host = exchange(
        &cfg,
        replaced(":path", "/v1/messages"),
        b"{oops",
        "200",
        RESPONSE,
    );
    let (status, body) = host.local_response.clone().unwrap();
    assert_eq!(status, 400);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
}

#[test]
fn fail_closed_holds_the_body_until_judged() {
    let cfg = CFG.replacen(
        '{',
        r#"{"fail_mode":"closed","routes":[{"path":"/v1/**"}],"#,
        1,
    );
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared(&cfg)));
    f.on_request_headers(&mut host, false);
    host.request_body = REQUEST[..10].to_vec();
    assert_eq!(f.on_request_body(&mut host, 10, false), Action::Pause);
    host.request_body = REQUEST.to_vec();
    assert_eq!(
        f.on_request_body(&mut host, REQUEST.len(), true),
        Action::Continue
    );
    assert!(host.local_response.is_none());
}

#[test]
fn wrong_content_type_and_oversized_bodies() {
    let host = exchange(
        CFG,
        replaced("content-type", "text/plain"),
        REQUEST,
        "200",
        RESPONSE,
    );
    assert_eq!(
        host.counter("tollbooth.invalid.reason.content_type.requests"),
        1
    );
    let small = CFG.replacen('{', r#"{"max_body_bytes":16,"#, 1);
    let host = exchange(&small, request_headers(&[]), REQUEST, "200", RESPONSE);
    assert_eq!(
        host.counter("tollbooth.invalid.reason.body_too_large.requests"),
        1
    );
    assert!(host.response_trailers.is_empty());
}

#[test]
fn chunked_request_body_is_reassembled() {
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared(CFG)));
    f.on_request_headers(&mut host, false);
    // A Chat Completions body is held (it may need `include_usage`): Pause keeps Envoy
    // buffering, so each callback sees everything so far, until the last one.
    let chunks: Vec<&[u8]> = REQUEST.chunks(7).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        host.request_body.extend_from_slice(chunk);
        let last = i == chunks.len() - 1;
        let expected = if last {
            Action::Continue
        } else {
            Action::Pause
        };
        let size = host.request_body.len();
        assert_eq!(f.on_request_body(&mut host, size, last), expected);
    }
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
    ];
    f.on_response_headers(&mut host, false);
    for (i, chunk) in RESPONSE.chunks(5).enumerate() {
        host.response_body = chunk.to_vec();
        f.on_response_body(&mut host, chunk.len(), (i + 1) * 5 >= RESPONSE.len());
    }
    assert_eq!(
        get(&host.response_trailers, "x-llm-cost-usd"),
        Some("0.004")
    );
}

#[test]
fn abandoned_response_is_metered_at_log_time() {
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared(CFG)));
    f.on_request_headers(&mut host, false);
    host.request_body = REQUEST.to_vec();
    f.on_request_body(&mut host, REQUEST.len(), true);
    f.on_log(&mut host);
    let state: Value = serde_json::from_slice(&host.properties["tollbooth"]).unwrap();
    assert_eq!(state["usage_source"], "estimate");
    assert!(state["input_tokens"].as_u64().unwrap() > 0);
    assert!(host.response_trailers.is_empty());
}

#[test]
fn unconfigured_filter_passes_everything() {
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(None);
    assert_eq!(f.on_request_headers(&mut host, false), Action::Continue);
    assert_eq!(f.on_request_body(&mut host, 3, true), Action::Continue);
    assert!(host.logs.is_empty() && host.properties.is_empty());
}

#[test]
fn held_response_is_released_before_the_buffer_limit() {
    let cfg = CFG.replacen(
        '{',
        r#"{"allow_on_headers_stop_iteration":true,"buffer_limit_bytes":100,"#,
        1,
    );
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared(&cfg)));
    f.on_request_headers(&mut host, false);
    host.request_body = REQUEST.to_vec();
    f.on_request_body(&mut host, REQUEST.len(), true);
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
    ];
    assert_eq!(f.on_response_headers(&mut host, false), Action::Pause);
    host.response_body = RESPONSE[..60].to_vec();
    assert_eq!(
        f.on_response_body(&mut host, 60, false),
        Action::Pause,
        "under the limit: hold"
    );
    host.response_body = RESPONSE[..120].to_vec();
    assert_eq!(
        f.on_response_body(&mut host, 120, false),
        Action::Continue,
        "at the limit: release"
    );
    host.released.push(Map::ResponseHeaders);
    host.response_body = RESPONSE[120..].to_vec();
    assert_eq!(
        f.on_response_body(&mut host, RESPONSE.len() - 120, true),
        Action::Continue
    );
    assert_eq!(
        get(&host.response_trailers, "x-llm-usage-source"),
        Some("provider"),
        "stamped as trailers instead"
    );
    assert_eq!(
        get(&host.response_trailers, "x-llm-cost-usd"),
        Some("0.004")
    );
}

/// Drives request headers and a complete request body; returns the filter.
fn started(cfg: &str, host: &mut FakeHost) -> HttpFilter {
    let mut f = HttpFilter::new(Some(shared(cfg)));
    assert_eq!(f.on_request_headers(host, false), Action::Continue);
    host.request_body = REQUEST.to_vec();
    assert_eq!(
        f.on_request_body(host, REQUEST.len(), true),
        Action::Continue
    );
    f
}

fn json_response_headers(len: usize) -> Vec<(String, String)> {
    vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), len.to_string()),
    ]
}

#[test]
fn request_trailers_end_the_request() {
    // The held body is read from the buffer when the trailers arrive.
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared(CFG)));
    f.on_request_headers(&mut host, false);
    host.request_body = REQUEST.to_vec();
    assert_eq!(
        f.on_request_body(&mut host, REQUEST.len(), false),
        Action::Pause
    );
    assert_eq!(f.on_request_trailers(&mut host), Action::Continue);
    host.response_headers = json_response_headers(RESPONSE.len());
    f.on_response_headers(&mut host, false);
    host.response_body = RESPONSE.to_vec();
    f.on_response_body(&mut host, RESPONSE.len(), true);
    assert_eq!(
        get(&host.response_trailers, "x-llm-cost-usd"),
        Some("0.004")
    );

    // Fail-closed: the held body is judged at the trailers, and an invalid one is refused.
    let cfg = CFG.replacen(
        '{',
        r#"{"fail_mode":"closed","routes":[{"path":"/v1/**"}],"#,
        1,
    );
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared(&cfg)));
    f.on_request_headers(&mut host, false);
    host.request_body = b"not json at all".to_vec();
    assert_eq!(f.on_request_body(&mut host, 15, false), Action::Pause);
    assert_eq!(f.on_request_trailers(&mut host), Action::Pause);
    assert_eq!(host.local_response.as_ref().map(|r| r.0), Some(400));
}

#[test]
fn response_trailers_carry_the_stamps() {
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    let mut f = started(CFG, &mut host);
    host.response_headers = json_response_headers(RESPONSE.len());
    assert_eq!(f.on_response_headers(&mut host, false), Action::Continue);
    host.response_body = RESPONSE.to_vec();
    assert_eq!(
        f.on_response_body(&mut host, RESPONSE.len(), false),
        Action::Continue
    );
    host.response_trailers = vec![("grpc-status".into(), "0".into())];
    assert_eq!(f.on_response_trailers(&mut host), Action::Continue);
    assert_eq!(
        get(&host.response_trailers, "x-llm-cost-usd"),
        Some("0.004")
    );
    assert_eq!(
        get(&host.response_trailers, "grpc-status"),
        Some("0"),
        "upstream trailers kept"
    );

    // ≥1.35 mode: held headers get the stamps when the trailers end the response.
    let cfg = CFG.replacen('{', r#"{"allow_on_headers_stop_iteration":true,"#, 1);
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    let mut f = started(&cfg, &mut host);
    host.response_headers = json_response_headers(RESPONSE.len());
    assert_eq!(f.on_response_headers(&mut host, false), Action::Pause);
    host.response_body = RESPONSE.to_vec();
    assert_eq!(
        f.on_response_body(&mut host, RESPONSE.len(), false),
        Action::Pause
    );
    assert_eq!(f.on_response_trailers(&mut host), Action::Continue);
    assert_eq!(get(&host.response_headers, "x-llm-cost-usd"), Some("0.004"));
}

#[test]
fn held_overflow_drops_content_length_so_trailers_get_through() {
    let cfg = CFG.replacen(
        '{',
        r#"{"allow_on_headers_stop_iteration":true,"buffer_limit_bytes":100,"#,
        1,
    );
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    let mut f = started(&cfg, &mut host);
    host.response_headers = json_response_headers(RESPONSE.len());
    assert_eq!(f.on_response_headers(&mut host, false), Action::Pause);
    host.response_body = RESPONSE[..120].to_vec();
    assert_eq!(f.on_response_body(&mut host, 120, false), Action::Continue);
    assert_eq!(get(&host.response_headers, "content-length"), None);
}

#[test]
fn compression_and_spoofed_attributes() {
    let mut host = FakeHost {
        request_headers: request_headers(&[
            ("accept-encoding", "gzip, br"),
            ("x-llm-team", "someone-else"),
        ]),
        ..FakeHost::default()
    };
    let mut f = started(CFG, &mut host);
    assert_eq!(
        get(&host.request_headers, "accept-encoding"),
        None,
        "ask upstream for identity"
    );
    assert_eq!(
        get(&host.request_headers, "x-llm-team"),
        None,
        "a client's own claim is not forwarded"
    );
    host.response_headers = json_response_headers(10);
    host.response_headers
        .push(("content-encoding".into(), "gzip".into()));
    f.on_response_headers(&mut host, false);
    // Not valid gzip: counted as undecodable, and the response is estimated.
    host.response_body = vec![0x1f, 0x8b, 0, 1, 2, 3, 4, 5, 6, 7];
    f.on_response_body(&mut host, 10, true);
    assert_eq!(
        host.counter("tollbooth.invalid.reason.content_encoding.requests"),
        1
    );
    assert_eq!(
        get(&host.response_trailers, "x-llm-usage-source"),
        Some("estimate")
    );
}

#[test]
fn model_names_are_safe_header_values() {
    let req = br#"{"model":"gpt-4o\r\nx-injected: 1","messages":[]}"#;
    let host = exchange(CFG, request_headers(&[]), req, "200", br#"{"choices":[]}"#);
    let model = get(&host.response_trailers, "x-llm-model").unwrap();
    assert!(model.bytes().all(|b| b.is_ascii_graphic()), "{model:?}");
    assert!(host.counter("tollbooth.tenant.anonymous.model.gpt-4o__x-injected__1.requests") == 1);
}

#[test]
fn the_vm_copy_budget_bounds_concurrent_copies() {
    let cfg = CFG.replacen('{', r#"{"max_copied_bytes_per_vm":100,"#, 1);
    let shared = shared(&cfg);
    let start = |host: &mut FakeHost| {
        let mut f = HttpFilter::new(Some(Rc::clone(&shared)));
        f.on_request_headers(host, false);
        host.request_body = REQUEST.to_vec();
        f.on_request_body(host, REQUEST.len(), true);
        f
    };
    let mut host = FakeHost {
        request_headers: request_headers(&[]),
        ..FakeHost::default()
    };
    // A parsed request's copy is dropped and given back; a response being copied counts.
    let mut first = start(&mut host);
    assert_eq!(shared.copied.get(), 0);
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
    ];
    first.on_response_headers(&mut host, false);
    host.response_body = RESPONSE[..60].to_vec();
    first.on_response_body(&mut host, 60, false);
    assert_eq!(shared.copied.get(), 60);
    let second = start(&mut host);
    assert_eq!(
        host.counter("tollbooth.invalid.reason.vm_copy_budget.requests"),
        1,
        "the second copy would pass the budget"
    );
    drop(second);
    drop(first);
    assert_eq!(
        shared.copied.get(),
        0,
        "dropped streams give their bytes back"
    );
    let mut third = start(&mut host);
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
    ];
    third.on_response_headers(&mut host, false);
    host.response_body = RESPONSE.to_vec();
    third.on_response_body(&mut host, RESPONSE.len(), true);
    assert_eq!(
        get(&host.response_trailers, "x-llm-usage-source"),
        Some("estimate"),
        "response over budget: estimated"
    );
    assert_eq!(
        host.counter("tollbooth.invalid.reason.vm_copy_budget.requests"),
        2
    );
}

#[test]
fn compressed_responses_are_decoded_for_metering_only() {
    let body = gzip(RESPONSE);
    for (name, value) in [
        ("content-encoding", "gzip"),
        ("content-encoding", "unknown"),
    ] {
        let mut host = FakeHost {
            request_headers: request_headers(&[]),
            ..FakeHost::default()
        };
        let mut f = started(CFG, &mut host);
        host.response_headers = json_response_headers(body.len());
        host.response_headers.push((name.into(), value.into()));
        f.on_response_headers(&mut host, false);
        for piece in body.chunks(5) {
            host.response_body = piece.to_vec();
            f.on_response_body(&mut host, piece.len(), false);
            assert_eq!(
                host.response_body, piece,
                "the client gets the compressed bytes"
            );
        }
        host.response_body.clear();
        f.on_response_body(&mut host, 0, true);
        let (source, tokens) = if value == "gzip" {
            ("provider", Some("1000"))
        } else {
            ("estimate", None)
        };
        assert_eq!(
            get(&host.response_trailers, "x-llm-usage-source"),
            Some(source)
        );
        if tokens.is_some() {
            assert_eq!(get(&host.response_trailers, "x-llm-input-tokens"), tokens);
        }
    }
}
