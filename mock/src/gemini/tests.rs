//! Unit tests of [`crate::gemini`].

use super::*;

#[test]
fn paths() {
    let call = |model: &str, stream| {
        Some(Call {
            model: model.into(),
            stream,
        })
    };
    assert_eq!(
        parse_path("/v1beta/models/gemini-2.0-flash:generateContent"),
        call("gemini-2.0-flash", false)
    );
    assert_eq!(
        parse_path("/v1beta/models/gemini-2.0-flash:streamGenerateContent"),
        call("gemini-2.0-flash", true)
    );
    assert_eq!(
        parse_path("/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"),
        call("gemini-2.5-pro", false)
    );
    assert_eq!(
        parse_path("/v1beta/models/m%3AgenerateContent"),
        call("m", false)
    );
    for bad in [
        "/v1beta/models/m:countTokens",
        "/v1beta/models/:generateContent",
        "/v1beta/tunedModels/m:generateContent",
        "/v1beta/models/m",
        "/v1/chat/completions",
    ] {
        assert_eq!(parse_path(bad), None, "{bad}");
    }
    assert!(wants_sse(Some("key=k&alt=sse")));
    assert!(!wants_sse(Some("alt=json")));
    assert!(!wants_sse(None));
}

#[test]
fn parses_contents_and_system() {
    let body = br#"{"systemInstruction":{"parts":[{"text":"be brief"}]},
        "contents":[{"parts":[{"text":"hello"}]},{"role":"model","parts":[{"text":"hi"}]}]}"#;
    let (req, err) = GenerateRequest::parse(body);
    assert_eq!(err, None);
    assert_eq!(
        req.prompt_texts().collect::<Vec<_>>(),
        ["be brief", "hello", "hi"]
    );
    assert_eq!(req.default_reply(), "Mock reply to: hello");
    let (_, err) = GenerateRequest::parse(br#"{"contents":{}}"#);
    assert_eq!(err.unwrap().rpc_status(), "INVALID_ARGUMENT");
}

#[test]
fn usage_mapping() {
    let u = UsageCounts {
        prompt: 100,
        completion: 30,
        cached: 40,
        reasoning: 12,
    };
    let w = WireUsage::new(u).unwrap();
    assert_eq!(w.candidates_token_count, Some(18));
    assert_eq!(w.thoughts_token_count, Some(12));
    assert_eq!(w.cached_content_token_count, Some(40));
    assert_eq!(w.total_token_count, 130);
    let early = w.before_text();
    assert_eq!(
        (early.candidates_token_count, early.total_token_count),
        (None, 112)
    );
    let plain = WireUsage::new(UsageCounts {
        prompt: 9,
        completion: 6,
        ..Default::default()
    })
    .unwrap();
    let json = serde_json::to_string(&plain).unwrap();
    assert_eq!(
        json,
        r#"{"promptTokenCount":9,"candidatesTokenCount":6,"totalTokenCount":15}"#
    );
    assert!(WireUsage::new(UsageCounts {
        completion: 1,
        reasoning: 2,
        ..Default::default()
    })
    .is_err());
}
