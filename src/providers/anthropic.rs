//! Anthropic Messages (`POST /v1/messages`), as documented in the API reference
//! (<https://docs.anthropic.com/en/api/messages>). The same bodies go through Vertex AI
//! (`…/publishers/anthropic/models/{model}:rawPredict` and `:streamRawPredict`) and Amazon
//! Bedrock (`InvokeModel`, see [`super::bedrock_invoke`]); there the path names the model and the
//! body carries `anthropic_version` instead of `model`. Host-free; not wired into the filter yet.
//!
//! **Prompt estimate.** Anthropic publishes no tokenizer for its current models, so the prompt is
//! counted with the encoding configured for the model (`tokenizer.default_encoding` unless
//! overridden): an approximation. Counted: `system` (a string or text blocks); each message's
//! content (a string, or blocks: `text`, `thinking`, `tool_use` name and `input` JSON,
//! `tool_result` content, `search_result` and plain-text `document` sources, and a flat
//! [`IMAGE_BLOCK_TOKENS`] per image); each tool's name, description and `input_schema` JSON. On top
//! of the text: [`TOKENS_PER_MESSAGE`] per message (and for a `system` prompt),
//! [`REPLY_PRIMING`] once, and with tools the tool-use system prompt Anthropic adds
//! ([`TOOL_SYSTEM_PROMPT_AUTO`], [`TOOL_SYSTEM_PROMPT_ANY`]).
//!
//! **Usage.** A response's `usage` reports `input_tokens` *excluding* cache reads
//! (`cache_read_input_tokens`) and cache writes (`cache_creation_input_tokens`, split by
//! lifetime in `cache_creation.ephemeral_5m_input_tokens` / `ephemeral_1h_input_tokens`;
//! <https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching>). [`provider_usage`]
//! sums them into the normalised [`Usage`]. `output_tokens` includes extended-thinking tokens,
//! which Anthropic does not count separately, so `reasoning_tokens` stays 0.
//!
//! **Finish.** `stop_reason` (in a stream, `message_delta`'s `delta.stop_reason`) is mapped by
//! [`finish_of`]; an error answer or `error` event is [`Finish::Error`].
//!
//! Streams are metered by [`AnthropicStreamMeter`] (module `stream`).

use super::openai::{estimate_only, parse_object, usage_or_estimate};
use super::{Api, Endpoint, Finish, Invalid, Problem, RequestInfo, ResponseInfo};
use crate::config::Config;
use crate::tokens::{encoding_for_model, Encoding, Tokenizer};
use crate::usage::{read_count, Usage, UsageSource};
use serde_json::{Map, Value};

mod stream;
pub use stream::AnthropicStreamMeter;

/// Turn markers around each message (and around the `system` prompt): an approximation
/// borrowed from OpenAI's documented chat format, as Anthropic documents none.
pub const TOKENS_PER_MESSAGE: u64 = 3;
/// The start of the assistant's reply, counted once.
pub const REPLY_PRIMING: u64 = 3;
/// Frame around one tool definition, beyond its name, description and schema text.
pub const TOKENS_PER_TOOL: u64 = 3;
/// The tool-use system prompt Anthropic adds when `tools` are given and `tool_choice` is `auto`
/// (the default) or `none`: 346 tokens for the Claude 4 and Claude 3.5/3.7 Sonnet family, per the
/// pricing table of <https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview>.
pub const TOOL_SYSTEM_PROMPT_AUTO: u64 = 346;
/// The same with `tool_choice` `any` or `tool`: 313 tokens.
pub const TOOL_SYSTEM_PROMPT_ANY: u64 = 313;
/// An image block. The vision guide
/// (<https://docs.anthropic.com/en/docs/build-with-claude/vision>) costs an image at
/// width × height / 750 tokens, about 1,600 for the largest size that is not downscaled
/// (about 1.15 megapixels). The filter does not decode images and charges that ceiling.
pub const IMAGE_BLOCK_TOKENS: u64 = 1_600;

/// The endpoint of a plain `/v1/messages` route.
pub const MESSAGES: Endpoint = Endpoint {
    api: Api::AnthropicMessages,
    model: None,
    stream: false,
};

/// Reads a Messages request and estimates its prompt tokens. The model is the body's `model`,
/// else the one the path names (Vertex AI); the request streams when the body says
/// `"stream": true` or the path is a streaming one (`:streamRawPredict`).
pub fn parse_request(
    body: &[u8],
    ep: &Endpoint,
    cfg: &Config,
    tok: &Tokenizer,
) -> Result<RequestInfo, Problem> {
    let req = parse_object(body)?;
    let model = non_empty(req.get("model")).or(ep.model.as_deref().filter(|m| !m.is_empty()));
    request_info(&req, model, ep.stream, cfg, tok)
}

