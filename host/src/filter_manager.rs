//! How Envoy's HTTP filter manager drives one wasm filter between the downstream client and
//! the upstream (Envoy `source/common/http/filter_manager.cc` and the wasm `Context::decode*`
//! / `encode*` in `source/extensions/common/wasm/context.cc`).
//!
//! Per direction: the headers callback's `Pause` stops everything (default) or only the headers
//! (`allow_on_headers_stop_iteration`). While everything is stopped, body data is buffered by
//! the filter manager and handed to the filter as one buffer after `proxy_continue_stream`
//! (the stopped filter is iterated again from itself, `iterate_from_current_filter_`). A body
//! callback sees everything it buffered so far plus the new chunk (`addDecodedData` before the
//! call); `Continue` releases it all, after the headers if they still waited.

use crate::error::HostError;
use crate::headers::HeaderMap;
use crate::options::StopMode;
use crate::stream::{Dir, HeadersPhase, HttpStream};
use crate::vm::Worker;

#[derive(Clone, Copy)]
pub(crate) enum Cb {
    Headers(u32, bool),
    Body(u32, bool),
    Trailers(u32),
}

/// What a callback said, once Envoy's conversions applied.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Continue,
    /// Headers: `StopIteration` (allow mode). Body: `StopIterationAndBuffer`. Trailers: stop.
    Stop,
    /// Headers: `StopAllIterationAndWatermark`.
    StopAll,
    /// Body: `StopIterationAndWatermark` (buffered, no limit).
    StopWatermark,
    /// Body: `StopIterationNoBuffer` (what the filter manager has is dropped).
    StopNoBuffer,
    /// The VM is dead or crashed in the call, and traffic must not pass (fail closed).
    Failed,
}

impl Worker {
    pub(crate) fn stream_ref(&self, ctx: u32) -> Result<&HttpStream, HostError> {
        self.store
            .data()
            .streams
            .get(&ctx)
            .ok_or(HostError::NoStream)
    }

    pub(crate) fn stream_mut(&mut self, ctx: u32) -> Result<&mut HttpStream, HostError> {
        self.store
            .data_mut()
            .streams
            .get_mut(&ctx)
            .ok_or(HostError::NoStream)
    }

    /// Runs one callback for stream `ctx` and converts its result as cpp-host does
    /// (`convertVmCallResultTo*Status`, including the forced stop after a local reply).
    pub(crate) fn callback(&mut self, ctx: u32, dir: Dir, cb: Cb) -> Verdict {
        let Ok(s) = self.stream_ref(ctx) else {
            return Verdict::Continue;
        };
        // Envoy `Context::encode*`: once the failure reply was sent the VM is not called.
        if s.failure_reply_sent {
            return Verdict::Continue;
        }
        if self.dead.is_some() {
            self.hit_dead = true;
            return self.failed(ctx);
        }
        let e = &self.exports;
        let three = match (dir, cb) {
            (Dir::Request, Cb::Headers(..)) => e.on_request_headers.clone(),
            (Dir::Response, Cb::Headers(..)) => e.on_response_headers.clone(),
            (Dir::Request, Cb::Body(..)) => e.on_request_body.clone(),
            (Dir::Response, Cb::Body(..)) => e.on_response_body.clone(),
            _ => None,
        };
        let two = match (dir, cb) {
            (Dir::Request, Cb::Trailers(_)) => e.on_request_trailers.clone(),
            (Dir::Response, Cb::Trailers(_)) => e.on_response_trailers.clone(),
            _ => None,
        };
        let result = match cb {
            Cb::Headers(n, eos) | Cb::Body(n, eos) => {
                three.map(|f| self.call(ctx, |s| f.call(s, (ctx, n, u32::from(eos)))))
            }
            Cb::Trailers(n) => two.map(|f| self.call(ctx, |s| f.call(s, (ctx, n)))),
        };
        let value = match result {
            None => return Verdict::Continue,
            Some(Err(_)) => return self.failed(ctx),
            Some(Ok(v)) => v,
        };
        let forced = self.store.data().stop_next;
        let allow =
            self.store.data().shared.opts.stop_mode == StopMode::AllowOnHeadersStopIteration;
        match cb {
            Cb::Headers(..) => match value {
                _ if forced => Verdict::StopAll,
                0 | 2 => Verdict::Continue,
                1 if allow => Verdict::Stop,
                _ => Verdict::StopAll,
            },
            Cb::Body(..) => match value {
                _ if forced => Verdict::StopNoBuffer,
                0 => Verdict::Continue,
                1 => Verdict::Stop,
                2 => Verdict::StopWatermark,
                _ => Verdict::StopNoBuffer,
            },
            Cb::Trailers(_) => match value {
                0 if !forced => Verdict::Continue,
                _ => Verdict::Stop,
            },
        }
    }

