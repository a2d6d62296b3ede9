//! AWS Bedrock Runtime `Converse` (`POST /model/{modelId}/converse`) and `ConverseStream`
//! (`POST /model/{modelId}/converse-stream`), as documented in the API reference:
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html> and
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html>.
//! Host-free; not wired into the filter yet. The stream meter is [`ConverseStreamMeter`].
//!
//! **Model.** The body has no model: it is the path's `modelId` (a model ID, an inference
//! profile ID or an ARN), which [`super::detect`] has percent-decoded into [`Endpoint::model`].
//!
//! **Prompt estimate.** Bedrock serves many model families, each with its own tokenizer, and
//! documents no counting formula. The estimate counts, with the configured encoding, every text
//! the model reads: `system[]` text, each message's role and content blocks (`text`, `toolUse`
//! name and `input` as JSON, `toolResult` content `text` and `json`, `guardContent` text,
//! `reasoningContent` text), each `toolConfig.tools[].toolSpec` (`name`, `description`,
//! `inputSchema.json` as JSON) and `promptVariables` text, plus OpenAI's chat framing (3 tokens
//! per message, 3 to prime the reply) as a stand-in for the model's own template. Images,
//! documents and videos are not decoded and count 0.
//!
//! **Usage.** `usage` is a `TokenUsage`
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html>):
//! `inputTokens`, `outputTokens`, `totalTokens`, optional `cacheReadInputTokens`,
//! `cacheWriteInputTokens` and `cacheDetails` (cache writes by TTL, `5m` or `1h`,
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_CacheDetail.html>).
//! The prompt caching guide
//! (<https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html>) bills cache
//! reads, cache writes and the tokens "neither read from nor written to the cache" at three
//! rates, and describes `inputTokens` as the last of these when caching is on: like Anthropic's
//! `input_tokens`, it excludes cache reads and writes. So the normalised input is `inputTokens +
//! cacheReadInputTokens + cacheWriteInputTokens`; cache writes are split by `cacheDetails`
//! (1-hour ones, the rest at the default 5 minutes). `totalTokens` is not used. Bedrock reports
//! no separate reasoning count: reasoning is part of `outputTokens`.
//!
//! **Price tier.** Two request options change the price: `serviceTier.type` (`priority`,
//! `default`, `flex`, `reserved`;
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ServiceTier.html>) and
//! `performanceConfig.latency` (`standard`, `optimized`: latency-optimized inference, priced
//! apart; <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_PerformanceConfiguration.html>).
//! [`service_tier`] folds them into the one tier name the price table knows: a service tier
//! other than `default` wins, else `optimized` when latency-optimized inference is asked for, else
//! the explicit `default` / `standard` (which no price table names, so the standard price
//! applies). Responses and the stream's `metadata` event echo both objects for the request as
//! served, so the response's tier, read the same way, overrides the request's (a request for
//! `optimized` served at `standard` is priced at standard).
//!
//! **Finish.** The response's `stopReason` (in a stream, the `messageStop` event's) is mapped by
//! [`finish_of`]; a stream exception is [`crate::providers::Finish::Error`].

use super::openai::{estimate_only, parse_object, usage_or_estimate};
use super::{Endpoint, Finish, Invalid, Problem, RequestInfo, ResponseInfo};
use crate::config::Config;
use crate::tokens::{encoding_for_model, Encoding, Tokenizer};
use crate::usage::{read_count, Usage, UsageSource};
use serde_json::{Map, Value};

mod stream;
pub use stream::{ConverseStreamMeter, StreamError, DEFAULT_MAX_TEXT_BYTES};

const TOKENS_PER_MESSAGE: u64 = 3;
const REPLY_PRIMING: u64 = 3;

