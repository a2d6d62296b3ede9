//! Metering of a `ConverseStream` response
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html>),
//! fed event by event from the AWS event stream decoder ([`crate::eventstream`]): `event` is the
//! message's name as [`crate::eventstream::event_name`] gives it and `data` its JSON payload.
//!
//! The `ConverseStreamOutput` union has six events: `messageStart`, `contentBlockStart`
//! (`start.toolUse.name`), `contentBlockDelta` (`delta.text`, `delta.toolUse.input`,
//! `delta.reasoningContent.text`), `contentBlockStop`, `messageStop` (`stopReason`) and
//! `metadata`, whose `usage` is a `TokenUsage`, read as for Converse
//! ([`super::provider_usage`]), and which echoes `performanceConfig` and `serviceTier`. Its other
//! members are exceptions (`internalServerException`, `modelStreamErrorException`,
//! `throttlingException`, `validationException`, `serviceUnavailableException`), sent as
//! `exception` messages named by `:exception-type` with a JSON `message`; an unmodeled `error`
//! message arrives under its `:error-code`. Any name other than the six events is therefore
//! recorded as the stream's error.
//!
//! Without a usable `metadata` usage (a stream cut by an exception, a reset or a client that
//! disconnected) the meter estimates: the request's prompt estimate as input, and the deltas
//! received, joined per content block and part and counted once, as output. Delta text is kept
//! up to a cap; past it only its length is measured and its tokens extrapolated.

use super::{finish_of, provider_usage, service_tier};
use crate::providers::openai::usage_or_estimate;
use crate::providers::stream_text::DeltaTexts;
pub use crate::providers::stream_text::DEFAULT_MAX_TEXT_BYTES;
use crate::providers::{Finish, Invalid, RequestInfo, ResponseInfo};
use crate::tokens::{Encoding, Tokenizer};
use crate::usage::Usage;
use serde_json::Value;

/// The `ConverseStreamOutput` members that are events; the others are exceptions.
const EVENTS: [&str; 6] = [
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
];

/// One streamed text of a content block, tokenized separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Text,
    ToolName,
    ToolInput,
    Reasoning,
}

/// An exception or error that ended the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// The `:exception-type` (e.g. `modelStreamErrorException`) or `:error-code`.
    pub kind: String,
    /// The payload's `message`, when it has one.
    pub message: Option<String>,
}

/// Meters one `ConverseStream` response.
#[derive(Debug)]
pub struct ConverseStreamMeter {
    /// Delta text by (content block index, part), joined in arrival order.
    texts: DeltaTexts<(u64, Part)>,
    /// The latest `metadata` usage, validated.
    usage: Option<Result<Usage, String>>,
    service_tier: Option<String>,
    stop_reason: Option<String>,
    error: Option<StreamError>,
    events: u64,
    ignored: u64,
}

impl Default for ConverseStreamMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl ConverseStreamMeter {
    /// A meter keeping at most [`DEFAULT_MAX_TEXT_BYTES`] of delta text.
    pub fn new() -> Self {
        Self::with_max_text_bytes(DEFAULT_MAX_TEXT_BYTES)
    }

    /// A meter keeping at most `max_text_bytes` bytes of delta text.
    pub fn with_max_text_bytes(max_text_bytes: usize) -> Self {
        Self {
            texts: DeltaTexts::new(max_text_bytes),
            usage: None,
            service_tier: None,
            stop_reason: None,
            error: None,
            events: 0,
            ignored: 0,
        }
    }

    /// Takes one event stream message: its name and its payload.
    pub fn on_event(&mut self, event: &[u8], data: &[u8]) {
        let name = std::str::from_utf8(event).unwrap_or("");
        let payload = serde_json::from_slice::<Value>(data)
            .ok()
            .filter(Value::is_object);
        if name.is_empty() {
            self.ignored += 1;
        } else if EVENTS.contains(&name) {
            match payload {
                Some(p) => {
                    self.events += 1;
                    self.on_known(name, &p);
                }
                None => self.ignored += 1,
            }
        } else {
            let message = payload
                .as_ref()
                .and_then(|p| p.get("message").or_else(|| p.get("Message")))
                .and_then(Value::as_str)
                .map(str::to_string);
            self.error = Some(StreamError {
                kind: name.to_string(),
                message,
            });
        }
    }

