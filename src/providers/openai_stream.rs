//! OpenAI Chat Completions streamed with `"stream": true` (server-sent events of
//! `chat.completion.chunk` objects, then `data: [DONE]`), as documented in the API reference:
//! <https://platform.openai.com/docs/api-reference/chat-streaming>. Host-free; not wired into the
//! filter yet.
//!
//! The legacy Completions stream (<https://platform.openai.com/docs/api-reference/completions/create>,
//! `stream`, `stream_options`) has the same shape with `text_completion` objects whose choices
//! carry their `text` instead of a `delta`; everything here serves it too.
//!
//! **Usage in a stream.** By default a stream carries no token counts. The request option
//! `stream_options.include_usage: true`
//! (<https://platform.openai.com/docs/api-reference/chat/create>, `stream_options`) makes OpenAI
//! send one extra chunk before `data: [DONE]` whose `usage` holds the counts for the whole
//! request and whose `choices` is an empty array; every other chunk then carries
//! `"usage": null`. [`prepare_stream_request`] turns that option on, and
//! [`is_usage_only_chunk`] recognises the extra chunk so the filter can drop it for a client that
//! did not ask for it.
//!
//! **Metering.** [`StreamMeter`] is fed the data of every SSE event (see [`crate::sse`]). It takes
//! the provider's `usage` when a usable one arrives; otherwise (a cut stream, a client that
//! disconnected, a server that ignores `stream_options`, malformed counts) it estimates: the
//! request's prompt estimate as input, and the streamed deltas, counted with the tokenizer, as
//! output. Deltas are kept as text per choice and per part (content, refusal, each tool call's
//! name and arguments) and counted once at the end: tokenizing the joined text is what the
//! provider does, while counting delta by delta overcounts (a delta often ends inside a word).

use super::json_view::Object;
use super::openai::{finish_of, provider_usage, usage_or_estimate};
use super::stream_text::DeltaTexts;
pub use super::stream_text::DEFAULT_MAX_TEXT_BYTES;
use super::{Finish, Invalid, RequestInfo, ResponseInfo};
use crate::sse;
use crate::tokens::{Encoding, Tokenizer};
use crate::usage::Usage;
use chunk::{Choice, Chunk, UsageOnly};
use serde_json::Value;
use std::collections::BTreeMap;

mod chunk;

/// What the filter should do with a streamed Chat Completions request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    /// The body to send upstream instead of the client's, with
    /// `stream_options.include_usage: true`; `None` when the client's body already asks for
    /// usage and goes upstream unchanged.
    pub body: Option<Vec<u8>>,
    /// Whether the client itself asked for usage. When it did not, the filter removes the
    /// usage-only chunk ([`is_usage_only_chunk`]) from what the client receives.
    pub client_asked_for_usage: bool,
}

/// Reads a Chat Completions request body and, if it asks for a stream (`"stream": true`), makes
/// sure it also asks for usage (`stream_options.include_usage: true`).
///
/// - `stream_options` absent: `"stream_options":{"include_usage":true},` is inserted right after
///   the body's opening `{`; every other byte is left as the client sent it.
/// - `stream_options` null, or an object whose `include_usage` is absent, null or `false`: the
///   body is re-serialised with `include_usage: true`. Every other field, and every other member
///   of `stream_options`, keeps its value; object keys come out sorted and insignificant
///   whitespace is dropped (serde_json's map), which changes nothing for the provider.
/// - `include_usage` already `true`: no rewrite, and `client_asked_for_usage`.
///
/// `None` — leave the request alone — for a body that is not a JSON object, has no
/// `"stream": true`, or whose `stream_options` / `include_usage` has a type the API rejects
/// anyway (a non-object, a non-boolean): the provider answers those with an error, and the
/// filter does not turn an invalid request into a valid one.
pub fn prepare_stream_request(body: &[u8]) -> Option<StreamRequest> {
    let Ok(Value::Object(mut req)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    if req.get("stream") != Some(&Value::Bool(true)) {
        return None;
    }
    let asked = |client_asked_for_usage, body| {
        Some(StreamRequest {
            body,
            client_asked_for_usage,
        })
    };
    match req.get_mut("stream_options") {
        None => asked(false, Some(insert_stream_options(body)?)),
        Some(opts @ Value::Null) => {
            *opts = serde_json::json!({ "include_usage": true });
            asked(false, Some(serde_json::to_vec(&req).ok()?))
        }
        Some(Value::Object(opts)) => match opts.get("include_usage") {
            Some(Value::Bool(true)) => asked(true, None),
            None | Some(Value::Null) | Some(Value::Bool(false)) => {
                opts.insert("include_usage".into(), Value::Bool(true));
                asked(false, Some(serde_json::to_vec(&req).ok()?))
            }
            Some(_) => None,
        },
        Some(_) => None,
    }
}

/// The body with `"stream_options":{"include_usage":true},` after its opening brace. The caller
/// has parsed the body as a non-empty object without `stream_options`, so the result is valid
/// JSON with no duplicate key.
fn insert_stream_options(body: &[u8]) -> Option<Vec<u8>> {
    const MEMBER: &[u8] = br#""stream_options":{"include_usage":true},"#;
    let open = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body.get(open) != Some(&b'{') {
        return None;
    }
    let (head, tail) = body.split_at(open + 1);
    let mut out = Vec::with_capacity(body.len() + MEMBER.len());
    out.extend_from_slice(head);
    out.extend_from_slice(MEMBER);
    out.extend_from_slice(tail);
    Some(out)
}

/// Whether a chunk is the usage-only chunk that `include_usage` adds: `choices` is an empty array
/// and `usage` is present and not null. Data that is not a JSON object is not.
pub fn is_usage_only_chunk(data: &[u8]) -> bool {
    let Ok(Object(Some(chunk))) = serde_json::from_slice::<Object<UsageOnly>>(data) else {
        return false;
    };
    chunk.choices.0.is_some_and(|c| c.is_empty()) && chunk.usage.0
}

/// One streamed text of a choice: its parts are tokenized separately, as in
/// [`super::openai`]'s output count for a whole response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    /// Chat `delta.content`, or a legacy Completions choice's `text`.
    Content,
    Refusal,
    /// `tool_calls[i].function.name`, by the call's `index`.
    ToolName(u64),
    /// `tool_calls[i].function.arguments`, by the call's `index`.
    ToolArguments(u64),
    /// The deprecated `function_call.name`.
    FunctionName,
    /// The deprecated `function_call.arguments`.
    FunctionArguments,
}

