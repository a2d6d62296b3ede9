//! One request through the filter to an upstream closure and back, for simple tests.

use std::collections::BTreeMap;

use crate::error::HostError;
use crate::headers::HeaderMap;
use crate::host::Host;
use crate::logs::LogEntry;
use crate::stream::{LocalReply, StreamInfo, StreamView};
use crate::vm::Worker;

/// How a body is cut into the chunks Envoy delivers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Chunking {
    /// One chunk.
    #[default]
    Whole,
    /// Chunks of `n` bytes (the last one shorter).
    Fixed(usize),
    /// Chunks of these sizes, then the rest as one chunk.
    Sizes(Vec<usize>),
}

impl Chunking {
    pub fn split(&self, body: &[u8]) -> Vec<Vec<u8>> {
        if body.is_empty() {
            return Vec::new();
        }
        match self {
            Chunking::Whole | Chunking::Fixed(0) => vec![body.to_vec()],
            Chunking::Fixed(n) => body.chunks(*n).map(<[u8]>::to_vec).collect(),
            Chunking::Sizes(sizes) => {
                let mut out = Vec::new();
                let mut rest = body;
                for &n in sizes {
                    if rest.is_empty() {
                        break;
                    }
                    let (a, b) = rest.split_at(n.min(rest.len()));
                    out.push(a.to_vec());
                    rest = b;
                }
                if !rest.is_empty() {
                    out.push(rest.to_vec());
                }
                out
            }
        }
    }
}

