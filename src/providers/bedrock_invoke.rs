//! Amazon Bedrock Runtime `InvokeModel` and `InvokeModelWithResponseStream` for Anthropic Claude
//! models (`POST /model/{modelId}/invoke`, `/invoke-with-response-stream`). Host-free; not wired
//! into the filter yet.
//!
//! - The bodies are Anthropic Messages bodies
//!   (<https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html>):
//!   the request has `anthropic_version` (`bedrock-2023-05-31`) and no `model`, which the path
//!   names; the response is a Messages response with its `usage`. Both are read by
//!   [`super::anthropic`].
//! - `InvokeModel` also reports the counts in the response headers
//!   `X-Amzn-Bedrock-Input-Token-Count` and `X-Amzn-Bedrock-Output-Token-Count`
//!   ([`usage_from_headers`]).
//! - `InvokeModelWithResponseStream`
//!   (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html>)
//!   answers with an AWS event stream of `chunk` events, each payload a `PayloadPart`
//!   `{"bytes":"<base64>"}` wrapping one Anthropic streaming event
//!   ([`crate::eventstream::decode_invoke_chunk`]). Bedrock adds an
//!   `amazon-bedrock-invocationMetrics` object (`inputTokenCount`, `outputTokenCount`,
//!   `invocationLatency`, `firstByteLatency`) to the last chunk, `message_stop`. Errors arrive as
//!   exception messages (`throttlingException`, `modelStreamErrorException`,
//!   `internalServerException`, …) whose payload has a `message`.
//! - The finish is the Anthropic body's `stop_reason` (streamed: `message_delta`'s), read by
//!   [`super::anthropic`]; an exception message ends the stream with
//!   [`super::Finish::Error`].

use super::anthropic::{request_info, AnthropicStreamMeter};
use super::openai::parse_object;
use super::{Endpoint, Invalid, Problem, RequestInfo, ResponseInfo};
use crate::config::Config;
use crate::eventstream::decode_invoke_chunk;
use crate::tokens::Tokenizer;
use crate::usage::{read_count, Usage, UsageSource, MAX_PLAUSIBLE_TOKENS};
use serde_json::{json, Map, Value};

/// Reads an `InvokeModel` request body. The model is the one the path names (a model ID such as
/// `anthropic.claude-3-5-sonnet-20240620-v1:0`, an inference profile or an ARN), else a `model`
/// in the body.
pub fn parse_request(
    body: &[u8],
    ep: &Endpoint,
    cfg: &Config,
    tok: &Tokenizer,
) -> Result<RequestInfo, Problem> {
    let req = parse_object(body)?;
    let model = ep
        .model
        .as_deref()
        .filter(|m| !m.is_empty())
        .or_else(|| req.get("model").and_then(Value::as_str))
        .filter(|m| !m.is_empty());
    request_info(&req, model, ep.stream, cfg, tok)
}

/// Reads an `InvokeModel` response body: an Anthropic Messages response.
pub fn parse_response(body: &[u8], req: &RequestInfo, tok: &Tokenizer) -> ResponseInfo {
    super::anthropic::parse_response(body, req, tok)
}

/// The usage in the `X-Amzn-Bedrock-Input-Token-Count` and `X-Amzn-Bedrock-Output-Token-Count`
/// response header values: `None` unless both are present and plain decimal numbers (ASCII
/// digits only, no sign or space) no larger than [`MAX_PLAUSIBLE_TOKENS`]. They carry no
/// cache-read or cache-write split.
pub fn usage_from_headers(input: Option<&[u8]>, output: Option<&[u8]>) -> Option<Usage> {
    Some(Usage {
        input_tokens: header_count(input?)?,
        output_tokens: header_count(output?)?,
        source: UsageSource::Provider,
        ..Usage::default()
    })
}

fn header_count(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(value).ok()?.parse().ok()?;
    (n <= MAX_PLAUSIBLE_TOKENS).then_some(n)
}

