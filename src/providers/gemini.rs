//! Google's Gemini API (`POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent`, <https://ai.google.dev/api/generate-content>) and the same methods on
//! Vertex AI (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:…`,
//! <https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference>). Both take a
//! `GenerateContentRequest` and answer with a `GenerateContentResponse`; the model is named by
//! the path, never the body.
//!
//! **Request estimate.** Gemini's tokenizer is not public, so the prompt is counted with the
//! model's configured encoding (o200k_base unless overridden): the text of every part of
//! `contents` and `systemInstruction`, function calls and responses as their JSON, code
//! execution parts, the JSON of `tools[].functionDeclarations`, and 258 tokens per image part
//! (the Gemini API's "Understand and count tokens" guide: an image up to 384 pixels on both
//! sides counts 258 tokens; larger ones are tiled, so this is a minimum). Audio and video parts
//! count nothing: their cost depends on a duration the filter does not decode. Google's JSON
//! mapping accepts proto field names too, so `system_instruction`, `generation_config`,
//! `max_output_tokens`… are read as well as the lowerCamel forms.
//!
//! **Response usage.** `usageMetadata` (<https://ai.google.dev/api/generate-content#UsageMetadata>)
//! reports the parts separately: `promptTokenCount` (which already includes
//! `cachedContentTokenCount`), `toolUsePromptTokenCount`, `candidatesTokenCount`,
//! `thoughtsTokenCount`, and `totalTokenCount`, their sum. They are normalised to
//! [`Usage`]: input = prompt + tool-use prompt, cached = cached content, output = candidates +
//! thoughts, reasoning = thoughts. Zero counts are omitted from the JSON (proto3), so an absent
//! count is 0. One exception: some responses have reported thinking tokens inside
//! `candidatesTokenCount` (their `totalTokenCount` is then prompt + tool-use + candidates, without
//! the thoughts); when the total says so, the thoughts are not added a second time.
//!
//! **Finish.** Each candidate's `finishReason` is mapped by [`finish_of`]; a candidate that
//! stopped with a `functionCall` part asked for tools (Gemini has no reason of its own for
//! that). A prompt that was blocked (`promptFeedback.blockReason`, no candidates) is
//! [`Finish::ContentFilter`], an `error` object [`Finish::Error`]; the least successful wins.

mod stream;

pub use stream::{GeminiStreamMeter, DEFAULT_MAX_TEXT_BYTES};

use super::openai::{estimate_only, parse_object, usage_or_estimate};
use super::{Endpoint, Finish, Invalid, Problem, RequestInfo, ResponseInfo};
use crate::config::Config;
use crate::tokens::{encoding_for_model, Encoding, Tokenizer};
use crate::usage::{read_count, Usage, UsageSource};
use serde_json::Value;

/// Tokens of one image part: its minimum (an image of at most 384×384 pixels).
pub const IMAGE_PART_TOKENS: u64 = 258;

/// A member by its lowerCamel JSON name, else by its proto field name.
fn field<'a>(obj: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel).or_else(|| obj.get(snake))
}

/// The items of an array member (none when absent or not an array).
fn items<'a>(obj: &'a Value, camel: &str, snake: &str) -> impl Iterator<Item = &'a Value> {
    field(obj, camel, snake)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Reads a `GenerateContentRequest` and estimates its prompt tokens. The model is the one the
/// path names (`ep.model`, a leading `models/` removed), else a body `model` string.
pub fn parse_request(
    body: &[u8],
    ep: &Endpoint,
    cfg: &Config,
    tok: &Tokenizer,
) -> Result<RequestInfo, Problem> {
    let req = Value::Object(parse_object(body)?);
    let named = ep
        .model
        .as_deref()
        .or_else(|| req.get("model").and_then(Value::as_str));
    let model = match named.map(|m| m.strip_prefix("models/").unwrap_or(m)) {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => {
            return Err((
                Invalid::MissingModel,
                "neither the path nor the body names a model".into(),
            ))
        }
    };
    let encoding = encoding_for_model(&model, &cfg.encoding_overrides, cfg.default_encoding);
    let config = field(&req, "generationConfig", "generation_config");
    let config_count = |camel, snake| {
        config
            .and_then(|c| field(c, camel, snake))
            .and_then(Value::as_u64)
    };
    Ok(RequestInfo {
        stream: ep.stream,
        max_output_tokens: config_count("maxOutputTokens", "max_output_tokens"),
        choices: config_count("candidateCount", "candidate_count")
            .unwrap_or(1)
            .max(1),
        user: None,
        estimated_input_tokens: estimate_prompt_tokens(&req, encoding, tok),
        encoding,
        model,
        service_tier: None,
    })
}

