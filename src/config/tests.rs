use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod budgets;
mod prices;

fn parse(json: &str) -> Result<Config, ConfigError> {
    Config::parse(json.as_bytes())
}

#[test]
fn empty_document_gives_defaults() {
    let c = parse("").unwrap();
    assert!(c.route("/v1/chat/completions", None).is_some());
    // The default route covers every path; the API is then detected from it.
    assert!(c
        .route("/v1/embeddings", None)
        .is_some_and(|r| r.provider.is_none()));
    assert_eq!(c.header_prefix, "x-llm-");
    assert_eq!(c.max_body_bytes, 4 * 1024 * 1024);
    assert_eq!(
        c.hold_limit(),
        1024 * 1024,
        "never hold more than Envoy's default buffer limit"
    );
    assert_eq!(c.filter_state.as_deref(), Some("tollbooth"));
    assert!(!c.fail_closed);
    assert!(!c.headers_wait_for_body);
    assert_eq!(c.tenant.default, "anonymous");
}

#[test]
fn example_config_parses() {
    let c = Config::parse(include_bytes!("../../examples/tollbooth.json")).unwrap();
    assert_eq!(
        c.prices.lookup("gpt-4o-2024-08-06").unwrap().standard.input,
        2_500_000
    );
    assert_eq!(
        c.prices.lookup("gpt-4").unwrap().standard.cached_input,
        30_000_000,
        "cached defaults to input"
    );
    assert_eq!(c.attributes.len(), 5);
    assert_eq!(c.tenant.header.as_deref(), Some("x-tenant-id"));
}

#[test]
fn unknown_fields_are_named() {
    let e = parse(r#"{"tenant": {"heder": "x"}}"#).unwrap_err();
    assert_eq!(e.field, "tenant.heder");
    assert!(e.message.contains("heder"), "{e}");
    let e = parse(r#"{"bogus": 1}"#).unwrap_err();
    assert!(e.message.contains("bogus"), "{e}");
}

#[test]
fn wrong_types_are_named() {
    let e = parse(r#"{"metrics": {"max_tenants": "many"}}"#).unwrap_err();
    assert_eq!(e.field, "metrics.max_tenants");
    let e = parse(r#"{"allow_on_headers_stop_iteration": "yes"}"#).unwrap_err();
    assert_eq!(e.field, "allow_on_headers_stop_iteration");
    let e = parse(r#"{"fail_mode": "sometimes"}"#).unwrap_err();
    assert_eq!(e.field, "fail_mode");
}

#[test]
fn bad_values_are_named() {
    let cases = [
        (
            r#"{"prices": {"gpt-4o": {"input": -1, "output": 1}}}"#,
            "prices.gpt-4o.input",
        ),
        (
            r#"{"prices": {"gpt-4o": {"input": 1, "output": "1.0000001"}}}"#,
            "prices.gpt-4o.output",
        ),
        (r#"{"routes": [{"path": "v1/chat"}]}"#, "routes[0].path"),
        (
            r#"{"routes": [{"path": "/x", "provider": "nope"}]}"#,
            "routes[0].provider",
        ),
        (r#"{"routes": []}"#, "routes"),
        (r#"{"tenant": {"header": "bad header"}}"#, "tenant.header"),
        (r#"{"attributes": {"Team": "x-team"}}"#, "attributes.Team"),
        (
            r#"{"tokenizer": {"default_encoding": "p50k_base"}}"#,
            "tokenizer.default_encoding",
        ),
        (
            r#"{"tokenizer": {"models": {"m": "x"}}}"#,
            "tokenizer.models.m",
        ),
        (r#"{"max_body_bytes": 0}"#, "max_body_bytes"),
        (r#"{"buffer_limit_bytes": 0}"#, "buffer_limit_bytes"),
        (
            r#"{"tenant": {"header": "Authorization"}}"#,
            "tenant.header",
        ),
        (r#"{"attributes": {"key": "x-api-key"}}"#, "attributes.key"),
        (
            r#"{"attributes": {"tenant": "x-tenant"}}"#,
            "attributes.tenant",
        ),
        (r#"{"stamp": {"header_prefix": ""}}"#, "stamp.header_prefix"),
        (r#"{"metrics": {"max_models": 0}}"#, "metrics.max_models"),
        (r#"{"metrics": {"prefix": "a.b"}}"#, "metrics.prefix"),
        (
            r#"{"prices": {"m": {"input": 1, "long_context": {"above_input_tokens": 0, "input": 2}}}}"#,
            "prices.m.long_context.above_input_tokens",
        ),
        (
            r#"{"prices": {"m": {"input": 1, "service_tiers": {"flex": {"input": "x"}}}}}"#,
            "prices.m.service_tiers.flex.input",
        ),
        (r#"{"default_prices": "yes"}"#, "default_prices"),
        (r#"{"litellm_prices": []}"#, "litellm_prices"),
        (
            r#"{"litellm_prices": {"gpt-4o": {"input_cost_per_token": -2.5e-06}}}"#,
            "litellm_prices.gpt-4o.input_cost_per_token",
        ),
    ];
    for (json, field) in cases {
        let e = parse(json).unwrap_err();
        assert_eq!(e.field, field, "{json}: {e}");
    }
}

#[test]
fn prices_as_strings_and_numbers_agree() {
    let a = parse(r#"{"prices": {"m": {"input": 0.15, "output": "0.6"}}}"#).unwrap();
    let p = a.prices.lookup("m").unwrap().standard;
    assert_eq!((p.input, p.output), (150_000, 600_000));
}

#[test]
fn routes_match_host_when_given() {
    let c = parse(r#"{"routes": [{"path": "/v1/chat/completions", "host": "api.openai.com"}]}"#)
        .unwrap();
    assert!(c
        .route("/v1/chat/completions", Some("api.openai.com:443"))
        .is_some());
    assert!(c
        .route("/v1/chat/completions", Some("API.OpenAI.com"))
        .is_some());
    assert!(c
        .route("/v1/chat/completions", Some("other.example"))
        .is_none());
    assert!(c.route("/v1/chat/completions", None).is_none());
    let v6 = parse(r#"{"routes": [{"path": "/v1/chat/completions", "host": "[::1]"}]}"#).unwrap();
    assert!(v6.route("/v1/chat/completions", Some("[::1]")).is_some());
    assert!(v6
        .route("/v1/chat/completions", Some("[::1]:8080"))
        .is_some());
}
