//! Review: which requests the default `/**` route meters. Detection goes by path alone, so a
//! path that is not a billable LLM call must not be metered (or refused in fail-closed mode).

use super::test_support::{headers, requested, shared};
use super::*;
use crate::fake::FakeHost;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Vertex AI's token counting for Claude is a `rawPredict` on the model `count-tokens`
/// (https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/count-tokens:
/// "There is no cost for using the count-tokens endpoint"); its request names the model being
/// counted and its answer is `{"input_tokens": N}`. It must not be billed as a Messages call.
#[test]
fn vertex_claude_token_counting_is_not_billed() {
    let path =
        "/v1/projects/p/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict";
    let request = br#"{"model":"claude-3-haiku@20240307","messages":[{"role":"user","content":"how many tokens are in this request?"}]}"#;
    let response = br#"{"input_tokens":14}"#;
    let (mut host, mut f) = requested("{}", path, request);
    host.response_headers = headers(&[(":status", "200"), ("content-type", "application/json")]);
    f.on_response_headers(&mut host, false);
    host.response_body = response.to_vec();
    f.on_response_body(&mut host, response.len(), true);
    f.on_log(&mut host);
    assert!(
        host.response_trailers.is_empty(),
        "{:?}",
        host.response_trailers
    );
    assert!(!host.properties.contains_key("tollbooth"));
    assert!(
        host.metric_values.iter().all(|v| *v == 0),
        "{:?}",
        host.metric_names
    );
}

/// With the default `/**` route, a POST to another service whose path merely ends like an LLM
/// endpoint is not LLM traffic; it must never be refused. Fail-closed mode therefore refuses a
/// catch-all auto-detecting route at configuration time, and fail-open passes such requests.
#[test]
fn other_services_are_not_refused_under_the_default_route() {
    for cfg in [
        r#"{"fail_mode":"closed"}"#,
        r#"{"fail_mode":"closed","routes":[{"path":"/**"}]}"#,
    ] {
        let e = Config::parse(cfg.as_bytes()).unwrap_err();
        assert_eq!(e.field, "fail_mode", "{cfg}: {e}");
    }
    for ok in [
        r#"{"fail_mode":"closed","routes":[{"path":"/**","host":"llm.internal"}]}"#,
        r#"{"fail_mode":"closed","routes":[{"path":"/**","provider":"openai"}]}"#,
        r#"{"fail_mode":"closed","routes":[{"path":"/v1/**"}]}"#,
    ] {
        assert!(Config::parse(ok.as_bytes()).is_ok(), "{ok}");
    }
    let cfg = "{}";
    for (path, content_type, body) in [
        (
            "/api/v1/messages",
            "application/json",
            r#"{"channel":"general","text":"hi"}"#,
        ),
        (
            "/api/surveys/42/responses",
            "application/json",
            r#"{"answers":[1,2]}"#,
        ),
        (
            "/forms/42/responses",
            "application/x-www-form-urlencoded",
            "a=1",
        ),
        (
            "/api/search/completions",
            "application/json",
            r#"{"prefix":"ab"}"#,
        ),
    ] {
        let mut host = FakeHost {
            request_headers: headers(&[
                (":method", "POST"),
                (":path", path),
                ("content-type", content_type),
            ]),
            ..FakeHost::default()
        };
        let mut f = HttpFilter::new(Some(shared(cfg)));
        f.on_request_headers(&mut host, false);
        host.request_body = body.as_bytes().to_vec();
        f.on_request_body(&mut host, body.len(), true);
        assert!(host.local_response.is_none(), "{path} refused");
    }
}

/// A form post to a path that looks like an LLM endpoint passes with its headers untouched.
#[test]
fn a_non_json_post_on_a_look_alike_path_is_not_touched() {
    let sent = headers(&[
        (":method", "POST"),
        (":path", "/forms/42/responses"),
        ("content-type", "application/x-www-form-urlencoded"),
        ("accept-encoding", "gzip"),
        ("content-length", "3"),
    ]);
    let mut host = FakeHost {
        request_headers: sent.clone(),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared("{}")));
    assert_eq!(f.on_request_headers(&mut host, false), Action::Continue);
    assert_eq!(host.request_headers, sent);
    host.request_body = b"a=1".to_vec();
    assert_eq!(f.on_request_body(&mut host, 3, true), Action::Continue);
}

/// Azure OpenAI answers 400 "Unrecognized request argument supplied: stream_options" on
/// api-versions that predate the parameter (e.g. the GA `2024-02-01`; see
/// openai/openai-python#1469 and langchain-ai/langchain#23552). Adding `include_usage` there
/// turns every working streamed request into a failing one.
#[test]
fn old_azure_api_versions_are_not_sent_stream_options() {
    for (version, rewritten) in [
        ("2024-02-01", false),
        ("2024-08-01-preview", false),
        ("2024-09-01-preview", true),
        ("2024-10-21", true),
    ] {
        let path = format!("/openai/deployments/gpt-4o/chat/completions?api-version={version}");
        let request = br#"{"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;
        let (host, _) = requested("{}", &path, request);
        assert_eq!(
            host.request_body != request.to_vec(),
            rewritten,
            "{version}"
        );
    }
    let path = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-02-01";
    let request = br#"{"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;
    let (host, _) = requested("{}", path, request);
    assert_eq!(
        host.request_body,
        request.to_vec(),
        "the upstream gets the body as sent"
    );
}