    /// The VM cannot serve this stream (cpp-host `CHECK_FAIL`): with `fail_open` traffic goes
    /// on untouched, otherwise the stream gets Envoy's 503 `wasm_fail_stream` once.
    fn failed(&mut self, ctx: u32) -> Verdict {
        if self.store.data().shared.opts.fail_open {
            return Verdict::Continue;
        }
        self.fail_stream(ctx);
        Verdict::Failed
    }

    /// Headers arriving in direction `dir`; `local` marks the headers of a local reply, which
    /// enter the response path themselves.
    pub(crate) fn headers_event(
        &mut self,
        ctx: u32,
        dir: Dir,
        headers: HeaderMap,
        eos: bool,
        local: bool,
    ) -> Result<(), HostError> {
        let s = self.stream_mut(ctx)?;
        if dir == Dir::Response && !local {
            // The upstream was reset by a local reply, or the response is the local reply.
            if s.resp_is_local || s.upstream_reset {
                return Ok(());
            }
            s.response_code = headers.get(":status").and_then(|v| v.parse().ok());
            s.response_code_details
                .get_or_insert_with(|| "via_upstream".to_owned());
        }
        let h = s.half(dir);
        if h.phase != HeadersPhase::None {
            return Err(HostError::InvalidState(format!(
                "{dir:?} headers sent twice"
            )));
        }
        h.bytes_in += headers.byte_size();
        h.headers = headers;
        h.headers_eos = eos;
        h.input_complete = eos;
        h.headers_access = true;
        h.phase = HeadersPhase::Stopped;
        if h.aborted {
            return Ok(());
        }
        let n = h.headers.len() as u32;
        let verdict = self.callback(ctx, dir, Cb::Headers(n, eos));
        match verdict {
            Verdict::Continue => self.release_headers(ctx, dir),
            Verdict::Stop => {}
            _ => self.half_mut(ctx, dir).phase = HeadersPhase::StoppedAll,
        }
        self.after_call();
        Ok(())
    }

    pub(crate) fn body_event(
        &mut self,
        ctx: u32,
        dir: Dir,
        chunk: &[u8],
        eos: bool,
    ) -> Result<(), HostError> {
        let h = self.stream_mut(ctx)?.half(dir);
        if h.input_complete {
            return Err(HostError::InvalidState(format!(
                "{dir:?} body after end of stream"
            )));
        }
        h.bytes_in += chunk.len();
        h.input_complete = eos;
        if h.aborted {
            return Ok(());
        }
        match h.phase {
            HeadersPhase::None => Err(HostError::InvalidState(format!(
                "{dir:?} body before headers"
            ))),
            HeadersPhase::StoppedAll => {
                h.pending.extend_from_slice(chunk);
                h.pending_eos |= eos;
                Ok(())
            }
            _ => {
                self.deliver_body(ctx, dir, chunk, eos);
                Ok(())
            }
        }
    }

    pub(crate) fn trailers_event(
        &mut self,
        ctx: u32,
        dir: Dir,
        trailers: HeaderMap,
    ) -> Result<(), HostError> {
        let h = self.stream_mut(ctx)?.half(dir);
        if h.input_complete {
            return Err(HostError::InvalidState(format!(
                "{dir:?} trailers after end of stream"
            )));
        }
        h.bytes_in += trailers.byte_size();
        h.input_complete = true;
        if h.aborted {
            return Ok(());
        }
        match h.phase {
            HeadersPhase::None => Err(HostError::InvalidState(format!(
                "{dir:?} trailers before headers"
            ))),
            HeadersPhase::StoppedAll => {
                h.pending_trailers = Some(trailers);
                Ok(())
            }
            _ => {
                self.deliver_trailers(ctx, dir, trailers);
                Ok(())
            }
        }
    }

