//! Google Gemini `POST …/models/{model}:generateContent` and
//! `…:streamGenerateContent` (any prefix: `/v1beta/models/…` of the Gemini
//! API, `/v1/projects/…/publishers/google/models/…` of Vertex AI).
//!
//! Response shape: `GenerateContentResponse` of
//! <https://ai.google.dev/api/generate-content>; streaming is
//! [`crate::gemini_stream`]. Error shape (`{"error":{"code","message","status"}}`)
//! and statuses: <https://ai.google.dev/gemini-api/docs/troubleshooting>.
//!
//! * One candidate: `content: {parts: [{text}], role: "model"}`,
//!   `finishReason: "STOP"`, `index: 0`; the text is the reply (chosen as for
//!   OpenAI, from the last content whose `role` is `user` or absent, or
//!   `x-mock-content`). `modelVersion` is the model named in the path,
//!   `responseId` `mock` + the 16 hex digits of the FNV-1a hash of the body.
//! * `usageMetadata`: `promptTokenCount` = P (the `systemInstruction` counts as
//!   one more message), `candidatesTokenCount` = C − REASONING,
//!   `totalTokenCount` = P + C; `cachedContentTokenCount` = CACHED and
//!   `thoughtsTokenCount` = REASONING only when not zero (so only with an
//!   `x-mock-usage` override). REASONING above C is a `400` naming
//!   `x-mock-usage`. `x-mock-cache-write` does not apply.
//! * A body that is not JSON or has no `contents` array gets Gemini's
//!   `400 INVALID_ARGUMENT` (unless `x-mock-status` forces a success).

use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::gemini_stream;
use crate::ids;
use crate::openai::{content_text, reply_to};
use crate::overrides::{BadHeader, Overrides, UsageMode, USAGE};
use crate::response::MockResponse;
use crate::usage::{self, UsageCounts};

/// A `models/{model}:{method}` call read from the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub model: String,
    /// `streamGenerateContent` rather than `generateContent`.
    pub stream: bool,
}

/// The call named by `path`, if its last two segments are
/// `models/{model}:generateContent` or `models/{model}:streamGenerateContent`
/// (the colon may be percent-encoded).
pub fn parse_path(path: &str) -> Option<Call> {
    let (parent, last) = path.rsplit_once('/')?;
    if !parent.ends_with("/models") && parent != "models" {
        return None;
    }
    let (model, method) = last
        .rsplit_once(':')
        .or_else(|| last.rsplit_once("%3A"))
        .or_else(|| last.rsplit_once("%3a"))?;
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return None,
    };
    (!model.is_empty()).then(|| Call {
        model: model.to_owned(),
        stream,
    })
}

/// True if the query string asks for server-sent events (`alt=sse`).
pub fn wants_sse(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|pair| pair == "alt=sse"))
}

/// The parts of a `GenerateContentRequest` the mock uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GenerateRequest {
    /// The text of `systemInstruction` (or `system_instruction`), if any.
    pub system: Option<String>,
    /// `(role, text)` of each content; a missing role is `user`.
    pub contents: Vec<(String, String)>,
}

impl GenerateRequest {
    /// Best-effort parse, plus the error Gemini would answer if the request is
    /// invalid (unparseable JSON, no `contents`).
    pub fn parse(body: &[u8]) -> (Self, Option<ApiError>) {
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("Invalid JSON payload received. {e}");
                return (
                    Self::default(),
                    Some(ApiError::new(StatusCode::BAD_REQUEST, msg)),
                );
            }
        };
        let system = value
            .get("systemInstruction")
            .or_else(|| value.get("system_instruction"))
            .filter(|s| !s.is_null())
            .map(|s| content_text(s.get("parts")));
        let list = value.get("contents").and_then(Value::as_array);
        let contents = list
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
                        (role.to_owned(), content_text(c.get("parts")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let error = list.is_none().then(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "* GenerateContentRequest.contents: contents is not specified",
            )
        });
        (Self { system, contents }, error)
    }

    /// The texts that make up the prompt: the system instruction, then the contents.
    pub fn prompt_texts(&self) -> impl Iterator<Item = &str> {
        self.system
            .as_deref()
            .into_iter()
            .chain(self.contents.iter().map(|(_, t)| t.as_str()))
    }

    /// The default reply text.
    pub fn default_reply(&self) -> String {
        reply_to(
            self.contents
                .iter()
                .rev()
                .find(|(role, _)| role == "user")
                .map(|(_, text)| text.as_str()),
        )
    }
}

/// Handles one `generateContent` / `streamGenerateContent` request.
pub fn generate(call: &Call, query: Option<&str>, body: &[u8], o: &Overrides) -> MockResponse {
    let (req, invalid) = GenerateRequest::parse(body);
    match (o.status, invalid) {
        (Some(status), _) if status.as_u16() >= 400 => {
            return ApiError::for_status(status).into_response()
        }
        (None, Some(err)) => return err.into_response(),
        _ => {} // success, possibly with a forced 2xx/3xx status even for a bad request
    }
    let reply = o.content.clone().unwrap_or_else(|| req.default_reply());
    let counts = match &o.usage {
        UsageMode::Computed => Some(usage::default_usage(
            &call.model,
            req.prompt_texts(),
            &reply,
        )),
        UsageMode::Exact(u) => Some(*u),
        UsageMode::Omit | UsageMode::Raw(_) => None,
    };
    let wire = match counts.map(WireUsage::new).transpose() {
        Ok(w) => w,
        Err(reason) => {
            let bad = BadHeader {
                header: USAGE,
                reason,
            };
            return ApiError::bad_header(&bad).into_response();
        }
    };
    let raw = match &o.usage {
        UsageMode::Raw(raw) => Some(raw.as_str()),
        _ => None,
    };
    let id = ids::id_for("mock", body);
    if call.stream {
        let p = gemini_stream::StreamParams {
            id: &id,
            model: &call.model,
            reply: &reply,
            sse: wants_sse(query),
        };
        return gemini_stream::response(&p, wire.as_ref(), raw, o);
    }
    let reply_chunk = Chunk {
        id: &id,
        model: &call.model,
        text: &reply,
        finished: true,
    };
    match reply_chunk.to_json(wire.as_ref(), raw) {
        Ok(json) => MockResponse::json(o.status.unwrap_or(StatusCode::OK), json),
        Err(e) => ApiError::server(format!("mock could not serialise: {e}")).into_response(),
    }
}

