//! AWS event stream (`application/vnd.amazon.eventstream`) decoding: the binary framing of Amazon
//! Bedrock's `ConverseStream` and `InvokeModelWithResponseStream` responses. Host-free; not wired
//! into the filter yet.
//!
//! # Wire format
//!
//! From the AWS SDKs' "Amazon Event Stream Specification"
//! (<https://smithy.io/2.0/aws/amazon-eventstream.html>) and the "Event stream encoding" pages
//! of Amazon Transcribe (<https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html>),
//! Amazon Lex V2 (<https://docs.aws.amazon.com/lexv2/latest/dg/event-stream-encoding.html>) and
//! S3 `SelectObjectContent`
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html>). A stream is
//! a sequence of messages; integers are big-endian:
//!
//! ```text
//! total_length   u32   the whole message, these 4 bytes and the message CRC included
//! headers_length u32   the bytes of the headers section
//! prelude_crc    u32   CRC-32 of the 8 bytes above
//! headers        [headers_length]
//! payload        [total_length - headers_length - 16]
//! message_crc    u32   CRC-32 of everything before it, prelude CRC included
//! ```
//!
//! The CRC is GZIP's (IEEE 802.3, RFC 1952). A header is a name length (u8, at least 1), the UTF-8
//! name, a type byte and a value: 0 `true` and 1 `false` (no value bytes), 2 byte (i8), 3 short
//! (i16), 4 integer (i32), 5 long (i64), 6 byte array and 7 UTF-8 string (u16 length, then the
//! bytes), 8 timestamp (i64 milliseconds since the Unix epoch), 9 UUID (16 bytes). Both CRCs
//! must be validated and the stream terminated when either is wrong, so a [`Decoder`] that meets
//! a bad message is poisoned: it never guesses where the next one starts.
//!
//! # Bedrock
//!
//! Bedrock sets the `:message-type` (`event` or `exception`), `:event-type`, `:exception-type`
//! and `:content-type` headers of the specification's "Amazon Event Semantics"; payloads are JSON.
//! `ConverseStream`
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html>)
//! sends the `ConverseStreamOutput` members: `messageStart`, `contentBlockStart`,
//! `contentBlockDelta`, `contentBlockStop`, `messageStop`, `metadata` (with `usage`) and
//! exceptions such as `throttlingException`. `InvokeModelWithResponseStream`
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html>)
//! sends `chunk` events whose payload, `{"bytes":"<base64>"}`, wraps the model's own streaming
//! JSON; [`decode_invoke_chunk`] unwraps it.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;

/// The default cap on one message: 16 MiB, the limit of AWS's C event stream library
/// (`AWS_EVENT_STREAM_MAX_MESSAGE_SIZE` in awslabs/aws-c-event-stream). Bedrock's largest frames,
/// `PayloadPart`s of at most 1,000,000 base64 characters, fit with room to spare. The
/// specification allows other services payloads of up to 24 MB plus 128 kB of headers; raise the
/// cap with [`Decoder::with_max_message_bytes`] for those.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Prelude (12 bytes) plus message CRC (4 bytes): the smallest possible message.
const OVERHEAD: u32 = 16;
const PRELUDE: usize = 12;
/// After a frame this large has been delivered, its buffer is freed rather than kept for reuse.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Why a stream could not be decoded. After any of these the [`Decoder`] is poisoned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The prelude CRC does not match the first 8 bytes of the message.
    PreludeCrc { expected: u32, computed: u32 },
    /// The message CRC does not match the bytes before it.
    MessageCrc { expected: u32, computed: u32 },
    /// `total_length` (`total`) is below 16, or `headers_length` exceeds `total - 16`.
    InvalidLength { total: u32, headers: u32 },
    /// The message's `total_length` exceeds the decoder's cap; nothing was allocated for it.
    TooLarge { total: u32, max: usize },
    /// A header could not be parsed; `offset` is where it starts within the headers section.
    MalformedHeader { offset: usize, reason: HeaderError },
    /// The stream ended inside a message ([`Decoder::finish`]).
    Truncated { buffered: usize },
}

