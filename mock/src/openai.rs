//! OpenAI Chat Completions (`POST …/v1/chat/completions`).
//!
//! Response shape: the chat completion object of the OpenAI API reference,
//! <https://platform.openai.com/docs/api-reference/chat/object>; with
//! `"stream": true`, the chunk stream built by [`crate::openai_stream`].
//! Error shape (`{"error":{"message","type","param","code"}}`) and the meaning of
//! the status codes: <https://platform.openai.com/docs/guides/error-codes>.

use hyper::header::{HeaderName, HeaderValue, RETRY_AFTER};
use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::ids;
use crate::openai_stream;
use crate::overrides::{BadHeader, Overrides, UsageMode};
use crate::response::MockResponse;
use crate::usage::{self, UsageCounts};

/// Requests whose path ends with this are chat completions, whatever the prefix
/// (`/v1/chat/completions`, `/openai/v1/chat/completions`, …).
pub const PATH_SUFFIX: &str = "/v1/chat/completions";
/// The fixed `created` timestamp of every completion.
pub const CREATED: u64 = 1_700_000_000;
/// Default reply: this prefix, then the first [`QUOTE_CHARS`] characters of the
/// last user message.
pub const REPLY_PREFIX: &str = "Mock reply to: ";
pub const QUOTE_CHARS: usize = 40;
/// Default reply when the request has no user message.
pub const NO_USER_REPLY: &str = "Mock reply.";

pub fn matches(path: &str) -> bool {
    path.ends_with(PATH_SUFFIX)
}

/// The parts of a chat request the mock uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    pub model: Option<String>,
    /// `(role, text)` of each message; array contents are the `text` of their
    /// parts joined by newlines, other contents are empty.
    pub messages: Vec<(String, String)>,
    /// `"stream": true`.
    pub stream: bool,
    /// `"stream_options": {"include_usage": true}`.
    pub include_usage: bool,
}

impl ChatRequest {
    /// Best-effort parse, plus the error OpenAI would answer if the request is
    /// invalid (unparseable JSON, no `model`, no `messages`).
    pub fn parse(body: &[u8]) -> (Self, Option<ApiError>) {
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("We could not parse the JSON body of your request. ({e})");
                return (Self::default(), Some(ApiError::invalid_request(msg, None)));
            }
        };
        let model = value
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let messages: Vec<(String, String)> = value
            .get("messages")
            .and_then(Value::as_array)
            .map(|ms| ms.iter().map(message).collect())
            .unwrap_or_default();
        let error = if model.is_none() {
            Some(ApiError::invalid_request(
                "you must provide a model parameter",
                Some("model"),
            ))
        } else if value.get("messages").and_then(Value::as_array).is_none() {
            Some(ApiError::invalid_request(
                "Missing required parameter: 'messages'.",
                Some("messages"),
            ))
        } else {
            None
        };
        let flag = |pointer: &str| value.pointer(pointer).and_then(Value::as_bool) == Some(true);
        let req = Self {
            model,
            messages,
            stream: flag("/stream"),
            include_usage: flag("/stream_options/include_usage"),
        };
        (req, error)
    }

    /// The default reply text.
    pub fn default_reply(&self) -> String {
        reply_to(
            self.messages
                .iter()
                .rev()
                .find(|(role, _)| role == "user")
                .map(|(_, text)| text.as_str()),
        )
    }
}

/// The default reply of every API: [`REPLY_PREFIX`] and the first
/// [`QUOTE_CHARS`] characters of the last user message, or [`NO_USER_REPLY`].
pub fn reply_to(last_user_text: Option<&str>) -> String {
    match last_user_text {
        Some(text) => format!(
            "{REPLY_PREFIX}{}",
            text.chars().take(QUOTE_CHARS).collect::<String>()
        ),
        None => NO_USER_REPLY.to_owned(),
    }
}

fn message(m: &Value) -> (String, String) {
    let role = m
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    (role, content_text(m.get("content")))
}