    fn on_known(&mut self, name: &str, p: &Value) {
        let index = p
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let text = |ptr: &str| p.pointer(ptr).and_then(Value::as_str);
        match name {
            "contentBlockStart" => {
                if let Some(s) = text("/start/toolUse/name") {
                    self.keep(index, Part::ToolName, s);
                }
            }
            "contentBlockDelta" => {
                for (ptr, part) in [
                    ("/delta/text", Part::Text),
                    ("/delta/toolUse/input", Part::ToolInput),
                    ("/delta/reasoningContent/text", Part::Reasoning),
                ] {
                    if let Some(s) = text(ptr) {
                        self.keep(index, part, s);
                    }
                }
            }
            "messageStop" => {
                self.stop_reason = text("/stopReason").map(str::to_string);
            }
            "metadata" => {
                if let Some(u) = p.get("usage").filter(|u| !u.is_null()) {
                    self.usage = Some(provider_usage(u));
                }
                if let Some(tier) = p.as_object().and_then(service_tier) {
                    self.service_tier = Some(tier);
                }
            }
            _ => {}
        }
    }

    /// Keeps a delta's text, or once the cap is reached, only its length.
    fn keep(&mut self, index: u64, part: Part, s: &str) {
        self.texts.keep((index, part), s);
    }

    /// The exception or error that ended the stream, if one did.
    pub fn error(&self) -> Option<&StreamError> {
        self.error.as_ref()
    }

    /// `messageStop`'s `stopReason` (`end_turn`, `tool_use`, `max_tokens`…).
    pub fn stop_reason(&self) -> Option<&str> {
        self.stop_reason.as_deref()
    }

    /// Whether a usable `metadata` usage was seen.
    pub fn has_provider_usage(&self) -> bool {
        matches!(self.usage, Some(Ok(_)))
    }

    /// Events of the six `ConverseStreamOutput` kinds taken.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Messages without a name, or known events whose payload is not a JSON object.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Tokens of the streamed deltas: each (block, part) text counted whole, plus the bytes past
    /// the cap at the kept text's tokens-per-byte rate (one token per four bytes if nothing was
    /// kept).
    pub fn output_tokens(&self, enc: Encoding, tok: &Tokenizer) -> u64 {
        self.texts.tokens(enc, tok)
    }

    /// The stream's usage: the `metadata` event's when usable, else an estimate. `problem` is
    /// set for a malformed usage (`bad_usage`), and for a stream that completed without one and
    /// without an exception to explain it (Bedrock ends every successful stream with
    /// `metadata`); a cut stream is expected to lack it.
    ///
    /// The finish is `messageStop`'s `stopReason` ([`super::finish_of`]), or [`Finish::Error`]
    /// after an exception, even one that follows the stop; `None` for a stream cut before
    /// either.
    pub fn finish(self, req: &RequestInfo, tok: &Tokenizer, completed: bool) -> ResponseInfo {
        let reason = self
            .stop_reason
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(finish_of);
        let error = self.error.is_some().then_some(Finish::Error);
        let finish = Finish::worst(reason.into_iter().chain(error));
        let missing = (completed && self.error.is_none()).then(|| {
            (
                Invalid::BadUsage,
                "stream completed without a metadata event carrying usage".into(),
            )
        });
        let output = || self.texts.tokens(req.encoding, tok);
        ResponseInfo {
            // The tier the `metadata` event named, with the provider's usage or an estimate.
            service_tier: self.service_tier,
            finish,
            ..usage_or_estimate(self.usage, None, None, req, output, missing)
        }
    }
}

impl crate::providers::StreamMeter for ConverseStreamMeter {
    fn on_event(&mut self, event: &[u8], data: &[u8]) {
        ConverseStreamMeter::on_event(self, event, data);
    }

    fn finish(
        self: Box<Self>,
        req: &RequestInfo,
        tok: &Tokenizer,
        completed: bool,
    ) -> ResponseInfo {
        ConverseStreamMeter::finish(*self, req, tok, completed)
    }
}

#[cfg(test)]
mod tests;
