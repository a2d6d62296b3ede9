//! Encoding what the filter released to the client as an HTTP/1.1 response.

use super::http1::{chunk, last_chunk, response_head};
use super::request::end_to_end;
use super::time::http_date;
use crate::{HeaderMap, Released};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// HEAD, 1xx, 204, 304.
    NoBody,
    /// The whole body was known when the headers went out.
    Length,
    Chunked,
    /// HTTP/1.0 client, length unknown: the body ends when the connection closes.
    Close,
}

/// The response side of one exchange with the client.
#[derive(Debug)]
pub(crate) struct Downstream {
    pub te_trailers: bool,
    pub http10: bool,
    pub is_head: bool,
    /// Close the connection after this response.
    pub close: bool,
    framing: Option<Framing>,
    /// `:status` sent (0: none yet).
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// The whole response went out.
    pub done: bool,
    /// Trailers that could not be sent (no `TE: trailers`, or not chunked).
    pub dropped_trailers: Option<HeaderMap>,
}

impl Downstream {
    pub fn new(te_trailers: bool, http10: bool, is_head: bool, close: bool) -> Self {
        Downstream {
            te_trailers,
            http10,
            is_head,
            close,
            framing: None,
            status: 0,
            bytes: 0,
            done: false,
            dropped_trailers: None,
        }
    }

    pub fn head_sent(&self) -> bool {
        self.framing.is_some()
    }

    /// The bytes that send `rel` on. `request_unfinished`: the request body is still coming, so
    /// the connection cannot be reused after this response.
    pub fn encode(&mut self, rel: Released, request_unfinished: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(headers) = rel.headers {
            let with_trailers = rel.trailers.is_some() && self.te_trailers;
            out = self.head(
                headers,
                &rel.body,
                rel.end,
                with_trailers,
                request_unfinished,
            );
        }
        let Some(framing) = self.framing else {
            return out;
        };
        if !rel.body.is_empty() && framing != Framing::NoBody {
            self.bytes += rel.body.len() as u64;
            match framing {
                Framing::Chunked => chunk(&rel.body, &mut out),
                _ => out.extend_from_slice(&rel.body),
            }
        }
        let send_trailers = framing == Framing::Chunked && self.te_trailers;
        if let Some(t) = rel.trailers {
            if !send_trailers && !t.is_empty() {
                self.dropped_trailers = Some(t);
            } else if rel.end {
                last_chunk(Some(&t), &mut out);
                self.done = true;
                return out;
            }
        }
        if rel.end {
            if framing == Framing::Chunked {
                last_chunk(None, &mut out);
            }
            self.done = true;
        }
        out
    }

