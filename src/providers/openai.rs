//! OpenAI Chat Completions (`POST /v1/chat/completions`), as documented in the API reference
//! (https://platform.openai.com/docs/api-reference/chat). Prompt tokens are estimated with the
//! chat format that the OpenAI Cookbook "How to count tokens with tiktoken" documents: 3 tokens
//! per message, 1 more per `name`, 3 to prime the reply, plus its function-definition formula
//! for `tools`.

use super::{Api, Endpoint, Finish, Invalid, Problem, RequestInfo, ResponseInfo};
use crate::config::Config;
use crate::tokens::{encoding_for_model, Encoding, Tokenizer};
use crate::usage::{read_count, read_count_named, Usage, UsageSource};
use serde_json::{Map, Value};

const TOKENS_PER_MESSAGE: u64 = 3;
const TOKENS_PER_NAME: u64 = 1;
const REPLY_PRIMING: u64 = 3;
/// An image part's minimum cost (a low-detail image; OpenAI "Images and vision" guide). The
/// real figure depends on the image size, which the filter does not decode.
pub(crate) const IMAGE_PART_TOKENS: u64 = 85;

/// The endpoint of a plain Chat Completions route.
pub const CHAT: Endpoint = Endpoint {
    api: Api::OpenAiChat,
    model: None,
    stream: false,
};

/// Parses a JSON body into an object, classifying failures.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Problem> {
    if body.is_empty() {
        return Err((Invalid::EmptyBody, "empty body".into()));
    }
    if let Err(e) = std::str::from_utf8(body) {
        return Err((
            Invalid::NotUtf8,
            format!("body is not UTF-8 (byte {})", e.valid_up_to()),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err((Invalid::InvalidJson, "body is not a JSON object".into())),
        Err(e) => Err((Invalid::InvalidJson, format!("invalid JSON: {e}"))),
    }
}

/// Reads a Chat Completions request and estimates its prompt tokens. The model is the body's
/// `model`, else the one the path names (an Azure deployment).
pub fn parse_request(
    body: &[u8],
    ep: &Endpoint,
    cfg: &Config,
    tok: &Tokenizer,
) -> Result<RequestInfo, Problem> {
    let req = parse_object(body)?;
    let model = request_model(&req, ep)?;
    let encoding = encoding_for_model(&model, &cfg.encoding_overrides, cfg.default_encoding);
    let max_output_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| req.get(*k).and_then(Value::as_u64));
    Ok(RequestInfo {
        stream: req.get("stream").and_then(Value::as_bool).unwrap_or(false),
        max_output_tokens,
        choices: req.get("n").and_then(Value::as_u64).unwrap_or(1).max(1),
        user: string_field(&req, "user"),
        estimated_input_tokens: estimate_prompt_tokens(&req, encoding, tok),
        encoding,
        model,
        service_tier: string_field(&req, "service_tier"),
    })
}

/// The request's `model`, else the one the path names (an Azure deployment).
pub(crate) fn request_model(req: &Map<String, Value>, ep: &Endpoint) -> Result<String, Problem> {
    match req
        .get("model")
        .and_then(Value::as_str)
        .or(ep.model.as_deref())
    {
        Some(m) if !m.is_empty() => Ok(m.to_string()),
        _ => Err((
            Invalid::MissingModel,
            "request has no `model` string".into(),
        )),
    }
}

/// A string member of a request or response object.
pub(crate) fn string_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The cookbook's `num_tokens_from_messages` plus `num_tokens_for_tools`.
pub fn estimate_prompt_tokens(req: &Map<String, Value>, enc: Encoding, tok: &Tokenizer) -> u64 {
    let count = |s: &str| tok.count(enc, s);
    let mut total = REPLY_PRIMING;
    for msg in req
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        total += TOKENS_PER_MESSAGE;
        let Some(msg) = msg.as_object() else { continue };
        if let Some(role) = msg.get("role").and_then(Value::as_str) {
            total += count(role);
        }
        total += content_tokens(msg.get("content"), &count);
        if let Some(name) = msg.get("name").and_then(Value::as_str) {
            total += count(name) + TOKENS_PER_NAME;
        }
        if let Some(refusal) = msg.get("refusal").and_then(Value::as_str) {
            total += count(refusal);
        }
        for call in msg
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // Not in the cookbook: the call's name and arguments plus a small frame.
            let f = &call["function"];
            total += TOKENS_PER_MESSAGE
                + count(f["name"].as_str().unwrap_or(""))
                + count(f["arguments"].as_str().unwrap_or(""));
        }
    }
    let functions: Vec<&Value> = match (req.get("tools"), req.get("functions")) {
        (Some(Value::Array(tools)), _) => tools.iter().map(|t| &t["function"]).collect(),
        (_, Some(Value::Array(functions))) => functions.iter().collect(),
        _ => Vec::new(),
    };
    total + tool_tokens(&functions, enc, &count)
}

