//! A minimal raw-`TcpStream` HTTP/1.1 client for the provider tests: reads a
//! chunked body chunk by chunk, noting when each arrived, and notices a
//! connection dropped before the terminating chunk.

// Helpers outside `#[test]` functions are not covered by clippy.toml's
// allow-*-in-tests; a test client may panic on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Each chunk of a chunked body; an unchunked body is one chunk.
    pub chunks: Vec<Vec<u8>>,
    /// The body was chunked.
    pub chunked: bool,
    /// The body ended properly (terminating chunk, or end of an unchunked body).
    pub complete: bool,
    /// When each chunk arrived, one per chunk.
    pub arrivals: Vec<Instant>,
    /// When the request was sent.
    pub started: Instant,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body()).unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body())
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// Each chunk as text.
    pub fn chunk_texts(&self) -> Vec<String> {
        self.chunks
            .iter()
            .map(|c| String::from_utf8(c.clone()).unwrap())
            .collect()
    }
}

pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let started = Instant::now();
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut out = Resp {
        status,
        headers,
        chunks: Vec::new(),
        chunked: false,
        complete: false,
        arrivals: Vec::new(),
        started,
    };
    if out.header("transfer-encoding") != Some("chunked") {
        let mut body = Vec::new();
        r.read_to_end(&mut body).unwrap();
        if let Some(len) = out.header("content-length") {
            assert_eq!(len.parse::<usize>().unwrap(), body.len());
        }
        out.chunks.push(body);
        out.arrivals.push(Instant::now());
        out.complete = true;
        return out;
    }
    out.chunked = true;
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => break, // closed without the terminating chunk
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the stream: {e}"),
        }
        let size = usize::from_str_radix(line.trim(), 16).unwrap();
        let mut data = vec![0; size + 2];
        r.read_exact(&mut data).unwrap();
        if size == 0 {
            out.complete = true;
            break;
        }
        data.truncate(size);
        out.chunks.push(data);
        out.arrivals.push(Instant::now());
    }
    out
}
