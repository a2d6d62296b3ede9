//! Anthropic Messages streaming (`"stream": true`): a `text/event-stream` of
//! named events, as
//! <https://docs.anthropic.com/en/docs/build-with-claude/streaming> documents.
//!
//! Each event is `event: <type>\ndata: <json>\n\n`, in this order:
//!
//! 1. `message_start`: the Message with empty `content`, `stop_reason: null`
//!    and the usage of the non-streaming answer except `output_tokens`, which is
//!    `min(1, output_tokens)`;
//! 2. `content_block_start` (index 0, `{"type":"text","text":""}`);
//! 3. `ping`;
//! 4. one `content_block_delta` (`text_delta`) per word of the reply, with its
//!    leading whitespace, so the deltas concatenate to the reply exactly;
//! 5. `content_block_stop`;
//! 6. `message_delta`: `stop_reason: "end_turn"`, `stop_sequence: null` and
//!    `usage: {"output_tokens": N}`, the cumulative output count (the same as
//!    the non-streaming answer's);
//! 7. `message_stop`.
//!
//! `x-mock-usage: omit` leaves `usage` out of both `message_start` and
//! `message_delta`; `x-mock-usage-raw` splices its text as the `usage` of both.

use hyper::body::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::StatusCode;
use serde::Serialize;

use crate::anthropic::{ApiError, Message, TextBlock, WireUsage};
use crate::openai_stream::word_pieces;
use crate::overrides::{Overrides, UsageMode};
use crate::response::MockResponse;
use crate::usage;

/// What the stream is made of (all deterministic).
#[derive(Debug, Clone, Copy)]
pub struct StreamParams<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub reply: &'a str,
}