/// Meters one `InvokeModelWithResponseStream` response from its event stream messages: `event`
/// is the `:event-type` header (`chunk`) or, for an exception, the `:exception-type` header;
/// `data` is the payload. The unwrapped Anthropic events go to an [`AnthropicStreamMeter`],
/// whose result is taken when it is the provider's; otherwise the `invocationMetrics` counts,
/// when Bedrock sent usable ones.
#[derive(Debug, Default)]
pub struct BedrockInvokeStreamMeter {
    inner: AnthropicStreamMeter,
    /// `amazon-bedrock-invocationMetrics`, validated.
    metrics: Option<Result<Usage, String>>,
    /// The exception type and its message.
    exception: Option<(String, Option<String>)>,
    /// `chunk` payloads that did not unwrap to a JSON object.
    bad_chunks: u64,
}

impl BedrockInvokeStreamMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one event stream message.
    pub fn on_event(&mut self, event: &[u8], data: &[u8]) {
        if event == b"chunk" || event.is_empty() {
            self.on_chunk(data);
            return;
        }
        let name = String::from_utf8_lossy(event).into_owned();
        let message = serde_json::from_slice::<Value>(data)
            .ok()
            .and_then(|p| p.get("message").and_then(Value::as_str).map(str::to_string));
        self.inner
            .record_error(json!({ "type": name.as_str(), "message": message.as_deref() }));
        self.exception = Some((name, message));
    }

    fn on_chunk(&mut self, payload: &[u8]) {
        let event = decode_invoke_chunk(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        let Some(Value::Object(event)) = event else {
            self.bad_chunks += 1;
            return;
        };
        if let Some(m) = event.get("amazon-bedrock-invocationMetrics") {
            self.metrics = Some(metrics_usage(m));
        }
        self.inner.on_object(b"", &event);
    }

    /// The Anthropic events' meter.
    pub fn anthropic(&self) -> &AnthropicStreamMeter {
        &self.inner
    }

    /// The `:exception-type` of an exception message, and its payload's `message`.
    pub fn exception(&self) -> Option<(&str, Option<&str>)> {
        self.exception
            .as_ref()
            .map(|(t, m)| (t.as_str(), m.as_deref()))
    }

    /// The usage in `amazon-bedrock-invocationMetrics`, when it arrived and was usable.
    pub fn invocation_metrics(&self) -> Option<Usage> {
        self.metrics.as_ref().and_then(|m| m.as_ref().ok()).copied()
    }

    /// `chunk` payloads that were not `{"bytes": base64 of a JSON object}`.
    pub fn bad_chunks(&self) -> u64 {
        self.bad_chunks
    }

    /// The stream's usage: the Anthropic events' when they gave the provider's usage, else the
    /// invocation metrics, else the Anthropic meter's estimate. The finish is always the
    /// Anthropic meter's, which also saw the exceptions.
    pub fn finish(self, req: &RequestInfo, tok: &Tokenizer, completed: bool) -> ResponseInfo {
        let info = self.inner.finish(req, tok, completed);
        if info.usage.source == UsageSource::Provider {
            return info;
        }
        match self.metrics {
            Some(Ok(usage)) => ResponseInfo {
                usage,
                problem: None,
                ..info
            },
            Some(Err(detail)) if info.problem.is_none() => ResponseInfo {
                problem: Some((Invalid::BadUsage, detail)),
                ..info
            },
            _ => info,
        }
    }
}

/// `{"inputTokenCount": n, "outputTokenCount": n, …}`, both required.
fn metrics_usage(m: &Value) -> Result<Usage, String> {
    let Some(m) = m.as_object() else {
        return Err("amazon-bedrock-invocationMetrics is not an object".into());
    };
    let count =
        |m: &Map<String, Value>, k: &str| read_count(m.get(k), &format!("invocationMetrics.{k}"));
    match (count(m, "inputTokenCount")?, count(m, "outputTokenCount")?) {
        (Some(input), Some(output)) => Ok(Usage {
            input_tokens: input,
            output_tokens: output,
            source: UsageSource::Provider,
            ..Usage::default()
        }),
        _ => Err("invocationMetrics lacks inputTokenCount or outputTokenCount".into()),
    }
}

impl super::StreamMeter for BedrockInvokeStreamMeter {
    fn on_event(&mut self, event: &[u8], data: &[u8]) {
        BedrockInvokeStreamMeter::on_event(self, event, data);
    }

    fn finish(
        self: Box<Self>,
        req: &RequestInfo,
        tok: &Tokenizer,
        completed: bool,
    ) -> ResponseInfo {
        BedrockInvokeStreamMeter::finish(*self, req, tok, completed)
    }
}

#[cfg(test)]
mod tests;
