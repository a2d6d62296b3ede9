//! Unit tests of [`crate::anthropic`].

use super::*;

#[test]
fn parses_system_and_blocks() {
    let body = br#"{"model":"claude-x","max_tokens":10,"system":[{"type":"text","text":"be brief"}],
        "messages":[{"role":"user","content":[{"type":"text","text":"hello"},{"type":"text","text":"there"}]}]}"#;
    let (req, err) = MessagesRequest::parse(body);
    assert_eq!(err, None);
    assert_eq!(req.system.as_deref(), Some("be brief"));
    assert_eq!(req.messages, [("user".into(), "hello\nthere".into())]);
    assert_eq!(
        req.prompt_texts().collect::<Vec<_>>(),
        ["be brief", "hello\nthere"]
    );
    assert_eq!(req.default_reply(), "Mock reply to: hello\nthere");
    assert!(!req.stream);
}

#[test]
fn required_fields() {
    for (body, field) in [
        (r#"{"max_tokens":1,"messages":[]}"#, "model"),
        (r#"{"model":"m","max_tokens":1}"#, "messages"),
        (r#"{"model":"m","messages":[]}"#, "max_tokens"),
    ] {
        let err = MessagesRequest::parse(body.as_bytes()).1.unwrap();
        assert_eq!(err.message, format!("{field}: Field required"));
        assert_eq!(err.kind, "invalid_request_error");
    }
    assert!(MessagesRequest::parse(b"{").1.is_some());
}

#[test]
fn usage_mapping() {
    let u = UsageCounts {
        prompt: 100,
        completion: 20,
        cached: 30,
        reasoning: 5,
    };
    let w = WireUsage::new(
        u,
        CacheWrite {
            ttl_5m: 10,
            ttl_1h: 4,
        },
    )
    .unwrap();
    assert_eq!(w.input_tokens, 56);
    assert_eq!(w.cache_read_input_tokens, 30);
    assert_eq!(w.cache_creation_input_tokens, 14);
    assert_eq!(w.cache_creation.ephemeral_1h_input_tokens, 4);
    assert_eq!(w.output_tokens, 20);
    assert!(WireUsage::new(
        u,
        CacheWrite {
            ttl_5m: 71,
            ttl_1h: 0
        }
    )
    .is_err());
}

#[test]
fn error_types() {
    for (code, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ] {
        let e = ApiError::for_status(StatusCode::from_u16(code).unwrap());
        assert_eq!(e.kind, kind, "{code}");
    }
}