/// [`parse_request`] for a parsed body and an already chosen model.
pub(crate) fn request_info(
    req: &Map<String, Value>,
    model: Option<&str>,
    path_stream: bool,
    cfg: &Config,
    tok: &Tokenizer,
) -> Result<RequestInfo, Problem> {
    let Some(model) = model else {
        return Err((
            Invalid::MissingModel,
            "request has no `model` string and the path names none".into(),
        ));
    };
    let encoding = encoding_for_model(model, &cfg.encoding_overrides, cfg.default_encoding);
    Ok(RequestInfo {
        model: model.to_string(),
        stream: path_stream || req.get("stream").and_then(Value::as_bool) == Some(true),
        max_output_tokens: req.get("max_tokens").and_then(Value::as_u64),
        choices: 1,
        user: req
            .get("metadata")
            .and_then(|m| non_empty(m.get("user_id")))
            .map(str::to_string),
        estimated_input_tokens: estimate_prompt_tokens(req, encoding, tok),
        encoding,
        service_tier: non_empty(req.get("service_tier")).map(str::to_string),
    })
}

fn non_empty(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The prompt estimate described in the module documentation.
pub fn estimate_prompt_tokens(req: &Map<String, Value>, enc: Encoding, tok: &Tokenizer) -> u64 {
    let count = |s: &str| tok.count(enc, s);
    let mut total = REPLY_PRIMING;
    match req.get("system") {
        None | Some(Value::Null) => {}
        Some(system) => total += TOKENS_PER_MESSAGE + content_tokens(Some(system), &count),
    }
    for msg in req
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        total += TOKENS_PER_MESSAGE + content_tokens(msg.get("content"), &count);
    }
    let tools = req
        .get("tools")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty());
    if let Some(tools) = tools {
        let choice = req
            .get("tool_choice")
            .and_then(|c| c.get("type"))
            .and_then(Value::as_str);
        total += match choice {
            Some("any") | Some("tool") => TOOL_SYSTEM_PROMPT_ANY,
            _ => TOOL_SYSTEM_PROMPT_AUTO,
        };
        for tool in tools {
            let text = |k: &str| tool.get(k).and_then(Value::as_str).map_or(0, count);
            total += TOKENS_PER_TOOL
                + text("name")
                + text("description")
                + json_tokens(tool.get("input_schema"), &count);
        }
    }
    total
}

/// Tokens of a `content` (or `system`) value: a string or an array of content blocks.
fn content_tokens(content: Option<&Value>, count: &impl Fn(&str) -> u64) -> u64 {
    match content {
        Some(Value::String(s)) => count(s),
        Some(Value::Array(blocks)) => blocks.iter().map(|b| block_tokens(b, count)).sum(),
        _ => 0,
    }
}

/// Tokens of one content block, in a request or a response.
fn block_tokens(block: &Value, count: &impl Fn(&str) -> u64) -> u64 {
    let text = |ptr: &str| block.pointer(ptr).and_then(Value::as_str).map_or(0, count);
    match block.get("type").and_then(Value::as_str) {
        Some("text") => text("/text"),
        Some("thinking") => text("/thinking"),
        Some("tool_use") | Some("server_tool_use") => {
            text("/name") + json_tokens(block.get("input"), count)
        }
        Some("tool_result") => content_tokens(block.get("content"), count),
        Some("search_result") => text("/title") + content_tokens(block.get("content"), count),
        Some("image") => IMAGE_BLOCK_TOKENS,
        Some("document") => match block.pointer("/source/type").and_then(Value::as_str) {
            Some("text") => text("/source/data"),
            Some("content") => content_tokens(block.pointer("/source/content"), count),
            // A PDF or a file reference: not decoded, not counted.
            _ => 0,
        },
        // `redacted_thinking` is opaque; other block types carry no countable text.
        _ => 0,
    }
}

/// Tokens of a JSON value as compact JSON text (tool inputs and schemas).
fn json_tokens(v: Option<&Value>, count: &impl Fn(&str) -> u64) -> u64 {
    match v {
        None | Some(Value::Null) => 0,
        Some(v) => count(&v.to_string()),
    }
}

