//! Metering a streamed Responses response
//! (<https://platform.openai.com/docs/api-reference/responses-streaming>): server-sent events
//! whose `event` field and JSON `type` name the event. A stream starts with `response.created`,
//! carries deltas (`response.output_text.delta`, `response.function_call_arguments.delta`…) and
//! ends with `response.completed`, `response.incomplete` or `response.failed`, each holding the
//! final response object with its `usage`; an `error` event reports an error. Unlike Chat
//! Completions, the stream always reports usage, so the request needs no rewrite.

use super::{is_client_call, responses_usage, status_finish};
use crate::providers::object_or_ignored;
use crate::providers::openai::usage_or_estimate;
use crate::providers::stream_text::{DeltaTexts, DEFAULT_MAX_TEXT_BYTES};
use crate::providers::{Finish, Invalid, RequestInfo, ResponseInfo};
use crate::sse;
use crate::tokens::Tokenizer;
use crate::usage::Usage;
use serde_json::{Map, Value};

/// A streamed text, counted apart from the others of its output item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Text,
    Refusal,
    FunctionName,
    FunctionArguments,
    CustomToolInput,
    ReasoningText,
    ReasoningSummary,
}

/// How the stream ended, from its terminal event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminal {
    Completed,
    Incomplete,
    Failed,
}

/// Meters one streamed Responses response from its SSE events.
#[derive(Debug)]
pub struct ResponsesStreamMeter {
    model: Option<String>,
    service_tier: Option<String>,
    /// Delta text by (output index, content or summary index, kind), joined in arrival order.
    texts: DeltaTexts<(u64, u64, Kind)>,
    /// The `usage` of the terminal event's response, validated.
    usage: Option<Result<Usage, String>>,
    terminal: Option<Terminal>,
    /// The `error` event, or the failed response's `error`.
    error: Option<Value>,
    /// An output item the client must act on ([`super::CLIENT_CALLS`]) was announced.
    client_call: bool,
    /// The terminal response's finish (see [`super::status_finish`]).
    finish: Option<Finish>,
    events: u64,
    ignored: u64,
}

impl Default for ResponsesStreamMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponsesStreamMeter {
    /// A meter keeping at most [`DEFAULT_MAX_TEXT_BYTES`] of delta text.
    pub fn new() -> Self {
        Self::with_max_text_bytes(DEFAULT_MAX_TEXT_BYTES)
    }

    /// A meter keeping at most `max_text_bytes` bytes of delta text; past it, deltas are only
    /// measured and their tokens extrapolated.
    pub fn with_max_text_bytes(max_text_bytes: usize) -> Self {
        Self {
            model: None,
            service_tier: None,
            texts: DeltaTexts::new(max_text_bytes),
            usage: None,
            terminal: None,
            error: None,
            client_call: false,
            finish: None,
            events: 0,
            ignored: 0,
        }
    }

    /// Takes one SSE event. Its type is the data's `type`, else the SSE `event` field. Data that
    /// is not a JSON object is counted in [`ResponsesStreamMeter::ignored`] (a `[DONE]`, which
    /// some compatible servers send, is skipped silently).
    pub fn on_event(&mut self, event: &[u8], data: &[u8]) {
        if sse::is_done(data) {
            return;
        }
        let Some(ev) = object_or_ignored(data, &mut self.ignored) else {
            return;
        };
        self.events += 1;
        let kind = match ev.get("type").and_then(Value::as_str) {
            Some(t) => t,
            None => std::str::from_utf8(event).unwrap_or(""),
        };
        let index = |key: &str| ev.get(key).and_then(Value::as_u64).unwrap_or(0);
        let delta = ev.get("delta").and_then(Value::as_str).unwrap_or("");
        let (output, content) = (index("output_index"), index("content_index"));
        match kind {
            "response.created" | "response.in_progress" | "response.queued" => {
                self.on_response(ev.get("response"));
            }
            "response.completed" => self.on_terminal(&ev, Terminal::Completed),
            "response.incomplete" => self.on_terminal(&ev, Terminal::Incomplete),
            "response.failed" => self.on_terminal(&ev, Terminal::Failed),
            "error" => self.error = Some(Value::Object(ev.clone())),
            "response.output_text.delta" => self.texts.keep((output, content, Kind::Text), delta),
            "response.refusal.delta" => self.texts.keep((output, content, Kind::Refusal), delta),
            "response.function_call_arguments.delta" => {
                self.texts.keep((output, 0, Kind::FunctionArguments), delta);
            }
            "response.custom_tool_call_input.delta" => {
                self.texts.keep((output, 0, Kind::CustomToolInput), delta);
            }
            "response.reasoning_text.delta" => {
                self.texts
                    .keep((output, content, Kind::ReasoningText), delta);
            }
            "response.reasoning_summary_text.delta" => {
                let summary = index("summary_index");
                self.texts
                    .keep((output, summary, Kind::ReasoningSummary), delta);
            }
            "response.output_item.done" => {
                self.client_call |= ev.get("item").is_some_and(is_client_call);
            }
            "response.output_item.added" => {
                self.client_call |= ev.get("item").is_some_and(is_client_call);
                // A function call's name arrives whole with its item, not as deltas.
                let item = ev.get("item");
                if item.and_then(|i| i.get("type")).and_then(Value::as_str) == Some("function_call")
                {
                    let name = item.and_then(|i| i.get("name")).and_then(Value::as_str);
                    self.texts
                        .keep((output, 0, Kind::FunctionName), name.unwrap_or(""));
                }
            }
            _ => {}
        }
    }