/// The request's prompt tokens: `contents`, `systemInstruction` and the function declarations
/// of `tools`.
pub fn estimate_prompt_tokens(req: &Value, enc: Encoding, tok: &Tokenizer) -> u64 {
    let count = |s: &str| tok.count(enc, s);
    let mut total: u64 = items(req, "contents", "contents")
        .map(|content| content_tokens(content, &count))
        .sum();
    total += match field(req, "systemInstruction", "system_instruction") {
        Some(Value::String(s)) => count(s),
        Some(content) => content_tokens(content, &count),
        None => 0,
    };
    for tool in items(req, "tools", "tools") {
        for decl in items(tool, "functionDeclarations", "function_declarations") {
            total += count(&decl.to_string());
        }
    }
    total
}

/// Tokens of one `Content`'s parts.
fn content_tokens(content: &Value, count: &impl Fn(&str) -> u64) -> u64 {
    items(content, "parts", "parts")
        .map(|part| {
            let mut tokens = 0;
            for_each_part_text(part, |_, text| tokens += count(text));
            if is_image(part) {
                tokens += IMAGE_PART_TOKENS;
            }
            tokens
        })
        .sum()
}

fn is_image(part: &Value) -> bool {
    ["inlineData", "fileData", "inline_data", "file_data"]
        .iter()
        .filter_map(|k| part.get(*k))
        .filter_map(|data| field(data, "mimeType", "mime_type").and_then(Value::as_str))
        .any(|mime| mime.starts_with("image/"))
}

/// What a part's text is, for the output estimate: answers, thought summaries and structured
/// parts (function calls, code) are tokenized apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PartKind {
    Text,
    /// A part with `"thought": true`: a thought summary.
    Thought,
    /// A function call or response (as JSON), executable code or its result.
    Structured,
}

/// Calls `f` with the countable text of one `Part`.
pub(crate) fn for_each_part_text(part: &Value, mut f: impl FnMut(PartKind, &str)) {
    if let Some(text) = part.get("text").and_then(Value::as_str) {
        let thought = part.get("thought").and_then(Value::as_bool) == Some(true);
        f(
            if thought {
                PartKind::Thought
            } else {
                PartKind::Text
            },
            text,
        );
    }
    for (camel, snake) in [
        ("functionCall", "function_call"),
        ("functionResponse", "function_response"),
    ] {
        if let Some(call) = field(part, camel, snake) {
            f(PartKind::Structured, &call.to_string());
        }
    }
    let code = field(part, "executableCode", "executable_code").and_then(|c| c.get("code"));
    let result =
        field(part, "codeExecutionResult", "code_execution_result").and_then(|r| r.get("output"));
    for text in [code, result]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        f(PartKind::Structured, text);
    }
}

/// The candidates of a `GenerateContentResponse`: (index, candidate). `index` is omitted for the
/// first candidate (a zero in proto3 JSON).
pub(crate) fn candidates(resp: &Value) -> impl Iterator<Item = (u64, &Value)> {
    items(resp, "candidates", "candidates")
        .map(|c| (c.get("index").and_then(Value::as_u64).unwrap_or(0), c))
}

/// `modelVersion`, when present and not empty.
pub(crate) fn model_version(resp: &Value) -> Option<String> {
    field(resp, "modelVersion", "model_version")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
}

/// The response's `usageMetadata`, when it has one.
pub(crate) fn usage_metadata_of(resp: &Value) -> Option<&Value> {
    field(resp, "usageMetadata", "usage_metadata").filter(|u| !u.is_null())
}

/// Reads a `generateContent` response: the provider's usage when present and sane, else an
/// estimate (the request's prompt estimate, and the candidates' parts counted).
pub fn parse_response(body: &[u8], req: &RequestInfo, tok: &Tokenizer) -> ResponseInfo {
    let resp = match parse_object(body) {
        Ok(r) => Value::Object(r),
        Err(problem) => return estimate_only(req, 0, Some(problem)),
    };
    // A `usageMetadata` without any count is as good as none.
    let usage = usage_metadata_of(&resp).and_then(|u| provider_usage(u).transpose());
    let output = || {
        let mut output = 0;
        for (_, candidate) in candidates(&resp) {
            for part in candidate
                .get("content")
                .map(|c| items(c, "parts", "parts"))
                .into_iter()
                .flatten()
            {
                for_each_part_text(part, |_, text| output += tok.count(req.encoding, text));
            }
        }
        output
    };
    let reasons = candidates(&resp)
        .filter_map(|(_, c)| finish_reason(c).map(|r| finish_of(r, has_function_call(c))));
    let blocked = prompt_blocked(&resp).then_some(Finish::ContentFilter);
    let error = resp
        .get("error")
        .is_some_and(|e| !e.is_null())
        .then_some(Finish::Error);
    ResponseInfo {
        finish: Finish::worst(reasons.chain(blocked).chain(error)),
        ..usage_or_estimate(usage, model_version(&resp), None, req, output, None)
    }
}