/// Text in a message's `content`: a string, or an array of content parts.
fn content_tokens(content: Option<&Value>, count: &impl Fn(&str) -> u64) -> u64 {
    match content {
        Some(Value::String(s)) => count(s),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match p["type"].as_str() {
                Some("text") => count(p["text"].as_str().unwrap_or("")),
                Some("refusal") => count(p["refusal"].as_str().unwrap_or("")),
                Some("image_url") => IMAGE_PART_TOKENS,
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}

/// The cookbook's `num_tokens_for_tools`: per function `func_init` (7 for o200k models such as
/// gpt-4o, 10 for cl100k models such as gpt-4), `name:description`, then per property
/// `prop_key` and `name:type:description`, enum items, and `func_end` once. Descriptions lose a
/// trailing period.
pub(crate) fn tool_tokens(
    functions: &[&Value],
    enc: Encoding,
    count: &impl Fn(&str) -> u64,
) -> u64 {
    if functions.is_empty() {
        return 0;
    }
    let func_init: i64 = if enc == Encoding::Cl100kBase { 10 } else { 7 };
    let (prop_init, prop_key, enum_init, enum_item, func_end): (i64, i64, i64, i64, i64) =
        (3, 3, -3, 3, 12);
    let c = |s: &str| i64::try_from(count(s)).unwrap_or(i64::MAX);
    let mut total: i64 = 0;
    for f in functions {
        total += func_init;
        let desc = f["description"].as_str().unwrap_or("");
        total += c(&format!(
            "{}:{}",
            f["name"].as_str().unwrap_or(""),
            desc.strip_suffix('.').unwrap_or(desc)
        ));
        let Some(props) = f
            .pointer("/parameters/properties")
            .and_then(Value::as_object)
            .filter(|p| !p.is_empty())
        else {
            continue;
        };
        total += prop_init;
        for (key, prop) in props {
            total += prop_key;
            if let Some(items) = prop["enum"].as_array() {
                total += enum_init;
                for item in items {
                    total += enum_item + c(&value_text(item));
                }
            }
            let desc = prop["description"].as_str().unwrap_or("");
            let ty = value_text(&prop["type"]);
            total += c(&format!(
                "{key}:{ty}:{}",
                desc.strip_suffix('.').unwrap_or(desc)
            ));
        }
    }
    u64::try_from(total + func_end).unwrap_or(0)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Reads a Chat Completions response: the provider's usage when present and sane, else an
/// estimate (the request's prompt estimate, and the returned messages counted). The finish is
/// the least successful `choices[].finish_reason` ([`finish_of`]).
pub fn parse_response(body: &[u8], req: &RequestInfo, tok: &Tokenizer) -> ResponseInfo {
    if let Some(info) = fast::with_usage(body) {
        return info;
    }
    parse_response_with(
        body,
        req,
        tok,
        provider_usage,
        output_tokens,
        choices_finish,
    )
}

/// Reads the response of an OpenAI-style API (top-level `model`, `usage` and `service_tier`):
/// `usage` read by `read_usage` when present and sane, else an estimate made of the request's
/// prompt estimate and the output that `output` counts in the response; `finish` reads how it
/// ended.
pub(crate) fn parse_response_with(
    body: &[u8],
    req: &RequestInfo,
    tok: &Tokenizer,
    read_usage: fn(&Value) -> Result<Usage, String>,
    output: fn(&Map<String, Value>, Encoding, &Tokenizer) -> u64,
    finish: fn(&Map<String, Value>) -> Option<Finish>,
) -> ResponseInfo {
    let resp = match parse_object(body) {
        Ok(r) => r,
        Err(problem) => return estimate_only(req, 0, Some(problem)),
    };
    let model = resp
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    ResponseInfo {
        finish: finish(&resp),
        ..usage_or_estimate(
            resp.get("usage").filter(|u| !u.is_null()).map(read_usage),
            model,
            string_field(&resp, "service_tier"),
            req,
            || output(&resp, req.encoding, tok),
            None,
        )
    }
}

/// A Chat Completions or legacy Completions `finish_reason`
/// (<https://platform.openai.com/docs/api-reference/chat/object>: `stop`, `length`,
/// `tool_calls`, `content_filter`, and the deprecated `function_call`;
/// <https://platform.openai.com/docs/api-reference/completions/object>: `stop`, `length`,
/// `content_filter`). DeepSeek adds `insufficient_system_resource`, a generation its servers
/// interrupted (<https://api-docs.deepseek.com/api/create-chat-completion>): an error.
pub fn finish_of(reason: &str) -> Finish {
    match reason {
        "stop" => Finish::Stop,
        "tool_calls" | "function_call" => Finish::ToolCalls,
        "length" => Finish::Length,
        "content_filter" => Finish::ContentFilter,
        "insufficient_system_resource" => Finish::Error,
        _ => Finish::Other,
    }
}

/// The least successful `choices[].finish_reason`; [`Finish::Error`] for a body carrying an
/// `error` object; `None` when no choice has a reason.
pub(crate) fn choices_finish(resp: &Map<String, Value>) -> Option<Finish> {
    let error = resp.get("error").is_some_and(|e| !e.is_null());
    let reasons = resp
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("finish_reason").and_then(Value::as_str))
        .filter(|r| !r.is_empty());
    choices_finish_of(reasons, error)
}

/// [`choices_finish`] of the non-empty reasons, in order, and whether there was an `error`.
pub(crate) fn choices_finish_of<'a>(
    reasons: impl Iterator<Item = &'a str>,
    error: bool,
) -> Option<Finish> {
    Finish::worst(reasons.map(finish_of).chain(error.then_some(Finish::Error)))
}

/// The response's `usage` object, validated: counts are non-negative integers within reason,
/// cached ≤ prompt and reasoning ≤ completion.
pub(crate) fn provider_usage(u: &Value) -> Result<Usage, String> {
    usage_named(u, "prompt_tokens", "completion_tokens")
}

/// An OpenAI `usage` object whose input and output counts are named `input_key` and `output_key`
/// (Chat Completions' `prompt_tokens` and `completion_tokens`, Responses' `input_tokens` and
/// `output_tokens`), with `cached_tokens` in `{input_key}_details` and `reasoning_tokens` in
/// `{output_key}_details`; validated: counts are non-negative integers within reason, cached ≤
/// input and reasoning ≤ output.
pub(crate) fn usage_named(u: &Value, input_key: &str, output_key: &str) -> Result<Usage, String> {
    let input = read_count_named(u.get(input_key), || format!("usage.{input_key}"))?;
    let output = read_count_named(u.get(output_key), || format!("usage.{output_key}"))?;
    // `{key}_details`, found without building its name.
    let details = |key: &str| {
        let (_, d) = u
            .as_object()?
            .iter()
            .find(|(k, _)| k.strip_suffix("_details") == Some(key))?;
        Some(d)
    };
    // DeepSeek reports cache hits as `prompt_cache_hit_tokens` (its context-caching guide).
    let cached = match read_count(
        details(input_key).and_then(|d| d.get("cached_tokens")),
        "cached_tokens",
    )? {
        Some(n) => n,
        None => {
            read_count(u.get("prompt_cache_hit_tokens"), "prompt_cache_hit_tokens")?.unwrap_or(0)
        }
    };
    let reasoning = read_count(
        details(output_key).and_then(|d| d.get("reasoning_tokens")),
        "reasoning_tokens",
    )?
    .unwrap_or(0);
    let (Some(input), Some(output)) = (input, output) else {
        return Err(format!("usage lacks {input_key} or {output_key}"));
    };
    if cached > input || reasoning > output {
        let name = |key: &str| key.strip_suffix("_tokens").unwrap_or(key).to_string();
        let (i, o) = (name(input_key), name(output_key));
        return Err(format!("inconsistent usage: cached {cached} > {i} {input} or reasoning {reasoning} > {o} {output}"));
    }
    Ok(Usage {
        input_tokens: input,
        output_tokens: output,
        cached_tokens: cached,
        reasoning_tokens: reasoning,
        source: UsageSource::Provider,
        ..Usage::default()
    })
}

/// Tokens of the returned choices: content, refusals and tool calls.
fn output_tokens(resp: &Map<String, Value>, enc: Encoding, tok: &Tokenizer) -> u64 {
    let count = |v: &Value| v.as_str().map_or(0, |s| tok.count(enc, s));
    let mut total = 0;
    for choice in resp
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let msg = &choice["message"];
        total += count(&msg["content"]) + count(&msg["refusal"]);
        for call in msg["tool_calls"].as_array().into_iter().flatten() {
            let field = |name: &str| call.pointer(name).unwrap_or(&Value::Null);
            total += count(field("/function/name")) + count(field("/function/arguments"));
        }
    }
    total
}