    /// Envoy `Context::decodeData`/`encodeData`: the chunk joins what the filter buffered.
    fn deliver_body(&mut self, ctx: u32, dir: Dir, chunk: &[u8], eos: bool) {
        let Ok(s) = self.stream_mut(ctx) else { return };
        let h = s.half(dir);
        if !h.buffering {
            h.buffer.clear();
        }
        h.buffer.extend_from_slice(chunk);
        h.body_access = true;
        h.body_eos = eos;
        h.data_eos_seen |= eos;
        let size = h.buffer.len() as u32;
        match self.callback(ctx, dir, Cb::Body(size, eos)) {
            Verdict::Continue => {
                if self.half_mut(ctx, dir).phase != HeadersPhase::Released {
                    self.release_headers(ctx, dir);
                }
                self.release_body(ctx, dir);
            }
            Verdict::Stop => {
                self.half_mut(ctx, dir).buffering = true;
                self.check_buffer_limit(ctx, dir);
            }
            Verdict::StopWatermark => self.half_mut(ctx, dir).buffering = true,
            Verdict::StopNoBuffer | Verdict::StopAll | Verdict::Failed => {
                let h = self.half_mut(ctx, dir);
                h.buffer.clear();
                h.buffering = false;
                h.body_access = false;
            }
        }
        self.after_call();
    }

    fn deliver_trailers(&mut self, ctx: u32, dir: Dir, trailers: HeaderMap) {
        let n = trailers.len() as u32;
        {
            let h = self.half_mut(ctx, dir);
            h.trailers = Some(trailers);
            h.trailers_access = true;
        }
        match self.callback(ctx, dir, Cb::Trailers(n)) {
            Verdict::Continue => self.release_all(ctx, dir),
            _ => self.half_mut(ctx, dir).trailers_stopped = true,
        }
        self.after_call();
    }

    /// `proxy_continue_stream` (Envoy `Context::continueStream` then `continueDecoding`): the
    /// filter loses its maps and buffer, the headers go on, and what was held follows. After a
    /// stop-all the filter gets the data buffered meanwhile in one body callback.
    pub(crate) fn resume(&mut self, ctx: u32, dir: Dir) {
        let Ok(s) = self.stream_mut(ctx) else { return };
        let h = s.half(dir);
        if h.aborted {
            return;
        }
        let phase = h.phase;
        h.revoke_access();
        match phase {
            HeadersPhase::None => {}
            HeadersPhase::StoppedAll => {
                self.release_headers(ctx, dir);
                let h = self.half_mut(ctx, dir);
                let data = std::mem::take(&mut h.pending);
                let eos = std::mem::take(&mut h.pending_eos);
                let trailers = h.pending_trailers.take();
                if !data.is_empty() || eos {
                    self.deliver_body(ctx, dir, &data, eos);
                }
                if let Some(t) = trailers {
                    self.deliver_trailers(ctx, dir, t);
                }
            }
            HeadersPhase::Stopped | HeadersPhase::Released => self.release_all(ctx, dir),
        }
    }

    /// Headers (if still held), buffered body and trailers go on.
    fn release_all(&mut self, ctx: u32, dir: Dir) {
        if self.half_mut(ctx, dir).phase != HeadersPhase::Released {
            self.release_headers(ctx, dir);
        }
        self.release_body(ctx, dir);
        let h = self.half_mut(ctx, dir);
        if h.trailers.is_some() {
            h.out_trailers = h.trailers.clone();
            h.trailers_access = false;
            h.trailers_stopped = false;
            h.out_complete = true;
        }
    }

    fn release_headers(&mut self, ctx: u32, dir: Dir) {
        let h = self.half_mut(ctx, dir);
        h.phase = HeadersPhase::Released;
        h.headers_access = false;
        h.out_headers = Some(h.headers.clone());
        if h.headers_eos {
            h.out_complete = true;
        }
    }

    fn release_body(&mut self, ctx: u32, dir: Dir) {
        let h = self.half_mut(ctx, dir);
        let data = std::mem::take(&mut h.buffer);
        h.out_body.extend_from_slice(&data);
        h.buffering = false;
        h.body_access = false;
        if h.data_eos_seen {
            // Trailers the filter added in the last body callback go out after the body.
            if h.trailers.is_some() {
                h.out_trailers = h.trailers.clone();
                h.trailers_access = false;
            }
            h.out_complete = true;
        }
    }

    pub(crate) fn half_mut(&mut self, ctx: u32, dir: Dir) -> &mut crate::stream::Half {
        let st = self.store.data_mut();
        match st.streams.get_mut(&ctx) {
            Some(s) => s.half(dir),
            // Streams are only removed by `finish`, never while being driven; a scratch half
            // keeps this total.
            None => {
                st.scratch = Default::default();
                &mut st.scratch
            }
        }
    }
}