/// Reads a Converse or ConverseStream request body and estimates its prompt tokens. The model is
/// the one the path names; the stream flag is the path's (`/converse-stream`).
pub fn parse_request(
    body: &[u8],
    ep: &Endpoint,
    cfg: &Config,
    tok: &Tokenizer,
) -> Result<RequestInfo, Problem> {
    let req = parse_object(body)?;
    let model = match ep.model.as_deref() {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => {
            return Err((
                Invalid::MissingModel,
                "the path names no Bedrock model ID".into(),
            ))
        }
    };
    let encoding = encoding_for_model(&model, &cfg.encoding_overrides, cfg.default_encoding);
    Ok(RequestInfo {
        stream: ep.stream,
        max_output_tokens: req
            .get("inferenceConfig")
            .and_then(|c| c.get("maxTokens"))
            .and_then(Value::as_u64),
        choices: 1,
        user: None,
        estimated_input_tokens: estimate_prompt_tokens(&req, encoding, tok),
        encoding,
        model,
        service_tier: service_tier(&req),
    })
}

/// The price tier a request asks for, or a response or `metadata` event says served it, from
/// its `serviceTier.type` and `performanceConfig.latency` (see the module documentation).
pub fn service_tier(obj: &Map<String, Value>) -> Option<String> {
    let field = |object: &str, member: &str| {
        obj.get(object)
            .and_then(|o| o.get(member))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let tier = field("serviceTier", "type");
    let latency = field("performanceConfig", "latency");
    let name = match (tier, latency) {
        (Some(t), _) if t != "default" => Some(t),
        (_, Some("optimized")) => Some("optimized"),
        (Some(t), _) => Some(t),
        (None, l) => l,
    };
    name.map(str::to_string)
}

/// The prompt estimate described in the module documentation.
pub fn estimate_prompt_tokens(req: &Map<String, Value>, enc: Encoding, tok: &Tokenizer) -> u64 {
    let count = |s: &str| tok.count(enc, s);
    let mut total = REPLY_PRIMING;
    for block in array(req.get("system")) {
        total += block_tokens(block, &count);
    }
    for msg in array(req.get("messages")) {
        total += TOKENS_PER_MESSAGE + str_tokens(msg.get("role"), &count);
        for block in array(msg.get("content")) {
            total += block_tokens(block, &count);
        }
    }
    for tool in array(req.get("toolConfig").and_then(|c| c.get("tools"))) {
        let Some(spec) = tool.get("toolSpec") else {
            continue;
        };
        total += str_tokens(spec.get("name"), &count)
            + str_tokens(spec.get("description"), &count)
            + json_tokens(spec.pointer("/inputSchema/json"), &count);
    }
    if let Some(vars) = req.get("promptVariables").and_then(Value::as_object) {
        for var in vars.values() {
            total += str_tokens(var.get("text"), &count);
        }
    }
    total
}

/// The elements of a JSON array, none for anything else.
fn array(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

fn str_tokens(v: Option<&Value>, count: &impl Fn(&str) -> u64) -> u64 {
    v.and_then(Value::as_str).map_or(0, count)
}

/// A JSON value (tool input, tool result, schema) as compact JSON text.
fn json_tokens(v: Option<&Value>, count: &impl Fn(&str) -> u64) -> u64 {
    match v {
        None | Some(Value::Null) => 0,
        Some(v) => count(&v.to_string()),
    }
}

/// Text of a content block (message, system, tool result or output): `text`, `json` (tool
/// results), `guardContent.text.text`, `reasoningContent.reasoningText.text`, a `toolUse`'s name
/// and input, a `toolResult`'s content. Images, documents, videos and cache points count 0.
fn block_tokens(block: &Value, count: &impl Fn(&str) -> u64) -> u64 {
    let text = |ptr: &str| str_tokens(block.pointer(ptr), count);
    let mut total = text("/text")
        + text("/guardContent/text/text")
        + text("/reasoningContent/reasoningText/text")
        + json_tokens(block.get("json"), count);
    if let Some(tool_use) = block.get("toolUse") {
        total +=
            str_tokens(tool_use.get("name"), count) + json_tokens(tool_use.get("input"), count);
    }
    if let Some(result) = block.get("toolResult") {
        for part in array(result.get("content")) {
            total += block_tokens(part, count);
        }
    }
    total
}

/// Reads a Converse response: the provider's usage when present and sane, else an estimate (the
/// request's prompt estimate, and the returned content counted). Converse responses name no
/// model.
pub fn parse_response(body: &[u8], req: &RequestInfo, tok: &Tokenizer) -> ResponseInfo {
    let resp = match parse_object(body) {
        Ok(r) => r,
        Err(problem) => return estimate_only(req, 0, Some(problem)),
    };
    let count = |s: &str| tok.count(req.encoding, s);
    let output = || {
        array(
            resp.get("output")
                .and_then(|o| o.pointer("/message/content")),
        )
        .map(|block| block_tokens(block, &count))
        .sum()
    };
    let usage = resp
        .get("usage")
        .filter(|u| !u.is_null())
        .map(provider_usage);
    ResponseInfo {
        // The tier the response names, with the provider's usage or an estimate.
        service_tier: service_tier(&resp),
        finish: resp
            .get("stopReason")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(finish_of),
        ..usage_or_estimate(usage, None, None, req, output, None)
    }
}

/// A `stopReason`
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax>,
/// the same list as `MessageStopEvent`'s): `end_turn` and `stop_sequence` are a natural end,
/// `tool_use` asks for tools, `max_tokens` and `model_context_window_exceeded` a limit,
/// `guardrail_intervened` and `content_filtered` a filter; anything else
/// (`malformed_model_output`, `malformed_tool_use`) is [`Finish::Other`].
pub fn finish_of(stop_reason: &str) -> Finish {
    match stop_reason {
        "end_turn" | "stop_sequence" => Finish::Stop,
        "tool_use" => Finish::ToolCalls,
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "guardrail_intervened" | "content_filtered" => Finish::ContentFilter,
        _ => Finish::Other,
    }
}

/// A `TokenUsage` object, validated and normalised (see the module documentation). Every count
/// is read strictly; `inputTokens` and `outputTokens` are required; cache writes by TTL may not
/// exceed `cacheWriteInputTokens`.
pub(crate) fn provider_usage(u: &Value) -> Result<Usage, String> {
    let input = read_count(u.get("inputTokens"), "usage.inputTokens")?;
    let output = read_count(u.get("outputTokens"), "usage.outputTokens")?;
    let read = read_count(u.get("cacheReadInputTokens"), "usage.cacheReadInputTokens")?;
    let write = read_count(
        u.get("cacheWriteInputTokens"),
        "usage.cacheWriteInputTokens",
    )?;
    let (Some(input), Some(output)) = (input, output) else {
        return Err("usage lacks inputTokens or outputTokens".into());
    };
    let read = read.unwrap_or(0);
    let (by_ttl_total, by_ttl_1h) = cache_details(u.get("cacheDetails"))?;
    let write = write.unwrap_or(by_ttl_total);
    if by_ttl_total > write {
        return Err(format!(
            "inconsistent usage: cacheDetails total {by_ttl_total} > cacheWriteInputTokens {write}"
        ));
    }
    Ok(Usage {
        input_tokens: input.saturating_add(read).saturating_add(write),
        output_tokens: output,
        cached_tokens: read,
        cache_write_5m_tokens: write.saturating_sub(by_ttl_1h),
        cache_write_1h_tokens: by_ttl_1h,
        reasoning_tokens: 0,
        source: UsageSource::Provider,
    })
}

/// `cacheDetails`: (all tokens listed, those with the `1h` TTL). Any other TTL counts as the
/// default 5 minutes.
fn cache_details(v: Option<&Value>) -> Result<(u64, u64), String> {
    let details = match v {
        None | Some(Value::Null) => return Ok((0, 0)),
        Some(Value::Array(d)) => d,
        Some(other) => return Err(format!("usage.cacheDetails = {other} is not an array")),
    };
    let (mut total, mut one_hour) = (0u64, 0u64);
    for d in details {
        let tokens = read_count(d.get("inputTokens"), "usage.cacheDetails[].inputTokens")?
            .ok_or("usage.cacheDetails entry lacks inputTokens")?;
        total = total.saturating_add(tokens);
        if d.get("ttl").and_then(Value::as_str) == Some("1h") {
            one_hour = one_hour.saturating_add(tokens);
        }
    }
    Ok((total, one_hour))
}

#[cfg(test)]
mod tests;
