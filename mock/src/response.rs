//! API-independent response plumbing: a buffered [`MockResponse`] built by an
//! API module, and its delivery with the `x-mock-*` delivery overrides
//! (content type, delay, chunking, stream cut) applied.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use std::time::Duration;
use tokio::sync::mpsc;

use crate::overrides::{Overrides, DEFAULT_CHUNK_DELAY};

/// Least wait before a stream cut, so the pieces before it are flushed first.
const CUT_FLUSH_WAIT: Duration = Duration::from_millis(10);

/// A complete response before delivery.
#[derive(Debug, Clone)]
pub struct MockResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The whole body (for a stream, its events concatenated).
    pub body: Bytes,
    /// A stream's events (e.g. SSE), each delivered as its own flushed chunk
    /// with the chunk pause in between; `None` for an ordinary body.
    pub events: Option<Vec<Bytes>>,
}

impl MockResponse {
    /// A response with `content-type: application/json`.
    pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Self {
            status,
            headers,
            body: body.into(),
            events: None,
        }
    }

    /// A streamed response made of `events` (no headers yet).
    pub fn events(status: StatusCode, events: Vec<Bytes>) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: events.concat().into(),
            events: Some(events),
        }
    }

    /// An empty response.
    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            events: None,
        }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Converts to a hyper response with the whole body in one frame
    /// (`content-length` set).
    pub fn into_full(self) -> Response<MockBody> {
        let mut resp = Response::new(MockBody::Full(Some(self.body)));
        *resp.status_mut() = self.status;
        *resp.headers_mut() = self.headers;
        resp
    }
}

/// The body error that makes hyper drop the connection mid-body
/// (`x-mock-stream-cut`): no terminating chunk is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCut;

impl fmt::Display for StreamCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stream cut by x-mock-stream-cut")
    }
}

impl std::error::Error for StreamCut {}

/// Response body: either one buffer, or chunks fed by a background task
/// (sent with `transfer-encoding: chunked`; an `Err` aborts the connection).
#[derive(Debug)]
pub enum MockBody {
    Full(Option<Bytes>),
    Chunked(mpsc::Receiver<Result<Bytes, StreamCut>>),
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = StreamCut;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamCut>>> {
        match self.get_mut() {
            MockBody::Full(body) => Poll::Ready(body.take().map(|b| Ok(Frame::data(b)))),
            MockBody::Chunked(rx) => rx.poll_recv(cx).map(|c| c.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, MockBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            MockBody::Full(None) => SizeHint::with_exact(0),
            MockBody::Chunked(_) => SizeHint::default(),
        }
    }
}

/// Applies `x-mock-content-type`, `x-mock-delay-ms`, `x-mock-chunk-bytes`,
/// `x-mock-chunk-delay-ms` and `x-mock-stream-cut` to `resp`.
///
/// A stream's events are sent one chunk each (split further into
/// `x-mock-chunk-bytes` pieces if set); an ordinary body is chunked only with
/// `x-mock-chunk-bytes`. The cut counts events for a stream, chunks otherwise,
/// and does not apply to an unchunked body.
pub async fn deliver(mut resp: MockResponse, o: &Overrides) -> Response<MockBody> {
    if let Some(ct) = &o.content_type {
        resp.headers.insert(CONTENT_TYPE, ct.clone());
    }
    if let Some(delay) = o.delay {
        tokio::time::sleep(delay).await;
    }
    let pieces: Vec<Bytes> = match (resp.events.take(), o.chunk_bytes) {
        (Some(mut events), chunk) => {
            if let Some(n) = o.stream_cut {
                events.truncate(n);
            }
            match chunk {
                Some(size) => events.iter().flat_map(|e| split(e, size)).collect(),
                None => events,
            }
        }
        (None, Some(size)) => {
            let mut chunks = split(&resp.body, size);
            if let Some(n) = o.stream_cut {
                chunks.truncate(n);
            }
            chunks
        }
        (None, None) => return resp.into_full(),
    };
    let pause = o.chunk_delay.unwrap_or(DEFAULT_CHUNK_DELAY);
    // Capacity 1: each chunk is written (and flushed) before the next is queued.
    let (tx, rx) = mpsc::channel::<Result<Bytes, StreamCut>>(1);
    let cut = o.stream_cut.is_some();
    tokio::spawn(async move {
        let count = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            if tx.send(Ok(piece)).await.is_err() {
                return; // client went away
            }
            if i + 1 < count {
                tokio::time::sleep(pause).await;
            }
        }
        if cut {
            tokio::time::sleep(pause.max(CUT_FLUSH_WAIT)).await;
            let _ = tx.send(Err(StreamCut)).await;
        }
    });
    let mut out = Response::new(MockBody::Chunked(rx));
    *out.status_mut() = resp.status;
    *out.headers_mut() = resp.headers;
    out
}

/// `bytes` in pieces of at most `size` bytes (`size` > 0).
fn split(bytes: &Bytes, size: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = start.saturating_add(size.max(1)).min(bytes.len());
        out.push(bytes.slice(start..end));
        start = end;
    }
    out
}