/// Reads a Messages response: the provider's usage when present and sane, else an estimate
/// (the request's prompt estimate, and the returned content blocks counted). A 2xx body that is
/// an error object (`{"type":"error",…}`) bills nothing.
pub fn parse_response(body: &[u8], req: &RequestInfo, tok: &Tokenizer) -> ResponseInfo {
    let resp = match parse_object(body) {
        Ok(r) => r,
        Err(problem) => return estimate_only(req, 0, Some(problem)),
    };
    if resp.get("type").and_then(Value::as_str) == Some("error") {
        return ResponseInfo {
            finish: Some(Finish::Error),
            ..nothing_billed()
        };
    }
    let usage = resp.get("usage").filter(|u| !u.is_null());
    let count = |s: &str| tok.count(req.encoding, s);
    ResponseInfo {
        finish: non_empty(resp.get("stop_reason")).map(finish_of),
        ..usage_or_estimate(
            usage.map(provider_usage),
            non_empty(resp.get("model")).map(str::to_string),
            service_tier(usage),
            req,
            || content_tokens(resp.get("content"), &count),
            None,
        )
    }
}

/// A `stop_reason`, as listed in <https://docs.anthropic.com/en/api/messages> (response
/// `stop_reason`) and <https://docs.anthropic.com/en/api/handling-stop-reasons>: `end_turn` and
/// `stop_sequence` are a natural end, `tool_use` asks for tools, `max_tokens` and
/// `model_context_window_exceeded` cut the answer at a limit, `refusal` declined it; anything
/// else (`pause_turn`, a server-tool loop paused) is [`Finish::Other`].
pub fn finish_of(stop_reason: &str) -> Finish {
    match stop_reason {
        "end_turn" | "stop_sequence" => Finish::Stop,
        "tool_use" => Finish::ToolCalls,
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "refusal" => Finish::ContentFilter,
        _ => Finish::Other,
    }
}

/// `usage.service_tier` (`standard`, `priority`, `batch`).
pub(crate) fn service_tier(usage: Option<&Value>) -> Option<String> {
    non_empty(usage.and_then(|u| u.get("service_tier"))).map(str::to_string)
}

/// No usage: what an error answer costs.
fn nothing_billed() -> ResponseInfo {
    ResponseInfo {
        usage: Usage {
            source: UsageSource::None,
            ..Usage::default()
        },
        model: None,
        problem: None,
        service_tier: None,
        finish: None,
    }
}

/// A `usage` object, validated and normalised: `input_tokens` and `output_tokens` are required;
/// `cache_read_input_tokens` and `cache_creation_input_tokens` default to 0. The cache writes are
/// split by `cache_creation` when present: its `ephemeral_1h_input_tokens` are 1-hour writes, the
/// rest of `cache_creation_input_tokens` 5-minute writes (the default lifetime, and all of them
/// when `cache_creation` is absent). When `cache_creation_input_tokens` is absent the split's sum
/// stands in for it; a split larger than it is an error.
pub fn provider_usage(u: &Value) -> Result<Usage, String> {
    let field = |name: &str| read_count(u.get(name), &format!("usage.{name}"));
    let (Some(input), Some(output)) = (field("input_tokens")?, field("output_tokens")?) else {
        return Err("usage lacks input_tokens or output_tokens".into());
    };
    let read = field("cache_read_input_tokens")?.unwrap_or(0);
    let creation = field("cache_creation_input_tokens")?;
    let (write_5m, write_1h) = match u.get("cache_creation") {
        None | Some(Value::Null) => (creation.unwrap_or(0), 0),
        Some(split) if !split.is_object() => {
            return Err(format!("usage.cache_creation = {split} is not an object"))
        }
        Some(split) => {
            let part = |name: &str| {
                read_count(split.get(name), &format!("usage.cache_creation.{name}"))
                    .map(|n| n.unwrap_or(0))
            };
            let (m5, h1) = (
                part("ephemeral_5m_input_tokens")?,
                part("ephemeral_1h_input_tokens")?,
            );
            match creation {
                None => (m5, h1),
                Some(total) if m5 + h1 <= total => (total - h1, h1),
                Some(total) => {
                    return Err(format!(
                        "inconsistent usage: cache_creation 5m {m5} + 1h {h1} > \
                         cache_creation_input_tokens {total}"
                    ))
                }
            }
        }
    };
    // Each part is at most MAX_PLAUSIBLE_TOKENS (1e8): the sum cannot overflow.
    Ok(Usage {
        input_tokens: input + read + write_5m + write_1h,
        output_tokens: output,
        cached_tokens: read,
        cache_write_5m_tokens: write_5m,
        cache_write_1h_tokens: write_1h,
        reasoning_tokens: 0,
        source: UsageSource::Provider,
    })
}

#[cfg(test)]
mod tests;
