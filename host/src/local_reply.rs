//! Local replies, resets and the deferred actions hostcalls queue.

use crate::headers::HeaderMap;
use crate::stream::{Dir, HeadersPhase, LocalReply};
use crate::vm::{Deferred, Worker};

impl Worker {
    /// Runs what hostcalls deferred to "after the VM call" (Envoy `doAfterVmCallActions`).
    pub(crate) fn run_deferred(&mut self) {
        loop {
            let actions = std::mem::take(&mut self.store.data_mut().deferred);
            if actions.is_empty() {
                return;
            }
            for (ctx, action) in actions {
                if !self.store.data().streams.contains_key(&ctx) {
                    continue;
                }
                match action {
                    Deferred::Continue(dir) => self.resume(ctx, dir),
                    Deferred::Close(dir) => self.close(ctx, dir),
                    Deferred::LocalReply(reply) => self.local_reply(ctx, reply),
                }
            }
        }
    }

    /// Envoy `FilterManager::sendLocalReply`: with no response headers yet, the reply goes
    /// through the filter chain, so the filter's own response callbacks see it
    /// (`sendLocalReplyViaFilterChain`); with response headers that did not go out yet, it
    /// goes straight to the client (`sendDirectLocalReply`); after that the stream is reset.
    /// Either way no more request callbacks run and the upstream request is abandoned.
    pub(crate) fn local_reply(&mut self, ctx: u32, reply: LocalReply) {
        let Ok(s) = self.stream_mut(ctx) else { return };
        if s.reset.is_some() {
            return;
        }
        s.local_reply = Some(reply.clone());
        s.response_code = Some(reply.status);
        s.response_code_details = Some(reply.details.clone());
        s.req.aborted = true;
        if s.req.out_headers.is_some() && !s.resp.out_complete {
            s.upstream_reset = true;
        }
        let headers = reply.response_headers();
        let body = if s.is_head {
            Vec::new()
        } else {
            reply.body.clone()
        };
        if s.resp.phase == HeadersPhase::None {
            s.resp_is_local = true;
            s.resp.input_complete = false;
            let _ = self.headers_event(ctx, Dir::Response, headers, body.is_empty(), true);
            if !body.is_empty() {
                let _ = self.body_event(ctx, Dir::Response, &body, true);
            }
        } else if s.resp.phase != HeadersPhase::Released {
            let h = &mut s.resp;
            h.aborted = true;
            h.out_headers = Some(headers);
            h.out_body = body;
            h.out_trailers = None;
            h.out_complete = true;
            h.pending.clear();
            h.buffer.clear();
        } else {
            s.resp.aborted = true;
            s.reset = Some(format!(
                "local reply {} ({}) after the response headers were sent",
                reply.status, reply.details
            ));
        }
    }

    /// Envoy `Context::failStream`: 503 with details `wasm_fail_stream`, once per stream.
    pub(crate) fn fail_stream(&mut self, ctx: u32) {
        let Ok(s) = self.stream_mut(ctx) else { return };
        if s.failure_reply_sent {
            return;
        }
        s.failure_reply_sent = true;
        let reply = LocalReply {
            status: 503,
            details: "wasm_fail_stream".to_owned(),
            body: Vec::new(),
            headers: Vec::new(),
            grpc_status: 14,
        };
        self.local_reply(ctx, reply);
    }

    /// `proxy_close_stream` (Envoy `Context::closeStream` → `resetStream`).
    pub(crate) fn close(&mut self, ctx: u32, dir: Dir) {
        let Ok(s) = self.stream_mut(ctx) else { return };
        if s.reset.is_none() {
            s.reset = Some(format!("wasm_close_stream ({dir:?})"));
            s.response_code_details
                .get_or_insert_with(|| "wasm_close_stream".to_owned());
        }
        s.req.aborted = true;
        s.resp.aborted = true;
        if s.req.out_headers.is_some() && !s.resp.out_complete {
            s.upstream_reset = true;
        }
    }

    /// Envoy's buffer limit for a filter that buffers (`StopIterationAndBuffer`): too much
    /// request body is a 413 (`requestDataTooLarge`); too much response body is a 500, or a
    /// reset once the response headers went out (`responseDataTooLarge`).
    pub(crate) fn check_buffer_limit(&mut self, ctx: u32, dir: Dir) {
        let Some(limit) = self.store.data().shared.opts.buffer_limit else {
            return;
        };
        if self.half_mut(ctx, dir).buffer.len() <= limit {
            return;
        }
        let (status, body, details) = match dir {
            Dir::Request => (413, "Payload Too Large", "request_payload_too_large"),
            Dir::Response => (500, "Internal Server Error", "response_payload_too_large"),
        };
        let reply = LocalReply {
            status,
            details: details.to_owned(),
            body: body.as_bytes().to_vec(),
            headers: Vec::new(),
            grpc_status: -1,
        };
        self.local_reply(ctx, reply);
    }

    /// Envoy's stream idle timeout fired (the filter held the stream and never resumed it):
    /// 408 `stream timeout`, details `stream_idle_timeout`.
    pub(crate) fn idle_timeout_ctx(&mut self, ctx: u32) {
        let Ok(s) = self.stream_mut(ctx) else { return };
        s.stalled = true;
        let reply = LocalReply {
            status: 408,
            details: "stream_idle_timeout".to_owned(),
            body: b"stream timeout".to_vec(),
            headers: Vec::new(),
            grpc_status: -1,
        };
        self.local_reply(ctx, reply);
        self.run_deferred();
    }
}

/// Request headers as Envoy's connection manager prepares them before filters run: pseudo
/// headers first, `:scheme` added, and an `x-request-id` generated when missing
/// (`ConnectionManagerUtility::mutateRequestHeaders`).
pub(crate) fn prepare_request_headers(
    headers: HeaderMap,
    scheme: &str,
    request_id: impl FnOnce() -> String,
) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (k, v) in headers.iter().filter(|(k, _)| k.starts_with(':')) {
        out.add(k, v);
    }
    if !out.contains(":scheme") {
        out.add(":scheme", scheme);
    }
    for (k, v) in headers.iter().filter(|(k, _)| !k.starts_with(':')) {
        out.add(k, v);
    }
    if !out.contains("x-request-id") {
        out.add("x-request-id", &request_id());
    }
    if !out.contains("x-forwarded-proto") {
        out.add("x-forwarded-proto", scheme);
    }
    out
}
