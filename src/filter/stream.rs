//! A streamed response on its way through: the framing (SSE or AWS eventstream) is parsed
//! incrementally and every complete event goes to the API's [`StreamMeter`]. Bytes pass on
//! unchanged, except that the usage-only chunk the filter itself asked OpenAI for is removed
//! for a client that did not ask for it.
//!
//! To remove that chunk, the bytes of an event are forwarded only once the event is complete
//! (its blank line has arrived), so that a whole event can be dropped. An SSE client can do
//! nothing with part of an event, so this delays nothing a client could use.

use crate::eventstream::{self, Decoder};
use crate::json_stream::JsonArrayStream;
use crate::providers::openai_stream::is_usage_only_chunk;
use crate::providers::StreamMeter;
use crate::sse::{BlockScan, EndOfStream, SseParser};

/// How the response body is framed.
pub(super) enum Framing {
    Sse(SseParser),
    EventStream(Decoder),
    /// Gemini's `streamGenerateContent` without `alt=sse`: one JSON array, element by element.
    JsonArray(JsonArrayStream),
}

pub(super) struct ResponseStream {
    framing: Framing,
    pub(super) meter: Option<Box<dyn StreamMeter>>,
    /// Remove OpenAI's usage-only chunk: the filter set `include_usage`, the client did not.
    strip_usage: bool,
    /// While stripping: the start of an event whose blank line has not arrived yet.
    pending: Vec<u8>,
    /// A removed event ended the last chunk with a CR: an LF starting the next chunk is the
    /// rest of that CRLF, so it goes with the event (to the parser, not to the client).
    swallow_lf: bool,
    /// The search for the blank line that ends `pending`, where it stopped.
    scan: BlockScan,
    /// Why some of the stream could not be parsed (an event past the cap, corrupt framing): for
    /// the log, and the stream is then metered as a cut one.
    pub(super) broken: Option<String>,
}

impl ResponseStream {
    pub(super) fn new(framing: Framing, meter: Box<dyn StreamMeter>, strip_usage: bool) -> Self {
        let strip_usage = strip_usage && matches!(framing, Framing::Sse(_));
        Self {
            framing,
            meter: Some(meter),
            strip_usage,
            pending: Vec::new(),
            swallow_lf: false,
            scan: BlockScan::new(),
            broken: None,
        }
    }

    pub(super) fn is_sse(&self) -> bool {
        matches!(self.framing, Framing::Sse(_))
    }

    /// Meters one chunk. Returns the bytes to forward in its place when they differ from it.
    pub(super) fn push(&mut self, chunk: &[u8]) -> Option<Vec<u8>> {
        if !self.strip_usage {
            self.parse(chunk);
            return None;
        }
        let mut fresh = chunk;
        if !fresh.is_empty() && std::mem::take(&mut self.swallow_lf) {
            if let Some(tail) = fresh.strip_prefix(b"\n") {
                self.parse(b"\n");
                fresh = tail;
            }
        }
        // The held bytes grow in place and each byte is scanned once: an event that arrives in
        // many chunks costs linear time, not quadratic.
        let mut input = std::mem::take(&mut self.pending);
        let mut from = input.len();
        input.extend_from_slice(fresh);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(end) = input.get(from..).and_then(|b| self.scan.find(b)) {
            let end = from + end;
            let block = input.get(start..end).unwrap_or_default();
            if self.parse(block) {
                self.swallow_lf = end == input.len() && block.ends_with(b"\r");
            } else {
                out.extend_from_slice(block);
            }
            start = end;
            from = end;
        }
        let rest = input.get(start..).unwrap_or_default();
        if rest.len() > self.max_pending() {
            // An event too large to hold: forward it as it comes and stop stripping.
            self.parse(rest);
            out.extend_from_slice(rest);
            self.strip_usage = false;
        } else {
            input.drain(..start);
            if input.capacity() > (4 * input.len()).max(64 * 1024) {
                input.shrink_to(input.len().max(4096));
            }
            self.pending = input;
        }
        (out != chunk).then_some(out)
    }

    /// The end of the body: returns whether the framing ended between events (a stream that was
    /// not fully parsed says so in [`ResponseStream::broken`]), and any held bytes still to
    /// forward (a cut event, which the client gets as the upstream sent it).
    pub(super) fn end(&mut self) -> (bool, Vec<u8>) {
        let held = std::mem::take(&mut self.pending);
        self.scan = BlockScan::new();
        if !held.is_empty() {
            self.parse(&held);
        }
        let clean = match &mut self.framing {
            Framing::Sse(p) => p.finish() == EndOfStream::Clean,
            Framing::EventStream(d) => d.finish().is_ok(),
            Framing::JsonArray(a) => a.finish().is_ok(),
        };
        (clean, held)
    }

    fn max_pending(&self) -> usize {
        match &self.framing {
            Framing::Sse(p) => p.max_event_bytes(),
            Framing::EventStream(_) => eventstream::DEFAULT_MAX_MESSAGE_BYTES,
            Framing::JsonArray(a) => a.max_element_bytes(),
        }
    }

    /// Parses bytes and meters the events they complete. Returns whether any of them is a
    /// usage-only chunk to remove.
    fn parse(&mut self, bytes: &[u8]) -> bool {
        let Some(meter) = self.meter.as_mut() else {
            return false;
        };
        let strip = self.strip_usage;
        let mut usage_only = false;
        match &mut self.framing {
            Framing::Sse(p) => {
                let result = p.push(bytes, &mut |e| {
                    meter.on_event(e.event, e.data);
                    usage_only |= strip && is_usage_only_chunk(e.data);
                });
                if let Err(overflow) = result {
                    self.broken.get_or_insert_with(|| overflow.to_string());
                }
            }
            Framing::EventStream(d) => {
                let result = d.push(bytes, &mut |m| {
                    let name = match m.message_type() {
                        Some("exception") => m.exception_type(),
                        Some("error") => m.error_code(),
                        _ => m.event_type(),
                    };
                    meter.on_event(name.unwrap_or_default().as_bytes(), m.payload());
                });
                if let Err(e) = result {
                    self.broken.get_or_insert_with(|| e.to_string());
                }
            }
            Framing::JsonArray(a) => {
                if let Err(e) = a.push(bytes, &mut |element| meter.on_event(b"", element)) {
                    self.broken.get_or_insert_with(|| e.to_string());
                }
            }
        }
        usage_only
    }
}
