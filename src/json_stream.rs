//! Incremental splitting of a JSON array that arrives in pieces, into its top-level elements.
//!
//! Gemini's `streamGenerateContent` without `alt=sse` answers with one JSON array of
//! `GenerateContentResponse` objects, written out element by element as the model generates
//! (<https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent>; Vertex
//! AI's `streamGenerateContent` does the same,
//! <https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference>):
//!
//! ```text
//! [{
//!   "candidates": [...]
//! }
//! ,
//! {
//!   "candidates": [...], "usageMetadata": {...}
//! }
//! ]
//! ```
//!
//! [`JsonArrayStream`] hands out the bytes of each complete top-level element as soon as its
//! closing bracket arrives. It is a splitter, not a validator:
//!
//! - Between elements it is strict: the stream is whitespace (space, tab, CR, LF), `[`, then
//!   elements separated by single commas, then `]`, then whitespace only. Anything else there —
//!   a leading byte that is not `[`, a missing or doubled comma, a trailing comma, bytes after
//!   the closing `]` — is [`JsonStreamError::Invalid`] and poisons the stream: that error is
//!   returned again by every later [`JsonArrayStream::push`] and by [`JsonArrayStream::finish`],
//!   and nothing more is handed out.
//! - An element is an object or an array (a scalar element is `Invalid`). Inside it only the
//!   nesting depth and whether the scanner is inside a string (and after a backslash in one)
//!   are tracked, so brackets, commas and escaped quotes inside strings are never taken for
//!   structure. Bracket kinds are not matched and nothing else is checked: the element's bytes
//!   go to `serde_json`, which rejects a malformed one.
//! - A body that is one bare object instead of an array (the form of an error reply) is taken
//!   as a stream of that one element.
//!
//! Every delimiter is ASCII and no byte of a multi-byte UTF-8 character is ASCII, so chunks may
//! be cut anywhere, inside a character included, and give the same elements.
//!
//! **Memory and time.** Only the current element's bytes are held, and only when it spans
//! chunks; an element that starts and ends within one chunk is handed out straight from it. The
//! scanner state (depth, in-string, escape) is kept between chunks, so every byte is scanned once
//! however the stream is cut. An element longer than the cap is discarded and reported as
//! [`JsonStreamError::Overflow`]; it is still scanned, not held, so splitting resumes after it.
//! Whether an element overflows depends on its length only, never on how it was cut.

use std::fmt;

/// The default cap on one element: 1 MiB, Envoy's default per-connection buffer limit.
pub const DEFAULT_MAX_ELEMENT_BYTES: usize = 1 << 20;

/// Why a stream could not be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonStreamError {
    /// An element longer than `max_element_bytes` was discarded. The rest of the chunk was still
    /// split, and splitting resumes after the element.
    Overflow { max_element_bytes: usize },
    /// `byte`, at `offset` in the stream (counted from its first byte), cannot appear there.
    /// The stream is poisoned.
    Invalid { offset: u64, byte: u8 },
    /// The stream ended inside an element or before the array was closed (or was empty).
    Truncated,
}

impl fmt::Display for JsonStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonStreamError::Overflow { max_element_bytes } => write!(
                f,
                "JSON stream element larger than {max_element_bytes} bytes discarded"
            ),
            JsonStreamError::Invalid { offset, byte } => write!(
                f,
                "unexpected byte 0x{byte:02x} at offset {offset} of the JSON array stream"
            ),
            JsonStreamError::Truncated => f.write_str("JSON array stream ended early"),
        }
    }
}

impl std::error::Error for JsonStreamError {}

/// Where the splitter is, outside the scanner state of an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Only whitespace so far: `[` (or a bare object) comes next.
    Start,
    /// After `[`: an element or `]`.
    First,
    /// After an element: `,` or `]`.
    AfterElement,
    /// After a comma: an element.
    AfterComma,
    /// Inside an element.
    Element,
    /// After the closing `]`, or after a bare object: whitespace only.
    End,
}

/// An incremental splitter for one JSON array stream. Feed it every chunk with
/// [`JsonArrayStream::push`], then call [`JsonArrayStream::finish`] at the end of the stream.
#[derive(Debug)]
pub struct JsonArrayStream {
    max_element_bytes: usize,
    state: State,
    /// The stream is a bare object rather than an array.
    bare: bool,
    /// Open brackets in the current element.
    depth: u64,
    in_string: bool,
    /// The previous byte was a backslash inside a string.
    escape: bool,
    /// The current element's bytes from earlier chunks.
    held: Vec<u8>,
    /// The current element overflowed: it is scanned to its end, not held.
    skipping: bool,
    /// Stream offset of the next chunk's first byte.
    offset: u64,
    /// The error that poisoned the stream.
    poisoned: Option<JsonStreamError>,
}

