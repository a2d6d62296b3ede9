//! An in-process upstream (hyper), a raw HTTP/1.1 client that shows the wire, and fronts
//! around the probe filter. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Channel, Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;
use tollbooth_host::front::{Front, FrontOptions};

pub use crate::probe::probe_wasm;

pub const WAIT: Duration = Duration::from_secs(10);

/// A request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The upstream: `/gate` sends `first\n`, waits for [`Upstream::open_gate`], then `second\n`;
/// `/sse` sends three events 50 ms apart; anything else answers `{"ok":true}` after reading
/// the whole request.
pub struct Upstream {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    gate: Arc<Notify>,
}

type RespBody = Either<Full<Bytes>, Channel<Bytes, std::convert::Infallible>>;

impl Upstream {
    pub fn start() -> Upstream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Notify::new());
        let (r, g) = (requests.clone(), gate.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (r, g) = (r.clone(), g.clone());
                    tokio::spawn(async move {
                        let service = service_fn(move |req| handle(req, r.clone(), g.clone()));
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Upstream {
            addr,
            requests,
            gate,
        }
    }

    pub fn open_gate(&self) {
        self.gate.notify_one();
    }

    pub fn received(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn handle(
    req: http::Request<Incoming>,
    log: Arc<Mutex<Vec<Recorded>>>,
    gate: Arc<Notify>,
) -> Result<http::Response<RespBody>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let streamed = path == "/gate" || path == "/sse";
    let body = if streamed {
        Vec::new()
    } else {
        body.collect()
            .await
            .map(|c| c.to_bytes().to_vec())
            .unwrap_or_default()
    };
    log.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body,
    });
    let resp = http::Response::builder().header("content-type", "text/event-stream");
    if !streamed {
        let resp = http::Response::builder().header("content-type", "application/json");
        return Ok(resp
            .body(Either::Left(Full::new(Bytes::from_static(
                b"{\"ok\":true}",
            ))))
            .unwrap());
    }
    let (mut tx, rx) = Channel::new(4);
    tokio::spawn(async move {
        if path == "/gate" {
            let _ = tx.send_data(Bytes::from_static(b"first\n")).await;
            let _ = tokio::time::timeout(WAIT, gate.notified()).await;
            let _ = tx.send_data(Bytes::from_static(b"second\n")).await;
        } else {
            for i in 0..3 {
                let event = format!("data: {{\"n\":{i}}}\n\n");
                let _ = tx.send_data(Bytes::from(event)).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    Ok(resp.body(Either::Right(rx)).unwrap())
}

/// A port nothing listens on.
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

pub struct Setup {
    pub config: String,
    pub workers: usize,
    pub access_log: Option<PathBuf>,
    pub idle_timeout: Duration,
    pub allow_mode: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            config: String::new(),
            workers: 2,
            access_log: None,
            idle_timeout: Duration::from_secs(300),
            allow_mode: false,
        }
    }
}

pub fn front(upstream: SocketAddr, setup: Setup) -> Front {
    let mut o = FrontOptions::new(probe_wasm(), "127.0.0.1:0".parse().unwrap(), upstream);
    o.config = setup.config.into_bytes();
    o.workers = setup.workers;
    o.admin = Some("127.0.0.1:0".parse().unwrap());
    o.access_log = setup.access_log.map(|p| p.to_string_lossy().into_owned());
    o.idle_timeout = setup.idle_timeout;
    if setup.allow_mode {
        o.stop_mode = tollbooth_host::StopMode::AllowOnHeadersStopIteration;
    }
    Front::start(o).unwrap()
}

/// A fresh path under the temp directory.
pub fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tollbooth-front-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// Polls `f` until it returns `Some`, for at most [`WAIT`].
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A response as the raw client read it.
#[derive(Debug, Default)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    /// Interim (1xx) statuses seen before it.
    pub interim: Vec<u16>,
    pub chunked: bool,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A blocking HTTP/1.1 client on a raw socket, so tests see the framing.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.stream.write_all(raw).unwrap();
    }

    /// Reads more; false at end of stream.
    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 16384];
        let n = self.stream.read(&mut tmp).expect("read (timed out?)");
        self.buf.extend_from_slice(&tmp[..n]);
        n > 0
    }

    fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return line;
            }
            assert!(self.fill(), "connection closed mid-line");
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill(), "connection closed mid-body");
        }
        self.buf.drain(..n).collect()
    }

    fn fields(&mut self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        loop {
            let line = self.line();
            if line.is_empty() {
                return out;
            }
            let (k, v) = line.split_once(':').unwrap();
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }

    /// The status line and headers (interim responses skipped and noted).
    pub fn head(&mut self) -> Resp {
        let mut r = Resp::default();
        loop {
            let status_line = self.line();
            r.status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
            r.headers = self.fields();
            if r.status >= 200 {
                break;
            }
            r.interim.push(r.status);
        }
        r.chunked = r.header("transfer-encoding") == Some("chunked");
        r
    }

    /// The next chunk of a chunked body; `None` after the last one (trailers go to `r`).
    pub fn chunk(&mut self, r: &mut Resp) -> Option<Vec<u8>> {
        let size = usize::from_str_radix(self.line().trim(), 16).unwrap();
        if size == 0 {
            r.trailers = self.fields();
            return None;
        }
        let data = self.take(size);
        assert_eq!(self.take(2), b"\r\n");
        Some(data)
    }

    /// A whole response.
    pub fn response(&mut self) -> Resp {
        let mut r = self.head();
        if r.chunked {
            while let Some(c) = self.chunk(&mut r) {
                r.body.extend(c);
            }
        } else if let Some(n) = r.header("content-length") {
            let n = n.parse().unwrap();
            r.body = self.take(n);
        } else if ![204, 304].contains(&r.status) {
            while self.fill() {}
            r.body = std::mem::take(&mut self.buf);
        }
        r
    }

    /// True once the server closed the connection (within [`WAIT`]).
    pub fn closed(&mut self) -> bool {
        let mut tmp = [0u8; 1];
        matches!(self.stream.read(&mut tmp), Ok(0))
    }
}

/// `POST path` with a JSON body and extra header lines (each ending in `\r\n`).
pub fn post(path: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: api.test\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: api.test\r\n{extra}\r\n").into_bytes()
}

/// The admin endpoint's body for `path`.
pub fn admin_get(front: &Front, path: &str) -> Resp {
    let mut c = Client::connect(front.admin.unwrap());
    c.send(&get(path, "connection: close\r\n"));
    c.response()
}