/// The text of a message content: a string as is; an array of parts (OpenAI
/// content parts, Anthropic content blocks, Gemini parts) as the `text` of its
/// parts joined by newlines; anything else empty.
pub fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Handles one chat completion request.
pub fn chat_completions(body: &[u8], o: &Overrides) -> MockResponse {
    let (req, invalid) = ChatRequest::parse(body);
    match (o.status, invalid) {
        (Some(status), _) if status.as_u16() >= 400 => {
            return ApiError::for_status(status).into_response()
        }
        (None, Some(err)) => return err.into_response(),
        _ => {} // success, possibly with a forced 2xx/3xx status even for a bad request
    }
    let model = req.model.as_deref().unwrap_or_default();
    let reply = o.content.clone().unwrap_or_else(|| req.default_reply());
    let counts = match &o.usage {
        UsageMode::Computed => Some(usage::default_usage(
            model,
            req.messages.iter().map(|(_, t)| t.as_str()),
            &reply,
        )),
        UsageMode::Exact(u) => Some(*u),
        UsageMode::Omit | UsageMode::Raw(_) => None,
    };
    if req.stream {
        return openai_stream::response(
            &openai_stream::StreamParams {
                id: ids::id_for("chatcmpl-mock", body),
                model,
                reply: &reply,
                include_usage: req.include_usage,
            },
            counts.map(WireUsage::from),
            o,
        )
        .with_header(HeaderName::from_static("x-request-id"), request_id(body));
    }
    let completion = Completion {
        id: ids::id_for("chatcmpl-mock", body),
        object: "chat.completion",
        created: CREATED,
        model,
        choices: [Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: &reply,
                refusal: None,
                annotations: &[],
            },
            logprobs: None,
            finish_reason: "stop",
        }],
        service_tier: "default",
        system_fingerprint: "fp_mock",
        usage: counts.map(WireUsage::from),
    };
    let mut json = match serde_json::to_string(&completion) {
        Ok(s) => s,
        Err(e) => {
            return ApiError::server(format!("mock could not serialise: {e}")).into_response()
        }
    };
    if let UsageMode::Raw(raw) = &o.usage {
        splice_usage(&mut json, raw);
    }
    MockResponse::json(o.status.unwrap_or(StatusCode::OK), json)
        .with_header(HeaderName::from_static("x-request-id"), request_id(body))
}

/// Appends `"usage":<raw>` verbatim (even if it is not valid JSON) as the last
/// member of the serialised object `json`.
pub(crate) fn splice_usage(json: &mut String, raw: &str) {
    usage::splice_member(json, 1, "usage", raw);
}

fn request_id(body: &[u8]) -> HeaderValue {
    HeaderValue::from_str(&ids::id_for("req_mock", body))
        .unwrap_or_else(|_| HeaderValue::from_static("req_mock"))
}

#[derive(Serialize)]
struct Completion<'a> {
    id: String,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    service_tier: &'static str,
    system_fingerprint: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<WireUsage>,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: AssistantMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    content: &'a str,
    refusal: Option<()>,
    annotations: &'static [()],
}

/// The `usage` object of a chat completion.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct WireUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub prompt_tokens_details: PromptDetails,
    pub completion_tokens_details: CompletionDetails,
}

#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct PromptDetails {
    pub cached_tokens: u64,
    pub audio_tokens: u64,
}

#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct CompletionDetails {
    pub reasoning_tokens: u64,
    pub audio_tokens: u64,
    pub accepted_prediction_tokens: u64,
    pub rejected_prediction_tokens: u64,
}

impl From<UsageCounts> for WireUsage {
    fn from(u: UsageCounts) -> Self {
        Self {
            prompt_tokens: u.prompt,
            completion_tokens: u.completion,
            total_tokens: u.total(),
            prompt_tokens_details: PromptDetails {
                cached_tokens: u.cached,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: u.reasoning,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
            },
        }
    }
}

