//! Gemini `streamGenerateContent`: a series of `GenerateContentResponse`
//! chunks (<https://ai.google.dev/api/generate-content>), one per word of the
//! reply (with its leading whitespace, so the texts concatenate to the
//! non-streaming reply exactly; an empty reply is one chunk with empty text).
//!
//! * The last chunk carries `finishReason: "STOP"` and the full
//!   `usageMetadata` of the non-streaming answer; every earlier chunk carries
//!   the usage known before the text: `promptTokenCount` (and
//!   `cachedContentTokenCount`, `thoughtsTokenCount` when not zero) with
//!   `totalTokenCount` = prompt + thoughts and no `candidatesTokenCount`.
//!   `x-mock-usage: omit` leaves `usageMetadata` out of every chunk;
//!   `x-mock-usage-raw` splices its text as every chunk's `usageMetadata`.
//! * With `?alt=sse`: `content-type: text/event-stream`, each chunk one event
//!   `data: <json>\r\n\r\n` (CRLF line ends, as the Gemini API sends them).
//! * Without: `content-type: application/json`, one JSON array sent element by
//!   element: the pieces are `[<chunk 1>`, `\n,\r\n<chunk 2>`, …, then `]`.
//!
//! Each piece is one event for the delivery (own flushed chunk, pauses,
//! `x-mock-stream-cut` counting).

use hyper::body::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::StatusCode;

use crate::gemini::{ApiError, Chunk, WireUsage};
use crate::openai_stream::word_pieces;
use crate::overrides::Overrides;
use crate::response::MockResponse;

/// Separator between two elements of the streamed JSON array.
pub const ARRAY_SEPARATOR: &str = "\n,\r\n";

/// What the stream is made of (all deterministic).
#[derive(Debug, Clone, Copy)]
pub struct StreamParams<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub reply: &'a str,
    /// `?alt=sse`.
    pub sse: bool,
}

/// The streamed answer: status from `x-mock-status` (a 2xx/3xx; errors never
/// stream) or `200`. `usage` is `None` for `x-mock-usage: omit` and
/// `x-mock-usage-raw` (whose text is `raw`).
pub fn response(
    p: &StreamParams<'_>,
    usage: Option<&WireUsage>,
    raw: Option<&str>,
    o: &Overrides,
) -> MockResponse {
    let chunks = match chunks(p, usage, raw) {
        Ok(c) => c,
        Err(e) => {
            return ApiError::server(format!("mock could not serialise: {e}")).into_response()
        }
    };
    let status = o.status.unwrap_or(StatusCode::OK);
    if p.sse {
        MockResponse::events(status, sse_events(&chunks))
            .with_header(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"))
            .with_header(CACHE_CONTROL, HeaderValue::from_static("no-cache"))
    } else {
        MockResponse::events(status, array_pieces(&chunks))
            .with_header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
    }
}

/// The JSON text of every chunk.
pub fn chunks(
    p: &StreamParams<'_>,
    usage: Option<&WireUsage>,
    raw: Option<&str>,
) -> serde_json::Result<Vec<String>> {
    let mut words = word_pieces(p.reply);
    if words.is_empty() {
        words.push("");
    }
    let early = usage.map(WireUsage::before_text);
    let count = words.len();
    words
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let last = i + 1 == count;
            let chunk = Chunk {
                id: p.id,
                model: p.model,
                text,
                finished: last,
            };
            chunk.to_json(if last { usage } else { early.as_ref() }, raw)
        })
        .collect()
}

/// `data: <chunk>\r\n\r\n` for each chunk.
pub fn sse_events(chunks: &[String]) -> Vec<Bytes> {
    chunks
        .iter()
        .map(|c| Bytes::from(format!("data: {c}\r\n\r\n")))
        .collect()
}

/// The streamed JSON array: `[` + the first chunk, [`ARRAY_SEPARATOR`] + each
/// further chunk, then `]`.
pub fn array_pieces(chunks: &[String]) -> Vec<Bytes> {
    let mut out: Vec<Bytes> = chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let lead = if i == 0 { "[" } else { ARRAY_SEPARATOR };
            Bytes::from(format!("{lead}{c}"))
        })
        .collect();
    if out.is_empty() {
        out.push(Bytes::from_static(b"["));
    }
    out.push(Bytes::from_static(b"]"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::UsageCounts;
    use serde_json::Value;

    fn params(reply: &'static str) -> StreamParams<'static> {
        StreamParams {
            id: "mockid",
            model: "gemini-x",
            reply,
            sse: false,
        }
    }

    #[test]
    fn array_is_valid_json_with_usage_on_the_last() {
        let usage = WireUsage::new(UsageCounts {
            prompt: 9,
            completion: 6,
            ..Default::default()
        })
        .unwrap();
        let c = chunks(&params("Mock reply to: Say hi"), Some(&usage), None).unwrap();
        let pieces = array_pieces(&c);
        assert_eq!(pieces.len(), 6);
        assert!(pieces[1].starts_with(b"\n,\r\n{"));
        assert_eq!(&pieces[5][..], b"]");
        let all: Vec<Value> = serde_json::from_slice(&pieces.concat()).unwrap();
        assert_eq!(all.len(), 5);
        let text: String = all
            .iter()
            .map(|c| {
                c["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(text, "Mock reply to: Say hi");
        for early in &all[..4] {
            assert!(early["candidates"][0].get("finishReason").is_none());
            assert_eq!(
                early["usageMetadata"],
                serde_json::json!({"promptTokenCount": 9, "totalTokenCount": 9})
            );
        }
        assert_eq!(all[4]["candidates"][0]["finishReason"], "STOP");
        assert_eq!(all[4]["usageMetadata"]["candidatesTokenCount"], 6);
        assert_eq!(all[4]["usageMetadata"]["totalTokenCount"], 15);
    }

    #[test]
    fn empty_reply_raw_usage_and_sse() {
        let c = chunks(&params(""), None, Some("{\"promptTokenCount\":-1}")).unwrap();
        assert_eq!(c.len(), 1);
        assert!(
            c[0].ends_with(",\"usageMetadata\":{\"promptTokenCount\":-1}}"),
            "{}",
            c[0]
        );
        let events = sse_events(&c);
        assert!(events[0].starts_with(b"data: {"));
        assert!(events[0].ends_with(b"}\r\n\r\n"));
        let omitted = chunks(&params("a b"), None, None).unwrap();
        assert!(omitted.iter().all(|c| !c.contains("usageMetadata")));
    }
}
