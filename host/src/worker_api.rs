//! Driving streams on one [`Worker`]: the step-by-step API [`crate::Host`] forwards to.

use crate::error::HostError;
use crate::headers::HeaderMap;
use crate::local_reply::prepare_request_headers;
use crate::stream::{Dir, HttpStream, StreamId, StreamInfo, StreamView};
use crate::vm::Worker;

impl Worker {
    pub(crate) fn check(&self, id: StreamId) -> Result<u32, HostError> {
        let st = self.store.data();
        if id.worker != st.worker
            || id.generation != st.generation
            || !st.streams.contains_key(&id.context_id)
        {
            return Err(HostError::NoStream);
        }
        Ok(id.context_id)
    }

    /// Reports a crash or a dead VM met while driving a step.
    fn outcome(&mut self, was_dead: bool, r: Result<(), HostError>) -> Result<(), HostError> {
        r?;
        let worker = self.store.data().worker;
        let hit = std::mem::take(&mut self.hit_dead);
        match &self.dead {
            Some(message) if !was_dead => Err(HostError::VmCrashed {
                worker,
                message: message.clone(),
            }),
            Some(_) if hit => Err(HostError::VmDead { worker }),
            _ => Ok(()),
        }
    }

    pub(crate) fn step(
        &mut self,
        id: StreamId,
        f: impl FnOnce(&mut Worker, u32) -> Result<(), HostError>,
    ) -> Result<(), HostError> {
        let ctx = self.check(id)?;
        let was_dead = self.dead.is_some();
        self.hit_dead = false;
        let r = f(self, ctx);
        self.outcome(was_dead, r)
    }

    /// A new HTTP stream: allocates a context id and calls `proxy_on_context_create(id, root)`.
    pub fn open(&mut self, info: StreamInfo) -> Result<StreamId, HostError> {
        let (id, r) = self.open_inner(info);
        r.map(|()| id)
    }

    /// Opens a stream; the stream exists even if the VM crashed creating it.
    pub(crate) fn open_inner(&mut self, info: StreamInfo) -> (StreamId, Result<(), HostError>) {
        let ctx = self.alloc_context_id();
        let (worker, generation, root, now) = {
            let st = self.store.data();
            (
                st.worker,
                st.generation,
                st.root_id,
                st.shared.clock.now_ns(),
            )
        };
        let stream = HttpStream {
            info,
            start_ns: now,
            connection_id: u64::from(ctx),
            ..Default::default()
        };
        self.store.data_mut().streams.insert(ctx, stream);
        let id = StreamId {
            worker,
            context_id: ctx,
            generation,
        };
        let was_dead = self.dead.is_some();
        self.hit_dead = false;
        if !was_dead {
            // Without `proxy_on_context_create` the guest manages its contexts itself (cpp-host
            // `ContextBase::onCreate` still marks the context created).
            let created = match self.exports.on_context_create.clone() {
                Some(f) => self.call(ctx, |s| f.call(s, (ctx, root))).is_ok(),
                None => true,
            };
            if let Ok(s) = self.stream_mut(ctx) {
                s.created_in_vm = created;
            }
            self.after_call();
        }
        (id, self.outcome(was_dead, Ok(())))
    }

    /// Request headers from the client (`:method`, `:path`, `:authority` among them). Envoy's
    /// connection manager adds `:scheme`, `x-request-id` and `x-forwarded-proto` first.
    pub fn request_headers(
        &mut self,
        id: StreamId,
        headers: HeaderMap,
        end_of_stream: bool,
    ) -> Result<(), HostError> {
        self.step(id, |w, ctx| {
            let scheme = w.stream_ref(ctx)?.info.scheme.clone();
            let rng = &mut w.store.data_mut().rng;
            let headers = prepare_request_headers(headers, &scheme, || request_id(rng));
            if let Ok(s) = w.stream_mut(ctx) {
                s.is_head = headers.get(":method") == Some("HEAD");
            }
            w.headers_event(ctx, Dir::Request, headers, end_of_stream, false)
        })
    }