/// An error in OpenAI's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn invalid_request(message: impl Into<String>, param: Option<&str>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: param.map(str::to_owned),
            code: None,
        }
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            kind: "server_error",
            param: None,
            code: None,
        }
    }

    /// A malformed `x-mock-*` header.
    pub fn bad_header(bad: &BadHeader) -> Self {
        Self {
            code: Some("mock_bad_header"),
            ..Self::invalid_request(format!("{}: {}", bad.header, bad.reason), Some(bad.header))
        }
    }

    /// `404` for a path the mock does not serve (OpenAI's wording).
    pub fn unknown_url(method: &Method, path: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            ..Self::invalid_request(format!("Invalid URL ({method} {path})"), None)
        }
    }

    pub fn method_not_allowed(method: &Method, path: &str) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            ..Self::invalid_request(format!("Not allowed to {method} on {path}"), None)
        }
    }

    pub fn too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..Self::invalid_request(
                format!("request body exceeds the mock's {limit} bytes"),
                None,
            )
        }
    }

    /// The error OpenAI answers with `status` (for `x-mock-status`).
    pub fn for_status(status: StatusCode) -> Self {
        let (kind, code, message) = match status.as_u16() {
            401 => (
                "invalid_request_error",
                Some("invalid_api_key"),
                "Incorrect API key provided (mock).",
            ),
            403 => (
                "invalid_request_error",
                Some("unsupported_country_region_territory"),
                "Country, region, or territory not supported (mock).",
            ),
            404 => (
                "invalid_request_error",
                Some("model_not_found"),
                "The model does not exist or you do not have access to it (mock).",
            ),
            429 => (
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached for requests (mock).",
            ),
            503 => (
                "server_error",
                None,
                "The engine is currently overloaded, please try again later (mock).",
            ),
            400..=499 => ("invalid_request_error", None, "Invalid request (mock)."),
            _ => (
                "server_error",
                None,
                "The server had an error while processing your request. Sorry about that! (mock)",
            ),
        };
        Self {
            status,
            message: message.to_owned(),
            kind,
            param: None,
            code,
        }
    }

    pub fn into_response(self) -> MockResponse {
        #[derive(Serialize)]
        struct Outer<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            message: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            param: Option<&'a str>,
            code: Option<&'a str>,
        }
        let body = serde_json::to_vec(&Outer {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        })
        .unwrap_or_default();
        let resp = MockResponse::json(self.status, body);
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            resp.with_header(RETRY_AFTER, HeaderValue::from_static("1"))
        } else {
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(resp: &MockResponse) -> Value {
        serde_json::from_slice(&resp.body).unwrap()
    }

    const REQ: &str = r#"{"model":"gpt-4o","messages":[
        {"role":"system","content":"be brief"},
        {"role":"user","content":[{"type":"text","text":"hello there"},{"type":"image_url","image_url":{"url":"x"}}]}
    ]}"#;

    #[test]
    fn parses_string_and_part_contents() {
        let (req, err) = ChatRequest::parse(REQ.as_bytes());
        assert_eq!(err, None);
        assert_eq!(req.model.as_deref(), Some("gpt-4o"));
        assert_eq!(req.messages[1], ("user".into(), "hello there".into()));
        assert_eq!(req.default_reply(), "Mock reply to: hello there");
    }

    #[test]
    fn quote_is_truncated_by_chars() {
        let long = "é".repeat(50);
        let body = format!(r#"{{"model":"m","messages":[{{"role":"user","content":"{long}"}}]}}"#);
        let (req, _) = ChatRequest::parse(body.as_bytes());
        assert_eq!(
            req.default_reply(),
            format!("{REPLY_PREFIX}{}", "é".repeat(40))
        );
    }

    #[test]
    fn completion_shape_and_default_usage() {
        let resp = chat_completions(REQ.as_bytes(), &Overrides::default());
        assert_eq!(resp.status, StatusCode::OK);
        let v = body_json(&resp);
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["created"], CREATED);
        assert_eq!(v["model"], "gpt-4o");
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Mock reply to: hello there"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        // prompt: (2+7) + (2+7); reply "Mock reply to: hello there" = 5 words.
        assert_eq!(v["usage"]["prompt_tokens"], 18);
        assert_eq!(v["usage"]["completion_tokens"], 6);
        assert_eq!(v["usage"]["total_tokens"], 24);
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
        assert_eq!(
            v["usage"]["completion_tokens_details"]["reasoning_tokens"],
            0
        );
        // Deterministic.
        let again = chat_completions(REQ.as_bytes(), &Overrides::default());
        assert_eq!(again.body, resp.body);
    }

    #[test]
    fn raw_usage_is_spliced_verbatim() {
        let o = Overrides {
            usage: UsageMode::Raw("{\"prompt_tokens\":-1.5}".into()),
            ..Default::default()
        };
        let resp = chat_completions(REQ.as_bytes(), &o);
        let text = String::from_utf8(resp.body.to_vec()).unwrap();
        assert!(
            text.ends_with(",\"usage\":{\"prompt_tokens\":-1.5}}"),
            "{text}"
        );
        assert_eq!(body_json(&resp)["usage"]["prompt_tokens"], -1.5);
    }

    #[test]
    fn invalid_requests_and_forced_status() {
        let resp = chat_completions(b"not json", &Overrides::default());
        assert_eq!(resp.status, StatusCode::BAD_REQUEST);
        assert_eq!(body_json(&resp)["error"]["type"], "invalid_request_error");
        let resp = chat_completions(br#"{"messages":[]}"#, &Overrides::default());
        assert_eq!(body_json(&resp)["error"]["param"], "model");
        let forced = Overrides {
            status: Some(StatusCode::OK),
            ..Default::default()
        };
        assert_eq!(
            chat_completions(b"not json", &forced).status,
            StatusCode::OK
        );
        let rl = Overrides {
            status: Some(StatusCode::TOO_MANY_REQUESTS),
            ..Default::default()
        };
        let resp = chat_completions(REQ.as_bytes(), &rl);
        assert_eq!(resp.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers[RETRY_AFTER], "1");
        assert_eq!(body_json(&resp)["error"]["code"], "rate_limit_exceeded");
    }
}
