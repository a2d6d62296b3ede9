//! For a front that forwards a stream to real peers: what the filter released since the last
//! look, and the events only real peers produce (disconnects, an unreachable upstream).

use crate::error::HostError;
use crate::headers::HeaderMap;
use crate::stream::{Half, LocalReply, StreamId};
use crate::vm::Worker;

/// What one peer can be sent now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Released {
    /// The headers, the first time they are taken (`:status` or `:method`/`:path`/`:authority`
    /// among them).
    pub headers: Option<HeaderMap>,
    /// Body bytes released since the last take.
    pub body: Vec<u8>,
    /// The trailers, the first time they are taken.
    pub trailers: Option<HeaderMap>,
    /// The peer now has everything: end of stream (reported once).
    pub end: bool,
}

impl Released {
    pub fn is_empty(&self) -> bool {
        self.headers.is_none() && self.body.is_empty() && self.trailers.is_none() && !self.end
    }
}

/// What changed for both peers of a stream since the last [`Worker::take_released`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    /// For the upstream (the request).
    pub upstream: Released,
    /// For the downstream client (the response).
    pub downstream: Released,
    /// The upstream request was abandoned (a local reply or a reset cut it short): stop
    /// sending it and drop its response.
    pub upstream_reset: bool,
    /// The stream was reset: the client gets no (more) response; close its connection.
    pub reset: Option<String>,
}

fn take(h: &mut Half) -> Released {
    let mut r = Released::default();
    if !h.taken.headers {
        if let Some(headers) = &h.out_headers {
            r.headers = Some(headers.clone());
            h.taken.headers = true;
        }
    }
    if !h.taken.headers {
        return r;
    }
    r.body = std::mem::take(&mut h.out_body);
    h.taken.body += r.body.len();
    if !h.taken.trailers {
        if let Some(t) = &h.out_trailers {
            r.trailers = Some(t.clone());
            h.taken.trailers = true;
        }
    }
    if h.out_complete && !h.taken.end {
        r.end = true;
        h.taken.end = true;
    }
    r
}

impl Worker {
    /// Takes what the filter released to each peer since the last call. Bodies are handed out
    /// once and removed from the stream, so a front never holds more than it forwards; the
    /// stream's [`crate::StreamView`] then shows only what was not taken.
    pub fn take_released(&mut self, id: StreamId) -> Result<Output, HostError> {
        let ctx = self.check(id)?;
        let s = self.stream_mut(ctx)?;
        Ok(Output {
            upstream: take(&mut s.req),
            downstream: take(&mut s.resp),
            upstream_reset: s.upstream_reset,
            reset: s.reset.clone(),
        })
    }

    /// A peer went away mid-stream (Envoy resets the stream: no more filter callbacks run,
    /// `proxy_on_log` still does). `details` becomes `response.code_details` if none was set,
    /// e.g. `downstream_remote_disconnect` or
    /// `upstream_reset_after_response_started{connection_termination}`.
    pub fn reset_stream(&mut self, id: StreamId, details: &str) -> Result<(), HostError> {
        self.step(id, |w, ctx| {
            let s = w.stream_mut(ctx)?;
            if s.reset.is_none() {
                s.reset = Some(details.to_owned());
            }
            s.response_code_details
                .get_or_insert_with(|| details.to_owned());
            s.req.aborted = true;
            s.resp.aborted = true;
            if s.req.out_headers.is_some() && !s.resp.out_complete {
                s.upstream_reset = true;
            }
            Ok(())
        })
    }

    /// A reply the proxy itself generates, as Envoy's router does when the upstream cannot be
    /// reached or resets before responding (503 "upstream connect error or disconnect/reset
    /// before headers"). It goes through the filter's response callbacks like any local reply
    /// sent before response headers exist.
    pub fn proxy_reply(
        &mut self,
        id: StreamId,
        status: u32,
        body: &str,
        details: &str,
    ) -> Result<(), HostError> {
        self.step(id, |w, ctx| {
            let reply = LocalReply {
                status,
                details: details.replace(' ', "_"),
                body: body.as_bytes().to_vec(),
                headers: Vec::new(),
                grpc_status: -1,
            };
            w.local_reply(ctx, reply);
            w.after_call();
            Ok(())
        })
    }

    /// Delivers `proxy_on_queue_ready` for the queues this VM registered that something was
    /// enqueued on (by any VM), for workers that run on threads of their own. Returns how
    /// many were delivered.
    pub fn deliver_queue_ready(&mut self) -> usize {
        let worker = self.store.data().worker;
        let mut n = 0;
        for _ in 0..64 {
            let ready = self.store.data().shared.queues.take_ready_for(worker);
            if ready.is_empty() {
                break;
            }
            for (_, root, token) in ready {
                self.queue_ready(root, token);
                n += 1;
            }
        }
        n
    }
}
