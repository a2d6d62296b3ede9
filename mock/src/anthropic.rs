//! Anthropic Messages (`POST …/v1/messages`).
//!
//! Response shape: the Message object of
//! <https://docs.anthropic.com/en/api/messages>; with `"stream": true`, the
//! event stream built by [`crate::anthropic_stream`]. Error shape
//! (`{"type":"error","error":{"type","message"}}`) and the error type of each
//! status: <https://docs.anthropic.com/en/api/errors>.
//!
//! * `id` is `msg_mock` + the 16 hex digits of the FNV-1a hash of the request
//!   body (the `request-id` response header is `req_mock` + the same);
//!   `model` echoes the request's; `content` is one text block holding the
//!   reply (chosen as for OpenAI: `Mock reply to: ` + the first 40 characters
//!   of the last `user` message, or `x-mock-content`); `stop_reason` is
//!   `end_turn`, `stop_sequence` `null`.
//! * Usage: the neutral counts of [`crate::usage`], with the `system` prompt
//!   counted as one more message. The prompt count `P` *includes* cache reads
//!   and writes (as tollbooth's normalised usage does), so
//!   `input_tokens = P − CACHED − writes`, `cache_read_input_tokens = CACHED`,
//!   `cache_creation_input_tokens = writes` (split by lifetime in
//!   `cache_creation`), `output_tokens = C` (thinking included, as Anthropic
//!   counts it; `REASONING` is not reported). Writes come from
//!   `x-mock-cache-write: N5M[,N1H]` (default none); reads and writes beyond
//!   `P` are a `400` naming the header.
//! * A request that is not JSON or lacks `model`, `messages` or `max_tokens`
//!   gets Anthropic's `400 invalid_request_error` (unless `x-mock-status` forces
//!   a success).

use hyper::header::{HeaderName, HeaderValue, RETRY_AFTER};
use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::anthropic_stream;
use crate::ids;
use crate::openai::{content_text, reply_to};
use crate::overrides::{BadHeader, Overrides, UsageMode, CACHE_WRITE, USAGE};
use crate::response::MockResponse;
use crate::usage::{self, CacheWrite, UsageCounts};

/// Requests whose path ends with this are Messages requests, whatever the
/// prefix (`/v1/messages`, `/anthropic/v1/messages`, …).
pub const PATH_SUFFIX: &str = "/v1/messages";

pub fn matches(path: &str) -> bool {
    path.ends_with(PATH_SUFFIX)
}

/// The parts of a Messages request the mock uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MessagesRequest {
    pub model: Option<String>,
    /// The text of the `system` prompt (a string or text blocks), if any.
    pub system: Option<String>,
    /// `(role, text)` of each message (string contents as is, block contents
    /// as their `text`s joined by newlines).
    pub messages: Vec<(String, String)>,
    /// `"stream": true`.
    pub stream: bool,
}

impl MessagesRequest {
    /// Best-effort parse, plus the error Anthropic would answer if the request
    /// is invalid (unparseable JSON, no `model`, `messages` or `max_tokens`).
    pub fn parse(body: &[u8]) -> (Self, Option<ApiError>) {
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("The request body is not valid JSON: {e}");
                return (Self::default(), Some(ApiError::invalid_request(msg)));
            }
        };
        let model = value
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let system = value
            .get("system")
            .filter(|s| !s.is_null())
            .map(|s| content_text(Some(s)));
        let list = value.get("messages").and_then(Value::as_array);
        let messages = list
            .map(|ms| {
                ms.iter()
                    .map(|m| {
                        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
                        (role.to_owned(), content_text(m.get("content")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let missing = if model.is_none() {
            Some("model")
        } else if list.is_none() {
            Some("messages")
        } else if value.get("max_tokens").and_then(Value::as_u64).is_none() {
            Some("max_tokens")
        } else {
            None
        };
        let req = Self {
            model,
            system,
            messages,
            stream: value.get("stream").and_then(Value::as_bool) == Some(true),
        };
        let error =
            missing.map(|field| ApiError::invalid_request(format!("{field}: Field required")));
        (req, error)
    }

    /// The texts that make up the prompt: the system prompt, then the messages.
    pub fn prompt_texts(&self) -> impl Iterator<Item = &str> {
        self.system
            .as_deref()
            .into_iter()
            .chain(self.messages.iter().map(|(_, t)| t.as_str()))
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

/// Handles one Messages request.
pub fn messages(body: &[u8], o: &Overrides) -> MockResponse {
    let (req, invalid) = MessagesRequest::parse(body);
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
        UsageMode::Computed => Some(usage::default_usage(model, req.prompt_texts(), &reply)),
        UsageMode::Exact(u) => Some(*u),
        UsageMode::Omit | UsageMode::Raw(_) => None,
    };
    let writes = o.cache_write.unwrap_or_default();
    let wire = match counts.map(|u| WireUsage::new(u, writes)).transpose() {
        Ok(w) => w,
        Err(reason) => {
            let header = if o.cache_write.is_some() {
                CACHE_WRITE
            } else {
                USAGE
            };
            return ApiError::bad_header(&BadHeader { header, reason }).into_response();
        }
    };
    let id = ids::id_for("msg_mock", body);
    let status = o.status.unwrap_or(StatusCode::OK);
    let resp = if req.stream {
        let params = anthropic_stream::StreamParams {
            id: &id,
            model,
            reply: &reply,
        };
        anthropic_stream::response(&params, wire.as_ref(), o)
    } else {
        let message = Message {
            id: &id,
            kind: "message",
            role: "assistant",
            model,
            content: vec![TextBlock::new(&reply)],
            stop_reason: Some("end_turn"),
            stop_sequence: None,
            usage: wire.as_ref(),
        };
        match serde_json::to_string(&message) {
            Ok(mut json) => {
                if let UsageMode::Raw(raw) = &o.usage {
                    usage::splice_member(&mut json, 1, "usage", raw);
                }
                MockResponse::json(status, json)
            }
            Err(e) => ApiError::server(format!("mock could not serialise: {e}")).into_response(),
        }
    };
    resp.with_header(HeaderName::from_static("request-id"), request_id(body))
}

fn request_id(body: &[u8]) -> HeaderValue {
    HeaderValue::from_str(&ids::id_for("req_mock", body))
        .unwrap_or_else(|_| HeaderValue::from_static("req_mock"))
}

/// The Message object (also the `message` of a stream's `message_start`).
#[derive(Serialize)]
pub(crate) struct Message<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: &'a str,
    pub content: Vec<TextBlock<'a>>,
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<()>,
    /// Last member, so a raw usage can be spliced after the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<&'a WireUsage>,
}

/// A `{"type":"text","text":…}` content block.
#[derive(Serialize)]
pub(crate) struct TextBlock<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: &'a str,
}

impl<'a> TextBlock<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { kind: "text", text }
    }
}

/// The `usage` object of a Message.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct WireUsage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation: CacheCreation,
    pub output_tokens: u64,
    pub service_tier: &'static str,
}