/// Meters one streamed Chat Completions or legacy Completions response from its SSE events'
/// data. The two streams have the same shape (`choices`, `usage` with `include_usage`,
/// `data: [DONE]`); a Chat choice carries a `delta`, a Completions choice its `text`.
#[derive(Debug)]
pub struct StreamMeter {
    expects_usage: bool,
    model: Option<String>,
    /// Delta text by (choice index, part), joined in arrival order.
    texts: DeltaTexts<(u64, Part)>,
    finish_reasons: BTreeMap<u64, String>,
    service_tier: Option<String>,
    /// The latest non-null `usage`, validated.
    usage: Option<Result<Usage, String>>,
    error: Option<Value>,
    done: bool,
    chunks: u64,
    ignored: u64,
}

impl StreamMeter {
    /// A meter for a stream whose request asked for usage (`expects_usage`: the filter set or
    /// kept `stream_options.include_usage`), keeping at most [`DEFAULT_MAX_TEXT_BYTES`] of text.
    pub fn new(expects_usage: bool) -> Self {
        Self::with_max_text_bytes(expects_usage, DEFAULT_MAX_TEXT_BYTES)
    }

    /// As [`StreamMeter::new`], keeping at most `max_text_bytes` bytes of delta text.
    pub fn with_max_text_bytes(expects_usage: bool, max_text_bytes: usize) -> Self {
        Self {
            expects_usage,
            model: None,
            service_tier: None,
            texts: DeltaTexts::new(max_text_bytes),
            finish_reasons: BTreeMap::new(),
            usage: None,
            error: None,
            done: false,
            chunks: 0,
            ignored: 0,
        }
    }

