//! OpenAI Responses (`POST /v1/responses`), as documented in the API reference
//! (<https://platform.openai.com/docs/api-reference/responses/create>); also Azure's
//! `/openai/v1/responses`. Streaming is metered by [`ResponsesStreamMeter`]
//! (<https://platform.openai.com/docs/api-reference/responses-streaming>).
//!
//! **Input estimate.** OpenAI documents no formula for the Responses API, so the estimate follows
//! the Chat Completions one ([`super::openai`]): `instructions` counts as a developer message, a
//! string `input` as one user message, each message item of an `input` array as a message
//! (3 tokens, its role, its text parts; an image part its minimum of 85), a `function_call` item
//! as a tool call (3 tokens, its name and arguments), a `function_call_output` item as a tool
//! message (3 tokens and its output); function `tools` use the cookbook's function formula.
//! Other items (reasoning, references to stored items, built-in tool calls) count nothing.
//! On top of the chat count comes [`RESPONSES_OVERHEAD`]: the API reference's two plain text
//! examples were billed exactly 18 tokens more than the chat formula gives (36 for the
//! "Text input" example, 37 for the "Streaming" one). The other documented examples are billed
//! more than the estimate: the "Functions" example 291 against 97, the "Reasoning" one (an
//! o-series model) 81 against 35. Input that the request only refers to (`previous_response_id`,
//! `conversation`, `prompt` templates) is not seen at all. The estimate is therefore a lower
//! bound, used only when the response reports no usable usage.
//!
//! **Usage.** `usage.input_tokens` includes `input_tokens_details.cached_tokens`, and
//! `output_tokens` includes `output_tokens_details.reasoning_tokens`, as the normalised
//! [`Usage`] wants. `input_tokens_details.cache_write_tokens`, which recent API references list,
//! is left in `input_tokens` at the input price: OpenAI prices no cache write separately.
//!
//! **Finish.** The response object's `status`
//! (<https://platform.openai.com/docs/api-reference/responses/object>: `completed`, `failed`,
//! `in_progress`, `cancelled`, `queued`, `incomplete`) and `incomplete_details.reason`
//! (`max_output_tokens`, `content_filter`) give the [`Finish`]: see [`status_finish`]. A
//! completed response whose `output` holds a call the client must run ([`CLIENT_CALLS`]) asked
//! for tools; calls OpenAI runs itself (web and file search, code interpreter, image generation,
//! remote MCP calls) are part of an answer that ended normally.

use super::openai::{
    parse_object, parse_response_with, request_model, string_field, tool_tokens, usage_named,
    IMAGE_PART_TOKENS,
};
use super::{Api, Endpoint, Finish, Problem, RequestInfo, ResponseInfo};
use crate::config::Config;
use crate::tokens::{encoding_for_model, Encoding, Tokenizer};
use crate::usage::Usage;
use serde_json::{Map, Value};

mod stream;
pub use stream::{ResponsesStreamMeter, Terminal};

/// The endpoint of a plain Responses route.
pub const RESPONSES: Endpoint = Endpoint {
    api: Api::OpenAiResponses,
    model: None,
    stream: false,
};

const TOKENS_PER_MESSAGE: u64 = 3;
const REPLY_PRIMING: u64 = 3;
/// Tokens the Responses API bills beyond the chat formula for a plain text request (see the
/// module documentation).
pub const RESPONSES_OVERHEAD: u64 = 18;

/// Reads a Responses request and estimates its input tokens. The model is the body's `model`,
/// else the one the path names.
pub fn parse_request(
    body: &[u8],
    ep: &Endpoint,
    cfg: &Config,
    tok: &Tokenizer,
) -> Result<RequestInfo, Problem> {
    let req = parse_object(body)?;
    let model = request_model(&req, ep)?;
    let encoding = encoding_for_model(&model, &cfg.encoding_overrides, cfg.default_encoding);
    Ok(RequestInfo {
        stream: req.get("stream").and_then(Value::as_bool).unwrap_or(false),
        max_output_tokens: req.get("max_output_tokens").and_then(Value::as_u64),
        choices: 1,
        user: string_field(&req, "user").or_else(|| string_field(&req, "safety_identifier")),
        estimated_input_tokens: estimate_input_tokens(&req, encoding, tok),
        encoding,
        model,
        service_tier: string_field(&req, "service_tier"),
    })
}

/// The input estimate described in the module documentation.
pub fn estimate_input_tokens(req: &Map<String, Value>, enc: Encoding, tok: &Tokenizer) -> u64 {
    let count = |s: &str| tok.count(enc, s);
    let message = |role: &str, content: Option<&Value>| {
        TOKENS_PER_MESSAGE + count(role) + content_tokens(content, &count)
    };
    let mut total = RESPONSES_OVERHEAD + REPLY_PRIMING;
    if let Some(instructions) = req.get("instructions").filter(|v| v.is_string()) {
        total += message("developer", Some(instructions));
    }
    match req.get("input") {
        Some(input @ Value::String(_)) => total += message("user", Some(input)),
        Some(Value::Array(items)) => {
            for item in items.iter().filter_map(Value::as_object) {
                total += item_tokens(item, &count);
            }
        }
        _ => {}
    }
    let functions: Vec<&Value> = req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("function"))
        .collect();
    total + tool_tokens(&functions, enc, &count)
}

