//! Incremental server-sent events (SSE) parsing. Not wired into the filter yet.
//!
//! [`SseParser`] follows the WHATWG HTML Living Standard, §9.2.6 "Interpreting an event stream"
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>):
//!
//! - one leading UTF-8 byte order mark is skipped (the spec decodes with "UTF-8 decode", which
//!   strips it);
//! - a line ends with CRLF, LF or CR; a CR that ends one chunk and an LF that starts the next are
//!   one line ending;
//! - a line starting with `:` is a comment; otherwise the field name is the text before the first
//!   `:` (the whole line if there is none) and the value the text after it, less one leading space;
//! - `event` sets the event type, `data` appends its value and an LF to the data buffer, `id` sets
//!   the last event ID unless the value contains NUL, `retry` sets the reconnection time if the
//!   value is ASCII digits only; other field names are ignored and names are case-sensitive;
//! - a blank line dispatches the event: nothing is dispatched while the data buffer is empty,
//!   otherwise its final LF is removed; the data and event type buffers are then cleared, the last
//!   event ID is kept;
//! - at the end of the stream an incomplete event is discarded ([`SseParser::finish`] says whether
//!   there was one).
//!
//! The parser works on bytes. Every delimiter is ASCII, and a UTF-8 decoder with replacement
//! never lets an invalid sequence swallow an ASCII byte, so cutting the raw bytes at the
//! delimiters and decoding each piece gives what decoding the whole stream first would. Values are
//! therefore handed out as raw bytes (`serde_json::from_slice` checks UTF-8 itself), and
//! [`Event::data_str`] decodes them with replacement (U+FFFD) exactly as the spec does. Invalid
//! UTF-8 never fails or panics.
//!
//! Chunks may be cut anywhere — inside a UTF-8 character, between CR and LF, inside a field name —
//! and give the same events. Only the current partial line, the pending event and the last event
//! ID are held, in buffers reused from event to event, so a steady stream allocates nothing. What
//! is held is capped (see [`SseParser::with_max_event_bytes`]): an event past the cap is discarded
//! and reported as an [`Overflow`], and parsing resumes after it.

use std::borrow::Cow;

mod blocks;
pub use blocks::{block_end, BlockScan};

/// The default cap on held bytes: 1 MiB, Envoy's default per-connection buffer limit.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// The UTF-8 encoding of U+FEFF BYTE ORDER MARK.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched event. It borrows the parser's buffers and lives for the callback only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event type buffer: the value of the block's last `event` field, empty when there was
    /// none. [`Event::event_type`] gives `message` for empty, as the spec does.
    pub event: &'a [u8],
    /// The data buffer: the block's `data` values joined with LF (the final LF removed).
    pub data: &'a [u8],
    /// The last event ID: the value of the stream's latest valid `id` field, in this block or an
    /// earlier one (the spec never resets it); empty when none was sent or `id` was empty.
    pub id: &'a [u8],
    /// The value of the last valid `retry` field in this block, in milliseconds (saturating at
    /// `u64::MAX`). [`SseParser::reconnection_time`] also sees one sent in a block with no data.
    pub retry: Option<u64>,
}

impl<'a> Event<'a> {
    /// The event's type: the `event` field's value, or `message` when it was absent or empty
    /// (dispatch step 6 of §9.2.6).
    pub fn event_type(&self) -> &'a [u8] {
        if self.event.is_empty() {
            b"message"
        } else {
            self.event
        }
    }

    /// The data decoded as the spec decodes the stream: UTF-8 with U+FFFD replacing invalid
    /// sequences. Borrowed (no copy) when the data is valid UTF-8.
    pub fn data_str(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.data)
    }

    /// Whether this is OpenAI's end-of-stream sentinel `data: [DONE]` (see [`is_done`]).
    pub fn is_done(&self) -> bool {
        is_done(self.data)
    }
}

/// Whether event data is OpenAI's `[DONE]` sentinel, which ends a Chat Completions or Completions
/// stream (<https://platform.openai.com/docs/api-reference/chat-streaming>). The test is a prefix
/// match, as in OpenAI's own SDK (openai-python `_streaming.py`:
/// `if sse.data.startswith("[DONE]"): break`), so the filter ends a stream where the client does.
pub fn is_done(data: &[u8]) -> bool {
    data.starts_with(b"[DONE]")
}

/// An event outgrew the parser's cap and was discarded. The rest of the chunk was still parsed:
/// events before it were delivered, and parsing resumes after the blank line that ends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow {
    /// The cap that was exceeded, in bytes.
    pub max_event_bytes: usize,
}

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "server-sent event larger than {} bytes discarded",
            self.max_event_bytes
        )
    }
}

impl std::error::Error for Overflow {}