/// A candidate's `finishReason`, when present and not empty.
pub(crate) fn finish_reason(candidate: &Value) -> Option<&str> {
    field(candidate, "finishReason", "finish_reason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
}

/// Whether a candidate's content holds a `functionCall` part.
pub(crate) fn has_function_call(candidate: &Value) -> bool {
    candidate
        .get("content")
        .map(|c| items(c, "parts", "parts"))
        .into_iter()
        .flatten()
        .any(|part| field(part, "functionCall", "function_call").is_some())
}

/// Whether the response says the prompt was blocked (`promptFeedback.blockReason`).
pub(crate) fn prompt_blocked(resp: &Value) -> bool {
    field(resp, "promptFeedback", "prompt_feedback")
        .and_then(|f| field(f, "blockReason", "block_reason"))
        .and_then(Value::as_str)
        .is_some_and(|r| !r.is_empty())
}

/// A `finishReason` (<https://ai.google.dev/api/generate-content#FinishReason>; Vertex AI:
/// <https://cloud.google.com/vertex-ai/docs/reference/rest/v1/GenerateContentResponse#FinishReason>).
/// `STOP` is a natural end, or a tool request when the candidate holds a function call
/// (`function_call`); `MAX_TOKENS` the output limit; the reasons that flag the content
/// (`SAFETY`, `RECITATION`, `LANGUAGE`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`,
/// `IMAGE_SAFETY`, `IMAGE_PROHIBITED_CONTENT`, `IMAGE_RECITATION`) a filter; anything else
/// (`OTHER`, `MALFORMED_FUNCTION_CALL`, `UNEXPECTED_TOOL_CALL`, `TOO_MANY_TOOL_CALLS`,
/// `NO_IMAGE`, `FINISH_REASON_UNSPECIFIED`…) [`Finish::Other`].
pub fn finish_of(reason: &str, function_call: bool) -> Finish {
    match reason {
        "STOP" if function_call => Finish::ToolCalls,
        "STOP" => Finish::Stop,
        "MAX_TOKENS" => Finish::Length,
        "SAFETY"
        | "RECITATION"
        | "LANGUAGE"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => Finish::ContentFilter,
        _ => Finish::Other,
    }
}

/// A `usageMetadata` object, validated and normalised (see the module documentation).
/// `Ok(None)` when it holds no count at all (Vertex AI streams send `{"trafficType": …}` alone
/// before the last chunk).
pub(crate) fn provider_usage(u: &Value) -> Result<Option<Usage>, String> {
    if !u.is_object() {
        return Err(format!("usageMetadata = {u} is not an object"));
    }
    let read = |camel: &str, snake: &str| read_count(field(u, camel, snake), camel);
    let prompt = read("promptTokenCount", "prompt_token_count")?;
    let candidates = read("candidatesTokenCount", "candidates_token_count")?;
    let cached = read("cachedContentTokenCount", "cached_content_token_count")?;
    let thoughts = read("thoughtsTokenCount", "thoughts_token_count")?;
    let tool_use = read("toolUsePromptTokenCount", "tool_use_prompt_token_count")?;
    let total = read("totalTokenCount", "total_token_count")?;
    if [prompt, candidates, cached, thoughts, tool_use, total]
        .iter()
        .all(Option::is_none)
    {
        return Ok(None);
    }
    let [prompt, candidates, cached, thoughts, tool_use] =
        [prompt, candidates, cached, thoughts, tool_use].map(|n| n.unwrap_or(0));
    if cached > prompt {
        return Err(format!(
            "inconsistent usageMetadata: cachedContentTokenCount {cached} > promptTokenCount {prompt}"
        ));
    }
    let input = prompt + tool_use;
    let thoughts_inside_candidates =
        thoughts > 0 && candidates >= thoughts && total == Some(input + candidates);
    let output = if thoughts_inside_candidates {
        candidates
    } else {
        candidates + thoughts
    };
    Ok(Some(Usage {
        input_tokens: input,
        output_tokens: output,
        cached_tokens: cached,
        reasoning_tokens: thoughts,
        source: UsageSource::Provider,
        ..Usage::default()
    }))
}

#[cfg(test)]
mod tests;