    /// Takes one SSE event's data. `[DONE]` marks the end; data that is not a JSON object is
    /// counted in [`StreamMeter::ignored`] and otherwise ignored.
    pub fn on_event(&mut self, data: &[u8]) {
        if sse::is_done(data) {
            self.done = true;
            return;
        }
        // One pass over the chunk, without a `Value` tree (see `json_view`).
        let Ok(Object(Some(chunk))) = serde_json::from_slice::<Object<Chunk<'_>>>(data) else {
            self.ignored += 1;
            return;
        };
        self.chunks += 1;
        if let Some(err) = chunk.error.filter(|e| !e.is_null()) {
            self.error = Some(err);
        }
        if self.model.is_none() {
            self.model = chunk
                .model
                .as_deref()
                .filter(|m| !m.is_empty())
                .map(str::to_string);
        }
        if let Some(tier) = chunk.service_tier.as_deref() {
            self.service_tier = Some(tier.to_string());
        }
        if let Some(u) = chunk.usage.filter(|u| !u.is_null()) {
            self.usage = Some(provider_usage(&u));
        }
        for choice in chunk.choices.0.into_iter().flatten().filter_map(|c| c.0) {
            self.on_choice(choice);
        }
    }

    fn on_choice(&mut self, choice: Choice<'_>) {
        let index = choice.index.0.unwrap_or(0);
        if let Some(reason) = choice.finish_reason.as_deref().filter(|r| !r.is_empty()) {
            self.finish_reasons.insert(index, reason.to_string());
        }
        // A legacy Completions choice: the generated text itself, no `delta`.
        if let Some(s) = choice.text.as_deref() {
            self.keep(index, Part::Content, s);
        }
        let Some(delta) = choice.delta.0 else {
            return;
        };
        if let Some(s) = delta.content.as_deref() {
            self.keep(index, Part::Content, s);
        }
        if let Some(s) = delta.refusal.as_deref() {
            self.keep(index, Part::Refusal, s);
        }
        if let Some(f) = &delta.function_call.0 {
            if let Some(s) = f.name.as_deref() {
                self.keep(index, Part::FunctionName, s);
            }
            if let Some(s) = f.arguments.as_deref() {
                self.keep(index, Part::FunctionArguments, s);
            }
        }
        for call in delta
            .tool_calls
            .0
            .iter()
            .flatten()
            .filter_map(|c| c.0.as_ref())
        {
            let i = call.index.0.unwrap_or(0);
            let Some(f) = &call.function.0 else { continue };
            if let Some(s) = f.name.as_deref() {
                self.keep(index, Part::ToolName(i), s);
            }
            if let Some(s) = f.arguments.as_deref() {
                self.keep(index, Part::ToolArguments(i), s);
            }
        }
    }

    /// Keeps a delta's text, or once the cap is reached, only its length.
    fn keep(&mut self, choice: u64, part: Part, s: &str) {
        self.texts.keep((choice, part), s);
    }

    /// The model the first chunk named.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// Each choice's `finish_reason` (`stop`, `length`, `tool_calls`, `content_filter`, …), by
    /// choice index. Empty for a stream cut before any choice finished.
    pub fn finish_reasons(&self) -> &BTreeMap<u64, String> {
        &self.finish_reasons
    }

    /// The `error` object of a chunk that reported an error mid-stream (the latest one).
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

    /// Whether `data: [DONE]` was seen.
    pub fn saw_done(&self) -> bool {
        self.done
    }

    /// Whether a usable provider `usage` was seen.
    pub fn has_provider_usage(&self) -> bool {
        matches!(self.usage, Some(Ok(_)))
    }

    /// JSON object chunks taken.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Events whose data was not a JSON object (and not `[DONE]`).
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Tokens of the streamed deltas: each (choice, part) text counted whole, plus the bytes past
    /// the cap at the kept text's tokens-per-byte rate (one token per four bytes if nothing was
    /// kept).
    pub fn output_tokens(&self, enc: Encoding, tok: &Tokenizer) -> u64 {
        self.texts.tokens(enc, tok)
    }

    /// The stream's usage. The provider's when a usable `usage` arrived, whether or not the stream
    /// then completed. Otherwise an estimate (source `estimate`): the request's prompt estimate
    /// and the deltas received, so a client that disconnected is charged for what was generated
    /// up to then.
    ///
    /// `completed` says the stream ended normally (end of stream, not a reset or a client
    /// disconnect). `problem` is set for a malformed `usage` (`bad_usage`), and for a stream that
    /// completed without one although the request asked for it and no `error` explains it; a cut
    /// stream missing its usage chunk is expected and not a problem.
    ///
    /// The finish is the least successful of the choices' `finish_reason`s seen, or
    /// [`Finish::Error`] after an `error` chunk; `None` when neither arrived (a stream cut before
    /// any choice finished).
    pub fn finish(self, req: &RequestInfo, tok: &Tokenizer, completed: bool) -> ResponseInfo {
        let finish = self.seen_finish();
        let missing = (completed && self.expects_usage && self.error.is_none()).then(|| {
            (
                Invalid::BadUsage,
                "stream completed without a usage chunk although include_usage was set".into(),
            )
        });
        let output = || self.texts.tokens(req.encoding, tok);
        ResponseInfo {
            finish,
            ..usage_or_estimate(
                self.usage,
                self.model,
                self.service_tier,
                req,
                output,
                missing,
            )
        }
    }

    /// How the stream ended so far (see [`StreamMeter::finish`]).
    fn seen_finish(&self) -> Option<Finish> {
        let reasons = self.finish_reasons.values().map(|r| finish_of(r));
        Finish::worst(reasons.chain(self.error.is_some().then_some(Finish::Error)))
    }
}

impl super::StreamMeter for StreamMeter {
    fn on_event(&mut self, _event: &[u8], data: &[u8]) {
        StreamMeter::on_event(self, data);
    }

    fn finish(
        self: Box<Self>,
        req: &RequestInfo,
        tok: &Tokenizer,
        completed: bool,
    ) -> ResponseInfo {
        StreamMeter::finish(*self, req, tok, completed)
    }
}

#[cfg(test)]
mod chunk_review_tests;
#[cfg(test)]
mod chunk_tests;
#[cfg(test)]
mod tests;