/// What is wrong with a malformed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The name length is 0; the specification requires at least one byte.
    EmptyName,
    /// The name is not UTF-8.
    NameNotUtf8,
    /// The type byte is not one of 0–9.
    UnknownType(u8),
    /// A string value is not UTF-8.
    ValueNotUtf8,
    /// The header runs past the end of the headers section.
    Truncated,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event stream: ")?;
        match self {
            Error::PreludeCrc { expected, computed } => {
                write!(
                    f,
                    "prelude CRC is {computed:#010x}, frame says {expected:#010x}"
                )
            }
            Error::MessageCrc { expected, computed } => {
                write!(
                    f,
                    "message CRC is {computed:#010x}, frame says {expected:#010x}"
                )
            }
            Error::InvalidLength { total, headers } => {
                write!(f, "impossible lengths: total {total}, headers {headers}")
            }
            Error::TooLarge { total, max } => {
                write!(f, "{total}-byte message over the {max}-byte cap")
            }
            Error::MalformedHeader { offset, reason } => {
                write!(f, "malformed header at offset {offset}: {reason:?}")
            }
            Error::Truncated { buffered } => write!(f, "ended {buffered} bytes into a message"),
        }
    }
}

impl std::error::Error for Error {}

/// A typed header value. Byte arrays and strings borrow from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValue<'a> {
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    ByteArray(&'a [u8]),
    String(&'a str),
    /// Milliseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    Uuid([u8; 16]),
}

impl<'a> HeaderValue<'a> {
    /// The value if it is a string header.
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            HeaderValue::String(s) => Some(s),
            _ => None,
        }
    }
}

/// One header of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a str,
    pub value: HeaderValue<'a>,
}

/// One decoded, CRC-checked message. It borrows the pushed chunk or the decoder's buffer, so it
/// lives only for the callback; copy out what must outlive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    headers: &'a [u8],
    payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// The headers in wire order.
    pub fn headers(&self) -> Headers<'a> {
        Headers(self.headers)
    }

    /// The value of the header named exactly `name` (case-sensitive); the first one if the
    /// (non-conforming) message repeats it.
    pub fn header(&self, name: &str) -> Option<HeaderValue<'a>> {
        self.headers().find(|h| h.name == name).map(|h| h.value)
    }

    /// The value of the header named `name` if it is a string header.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.header(name).and_then(|v| v.as_str())
    }

    /// The payload bytes (JSON for Bedrock).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// `:event-type`, e.g. `contentBlockDelta`, `metadata` or `chunk`.
    pub fn event_type(&self) -> Option<&'a str> {
        self.header_str(":event-type")
    }

    /// `:message-type`: `event`, `exception` (a modeled error) or `error` (an unmodeled one).
    pub fn message_type(&self) -> Option<&'a str> {
        self.header_str(":message-type")
    }

    /// `:exception-type` of an `exception` message, e.g. `throttlingException`.
    pub fn exception_type(&self) -> Option<&'a str> {
        self.header_str(":exception-type")
    }

    /// `:content-type` of the payload, e.g. `application/json`.
    pub fn content_type(&self) -> Option<&'a str> {
        self.header_str(":content-type")
    }

    /// `:error-code` of an unmodeled `error` message.
    pub fn error_code(&self) -> Option<&'a str> {
        self.header_str(":error-code")
    }

    /// `:error-message` of an unmodeled `error` message.
    pub fn error_message(&self) -> Option<&'a str> {
        self.header_str(":error-message")
    }
}

/// The name a stream meter ([`crate::providers::StreamMeter::on_event`]) gets for a message:
/// `:exception-type` for an `exception` message, `:error-code` for an unmodeled `error`
/// message, `:event-type` otherwise.
pub fn event_name<'a>(m: &Message<'a>) -> Option<&'a str> {
    match m.message_type() {
        Some("exception") => m.exception_type(),
        Some("error") => m.error_code(),
        _ => m.event_type(),
    }
}

/// Iterator over a message's headers, which were validated when the message was decoded.
#[derive(Debug, Clone)]
pub struct Headers<'a>(&'a [u8]);

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        let mut cursor = Cursor(self.0);
        let header = read_header(&mut cursor).ok();
        self.0 = if header.is_some() { cursor.0 } else { &[] };
        header
    }
}