/// The streamed answer: status from `x-mock-status` (a 2xx/3xx; errors never
/// stream) or `200`, `content-type: text/event-stream`, one event per chunk.
pub fn response(p: &StreamParams<'_>, usage: Option<&WireUsage>, o: &Overrides) -> MockResponse {
    match events(p, usage, &o.usage) {
        Ok(events) => MockResponse::events(o.status.unwrap_or(StatusCode::OK), events)
            .with_header(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"))
            .with_header(CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        Err(e) => ApiError::server(format!("mock could not serialise: {e}")).into_response(),
    }
}

/// All events of the stream. `usage` is `None` for `x-mock-usage: omit` and
/// `x-mock-usage-raw` (whose text `mode` carries).
pub fn events(
    p: &StreamParams<'_>,
    usage: Option<&WireUsage>,
    mode: &UsageMode,
) -> serde_json::Result<Vec<Bytes>> {
    let raw = match mode {
        UsageMode::Raw(raw) => Some(raw.as_str()),
        _ => None,
    };
    let mut out = Vec::new();

    let start_usage = usage.map(|u| WireUsage {
        output_tokens: u.output_tokens.min(1),
        ..u.clone()
    });
    #[derive(Serialize)]
    struct MessageStart<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        message: Message<'a>,
    }
    let mut json = serde_json::to_string(&MessageStart {
        kind: "message_start",
        message: Message {
            id: p.id,
            kind: "message",
            role: "assistant",
            model: p.model,
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: start_usage.as_ref(),
        },
    })?;
    if let Some(raw) = raw {
        usage::splice_member(&mut json, 2, "usage", raw);
    }
    out.push(event("message_start", &json));

    #[derive(Serialize)]
    struct BlockStart<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        index: u32,
        content_block: TextBlock<'a>,
    }
    let start = BlockStart {
        kind: "content_block_start",
        index: 0,
        content_block: TextBlock::new(""),
    };
    out.push(event(
        "content_block_start",
        &serde_json::to_string(&start)?,
    ));
    out.push(event("ping", r#"{"type":"ping"}"#));

    #[derive(Serialize)]
    struct BlockDelta<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        index: u32,
        delta: TextDelta<'a>,
    }
    #[derive(Serialize)]
    struct TextDelta<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        text: &'a str,
    }
    for word in word_pieces(p.reply) {
        let delta = BlockDelta {
            kind: "content_block_delta",
            index: 0,
            delta: TextDelta {
                kind: "text_delta",
                text: word,
            },
        };
        out.push(event(
            "content_block_delta",
            &serde_json::to_string(&delta)?,
        ));
    }
    out.push(event(
        "content_block_stop",
        r#"{"type":"content_block_stop","index":0}"#,
    ));

    #[derive(Serialize)]
    struct MessageDelta {
        #[serde(rename = "type")]
        kind: &'static str,
        delta: StopDelta,
        #[serde(skip_serializing_if = "Option::is_none")]
        usage: Option<DeltaUsage>,
    }
    #[derive(Serialize)]
    struct StopDelta {
        stop_reason: &'static str,
        stop_sequence: Option<()>,
    }
    #[derive(Serialize)]
    struct DeltaUsage {
        output_tokens: u64,
    }
    let mut json = serde_json::to_string(&MessageDelta {
        kind: "message_delta",
        delta: StopDelta {
            stop_reason: "end_turn",
            stop_sequence: None,
        },
        usage: usage.map(|u| DeltaUsage {
            output_tokens: u.output_tokens,
        }),
    })?;
    if let Some(raw) = raw {
        usage::splice_member(&mut json, 1, "usage", raw);
    }
    out.push(event("message_delta", &json));
    out.push(event("message_stop", r#"{"type":"message_stop"}"#));
    Ok(out)
}

fn event(name: &str, json: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::{CacheWrite, UsageCounts};
    use serde_json::Value;

    const P: StreamParams<'static> = StreamParams {
        id: "msg_x",
        model: "claude-x",
        reply: "Mock reply to: Say hi",
    };

    /// `(event name, data)` of each event.
    fn parse(events: &[Bytes]) -> Vec<(String, Value)> {
        events
            .iter()
            .map(|e| {
                let text = std::str::from_utf8(e).unwrap();
                let (name, data) = text
                    .strip_prefix("event: ")
                    .and_then(|t| t.strip_suffix("\n\n"))
                    .and_then(|t| t.split_once("\ndata: "))
                    .unwrap();
                (name.to_owned(), serde_json::from_str(data).unwrap())
            })
            .collect()
    }

    #[test]
    fn sequence_and_usage() {
        let counts = UsageCounts {
            prompt: 9,
            completion: 6,
            ..Default::default()
        };
        let usage = WireUsage::new(counts, CacheWrite::default()).unwrap();
        let evs = parse(&events(&P, Some(&usage), &UsageMode::Computed).unwrap());
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        for (name, data) in &evs {
            assert_eq!(data["type"], name.as_str());
        }
        assert_eq!(evs[0].1["message"]["usage"]["input_tokens"], 9);
        assert_eq!(evs[0].1["message"]["usage"]["output_tokens"], 1);
        assert_eq!(evs[9].1["usage"], serde_json::json!({"output_tokens": 6}));
        let text: String = evs[3..8]
            .iter()
            .map(|(_, d)| d["delta"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(text, P.reply);
    }

    #[test]
    fn raw_and_omit() {
        let raw = UsageMode::Raw("{\"output_tokens\":-1}".into());
        let evs = events(&P, None, &raw).unwrap();
        let start = std::str::from_utf8(&evs[0]).unwrap();
        assert!(
            start.ends_with("\"stop_sequence\":null,\"usage\":{\"output_tokens\":-1}}}\n\n"),
            "{start}"
        );
        let parsed = parse(&evs);
        assert_eq!(parsed[9].1["usage"]["output_tokens"], -1);
        let omitted = parse(&events(&P, None, &UsageMode::Omit).unwrap());
        assert!(omitted[0].1["message"].get("usage").is_none());
        assert!(omitted[9].1.get("usage").is_none());
    }
}