/// The usage a response or a stream reported, else an estimate.
///
/// `usage` is the provider's usage as read (`None` when none came). A usable one is the result,
/// with `model` and `service_tier`. Otherwise the result is the request's prompt estimate and
/// `output()` tokens, with `model` (and no tier); its problem is the reading's error
/// (`bad_usage`) for an unusable usage, else `missing` for an absent one.
pub(crate) fn usage_or_estimate(
    usage: Option<Result<Usage, String>>,
    model: Option<String>,
    service_tier: Option<String>,
    req: &RequestInfo,
    output: impl FnOnce() -> u64,
    missing: Option<Problem>,
) -> ResponseInfo {
    let problem = match usage {
        Some(Ok(usage)) => {
            return ResponseInfo {
                usage,
                model,
                problem: None,
                service_tier,
                finish: None,
            }
        }
        Some(Err(detail)) => Some((Invalid::BadUsage, detail)),
        None => missing,
    };
    ResponseInfo {
        model,
        ..estimate_only(req, output(), problem)
    }
}

/// Usage made of the prompt estimate and `output` counted tokens.
pub fn estimate_only(req: &RequestInfo, output: u64, problem: Option<Problem>) -> ResponseInfo {
    let usage = Usage {
        input_tokens: req.estimated_input_tokens,
        output_tokens: output,
        source: UsageSource::Estimate,
        ..Usage::default()
    };
    ResponseInfo {
        usage,
        model: None,
        problem,
        service_tier: None,
        finish: None,
    }
}

pub(crate) mod fast;

#[cfg(test)]
mod tests;
