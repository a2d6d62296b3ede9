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
//!
//! # Budget refusals ([`refused`])
//!
//! Always status 429, in each provider's shape:
//!
//! - OpenAI and Azure: `type` and `code` are `rate_limit_exceeded`, or `insufficient_quota` for
//!   a spent budget, the two 429 codes of <https://platform.openai.com/docs/guides/error-codes>
//!   and <https://platform.openai.com/docs/guides/rate-limits>.
//! - Anthropic: `rate_limit_error` for every kind, the only 429 type of
//!   <https://docs.anthropic.com/en/api/errors> (the SDKs map 429 to `RateLimitError`).
//! - Gemini and Vertex AI: `RESOURCE_EXHAUSTED`, which Google's error model maps to HTTP 429
//!   (<https://cloud.google.com/apis/design/errors>, "Error model" and "HTTP mapping"). `details`
//!   holds a `google.rpc.ErrorInfo` (AIP-193, <https://google.aip.dev/193>, asks every error for
//!   exactly one; its `reason` is how a client tells a spent budget from a rate limit) and, when
//!   the wait is known, a `google.rpc.RetryInfo` whose `retryDelay` is a `google.protobuf.Duration`
//!   in its JSON form: seconds with 0, 3, 6 or 9 fractional digits and an `s` suffix (`"6s"`,
//!   `"1.500s"`, <https://protobuf.dev/programming-guides/json/>; RetryInfo in
//!   <https://github.com/googleapis/googleapis/blob/master/google/rpc/error_details.proto>).
//! - Bedrock: `ThrottlingException` (documented with 429 for InvokeModel and Converse,
//!   <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html>,
//!   <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>) for
//!   rate limits, loops and oversized requests; `ServiceQuotaExceededException` for a spent
//!   budget ("Your request exceeds the service quota for your account ... You can resubmit your
//!   request later", documented with 400 for InvokeModel; we keep 429). AWS SDKs retry
//!   `ThrottlingException` by itself as a throttling error but not
//!   `ServiceQuotaExceededException` (the throttling codes of botocore's standard retry mode,
//!   `botocore/retries/standard.py`, and
//!   <https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>), so a spent
//!   budget does not cost the client a round of doomed retries. Converse does not list
//!   `ServiceQuotaExceededException` among its errors: SDKs with per-operation error types
//!   (Rust, Go) surface it as an unmodelled error that still carries the code; boto3 raises
//!   the service's `ServiceQuotaExceededException` class.
//!
//! Headers, for every provider: `content-type: application/json`; when the wait is known,
//! `retry-after` (whole seconds, rounded up, RFC 9110 §10.2.3) and `retry-after-ms`, which the
//! OpenAI and Anthropic Python SDKs read before `retry-after` (`_parse_retry_after_header` in
//! `src/openai/_base_client.py` of openai/openai-python 3.3.1 and `src/anthropic/_base_client.py`
//! of anthropics/anthropic-sdk-python 0.121.0); and `x-should-retry: false` for refusals that waiting a
//! moment cannot cure (a spent budget, a loop, a request over the limit by itself), which both
//! SDKs' `_should_retry` obey before looking at the status (they retry every other 429).

use crate::config::Provider;
use serde_json::{json, Value};

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

/// Why a request is refused by a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A per-minute rate limit (requests or tokens); budget returns as the bucket refills.
    RateLimit,
    /// A spent budget (tokens/USD per day or month, a run's budget): comes back only at the
    /// window's end (or never, for a run).
    Quota,
    /// Loop detection: the same prompt repeated too often.
    Loop,
    /// The request alone is bigger than the limit: retrying cannot help.
    TooLarge,
}

impl Refusal {
    /// Whether a client should retry by itself after the wait; only a rate limit heals soon.
    pub fn retryable(self) -> bool {
        self == Refusal::RateLimit
    }

    /// The `reason` of the Gemini reply's `google.rpc.ErrorInfo` (domain `tollbooth`).
    fn reason(self) -> &'static str {
        match self {
            Refusal::RateLimit => "RATE_LIMIT_EXCEEDED",
            Refusal::Quota => "BUDGET_EXHAUSTED",
            Refusal::Loop => "LOOP_DETECTED",
            Refusal::TooLarge => "REQUEST_TOO_LARGE",
        }
    }
}

/// A complete error reply: status, body and headers (content type included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// The 429 reply refusing a request for `why`, in `provider`'s format; `retry_after_ms` is how
/// long until the budget allows the request again, when known.
pub fn refused(
    provider: Provider,
    why: Refusal,
    message: &str,
    retry_after_ms: Option<u64>,
) -> Reply {
    let body = match provider {
        Provider::OpenAi | Provider::Azure => {
            let code = match why {
                Refusal::Quota => "insufficient_quota",
                Refusal::RateLimit | Refusal::Loop | Refusal::TooLarge => "rate_limit_exceeded",
            };
            json!({"error": {"message": message, "type": code, "param": null, "code": code}})
        }
        Provider::Anthropic => json!({"type": "error", "error": {
            "type": "rate_limit_error", "message": message}}),
        Provider::Gemini => {
            let mut details = vec![json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": why.reason(),
                "domain": "tollbooth",
            })];
            if let Some(ms) = retry_after_ms {
                details.push(json!({
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": proto_duration(ms),
                }));
            }
            json!({"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED",
                "details": Value::Array(details)}})
        }
        Provider::Bedrock => json!({"message": message}),
    };
    let mut headers = vec![header("content-type", "application/json")];
    if provider == Provider::Bedrock {
        let kind = match why {
            Refusal::Quota => "ServiceQuotaExceededException",
            Refusal::RateLimit | Refusal::Loop | Refusal::TooLarge => "ThrottlingException",
        };
        headers.push(header("x-amzn-errortype", kind));
    }
    if let Some(ms) = retry_after_ms {
        headers.push(header("retry-after", &ms.div_ceil(1000).to_string()));
        headers.push(header("retry-after-ms", &ms.to_string()));
    }
    if !why.retryable() {
        headers.push(header("x-should-retry", "false"));
    }
    Reply {
        status: 429,
        body: body.to_string().into_bytes(),
        headers,
    }
}

fn header(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

/// A `google.protobuf.Duration` in its JSON form, from milliseconds: `"6s"`, `"1.500s"`.
fn proto_duration(ms: u64) -> String {
    let (secs, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        format!("{secs}s")
    } else {
        format!("{secs}.{frac:03}s")
    }
}

#[cfg(test)]
mod tests;
