//! OpenAI Embeddings (`POST /v1/embeddings`), as documented in the API reference
//! (<https://platform.openai.com/docs/api-reference/embeddings/create>); also Azure's
//! `/openai/deployments/{deployment}/embeddings`.
//!
//! `input` is a string, an array of strings, an array of tokens or an array of token arrays;
//! strings are counted with the model's encoding (cl100k_base for `text-embedding-3-*` and
//! `text-embedding-ada-002`), token arrays by their length, with no overhead: the documented
//! example bills `"The food was delicious and the waiter..."` as 8 prompt tokens, exactly its
//! cl100k tokens. Embeddings generate no output tokens.
//!
//! The response's `usage` is `{prompt_tokens, total_tokens}`, with no `completion_tokens`:
//! input is `prompt_tokens`, output 0.

use super::openai::{estimate_only, parse_object, request_model, string_field, usage_or_estimate};
use super::openai_completions::texts_or_tokens;
use super::{Api, Endpoint, Problem, RequestInfo, ResponseInfo};
use crate::config::Config;
use crate::tokens::{encoding_for_model, Tokenizer};
use crate::usage::{read_count, Usage, UsageSource};
use serde_json::Value;

/// The endpoint of a plain Embeddings route.
pub const EMBEDDINGS: Endpoint = Endpoint {
    api: Api::OpenAiEmbeddings,
    model: None,
    stream: false,
};

/// Reads an Embeddings request and counts its input tokens. The model is the body's `model`,
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
    let (_, input_tokens) = req
        .get("input")
        .map_or((0, 0), |input| texts_or_tokens(input, &count));
    Ok(RequestInfo {
        stream: false,
        max_output_tokens: None,
        choices: 1,
        user: string_field(&req, "user"),
        estimated_input_tokens: input_tokens,
        encoding,
        model,
        service_tier: None,
    })
}

/// Reads an Embeddings response: `usage.prompt_tokens` when present and sane, else the request's
/// estimate. The output is always 0.
pub fn parse_response(body: &[u8], req: &RequestInfo, _tok: &Tokenizer) -> ResponseInfo {
    let resp = match parse_object(body) {
        Ok(r) => r,
        Err(problem) => return estimate_only(req, 0, Some(problem)),
    };
    let model = string_field(&resp, "model").filter(|m| !m.is_empty());
    let usage = resp
        .get("usage")
        .filter(|u| !u.is_null())
        .map(embeddings_usage);
    usage_or_estimate(usage, model, None, req, || 0, None)
}

/// `usage.prompt_tokens`, validated; `total_tokens`, when present, must be a count too and not
/// below it.
fn embeddings_usage(u: &Value) -> Result<Usage, String> {
    let prompt = read_count(u.get("prompt_tokens"), "usage.prompt_tokens")?
        .ok_or("usage lacks prompt_tokens")?;
    if let Some(total) = read_count(u.get("total_tokens"), "usage.total_tokens")? {
        if total < prompt {
            return Err(format!(
                "inconsistent usage: total_tokens {total} < prompt_tokens {prompt}"
            ));
        }
    }
    Ok(Usage {
        input_tokens: prompt,
        output_tokens: 0,
        source: UsageSource::Provider,
        ..Usage::default()
    })
}

#[cfg(test)]
mod tests;