    fn head(
        &mut self,
        released: HeaderMap,
        body: &[u8],
        end: bool,
        with_trailers: bool,
        request_unfinished: bool,
    ) -> Vec<u8> {
        let status: u16 = released
            .get(":status")
            .and_then(|s| s.parse().ok())
            .filter(|s| (100..1000).contains(s))
            .unwrap_or(500);
        // Envoy's HTTP/1 codec keeps a content-length the filters left in place and frames the
        // body with it; trailers then cannot be sent and are dropped (only a chunked response
        // carries trailers). Checked against Envoy 1.40: a filter that wants its trailers to
        // reach HTTP/1.1 clients must remove content-length while it can.
        let declared = released
            .get("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let framing = if self.is_head || (100..200).contains(&status) || matches!(status, 204 | 304)
        {
            Framing::NoBody
        } else if declared.is_some() || (end && !with_trailers) {
            Framing::Length
        } else if !self.http10 {
            Framing::Chunked
        } else {
            Framing::Close
        };
        let mut h = HeaderMap::new();
        for (k, v) in end_to_end(released.iter()) {
            let drop_length = (framing != Framing::NoBody && declared.is_none()) || status == 204;
            if k.starts_with(':') || (k == "content-length" && drop_length) {
                continue;
            }
            if k == "date" || k == "server" {
                continue;
            }
            h.add(k, v);
        }
        match framing {
            Framing::Length if declared.is_none() => {
                h.add("content-length", &body.len().to_string())
            }
            Framing::Length => {}
            Framing::Chunked => h.add("transfer-encoding", "chunked"),
            Framing::Close => self.close = true,
            Framing::NoBody => {}
        }
        if request_unfinished {
            self.close = true;
        }
        // Envoy's connection manager sets these after the filters ran.
        h.add("date", &http_date(std::time::SystemTime::now()));
        h.add("server", "envoy");
        if self.close {
            h.add("connection", "close");
        }
        self.status = status;
        self.framing = Some(framing);
        response_head(status, &h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(headers: &[(&str, &str)], body: &str, end: bool) -> Released {
        Released {
            headers: Some(HeaderMap::from(headers.to_vec())),
            body: body.as_bytes().to_vec(),
            trailers: None,
            end,
        }
    }

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn a_whole_body_gets_its_real_length() {
        let mut d = Downstream::new(false, false, false, false);
        let out = text(d.encode(rel(&[(":status", "200")], "hello", true), false));
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("content-length: 5\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\nhello"), "{out}");
        assert!(d.done && !d.close);
    }

    #[test]
    fn a_streamed_body_is_chunked_with_trailers_for_te_trailers_clients() {
        let mut d = Downstream::new(true, false, false, false);
        let out = text(d.encode(rel(&[(":status", "200")], "ab", false), false));
        assert!(out.contains("transfer-encoding: chunked\r\n"), "{out}");
        assert!(!out.contains("content-length"), "{out}");
        assert!(out.ends_with("\r\n\r\n2\r\nab\r\n"), "{out}");
        let last = Released {
            body: b"c".to_vec(),
            trailers: Some(HeaderMap::from([("x-usage", "3")])),
            end: true,
            ..Released::default()
        };
        assert_eq!(
            text(d.encode(last, false)),
            "1\r\nc\r\n0\r\nx-usage: 3\r\n\r\n"
        );
        assert!(d.done);

        let mut d = Downstream::new(false, false, false, false);
        d.encode(rel(&[(":status", "200")], "", false), false);
        let last = Released {
            trailers: Some(HeaderMap::from([("x-usage", "3")])),
            end: true,
            ..Released::default()
        };
        assert_eq!(text(d.encode(last, false)), "0\r\n\r\n");
        assert!(d.dropped_trailers.is_some());
    }

    #[test]
    fn a_kept_content_length_frames_the_body_and_drops_trailers() {
        // Envoy's HTTP/1 codec: the upstream's content-length stays when no filter removed it,
        // and trailers cannot follow a content-length body.
        let mut d = Downstream::new(true, false, false, false);
        let out = text(d.encode(
            rel(&[(":status", "200"), ("content-length", "3")], "ab", false),
            false,
        ));
        assert!(out.contains("content-length: 3\r\n"), "{out}");
        assert!(!out.contains("transfer-encoding"), "{out}");
        assert!(out.ends_with("\r\n\r\nab"), "{out}");
        let last = Released {
            body: b"c".to_vec(),
            trailers: Some(HeaderMap::from([("x-usage", "3")])),
            end: true,
            ..Released::default()
        };
        assert_eq!(text(d.encode(last, false)), "c");
        assert!(d.done);
        assert!(d.dropped_trailers.is_some());
    }

    #[test]
    fn head_requests_and_unfinished_requests() {
        let mut d = Downstream::new(false, false, true, false);
        let out = text(d.encode(
            rel(&[(":status", "200"), ("content-length", "7")], "", true),
            true,
        ));
        assert!(out.contains("content-length: 7\r\n"), "{out}");
        assert!(out.contains("connection: close\r\n"), "{out}");
        assert!(d.close && d.done);
    }
}
