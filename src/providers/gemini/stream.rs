//! Metering a streamed `streamGenerateContent` response. Each event is one
//! `GenerateContentResponse`: the data of an SSE event with `?alt=sse`, or one element of the
//! JSON array the method returns without it (split by [`crate::json_stream`]).
//!
//! `usageMetadata` in a stream is cumulative: the Gemini API sends the prompt count early and
//! the candidates count with the last chunk; Vertex AI sends `{"trafficType": …}` alone until the
//! last chunk. The meter keeps the latest one that holds a count (a later malformed one
//! replaces it, as in the OpenAI meter). The candidates' streamed parts are kept as text, per
//! candidate and [`PartKind`], for an estimate when the stream is cut; past
//! [`DEFAULT_MAX_TEXT_BYTES`] only their length is kept and their tokens extrapolated. An
//! `error` object in the stream is recorded.
//!
//! The finish is the least successful of the candidates' `finishReason`s seen (a candidate
//! that streamed a `functionCall` and stopped asked for tools), a blocked prompt, or
//! [`Finish::Error`] after an `error` object; `None` for a stream cut before any of them.

use super::{candidates, for_each_part_text, model_version, provider_usage, usage_metadata_of};
use super::{finish_of, finish_reason, has_function_call, items, prompt_blocked, PartKind};
use crate::providers::object_or_ignored;
use crate::providers::openai::usage_or_estimate;
use crate::providers::stream_text::DeltaTexts;
pub use crate::providers::stream_text::DEFAULT_MAX_TEXT_BYTES;
use crate::providers::{Finish, Invalid, RequestInfo, ResponseInfo};
use crate::tokens::{Encoding, Tokenizer};
use crate::usage::{Usage, UsageSource};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Meters one streamed `streamGenerateContent` response.
#[derive(Debug)]
pub struct GeminiStreamMeter {
    model: Option<String>,
    /// Streamed text by (candidate index, kind), joined in arrival order.
    texts: DeltaTexts<(u64, PartKind)>,
    finish_reasons: BTreeMap<u64, String>,
    /// Candidates that streamed a `functionCall` part.
    function_calls: BTreeSet<u64>,
    /// A chunk said the prompt was blocked (`promptFeedback.blockReason`).
    blocked: bool,
    /// The latest `usageMetadata` holding a count, validated.
    usage: Option<Result<Usage, String>>,
    error: Option<Value>,
    chunks: u64,
    ignored: u64,
}

impl Default for GeminiStreamMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl GeminiStreamMeter {
    /// A meter keeping at most [`DEFAULT_MAX_TEXT_BYTES`] of streamed text.
    pub fn new() -> Self {
        Self::with_max_text_bytes(DEFAULT_MAX_TEXT_BYTES)
    }

    /// As [`GeminiStreamMeter::new`], keeping at most `max_text_bytes` bytes of text.
    pub fn with_max_text_bytes(max_text_bytes: usize) -> Self {
        Self {
            model: None,
            texts: DeltaTexts::new(max_text_bytes),
            finish_reasons: BTreeMap::new(),
            function_calls: BTreeSet::new(),
            blocked: false,
            usage: None,
            error: None,
            chunks: 0,
            ignored: 0,
        }
    }

