//! The downstream HTTP/1.1 codec: request heads and bodies in, response bytes out.
//!
//! Not hyper's server: hyper 1.x sends response trailers only when a `Trailer` header named
//! them before the body (`Encoder::encode_trailers` drops the rest), while the filter adds its
//! trailers in the last body callback, long after the headers went out. Envoy sends them.

use std::io;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;

use crate::HeaderMap;

/// Envoy's `max_request_headers_kb` default (60 KiB) and `max_headers_count` default (100).
pub(crate) const MAX_HEAD_BYTES: usize = 60 * 1024;
const MAX_HEADERS: usize = 100;
/// Longest chunk-size line, and most trailer bytes, accepted.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILER_BYTES: usize = MAX_HEAD_BYTES;

#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor: u8,
    /// Names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug)]
pub(crate) enum HeadError {
    Io(io::Error),
    /// 400.
    Malformed(String),
    /// 431.
    TooLarge,
}

#[derive(Debug)]
pub(crate) enum BodyError {
    Io(io::Error),
    /// The client closed the connection before the body ended.
    Eof,
    Malformed(&'static str),
}

/// A piece of request body: the data that arrived, and whether it ended (with trailers).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct BodyEvent {
    pub data: Vec<u8>,
    pub end: bool,
    pub trailers: Option<HeaderMap>,
}

/// Buffered reads from the client. Every await is a single `read_buf`, so the futures here
/// can be dropped at any await (by `select!`) without losing bytes.
pub(crate) struct Reader {
    io: OwnedReadHalf,
    pub buf: BytesMut,
    pub eof: bool,
}

impl Reader {
    pub fn new(io: OwnedReadHalf) -> Self {
        Reader {
            io,
            buf: BytesMut::with_capacity(16 * 1024),
            eof: false,
        }
    }

    /// Reads more bytes into the buffer; 0 at end of stream.
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        self.buf.reserve(16 * 1024);
        let n = self.io.read_buf(&mut self.buf).await?;
        if n == 0 {
            self.eof = true;
        }
        Ok(n)
    }

    /// The next request head; `Ok(None)` when the client closed the connection between
    /// requests.
    pub async fn head(&mut self) -> Result<Option<RequestHead>, HeadError> {
        loop {
            if !self.buf.is_empty() {
                if let Some((head, len)) = parse_head(&self.buf)? {
                    self.buf.advance(len);
                    return Ok(Some(head));
                }
                if self.buf.len() > MAX_HEAD_BYTES {
                    return Err(HeadError::TooLarge);
                }
            }
            if self.fill().await.map_err(HeadError::Io)? == 0 {
                return if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                    Ok(None)
                } else {
                    Err(HeadError::Malformed("incomplete request head".into()))
                };
            }
        }
    }

    /// The next piece of body.
    pub async fn body(&mut self, dec: &mut BodyDecoder) -> Result<BodyEvent, BodyError> {
        loop {
            if let Some(ev) = dec.decode(&mut self.buf)? {
                return Ok(ev);
            }
            if self.fill().await.map_err(BodyError::Io)? == 0 {
                return Err(BodyError::Eof);
            }
        }
    }
}

