//! Provider formats. Each module turns a provider's request and response bodies into the
//! neutral [`RequestInfo`] and [`ResponseInfo`].

pub mod anthropic;
pub mod bedrock_converse;
pub mod bedrock_invoke;
pub mod detect;
pub mod errors;
pub mod gemini;
mod json_view;
pub mod openai;
pub mod openai_completions;
pub mod openai_embeddings;
pub mod openai_responses;
pub mod openai_stream;
pub mod rewrite;
pub(crate) mod stream_text;

#[cfg(test)]
mod finish_cases;
#[cfg(test)]
mod openai_cases;
#[cfg(test)]
mod tests;

use crate::config::Config;
use crate::tokens::{Encoding, Tokenizer};
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
    /// The service tier the request asks for (`service_tier`: `flex`, `priority`…), which
    /// picks the price when the response does not say which tier served it.
    pub service_tier: Option<String>,
}

/// What the filter takes from an LLM response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseInfo {
    pub usage: Usage,
    /// The model the provider says answered (often a dated snapshot of the requested one).
    pub model: Option<String>,
    /// Set when the response's own usage was unusable and the filter estimated instead.
    pub problem: Option<Problem>,
    /// The service tier that served the request, when the response says (OpenAI's
    /// `service_tier`, Anthropic's `usage.service_tier`).
    pub service_tier: Option<String>,
    /// How the answer ended, when the response says: `None` for a response that reports no
    /// reason (embeddings, a stream cut before any reason arrived, usage-only data). A stream
    /// cut after its reason arrived keeps that reason. Several choices or candidates give the
    /// least successful one ([`Finish::worst`]).
    pub finish: Option<Finish>,
}

/// How the model's answer ended, normalised across providers. Each provider module maps its
/// own reasons (and names the documentation that lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// A natural end: OpenAI `stop`, Anthropic `end_turn`/`stop_sequence`, Gemini `STOP`,
    /// Bedrock `end_turn`/`stop_sequence`, Responses status `completed` without tool calls.
    Stop,
    /// The model asked for tools: `tool_calls`, `function_call`, Anthropic/Bedrock `tool_use`,
    /// a Gemini `STOP` candidate holding a `functionCall`, Responses output with a
    /// `function_call` (or another call the client runs).
    ToolCalls,
    /// Cut at the output limit: `length`, `max_tokens`, Gemini `MAX_TOKENS`, Responses
    /// `incomplete` with reason `max_output_tokens`, `model_context_window_exceeded`.
    Length,
    /// Refused or filtered: `content_filter`, Anthropic `refusal`, Gemini `SAFETY`,
    /// `RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`… and `promptFeedback.blockReason`,
    /// Bedrock `guardrail_intervened`/`content_filtered`, Responses incomplete `content_filter`.
    ContentFilter,
    /// The provider reported an error: an `error` event or object mid-stream, Responses
    /// `failed`, a Bedrock exception event, a 2xx body that is an error.
    Error,
    /// Any other reported reason (e.g. Anthropic `pause_turn`, Gemini `OTHER`,
    /// `MALFORMED_FUNCTION_CALL`).
    Other,
}

impl Finish {
    /// The metric tag: `stop`, `tool_calls`, `length`, `content_filter`, `error`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::ToolCalls => "tool_calls",
            Finish::Length => "length",
            Finish::ContentFilter => "content_filter",
            Finish::Error => "error",
            Finish::Other => "other",
        }
    }

    /// Whether the answer is a successful completion: [`Finish::Stop`] or
    /// [`Finish::ToolCalls`].
    pub fn is_success(self) -> bool {
        matches!(self, Finish::Stop | Finish::ToolCalls)
    }

    /// Rank, worst first: Error, ContentFilter, Length, Other, ToolCalls, Stop.
    fn rank(self) -> u8 {
        match self {
            Finish::Error => 0,
            Finish::ContentFilter => 1,
            Finish::Length => 2,
            Finish::Other => 3,
            Finish::ToolCalls => 4,
            Finish::Stop => 5,
        }
    }

    /// The least successful of several finishes (choices, candidates, or a reason and a later
    /// error); `None` when there is none.
    pub fn worst(finishes: impl IntoIterator<Item = Finish>) -> Option<Finish> {
        finishes.into_iter().min_by_key(|f| f.rank())
    }
}

/// The LLM API an endpoint speaks; [`detect`] finds it from the route and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI Chat Completions (`/v1/chat/completions`), also Azure and OpenAI-compatible servers.
    OpenAiChat,
    /// OpenAI legacy Completions (`/v1/completions`).
    OpenAiCompletions,
    /// OpenAI Embeddings (`/v1/embeddings`).
    OpenAiEmbeddings,
    /// OpenAI Responses (`/v1/responses`).
    OpenAiResponses,
    /// Anthropic Messages (`/v1/messages`), also on Vertex AI (`:rawPredict`).
    AnthropicMessages,
    /// Google Gemini API and Vertex AI `:generateContent` / `:streamGenerateContent`.
    Gemini,
    /// AWS Bedrock Runtime Converse / ConverseStream.
    BedrockConverse,
    /// AWS Bedrock Runtime InvokeModel / InvokeModelWithResponseStream (Anthropic models).
    BedrockInvoke,
}

