//! The filter's side of streamed responses: choosing the framing and meter at response headers,
//! and passing each body chunk through [`ResponseStream`] (with the final SSE comment).

use super::stream::{Framing, ResponseStream};
use super::{HttpFilter, Metering, Shared, State, Target};
use crate::eventstream::Decoder;
use crate::host::{Action, Body, Host, LogLevel};
use crate::json_stream::JsonArrayStream;
use crate::providers::{self, Api};
use crate::sse::SseParser;
use crate::stamp;

/// A stream meter for a successful streamed response, chosen by content type: server-sent
/// events (`text/event-stream`), the AWS event stream (`application/vnd.amazon.eventstream`),
/// or, for Gemini's `streamGenerateContent` without `alt=sse`, a JSON array delivered element
/// by element. `None` for a whole-body response.
pub(super) fn stream_for(
    m: &Metering,
    content_type: &[u8],
    shared: &Shared,
) -> Option<Box<ResponseStream>> {
    let base = media_type(content_type);
    // Envoy never holds a stream (each chunk is released at once): only the filter's own copy
    // of one event is bounded, by `max_body_bytes` like any body copy.
    let max = shared.config.max_body_bytes;
    let framing = if base.eq_ignore_ascii_case(b"text/event-stream") {
        Framing::Sse(SseParser::with_max_event_bytes(max))
    } else if base.eq_ignore_ascii_case(b"application/vnd.amazon.eventstream") {
        Framing::EventStream(Decoder::new())
    } else if m.endpoint.api == Api::Gemini
        && m.endpoint.stream
        && base.eq_ignore_ascii_case(b"application/json")
    {
        Framing::JsonArray(JsonArrayStream::new(max))
    } else {
        return None;
    };
    let meter = providers::stream_meter(m.endpoint.api, m.expects_usage)?;
    // Compressed bytes cannot be edited event by event: a client that did not ask for usage
    // then sees the usage chunk (the filter asks upstreams not to compress, so this is rare).
    let strip = m.strip_usage && m.decoder.is_none();
    Some(Box::new(ResponseStream::new(framing, meter, strip)))
}

/// The media type of a `content-type` value, parameters removed.
fn media_type(content_type: &[u8]) -> &[u8] {
    let ct = content_type.trim_ascii();
    ct.split(|b| *b == b';').next().unwrap_or(ct).trim_ascii()
}

impl HttpFilter {
    /// One chunk of a streamed response: metered, forwarded (minus a removed usage chunk), and
    /// at the end of the stream the results go out as trailers and as a final SSE comment.
    pub(super) fn stream_body(
        &mut self,
        host: &mut impl Host,
        shared: &Shared,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        let State::Metering(m) = &mut self.state else {
            return Action::Continue;
        };
        let Some(stream) = m.stream.as_mut() else {
            return Action::Continue;
        };
        let chunk = host.body(Body::Response, 0, body_size).unwrap_or_default();
        let replaced = match m.decoder.as_mut() {
            None => stream.push(&chunk),
            Some(decoder) => {
                let decoded = decoder.push(&chunk).and_then(|mut out| {
                    if end_of_stream {
                        out.extend(decoder.finish()?);
                    }
                    Ok(out)
                });
                match decoded {
                    Ok(bytes) => stream.push(&bytes),
                    Err(e) => {
                        m.decode_failed.get_or_insert(e);
                        None
                    }
                }
            }
        };
        if !end_of_stream {
            if let Some(out) = replaced {
                replace_body(host, body_size, &out);
            }
            return Action::Continue;
        }
        let (clean, held) = stream.end();
        if let Some(why) = &stream.broken {
            host.log(
                LogLevel::Warn,
                &format!("tollbooth: stream not fully parsed: {why}"),
            );
        } else if !clean {
            host.log(LogLevel::Info, "tollbooth: stream ended inside an event");
        }
        // A comment appended to compressed bytes would corrupt them, and one appended inside a
        // cut event would complete it with the comment glued to its last line.
        let is_sse = stream.is_sse() && m.decoder.is_none() && clean;
        m.stream_ended = true;
        let outcome = self.finalize(host, Target::ResponseTrailers);
        let mut tail = held;
        if let Some(o) = outcome.filter(|_| is_sse && shared.config.sse_comment) {
            tail.extend_from_slice(&stamp::sse_comment(&o));
        }
        match replaced {
            Some(mut out) => {
                out.extend_from_slice(&tail);
                replace_body(host, body_size, &out);
            }
            None if !tail.is_empty() => {
                if let Err(e) = host.set_body(Body::Response, body_size, 0, &tail) {
                    host.log(
                        LogLevel::Warn,
                        &format!("tollbooth: end of the stream: status {}", e.0),
                    );
                }
            }
            None => {}
        }
        Action::Continue
    }
}

/// Replaces the body buffered for this callback.
fn replace_body(host: &mut impl Host, body_size: usize, out: &[u8]) {
    if let Err(e) = host.set_body(Body::Response, 0, body_size, out) {
        host.log(
            LogLevel::Warn,
            &format!("tollbooth: response body rewrite: status {}", e.0),
        );
    }
}