/// One item of an `input` array.
fn item_tokens(item: &Map<String, Value>, count: &impl Fn(&str) -> u64) -> u64 {
    let text = |key: &str| item.get(key).and_then(Value::as_str).map_or(0, count);
    match item.get("type").and_then(Value::as_str) {
        None | Some("message") => {
            TOKENS_PER_MESSAGE + text("role") + content_tokens(item.get("content"), count)
        }
        Some("function_call") => TOKENS_PER_MESSAGE + text("name") + text("arguments"),
        Some("custom_tool_call") => TOKENS_PER_MESSAGE + text("name") + text("input"),
        Some("function_call_output" | "custom_tool_call_output") => {
            TOKENS_PER_MESSAGE + content_tokens(item.get("output"), count)
        }
        Some(_) => 0,
    }
}

/// A message's `content` or a tool output: a string, or an array of content parts.
fn content_tokens(content: Option<&Value>, count: &impl Fn(&str) -> u64) -> u64 {
    let field = |part: &Value, key: &str| part.get(key).and_then(Value::as_str).map_or(0, count);
    match content {
        Some(Value::String(s)) => count(s),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match p.get("type").and_then(Value::as_str) {
                Some("input_text" | "output_text") => field(p, "text"),
                Some("refusal") => field(p, "refusal"),
                Some("input_image") => IMAGE_PART_TOKENS,
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}

/// Reads a Responses response: its `usage` when present and sane, else an estimate (the
/// request's input estimate, and the `output` items' text counted).
pub fn parse_response(body: &[u8], req: &RequestInfo, tok: &Tokenizer) -> ResponseInfo {
    parse_response_with(
        body,
        req,
        tok,
        responses_usage,
        output_tokens,
        response_finish,
    )
}

/// Output item types that hand the turn back to the client to run a tool (or approve one).
pub const CLIENT_CALLS: [&str; 7] = [
    "function_call",
    "custom_tool_call",
    "computer_call",
    "local_shell_call",
    "shell_call",
    "apply_patch_call",
    "mcp_approval_request",
];

/// Whether an output item is one of [`CLIENT_CALLS`].
pub(crate) fn is_client_call(item: &Value) -> bool {
    item.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| CLIENT_CALLS.contains(&t))
}

/// How a response object ended: its `status` read by [`status_finish`], with the client calls
/// of its `output`; [`Finish::Error`] when it carries an `error` object.
fn response_finish(resp: &Map<String, Value>) -> Option<Finish> {
    let calls = resp
        .get("output")
        .and_then(Value::as_array)
        .is_some_and(|items| items.iter().any(is_client_call));
    let status = resp
        .get("status")
        .and_then(Value::as_str)
        .and_then(|s| status_finish(s, resp.get("incomplete_details"), calls));
    let error = resp
        .get("error")
        .is_some_and(|e| !e.is_null())
        .then_some(Finish::Error);
    Finish::worst(status.into_iter().chain(error))
}

/// A response `status`: `completed` is [`Finish::ToolCalls`] when `client_calls`, else
/// [`Finish::Stop`]; `incomplete` is [`Finish::Length`] for `incomplete_details.reason`
/// `max_output_tokens`, [`Finish::ContentFilter`] for `content_filter`, else
/// [`Finish::Other`]; `failed` is [`Finish::Error`]; `cancelled` (a background response the
/// client cancelled) is [`Finish::Other`]; `in_progress`, `queued` and unknown statuses have no
/// finish yet.
pub fn status_finish(
    status: &str,
    incomplete_details: Option<&Value>,
    client_calls: bool,
) -> Option<Finish> {
    let reason = incomplete_details
        .and_then(|d| d.get("reason"))
        .and_then(Value::as_str);
    Some(match status {
        "completed" if client_calls => Finish::ToolCalls,
        "completed" => Finish::Stop,
        "incomplete" => match reason {
            Some("max_output_tokens") => Finish::Length,
            Some("content_filter") => Finish::ContentFilter,
            _ => Finish::Other,
        },
        "failed" => Finish::Error,
        "cancelled" => Finish::Other,
        _ => return None,
    })
}

/// A Responses `usage` object, validated: counts are non-negative integers within reason,
/// cached ≤ input and reasoning ≤ output.
pub(crate) fn responses_usage(u: &Value) -> Result<Usage, String> {
    usage_named(u, "input_tokens", "output_tokens")
}

/// Tokens of the `output` items: message text and refusals, function calls' names and
/// arguments, custom tool calls' input, reasoning summaries; each text counted on its own.
fn output_tokens(resp: &Map<String, Value>, enc: Encoding, tok: &Tokenizer) -> u64 {
    let count = |v: Option<&Value>| v.and_then(Value::as_str).map_or(0, |s| tok.count(enc, s));
    let mut total = 0;
    for item in resp
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let parts = |key: &str| {
            item.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        };
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for part in parts("content") {
                    total += count(part.get("text")) + count(part.get("refusal"));
                }
            }
            Some("function_call") => {
                total += count(item.get("name")) + count(item.get("arguments"));
            }
            Some("custom_tool_call") => {
                total += count(item.get("name")) + count(item.get("input"));
            }
            Some("reasoning") => {
                for part in parts("summary").chain(parts("content")) {
                    total += count(part.get("text"));
                }
            }
            _ => {}
        }
    }
    total
}

#[cfg(test)]
mod finish_tests;
#[cfg(test)]
mod tests;
