//! Anthropic Messages streamed with `"stream": true`: server-sent events, as documented in
//! <https://docs.anthropic.com/en/docs/build-with-claude/streaming>. Every event is named
//! (`event: message_start`) and its data, a JSON object, repeats the name in `type`:
//!
//! - `message_start`: `message` with its `model` and its `usage` so far: the input counts
//!   (`input_tokens`, `cache_creation_input_tokens`, `cache_read_input_tokens`, `cache_creation`)
//!   and an initial `output_tokens`;
//! - `content_block_start` / `content_block_delta` / `content_block_stop`: each content block,
//!   its deltas being `text_delta` (`text`), `input_json_delta` (`partial_json`, a `tool_use`
//!   input), `thinking_delta` (`thinking`), `signature_delta`, `citations_delta`;
//! - `message_delta`: `delta.stop_reason` and `usage`, whose counts are **cumulative**. It
//!   always has `output_tokens` and may repeat the input and cache counts;
//! - `message_stop`, `ping` (anywhere), and `error` (e.g. `overloaded_error`), which may arrive
//!   mid-stream and ends it.
//!
//! **Metering.** The meter keeps `message_start`'s `usage` and lays every `message_delta` usage
//! field over it, so each count is the latest one reported. The result:
//!
//! - a `message_delta` usage arrived: the provider's usage, even if the stream later broke off
//!   or reported an `error`;
//! - only `message_start` arrived (a stream cut, or ended by an `error` event, before any
//!   `message_delta`): its input counts, and as output the larger of its `output_tokens` and the
//!   streamed deltas counted with the tokenizer, with source `estimate` since the output is
//!   partly counted by the filter;
//! - neither (or unusable counts, a `bad_usage` problem): the request's prompt estimate and the
//!   counted deltas.
//!
//! A stream that ended normally (`completed`) without `message_delta` usage and without an
//! `error` event is also flagged `bad_usage`; a cut stream missing it is expected.
//!
//! The finish is `message_delta`'s `stop_reason` ([`super::finish_of`]), or [`Finish::Error`]
//! after an `error` event (or a Bedrock exception), even one that follows the reason; `None`
//! for a stream cut before either.
//!
//! Delta text is kept per content block (and a `tool_use` block's name apart from its input) and
//! tokenized whole at the end, at most [`DEFAULT_MAX_TEXT_BYTES`] of it; bytes past the cap are
//! extrapolated at the kept text's rate.

use super::{finish_of, provider_usage, service_tier};
use crate::providers::openai::estimate_only;
use crate::providers::stream_text::{DeltaTexts, DEFAULT_MAX_TEXT_BYTES};
use crate::providers::{object_or_ignored, Finish, Invalid, RequestInfo, ResponseInfo};
use crate::tokens::{Encoding, Tokenizer};
use crate::usage::UsageSource;
use serde_json::{Map, Value};

/// Which text of a content block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    /// A `tool_use` block's `name`.
    Name,
    /// The block's text, thinking, or partial input JSON.
    Body,
}

/// Meters one streamed Messages response from its SSE events.
#[derive(Debug)]
pub struct AnthropicStreamMeter {
    model: Option<String>,
    /// `message_start`'s `message.usage`, with the fields of later `message_delta` usages laid
    /// over it.
    usage: Option<Map<String, Value>>,
    saw_delta_usage: bool,
    /// Delta text by (content block index, part), joined in arrival order.
    texts: DeltaTexts<(u64, Part)>,
    stop_reason: Option<String>,
    error: Option<Value>,
    stopped: bool,
    events: u64,
    ignored: u64,
}

impl Default for AnthropicStreamMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl AnthropicStreamMeter {
    /// A meter keeping at most [`DEFAULT_MAX_TEXT_BYTES`] of delta text.
    pub fn new() -> Self {
        Self::with_max_text_bytes(DEFAULT_MAX_TEXT_BYTES)
    }

    /// A meter keeping at most `max_text_bytes` bytes of delta text.
    pub fn with_max_text_bytes(max_text_bytes: usize) -> Self {
        Self {
            model: None,
            usage: None,
            saw_delta_usage: false,
            texts: DeltaTexts::new(max_text_bytes),
            stop_reason: None,
            error: None,
            stopped: false,
            events: 0,
            ignored: 0,
        }
    }

    /// Takes one SSE event: `event` is its `event` field, `data` its data. Data that is not a JSON
    /// object is counted in [`AnthropicStreamMeter::ignored`].
    pub fn on_event(&mut self, event: &[u8], data: &[u8]) {
        if let Some(obj) = object_or_ignored(data, &mut self.ignored) {
            self.on_object(event, &obj);
        }
    }