/// What the client sends.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authority: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    pub chunking: Chunking,
    pub info: StreamInfo,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Self {
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            authority: "api.example.com".to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            trailers: Vec::new(),
            chunking: Chunking::Whole,
            info: StreamInfo::default(),
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new("POST", path).body(body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn trailer(mut self, name: &str, value: &str) -> Self {
        self.trailers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn chunking(mut self, c: Chunking) -> Self {
        self.chunking = c;
        self
    }

    fn header_map(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.add(":authority", &self.authority);
        h.add(":path", &self.path);
        h.add(":method", &self.method);
        for (k, v) in &self.headers {
            h.add(k, v);
        }
        if !self.body.is_empty() && !h.contains("content-length") && self.trailers.is_empty() {
            h.add("content-length", &self.body.len().to_string());
        }
        h
    }
}

/// What the upstream answers.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    pub chunking: Chunking,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            trailers: Vec::new(),
            chunking: Chunking::Whole,
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self::new(200).body(body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn trailer(mut self, name: &str, value: &str) -> Self {
        self.trailers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn chunking(mut self, c: Chunking) -> Self {
        self.chunking = c;
        self
    }
}

/// The request as the upstream received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: Option<HeaderMap>,
}

impl UpstreamRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What came of a [`Host::roundtrip`].
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `:status` the client received (0 if none: the stream was reset before).
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: Option<HeaderMap>,
    pub local_reply: Option<LocalReply>,
    /// What the upstream received, if the filter let the request through.
    pub upstream: Option<UpstreamRequest>,
    pub reset: Option<String>,
    /// The filter held the request or response and never resumed it (Envoy's idle timeout
    /// answered 408, or reset the stream).
    pub stalled: bool,
    /// The VM crashed during this exchange, or had crashed before.
    pub vm_error: Option<String>,
    pub filter_state: BTreeMap<String, Vec<u8>>,
    /// Log lines of this stream's context.
    pub logs: Vec<LogEntry>,
    pub stream: StreamView,
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn state(&self, name: &str) -> Option<&[u8]> {
        self.stream.state(name)
    }

    pub fn state_str(&self, name: &str) -> Option<String> {
        self.stream.state_str(name)
    }
}

impl Worker {
    /// Drives a whole stream; see [`Host::roundtrip`].
    pub fn roundtrip(
        &mut self,
        req: &Request,
        upstream: impl FnOnce(&UpstreamRequest) -> Response,
    ) -> Result<Exchange, HostError> {
        let seq = self.store.data().shared.logs.last_seq();
        let (id, opened) = self.open_inner(req.info.clone());
        let mut vm_error = None;
        let mut note = |r: Result<(), HostError>| {
            if let Err(e) = r {
                vm_error.get_or_insert(e.to_string());
            }
        };
        note(opened);
        let chunks = req.chunking.split(&req.body);
        let trailers: HeaderMap = req
            .trailers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let has_trailers = !trailers.is_empty();
        note(self.request_headers(id, req.header_map(), chunks.is_empty() && !has_trailers));
        for (i, c) in chunks.iter().enumerate() {
            note(self.request_body(id, c, i + 1 == chunks.len() && !has_trailers));
        }
        if has_trailers {
            note(self.request_trailers(id, trailers));
        }
        let view = self.view(id)?;
        let mut sent = None;
        if view.local_reply.is_none() && view.reset.is_none() {
            if view.upstream_complete {
                let up = UpstreamRequest {
                    headers: view.upstream_headers.clone().unwrap_or_default(),
                    body: view.upstream_body.clone(),
                    trailers: view.upstream_trailers.clone(),
                };
                let resp = upstream(&up);
                sent = Some(up);
                let mut headers = HeaderMap::new();
                headers.add(":status", &resp.status.to_string());
                for (k, v) in &resp.headers {
                    headers.add(k, v);
                }
                let chunks = resp.chunking.split(&resp.body);
                let trailers: HeaderMap = resp
                    .trailers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let has_trailers = !trailers.is_empty();
                note(self.response_headers(id, headers, chunks.is_empty() && !has_trailers));
                for (i, c) in chunks.iter().enumerate() {
                    note(self.response_body(id, c, i + 1 == chunks.len() && !has_trailers));
                }
                if has_trailers {
                    note(self.response_trailers(id, trailers));
                }
            } else {
                note(self.idle_timeout(id));
            }
        }
        let view = self.view(id)?;
        if !view.downstream_complete && view.reset.is_none() {
            note(self.idle_timeout(id));
        }
        let (stream, crash) = self.finish_inner(id)?;
        if let Some(e) = crash {
            vm_error.get_or_insert(e.to_string());
        }
        let st = self.store.data();
        let (worker, generation) = (st.worker, st.generation);
        let logs = st.shared.logs.since(seq, |l| {
            l.worker == worker && l.generation == generation && l.context_id == id.context_id
        });
        Ok(Exchange {
            status: stream.status().unwrap_or(0),
            headers: stream.downstream_headers.clone().unwrap_or_default(),
            body: stream.downstream_body.clone(),
            trailers: stream.downstream_trailers.clone(),
            local_reply: stream.local_reply.clone(),
            upstream: sent,
            reset: stream.reset.clone(),
            stalled: stream.stalled,
            vm_error,
            filter_state: stream.filter_state.clone(),
            logs,
            stream,
        })
    }
}

impl Host {
    /// Sends `req` through the filter on `worker`. `upstream` is called only if the filter let
    /// the whole request through, with what the upstream received; its response goes back
    /// through the filter. A stream the filter holds and never resumes ends with Envoy's
    /// stream idle timeout (408). Then `proxy_on_log`/`on_done`/`on_delete` run.
    pub fn roundtrip(
        &mut self,
        worker: usize,
        req: &Request,
        upstream: impl FnOnce(&UpstreamRequest) -> Response,
    ) -> Result<Exchange, HostError> {
        let w = self
            .workers
            .get_mut(worker)
            .ok_or(HostError::NoWorker(worker))?;
        let r = w.roundtrip(req, upstream);
        self.pump_queues();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::Chunking;

    #[test]
    fn chunking() {
        let b = b"abcdefghij";
        assert_eq!(Chunking::Whole.split(b), vec![b.to_vec()]);
        assert_eq!(
            Chunking::Fixed(4).split(b),
            vec![b"abcd".to_vec(), b"efgh".to_vec(), b"ij".to_vec()]
        );
        assert_eq!(
            Chunking::Sizes(vec![1, 2]).split(b),
            vec![b"a".to_vec(), b"bc".to_vec(), b"defghij".to_vec()]
        );
        assert_eq!(Chunking::Sizes(vec![20]).split(b), vec![b.to_vec()]);
        assert!(Chunking::Fixed(3).split(b"").is_empty());
    }
}