/// A metered endpoint: the API and what its path says about the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub api: Api,
    /// The model named by the path (Gemini, Vertex, Bedrock) or mapped from an Azure
    /// deployment; it stands in for a body without `model`.
    pub model: Option<String>,
    /// The path itself asks for a stream (`:streamGenerateContent`, `/converse-stream`,
    /// `/invoke-with-response-stream`, `:streamRawPredict`).
    pub stream: bool,
}

/// Meters one streamed response, event by event. The filter's framing layer (SSE, AWS
/// eventstream, Gemini's JSON-array stream) calls [`StreamMeter::on_event`] for every complete
/// event, then [`StreamMeter::finish`] once at the end of the exchange.
pub trait StreamMeter {
    /// One event: `event` is the SSE `event` field (empty when absent), the eventstream
    /// `:event-type` header (`:exception-type` for exceptions), or empty for a JSON-array
    /// element; `data` is the SSE data, the eventstream payload, or the element's JSON.
    fn on_event(&mut self, event: &[u8], data: &[u8]);
    /// The usage of the stream: the provider's when it reported usable counts, otherwise an
    /// estimate from the request and the streamed deltas. `completed` says the stream ended
    /// normally (not a reset or a client disconnect).
    fn finish(self: Box<Self>, req: &RequestInfo, tok: &Tokenizer, completed: bool)
        -> ResponseInfo;
}

/// An event's data as a JSON object; anything else is counted in `ignored` and gives `None`.
pub(crate) fn object_or_ignored(
    data: &[u8],
    ignored: &mut u64,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice(data) {
        Ok(serde_json::Value::Object(obj)) => Some(obj),
        _ => {
            *ignored += 1;
            None
        }
    }
}

/// Reads a complete request body of the endpoint's API.
pub fn parse_request(
    ep: &Endpoint,
    body: &[u8],
    cfg: &Config,
    tok: &Tokenizer,
) -> Result<RequestInfo, Problem> {
    match ep.api {
        Api::OpenAiChat => openai::parse_request(body, ep, cfg, tok),
        Api::OpenAiCompletions => openai_completions::parse_request(body, ep, cfg, tok),
        Api::OpenAiEmbeddings => openai_embeddings::parse_request(body, ep, cfg, tok),
        Api::OpenAiResponses => openai_responses::parse_request(body, ep, cfg, tok),
        Api::Gemini => gemini::parse_request(body, ep, cfg, tok),
        Api::AnthropicMessages => anthropic::parse_request(body, ep, cfg, tok),
        Api::BedrockInvoke => bedrock_invoke::parse_request(body, ep, cfg, tok),
        Api::BedrockConverse => bedrock_converse::parse_request(body, ep, cfg, tok),
    }
}

/// Reads a complete (JSON) response body of `api`.
pub fn parse_response(api: Api, body: &[u8], req: &RequestInfo, tok: &Tokenizer) -> ResponseInfo {
    match api {
        Api::OpenAiChat => openai::parse_response(body, req, tok),
        Api::OpenAiCompletions => openai_completions::parse_response(body, req, tok),
        Api::OpenAiEmbeddings => openai_embeddings::parse_response(body, req, tok),
        Api::OpenAiResponses => openai_responses::parse_response(body, req, tok),
        Api::Gemini => gemini::parse_response(body, req, tok),
        Api::AnthropicMessages => anthropic::parse_response(body, req, tok),
        Api::BedrockInvoke => bedrock_invoke::parse_response(body, req, tok),
        Api::BedrockConverse => bedrock_converse::parse_response(body, req, tok),
    }
}

/// Whether streamed requests of `api` get `stream_options.include_usage` (OpenAI's Chat
/// Completions and legacy Completions; the Responses API always reports usage).
pub fn injects_usage(api: Api) -> bool {
    matches!(api, Api::OpenAiChat | Api::OpenAiCompletions)
}

/// A meter for a streamed response of `api`; `expects_usage` says the upstream was asked to
/// report usage in the stream (OpenAI's `include_usage`).
pub fn stream_meter(api: Api, expects_usage: bool) -> Option<Box<dyn StreamMeter>> {
    match api {
        Api::OpenAiChat | Api::OpenAiCompletions => {
            Some(Box::new(openai_stream::StreamMeter::new(expects_usage)))
        }
        Api::OpenAiResponses => Some(Box::new(openai_responses::ResponsesStreamMeter::new())),
        Api::Gemini => Some(Box::new(gemini::GeminiStreamMeter::new())),
        Api::AnthropicMessages => Some(Box::new(anthropic::AnthropicStreamMeter::new())),
        Api::BedrockInvoke => Some(Box::new(bedrock_invoke::BedrockInvokeStreamMeter::new())),
        Api::BedrockConverse => Some(Box::new(bedrock_converse::ConverseStreamMeter::new())),
        Api::OpenAiEmbeddings => None,
    }
}