impl Default for JsonArrayStream {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ELEMENT_BYTES)
    }
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl JsonArrayStream {
    /// A splitter that holds and hands out elements of at most `max_element_bytes` bytes.
    pub fn new(max_element_bytes: usize) -> Self {
        Self {
            max_element_bytes,
            state: State::Start,
            bare: false,
            depth: 0,
            in_string: false,
            escape: false,
            held: Vec::new(),
            skipping: false,
            offset: 0,
            poisoned: None,
        }
    }

    /// The cap given at construction.
    pub fn max_element_bytes(&self) -> usize {
        self.max_element_bytes
    }

    /// Splits the next chunk and calls `out` with the bytes of every element it completes, in
    /// order. Returns [`JsonStreamError::Overflow`] if an element outgrew the cap (the whole
    /// chunk was split anyway), or [`JsonStreamError::Invalid`] for a byte out of place (the
    /// elements before it were handed out; the stream is poisoned).
    pub fn push(
        &mut self,
        chunk: &[u8],
        out: &mut impl FnMut(&[u8]),
    ) -> Result<(), JsonStreamError> {
        if let Some(e) = self.poisoned {
            return Err(e);
        }
        let result = self.split(chunk, out);
        self.offset = self.offset.saturating_add(chunk.len() as u64);
        result
    }

    fn split(&mut self, chunk: &[u8], out: &mut impl FnMut(&[u8])) -> Result<(), JsonStreamError> {
        let mut overflowed = false;
        // Where the current element starts in `chunk`: 0 for one that began in an earlier chunk.
        let mut start = 0;
        let mut i = 0;
        while let Some(&b) = chunk.get(i) {
            if self.state == State::Element {
                let rest = chunk.get(i..).unwrap_or_default();
                match self.scan(rest) {
                    Some(end) => {
                        let last = i + end;
                        let piece = chunk.get(start..=last).unwrap_or_default();
                        overflowed |= !self.complete(piece, out);
                        self.state = if self.bare {
                            State::End
                        } else {
                            State::AfterElement
                        };
                        i = last + 1;
                    }
                    None => {
                        overflowed |= !self.hold(chunk.get(start..).unwrap_or_default());
                        i = chunk.len();
                    }
                }
                continue;
            }
            if !is_whitespace(b) {
                let begins = match (self.state, b) {
                    (State::Start, b'[') => {
                        self.state = State::First;
                        false
                    }
                    (State::Start, b'{') => {
                        self.bare = true;
                        true
                    }
                    (State::First | State::AfterElement, b']') => {
                        self.state = State::End;
                        false
                    }
                    (State::First | State::AfterComma, b'{' | b'[') => true,
                    (State::AfterElement, b',') => {
                        self.state = State::AfterComma;
                        false
                    }
                    _ => {
                        let e = JsonStreamError::Invalid {
                            offset: self.offset.saturating_add(i as u64),
                            byte: b,
                        };
                        self.poisoned = Some(e);
                        return Err(e);
                    }
                };
                if begins {
                    // The element's opening bracket: the scanner takes it from here.
                    self.begin_element();
                    start = i;
                    continue;
                }
            }
            i += 1;
        }
        if overflowed {
            Err(JsonStreamError::Overflow {
                max_element_bytes: self.max_element_bytes,
            })
        } else {
            Ok(())
        }
    }

    fn begin_element(&mut self) {
        self.state = State::Element;
        self.depth = 0;
        self.in_string = false;
        self.escape = false;
        self.skipping = false;
    }

    /// Scans element bytes, carrying the scanner state over; the index of the byte that closes
    /// the element, or `None` if it goes on past `bytes`.
    fn scan(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if self.in_string {
                if self.escape {
                    self.escape = false;
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_string = false;
                } else {
                    // Skip plain string bytes up to the next quote or backslash.
                    let rest = bytes.get(i..).unwrap_or_default();
                    i += rest.iter().position(|&c| c == b'"' || c == b'\\')?;
                    continue;
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth = self.depth.saturating_add(1),
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            return Some(i);
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        None
    }

    /// The element ends with `piece` (its bytes in this chunk): hands it out unless it
    /// overflowed. Returns false for an overflow found now.
    fn complete(&mut self, piece: &[u8], out: &mut impl FnMut(&[u8])) -> bool {
        if std::mem::take(&mut self.skipping) {
            return true;
        }
        if self.held.len().saturating_add(piece.len()) > self.max_element_bytes {
            self.drop_held();
            return false;
        }
        if self.held.is_empty() {
            out(piece);
        } else {
            self.held.extend_from_slice(piece);
            out(&self.held);
            self.held.clear();
        }
        true
    }

    /// Keeps the bytes of an element that goes on in a later chunk. Returns false for an
    /// overflow found now.
    fn hold(&mut self, piece: &[u8]) -> bool {
        if self.skipping {
            return true;
        }
        if self.held.len().saturating_add(piece.len()) > self.max_element_bytes {
            self.drop_held();
            self.skipping = true;
            return false;
        }
        self.held.extend_from_slice(piece);
        true
    }

    fn drop_held(&mut self) {
        self.held.clear();
        self.held.shrink_to(4096);
    }

    /// Ends the stream: `Ok` when the array was closed (or the bare object ended) and only
    /// whitespace followed; [`JsonStreamError::Truncated`] when the stream stopped inside an
    /// element or before `]` (an empty stream included); the poisoning error if there was one.
    /// The splitter is then as new (same cap), for a new stream.
    pub fn finish(&mut self) -> Result<(), JsonStreamError> {
        let result = match (self.poisoned, self.state) {
            (Some(e), _) => Err(e),
            (None, State::End) => Ok(()),
            (None, _) => Err(JsonStreamError::Truncated),
        };
        *self = Self::new(self.max_element_bytes);
        result
    }
}

#[cfg(test)]
mod tests;