/// Incremental decoder: feed the response body in chunks of any size with [`Decoder::push`]. Only
/// the current partial message is buffered, never more than the cap.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// `total_length` of the message being buffered, once its prelude has been validated.
    expected: Option<usize>,
    max_message_bytes: usize,
    poisoned: Option<Error>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the [`DEFAULT_MAX_MESSAGE_BYTES`] cap.
    pub fn new() -> Self {
        Self::with_max_message_bytes(DEFAULT_MAX_MESSAGE_BYTES)
    }

    /// A decoder that rejects messages whose `total_length` exceeds `max` (16, the smallest
    /// message, is always accepted).
    pub fn with_max_message_bytes(max: usize) -> Self {
        let max_message_bytes = max.max(OVERHEAD as usize);
        Decoder {
            buf: Vec::new(),
            expected: None,
            max_message_bytes,
            poisoned: None,
        }
    }

    /// Decodes `chunk`, calling `out` for every message it completes, in order. Messages that
    /// precede a bad one in the same chunk are still delivered. On error the decoder is
    /// poisoned: its buffer is freed and every later call returns the same error.
    pub fn push(&mut self, chunk: &[u8], out: &mut impl FnMut(Message<'_>)) -> Result<(), Error> {
        if let Some(e) = &self.poisoned {
            return Err(e.clone());
        }
        let result = self.push_inner(chunk, out);
        if let Err(e) = &result {
            self.poisoned = Some(e.clone());
            self.buf = Vec::new();
            self.expected = None;
        }
        result
    }

    /// At the end of the stream: `Ok` if it ended between messages, [`Error::Truncated`] if a
    /// message was pending, or the error that poisoned the decoder.
    pub fn finish(&self) -> Result<(), Error> {
        let buffered = self.buf.len();
        match &self.poisoned {
            Some(e) => Err(e.clone()),
            None if buffered == 0 => Ok(()),
            None => Err(Error::Truncated { buffered }),
        }
    }

    /// The error that poisoned the decoder, if any.
    pub fn error(&self) -> Option<&Error> {
        self.poisoned.as_ref()
    }

    /// Bytes of the pending partial message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Buffers `bytes`, growing geometrically but never past the pending message's length.
    fn append(&mut self, bytes: &[u8]) {
        if let Some(total) = self.expected {
            let len = self.buf.len();
            let target = (self.buf.capacity() * 2).max(len + bytes.len()).min(total);
            self.buf.reserve_exact(target.saturating_sub(len));
        }
        self.buf.extend_from_slice(bytes);
    }

    fn push_inner(
        &mut self,
        mut chunk: &[u8],
        out: &mut impl FnMut(Message<'_>),
    ) -> Result<(), Error> {
        let max = self.max_message_bytes;
        while !chunk.is_empty() {
            if self.buf.is_empty() {
                // Fast path: decode whole messages straight from the chunk, without copying.
                if let Some(prelude) = chunk.first_chunk::<PRELUDE>() {
                    let total = check_prelude(prelude, max)?;
                    if let Some((frame, rest)) = chunk.split_at_checked(total) {
                        out(decode_frame(frame)?);
                        chunk = rest;
                        continue;
                    }
                    self.expected = Some(total);
                }
                self.append(chunk);
                return Ok(());
            }
            // Slow path: complete the buffered prelude, then the buffered message.
            let want = self.expected.unwrap_or(PRELUDE);
            let need = want.saturating_sub(self.buf.len());
            let (take, rest) = chunk.split_at_checked(need).unwrap_or((chunk, &[]));
            self.append(take);
            chunk = rest;
            if self.buf.len() < want {
                return Ok(());
            }
            if self.expected.is_none() {
                let prelude = self.buf.first_chunk::<PRELUDE>();
                let prelude = prelude.ok_or(Error::Truncated { buffered: 0 })?;
                self.expected = Some(check_prelude(prelude, max)?);
                continue;
            }
            out(decode_frame(&self.buf)?);
            self.expected = None;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        }
        Ok(())
    }
}

/// The prelude's fields: total length, headers length, prelude CRC.
fn prelude_fields(prelude: &[u8; PRELUDE]) -> (u32, u32, u32) {
    let [t0, t1, t2, t3, h0, h1, h2, h3, c0, c1, c2, c3] = *prelude;
    let be = u32::from_be_bytes;
    (
        be([t0, t1, t2, t3]),
        be([h0, h1, h2, h3]),
        be([c0, c1, c2, c3]),
    )
}

/// Validates a prelude (its CRC first, so corrupt lengths are reported as such) and returns the
/// message's total length.
fn check_prelude(prelude: &[u8; PRELUDE], max: usize) -> Result<usize, Error> {
    let (total, headers, expected) = prelude_fields(prelude);
    let computed = crc32fast::hash(prelude.get(..8).unwrap_or_default());
    if expected != computed {
        return Err(Error::PreludeCrc { expected, computed });
    }
    if total < OVERHEAD || headers > total - OVERHEAD {
        return Err(Error::InvalidLength { total, headers });
    }
    if total as usize > max {
        return Err(Error::TooLarge { total, max });
    }
    Ok(total as usize)
}

/// Decodes one complete frame whose prelude has been validated (`frame.len()` is its total
/// length): checks the message CRC and every header.
fn decode_frame(frame: &[u8]) -> Result<Message<'_>, Error> {
    let short = || Error::Truncated {
        buffered: frame.len(),
    };
    let (body, crc) = frame.split_last_chunk::<4>().ok_or_else(short)?;
    let expected = u32::from_be_bytes(*crc);
    let computed = crc32fast::hash(body);
    if expected != computed {
        return Err(Error::MessageCrc { expected, computed });
    }
    let (prelude, data) = body.split_first_chunk::<PRELUDE>().ok_or_else(short)?;
    let headers_length = prelude_fields(prelude).1 as usize;
    let (headers, payload) = data.split_at_checked(headers_length).ok_or_else(short)?;
    let mut cursor = Cursor(headers);
    while !cursor.0.is_empty() {
        let offset = headers.len() - cursor.0.len();
        read_header(&mut cursor).map_err(|reason| Error::MalformedHeader { offset, reason })?;
    }
    Ok(Message { headers, payload })
}

