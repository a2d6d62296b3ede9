//! Per-stream state: what the filter can touch right now, and what each peer received.

use std::collections::BTreeMap;

use crate::headers::HeaderMap;

/// Identifies a stream: the worker it runs on and its context id in that worker's VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId {
    pub worker: usize,
    pub context_id: u32,
    pub(crate) generation: u64,
}

/// Connection facts Envoy's stream info would hold (read through properties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Downstream peer, `ip:port` (`source.address`, `source.port`).
    pub source: String,
    /// Local address the request arrived on (`destination.address`, `destination.port`).
    pub destination: String,
    /// `request.protocol`: "HTTP/1.0", "HTTP/1.1", "HTTP/2" or "HTTP/3".
    pub protocol: String,
    /// `:scheme` Envoy adds when the client did not send one.
    pub scheme: String,
    pub route_name: Option<String>,
    pub cluster_name: Option<String>,
    /// Upstream host `ip:port` (`upstream.address`), known once the request went upstream.
    pub upstream: String,
    /// Extra properties by dot-separated path (e.g. `"listener_direction"`), raw bytes as Envoy
    /// would serialize them. They take precedence over built-in ones.
    pub extra: BTreeMap<String, Vec<u8>>,
}

impl Default for StreamInfo {
    fn default() -> Self {
        StreamInfo {
            source: "10.0.0.7:43210".to_owned(),
            destination: "10.0.0.1:8080".to_owned(),
            protocol: "HTTP/1.1".to_owned(),
            scheme: "http".to_owned(),
            route_name: None,
            cluster_name: None,
            upstream: "10.0.0.9:443".to_owned(),
            extra: BTreeMap::new(),
        }
    }
}

/// A reply the filter generated with `proxy_send_local_response` (or the host generated the
/// way Envoy would: 503 for a crashed VM, 413/500 for too much buffered data, 408 for a stream
/// that stalled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u32,
    /// Details with spaces turned into underscores, as Envoy stores them.
    pub details: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// -1 when unset.
    pub grpc_status: i32,
}

impl LocalReply {
    /// The response headers Envoy builds for it (`Http::Utility::sendLocalReply`): `:status`,
    /// `content-length` and `content-type: text/plain` when there is a body, then the filter's
    /// headers (appended, as `addCopy` does).
    pub(crate) fn response_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.add(":status", &self.status.to_string());
        if !self.body.is_empty() {
            h.add("content-length", &self.body.len().to_string());
            h.add("content-type", "text/plain");
        }
        for (k, v) in &self.headers {
            h.add(k, v);
        }
        h
    }
}

/// Where the filter stands in one direction of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum HeadersPhase {
    /// Not received yet.
    #[default]
    None,
    /// The headers callback returned Pause and Envoy stops everything
    /// (`StopAllIterationAndWatermark`): data is buffered, not delivered.
    StoppedAll,
    /// The headers callback returned Pause as `StopIteration`: data is delivered.
    Stopped,
    /// Sent on to the peer.
    Released,
}

/// One direction (request: downstream to upstream; response: upstream to downstream).
#[derive(Debug, Default)]
pub(crate) struct Half {
    pub headers: HeaderMap,
    pub headers_eos: bool,
    pub phase: HeadersPhase,
    /// The filter may read and change `headers` (Envoy's `request_headers_` is set).
    pub headers_access: bool,
    /// Data that arrived while stopped-all, not yet seen by the filter.
    pub pending: Vec<u8>,
    pub pending_eos: bool,
    pub pending_trailers: Option<HeaderMap>,
    /// The body the filter holds: everything buffered so far including the current chunk.
    pub buffer: Vec<u8>,
    /// The last body callback returned Pause (`StopIterationAndBuffer`).
    pub buffering: bool,
    /// The filter may read and change `buffer`.
    pub body_access: bool,
    /// The body callback that ran last had `end_of_stream` (Envoy's `end_of_stream_`).
    pub body_eos: bool,
    /// End of stream has reached the filter through a body callback.
    pub data_eos_seen: bool,
    pub trailers: Option<HeaderMap>,
    pub trailers_access: bool,
    /// The trailers callback returned Pause.
    pub trailers_stopped: bool,
    /// No more callbacks in this direction (local reply, reset).
    pub aborted: bool,
    /// The peer sent everything.
    pub input_complete: bool,
    pub bytes_in: usize,
    /// What the other side received.
    pub out_headers: Option<HeaderMap>,
    pub out_body: Vec<u8>,
    pub out_trailers: Option<HeaderMap>,
    pub out_complete: bool,
    /// What [`crate::Worker::take_released`] handed out already.
    pub taken: Taken,
}