    /// Takes one event already parsed. Its type is the data's `type`, else `event`.
    pub(crate) fn on_object(&mut self, event: &[u8], obj: &Map<String, Value>) {
        self.events += 1;
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .map_or(event, str::as_bytes);
        let index = || obj.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            b"message_start" => {
                let msg = obj.get("message");
                if let Some(m) = msg.and_then(|m| m.get("model")).and_then(Value::as_str) {
                    if !m.is_empty() {
                        self.model = Some(m.to_string());
                    }
                }
                if let Some(u) = msg.and_then(|m| m.get("usage")).and_then(Value::as_object) {
                    self.usage = Some(u.clone());
                }
            }
            b"content_block_start" => {
                let block = obj.get("content_block");
                let text = |k: &str| block.and_then(|b| b.get(k)).and_then(Value::as_str);
                if let Some(name) = text("name") {
                    self.keep(index(), Part::Name, name);
                }
                for k in ["text", "thinking"] {
                    if let Some(s) = text(k) {
                        self.keep(index(), Part::Body, s);
                    }
                }
            }
            b"content_block_delta" => {
                let delta = obj.get("delta");
                let text = |k: &str| delta.and_then(|d| d.get(k)).and_then(Value::as_str);
                let kind = delta.and_then(|d| d.get("type")).and_then(Value::as_str);
                let s = match kind {
                    Some("text_delta") => text("text"),
                    Some("input_json_delta") => text("partial_json"),
                    Some("thinking_delta") => text("thinking"),
                    _ => None,
                };
                if let Some(s) = s {
                    self.keep(index(), Part::Body, s);
                }
            }
            b"message_delta" => {
                if let Some(r) = obj
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.stop_reason = Some(r.to_string());
                }
                if let Some(u) = obj.get("usage").and_then(Value::as_object) {
                    let merged = self.usage.get_or_insert_with(Map::new);
                    for (k, v) in u.iter().filter(|(_, v)| !v.is_null()) {
                        merged.insert(k.clone(), v.clone());
                    }
                    self.saw_delta_usage = true;
                }
            }
            b"message_stop" => self.stopped = true,
            b"error" => {
                self.error = Some(obj.get("error").cloned().unwrap_or(Value::Null));
            }
            // `ping`, `content_block_stop`, and event types added later, which the
            // documentation asks clients to tolerate.
            _ => {}
        }
    }

    /// Records an error that ended the stream outside the Anthropic events (a Bedrock
    /// exception).
    pub(crate) fn record_error(&mut self, error: Value) {
        self.error = Some(error);
    }

    fn keep(&mut self, index: u64, part: Part, s: &str) {
        self.texts.keep((index, part), s);
    }

    /// The model `message_start` named.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// `message_delta`'s `stop_reason` (`end_turn`, `max_tokens`, `tool_use`, …).
    pub fn stop_reason(&self) -> Option<&str> {
        self.stop_reason.as_deref()
    }

    /// The `error` of an `error` event (e.g. `{"type":"overloaded_error","message":…}`).
    pub fn error(&self) -> Option<&Value> {
        self.error.as_ref()
    }

    /// The error's `type`, when there was an error with one.
    pub fn error_type(&self) -> Option<&str> {
        self.error
            .as_ref()
            .and_then(|e| e.get("type"))
            .and_then(Value::as_str)
    }

    /// Whether `message_stop` was seen.
    pub fn saw_message_stop(&self) -> bool {
        self.stopped
    }

    /// Whether usable usage arrived in a `message_delta` (with `message_start`'s input counts).
    pub fn has_provider_usage(&self) -> bool {
        self.saw_delta_usage && self.usage.as_ref().is_some_and(valid)
    }

    /// JSON object events taken.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Events whose data was not a JSON object.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Tokens of the streamed content: each block's text counted whole, plus the bytes past the
    /// cap at the kept text's tokens-per-byte rate (one token per four bytes if nothing was kept).
    pub fn output_tokens(&self, enc: Encoding, tok: &Tokenizer) -> u64 {
        self.texts.tokens(enc, tok)
    }

    /// The stream's usage, as the module documentation describes.
    pub fn finish(self, req: &RequestInfo, tok: &Tokenizer, completed: bool) -> ResponseInfo {
        let reason = self
            .stop_reason
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(finish_of);
        let error = self.error.is_some().then_some(Finish::Error);
        let finish = Finish::worst(reason.into_iter().chain(error));
        let counted = self.output_tokens(req.encoding, tok);
        let usage_json = self.usage.map(Value::Object);
        let tier = service_tier(usage_json.as_ref());
        let unexplained_end = completed && self.error.is_none();
        let parsed = usage_json.as_ref().map(provider_usage);
        let (usage, problem) = match parsed {
            Some(Ok(usage)) if self.saw_delta_usage => {
                return ResponseInfo {
                    usage,
                    model: self.model,
                    problem: None,
                    service_tier: tier,
                    finish,
                }
            }
            Some(Ok(mut usage)) => {
                usage.output_tokens = usage.output_tokens.max(counted);
                usage.source = UsageSource::Estimate;
                let problem = unexplained_end.then(|| {
                    (
                        Invalid::BadUsage,
                        "stream ended without a message_delta usage".to_string(),
                    )
                });
                (usage, problem)
            }
            Some(Err(detail)) => {
                let fallback = estimate_only(req, counted, None).usage;
                (fallback, Some((Invalid::BadUsage, detail)))
            }
            None => {
                let problem = unexplained_end.then(|| {
                    (
                        Invalid::BadUsage,
                        "stream ended without message_start usage".to_string(),
                    )
                });
                (estimate_only(req, counted, None).usage, problem)
            }
        };
        ResponseInfo {
            usage,
            model: self.model,
            problem,
            service_tier: tier,
            finish,
        }
    }
}

fn valid(u: &Map<String, Value>) -> bool {
    provider_usage(&Value::Object(u.clone())).is_ok()
}

impl crate::providers::StreamMeter for AnthropicStreamMeter {
    fn on_event(&mut self, event: &[u8], data: &[u8]) {
        AnthropicStreamMeter::on_event(self, event, data);
    }

    fn finish(
        self: Box<Self>,
        req: &RequestInfo,
        tok: &Tokenizer,
        completed: bool,
    ) -> ResponseInfo {
        AnthropicStreamMeter::finish(*self, req, tok, completed)
    }
}

#[cfg(test)]
mod tests;