/// One `GenerateContentResponse`: a whole answer, or one piece of a stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub text: &'a str,
    /// Carries `finishReason: "STOP"`.
    pub finished: bool,
}

impl Chunk<'_> {
    /// The JSON text, with `usageMetadata` last: `usage`, or `raw` spliced
    /// verbatim, or none.
    pub fn to_json(
        self,
        usage: Option<&WireUsage>,
        raw: Option<&str>,
    ) -> serde_json::Result<String> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Response<'a> {
            candidates: [Candidate<'a>; 1],
            model_version: &'a str,
            response_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            usage_metadata: Option<&'a WireUsage>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Candidate<'a> {
            content: Content<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            finish_reason: Option<&'static str>,
            index: u32,
        }
        #[derive(Serialize)]
        struct Content<'a> {
            parts: [Part<'a>; 1],
            role: &'static str,
        }
        #[derive(Serialize)]
        struct Part<'a> {
            text: &'a str,
        }
        let mut json = serde_json::to_string(&Response {
            candidates: [Candidate {
                content: Content {
                    parts: [Part { text: self.text }],
                    role: "model",
                },
                finish_reason: self.finished.then_some("STOP"),
                index: 0,
            }],
            model_version: self.model,
            response_id: self.id,
            usage_metadata: if raw.is_some() { None } else { usage },
        })?;
        if let Some(raw) = raw {
            usage::splice_member(&mut json, 1, "usageMetadata", raw);
        }
        Ok(json)
    }
}

/// The `usageMetadata` object.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WireUsage {
    pub prompt_token_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thoughts_token_count: Option<u64>,
    pub total_token_count: u64,
}

impl WireUsage {
    /// Gemini's usage for the neutral counts `u` (whose completion includes the
    /// reasoning). Errs if the reasoning exceeds the completion.
    pub fn new(u: UsageCounts) -> Result<Self, String> {
        let candidates = u.completion.checked_sub(u.reasoning).ok_or_else(|| {
            format!(
                "reasoning ({}) exceeds the {} completion tokens that include it",
                u.reasoning, u.completion
            )
        })?;
        Ok(Self {
            prompt_token_count: u.prompt,
            cached_content_token_count: (u.cached > 0).then_some(u.cached),
            candidates_token_count: Some(candidates),
            thoughts_token_count: (u.reasoning > 0).then_some(u.reasoning),
            total_token_count: u.total(),
        })
    }

    /// The usage of a stream chunk before the last: the prompt (and thoughts),
    /// no candidates yet.
    pub fn before_text(&self) -> Self {
        let thoughts = self.thoughts_token_count.unwrap_or(0);
        Self {
            candidates_token_count: None,
            total_token_count: self.prompt_token_count.saturating_add(thoughts),
            ..self.clone()
        }
    }
}

/// An error in Gemini's format (`google.rpc.Status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// A malformed `x-mock-*` header: the message starts with its name.
    pub fn bad_header(bad: &BadHeader) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("{}: {}", bad.header, bad.reason),
        )
    }

    pub fn method_not_allowed(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method {method} is not allowed on {path}"),
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request payload exceeds the mock's {limit} bytes"),
        )
    }

    /// The error Gemini answers with `status` (for `x-mock-status`).
    pub fn for_status(status: StatusCode) -> Self {
        let message = match status.as_u16() {
            401 => "Request had invalid authentication credentials. (mock)",
            403 => "The caller does not have permission (mock).",
            404 => "Requested entity was not found. (mock)",
            429 => "Resource has been exhausted (e.g. check quota). (mock)",
            503 => "The model is overloaded. Please try again later. (mock)",
            504 => "Deadline exceeded (mock).",
            400..=499 => "Request contains an invalid argument. (mock)",
            _ => "An internal error has occurred. (mock)",
        };
        Self::new(status, message)
    }

    /// The `google.rpc.Code` name of the status.
    pub fn rpc_status(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ABORTED",
            429 => "RESOURCE_EXHAUSTED",
            499 => "CANCELLED",
            501 => "UNIMPLEMENTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            400..=499 => "INVALID_ARGUMENT",
            _ => "INTERNAL",
        }
    }

    /// `{"error":{"code":…,"message":…,"status":…}}`.
    pub fn into_response(self) -> MockResponse {
        #[derive(Serialize)]
        struct Outer<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: u16,
            message: &'a str,
            status: &'a str,
        }
        let body = serde_json::to_vec(&Outer {
            error: Inner {
                code: self.status.as_u16(),
                message: &self.message,
                status: self.rpc_status(),
            },
        })
        .unwrap_or_default();
        MockResponse::json(self.status, body)
    }
}

#[cfg(test)]
mod tests;