/// What a front took of one direction's output so far.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Taken {
    pub headers: bool,
    /// Body bytes taken (and removed from `out_body`).
    pub body: usize,
    pub trailers: bool,
    pub end: bool,
}

impl Half {
    pub(crate) fn revoke_access(&mut self) {
        self.headers_access = false;
        self.body_access = false;
        self.trailers_access = false;
    }
}

/// A stream as the host keeps it.
#[derive(Debug, Default)]
pub(crate) struct HttpStream {
    pub info: StreamInfo,
    pub req: Half,
    pub resp: Half,
    /// The response being processed came from a local reply, not from upstream.
    pub resp_is_local: bool,
    pub local_reply: Option<LocalReply>,
    pub reset: Option<String>,
    pub upstream_reset: bool,
    pub failure_reply_sent: bool,
    pub filter_state: BTreeMap<String, Vec<u8>>,
    pub response_code: Option<u32>,
    pub response_code_details: Option<String>,
    pub log_phase: bool,
    pub start_ns: u64,
    pub end_ns: Option<u64>,
    pub connection_id: u64,
    pub is_head: bool,
    pub created_in_vm: bool,
    pub stalled: bool,
}

/// What a stream looks like from outside: what each peer received, and what the filter left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamView {
    pub id: StreamId,
    /// Request headers as the upstream received them (`None`: not sent upstream).
    pub upstream_headers: Option<HeaderMap>,
    /// Request body released upstream so far (less what [`crate::Worker::take_released`]
    /// took).
    pub upstream_body: Vec<u8>,
    pub upstream_trailers: Option<HeaderMap>,
    /// The upstream received the whole request.
    pub upstream_complete: bool,
    /// The upstream request was reset (e.g. a local reply cut it short).
    pub upstream_reset: bool,
    /// Response headers as the downstream client received them.
    pub downstream_headers: Option<HeaderMap>,
    /// Response body released to the client so far (less what was taken).
    pub downstream_body: Vec<u8>,
    pub downstream_trailers: Option<HeaderMap>,
    pub downstream_complete: bool,
    pub local_reply: Option<LocalReply>,
    /// Why the stream was reset, if it was (the client sees a broken response).
    pub reset: Option<String>,
    /// Filter state (`proxy_set_property`), keyed as Envoy does: `wasm.<path>`.
    pub filter_state: BTreeMap<String, Vec<u8>>,
    /// The filter held the stream and never resumed it.
    pub stalled: bool,
}

impl StreamView {
    /// The `:status` the client received.
    pub fn status(&self) -> Option<u16> {
        self.downstream_headers
            .as_ref()?
            .get(":status")?
            .parse()
            .ok()
    }

    /// A filter-state value: `name` is the full key (`wasm.tollbooth`) or the path the filter
    /// passed to `set_property` (`tollbooth`, stored as `wasm.tollbooth`).
    pub fn state(&self, name: &str) -> Option<&[u8]> {
        self.filter_state
            .get(name)
            .or_else(|| self.filter_state.get(&format!("wasm.{name}")))
            .map(Vec::as_slice)
    }

    pub fn state_str(&self, name: &str) -> Option<String> {
        self.state(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

impl HttpStream {
    pub(crate) fn view(&self, id: StreamId) -> StreamView {
        StreamView {
            id,
            upstream_headers: self.req.out_headers.clone(),
            upstream_body: self.req.out_body.clone(),
            upstream_trailers: self.req.out_trailers.clone(),
            upstream_complete: self.req.out_complete,
            upstream_reset: self.upstream_reset,
            downstream_headers: self.resp.out_headers.clone(),
            downstream_body: self.resp.out_body.clone(),
            downstream_trailers: self.resp.out_trailers.clone(),
            downstream_complete: self.resp.out_complete,
            local_reply: self.local_reply.clone(),
            reset: self.reset.clone(),
            filter_state: self.filter_state.clone(),
            stalled: self.stalled,
        }
    }

    pub(crate) fn half(&mut self, dir: Dir) -> &mut Half {
        match dir {
            Dir::Request => &mut self.req,
            Dir::Response => &mut self.resp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Request,
    Response,
}
