//! The request log served at `GET /__mock/requests`: the last
//! [`LOG_CAPACITY`] requests that reached an API endpoint, oldest first, so
//! tests can check what the proxy forwarded upstream.

use std::collections::{BTreeMap, VecDeque};

use hyper::http::request::Parts;
use serde::Serialize;

/// How many requests are kept.
pub const LOG_CAPACITY: usize = 64;

/// One request as the mock received it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RecordedRequest {
    /// 1-based arrival number since the server started (not reset by clear).
    pub seq: u64,
    pub method: String,
    /// Path and query string as received.
    pub path: String,
    /// Header names are lower-case; repeated headers are joined with `", "`.
    pub headers: BTreeMap<String, String>,
    /// The body as text (invalid UTF-8 replaced by U+FFFD).
    pub body: String,
}

/// Ring buffer of [`RecordedRequest`]s.
#[derive(Debug, Default)]
pub struct RequestLog {
    last_seq: u64,
    entries: VecDeque<RecordedRequest>,
}

impl RequestLog {
    pub fn record(&mut self, parts: &Parts, body: &[u8]) {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        self.last_seq = self.last_seq.saturating_add(1);
        if self.entries.len() >= LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(RecordedRequest {
            seq: self.last_seq,
            method: parts.method.as_str().to_owned(),
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
        });
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn entries(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.entries.iter()
    }

    /// `{"requests": [...]}`.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        #[derive(Serialize)]
        struct Out<'a> {
            requests: &'a VecDeque<RecordedRequest>,
        }
        serde_json::to_vec(&Out {
            requests: &self.entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Request;

    fn parts(path: &str) -> Parts {
        let req = Request::post(path)
            .header("x-a", "1")
            .header("x-a", "2")
            .header("Authorization", "Bearer k")
            .body(())
            .unwrap();
        req.into_parts().0
    }

    #[test]
    fn records_and_evicts() {
        let mut log = RequestLog::default();
        for i in 0..(LOG_CAPACITY + 3) {
            log.record(&parts(&format!("/v1/x?i={i}")), b"{}");
        }
        let all: Vec<_> = log.entries().collect();
        assert_eq!(all.len(), LOG_CAPACITY);
        assert_eq!(all[0].seq, 4);
        assert_eq!(all[0].path, "/v1/x?i=3");
        assert_eq!(all[0].headers["x-a"], "1, 2");
        assert_eq!(all[0].headers["authorization"], "Bearer k");
        let json: serde_json::Value = serde_json::from_slice(&log.to_json().unwrap()).unwrap();
        assert_eq!(
            json["requests"].as_array().map(Vec::len),
            Some(LOG_CAPACITY)
        );
        log.clear();
        assert_eq!(log.entries().count(), 0);
        log.record(&parts("/"), b"");
        assert_eq!(
            log.entries().next().map(|r| r.seq),
            Some(LOG_CAPACITY as u64 + 4)
        );
    }
}