fn parse_head(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(e) => return Err(HeadError::Malformed(e.to_string())),
    };
    let head = RequestHead {
        method: req.method.unwrap_or("GET").to_owned(),
        target: req.path.unwrap_or("/").to_owned(),
        minor: req.version.unwrap_or(1),
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).trim().to_owned(),
                )
            })
            .collect(),
    };
    Ok(Some((head, len)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// Request body framing: a `content-length` count or chunked transfer coding.
#[derive(Debug)]
pub(crate) enum BodyDecoder {
    Length(u64),
    Chunked {
        state: Chunk,
        trailers: HeaderMap,
        trailer_bytes: usize,
    },
}

impl BodyDecoder {
    pub fn chunked() -> Self {
        BodyDecoder::Chunked {
            state: Chunk::Size,
            trailers: HeaderMap::new(),
            trailer_bytes: 0,
        }
    }

    /// Decodes what `buf` holds (consuming it). `None`: more input is needed. All data the
    /// buffer had is returned at once, with `end` if the body ended in it too (as Envoy hands
    /// the filter what one read brought).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BodyEvent>, BodyError> {
        match self {
            BodyDecoder::Length(rest) => {
                let n = (*rest).min(buf.len() as u64) as usize;
                if n == 0 && *rest > 0 {
                    return Ok(None);
                }
                *rest -= n as u64;
                Ok(Some(BodyEvent {
                    data: buf.split_to(n).to_vec(),
                    end: *rest == 0,
                    trailers: None,
                }))
            }
            BodyDecoder::Chunked {
                state,
                trailers,
                trailer_bytes,
            } => {
                let mut data = Vec::new();
                loop {
                    match *state {
                        Chunk::Size => {
                            let Some(line) = take_line(buf, MAX_CHUNK_LINE)? else {
                                break;
                            };
                            let size = std::str::from_utf8(&line)
                                .ok()
                                .map(|l| l.split(';').next().unwrap_or("").trim())
                                .filter(|s| !s.is_empty() && s.len() <= 16)
                                .and_then(|s| u64::from_str_radix(s, 16).ok())
                                .ok_or(BodyError::Malformed("bad chunk size"))?;
                            *state = if size == 0 {
                                Chunk::Trailers
                            } else {
                                Chunk::Data(size)
                            };
                        }
                        Chunk::Data(rest) => {
                            if buf.is_empty() {
                                break;
                            }
                            let n = rest.min(buf.len() as u64) as usize;
                            data.extend_from_slice(&buf.split_to(n));
                            *state = match rest - n as u64 {
                                0 => Chunk::DataEnd,
                                left => Chunk::Data(left),
                            };
                        }
                        Chunk::DataEnd => {
                            let Some(line) = take_line(buf, 2)? else {
                                break;
                            };
                            if !line.is_empty() {
                                return Err(BodyError::Malformed("chunk not followed by CRLF"));
                            }
                            *state = Chunk::Size;
                        }
                        Chunk::Trailers => {
                            let Some(line) = take_line(buf, MAX_TRAILER_BYTES)? else {
                                break;
                            };
                            if line.is_empty() {
                                *state = Chunk::Done;
                                let t = std::mem::take(trailers);
                                return Ok(Some(BodyEvent {
                                    data,
                                    end: true,
                                    trailers: (!t.is_empty()).then_some(t),
                                }));
                            }
                            *trailer_bytes += line.len();
                            if *trailer_bytes > MAX_TRAILER_BYTES {
                                return Err(BodyError::Malformed("trailers too large"));
                            }
                            let text = String::from_utf8_lossy(&line);
                            let (name, value) = text
                                .split_once(':')
                                .ok_or(BodyError::Malformed("bad trailer line"))?;
                            trailers.add(name.trim(), value.trim());
                        }
                        Chunk::Done => return Ok(None),
                    }
                }
                Ok((!data.is_empty()).then_some(BodyEvent {
                    data,
                    end: false,
                    trailers: None,
                }))
            }
        }
    }
}

/// One line without its line ending (CRLF, or a bare LF); `None` if no full line yet.
fn take_line(buf: &mut BytesMut, max: usize) -> Result<Option<Vec<u8>>, BodyError> {
    let Some(pos) = buf.iter().position(|b| *b == b'\n') else {
        if buf.len() > max {
            return Err(BodyError::Malformed("line too long"));
        }
        return Ok(None);
    };
    let mut line = buf.split_to(pos + 1).to_vec();
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn valid_value(value: &str) -> bool {
    !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// Writes `name: value` lines, skipping pseudo-headers and anything that would break framing.
pub(crate) fn write_fields<'a>(
    fields: impl Iterator<Item = (&'a str, &'a str)>,
    out: &mut Vec<u8>,
) {
    for (k, v) in fields {
        if k.starts_with(':') || !valid_name(k) || !valid_value(v) {
            continue;
        }
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// A status line and header block.
pub(crate) fn response_head(status: u16, headers: &HeaderMap) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
    write_fields(headers.iter(), &mut out);
    out.extend_from_slice(b"\r\n");
    out
}

pub(crate) fn chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk, with trailers if any.
pub(crate) fn last_chunk(trailers: Option<&HeaderMap>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n");
    if let Some(t) = trailers {
        write_fields(t.iter(), out);
    }
    out.extend_from_slice(b"\r\n");
}

/// A complete response the front sends on its own (malformed requests), closing the connection.
pub(crate) fn simple_response(status: u16, body: &str) -> Vec<u8> {
    let mut h = HeaderMap::new();
    h.add("content-length", &body.len().to_string());
    h.add("content-type", "text/plain");
    h.add("connection", "close");
    let mut out = response_head(status, &h);
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
#[path = "http1_tests.rs"]
mod tests;