/// Cache writes by lifetime.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheCreation {
    pub ephemeral_5m_input_tokens: u64,
    pub ephemeral_1h_input_tokens: u64,
}

impl WireUsage {
    /// Anthropic's usage for the neutral counts `u` (whose prompt includes cache
    /// reads `u.cached` and the cache writes `w`). Errs if reads and writes
    /// exceed the prompt.
    pub fn new(u: UsageCounts, w: CacheWrite) -> Result<Self, String> {
        let input = u
            .prompt
            .checked_sub(u.cached)
            .and_then(|rest| rest.checked_sub(w.total()))
            .ok_or_else(|| {
                format!(
                    "cache reads ({}) and cache writes ({}) exceed the {} prompt tokens",
                    u.cached,
                    w.total(),
                    u.prompt
                )
            })?;
        Ok(Self {
            input_tokens: input,
            cache_creation_input_tokens: w.total(),
            cache_read_input_tokens: u.cached,
            cache_creation: CacheCreation {
                ephemeral_5m_input_tokens: w.ttl_5m,
                ephemeral_1h_input_tokens: w.ttl_1h,
            },
            output_tokens: u.completion,
            service_tier: "standard",
        })
    }
}

/// An error in Anthropic's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// `error.type`.
    pub kind: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            message: message.into(),
        }
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "api_error",
            message: message.into(),
        }
    }

    /// A malformed `x-mock-*` header: the message starts with its name.
    pub fn bad_header(bad: &BadHeader) -> Self {
        Self::invalid_request(format!("{}: {}", bad.header, bad.reason))
    }

    pub fn method_not_allowed(method: &Method, path: &str) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            ..Self::invalid_request(format!("Method Not Allowed ({method} {path})"))
        }
    }

    pub fn too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            kind: "request_too_large",
            message: format!("Request exceeds the mock's maximum size of {limit} bytes"),
        }
    }

    /// The error Anthropic answers with `status` (for `x-mock-status`).
    pub fn for_status(status: StatusCode) -> Self {
        let (kind, message) = match status.as_u16() {
            401 => ("authentication_error", "invalid x-api-key (mock)"),
            402 => ("billing_error", "Your credit balance is too low (mock)."),
            403 => (
                "permission_error",
                "Your API key does not have permission to use the specified resource (mock).",
            ),
            404 => (
                "not_found_error",
                "The requested resource could not be found (mock).",
            ),
            413 => (
                "request_too_large",
                "Request exceeds the maximum allowed size (mock).",
            ),
            429 => (
                "rate_limit_error",
                "Your account has hit a rate limit (mock).",
            ),
            504 => ("timeout_error", "Request timed out (mock)."),
            529 => ("overloaded_error", "Overloaded (mock)"),
            400..=499 => ("invalid_request_error", "Invalid request (mock)."),
            _ => ("api_error", "Internal server error (mock)"),
        };
        Self {
            status,
            kind,
            message: message.to_owned(),
        }
    }

    /// `{"type":"error","error":{"type":…,"message":…}}`; `429` adds
    /// `retry-after: 1`.
    pub fn into_response(self) -> MockResponse {
        #[derive(Serialize)]
        struct Outer<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            message: &'a str,
        }
        let body = serde_json::to_vec(&Outer {
            kind: "error",
            error: Inner {
                kind: self.kind,
                message: &self.message,
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
mod tests;
