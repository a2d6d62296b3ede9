//! One HTTP exchange through the filter: the client's request in, the upstream's response out,
//! each piece forwarded as soon as the filter releases it.

use std::collections::VecDeque;
use std::future::pending;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant as Deadline};

use super::access_log::Entry;
use super::conn::Conn;
use super::http1::{simple_response, BodyDecoder, BodyError, BodyEvent, Reader, RequestHead};
use super::request::prepare;
use super::respond::Downstream;
use super::upstream::{Msg, ResponseFuture, Sender, UpError};
use super::worker::WorkerCtx;
use crate::{LogLevel, StreamId, StreamInfo};

mod towards_upstream;

/// Request body messages in flight to hyper, and waiting here before the client is read again.
const CHANNEL: usize = 16;
const MAX_PENDING: usize = 8;
/// Bytes of a pipelined next request read while this one is served.
const MAX_PIPELINED: usize = 64 * 1024;

enum ClientEvent {
    Body(Result<BodyEvent, BodyError>),
    Read(std::io::Result<usize>),
}

struct Exchange<'a> {
    ctx: &'a Rc<WorkerCtx>,
    id: StreamId,
    /// The request body still being read.
    req: Option<BodyDecoder>,
    req_bytes: u64,
    up_tx: Option<mpsc::Sender<Msg>>,
    up_pending: VecDeque<Msg>,
    up_fut: Option<ResponseFuture>,
    up_body: Option<Incoming>,
    up_sender: Option<Sender>,
    up_request_ended: bool,
    up_response_ended: bool,
    up_abandoned: bool,
    down: Downstream,
}

/// Serves one request; `true` if the connection can carry another.
pub(crate) async fn exchange(ctx: &Rc<WorkerCtx>, conn: &mut Conn, head: RequestHead) -> bool {
    let started = Instant::now();
    let time = SystemTime::now();
    let p = match prepare(head) {
        Ok(p) => p,
        Err((status, why)) => {
            let _ = conn.writer.write_all(&simple_response(status, why)).await;
            return false;
        }
    };
    if p.expect_continue && p.body.is_some() && !p.http10 {
        let cont = conn
            .writer
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await;
        if cont.is_err() {
            return false;
        }
    }
    let info = StreamInfo {
        source: conn.peer.to_string(),
        destination: conn.local.to_string(),
        protocol: if p.http10 { "HTTP/1.0" } else { "HTTP/1.1" }.to_owned(),
        upstream: ctx.upstream.addr.to_string(),
        ..StreamInfo::default()
    };
    let (id, opened) = ctx.vm().open_inner(info);
    ctx.note(opened);
    let is_head = p.method.eq_ignore_ascii_case("HEAD");
    let mut ex = Exchange {
        ctx,
        id,
        req_bytes: 0,
        up_tx: None,
        up_pending: VecDeque::new(),
        up_fut: None,
        up_body: None,
        up_sender: None,
        up_request_ended: false,
        up_response_ended: false,
        up_abandoned: false,
        down: Downstream::new(p.te_trailers, p.http10, is_head, p.close),
        req: p.body,
    };
    let end = ex.req.is_none();
    ctx.call(|w| w.request_headers(id, p.headers, end));
    let keep = ex.run(conn).await;

    let finished = ctx.vm().finish_inner(id);
    ctx.after();
    let Ok((view, _crash)) = finished else {
        return false;
    };
    if let Some(log) = &ctx.settings.access_log {
        log.write(&Entry {
            time,
            worker: ctx.index,
            method: &p.method,
            path: &p.path,
            status: ex.down.status,
            duration_ms: started.elapsed().as_millis() as u64,
            request_bytes: ex.req_bytes,
            response_bytes: ex.down.bytes,
            filter_state: &view.filter_state,
            reset: view.reset.as_deref(),
        });
    }
    if ex.up_request_ended && ex.up_response_ended && ex.up_pending.is_empty() {
        if let Some(sender) = ex.up_sender.take() {
            ctx.upstream.release(sender);
        }
    }
    keep
}

async fn client(reader: &mut Reader, dec: Option<&mut BodyDecoder>) -> ClientEvent {
    match dec {
        Some(d) => ClientEvent::Body(reader.body(d).await),
        None => ClientEvent::Read(reader.fill().await),
    }
}

async fn reserve(tx: Option<mpsc::Sender<Msg>>) -> Option<mpsc::OwnedPermit<Msg>> {
    match tx {
        Some(tx) => tx.reserve_owned().await.ok(),
        None => pending().await,
    }
}

async fn response(
    fut: Option<&mut ResponseFuture>,
) -> Result<(http::Response<Incoming>, Sender), UpError> {
    match fut {
        Some(f) => f.await,
        None => pending().await,
    }
}

async fn frame(body: Option<&mut Incoming>) -> Option<Result<Frame<Bytes>, hyper::Error>> {
    match body {
        Some(b) => b.frame().await,
        None => pending().await,
    }
}

