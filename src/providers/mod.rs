//! Provider formats. Each module turns a provider's request and response bodies into the
//! neutral [`RequestInfo`] and [`ResponseInfo`].

pub mod openai;
pub mod openai_stream;

use crate::tokens::Encoding;
use crate::usage::Usage;

/// Why a request or response could not be metered. The string form is the metric tag and the
/// code in error replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    ContentType,
    EmptyBody,
    BodyTooLarge,
    NotUtf8,
    InvalidJson,
    MissingModel,
    BadUsage,
    ContentEncoding,
    OverBudget,
}

impl Invalid {
    pub fn as_str(self) -> &'static str {
        match self {
            Invalid::ContentType => "content_type",
            Invalid::EmptyBody => "empty_body",
            Invalid::BodyTooLarge => "body_too_large",
            Invalid::NotUtf8 => "non_utf8",
            Invalid::InvalidJson => "invalid_json",
            Invalid::MissingModel => "missing_model",
            Invalid::BadUsage => "bad_usage",
            Invalid::ContentEncoding => "content_encoding",
            Invalid::OverBudget => "vm_copy_budget",
        }
    }
}

/// A problem and a human-readable detail for the log line.
pub type Problem = (Invalid, String);

/// What the filter needs from an LLM request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    pub model: String,
    pub stream: bool,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_output_tokens: Option<u64>,
    /// Number of choices requested (`n`), at least 1.
    pub choices: u64,
    pub user: Option<String>,
    pub encoding: Encoding,
    /// Prompt tokens as the filter counts them.
    pub estimated_input_tokens: u64,
}

/// What the filter takes from an LLM response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseInfo {
    pub usage: Usage,
    /// The model the provider says answered (often a dated snapshot of the requested one).
    pub model: Option<String>,
    /// Set when the response's own usage was unusable and the filter estimated instead.
    pub problem: Option<Problem>,
}