    /// Takes the model and service tier of a response object (the latest non-empty ones win:
    /// the terminal response names the tier that served the request).
    fn on_response(&mut self, response: Option<&Value>) {
        let text = |key: &str| {
            response
                .and_then(|r| r.get(key))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        if let Some(model) = text("model") {
            self.model = Some(model);
        }
        if let Some(tier) = text("service_tier") {
            self.service_tier = Some(tier);
        }
    }

    fn on_terminal(&mut self, ev: &Map<String, Value>, terminal: Terminal) {
        self.terminal = Some(terminal);
        let response = ev.get("response");
        self.on_response(response);
        let field = |key: &str| response.and_then(|r| r.get(key));
        self.client_call |= field("output")
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(is_client_call));
        let status = match terminal {
            Terminal::Completed => "completed",
            Terminal::Incomplete => "incomplete",
            Terminal::Failed => "failed",
        };
        self.finish = status_finish(status, field("incomplete_details"), self.client_call);
        if let Some(u) = response
            .and_then(|r| r.get("usage"))
            .filter(|u| !u.is_null())
        {
            self.usage = Some(responses_usage(u));
        }
        if let Some(err) = response
            .and_then(|r| r.get("error"))
            .filter(|e| !e.is_null())
        {
            self.error = Some(err.clone());
        }
    }

    /// The model the stream's response objects named (the latest).
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The terminal event seen, if any.
    pub fn terminal(&self) -> Option<Terminal> {
        self.terminal
    }

    /// The `error` event's data, or the failed response's `error` object (the latest).
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

    /// Whether a usable provider `usage` was seen.
    pub fn has_provider_usage(&self) -> bool {
        matches!(self.usage, Some(Ok(_)))
    }

    /// JSON object events taken.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Events whose data was not a JSON object.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// The stream's usage: the terminal response's when usable, else an estimate (the request's
    /// input estimate and the deltas received). `problem` is set for a malformed `usage`
    /// (`bad_usage`), and for a stream that ended normally without a usage although nothing
    /// failed: `response.completed` always carries one. A cut stream, an `error` event or a
    /// failed or incomplete response without usage is estimated without a problem.
    ///
    /// The finish is the terminal event's (its status, `incomplete_details.reason` and the
    /// client calls announced), or [`Finish::Error`] after an `error` event or a failed
    /// response's `error`; `None` for a stream cut before its terminal event without an error.
    pub fn finish(self, req: &RequestInfo, tok: &Tokenizer, completed: bool) -> ResponseInfo {
        let error = self.error.is_some().then_some(Finish::Error);
        let finish = Finish::worst(self.finish.into_iter().chain(error));
        let missing = match self.terminal {
            _ if !completed || self.error.is_some() => None,
            Some(Terminal::Completed) => Some("response.completed without usage"),
            None => Some("stream ended without response.completed"),
            Some(Terminal::Incomplete | Terminal::Failed) => None,
        };
        let output = || self.texts.tokens(req.encoding, tok);
        ResponseInfo {
            // The tier the responses named, with the provider's usage or an estimate.
            service_tier: self.service_tier,
            finish,
            ..usage_or_estimate(
                self.usage,
                self.model,
                None,
                req,
                output,
                missing.map(|m| (Invalid::BadUsage, m.into())),
            )
        }
    }
}

impl crate::providers::StreamMeter for ResponsesStreamMeter {
    fn on_event(&mut self, event: &[u8], data: &[u8]) {
        ResponsesStreamMeter::on_event(self, event, data);
    }

    fn finish(
        self: Box<Self>,
        req: &RequestInfo,
        tok: &Tokenizer,
        completed: bool,
    ) -> ResponseInfo {
        ResponsesStreamMeter::finish(*self, req, tok, completed)
    }
}