impl Exchange<'_> {
    async fn run(&mut self, conn: &mut Conn) -> bool {
        let idle = self.ctx.settings.idle_timeout;
        let mut deadline = Deadline::now() + idle;
        loop {
            if !self.pump(conn).await {
                return false;
            }
            if self.down.done {
                return !self.down.close && self.req.is_none() && !conn.reader.eof;
            }
            let reading = match &self.req {
                Some(_) => self.up_pending.len() < MAX_PENDING,
                None => !conn.reader.eof && conn.reader.buf.len() < MAX_PIPELINED,
            };
            let sending = !self.up_pending.is_empty();
            let ok = tokio::select! {
                ev = client(&mut conn.reader, self.req.as_mut()), if reading => self.on_client(ev),
                permit = reserve(self.up_tx.clone()), if sending => {
                    match (permit, self.up_pending.pop_front()) {
                        (Some(p), Some(m)) => { p.send(m); }
                        _ => self.up_pending.clear(),
                    }
                    true
                }
                r = response(self.up_fut.as_mut()) => self.on_response(r),
                f = frame(self.up_body.as_mut()) => self.on_frame(f),
                () = self.ctx.notify.notified() => continue,
                () = sleep_until(deadline) => self.on_idle(),
            };
            if !ok {
                return false;
            }
            deadline = Deadline::now() + idle;
        }
    }

    /// Forwards what the filter released; `false` if the stream is over for the connection.
    async fn pump(&mut self, conn: &mut Conn) -> bool {
        let Ok(out) = self.ctx.vm().take_released(self.id) else {
            return false;
        };
        if out.upstream_reset {
            self.abandon_upstream();
        } else if !out.upstream.is_empty() {
            self.forward_upstream(out.upstream);
        }
        if out.reset.is_some() {
            self.abandon_upstream();
            return false;
        }
        if out.downstream.is_empty() {
            return true;
        }
        if out.downstream.headers.is_some() {
            self.drain_buffered(&mut conn.reader);
        }
        let bytes = self.down.encode(out.downstream, self.req.is_some());
        if let Some(t) = self.down.dropped_trailers.take() {
            let names: Vec<&str> = t.iter().map(|(k, _)| k).collect();
            self.ctx.log(
                LogLevel::Debug,
                &format!("trailers {names:?} dropped: the client did not send TE: trailers"),
            );
        }
        let write = timeout(
            self.ctx.settings.idle_timeout,
            conn.writer.write_all(&bytes),
        );
        if bytes.is_empty() || matches!(write.await, Ok(Ok(()))) {
            return true;
        }
        self.reset("downstream_remote_disconnect");
        false
    }

    fn reset(&mut self, details: &str) {
        let id = self.id;
        self.ctx.call(|w| w.reset_stream(id, details));
        self.abandon_upstream();
    }

    fn on_client(&mut self, ev: ClientEvent) -> bool {
        let ev = match ev {
            ClientEvent::Body(Ok(ev)) => ev,
            ClientEvent::Read(Ok(n)) if n > 0 => return true,
            ClientEvent::Body(Err(BodyError::Malformed(why))) => {
                self.ctx
                    .log(LogLevel::Debug, &format!("bad request body: {why}"));
                self.reset("downstream_codec_error");
                return false;
            }
            ClientEvent::Body(Err(BodyError::Io(e))) | ClientEvent::Read(Err(e)) => {
                self.ctx
                    .log(LogLevel::Debug, &format!("client read failed: {e}"));
                self.reset("downstream_remote_disconnect");
                return false;
            }
            ClientEvent::Body(Err(BodyError::Eof)) | ClientEvent::Read(Ok(_)) => {
                self.reset("downstream_remote_disconnect");
                return false;
            }
        };
        self.feed(ev);
        true
    }

    /// Hands a piece of request body to the filter.
    fn feed(&mut self, ev: BodyEvent) {
        self.req_bytes += ev.data.len() as u64;
        if ev.end {
            self.req = None;
        }
        let id = self.id;
        match ev.trailers {
            Some(t) => self.ctx.call(|w| {
                if !ev.data.is_empty() {
                    w.request_body(id, &ev.data, false)?;
                }
                w.request_trailers(id, t)
            }),
            None if ev.end || !ev.data.is_empty() => {
                self.ctx.call(|w| w.request_body(id, &ev.data, ev.end))
            }
            None => {}
        }
    }

    /// Reads what the client already sent of the request body, without waiting: a response
    /// that goes out before the request ended (a local reply) can then keep the connection.
    fn drain_buffered(&mut self, reader: &mut Reader) {
        for _ in 0..64 {
            let Some(dec) = self.req.as_mut() else { return };
            match dec.decode(&mut reader.buf) {
                Ok(Some(ev)) => self.feed(ev),
                Ok(None) | Err(_) => return,
            }
        }
    }

    /// Envoy's stream idle timeout: 408 while no response started, else a reset.
    fn on_idle(&mut self) -> bool {
        let id = self.id;
        if self.down.head_sent() {
            self.reset("stream_idle_timeout");
            return false;
        }
        self.abandon_upstream();
        self.ctx.call(|w| w.idle_timeout(id));
        true
    }
}
