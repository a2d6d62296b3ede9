//! Gateway throughput: the host's HTTP front ([`tollbooth_host::front::Front`], the way Envoy
//! runs the filter: worker threads with one VM each) between keep-alive clients and a mock
//! upstream, all on 127.0.0.1 in this process, once with the filter and once with the
//! pass-through module. Everything is plain blocking HTTP/1.1 over loopback sockets.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tollbooth_host::front::{Front, FrontOptions};
use tollbooth_host::LogLevel;

/// How a gateway run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Front workers (one VM each).
    pub workers: usize,
    /// Concurrent keep-alive client connections.
    pub clients: usize,
    /// How long each variant is measured (after a short warm-up).
    pub duration: Duration,
}

/// One variant's result.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub requests: u64,
    pub per_second: f64,
}

/// The mock upstream: answers every request with `response` (JSON, with content-length).
pub struct Upstream {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    pub fn start(response: Vec<u8>) -> anyhow::Result<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let reply = Arc::new(
            [
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    response.len()
                )
                .into_bytes(),
                response,
            ]
            .concat(),
        );
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let reply = Arc::clone(&reply);
                        std::thread::spawn(move || {
                            let _ = serve_upstream(conn, &reply);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Ok(Upstream {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_upstream(conn: TcpStream, reply: &[u8]) -> anyhow::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_nodelay(true)?;
    let mut writer = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    while let Some(head) = read_head(&mut reader)? {
        read_body(&mut reader, &head)?;
        writer.write_all(reply)?;
    }
    Ok(())
}

/// A message head: the first line and the lower-cased headers.
struct Head {
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The next head; `None` when the peer closed the connection between messages.
fn read_head(r: &mut impl BufRead) -> anyhow::Result<Option<Head>> {
    let mut first = String::new();
    if r.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        anyhow::ensure!(r.read_line(&mut line)? > 0, "connection closed in a head");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    Ok(Some(Head {
        first: first.trim_end().to_owned(),
        headers,
    }))
}

/// Reads (and drops) a body framed by content-length or chunked encoding; its length.
fn read_body(r: &mut impl BufRead, head: &Head) -> anyhow::Result<usize> {
    if head
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let mut total = 0;
        loop {
            let mut line = String::new();
            anyhow::ensure!(r.read_line(&mut line)? > 0, "connection closed in a body");
            let size = line.trim_end().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size.trim(), 16)?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    let mut t = String::new();
                    anyhow::ensure!(r.read_line(&mut t)? > 0, "connection closed in trailers");
                    if t.trim_end().is_empty() {
                        return Ok(total);
                    }
                }
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            total += size;
        }
    }
    let len: usize = head
        .get("content-length")
        .map(str::parse)
        .transpose()?
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(len)
}

/// One keep-alive client: sends `request` (a POST of `body`) until `deadline`; the responses
/// it got, all 200.
fn client(front: SocketAddr, request: &[u8], deadline: Instant) -> anyhow::Result<u64> {
    let conn = TcpStream::connect(front)?;
    conn.set_nodelay(true)?;
    let mut writer = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    let mut n = 0;
    while Instant::now() < deadline {
        writer.write_all(request)?;
        let head = read_head(&mut reader)?
            .ok_or_else(|| anyhow::anyhow!("the front closed the connection"))?;
        anyhow::ensure!(
            head.first.starts_with("HTTP/1.1 200"),
            "response {}",
            head.first
        );
        read_body(&mut reader, &head)?;
        n += 1;
    }
    Ok(n)
}

/// The front with `wasm` (configured with `config`) before `upstream`, `load.clients` clients
/// for `load.duration` (after a warm-up of a tenth of it); requests per second, and the front
/// (still running, for its metrics).
pub fn measure(
    wasm: &Path,
    config: &str,
    upstream: SocketAddr,
    body: &[u8],
    load: Load,
) -> anyhow::Result<(Rate, Front)> {
    let mut opts = FrontOptions::new(wasm, "127.0.0.1:0".parse()?, upstream);
    opts.config = config.as_bytes().to_vec();
    opts.workers = load.workers.max(1);
    opts.log_level = LogLevel::Error;
    let front = Front::start(opts).map_err(|e| anyhow::anyhow!("front: {e}"))?;
    let request = [
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: api.openai.com\r\ncontent-type: application/json\r\nauthorization: Bearer sk-bench\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes(),
        body.to_vec(),
    ]
    .concat();
    let run = |d: Duration| -> anyhow::Result<(u64, Duration)> {
        let start = Instant::now();
        let deadline = start + d;
        let threads: Vec<_> = (0..load.clients.max(1))
            .map(|_| {
                let request = request.clone();
                let addr = front.listen;
                std::thread::spawn(move || client(addr, &request, deadline))
            })
            .collect();
        let mut n = 0;
        for t in threads {
            n += t
                .join()
                .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
        }
        Ok((n, start.elapsed()))
    };
    run(load.duration / 10)?;
    let (requests, took) = run(load.duration)?;
    let rate = Rate {
        requests,
        per_second: requests as f64 / took.as_secs_f64(),
    };
    Ok((rate, front))
}

/// Requests the filter counted in the front's metrics (`….model.….requests` counters).
pub fn metered(front: &Front) -> u64 {
    let metrics = front.host().metrics_store();
    metrics
        .snapshot()
        .keys()
        .filter(|k| k.contains(".model.") && k.ends_with(".requests"))
        .filter_map(|k| metrics.counter(k))
        .sum()
}

/// One gateway run of `secs` seconds with the filter (or the pass-through), for a profiler:
/// requests per second and how many the filter metered. The request is about 300 bytes, or
/// `$TOLLBOOTH_BENCH_GATEWAY_BYTES`.
pub fn once(s: &crate::Settings, secs: f64, pass: bool) -> anyhow::Result<(f64, u64)> {
    let size = std::env::var("TOLLBOOTH_BENCH_GATEWAY_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let prose = crate::corpus::prose(&s.repo, 4_096)?;
    let body = crate::traffic::chat_request_of_size(&prose.text, size);
    let upstream = Upstream::start(crate::traffic::chat_response(true))?;
    let load = Load {
        workers: 2,
        clients: s.scale.gateway_clients,
        duration: Duration::from_secs_f64(secs),
    };
    let (wasm, config) = if pass {
        (&s.passthrough_wasm, "")
    } else {
        (&s.filter_wasm, crate::traffic::FILTER_CONFIG)
    };
    let (rate, front) = measure(wasm, config, upstream.addr, &body, load)?;
    let n = metered(&front);
    front.shutdown();
    Ok((rate.per_second, n))
}