    pub fn request_body(
        &mut self,
        id: StreamId,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<(), HostError> {
        self.step(id, |w, ctx| {
            w.body_event(ctx, Dir::Request, chunk, end_of_stream)
        })
    }

    pub fn request_trailers(&mut self, id: StreamId, trailers: HeaderMap) -> Result<(), HostError> {
        self.step(id, |w, ctx| w.trailers_event(ctx, Dir::Request, trailers))
    }

    /// Response headers from the upstream, `:status` among them. Ignored once a local reply
    /// or a reset cut the upstream off.
    pub fn response_headers(
        &mut self,
        id: StreamId,
        headers: HeaderMap,
        end_of_stream: bool,
    ) -> Result<(), HostError> {
        self.step(id, |w, ctx| {
            w.headers_event(ctx, Dir::Response, headers, end_of_stream, false)
        })
    }

    pub fn response_body(
        &mut self,
        id: StreamId,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<(), HostError> {
        self.step(id, |w, ctx| {
            if w.upstream_cut(ctx) {
                return Ok(());
            }
            w.body_event(ctx, Dir::Response, chunk, end_of_stream)
        })
    }

    pub fn response_trailers(
        &mut self,
        id: StreamId,
        trailers: HeaderMap,
    ) -> Result<(), HostError> {
        self.step(id, |w, ctx| {
            if w.upstream_cut(ctx) {
                return Ok(());
            }
            w.trailers_event(ctx, Dir::Response, trailers)
        })
    }

    fn upstream_cut(&self, ctx: u32) -> bool {
        self.stream_ref(ctx)
            .map(|s| s.resp_is_local || s.upstream_reset)
            .unwrap_or(true)
    }

    /// Envoy's stream idle timeout for a stream the filter never resumed: 408.
    pub fn idle_timeout(&mut self, id: StreamId) -> Result<(), HostError> {
        self.step(id, |w, ctx| {
            w.idle_timeout_ctx(ctx);
            Ok(())
        })
    }

    /// Ends the stream: `proxy_on_log` (with the final maps readable), then `proxy_on_done`
    /// and `proxy_on_delete`, as Envoy logs before it destroys the filter.
    pub fn finish(&mut self, id: StreamId) -> Result<StreamView, HostError> {
        let (view, crash) = self.finish_inner(id)?;
        match crash {
            Some(e) => Err(e),
            None => Ok(view),
        }
    }

    /// Finishes the stream; the final view, and the crash if the VM died doing it.
    pub(crate) fn finish_inner(
        &mut self,
        id: StreamId,
    ) -> Result<(StreamView, Option<HostError>), HostError> {
        let ctx = self.check(id)?;
        let was_dead = self.dead.is_some();
        let now = self.store.data().shared.clock.now_ns();
        let created = {
            let s = self.stream_mut(ctx)?;
            s.end_ns = Some(now);
            s.req.revoke_access();
            s.resp.revoke_access();
            s.log_phase = true;
            s.created_in_vm
        };
        if created && !was_dead {
            if let Some(f) = self.exports.on_log.clone() {
                let _ = self.call(ctx, |s| f.call(s, ctx));
            }
            if let Ok(s) = self.stream_mut(ctx) {
                s.log_phase = false;
            }
            if let Some(f) = self.exports.on_done.clone() {
                let _ = self.call(ctx, |s| f.call(s, ctx));
            }
            if let Some(f) = self.exports.on_delete.clone() {
                let _ = self.call(ctx, |s| f.call(s, ctx));
            }
        }
        let view = self.view(id)?;
        self.store.data_mut().streams.remove(&ctx);
        self.store.data_mut().deferred.retain(|(c, _)| *c != ctx);
        self.after_call();
        let crash = match &self.dead {
            Some(message) if !was_dead => Some(HostError::VmCrashed {
                worker: id.worker,
                message: message.clone(),
            }),
            _ => None,
        };
        Ok((view, crash))
    }

    /// What the stream looks like now.
    pub fn view(&self, id: StreamId) -> Result<StreamView, HostError> {
        let ctx = self.check(id)?;
        Ok(self.stream_ref(ctx)?.view(id))
    }

    /// Context ids of the streams open on this worker.
    pub fn open_streams(&self) -> Vec<StreamId> {
        let st = self.store.data();
        let mut ids: Vec<StreamId> = st
            .streams
            .keys()
            .map(|&context_id| StreamId {
                worker: st.worker,
                context_id,
                generation: st.generation,
            })
            .collect();
        ids.sort_by_key(|i| i.context_id);
        ids
    }
}

/// A random UUID (version 4) like the ones Envoy generates for `x-request-id`.
fn request_id(rng: &mut u64) -> String {
    let mut next = || {
        *rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}