/// The unread rest of a headers section.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HeaderError> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(HeaderError::Truncated)?;
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], HeaderError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(HeaderError::Truncated)?;
        self.0 = rest;
        Ok(*head)
    }

    /// A byte array or string value: u16 length, then the bytes.
    fn sized(&mut self) -> Result<&'a [u8], HeaderError> {
        let len = u16::from_be_bytes(self.array()?);
        self.take(usize::from(len))
    }
}

fn read_header<'a>(c: &mut Cursor<'a>) -> Result<Header<'a>, HeaderError> {
    let utf8 = |bytes, e| std::str::from_utf8(bytes).map_err(|_| e);
    let [name_len] = c.array()?;
    if name_len == 0 {
        return Err(HeaderError::EmptyName);
    }
    let name = utf8(c.take(usize::from(name_len))?, HeaderError::NameNotUtf8)?;
    let [value_type] = c.array()?;
    let value = match value_type {
        0 => HeaderValue::Bool(true),
        1 => HeaderValue::Bool(false),
        2 => HeaderValue::Byte(i8::from_be_bytes(c.array()?)),
        3 => HeaderValue::Short(i16::from_be_bytes(c.array()?)),
        4 => HeaderValue::Int(i32::from_be_bytes(c.array()?)),
        5 => HeaderValue::Long(i64::from_be_bytes(c.array()?)),
        6 => HeaderValue::ByteArray(c.sized()?),
        7 => HeaderValue::String(utf8(c.sized()?, HeaderError::ValueNotUtf8)?),
        8 => HeaderValue::Timestamp(i64::from_be_bytes(c.array()?)),
        9 => HeaderValue::Uuid(c.array()?),
        other => return Err(HeaderError::UnknownType(other)),
    };
    Ok(Header { name, value })
}

/// Why an `InvokeModelWithResponseStream` chunk could not be unwrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// The payload is not a JSON object with a string `bytes` member.
    NotPayloadPart,
    /// `bytes` is not valid base64.
    Base64,
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkError::NotPayloadPart => "chunk payload is not {\"bytes\": \"<base64>\"}",
            ChunkError::Base64 => "chunk `bytes` is not valid base64",
        })
    }
}

impl std::error::Error for ChunkError {}

#[derive(serde::Deserialize)]
struct PayloadPart<'a> {
    #[serde(borrow)]
    bytes: Cow<'a, str>,
}

/// Unwraps the payload of an `InvokeModelWithResponseStream` `chunk` event, a `PayloadPart`
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_PayloadPart.html>)
/// `{"bytes":"<base64>"}`, into the model's own bytes (for Anthropic models, one Messages API
/// streaming event as JSON). Other members are ignored; padding in the base64 is optional.
pub fn decode_invoke_chunk(payload: &[u8]) -> Result<Vec<u8>, ChunkError> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let part: PayloadPart<'_> =
        serde_json::from_slice(payload).map_err(|_| ChunkError::NotPayloadPart)?;
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let engine = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    engine
        .decode(part.bytes.as_bytes())
        .map_err(|_| ChunkError::Base64)
}

#[cfg(test)]
pub(crate) mod encode_for_tests;
#[cfg(test)]
mod tests;
