//! The upstream side: a per-worker pool of HTTP/1.1 connections (hyper's client), requests
//! built from the headers the filter released, and a request body fed as the filter releases
//! it.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{handshake, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::request::end_to_end;
use crate::HeaderMap;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the request body channel carries.
pub(crate) enum Msg {
    Frame(Frame<Bytes>),
    /// The body is complete. A channel closed without it aborts the request.
    End,
}

/// The upstream request body: empty, or fed through a channel.
pub(crate) enum UpBody {
    Empty,
    Chan { rx: mpsc::Receiver<Msg>, done: bool },
}

impl Body for UpBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            UpBody::Empty => Poll::Ready(None),
            UpBody::Chan { done: true, .. } => Poll::Ready(None),
            UpBody::Chan { rx, done } => match rx.poll_recv(cx) {
                Poll::Ready(Some(Msg::Frame(f))) => Poll::Ready(Some(Ok(f))),
                Poll::Ready(Some(Msg::End)) => {
                    *done = true;
                    Poll::Ready(None)
                }
                Poll::Ready(None) => {
                    *done = true;
                    Poll::Ready(Some(Err("request aborted".into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, UpBody::Empty | UpBody::Chan { done: true, .. })
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpBody::Empty => SizeHint::with_exact(0),
            UpBody::Chan { .. } => SizeHint::default(),
        }
    }
}

/// Why the upstream gave no response headers.
#[derive(Debug)]
pub(crate) enum UpError {
    /// Could not connect: Envoy's `remote_connection_failure`.
    Connect(std::io::Error),
    /// Connected, but the connection went away before the response headers:
    /// `connection_termination`.
    Reset(hyper::Error),
    /// The filter left headers hyper cannot send.
    Invalid(String),
}

pub(crate) type Sender = SendRequest<UpBody>;
pub(crate) type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<(http::Response<Incoming>, Sender), UpError>>>>;

/// One worker's connections to the upstream.
pub(crate) struct Upstream {
    pub addr: SocketAddr,
    idle: RefCell<Vec<Sender>>,
}

impl Upstream {
    pub fn new(addr: SocketAddr) -> Rc<Self> {
        Rc::new(Upstream {
            addr,
            idle: RefCell::new(Vec::new()),
        })
    }

    async fn connect(&self) -> Result<Sender, UpError> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(UpError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let (sender, conn) = handshake(TokioIo::new(tcp)).await.map_err(UpError::Reset)?;
        tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    fn pooled(&self) -> Option<Sender> {
        let mut idle = self.idle.borrow_mut();
        while let Some(s) = idle.pop() {
            if s.is_ready() && !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    /// Sends `req` on an idle connection, or a new one; a pooled connection that turns out
    /// closed before the request went out is replaced once.
    pub fn send(self: &Rc<Self>, mut req: http::Request<UpBody>) -> ResponseFuture {
        let this = Rc::clone(self);
        Box::pin(async move {
            if let Some(mut s) = this.pooled() {
                match s.try_send_request(req).await {
                    Ok(resp) => return Ok((resp, s)),
                    Err(mut e) => match e.take_message() {
                        Some(back) => req = back,
                        None => return Err(UpError::Reset(e.into_error())),
                    },
                }
            }
            let mut s = this.connect().await?;
            let resp = s.send_request(req).await.map_err(UpError::Reset)?;
            Ok((resp, s))
        })
    }

    /// Returns a connection whose exchange completed to the pool, once hyper says it is ready.
    pub fn release(self: &Rc<Self>, mut sender: Sender) {
        let this = Rc::clone(self);
        tokio::task::spawn_local(async move {
            let ready = tokio::time::timeout(Duration::from_secs(1), sender.ready()).await;
            if matches!(ready, Ok(Ok(()))) {
                let mut idle = this.idle.borrow_mut();
                if idle.len() < 64 {
                    idle.push(sender);
                }
            }
        });
    }
}

/// The request for the headers the filter released. `total`: the body's length when all of
/// it is known already (then `content-length` is exact); else a `content-length` the filter
/// left is kept, as Envoy forwards it, and without one the body goes chunked.
pub(crate) fn build_request(
    headers: &HeaderMap,
    total: Option<usize>,
    trailer_names: &[String],
    body: UpBody,
) -> Result<http::Request<UpBody>, UpError> {
    let method = headers.get(":method").unwrap_or("GET");
    let path = headers.get(":path").unwrap_or("/");
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, headers.get(":authority").unwrap_or(""));
    for (k, v) in end_to_end(headers.iter()) {
        if k.starts_with(':') || k == "host" || (k == "content-length" && total.is_some()) {
            continue;
        }
        b = b.header(k, v);
    }
    if let Some(n) = total.filter(|_| trailer_names.is_empty()) {
        if n > 0 || headers.contains("content-length") {
            b = b.header(http::header::CONTENT_LENGTH, n);
        }
    }
    if !trailer_names.is_empty() {
        // hyper only sends request trailers that a `trailer` header announced.
        b = b.header(http::header::TRAILER, trailer_names.join(", "));
    }
    b.body(body).map_err(|e| UpError::Invalid(e.to_string()))
}

/// The response headers as the filter gets them: `:status` first, no hop-by-hop ones.
pub(crate) fn response_map(parts: &http::response::Parts) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.add(":status", parts.status.as_str());
    let pairs: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    for (k, v) in end_to_end(pairs) {
        h.add(k, v);
    }
    h
}

/// Trailers for hyper.
pub(crate) fn trailer_map(t: &HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::new();
    for (k, v) in t.iter() {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            out.append(k, v);
        }
    }
    out
}

/// Trailers from hyper.
pub(crate) fn from_hyper(t: &http::HeaderMap) -> HeaderMap {
    t.iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect()
}
