//! The upstream half of an exchange: the request as the filter releases it, the response as
//! it arrives (into the filter), and Envoy's answers when the upstream fails.

use bytes::Bytes;
use http_body::{Body, Frame};
use hyper::body::Incoming;
use tokio::sync::mpsc;

use super::{Exchange, CHANNEL};
use crate::front::upstream::{
    build_request, from_hyper, response_map, trailer_map, Msg, Sender, UpBody, UpError,
};
use crate::{LogLevel, Released};

impl Exchange<'_> {
    pub(super) fn abandon_upstream(&mut self) {
        if self.up_abandoned {
            return;
        }
        self.up_abandoned = true;
        self.up_tx = None;
        self.up_pending.clear();
        self.up_fut = None;
        self.up_body = None;
        self.up_sender = None;
    }

    pub(super) fn forward_upstream(&mut self, rel: Released) {
        if self.up_abandoned {
            return;
        }
        if let Some(headers) = &rel.headers {
            let total = rel.end.then_some(rel.body.len());
            let names: Vec<String> = match (&rel.trailers, rel.end) {
                (Some(t), true) => t.iter().map(|(k, _)| k.to_owned()).collect(),
                _ => Vec::new(),
            };
            let empty = rel.end && rel.body.is_empty() && rel.trailers.is_none();
            let body = if empty {
                UpBody::Empty
            } else {
                let (tx, rx) = mpsc::channel(CHANNEL);
                self.up_tx = Some(tx);
                UpBody::Chan { rx, done: false }
            };
            match build_request(headers, total, &names, body) {
                Ok(req) => self.up_fut = Some(self.ctx.upstream.send(req)),
                Err(e) => return self.upstream_failed(e),
            }
            if empty {
                self.up_request_ended = true;
                return;
            }
        }
        if !rel.body.is_empty() {
            let data = Frame::data(Bytes::from(rel.body));
            self.up_pending.push_back(Msg::Frame(data));
        }
        if let Some(t) = rel.trailers {
            let trailers = Frame::trailers(trailer_map(&t));
            self.up_pending.push_back(Msg::Frame(trailers));
        }
        if rel.end {
            self.up_pending.push_back(Msg::End);
            self.up_request_ended = true;
        }
        while let (Some(tx), Some(m)) = (&self.up_tx, self.up_pending.pop_front()) {
            match tx.try_send(m) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(m)) => {
                    self.up_pending.push_front(m);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.up_pending.clear();
                    break;
                }
            }
        }
    }

    /// Envoy's router answers 503 itself when the upstream gives no response headers.
    pub(super) fn upstream_failed(&mut self, e: UpError) {
        let why = match &e {
            UpError::Connect(io) => io.to_string(),
            UpError::Reset(h) => h.to_string(),
            UpError::Invalid(s) => s.clone(),
        };
        self.ctx
            .log(LogLevel::Debug, &format!("upstream request failed: {why}"));
        let (body, details) = match &e {
            UpError::Connect(io) => (
                format!(
                    "upstream connect error or disconnect/reset before headers. reset reason: \
                     remote connection failure, transport failure reason: delayed connect \
                     error: {}",
                    io.raw_os_error().unwrap_or(0)
                ),
                "upstream_reset_before_response_started{remote_connection_failure}",
            ),
            UpError::Reset(_) => (
                "upstream connect error or disconnect/reset before headers. reset reason: \
                 connection termination"
                    .to_owned(),
                "upstream_reset_before_response_started{connection_termination}",
            ),
            UpError::Invalid(why) => (
                format!("invalid upstream request: {why}"),
                "invalid_upstream_request",
            ),
        };
        self.abandon_upstream();
        let id = self.id;
        self.ctx.call(|w| w.proxy_reply(id, 503, &body, details));
    }

    pub(super) fn on_response(
        &mut self,
        r: Result<(http::Response<Incoming>, Sender), UpError>,
    ) -> bool {
        self.up_fut = None;
        let (resp, sender) = match r {
            Ok(ok) => ok,
            Err(e) => {
                self.upstream_failed(e);
                return true;
            }
        };
        self.up_sender = Some(sender);
        let (parts, body) = resp.into_parts();
        let eos = body.is_end_stream();
        if eos {
            self.up_response_ended = true;
        } else {
            self.up_body = Some(body);
        }
        let id = self.id;
        let headers = response_map(&parts);
        self.ctx.call(|w| w.response_headers(id, headers, eos));
        true
    }

    pub(super) fn on_frame(&mut self, f: Option<Result<Frame<Bytes>, hyper::Error>>) -> bool {
        let id = self.id;
        match f {
            Some(Ok(f)) => match f.into_data() {
                Ok(data) => {
                    let eos = self.up_body.as_ref().is_some_and(Body::is_end_stream);
                    if eos {
                        self.up_body = None;
                        self.up_response_ended = true;
                    }
                    self.ctx.call(|w| w.response_body(id, &data, eos));
                }
                Err(f) => {
                    self.up_body = None;
                    self.up_response_ended = true;
                    if let Ok(t) = f.into_trailers() {
                        let t = from_hyper(&t);
                        self.ctx.call(|w| w.response_trailers(id, t));
                    }
                }
            },
            None => {
                self.up_body = None;
                self.up_response_ended = true;
                self.ctx.call(|w| w.response_body(id, &[], true));
            }
            Some(Err(e)) => {
                self.ctx
                    .log(LogLevel::Debug, &format!("upstream response failed: {e}"));
                self.reset("upstream_reset_after_response_started{connection_termination}");
            }
        }
        true
    }
}
