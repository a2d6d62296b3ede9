//! Error replies in each provider's own format, so that a client's SDK raises its usual error
//! type with the gateway's message.
//!
//! - OpenAI and Azure: `{"error":{"message","type","param","code"}}`
//!   (<https://platform.openai.com/docs/guides/error-codes>).
//! - Anthropic: `{"type":"error","error":{"type","message"}}`
//!   (<https://docs.anthropic.com/en/api/errors>).
//! - Gemini and Vertex AI: `{"error":{"code","message","status"}}`, Google's RPC status
//!   (<https://ai.google.dev/gemini-api/docs/troubleshooting>).
//! - Bedrock: `{"message"}` with the error type in `x-amzn-errortype`
//!   (<https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html>).

use crate::config::Provider;
use serde_json::json;

/// A 400 reply for a request the gateway refuses: its body and its extra headers.
pub fn invalid_request(
    provider: Provider,
    message: &str,
    code: &str,
) -> (Vec<u8>, Vec<(&'static str, &'static str)>) {
    let body = match provider {
        Provider::OpenAi | Provider::Azure => json!({"error": {
            "message": message, "type": "invalid_request_error", "param": null, "code": code}}),
        Provider::Anthropic => json!({"type": "error", "error": {
            "type": "invalid_request_error", "message": message}}),
        Provider::Gemini => json!({"error": {
            "code": 400, "message": message, "status": "INVALID_ARGUMENT"}}),
        Provider::Bedrock => json!({"message": message}),
    };
    let headers = match provider {
        Provider::Bedrock => vec![("x-amzn-errortype", "ValidationException")],
        _ => Vec::new(),
    };
    (body.to_string().into_bytes(), headers)
}

#[cfg(test)]
mod tests {
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
}