    /// Takes one streamed `GenerateContentResponse`. Data that is not a JSON object is counted
    /// in [`GeminiStreamMeter::ignored`] and otherwise ignored.
    pub fn on_chunk(&mut self, data: &[u8]) {
        let Some(chunk) = object_or_ignored(data, &mut self.ignored) else {
            return;
        };
        let chunk = Value::Object(chunk);
        self.chunks += 1;
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            self.error = Some(err.clone());
        }
        if let Some(model) = model_version(&chunk) {
            self.model = Some(model);
        }
        match usage_metadata_of(&chunk).map(provider_usage) {
            Some(Ok(Some(usage))) => self.usage = Some(Ok(usage)),
            Some(Err(detail)) => self.usage = Some(Err(detail)),
            None | Some(Ok(None)) => {}
        }
        self.blocked |= prompt_blocked(&chunk);
        for (index, candidate) in candidates(&chunk) {
            if let Some(reason) = finish_reason(candidate) {
                self.finish_reasons.insert(index, reason.to_string());
            }
            if has_function_call(candidate) {
                self.function_calls.insert(index);
            }
            let parts = candidate.get("content").map(|c| items(c, "parts", "parts"));
            for part in parts.into_iter().flatten() {
                for_each_part_text(part, |kind, text| self.keep(index, kind, text));
            }
        }
    }

    /// Keeps a part's text, or once the cap is reached, only its length.
    fn keep(&mut self, candidate: u64, kind: PartKind, s: &str) {
        if kind == PartKind::Structured {
            // Calls and code arrive whole, one per part: keep them apart.
            self.texts.keep_apart((candidate, kind), s);
        } else {
            self.texts.keep((candidate, kind), s);
        }
    }

    /// The latest `modelVersion` seen.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// Each candidate's `finishReason` (`STOP`, `MAX_TOKENS`, `SAFETY`, …), by candidate index.
    pub fn finish_reasons(&self) -> &BTreeMap<u64, String> {
        &self.finish_reasons
    }

    /// The latest `error` object sent inside the stream.
    pub fn error(&self) -> Option<&Value> {
        self.error.as_ref()
    }

    /// The error's `message`, when there was an error with one.
    pub fn error_message(&self) -> Option<&str> {
        self.error
            .as_ref()
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
    }

    /// Whether a usable `usageMetadata` was the latest one seen.
    pub fn has_provider_usage(&self) -> bool {
        matches!(self.usage, Some(Ok(_)))
    }

    /// JSON object chunks taken.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Events whose data was not a JSON object.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Tokens of the streamed parts: each (candidate, kind) text counted whole, plus the bytes
    /// past the cap at the kept text's tokens-per-byte rate (one token per four bytes if nothing
    /// was kept).
    pub fn output_tokens(&self, enc: Encoding, tok: &Tokenizer) -> u64 {
        self.texts.tokens(enc, tok)
    }

    /// The stream's usage.
    ///
    /// - A usable `usageMetadata` was the latest: the provider's usage. Except for a stream cut
    ///   (`completed` false, or an `error` inside it) whose latest counts have no output yet
    ///   although text arrived (the Gemini API's early chunks carry `promptTokenCount` only):
    ///   then the provider's input and cached counts with the streamed text counted as output,
    ///   source `estimate`.
    /// - A malformed one was the latest: an estimate, problem `bad_usage`.
    /// - None: an estimate (request's prompt estimate, streamed text counted); problem
    ///   `bad_usage` when the stream completed without one and no `error` explains it.
    pub fn finish(self, req: &RequestInfo, tok: &Tokenizer, completed: bool) -> ResponseInfo {
        let finish = self.seen_finish();
        let ended_normally = completed && self.error.is_none();
        if let Some(Ok(usage)) = &self.usage {
            if !ended_normally && usage.output_tokens == 0 && !self.texts.nothing_kept() {
                return ResponseInfo {
                    usage: Usage {
                        output_tokens: self.output_tokens(req.encoding, tok),
                        reasoning_tokens: 0,
                        source: UsageSource::Estimate,
                        ..*usage
                    },
                    model: self.model,
                    problem: None,
                    service_tier: None,
                    finish,
                };
            }
        }
        let missing = ended_normally.then(|| {
            (
                Invalid::BadUsage,
                "stream completed without usageMetadata".into(),
            )
        });
        let output = || self.texts.tokens(req.encoding, tok);
        ResponseInfo {
            finish,
            ..usage_or_estimate(self.usage, self.model, None, req, output, missing)
        }
    }

    /// How the stream ended so far (see the module documentation).
    fn seen_finish(&self) -> Option<Finish> {
        let reasons = self
            .finish_reasons
            .iter()
            .map(|(i, r)| finish_of(r, self.function_calls.contains(i)));
        let blocked = self.blocked.then_some(Finish::ContentFilter);
        let error = self.error.is_some().then_some(Finish::Error);
        Finish::worst(reasons.chain(blocked).chain(error))
    }
}

impl crate::providers::StreamMeter for GeminiStreamMeter {
    fn on_event(&mut self, _event: &[u8], data: &[u8]) {
        self.on_chunk(data);
    }

    fn finish(
        self: Box<Self>,
        req: &RequestInfo,
        tok: &Tokenizer,
        completed: bool,
    ) -> ResponseInfo {
        GeminiStreamMeter::finish(*self, req, tok, completed)
    }
}

#[cfg(test)]
mod tests;