/// How a stream ended, from [`SseParser::finish`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndOfStream {
    /// It ended between events: after a blank line, or after comments and blank lines only.
    Clean,
    /// It ended inside an event (a field line not yet followed by a blank line) or inside a line.
    /// The spec discards that event; for the filter, the stream was cut.
    Truncated,
}

/// Where the parser is in the optional byte order mark at the start of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// This many bytes of the BOM have been seen, and nothing else yet.
    Bom(u8),
    /// Past the start of the stream.
    Done,
}

/// An incremental SSE parser for one stream. Feed it every chunk with [`SseParser::push`], then
/// call [`SseParser::finish`] at the end of the stream.
#[derive(Debug)]
pub struct SseParser {
    max_event_bytes: usize,
    start: Start,
    /// The current line's bytes so far, when it began in an earlier chunk.
    line: Vec<u8>,
    /// The rest of the current line is ignored: it is a comment, or it overflowed.
    skip_line: bool,
    /// The last line ended with CR: an LF right after it belongs to that line ending.
    after_cr: bool,
    /// The data buffer: each `data` value followed by LF.
    data: Vec<u8>,
    /// The event type buffer.
    event: Vec<u8>,
    /// The last event ID buffer.
    id: Vec<u8>,
    /// A valid `retry` seen in the current block.
    retry: Option<u64>,
    /// The stream's reconnection time: the latest valid `retry`.
    reconnection_time: Option<u64>,
    /// A field line has been seen since the last blank line.
    in_event: bool,
    /// The current event overflowed: lines are dropped until the next blank line.
    skip_event: bool,
    /// An overflow happened during the current `push`.
    overflowed: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser holding at most [`DEFAULT_MAX_EVENT_BYTES`].
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A parser that holds at most `max_event_bytes` bytes of the stream. Counted are the
    /// pending event's data and event type, the last event ID, and the current line (in full,
    /// whether or not it had to be copied; comment lines are never held and never count). A line
    /// that would take the count past the cap discards its event, which is reported as an
    /// [`Overflow`]; how the stream is cut into chunks never changes whether that happens.
    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        Self {
            max_event_bytes,
            start: Start::Bom(0),
            line: Vec::new(),
            skip_line: false,
            after_cr: false,
            data: Vec::new(),
            event: Vec::new(),
            id: Vec::new(),
            retry: None,
            reconnection_time: None,
            in_event: false,
            skip_event: false,
            overflowed: false,
        }
    }

    /// The cap given at construction.
    pub fn max_event_bytes(&self) -> usize {
        self.max_event_bytes
    }

    /// The last event ID buffer: the latest valid `id` value, even one not yet dispatched.
    pub fn last_event_id(&self) -> &[u8] {
        &self.id
    }

    /// The stream's reconnection time in milliseconds: the latest valid `retry` value, even one
    /// in a block that dispatched nothing.
    pub fn reconnection_time(&self) -> Option<u64> {
        self.reconnection_time
    }

    /// Parses the next chunk of the stream and calls `out` for every event it completes, in
    /// order. Returns [`Overflow`] if an event outgrew the cap; the whole chunk was parsed anyway.
    pub fn push(&mut self, chunk: &[u8], out: &mut impl FnMut(Event<'_>)) -> Result<(), Overflow> {
        let mut rest = chunk;
        while let Start::Bom(seen) = self.start {
            let Some((&byte, tail)) = rest.split_first() else {
                break;
            };
            if BOM.get(usize::from(seen)) == Some(&byte) {
                rest = tail;
                self.start = if usize::from(seen) + 1 == BOM.len() {
                    Start::Done
                } else {
                    Start::Bom(seen + 1)
                };
            } else {
                // Not a BOM after all: the bytes taken for one are the start of the first line.
                self.start = Start::Done;
                self.feed(BOM.get(..usize::from(seen)).unwrap_or_default(), out);
            }
        }
        if self.start == Start::Done {
            self.feed(rest, out);
        }
        if std::mem::take(&mut self.overflowed) {
            Err(Overflow {
                max_event_bytes: self.max_event_bytes,
            })
        } else {
            Ok(())
        }
    }

    /// Ends the stream. Per the spec an incomplete event is discarded, never dispatched; the
    /// result says whether there was one. The parser is then as new (same cap), for a new stream.
    pub fn finish(&mut self) -> EndOfStream {
        let cut = self.in_event
            || self.skip_event
            || self.skip_line
            || !self.line.is_empty()
            || matches!(self.start, Start::Bom(seen) if seen > 0);
        *self = Self::with_max_event_bytes(self.max_event_bytes);
        if cut {
            EndOfStream::Truncated
        } else {
            EndOfStream::Clean
        }
    }

    /// Splits bytes (past the BOM) into lines and processes each complete one.
    fn feed(&mut self, bytes: &[u8], out: &mut impl FnMut(Event<'_>)) {
        let mut rest = bytes;
        if self.after_cr {
            if let Some((&first, tail)) = rest.split_first() {
                self.after_cr = false;
                if first == b'\n' {
                    rest = tail;
                }
            }
        }
        while let Some(end) = find_line_end(rest) {
            let (line, tail) = rest.split_at_checked(end).unwrap_or((rest, &[]));
            let Some((&terminator, tail)) = tail.split_first() else {
                break;
            };
            rest = tail;
            if terminator == b'\r' {
                match rest.split_first() {
                    Some((b'\n', tail)) => rest = tail,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            self.end_line(line, out);
        }
        self.partial_line(rest);
    }

    /// Takes bytes of a line whose end is in a later chunk.
    fn partial_line(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || self.skip_line {
            return;
        }
        if self.skip_event || self.line.is_empty() && bytes.first() == Some(&b':') {
            self.skip_line = true;
        } else if self.held() + bytes.len() > self.max_event_bytes {
            // The whole line will be longer still: this is the overflow `end_line` would find.
            self.overflow();
            self.skip_line = true;
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    /// Completes the current line with its last bytes, `tail`, and processes it. The cap is
    /// checked against the whole line however it was cut, so chunking never changes the result.
    fn end_line(&mut self, tail: &[u8], out: &mut impl FnMut(Event<'_>)) {
        if std::mem::take(&mut self.skip_line) {
            return;
        }
        let comment = self.line.first().or(tail.first()) == Some(&b':');
        if !comment && !self.skip_event && self.held() + tail.len() > self.max_event_bytes {
            return self.overflow();
        }
        if self.line.is_empty() {
            return self.process_line(tail, out);
        }
        let mut line = std::mem::take(&mut self.line);
        line.extend_from_slice(tail);
        self.process_line(&line, out);
        line.clear();
        self.line = line;
    }

    /// Processes one complete line, without its line ending (§9.2.6).
    fn process_line(&mut self, line: &[u8], out: &mut impl FnMut(Event<'_>)) {
        if line.is_empty() {
            if self.skip_event {
                self.skip_event = false;
                self.in_event = false;
            } else {
                self.dispatch(out);
            }
            return;
        }
        if self.skip_event || line.first() == Some(&b':') {
            return;
        }
        self.in_event = true;
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let (name, value) = line.split_at_checked(colon).unwrap_or((line, &[]));
                let value = value.get(1..).unwrap_or_default();
                (name, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        // `end_line` made sure the whole line fits beside what is held, so its value does too.
        match name {
            b"data" => {
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            b"event" => {
                self.event.clear();
                self.event.extend_from_slice(value);
            }
            b"id" if !value.contains(&0) => {
                self.id.clear();
                self.id.extend_from_slice(value);
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let millis = value.iter().fold(0u64, |n, &d| {
                    n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                self.retry = Some(millis);
                self.reconnection_time = Some(millis);
            }
            _ => {}
        }
    }

    /// Dispatches the pending event, if its data buffer is not empty, and clears the buffers.
    fn dispatch(&mut self, out: &mut impl FnMut(Event<'_>)) {
        self.in_event = false;
        let retry = self.retry.take();
        if !self.data.is_empty() {
            let data = self.data.strip_suffix(b"\n").unwrap_or(&self.data);
            out(Event {
                event: &self.event,
                data,
                id: &self.id,
                retry,
            });
        }
        self.data.clear();
        self.event.clear();
    }

    /// Bytes held: the partial line, the data and event type buffers, the last event ID.
    fn held(&self) -> usize {
        self.line.len() + self.data.len() + self.event.len() + self.id.len()
    }

    /// Discards the pending event and skips to its end. The last event ID is kept.
    fn overflow(&mut self) {
        self.overflowed = true;
        self.skip_event = true;
        self.in_event = true;
        self.retry = None;
        for buffer in [&mut self.line, &mut self.data, &mut self.event] {
            buffer.clear();
            buffer.shrink_to(4096);
        }
    }
}

/// The index of the first CR or LF in `bytes`. Eight bytes at a time: `has_zero(x)` flags each
/// zero byte of `x` in its high bit, exactly at least for the lowest one (a borrow only spreads
/// upwards), so the lowest flag of `LF-match | CR-match` is the first line ending.
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    const CRS: u64 = u64::from_ne_bytes([b'\r'; 8]);
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let word = u64::from_le_bytes(word);
        let found = has_zero(word ^ LFS) | has_zero(word ^ CRS);
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| offset + i)
}

#[cfg(test)]
mod tests;
