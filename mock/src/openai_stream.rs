//! OpenAI Chat Completions streaming (`"stream": true`): a `text/event-stream`
//! of `chat.completion.chunk` objects, then `data: [DONE]`.
//!
//! Shapes: <https://platform.openai.com/docs/api-reference/chat-streaming> and
//! `stream_options` in
//! <https://platform.openai.com/docs/api-reference/chat/create>.
//!
//! Events, in order: a `{"role":"assistant","content":""}` delta; one content
//! delta per word of the reply (with its leading whitespace, so the deltas
//! concatenate to the reply exactly); an empty delta with
//! `finish_reason: "stop"`; with `include_usage`, a chunk with `choices: []`
//! and the `usage` (every other chunk then has `"usage": null`); `[DONE]`.
//! Delivery (one flushed chunk per event, pauses, cuts) is
//! [`crate::response::deliver`]'s job.

use hyper::body::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::StatusCode;
use serde::Serialize;

use crate::openai::{self, ApiError, WireUsage, CREATED};
use crate::overrides::{Overrides, UsageMode};
use crate::response::MockResponse;

/// The final event of every complete stream.
pub const DONE_EVENT: &str = "data: [DONE]\n\n";

/// What the stream is made of (all deterministic).
#[derive(Debug, Clone)]
pub struct StreamParams<'a> {
    pub id: String,
    pub model: &'a str,
    pub reply: &'a str,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
}

/// The streamed answer: status from `x-mock-status` (a 2xx/3xx; errors never
/// stream) or `200`, `content-type: text/event-stream`, one event per chunk.
/// `usage` is `None` for `x-mock-usage: omit` and `x-mock-usage-raw` (spliced
/// here instead).
pub fn response(p: &StreamParams<'_>, usage: Option<WireUsage>, o: &Overrides) -> MockResponse {
    match events(p, usage.as_ref(), &o.usage) {
        Ok(events) => {
            let status = o.status.unwrap_or(StatusCode::OK);
            MockResponse::events(status, events)
                .with_header(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"))
                .with_header(CACHE_CONTROL, HeaderValue::from_static("no-cache"))
        }
        Err(e) => ApiError::server(format!("mock could not serialise: {e}")).into_response(),
    }
}

/// All events of the stream, `[DONE]` included.
pub fn events(
    p: &StreamParams<'_>,
    usage: Option<&WireUsage>,
    mode: &UsageMode,
) -> serde_json::Result<Vec<Bytes>> {
    // `Some(None)` serialises as `"usage":null`, `None` leaves the key out.
    let usage_null = if p.include_usage { Some(None) } else { None };
    let chunk = |delta, finish_reason| Chunk {
        id: &p.id,
        object: "chat.completion.chunk",
        created: CREATED,
        model: p.model,
        service_tier: "default",
        system_fingerprint: "fp_mock",
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason,
        }],
        usage: usage_null,
    };
    let mut out = Vec::new();
    let role = Delta {
        role: Some("assistant"),
        content: Some(""),
    };
    out.push(event(&serde_json::to_string(&chunk(role, None))?));
    for word in word_pieces(p.reply) {
        let delta = Delta {
            role: None,
            content: Some(word),
        };
        out.push(event(&serde_json::to_string(&chunk(delta, None))?));
    }
    let stop = Delta {
        role: None,
        content: None,
    };
    out.push(event(&serde_json::to_string(&chunk(stop, Some("stop")))?));
    if p.include_usage {
        let mut last = chunk(stop, None);
        last.choices.clear();
        match (mode, usage) {
            (UsageMode::Raw(raw), _) => {
                last.usage = None;
                let mut json = serde_json::to_string(&last)?;
                openai::splice_usage(&mut json, raw);
                out.push(event(&json));
            }
            (_, Some(u)) => {
                last.usage = Some(Some(u));
                out.push(event(&serde_json::to_string(&last)?));
            }
            // `x-mock-usage: omit`: a server that never reports usage.
            (_, None) => {}
        }
    }
    out.push(Bytes::from_static(DONE_EVENT.as_bytes()));
    Ok(out)
}

fn event(json: &str) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

/// Splits `text` into words, each with the whitespace before it (leading
/// whitespace of the text goes with the first word, trailing whitespace with
/// the last), so the pieces concatenate to `text`.
pub fn word_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    // `gap`: where the whitespace run before the current position began.
    let (mut start, mut gap, mut seen_word, mut prev_space) = (0, 0, false, false);
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && !prev_space {
            gap = i;
        }
        if !space && prev_space && seen_word {
            pieces.extend(text.get(start..gap));
            start = gap;
        }
        seen_word |= !space;
        prev_space = space;
    }
    if start < text.len() {
        pieces.extend(text.get(start..));
    }
    pieces
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    service_tier: &'static str,
    system_fingerprint: &'static str,
    choices: Vec<ChunkChoice<'a>>,
    /// Last member, so a raw usage can be spliced after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<&'a WireUsage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Clone, Copy)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::UsageCounts;
    use serde_json::Value;

    fn params(include_usage: bool) -> StreamParams<'static> {
        StreamParams {
            id: "chatcmpl-x".into(),
            model: "gpt-4o",
            reply: "Mock reply to: Say hi",
            include_usage,
        }
    }

    fn parse(events: &[Bytes]) -> Vec<Value> {
        let (done, chunks) = events.split_last().unwrap();
        assert_eq!(&done[..], DONE_EVENT.as_bytes());
        chunks
            .iter()
            .map(|e| {
                let text = std::str::from_utf8(e).unwrap();
                let json = text.strip_prefix("data: ").unwrap();
                serde_json::from_str(json.strip_suffix("\n\n").unwrap()).unwrap()
            })
            .collect()
    }

    #[test]
    fn word_pieces_concatenate_to_the_text() {
        assert_eq!(word_pieces("a bc  d"), ["a", " bc", "  d"]);
        assert_eq!(word_pieces("  lead\ntrail "), ["  lead", "\ntrail "]);
        assert_eq!(word_pieces("   "), ["   "]);
        assert!(word_pieces("").is_empty());
        assert_eq!(word_pieces("é ü"), ["é", " ü"]);
    }

    #[test]
    fn without_usage() {
        let usage = WireUsage::from(UsageCounts::default());
        let events = events(&params(false), Some(&usage), &UsageMode::Computed).unwrap();
        let chunks = parse(&events);
        assert_eq!(chunks.len(), 1 + 5 + 1);
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[6]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[6]["choices"][0]["delta"], serde_json::json!({}));
    }

    #[test]
    fn raw_usage_and_omit() {
        let raw = UsageMode::Raw("{\"prompt_tokens\":-1}".into());
        let events = events(&params(true), None, &raw).unwrap();
        let last = std::str::from_utf8(&events[events.len() - 2]).unwrap();
        assert!(
            last.ends_with("\"choices\":[],\"usage\":{\"prompt_tokens\":-1}}\n\n"),
            "{last}"
        );
        let omitted = super::events(&params(true), None, &UsageMode::Omit).unwrap();
        let chunks = parse(&omitted);
        assert_eq!(chunks.len(), 7, "no usage chunk");
        assert!(chunks.iter().all(|c| c["usage"].is_null()));
    }
}
