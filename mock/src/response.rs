//! API-independent response plumbing: a buffered [`MockResponse`] built by an
//! API module, and its delivery with the `x-mock-*` delivery overrides
//! (content type, delay, chunking) applied.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

use crate::overrides::{Overrides, DEFAULT_CHUNK_DELAY};

/// A complete response before delivery.
#[derive(Debug, Clone)]
pub struct MockResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
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
        }
    }

    /// An empty response.
    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
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

/// Response body: either one buffer, or chunks fed by a background task
/// (sent with `transfer-encoding: chunked`).
#[derive(Debug)]
pub enum MockBody {
    Full(Option<Bytes>),
    Chunked(mpsc::Receiver<Bytes>),
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            MockBody::Full(body) => Poll::Ready(body.take().map(|b| Ok(Frame::data(b)))),
            MockBody::Chunked(rx) => rx.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b)))),
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

/// Applies `x-mock-content-type`, `x-mock-delay-ms`, `x-mock-chunk-bytes` and
/// `x-mock-chunk-delay-ms` to `resp`.
pub async fn deliver(mut resp: MockResponse, o: &Overrides) -> Response<MockBody> {
    if let Some(ct) = &o.content_type {
        resp.headers.insert(CONTENT_TYPE, ct.clone());
    }
    if let Some(delay) = o.delay {
        tokio::time::sleep(delay).await;
    }
    let Some(chunk) = o.chunk_bytes else {
        return resp.into_full();
    };
    let pause = o.chunk_delay.unwrap_or(DEFAULT_CHUNK_DELAY);
    // Capacity 1: each chunk is written (and flushed) before the next is queued.
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    let body = resp.body;
    tokio::spawn(async move {
        let mut start = 0;
        while start < body.len() {
            let end = start.saturating_add(chunk).min(body.len());
            if tx.send(body.slice(start..end)).await.is_err() {
                return; // client went away
            }
            start = end;
            if start < body.len() {
                tokio::time::sleep(pause).await;
            }
        }
    });
    let mut out = Response::new(MockBody::Chunked(rx));
    *out.status_mut() = resp.status;
    *out.headers_mut() = resp.headers;
    out
}
