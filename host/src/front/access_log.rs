//! One JSON object per line per stream, written after `proxy_on_log`, like an Envoy access log
//! with `json_format` and `%FILTER_STATE(wasm.<name>:PLAIN)%`: `filter_state` holds every
//! `wasm.*` key the filter set (e.g. `wasm.tollbooth`), and is `{}` when it set none.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use super::time::rfc3339;

/// Where access log lines go; cheap to clone, shared by the workers.
#[derive(Clone)]
pub struct AccessLog {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl AccessLog {
    /// `-` is stdout; anything else a file opened for appending.
    pub fn open(target: &str) -> io::Result<Self> {
        let out: Box<dyn Write + Send> = if target == "-" {
            Box::new(io::stdout())
        } else {
            Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(Path::new(target))?,
            )
        };
        Ok(AccessLog {
            out: Arc::new(Mutex::new(out)),
        })
    }

    pub fn write(&self, entry: &Entry<'_>) {
        let mut line = entry.to_json().to_string();
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
    }
}

/// What one line says about a stream.
pub struct Entry<'a> {
    pub time: SystemTime,
    pub worker: usize,
    pub method: &'a str,
    pub path: &'a str,
    /// `:status` sent to the client; 0 if none was (Envoy logs 0 too).
    pub status: u16,
    pub duration_ms: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub filter_state: &'a BTreeMap<String, Vec<u8>>,
    /// Why the stream was reset, if it was.
    pub reset: Option<&'a str>,
}

/// A filter-state value as JSON if it is JSON, else as a string.
pub fn state_value(v: &[u8]) -> Value {
    serde_json::from_slice(v)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(v).into_owned()))
}

impl Entry<'_> {
    pub fn to_json(&self) -> Value {
        let mut state = Map::new();
        for (k, v) in self.filter_state {
            state.insert(k.clone(), state_value(v));
        }
        let mut line = json!({
            "time": rfc3339(self.time),
            "worker": self.worker,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "request_bytes": self.request_bytes,
            "response_bytes": self.response_bytes,
            "filter_state": state,
        });
        if let (Some(reset), Some(obj)) = (self.reset, line.as_object_mut()) {
            obj.insert("reset".to_owned(), Value::String(reset.to_owned()));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_state_is_json_when_it_parses() {
        let mut fs = BTreeMap::new();
        fs.insert("wasm.tollbooth".to_owned(), br#"{"cost":1.5}"#.to_vec());
        fs.insert("wasm.other".to_owned(), b"plain text".to_vec());
        let e = Entry {
            time: SystemTime::UNIX_EPOCH,
            worker: 1,
            method: "POST",
            path: "/v1/chat/completions",
            status: 200,
            duration_ms: 3,
            request_bytes: 10,
            response_bytes: 20,
            filter_state: &fs,
            reset: None,
        };
        let v = e.to_json();
        assert_eq!(v["filter_state"]["wasm.tollbooth"]["cost"], 1.5);
        assert_eq!(v["filter_state"]["wasm.other"], "plain text");
        assert_eq!(v["time"], "1970-01-01T00:00:00.000Z");
        assert!(v.get("reset").is_none());
        let empty = BTreeMap::new();
        let v = Entry {
            filter_state: &empty,
            ..e
        }
        .to_json();
        assert_eq!(v["filter_state"], serde_json::json!({}));
    }
}
