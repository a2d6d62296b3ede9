//! OpenAI legacy Completions (`POST /v1/completions`), as documented in the API reference
//! (<https://platform.openai.com/docs/api-reference/completions/create>); also Azure's
//! `/openai/deployments/{deployment}/completions`.
//!
//! **Prompt estimate.** `prompt` may be a string, an array of strings, an array of tokens or an
//! array of token arrays. Strings are counted with the model's encoding, token arrays by their
//! length; each prompt of an array is counted once (the API bills every prompt's tokens once,
//! however many completions it generates for it). `suffix`, the text after the insertion point,
//! is part of the prompt. No per-prompt overhead is added: the documented example bills
//! `"Say this is a test"` as 5 prompt tokens, exactly its cl100k tokens. A request without
//! `prompt` gets the documented default, `<|endoftext|>`: 1 token.
//!
//! **Choices.** The API generates `n` completions per prompt, or `best_of` of them when
//! `best_of` is set (the server keeps the best `n`, but every one generated is billed: "Because
//! this parameter generates many completions, it can quickly consume your token quota").
//! [`RequestInfo::choices`] is therefore `max(n, best_of)` times the number of prompts: the
//! completions generated and billed, not the ones returned.
//!
//! **Response.** `usage` is Chat Completions' (`prompt_tokens`, `completion_tokens`, optional
//! details); it already covers the `best_of` candidates the response does not show. Without a
//! usable `usage` the output is estimated from the returned `choices[].text`, which misses
//! discarded `best_of` candidates and, with `echo`, also counts the echoed prompt.
//!
//! **Streaming** has the chat stream's shape and is metered by
//! [`super::openai_stream::StreamMeter`]; [`super::openai_stream::prepare_stream_request`] turns
//! on `stream_options.include_usage` for it as for chat.

use super::openai::{
    choices_finish, parse_object, parse_response_with, provider_usage, request_model, string_field,
};
use super::{Api, Endpoint, Problem, RequestInfo, ResponseInfo};
use crate::config::Config;
use crate::tokens::{encoding_for_model, Encoding, Tokenizer};
use serde_json::{Map, Value};

/// The endpoint of a plain Completions route.
pub const COMPLETIONS: Endpoint = Endpoint {
    api: Api::OpenAiCompletions,
    model: None,
    stream: false,
};

/// Tokens of the default prompt, `<|endoftext|>`, one special token.
const DEFAULT_PROMPT_TOKENS: u64 = 1;

/// Reads a Completions request and estimates its prompt tokens. The model is the body's `model`,
/// else the one the path names (an Azure deployment).
pub fn parse_request(
    body: &[u8],
    ep: &Endpoint,
    cfg: &Config,
    tok: &Tokenizer,
) -> Result<RequestInfo, Problem> {
    let req = parse_object(body)?;
    let model = request_model(&req, ep)?;
    let encoding = encoding_for_model(&model, &cfg.encoding_overrides, cfg.default_encoding);
    let count = |s: &str| tok.count(encoding, s);
    let (prompts, prompt_tokens) = prompt_tokens(req.get("prompt"), &count);
    let suffix = req.get("suffix").and_then(Value::as_str).map_or(0, count);
    let per_prompt = ["n", "best_of"]
        .iter()
        .filter_map(|k| req.get(*k).and_then(Value::as_u64))
        .max()
        .unwrap_or(1)
        .max(1);
    Ok(RequestInfo {
        stream: req.get("stream").and_then(Value::as_bool).unwrap_or(false),
        max_output_tokens: req.get("max_tokens").and_then(Value::as_u64),
        choices: per_prompt.saturating_mul(prompts.max(1)),
        user: string_field(&req, "user"),
        estimated_input_tokens: prompt_tokens.saturating_add(suffix),
        encoding,
        model,
        service_tier: string_field(&req, "service_tier"),
    })
}

/// The number of prompts and their tokens; no prompt is the default prompt.
fn prompt_tokens(prompt: Option<&Value>, count: &impl Fn(&str) -> u64) -> (u64, u64) {
    match prompt {
        None | Some(Value::Null) => (1, DEFAULT_PROMPT_TOKENS),
        Some(v) => texts_or_tokens(v, count),
    }
}

/// The number of inputs in a `prompt` or `input` that is a string, an array of strings, an array
/// of tokens or an array of token arrays, and their tokens. A string is one input; an array of
/// integers is one input of that many tokens; any other array is one input per element (a
/// string, or a token array). Values of other types count nothing (the API rejects them).
pub(crate) fn texts_or_tokens(value: &Value, count: &impl Fn(&str) -> u64) -> (u64, u64) {
    let one = |v: &Value| match v {
        Value::String(s) => count(s),
        Value::Array(tokens) => tokens.len() as u64,
        _ => 0,
    };
    match value {
        Value::Array(items) if items.iter().any(|v| !v.is_number()) => {
            (items.len() as u64, items.iter().map(one).sum())
        }
        v => (1, one(v)),
    }
}

/// Reads a Completions response: the provider's usage when present and sane, else an estimate
/// (the request's prompt estimate, and the returned `choices[].text` counted). The finish is the
/// least successful `choices[].finish_reason`, read as for chat.
pub fn parse_response(body: &[u8], req: &RequestInfo, tok: &Tokenizer) -> ResponseInfo {
    if let Some(info) = super::openai::fast::with_usage(body) {
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

/// Tokens of the returned choices' text, each choice counted on its own.
fn output_tokens(resp: &Map<String, Value>, enc: Encoding, tok: &Tokenizer) -> u64 {
    resp.get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("text").and_then(Value::as_str))
        .map(|t| tok.count(enc, t))
        .sum()
}

#[cfg(test)]
mod tests;
